"""Booking refills on the days the clinic is open, within its daily capacity.

A refill is never booked after its due date: a pump run dry means withdrawal (for intrathecal
baclofen, a life-threatening one) and a pump run below its low-reservoir alarm. So a due date on
a closed day is booked on the last opening day before it, and a day over capacity passes its
earliest-due patients to the opening day before it (their pumps lose the least reservoir by
coming early). Only when no earlier opening day is left in the window (today is the first) does
a day hold more than its capacity: it is then marked over capacity, for the clinic to add a
session, never to book anyone late. A due date before the first opening day of the window
(today closed, due today) cannot be met by an opening day at all: it is counted as urgent.

Pure: days are dates in the clinic's time zone, worked out by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from intrathecal.units import InputError

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_CAPACITY = 10_000  # refills a day: a bound on a typing error, not a clinical limit
# The clinic's days and capacity when ITP_CLINIC_DAYS / ITP_CLINIC_CAPACITY are not set: one
# default for the calendar, the forecasts and `itp forecast` (a stated assumption, not a norm).
DEFAULT_DAYS = "Mon-Fri"
DEFAULT_CAPACITY = 12


@dataclass(frozen=True)
class ClinicDays:
    """The weekdays the clinic is open (0 = Monday) and how many refills it does a day."""

    open_weekdays: frozenset[int]
    capacity: int

    def __post_init__(self) -> None:
        if not self.open_weekdays or not self.open_weekdays <= set(range(7)):
            raise InputError("open days", "give at least one weekday, e.g. 'Mon-Fri'")
        if not 1 <= self.capacity <= MAX_CAPACITY:
            raise InputError("capacity", f"must be a whole number of refills, 1 to {MAX_CAPACITY}")

    def is_open(self, day: date) -> bool:
        return day.weekday() in self.open_weekdays

    def book_on(self, due: date) -> date:
        """The last opening day on or before ``due`` (never after it)."""
        day = due
        while not self.is_open(day):
            day -= timedelta(days=1)
        return day

    def describe(self) -> str:
        """ "Mon-Fri, 40 refills a day"."""
        return f"{days_text(self.open_weekdays)}, {self.capacity} refills a day"


def parse_days(text: str) -> frozenset[int]:
    """ "Mon-Fri", "Mon,Wed,Fri" or "Mon-Thu,Sat" as weekday numbers (0 = Monday)."""
    days: set[int] = set()
    names = [w.lower() for w in WEEKDAYS]
    for part in text.replace(" ", "").split(","):
        ends = part.split("-")
        if not part or len(ends) > 2 or any(e.lower()[:3] not in names for e in ends):
            raise InputError(
                "open days", f"give weekdays like 'Mon-Fri' or 'Mon,Wed,Fri', not {text!r}"
            )
        first, last = (names.index(e.lower()[:3]) for e in (ends[0], ends[-1]))
        if last < first:
            raise InputError("open days", f"{part!r} runs backwards; write e.g. 'Mon-Fri'")
        days.update(range(first, last + 1))
    return frozenset(days)


def days_text(weekdays: frozenset[int]) -> str:
    """Weekday numbers as runs: {0,1,2,3,4} -> "Mon-Fri"; {0,2,4} -> "Mon, Wed, Fri"."""
    runs: list[list[int]] = []
    for d in sorted(weekdays):
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return ", ".join(
        WEEKDAYS[r[0]] if len(r) == 1 else f"{WEEKDAYS[r[0]]}-{WEEKDAYS[r[-1]]}" for r in runs
    )


@dataclass(frozen=True)
class Booked:
    """One opening day of the schedule: ``count`` refills booked, the ``first`` of them by rank
    in due order over the window (0 = earliest due), how many of them are booked before the day
    they are due (``early``: due on a closed day, or passed down from a full day), and whether it
    holds more than the capacity."""

    day: date
    count: int
    first: int
    early: int
    over_capacity: bool


@dataclass(frozen=True)
class Schedule:
    days: tuple[Booked, ...]
    urgent: int  # due before the window's first opening day: no opening day can meet them

    def on(self, day: date) -> Booked | None:
        return next((b for b in self.days if b.day == day), None)


def schedule(
    clinic: ClinicDays, due_counts: Mapping[date, int], window: Sequence[date]
) -> Schedule:
    """Book the refills due on each day of ``window`` (consecutive dates, today first).

    Each opening day gets a run of patients in due order (a contiguous range of ranks), so a
    day's list can be read back from the database by rank. Worked example (Mon-Fri, capacity
    2; due Thu 1, Fri 2, Sat 1): Sat's one goes to Fri (3 on Fri); Fri keeps its 2 latest and
    passes the earliest to Thu (2 on Thu). Ranks: Thu [0, 2), Fri [2, 4).
    """
    opening = [d for d in window if clinic.is_open(d)]
    urgent = sum(
        due_counts.get(d, 0) for d in window if not opening or d < opening[0]
    )  # closed from today to the due date: no opening day before it in the window
    own = dict.fromkeys(opening, 0)
    later = dict.fromkeys(opening, 0)  # of ``own``, those due on the closed days after it
    for d in window:
        if opening and d >= opening[0]:
            own[clinic.book_on(d)] += due_counts.get(d, 0)
            if not clinic.is_open(d):
                later[clinic.book_on(d)] += due_counts.get(d, 0)
    booked: dict[date, int] = {}
    spilled_in: dict[date, int] = {}
    spill = 0
    for d in reversed(opening):
        spilled_in[d] = spill
        wanted = own[d] + spill
        # The first day has no earlier one to pass patients to: it holds them all.
        booked[d] = wanted if d == opening[0] else min(wanted, clinic.capacity)
        spill = wanted - booked[d]  # the earliest due of them go one opening day earlier
    rows: list[Booked] = []
    rank = urgent
    for d in opening:
        count = booked[d]
        # A day keeps the latest due of its own and those passed down: those due on a later
        # day (closed days after it, then those passed down) are the last to leave it.
        early = min(later[d] + spilled_in[d], count)
        rows.append(Booked(d, count, rank, early, count > clinic.capacity))
        rank += count
    return Schedule(tuple(rows), urgent)


def ranks_within(counts: Sequence[int], first: int, count: int) -> tuple[int, int, int]:
    """Where ranks ``first`` to ``first + count - 1`` of the window's due order lie, given how
    many are due on each of its days (``counts``, in order): the first and last day holding them
    (indexes into ``counts``) and the rank of ``first`` within the first of those days.

    A booked day's list is read from the due days it spans alone, not by skipping every patient
    due earlier in the window (tens of thousands at 50,000 patients, each one read to be skipped).
    Ranks past the window's end lie on its last day."""
    if not counts:
        raise ValueError("a window has at least one day")
    before, low = 0, 0
    while low < len(counts) - 1 and before + counts[low] <= first:
        before += counts[low]
        low += 1
    through, high = before + counts[low], low
    while high < len(counts) - 1 and through < first + count:
        high += 1
        through += counts[high]
    return low, high, first - before
