"""Collecting every problem of an input, not just the first, each naming its field."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from intrathecal.units import InputError

T = TypeVar("T")


class InvalidProgramError(ValueError):
    """A program that must not run, with every reason why."""

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


class Collector:
    def __init__(self) -> None:
        self.errors: list[InputError] = []

    def attempt(self, action: Callable[[], T]) -> T | None:
        """Run ``action``; on bad input record the error and return None."""
        try:
            return action()
        except InputError as error:
            self.errors.append(error)
            return None

    def add(self, field: str, message: str) -> None:
        self.errors.append(InputError(field, message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise InvalidProgramError(list(self.errors))
