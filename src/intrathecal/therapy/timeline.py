"""A program's repeating cycle (a day, or a week when steps are day-specific) as breakpoints.

The basal rate is piecewise constant: each step runs from its start to the next step's start,
the last step of the cycle wrapping to the first. Periodic boluses are rectangles on top.
"""

from __future__ import annotations

from dataclasses import dataclass

from intrathecal.therapy.program import ALL_DAYS, BasalStep, PeriodicBolus
from intrathecal.units import SECONDS_PER_DAY

DAY_S = SECONDS_PER_DAY
WEEK_S = 7 * SECONDS_PER_DAY
# 1970-01-05 00:00 UTC was a Monday: weekly cycles are anchored there.
MONDAY_ANCHOR_S = 4 * SECONDS_PER_DAY


@dataclass(frozen=True)
class Rectangle:
    """Extra rate ``rate_ml_per_day`` over [start_s, start_s + duration_s) within a cycle."""

    start_s: int
    duration_s: int
    rate_ml_per_day: float


def cycle_length_s(weekly: bool) -> int:
    return WEEK_S if weekly else DAY_S


def cycle_anchor_s(weekly: bool) -> int:
    return MONDAY_ANCHOR_S if weekly else 0


def basal_breakpoints(steps: tuple[BasalStep, ...], weekly: bool) -> list[tuple[int, float]]:
    """(offset in cycle, rate mL/day) from offset 0, sorted; the rate holds until the next."""
    if not steps:
        raise ValueError("a program needs at least one basal step")
    points: list[tuple[int, float]] = []
    for step in steps:
        if weekly:
            points.extend((day * DAY_S + step.start_s, step.rate_ml_per_day) for day in step.days)
        else:
            points.append((step.start_s, step.rate_ml_per_day))
    points.sort()
    if points[0][0] != 0:
        points.insert(0, (0, points[-1][1]))
    return points


def bolus_rectangles(boluses: tuple[PeriodicBolus, ...], weekly: bool) -> list[Rectangle]:
    rectangles: list[Rectangle] = []
    for bolus in boluses:
        rate = bolus.volume_ml * DAY_S / bolus.duration_s
        days = sorted(bolus.days) if weekly else [0]
        rectangles.extend(
            Rectangle(day * DAY_S + bolus.start_s, bolus.duration_s, rate) for day in days
        )
    return rectangles


def basal_volume_ml(points: list[tuple[int, float]], cycle_s: int, start: int, end: int) -> float:
    """Basal volume delivered over [start, end) of one cycle (0 <= start <= end <= cycle_s)."""
    total = 0.0
    bounds = [p for p, _ in points[1:]] + [cycle_s]
    for (begin, rate), finish in zip(points, bounds, strict=True):
        overlap = min(finish, end) - max(begin, start)
        if overlap > 0:
            total += rate * overlap / DAY_S
    return total


def daily_volumes_ml(
    steps: tuple[BasalStep, ...], boluses: tuple[PeriodicBolus, ...], weekly: bool
) -> list[float]:
    """Volume of each day of the cycle (one day, or Monday..Sunday): basal over the day plus
    the periodic boluses that start that day."""
    points = basal_breakpoints(steps, weekly)
    cycle = cycle_length_s(weekly)
    days = range(7) if weekly else range(1)
    volumes = []
    for day in days:
        basal = basal_volume_ml(points, cycle, day * DAY_S, (day + 1) * DAY_S)
        extra = sum(b.volume_ml for b in boluses if not weekly or day in b.days)
        volumes.append(basal + extra)
    return volumes


def days_of(weekly: bool) -> frozenset[int]:
    return ALL_DAYS if weekly else frozenset({0})
