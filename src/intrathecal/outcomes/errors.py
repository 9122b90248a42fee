"""Every problem of an outcomes input at once, each naming its field (item, line and column)."""

from __future__ import annotations

from collections.abc import Sequence

from intrathecal.units import InputError


class InvalidOutcomesError(InputError):
    """One or more bad answers or records; nothing was stored or reported.

    It is an ``InputError`` (``field`` and ``message`` are those of the first problem), so a
    caller that handles one error handles this too; ``errors`` holds every problem found.
    """

    def __init__(self, errors: Sequence[InputError]) -> None:
        if not errors:
            raise ValueError("InvalidOutcomesError needs at least one error")
        first = errors[0]
        super().__init__(first.field, first.message)
        self.errors: tuple[InputError, ...] = tuple(errors)
        self.args = ("; ".join(str(e) for e in self.errors),)

    def __str__(self) -> str:
        return "; ".join(str(e) for e in self.errors)


def raise_if_any(errors: Sequence[InputError]) -> None:
    if errors:
        raise InvalidOutcomesError(errors)
