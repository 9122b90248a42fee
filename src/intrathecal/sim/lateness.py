"""When refill visits really happen: the visit day minus the due day, as a distribution.

From the clinic's records (each refill against the due date of the refill before it), or the
stated default below when the records hold too few. The default is an ASSUMPTION of this
project (not from a source): most visits on the day, some a day early or a few days late, and
one in twenty a week late (a missed visit rebooked).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from intrathecal.sim.streams import FloatArray

MIN_RECORDED = 20  # fewer recorded visits than this: the default is used, and said so


@dataclass(frozen=True)
class Lateness:
    """Days late (negative: early) with their probabilities, and where they come from."""

    days: tuple[float, ...]
    weights: tuple[float, ...]
    source: str

    def __post_init__(self) -> None:
        if not self.days or len(self.days) != len(self.weights):
            raise ValueError("one weight per lateness value, at least one value")
        if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
            raise ValueError("weights must be non-negative and not all zero")

    def sample(self, u: FloatArray) -> FloatArray:
        """Days late for each uniform draw in [0, 1) (inverse of the cumulative weights)."""
        cum = np.cumsum(np.asarray(self.weights, dtype=np.float64))
        cum /= cum[-1]
        index = np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)
        values: FloatArray = np.asarray(self.days, dtype=np.float64)[index]
        return values

    @property
    def mean_days(self) -> float:
        total = sum(self.weights)
        return sum(d * w for d, w in zip(self.days, self.weights, strict=True)) / total


DEFAULT = Lateness(
    days=(-1.0, 0.0, 1.0, 2.0, 3.0, 7.0),
    weights=(0.10, 0.55, 0.15, 0.10, 0.05, 0.05),
    source="default (ASSUMED, unverified): 10% a day early, 55% on the day, 15% 1 day late, "
    "10% 2 days, 5% 3 days, 5% a week late",
)

ON_TIME = Lateness(days=(0.0,), weights=(1.0,), source="every visit on its due day")


def from_records(days_late: Sequence[float]) -> Lateness:
    """The recorded distribution (each visit equally weighted), or the default if too few."""
    if len(days_late) < MIN_RECORDED:
        return DEFAULT
    values = tuple(sorted(float(d) for d in days_late))
    return Lateness(
        values,
        (1.0,) * len(values),
        f"the clinic's records: {len(values)} refills against their due dates",
    )
