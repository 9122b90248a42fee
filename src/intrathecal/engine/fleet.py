"""Many pumps at once: the same closed-form answers, vectorised with NumPy.

Each pump's periodic profile becomes one row of padded arrays (padding segments have zero
length), so "volume delivered between" and "when is this volume reached" are a few array
operations over all rows, with no Python loop over pumps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from intrathecal.engine.profile import DAY, RateProfile

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Fleet:
    period_s: FloatArray  # (n,)
    anchor_s: FloatArray  # (n,)
    starts_s: FloatArray  # (n, m), padded with the period
    rates_ml_per_day: FloatArray  # (n, m), padded with 0
    cum_ml: FloatArray  # (n, m + 1): cumulative at each start, then the cycle volume

    @staticmethod
    def of(profiles: Sequence[RateProfile]) -> Fleet:
        n = len(profiles)
        m = max(len(p.starts_s) for p in profiles)
        period = np.array([p.period_s for p in profiles], dtype=np.float64)
        starts = np.repeat(period[:, None], m, axis=1)
        rates = np.zeros((n, m))
        cum = np.zeros((n, m + 1))
        for i, p in enumerate(profiles):
            k = len(p.starts_s)
            starts[i, :k] = p.starts_s
            rates[i, :k] = p.rates_ml_per_day
            cum[i, : k + 1] = p.cum_ml
            cum[i, k + 1 :] = p.cycle_ml
        anchor = np.array([p.anchor_s for p in profiles], dtype=np.float64)
        return Fleet(period, anchor, starts, rates, cum)

    @property
    def cycle_ml(self) -> FloatArray:
        return self.cum_ml[:, -1]

    def volume_at(self, t: FloatArray) -> FloatArray:
        """Cumulative volume of each pump from its anchor to ``t`` (one instant per pump)."""
        rel = t - self.anchor_s
        cycles = np.floor(rel / self.period_s)
        offset = rel - cycles * self.period_s
        j = (self.starts_s <= offset[:, None]).sum(axis=1) - 1
        rows = np.arange(len(t))
        volume: FloatArray = (
            cycles * self.cycle_ml
            + self.cum_ml[rows, j]
            + self.rates_ml_per_day[rows, j] * (offset - self.starts_s[rows, j]) / DAY
        )
        return volume

    def volume_between(self, t0: FloatArray, t1: FloatArray) -> FloatArray:
        if np.any(t1 < t0):
            raise ValueError("the end of an interval must not be before its start")
        return self.volume_at(t1) - self.volume_at(t0)

    def time_at_volume(self, t0: FloatArray, volume_ml: FloatArray) -> FloatArray:
        """Earliest instant >= t0 by which each pump has delivered ``volume_ml`` since t0."""
        target = self.volume_at(t0) + volume_ml
        cycle = self.cycle_ml
        with np.errstate(divide="ignore", invalid="ignore"):
            cycles = np.floor(target / cycle)
        remainder = target - cycles * cycle
        whole = remainder <= 0
        cycles = np.where(whole, cycles - 1, cycles)
        remainder = np.where(whole, cycle, remainder)
        # First segment whose end cumulative reaches the remainder.
        j = (self.cum_ml[:, 1:] < remainder[:, None]).sum(axis=1)
        j = np.minimum(j, self.starts_s.shape[1] - 1)
        rows = np.arange(len(t0))
        rate = self.rates_ml_per_day[rows, j]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (
                self.anchor_s
                + cycles * self.period_s
                + self.starts_s[rows, j]
                + (remainder - self.cum_ml[rows, j]) * DAY / rate
            )
        t = np.maximum(t, t0)
        t = np.where(volume_ml <= 0, t0, t)
        return np.where(cycle > 0, t, np.inf)
