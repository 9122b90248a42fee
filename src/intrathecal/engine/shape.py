"""The shape of a program's delivery over its cycle: peak and trough rate, longest pause.

Two programs with the same daily total can differ a lot for the patient: a constant flow never
changes; timed steps have a peak and a trough; periodic flow delivers its doses fast and then
nothing. Read straight off the exact periodic rate (no sampling).
"""

from __future__ import annotations

from dataclasses import dataclass

from intrathecal.engine.delivery import program_profile
from intrathecal.engine.profile import DAY
from intrathecal.therapy.program import Program


@dataclass(frozen=True)
class Shape:
    daily_volume_ml: float  # mean over the cycle
    peak_rate_ml_per_day: float
    trough_rate_ml_per_day: float
    peak_to_mean: float  # peak rate / mean rate (1 for a constant flow)
    longest_pause_s: float  # longest stretch with no flow at all (0 if it never stops)
    share_of_day_flowing: float  # fraction of the cycle with any flow


def delivery_shape(program: Program) -> Shape:
    """Peak, trough and pauses of the programmed rate (demand boluses not included)."""
    profile = program_profile(program)
    ends = (*profile.starts_s[1:], profile.period_s)
    segments = list(zip(profile.starts_s, ends, profile.rates_ml_per_day, strict=True))
    mean = profile.cycle_ml / (profile.period_s / DAY)
    flowing = sum(end - start for start, end, rate in segments if rate > 0)
    # Pauses may wrap past the end of the cycle into its start: walk the cycle twice.
    longest = run = 0.0
    for start, end, rate in segments * 2:
        run = run + (end - start) if rate == 0 else 0.0
        longest = max(longest, run)
    longest = min(longest, float(profile.period_s))
    rates = [rate for _, _, rate in segments]
    peak = max(rates)
    return Shape(
        daily_volume_ml=mean,
        peak_rate_ml_per_day=peak,
        trough_rate_ml_per_day=min(rates),
        peak_to_mean=peak / mean if mean > 0 else 0.0,
        longest_pause_s=longest,
        share_of_day_flowing=flowing / profile.period_s,
    )
