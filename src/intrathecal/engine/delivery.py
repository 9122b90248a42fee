"""What a program delivers: cumulative volume and dose of each drug, and when a volume is reached.

A delivery is the program's periodic rate (basal steps plus periodic boluses, optionally with
the worst case of every allowed demand bolus folded in) plus a finite set of one-off boluses
(accepted demand presses). All answers are closed form over the piecewise-linear cumulative
curve.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise

from intrathecal.engine.demand import PressDecision, decide_presses, worst_case_pulses
from intrathecal.engine.profile import DAY, Pulse, RateProfile, fold
from intrathecal.therapy.program import Program
from intrathecal.therapy.timeline import (
    basal_breakpoints,
    bolus_rectangles,
    cycle_anchor_s,
    cycle_length_s,
)


def program_profile(program: Program) -> RateProfile:
    """Basal steps and periodic boluses of ``program`` as one periodic rate."""
    weekly = program.weekly
    points = basal_breakpoints(program.basal, weekly)
    base = RateProfile(
        period_s=cycle_length_s(weekly),
        anchor_s=cycle_anchor_s(weekly),
        starts_s=tuple(p for p, _ in points),
        rates_ml_per_day=tuple(r for _, r in points),
    )
    rectangles = bolus_rectangles(program.periodic, weekly)
    if not rectangles:
        return base
    pulses = [Pulse(r.start_s, r.duration_s, r.rate_ml_per_day) for r in rectangles]
    return fold(base, pulses, base.period_s, base.anchor_s)


@dataclass(frozen=True)
class Bolus:
    start_s: float
    duration_s: float
    volume_ml: float


@dataclass(frozen=True)
class Boluses:
    """One-off boluses as a piecewise-constant extra rate over a finite span."""

    bounds_s: tuple[float, ...] = ()
    rates_ml_per_day: tuple[float, ...] = ()  # rate over [bounds[i], bounds[i+1])
    cum_ml: tuple[float, ...] = ()  # cumulative at bounds[i]

    @staticmethod
    def of(boluses: Iterable[Bolus]) -> Boluses:
        items = [b for b in boluses if b.volume_ml > 0]
        if not items:
            return Boluses()
        bounds = sorted({b.start_s for b in items} | {b.start_s + b.duration_s for b in items})
        rates = [0.0] * (len(bounds) - 1)
        for b in items:
            rate = b.volume_ml * DAY / b.duration_s
            for i in range(
                bisect_left(bounds, b.start_s), bisect_left(bounds, b.start_s + b.duration_s)
            ):
                rates[i] += rate
        cum = [0.0]
        for i, rate in enumerate(rates):
            cum.append(cum[-1] + rate * (bounds[i + 1] - bounds[i]) / DAY)
        return Boluses(tuple(bounds), tuple(rates), tuple(cum))

    def volume_at(self, t: float) -> float:
        if not self.bounds_s or t <= self.bounds_s[0]:
            return 0.0
        if t >= self.bounds_s[-1]:
            return self.cum_ml[-1]
        i = bisect_right(self.bounds_s, t) - 1
        return self.cum_ml[i] + self.rates_ml_per_day[i] * (t - self.bounds_s[i]) / DAY

    def rate_at(self, t: float) -> float:
        if not self.bounds_s or t < self.bounds_s[0] or t >= self.bounds_s[-1]:
            return 0.0
        return self.rates_ml_per_day[bisect_right(self.bounds_s, t) - 1]


@dataclass(frozen=True)
class Delivery:
    """Periodic profile plus one-off boluses. ``valid_from_s`` bounds questions from below when
    the profile holds a worst case that starts at that instant."""

    profile: RateProfile
    boluses: Boluses = field(default_factory=Boluses)
    valid_from_s: float = -math.inf

    def _check(self, t: float) -> None:
        if t < self.valid_from_s:
            raise ValueError("this delivery is defined only from its start (the worst case)")

    def volume_at(self, t: float) -> float:
        return self.profile.volume_at(t) + self.boluses.volume_at(t)

    def rate_at(self, t: float) -> float:
        return self.profile.rate_at(t) + self.boluses.rate_at(t)

    def volume_between(self, t0: float, t1: float) -> float:
        """Volume (mL) delivered over [t0, t1]."""
        self._check(t0)
        if t1 < t0:
            raise ValueError("the end of an interval must not be before its start")
        return self.volume_at(t1) - self.volume_at(t0)

    def time_at_volume(self, t0: float, volume_ml: float) -> float:
        """Earliest instant t >= t0 by which ``volume_ml`` has been delivered since t0."""
        self._check(t0)
        if volume_ml <= 0:
            return t0
        target = self.volume_at(t0) + volume_ml
        bounds = self.boluses.bounds_s
        # First bolus boundary after t0 at which the target is reached (V is monotone).
        lo, hi = bisect_right(bounds, t0), len(bounds)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.volume_at(bounds[mid]) >= target:
                hi = mid
            else:
                lo = mid + 1
        if lo == len(bounds):
            # Past the last bolus the extra volume is constant: the periodic part decides.
            extra = self.boluses.volume_at(max(t0, bounds[-1] if bounds else t0))
            return max(t0, self.profile.time_at_cumulative(target - extra))
        segment_start = max(t0, bounds[lo - 1]) if lo > 0 else t0
        return self._solve_in(segment_start, bounds[lo], target)

    def _solve_in(self, start: float, end: float, target: float) -> float:
        """Solve V(t) = target on [start, end], where the bolus rate is constant."""
        extra_rate = self.boluses.rate_at(start)
        if extra_rate == 0:
            extra = self.boluses.volume_at(start)
            return max(start, min(end, self.profile.time_at_cumulative(target - extra)))
        pieces = [start, *self.profile.breakpoints_between(start, end), end]
        for a, b in pairwise(pieces):
            if self.volume_at(b) >= target:
                rate = self.profile.rate_at(a) + extra_rate
                return a + (target - self.volume_at(a)) * DAY / rate
        return end


@dataclass(frozen=True)
class DemandOutcome:
    mode: str  # "none", "presses" or "worst_case"
    decisions: tuple[PressDecision, ...] = ()


def build_delivery(
    program: Program,
    *,
    presses_s: Iterable[float] | None = None,
    worst_case_from_s: float | None = None,
    history_s: Iterable[float] = (),
) -> tuple[Delivery, DemandOutcome]:
    """The delivery of ``program`` with demand boluses as given presses, as the worst case
    from an instant, or (neither) without demand boluses."""
    profile = program_profile(program)
    demand = program.demand
    if presses_s is not None and worst_case_from_s is not None:
        raise ValueError("give presses or a worst case, not both")
    if demand is None or (presses_s is None and worst_case_from_s is None):
        # Without a demand bolus the worst case is the programmed delivery itself; presses
        # cannot be honoured, so they are refused rather than silently dropped.
        if demand is None and presses_s:
            raise ValueError("this program has no demand bolus")
        return Delivery(profile), DemandOutcome("none")
    if worst_case_from_s is not None:
        pulses, period = worst_case_pulses(demand)
        anchor = math.floor(worst_case_from_s)
        if anchor != worst_case_from_s:
            raise ValueError("the worst case starts at a whole second")
        folded = fold(profile, pulses, period, anchor)
        return Delivery(folded, valid_from_s=worst_case_from_s), DemandOutcome("worst_case")
    assert presses_s is not None
    decisions = decide_presses(demand, presses_s, history_s)
    boluses = Boluses.of(
        Bolus(d.at_s, demand.duration_s, demand.volume_ml) for d in decisions if d.accepted
    )
    return Delivery(profile, boluses), DemandOutcome("presses", tuple(decisions))


@dataclass(frozen=True)
class Delivered:
    volume_ml: float
    doses_mcg: dict[str, float]


def delivered(program: Program, delivery: Delivery, t0: float, t1: float) -> Delivered:
    volume = delivery.volume_between(t0, t1)
    return Delivered(volume, program.doses_mcg(volume))
