"""One periodic profile evaluated at many instants at once (closed form, no time steps).

The same formula as ``RateProfile.volume_at`` (engine/profile.py), vectorised over instants, so
each value is the one the scalar engine gives, bit for bit.
"""

from __future__ import annotations

import numpy as np

from intrathecal.engine.profile import DAY, RateProfile
from intrathecal.sim.streams import FloatArray


def volume_at(profile: RateProfile, t: FloatArray) -> FloatArray:
    """Cumulative volume (mL) of ``profile`` from its anchor to each instant of ``t``."""
    rel = t - profile.anchor_s
    cycles = np.floor(rel / profile.period_s)
    offset = rel - cycles * profile.period_s
    starts = np.asarray(profile.starts_s, dtype=np.float64)
    j = np.clip(np.searchsorted(starts, offset, side="right") - 1, 0, len(starts) - 1)
    cum = np.asarray(profile.cum_ml, dtype=np.float64)[j]
    rate = np.asarray(profile.rates_ml_per_day, dtype=np.float64)[j]
    volume: FloatArray = cycles * profile.cycle_ml + cum + rate * (offset - starts[j]) / DAY
    return volume
