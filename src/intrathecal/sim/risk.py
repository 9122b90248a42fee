"""Risk of running dry: the chance that a pump reaches its low-reservoir alarm, or empties,
before its refill visit, by Monte Carlo over what really varies (issue 14, question 3).

For each patient and each trial:
- the pump's delivery error for this fill: every volume is scaled by 1 + e, e uniform within
  the device accuracy (library ``accuracy``);
- the patient's demand presses: a Poisson process at the patient's rate, each press decided as
  the pump would (lockout start to start, at most ``max_per_24h`` in any rolling 24 h;
  engine/demand.py), an accepted bolus delivered evenly over its duration;
- the visit: the due date with the scheduling margin taken off, plus a lateness drawn from the
  clinic's distribution (``lateness``).
Delivery between events is exact (closed form, ``exact.volume_at``). The alarm is reached before
the visit when the volume delivered by the visit is at least fill - alarm volume; the pump is
empty when it is at least fill - non-retrievable volume.
Trial t of patient p is virtual pump p * trials + t of every random stream.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from intrathecal.engine.demand import WINDOW_S
from intrathecal.engine.profile import DAY, RateProfile
from intrathecal.sim import exact
from intrathecal.sim.lateness import Lateness
from intrathecal.sim.streams import FloatArray, Kind, open_uniforms, uniforms
from intrathecal.therapy.program import DemandBolus

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class RiskCase:
    """One patient's current fill, as the records give it."""

    label: str
    profile: RateProfile  # programmed delivery without demand boluses
    filled_at_s: float
    usable_ml: float  # fill - low-reservoir alarm volume
    empty_ml: float  # fill - non-retrievable volume
    limit_at_s: float  # refill due with no margin (the refill plan's answer)
    accuracy: float  # delivery accuracy as a fraction (0.145 = ±14.5 %)
    demand: DemandBolus | None = None
    presses_per_day: float = 0.0
    # A program applied after the fill without a refill (same solution, new rates): the pump
    # runs ``profile`` until ``switched_at_s``, then ``after``.
    after: RateProfile | None = None
    switched_at_s: float = math.inf


@dataclass(frozen=True)
class RiskSettings:
    trials: int
    seed: int
    margins_days: tuple[float, ...]
    lateness: Lateness


@dataclass(frozen=True)
class RiskCounts:
    """Trials (of ``trials``) with the alarm, or empty, before the visit: [patient, margin]."""

    alarm: IntArray
    empty: IntArray


def _presses(case: RiskCase, horizon_days: float) -> int:
    """How many press draws cover the horizon with room to spare (a fixed number per patient,
    so the draws of one trial never depend on another's)."""
    if case.demand is None or case.presses_per_day <= 0:
        return 0
    mean = case.presses_per_day * horizon_days
    return math.ceil(mean + 8 * math.sqrt(mean) + 10)


def press_times(case: RiskCase, seed: int, first: int, trials: int, count: int) -> FloatArray:
    """Demand presses [trial, press]: a Poisson process from the fill at the patient's rate."""
    gaps = np.empty((trials, count))
    for k in range(count):
        gaps[:, k] = -np.log(open_uniforms(seed, Kind.PRESS_GAP, first, trials, (k, 0)))
    times: FloatArray = case.filled_at_s + np.cumsum(gaps, axis=1) * (DAY / case.presses_per_day)
    return times


def accepted_starts(demand: DemandBolus, presses: FloatArray) -> FloatArray:
    """Accepted bolus starts [trial, press] (inf where refused), decided as the pump decides
    (engine/demand.py ``decide``), vectorised over trials; presses are in time order."""
    trials, count = presses.shape
    rows = np.arange(trials)
    last = np.full(trials, -np.inf)
    ring = np.full((trials, demand.max_per_24h), -np.inf)  # the last max_per_24h accepted
    slot = np.zeros(trials, dtype=np.intp)  # where the oldest of them is
    starts = np.full((trials, count), np.inf)
    for k in range(count):
        press = presses[:, k]
        # Refused within the lockout of the last accepted bolus, or when max_per_24h accepted
        # boluses started in (press - 24 h, press]: the oldest of the last max_per_24h is then
        # inside the window.
        accept = (press - last >= demand.lockout_s) & (ring[rows, slot] <= press - WINDOW_S)
        ring[rows[accept], slot[accept]] = press[accept]
        slot[accept] = (slot[accept] + 1) % demand.max_per_24h
        last[accept] = press[accept]
        starts[accept, k] = press[accept]
    return starts


