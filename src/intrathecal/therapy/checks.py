"""A program against its device and the library's limits, as findings.

The program parser refuses a program with any hard finding; the program review (``safety``)
shows them all, soft ones included. One implementation serves both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

from intrathecal.library.records import Bounds, DeliveryMode, DeviceKind
from intrathecal.therapy.findings import Finding, Severity
from intrathecal.therapy.program import WEEKDAY_NAMES, Program
from intrathecal.therapy.timeline import DAY_S, daily_volumes_ml
from intrathecal.units import (
    format_concentration,
    format_dose_rate,
    format_duration,
    format_mass,
    format_volume,
    format_volume_rate,
)


def program_findings(program: Program) -> list[Finding]:
    return [*device_findings(program), *mixing_findings(program), *limit_findings(program)]


def device_findings(program: Program) -> list[Finding]:
    device = program.device
    findings = []
    low, high = device.min_rate_ml_per_day, device.max_rate_ml_per_day
    # Periodic flow has no basal flow at all (its zero step is not a rate the pump runs).
    steps = () if program.mode is DeliveryMode.PERIODIC_FLOW else program.basal
    for index, step in enumerate(steps):
        rate = step.rate_ml_per_day
        if rate < low.value:
            findings.append(
                Finding(
                    Severity.HARD,
                    "RATE_BELOW_DEVICE_MIN",
                    f"basal[{index}]",
                    f"rate {format_volume_rate(rate)} is below the device minimum "
                    f"{format_volume_rate(low.value)} ({low.provenance})",
                )
            )
        elif rate > high.value:
            findings.append(
                Finding(
                    Severity.HARD,
                    "RATE_ABOVE_DEVICE_MAX",
                    f"basal[{index}]",
                    f"rate {format_volume_rate(rate)} is above the device maximum "
                    f"{format_volume_rate(high.value)} ({high.provenance})",
                )
            )
    if device.kind is DeviceKind.FIXED_RATE:
        findings.extend(_fixed_rate_findings(program))
    peak_basal = max(s.rate_ml_per_day for s in program.basal)
    bolus_max = device.max_bolus_rate_ml_per_day
    boluses: list[tuple[str, float, int]] = [
        (f"periodic_bolus[{i}]", b.volume_ml, b.duration_s) for i, b in enumerate(program.periodic)
    ]
    if program.demand is not None:
        boluses.append(("demand_bolus", program.demand.volume_ml, program.demand.duration_s))
    for field, volume, duration in boluses:
        rate = volume * DAY_S / duration + peak_basal
        if rate > bolus_max.value:
            findings.append(
                Finding(
                    Severity.HARD,
                    "BOLUS_RATE_ABOVE_DEVICE_MAX",
                    f"{field}.duration",
                    f"{format_volume(volume)} over {format_duration(duration)} on top of the "
                    f"basal runs at {format_volume_rate(rate)}, above the device's bolus maximum "
                    f"{format_volume_rate(bolus_max.value)} ({bolus_max.provenance}); lengthen it",
                    "OPCA-26",
                )
            )
    return findings


def _fixed_rate_findings(program: Program) -> list[Finding]:
    rates = program.device.fixed_rates_ml_per_day
    assert rates is not None  # the library requires them for a fixed-rate pump
    labelled = ", ".join(format_volume_rate(r) for r in rates.value)
    if len(program.basal) != 1:
        return [
            Finding(
                Severity.HARD,
                "FIXED_RATE_MISMATCH",
                "basal",
                f"a fixed-rate pump has one constant rate ({labelled}); give one step",
            )
        ]
    rate = program.basal[0].rate_ml_per_day
    if any(math.isclose(rate, r, rel_tol=1e-9) for r in rates.value):
        return []
    first = program.first
    unit = first.drug.dose_unit.value
    hint = "; ".join(
        f"at {format_volume_rate(r)} it needs "
        f"{format_concentration(rate * first.concentration_mcg_per_ml / r, unit)}"
        for r in rates.value
    )
    return [
        Finding(
            Severity.HARD,
            "FIXED_RATE_MISMATCH",
            "basal[0]",
            f"{format_volume_rate(rate)} is not a labelled rate of this pump ({labelled}); the "
            f"dose of a fixed-rate pump is set by the concentration: {hint}",
        )
    ]


def mixing_findings(program: Program) -> list[Finding]:
    if len(program.ingredients) < 2:
        return []
    findings = []
    for index, ingredient in enumerate(program.ingredients):
        if not ingredient.drug.mixable.value:
            others = ", ".join(i.drug.key for i in program.ingredients if i is not ingredient)
            findings.append(
                Finding(
                    Severity.HARD,
                    "INCOMPATIBLE_MIXTURE",
                    f"drugs[{index}].name",
                    f"{ingredient.drug.name} must not be mixed with other drugs (here: "
                    f"{others}); {ingredient.drug.mixable.provenance}",
                )
            )
    return findings


def max_daily_doses_mcg(program: Program) -> dict[str, float]:
    """Largest daily dose of each drug: the heaviest day of the cycle plus every allowed demand
    bolus taken (worst case)."""
    heaviest = max(daily_volumes_ml(program.basal, program.periodic, program.weekly))
    return program.doses_mcg(heaviest + program.demand_max_volume_ml_per_day())


def _over(
    bounds: Bounds, value: float, code: str, field: str, subject: str, show: Callable[[float], str]
) -> Finding | None:
    """A hard finding over the hard limit, else a soft one over the soft limit, else None."""
    for severity, limit, requirement in (
        (Severity.HARD, bounds.hard_max, "OPCA-14"),
        (Severity.SOFT, bounds.soft_max, "OPCA-15"),
    ):
        if limit is not None and value > limit.value:
            return Finding(
                severity,
                f"{code}_ABOVE_{severity.name}",
                field,
                f"{subject} is above the {severity.value} limit {show(limit.value)} "
                f"({limit.provenance})",
                requirement,
            )
    return None


def _per_bolus(mcg: float, unit: str) -> str:
    return f"{format_mass(mcg, unit)} per bolus"


def limit_findings(program: Program) -> list[Finding]:
    daily = max_daily_doses_mcg(program)
    volumes = daily_volumes_ml(program.basal, program.periodic, program.weekly)
    day_text = f" on {WEEKDAY_NAMES[volumes.index(max(volumes))]}" if program.weekly else ""
    demand_text = " including every allowed demand bolus" if program.demand else ""
    boluses = [(f"periodic_bolus[{i}]", b.volume_ml) for i, b in enumerate(program.periodic)]
    if program.demand is not None:
        boluses.append(("demand_bolus", program.demand.volume_ml))
    found: list[Finding | None] = []
    for index, ingredient in enumerate(program.ingredients):
        drug, unit = ingredient.drug, ingredient.drug.dose_unit.value
        concentration = ingredient.concentration_mcg_per_ml
        found.append(
            _over(
                drug.concentration_mcg_per_ml,
                concentration,
                "CONCENTRATION",
                f"drugs[{index}].concentration",
                f"{format_concentration(concentration, unit)} of {drug.key}",
                partial(format_concentration, mass_unit=unit),
            )
        )
        found.append(
            _over(
                drug.daily_dose_mcg_per_day,
                daily[drug.key],
                "DAILY_DOSE",
                f"drugs[{index}]",
                f"daily dose of {drug.key} up to {format_dose_rate(daily[drug.key], unit)}"
                f"{day_text}{demand_text}",
                partial(format_dose_rate, mass_unit=unit),
            )
        )
        for field, volume in boluses:
            dose = volume * concentration
            found.append(
                _over(
                    drug.bolus_dose_mcg,
                    dose,
                    "BOLUS_DOSE",
                    field,
                    f"one bolus holding {format_mass(dose, unit)} of {drug.key}",
                    partial(_per_bolus, unit=unit),
                )
            )
    return [f for f in found if f is not None]
