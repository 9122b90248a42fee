"""A population of pumps over years: alarms, refills and battery replacements (question 4).

Each pump: a daily pattern (one of ``templates``, each averaging 1 mL/day) scaled by a mean rate
drawn log-uniform in [rate_min, rate_max]; filled full at each visit. The next visit is the
refill plan's due date (the least of the time to the low-reservoir alarm at the programmed rate,
the drug's stability and the device's limit) with the margin taken off, plus a lateness drawn
from the clinic's distribution, and at least one day after the fill. Over each fill the pump
delivers (1 + e) times the programmed volume, e uniform within the device accuracy. The
low-reservoir alarm (or empty) counts when it comes before the visit and inside the horizon.
The battery: replaced at its elective replacement indicator (ERI), which comes every
service life - (ERI to EOS) days; each pump's battery age at the start is uniform over that.
Demand boluses are not modelled in the fleet (the per-patient risk does).

Vectorised over chunks of pumps with ``engine.fleet.Fleet`` (exact between events); a per-pump
loop of the same model (``simulate_loop``) is the benchmark baseline and the test oracle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from intrathecal.engine.fleet import Fleet
from intrathecal.engine.profile import DAY, RateProfile
from intrathecal.sim.lateness import Lateness
from intrathecal.sim.population import Population
from intrathecal.sim.streams import FloatArray, Kind, uniforms

YEAR_DAYS = 365.25

# Daily patterns, each 1 mL/day on average: flat, and day/night (1.5x 08:00-20:00, 0.5x else).
FLAT = RateProfile(86400, 0, (0,), (1.0,))
DAY_NIGHT = RateProfile(86400, 0, (0, 8 * 3600, 20 * 3600), (0.5, 1.5, 0.5))
TEMPLATES = (FLAT, DAY_NIGHT)


@dataclass(frozen=True)
class FleetSpec:
    pumps: int
    years: float
    seed: int
    reservoir_ml: float
    alarm_ml: float
    dead_ml: float
    accuracy: float
    stability_days: float
    device_limit_days: float | None
    service_life_days: float
    eri_to_eos_days: float
    margin_days: float
    lateness: Lateness
    rate_min_ml_per_day: float = 0.1
    rate_max_ml_per_day: float = 1.0
    templates: tuple[RateProfile, ...] = TEMPLATES
    # An exported population (one row a pump) instead of drawn rates, patterns and ages.
    population: Population | None = None

    @property
    def horizon_s(self) -> float:
        return self.years * YEAR_DAYS * DAY

    @property
    def battery_period_days(self) -> float:
        return self.service_life_days - self.eri_to_eos_days


@dataclass(frozen=True)
class FleetCounts:
    """Integer totals over some pumps (integers add up exactly in any order)."""

    pumps: int
    low_reservoir: int
    empty: int
    eri: int
    refills: int

    def __add__(self, other: FleetCounts) -> FleetCounts:
        return FleetCounts(
            self.pumps + other.pumps,
            self.low_reservoir + other.low_reservoir,
            self.empty + other.empty,
            self.eri + other.eri,
            self.refills + other.refills,
        )


ZERO = FleetCounts(0, 0, 0, 0, 0)


def _draws(
    spec: FleetSpec, start: int, count: int
) -> tuple[FloatArray, npt.NDArray[np.intp], FloatArray]:
    """Each pump's mean rate (mL/day), template and battery age (days): one draw each."""
    age = uniforms(spec.seed, Kind.BATTERY_AGE, start, count) * spec.battery_period_days
    known = spec.population
    if known is not None:
        end = start + count
        given = known.battery_age_days[start:end]
        return (
            known.rates_ml_per_day[start:end],
            known.templates[start:end],
            np.where(np.isnan(given), age, given),
        )
    low, high = math.log(spec.rate_min_ml_per_day), math.log(spec.rate_max_ml_per_day)
    rate = np.exp(low + (high - low) * uniforms(spec.seed, Kind.RATE, start, count))
    pick = uniforms(spec.seed, Kind.TEMPLATE, start, count) * len(spec.templates)
    template = np.minimum(pick.astype(np.intp), len(spec.templates) - 1)
    return rate, template, age


def _eri_count(spec: FleetSpec, age_days: FloatArray) -> int:
    """ERIs inside the horizon: at period - age, then every period."""
    period = spec.battery_period_days
    first = period - age_days
    horizon = spec.years * YEAR_DAYS
    inside = first < horizon
    count = np.where(inside, np.floor((horizon - first) / period) + 1, 0)
    return int(count.sum())


def _cycle_draws(spec: FleetSpec, start: int, count: int, cycle: int) -> tuple[FloatArray, ...]:
    lane = (cycle, 0)
    error = 1.0 + spec.accuracy * (
        2.0 * uniforms(spec.seed, Kind.DELIVERY_ERROR, start, count, lane) - 1.0
    )
    late = spec.lateness.sample(uniforms(spec.seed, Kind.LATENESS, start, count, lane))
    return error, late


