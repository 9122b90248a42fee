"""A periodic piecewise-constant rate and its cumulative volume, in closed form.

Cumulative volume V(t) of a rate that repeats every ``period_s`` is monotone and piecewise
linear: V(t) = k * cycle_ml + cum[j] + rate[j] * (offset - start[j]), where k counts whole cycles
since the anchor and j is the segment holding the offset. Its inverse (the instant a volume has
been delivered) is found the same way. No time stepping anywhere.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from intrathecal.units import SECONDS_PER_DAY

DAY = float(SECONDS_PER_DAY)


@dataclass(frozen=True)
class Pulse:
    """Extra rate over [start_s, start_s + duration_s), as an offset into a cycle."""

    start_s: int
    duration_s: int
    rate_ml_per_day: float


@dataclass(frozen=True)
class RateProfile:
    """``rates_ml_per_day[j]`` holds from ``starts_s[j]`` to the next start (or the period end).

    ``anchor_s`` is an instant (seconds since 1970-01-01 UTC) at which a cycle begins.
    """

    period_s: int
    anchor_s: int
    starts_s: tuple[int, ...]
    rates_ml_per_day: tuple[float, ...]
    cum_ml: tuple[float, ...] = field(init=False, repr=False)
    cycle_ml: float = field(init=False)

    def __post_init__(self) -> None:
        if self.period_s <= 0:
            raise ValueError("period must be positive")
        if not self.starts_s or self.starts_s[0] != 0:
            raise ValueError("the first segment must start at offset 0")
        if len(self.starts_s) != len(self.rates_ml_per_day):
            raise ValueError("one rate per segment")
        if any(b <= a for a, b in zip(self.starts_s, self.starts_s[1:], strict=False)):
            raise ValueError("segment starts must increase")
        if self.starts_s[-1] >= self.period_s:
            raise ValueError("segments must start inside the period")
        if any(not (r >= 0 and math.isfinite(r)) for r in self.rates_ml_per_day):
            raise ValueError("rates must be finite and not negative")
        ends = (*self.starts_s[1:], self.period_s)
        cum = [0.0]
        for start, end, rate in zip(self.starts_s, ends, self.rates_ml_per_day, strict=True):
            cum.append(cum[-1] + rate * (end - start) / DAY)
        object.__setattr__(self, "cum_ml", tuple(cum))
        object.__setattr__(self, "cycle_ml", cum[-1])

    # -- evaluation ---------------------------------------------------------------------------

    def _split(self, t: float) -> tuple[int, float]:
        cycles = math.floor((t - self.anchor_s) / self.period_s)
        offset = (t - self.anchor_s) - cycles * self.period_s
        return cycles, offset

    def rate_at(self, t: float) -> float:
        """Rate (mL/day) in force at instant ``t`` (right-continuous)."""
        _, offset = self._split(t)
        return self.rates_ml_per_day[bisect_right(self.starts_s, offset) - 1]

    def volume_at(self, t: float) -> float:
        """Cumulative volume (mL) from the anchor to ``t``; negative before the anchor."""
        cycles, offset = self._split(t)
        j = bisect_right(self.starts_s, offset) - 1
        return (
            cycles * self.cycle_ml
            + self.cum_ml[j]
            + self.rates_ml_per_day[j] * (offset - self.starts_s[j]) / DAY
        )

    def volume_between(self, t0: float, t1: float) -> float:
        if t1 < t0:
            raise ValueError("the end of an interval must not be before its start")
        return self.volume_at(t1) - self.volume_at(t0)

    def time_at_volume(self, t0: float, volume_ml: float) -> float:
        """Earliest instant t >= t0 by which ``volume_ml`` has been delivered since t0."""
        if volume_ml <= 0:
            return t0
        if self.cycle_ml <= 0:
            return math.inf
        return max(t0, self.time_at_cumulative(self.volume_at(t0) + volume_ml))

    def time_at_cumulative(self, target_ml: float) -> float:
        """Earliest instant at which the cumulative volume (from the anchor) reaches target."""
        cycles = math.floor(target_ml / self.cycle_ml)
        remainder = target_ml - cycles * self.cycle_ml
        if remainder <= 0:
            # Exactly a whole number of cycles: the earliest instant lies in the cycle before,
            # at the end of its last segment that delivers anything.
            cycles -= 1
            remainder = self.cycle_ml
        j = min(bisect_left(self.cum_ml, remainder, 1) - 1, len(self.starts_s) - 1)
        rate = self.rates_ml_per_day[j]
        return (
            self.anchor_s
            + cycles * self.period_s
            + self.starts_s[j]
            + (remainder - self.cum_ml[j]) * DAY / rate
        )

    def breakpoints_between(self, t0: float, t1: float) -> Iterator[float]:
        """Instants strictly between t0 and t1 where the rate may change."""
        cycles, offset = self._split(t0)
        j = bisect_right(self.starts_s, offset)
        n = len(self.starts_s)
        while True:
            if j == n:
                cycles, j = cycles + 1, 0
            t = self.anchor_s + cycles * self.period_s + self.starts_s[j]
            if t >= t1:
                return
            if t > t0:
                yield t
            j += 1


def fold(
    base: RateProfile, pulses: Iterable[Pulse], pulse_period_s: int, pulse_anchor_s: int
) -> RateProfile:
    """Add pulses that repeat every ``pulse_period_s`` (the first at ``pulse_anchor_s`` plus its
    offset) to ``base``. The result repeats every lcm of both periods, so it stays periodic
    and exact."""
    period = math.lcm(base.period_s, pulse_period_s)
    repeats_base = period // base.period_s
    shift = (pulse_anchor_s - base.anchor_s) % pulse_period_s
    changes: dict[int, list[float]] = {}
    for k in range(repeats_base):
        for start in base.starts_s:
            changes.setdefault(k * base.period_s + start, [])
    pulse_list = list(pulses)
    spans: list[tuple[int, int, float]] = []
    for m in range(period // pulse_period_s):
        for pulse in pulse_list:
            if pulse.duration_s > period:
                raise ValueError("a pulse may not last longer than the cycle")
            start = (shift + m * pulse_period_s + pulse.start_s) % period
            end = start + pulse.duration_s
            if end <= period:
                spans.append((start, end, pulse.rate_ml_per_day))
            else:
                spans.append((start, period, pulse.rate_ml_per_day))
                spans.append((0, end - period, pulse.rate_ml_per_day))
    for start, end, _ in spans:
        changes.setdefault(start, [])
        if end < period:
            changes.setdefault(end, [])
    starts = sorted(changes)
    # Extra rate in each segment, summed afresh (no running sum to drift).
    extra = [0.0] * len(starts)
    for start, end, rate in spans:
        first = bisect_left(starts, start)
        last = bisect_left(starts, end)
        for index in range(first, last):
            extra[index] += rate
    rates = tuple(base.rate_at(base.anchor_s + s) + e for s, e in zip(starts, extra, strict=True))
    return RateProfile(period, base.anchor_s, tuple(starts), rates)
