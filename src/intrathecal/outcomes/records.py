"""The registry's records: one patient-reported response, and the period a report covers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from intrathecal.units import InputError

Answer = int | float | str

BASELINE = "baseline"


@dataclass(frozen=True, slots=True)  # slots: a big file holds millions of them
class Response:
    """One completed instrument for one patient at one time point of one procedure.

    ``subject`` is a pseudonymous patient id (never a name). ``days_from_baseline`` is 0 at
    baseline and positive at follow-ups; ``collected_on`` is the day the answers were given (used
    to place a patient's baseline in a reporting period; ``None`` in a de-identified export).
    """

    subject: str
    procedure: str
    timepoint: str
    days_from_baseline: int
    instrument: str
    answers: Mapping[str, Answer]
    collected_on: date | None = None
    entered_by: str = field(default="staff")  # "staff" or "patient" (one-time link form)
    # A repeated procedure (a second injection series, a pump replacement) is a new episode of
    # the same patient with its own baseline: counted again, not refused as a duplicate.
    episode: int = 1


@dataclass(frozen=True)
class Period:
    """Inclusive range of baseline dates: a report covers the patients treated in it."""

    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.end < self.start:
            raise InputError(
                "period", f"ends ({self.end.isoformat()}) before it starts ({self.start})"
            )

    def contains(self, day: date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    @property
    def unbounded(self) -> bool:
        return self.start is None and self.end is None

    def describe(self) -> str:
        if self.unbounded:
            return "all dates"
        start = self.start.isoformat() if self.start else "the first record"
        end = self.end.isoformat() if self.end else "the last record"
        return f"baseline from {start} to {end}"
