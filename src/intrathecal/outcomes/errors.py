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


MAX_REPORTED = 50  # a file with thousands of bad rows lists the first 50 and counts the rest


def capped(errors: Sequence[InputError], limit: int = MAX_REPORTED) -> list[InputError]:
    """The first ``limit`` problems, then one line giving the total (a bad export can have a
    problem on every row; a list of 500,000 helps nobody)."""
    if len(errors) <= limit:
        return list(errors)
    return [
        *errors[:limit],
        InputError(
            "file", f"{len(errors) - limit} more problem(s) not listed ({len(errors)} in all)"
        ),
    ]
