"""Prescriptions (admixtures) and infusion programs, as validated records.

Times of day are pump time (UTC), in whole seconds after midnight. Weekdays are 0 = Monday to
6 = Sunday. Volumes are mL, rates mL/day, doses mcg; the unit is in every name.
"""

from __future__ import annotations

from dataclasses import dataclass

from intrathecal.library.records import DeliveryMode, Device, Drug

ALL_DAYS: frozenset[int] = frozenset(range(7))
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Ingredient:
    drug: Drug
    concentration_mcg_per_ml: float


@dataclass(frozen=True)
class BasalStep:
    """A basal rate from ``start_s`` until the next step's start (wrapping past midnight)."""

    start_s: int
    days: frozenset[int]
    rate_ml_per_day: float


@dataclass(frozen=True)
class PeriodicBolus:
    """A bolus that repeats at ``start_s`` on ``days``, spread evenly over ``duration_s``."""

    start_s: int
    days: frozenset[int]
    volume_ml: float
    duration_s: int


@dataclass(frozen=True)
class DemandBolus:
    """Patient-activated bolus. Lockout is measured start to start; at most ``max_per_24h``
    boluses may start in any rolling 24 hours."""

    volume_ml: float
    duration_s: int
    lockout_s: int
    max_per_24h: int


@dataclass(frozen=True)
class Notice:
    """Something the program's reader must see: a rounding, a default taken, an override used."""

    field: str
    message: str


@dataclass(frozen=True)
class Program:
    name: str
    device: Device
    ingredients: tuple[Ingredient, ...]
    basal: tuple[BasalStep, ...]
    periodic: tuple[PeriodicBolus, ...]
    demand: DemandBolus | None
    low_reservoir_alarm_ml: float
    catheter_volume_ml: float
    notices: tuple[Notice, ...]
    # TOML keys of the device constants this program overrides (shown wherever used).
    overridden: frozenset[str]
    # How the device is told to deliver (library.records.DeliveryMode). In periodic flow the
    # basal is one zero-rate step: the doses are the periodic boluses, with no flow between.
    mode: DeliveryMode

    @property
    def first(self) -> Ingredient:
        return self.ingredients[0]

    @property
    def solution(self) -> tuple[tuple[str, float], ...]:
        """What is in the reservoir: each drug with its concentration, in admixture order."""
        return tuple((i.drug.key, i.concentration_mcg_per_ml) for i in self.ingredients)

    @property
    def weekly(self) -> bool:
        """True when any step or bolus is limited to some weekdays: the cycle is then a week."""
        return any(s.days != ALL_DAYS for s in self.basal) or any(
            b.days != ALL_DAYS for b in self.periodic
        )

    def doses_mcg(self, volume_ml: float) -> dict[str, float]:
        """Mass of each drug in ``volume_ml`` of the admixture (mass balance)."""
        return {i.drug.key: volume_ml * i.concentration_mcg_per_ml for i in self.ingredients}

    def demand_max_volume_ml_per_day(self) -> float:
        """Worst case: every allowed demand bolus of a day taken."""
        if self.demand is None:
            return 0.0
        return self.demand.max_per_24h * self.demand.volume_ml
