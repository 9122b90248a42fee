"""Refills booked on clinic opening days within capacity, never after they are due."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intrathecal.clinical.clinic_days import (
    ClinicDays,
    days_text,
    parse_days,
    ranks_within,
    schedule,
)
from intrathecal.units import InputError

MON = date(2026, 3, 2)  # a Monday
WEEKDAYS = ClinicDays(frozenset(range(5)), capacity=2)


def test_a_due_date_on_a_weekend_is_booked_on_the_friday_before() -> None:
    assert WEEKDAYS.book_on(date(2026, 3, 7)) == date(2026, 3, 6)  # Sat -> Fri
    assert WEEKDAYS.book_on(date(2026, 3, 8)) == date(2026, 3, 6)  # Sun -> Fri
    assert WEEKDAYS.book_on(date(2026, 3, 9)) == date(2026, 3, 9)  # Mon stays


def test_the_docstring_example_books_early_never_late() -> None:
    # Mon-Fri, capacity 2; due Thu 1, Fri 2, Sat 1. Sat -> Fri (3); Fri keeps its latest 2
    # and passes the earliest to Thu: Thu 2 (1 of them due later), Fri 2.
    window = [MON + timedelta(days=i) for i in range(7)]
    thu, fri, sat = (MON + timedelta(days=i) for i in (3, 4, 5))
    plan = schedule(WEEKDAYS, {thu: 1, fri: 2, sat: 1}, window)
    booked = {b.day: (b.count, b.first, b.early) for b in plan.days if b.count}
    assert booked == {thu: (2, 0, 1), fri: (2, 2, 1)}
    assert plan.urgent == 0


def test_refills_due_before_the_first_opening_day_are_urgent() -> None:
    sat = date(2026, 3, 7)  # today is Saturday: the clinic next opens on Monday
    window = [sat + timedelta(days=i) for i in range(7)]
    plan = schedule(
        WEEKDAYS, {sat: 1, sat + timedelta(days=1): 2, MON + timedelta(days=7): 1}, window
    )
    assert plan.urgent == 3
    assert plan.days[0].day == date(2026, 3, 9) and plan.days[0].first == 3


def test_the_first_day_holds_what_cannot_go_earlier_and_says_it_is_over_capacity() -> None:
    window = [MON + timedelta(days=i) for i in range(2)]
    plan = schedule(WEEKDAYS, {MON: 1, MON + timedelta(days=1): 4}, window)
    assert [(b.count, b.over_capacity) for b in plan.days] == [(3, True), (2, False)]


@settings(max_examples=200, deadline=None)
@given(
    open_days=st.frozensets(st.integers(0, 6), min_size=1),
    capacity=st.integers(1, 5),
    start=st.integers(0, 6),
    counts=st.lists(st.integers(0, 8), min_size=1, max_size=21),
)
def test_every_refill_is_booked_once_on_an_opening_day_on_or_before_its_due_date(
    open_days: frozenset[int], capacity: int, start: int, counts: list[int]
) -> None:
    clinic = ClinicDays(open_days, capacity)
    window = [MON + timedelta(days=start + i) for i in range(len(counts))]
    due = dict(zip(window, counts, strict=True))
    plan = schedule(clinic, due, window)
    # Patients in due order, by rank: the day each is due.
    due_of = [d for d in window for _ in range(due[d])]
    assert plan.urgent + sum(b.count for b in plan.days) == len(due_of)
    assert all(due_of[r] < plan.days[0].day for r in range(plan.urgent)) if plan.days else True
    rank = plan.urgent
    for b in plan.days:
        assert clinic.is_open(b.day) and b.first == rank
        mine = due_of[b.first : b.first + b.count]
        assert all(d >= b.day for d in mine)  # never late
        assert b.early == sum(d > b.day for d in mine)
        assert b.count <= capacity or b is plan.days[0]
        rank += b.count


def test_open_days_are_read_and_written_as_weekday_runs() -> None:
    assert parse_days("Mon-Fri") == frozenset(range(5))
    assert parse_days("mon,wed, fri") == frozenset({0, 2, 4})
    assert days_text(parse_days("Mon-Thu,Sat")) == "Mon-Thu, Sat"
    for bad in ("", "Fri-Mon", "Monday-Funday", "Mon--Fri"):
        with pytest.raises(InputError, match="open days"):
            parse_days(bad)
    with pytest.raises(InputError, match="capacity"):
        ClinicDays(frozenset({0}), 0)


@given(
    due=st.lists(st.integers(0, 27), max_size=120),
    first=st.integers(0, 130),
    count=st.integers(1, 40),
)
def test_a_booked_days_ranks_are_read_from_the_due_days_they_span_alone(
    due: list[int], first: int, count: int
) -> None:
    # The window's due order, each patient (due day, patient id); the full read skips ``first``.
    order = sorted((day, pid) for pid, day in enumerate(due))
    counts = [sum(1 for d in due if d == day) for day in range(28)]
    low, high, offset = ranks_within(counts, first, count)
    spanned = [p for p in order if low <= p[0] <= high]
    assert spanned[offset : offset + count] == order[first : first + count]
    # And it reads no more than the days it needs: the first day holds rank ``first`` (or the
    # window ends before it), the last day is needed for the last rank.
    assert offset <= counts[low] or low == len(counts) - 1
    assert high == low or sum(counts[:high]) < first + count


def test_ranks_within_worked_by_hand() -> None:
    # Due per day 5, 0, 3, 4: ranks 0-4 on day 0, 5-7 on day 2, 8-11 on day 3. Ranks 6 to 9
    # (first 6, four of them) span days 2 and 3; rank 6 is the second of day 2 (offset 1).
    assert ranks_within([5, 0, 3, 4], 6, 4) == (2, 3, 1)
    assert ranks_within([5, 0, 3, 4], 0, 5) == (0, 0, 0)
    assert ranks_within([5, 0, 3, 4], 5, 1) == (2, 2, 0)  # day 1 holds none: skipped