def simulate(spec: FleetSpec, start: int, count: int) -> FleetCounts:
    """Pumps ``start .. start + count - 1`` of the population, vectorised."""
    rate, template, age = _draws(spec, start, count)
    fleet = Fleet.of([spec.templates[k] for k in template])
    usable = (spec.reservoir_ml - spec.alarm_ml) / rate
    empty = (spec.reservoir_ml - spec.dead_ml) / rate
    fixed = min(spec.stability_days, spec.device_limit_days or math.inf) * DAY
    horizon = spec.horizon_s
    t = np.zeros(count)
    low_n = empty_n = refills = 0
    cycle = 0
    active = np.ones(count, dtype=bool)
    while active.any():
        error, late = _cycle_draws(spec, start, count, cycle)
        limit = np.minimum(fleet.time_at_volume(t, usable), t + fixed)
        due = np.maximum(t, limit - spec.margin_days * DAY)
        visit = np.maximum(due + late * DAY, t + DAY)
        alarm_at = fleet.time_at_volume(t, usable / error)
        empty_at = fleet.time_at_volume(t, empty / error)
        low_n += int((active & (alarm_at < visit) & (alarm_at < horizon)).sum())
        empty_n += int((active & (empty_at < visit) & (empty_at < horizon)).sum())
        refills += int((active & (visit < horizon)).sum())
        t = np.where(active, visit, t)
        active &= t < horizon
        cycle += 1
    return FleetCounts(count, low_n, empty_n, _eri_count(spec, age), refills)


def simulate_loop(spec: FleetSpec, start: int, count: int) -> FleetCounts:
    """The same model one pump at a time with the scalar engine (baseline and oracle)."""
    rate, template, age = _draws(spec, start, count)
    fixed = min(spec.stability_days, spec.device_limit_days or math.inf) * DAY
    horizon = spec.horizon_s
    low_n = empty_n = refills = 0
    for i in range(count):
        profile = spec.templates[int(template[i])]
        usable = (spec.reservoir_ml - spec.alarm_ml) / rate[i]
        empty = (spec.reservoir_ml - spec.dead_ml) / rate[i]
        t, cycle = 0.0, 0
        while t < horizon:
            error, late = _cycle_draws(spec, start + i, 1, cycle)
            limit = min(profile.time_at_volume(t, usable), t + fixed)
            due = max(t, limit - spec.margin_days * DAY)
            visit = max(float(due + late[0] * DAY), t + DAY)
            alarm_at = profile.time_at_volume(t, usable / error[0])
            empty_at = profile.time_at_volume(t, empty / error[0])
            low_n += int(alarm_at < visit and alarm_at < horizon)
            empty_n += int(empty_at < visit and empty_at < horizon)
            refills += int(visit < horizon)
            t, cycle = visit, cycle + 1
    return FleetCounts(count, low_n, empty_n, _eri_count(spec, age), refills)


@dataclass(frozen=True)
class Rate:
    """Events per 1,000 pump-years with a 95 % interval."""

    events: int
    per_1000: float
    low: float
    high: float


def poisson_rate(events: int, pump_years: float, z: float = 1.959964) -> Rate:
    """Byar's approximation to the exact Poisson interval (Breslow & Day 1987, vol. II, p. 69),
    scaled to 1,000 pump-years."""
    k = events
    lower = 0.0 if k == 0 else k * (1 - 1 / (9 * k) - z / (3 * math.sqrt(k))) ** 3
    k1 = k + 1
    upper = k1 * (1 - 1 / (9 * k1) + z / (3 * math.sqrt(k1))) ** 3
    scale = 1000.0 / pump_years
    return Rate(k, k * scale, lower * scale, upper * scale)


def answer(spec: FleetSpec, counts: FleetCounts) -> dict[str, object]:
    """The fleet's answer as JSON: events per 1,000 pump-years by kind, refills and battery
    replacements per pump-year, each with its 95 % interval."""
    pump_years = spec.pumps * spec.years
    kinds = {
        "low_reservoir_alarm": counts.low_reservoir,
        "empty_reservoir": counts.empty,
        "battery_eri": counts.eri,
    }
    rates = {}
    for name, events in kinds.items():
        r = poisson_rate(events, pump_years)
        rates[name] = {"events": events, "rate": r.per_1000, "interval": [r.low, r.high]}
    refills = poisson_rate(counts.refills, pump_years)
    return {
        "pumps": spec.pumps,
        "years": spec.years,
        "pump_years": pump_years,
        "seed": spec.seed,
        "margin_days": spec.margin_days,
        "lateness": spec.lateness.source,
        "per_1000_pump_years": rates,
        "refills_per_pump_year": {
            "events": counts.refills,
            "rate": refills.per_1000 / 1000,
            "interval": [refills.low / 1000, refills.high / 1000],
        },
        "battery_replacements_per_pump_year": {
            "events": counts.eri,
            "rate": rates["battery_eri"]["rate"] / 1000,  # type: ignore[operator]
        },
    }