def simulate_case(case: RiskCase, index: int, settings: RiskSettings) -> tuple[IntArray, IntArray]:
    """Trials with alarm and with empty before the visit, one count per margin."""
    n = settings.trials
    first = index * n
    factor = 1.0 + case.accuracy * (
        2.0 * uniforms(settings.seed, Kind.DELIVERY_ERROR, first, n) - 1.0
    )
    late = settings.lateness.sample(uniforms(settings.seed, Kind.LATENESS, first, n))
    margins = np.asarray(settings.margins_days, dtype=np.float64)
    due = np.maximum(case.filled_at_s, case.limit_at_s - margins * DAY)  # (m,)
    visit = np.maximum(due[:, None] + late[None, :] * DAY, case.filled_at_s)  # (m, n)
    horizon_days = float(visit.max() - case.filled_at_s) / DAY
    count = _presses(case, horizon_days)
    delivered = _programmed(case, visit.ravel()).reshape(visit.shape)
    if count:
        demand = case.demand
        assert demand is not None
        starts = accepted_starts(demand, press_times(case, settings.seed, first, n, count))
        for m in range(len(margins)):
            part = np.clip((visit[m][:, None] - starts) / demand.duration_s, 0.0, 1.0)
            delivered[m] += demand.volume_ml * part.sum(axis=1)
    delivered *= factor[None, :]
    alarm = (delivered >= case.usable_ml).sum(axis=1)
    empty = (delivered >= case.empty_ml).sum(axis=1)
    return alarm, empty


def _programmed(case: RiskCase, t: FloatArray) -> FloatArray:
    """Programmed volume from the fill to each instant (the program in force at each moment)."""
    start = np.array([case.filled_at_s])
    if case.after is None or case.switched_at_s >= np.max(t, initial=case.filled_at_s):
        volume: FloatArray = exact.volume_at(case.profile, t) - exact.volume_at(case.profile, start)
        return volume
    switch = np.array([max(case.switched_at_s, case.filled_at_s)])
    before = np.minimum(t, switch[0])
    volume = exact.volume_at(case.profile, before) - exact.volume_at(case.profile, start)
    later = np.maximum(t, switch[0])
    volume += exact.volume_at(case.after, later) - exact.volume_at(case.after, switch)
    return volume


def simulate(cases: Sequence[RiskCase], start: int, settings: RiskSettings) -> RiskCounts:
    """Cases ``start ..`` of the population (``start`` keys their streams)."""
    m = len(settings.margins_days)
    alarm = np.zeros((len(cases), m), dtype=np.int64)
    empty = np.zeros((len(cases), m), dtype=np.int64)
    for i, case in enumerate(cases):
        alarm[i], empty[i] = simulate_case(case, start + i, settings)
    return RiskCounts(alarm, empty)


def uniform_error_alarm_probability(
    rate_ml_per_day: float, usable_ml: float, days: float, accuracy: float
) -> float:
    """Closed form for a constant rate, no presses and a visit ``days`` after the fill:
    P((1 + e) r d >= U) with e uniform in [-a, a] = (a - (U / (r d) - 1)) / (2a), clipped to
    [0, 1]."""
    x = usable_ml / (rate_ml_per_day * days) - 1.0
    if accuracy == 0:
        return 1.0 if x <= 0 else 0.0
    return min(1.0, max(0.0, (accuracy - x) / (2 * accuracy)))


def wilson(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a proportion (95 % by default)."""
    if trials == 0:
        return (0.0, 1.0)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))
