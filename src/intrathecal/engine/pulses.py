"""Valve-gated (accumulator) delivery: the same exact curve, seen as actuations.

A Prometra meters drug through a valve-gated accumulator: each actuation delivers one fixed
volume. The pump actuates whenever the programmed cumulative volume has grown by one accumulator
volume since the last actuation, so the k-th actuation after t0 comes at the instant the exact
curve reaches k accumulator volumes: t_k = time_at_volume(t0, k * stroke). The pulse-level
volume by t is floor(V(t0, t) / stroke) * stroke: never above the exact curve and less than one
actuation behind it. Daily totals are the exact ones; pulses are an additional view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from intrathecal.engine.delivery import Delivery, program_profile
from intrathecal.engine.profile import DAY
from intrathecal.therapy.program import Program
from intrathecal.therapy.timeline import daily_volumes_ml

# A pulse list longer than this is a question for the summary, not for a list.
MAX_LISTED_ACTUATIONS = 100_000
# Whole actuations in a volume, forgiving float noise (0.1 / 0.002 is 49.99999999999999).
_SNAP = 1e-9


def whole_actuations(volume_ml: float, actuation_volume_ml: float) -> int:
    return math.floor(volume_ml / actuation_volume_ml + _SNAP)


@dataclass(frozen=True)
class RateInterval:
    """At ``rate_ml_per_day`` the valve actuates every ``interval_s`` seconds."""

    rate_ml_per_day: float
    interval_s: float


@dataclass(frozen=True)
class PulseSummary:
    actuation_volume_ml: float
    daily_volume_ml: float  # exact mean over the program's cycle (day or week)
    actuations_per_day: float  # daily volume / actuation volume
    heaviest_day_actuations: float
    mean_interval_s: float | None  # None when nothing is delivered
    intervals: tuple[RateInterval, ...]  # one per distinct rate that delivers, fastest first
    dose_per_actuation_mcg: dict[str, float]


def pulse_summary(program: Program, actuation_volume_ml: float) -> PulseSummary:
    """Actuations per day, time between them at each rate and the dose in one actuation."""
    if not actuation_volume_ml > 0:
        raise ValueError("the actuation volume must be positive")
    profile = program_profile(program)
    days_in_cycle = profile.period_s / DAY
    daily = profile.cycle_ml / days_in_cycle
    per_day = daily / actuation_volume_ml
    heaviest = max(daily_volumes_ml(program.basal, program.periodic, program.weekly))
    rates = sorted({r for r in profile.rates_ml_per_day if r > 0}, reverse=True)
    return PulseSummary(
        actuation_volume_ml=actuation_volume_ml,
        daily_volume_ml=daily,
        actuations_per_day=per_day,
        heaviest_day_actuations=heaviest / actuation_volume_ml,
        mean_interval_s=DAY / per_day if per_day > 0 else None,
        intervals=tuple(RateInterval(r, actuation_volume_ml * DAY / r) for r in rates),
        dose_per_actuation_mcg=program.doses_mcg(actuation_volume_ml),
    )


def pulsed_volume(delivery: Delivery, t0: float, t: float, actuation_volume_ml: float) -> float:
    """Volume delivered by whole actuations over [t0, t], the accumulator empty at t0."""
    exact = delivery.volume_between(t0, t)
    return whole_actuations(exact, actuation_volume_ml) * actuation_volume_ml


def actuation_times(
    delivery: Delivery, t0: float, t1: float, actuation_volume_ml: float
) -> list[float]:
    """Instants of every actuation in (t0, t1], the accumulator empty at t0."""
    if t1 < t0:
        raise ValueError("the end of an interval must not be before its start")
    count = whole_actuations(delivery.volume_between(t0, t1), actuation_volume_ml)
    if count > MAX_LISTED_ACTUATIONS:
        raise ValueError(f"{count} actuations: ask for a shorter span")
    times = []
    for k in range(1, count + 1):
        at = delivery.time_at_volume(t0, k * actuation_volume_ml)
        times.append(min(at, t1))
    return times
