"""Brute-force tick integration: a test oracle and a benchmark baseline, never used to answer.

It steps time in fixed ticks and adds rate x tick, sampling the rate at each tick's midpoint.
Its error is at most (largest rate) x (tick) per rate change inside the interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from intrathecal.engine.profile import DAY


def tick_volume(rate_at: Callable[[float], float], t0: float, t1: float, tick_s: float) -> float:
    """Volume over [t0, t1] by summing rate(mid-tick) x tick."""
    total = 0.0
    t = t0
    while t < t1:
        step = min(tick_s, t1 - t)
        total += rate_at(t + step / 2) * step / DAY
        t += step
    return total


def tick_time_at_volume(
    rate_at: Callable[[float], float], t0: float, volume_ml: float, tick_s: float, horizon_s: float
) -> float:
    """First tick end at which the summed volume reaches ``volume_ml`` (inf past the horizon)."""
    total = 0.0
    t = t0
    while t < t0 + horizon_s:
        total += rate_at(t + tick_s / 2) * tick_s / DAY
        t += tick_s
        if total >= volume_ml:
            return t
    return math.inf
