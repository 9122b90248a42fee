"""Refill visits per clinic day for the next weeks (issue 14, question 1).

Each implanted patient is due at the recorded due date of the last refill; the visit is on that
day in the clinic's time zone or, if the clinic is closed then, on the opening day before it
(never after a due date: a late refill risks the alarm). A patient already overdue comes on the
first opening day. The pump is refilled at the visit, so the next due date is the visit day (at
the due date's time of day) plus the patient's refill interval (the last plan's due date minus
its fill time; at least a day), and so on to the horizon. Days with more visits than the
capacity are marked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MON_FRI = frozenset(range(5))


@dataclass(frozen=True)
class Clinic:
    open_weekdays: frozenset[int]  # 0 = Monday
    capacity: int  # refill visits a day
    tz: tzinfo

    def is_open(self, day: date) -> bool:
        return day.weekday() in self.open_weekdays


@dataclass(frozen=True)
class Due:
    """An implanted patient's next due date and refill interval, from the records."""

    patient_id: int
    mrn: str
    due_at: datetime  # aware
    interval_days: float


@dataclass(frozen=True)
class Visit:
    patient_id: int
    mrn: str
    day: date
    due_at: datetime  # aware, UTC
    overdue: bool  # the due date had passed before the forecast's first day
    moved_days: int  # days brought forward to an opening day


@dataclass
class ClinicDay:
    day: date
    open: bool
    visits: list[Visit] = field(default_factory=list)

    def overloaded(self, capacity: int) -> bool:
        return len(self.visits) > capacity


def _opening_on_or_before(day: date, clinic: Clinic) -> date:
    while not clinic.is_open(day):
        day -= timedelta(days=1)
    return day


def _opening_on_or_after(day: date, clinic: Clinic) -> date:
    while not clinic.is_open(day):
        day += timedelta(days=1)
    return day


def visits(dues: Sequence[Due], start: date, days: int, clinic: Clinic) -> list[ClinicDay]:
    """Every day from ``start`` for ``days`` days with the visits that fall on it."""
    if not clinic.open_weekdays:
        raise ValueError("the clinic must open on at least one day")
    end = start + timedelta(days=days)
    calendar = [ClinicDay(start + timedelta(days=i), False) for i in range(days)]
    for entry in calendar:
        entry.open = clinic.is_open(entry.day)
    for patient in dues:
        due = patient.due_at
        last: date | None = None
        while True:
            local = due.astimezone(clinic.tz)
            day = _opening_on_or_before(local.date(), clinic)
            if day < start:
                day = _opening_on_or_after(start, clinic)
            if last is not None and day <= last:
                # Closed days between the last visit and this due date: the next opening day
                # after the last visit (after the due date: shown as overdue).
                day = _opening_on_or_after(last + timedelta(days=1), clinic)
            overdue = day > local.date()
            last = day
            if day >= end:
                break
            calendar[(day - start).days].visits.append(
                Visit(patient.patient_id, patient.mrn, day, due, overdue, (local.date() - day).days)
            )
            if patient.interval_days <= 0:
                break
            at_visit = datetime.combine(day, local.timetz()).replace(tzinfo=clinic.tz)
            # At most one visit a day for a patient (an interval under a day would refill the
            # same pump twice in a day).
            due = at_visit + timedelta(days=max(patient.interval_days, 1.0))
    return calendar
