"""What a program delivers per day, per drug: the numbers a clinician reads before accepting it."""

from __future__ import annotations

from dataclasses import dataclass

from intrathecal.library.parse import DEVICE_FIELDS
from intrathecal.library.records import Sourced
from intrathecal.therapy.program import WEEKDAY_NAMES, Program
from intrathecal.therapy.timeline import daily_volumes_ml


@dataclass(frozen=True)
class DailySummary:
    # Volume of each day of the cycle: one entry ("every day") or Monday..Sunday.
    volume_ml_by_day: dict[str, float]
    mean_volume_ml_per_day: float
    doses_mcg_per_day: dict[str, float]  # mean over the cycle, without demand boluses
    demand_max_volume_ml_per_day: float
    worst_case_volume_ml_per_day: float  # heaviest day + every allowed demand bolus
    worst_case_doses_mcg_per_day: dict[str, float]


def summarize(program: Program) -> DailySummary:
    volumes = daily_volumes_ml(program.basal, program.periodic, program.weekly)
    names = list(WEEKDAY_NAMES) if program.weekly else ["every day"]
    mean = sum(volumes) / len(volumes)
    demand = program.demand_max_volume_ml_per_day()
    worst = max(volumes) + demand
    return DailySummary(
        volume_ml_by_day=dict(zip(names, volumes, strict=True)),
        mean_volume_ml_per_day=mean,
        doses_mcg_per_day=program.doses_mcg(mean),
        demand_max_volume_ml_per_day=demand,
        worst_case_volume_ml_per_day=worst,
        worst_case_doses_mcg_per_day=program.doses_mcg(worst),
    )


def device_values(program: Program) -> dict[str, Sourced[object]]:
    """The device constants in force for this program, by TOML key, overrides included."""
    values: dict[str, Sourced[object]] = {}
    for toml_key, (attribute, _, _, _) in DEVICE_FIELDS.items():
        value = getattr(program.device, attribute)
        if isinstance(value, Sourced):
            values[toml_key] = value
    return values


def device_value_text(toml_key: str, value: Sourced[object]) -> str:
    """A device constant with its unit, e.g. '0.048 mL/day', '14.5%', '13 steps'."""
    unit = DEVICE_FIELDS[toml_key][3]
    raw = value.value
    items = raw if isinstance(raw, tuple) else (raw,)
    if unit == "%":
        return ", ".join(f"{float(v) * 100:g}%" for v in items)
    if unit == "modes":
        return ", ".join(getattr(v, "value", str(v)) for v in items)
    return ", ".join(f"{v:g} {unit}" for v in items)
