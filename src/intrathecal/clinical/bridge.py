"""Boluses around a refill or an implant: bridge, priming, and time for a drug to reach the tip.

Bridge bolus (design.md): when the drug or its concentration changes, the old solution still
fills the pump pathway and the catheter (pathway + catheter volume). It is pushed at
rate = new daily dose / old concentration, so the patient gets the intended new dose (of old
solution) until the new solution reaches the catheter tip; then the new program starts.

Priming bolus: fills an empty pump pathway and catheter after implant or catheter revision. No
drug reaches the patient until that volume is displaced; at the high priming rate, drug and the
fluid ahead of it mix, so the patient may get drug before the bolus ends and then a period of
lower concentration (overdose, underdose or withdrawal). The exact vendor algorithms are not
public (domain-facts.md §1.2, [U]); these are the stated formulas, not Medtronic's.
"""

from __future__ import annotations

from dataclasses import dataclass

from intrathecal.library.records import Sourced
from intrathecal.therapy.program import Program
from intrathecal.therapy.summary import summarize
from intrathecal.units import (
    InputError,
    format_concentration,
    format_dose_rate,
    format_volume,
)

MIXING_HAZARD = (
    "Priming mixes drug with the fluid ahead of it at the high priming rate: the patient can "
    "receive drug before the bolus ends and then a period of reduced concentration, with risk "
    "of overdose, underdose or withdrawal. Give it under supervision. (Medtronic labelling "
    "update; FDA Class I recall 2013 of the priming bolus function.)"
)


@dataclass(frozen=True)
class DeadSpace:
    pathway_ml: Sourced[float]
    catheter_ml: float

    @property
    def total_ml(self) -> float:
        return self.pathway_ml.value + self.catheter_ml


def dead_space(program: Program) -> DeadSpace:
    return DeadSpace(program.device.pathway_volume_ml, program.catheter_volume_ml)


def time_to_tip_hours(program: Program, rate_ml_per_day: float) -> float:
    """Hours for a new solution entering the pathway to reach the catheter tip at a rate."""
    if rate_ml_per_day <= 0:
        raise InputError("rate", "must be greater than zero")
    return dead_space(program).total_ml / rate_ml_per_day * 24


@dataclass(frozen=True)
class Bridge:
    volume_ml: float
    rate_ml_per_day: float
    duration_hours: float
    old_solution_doses_mcg: dict[str, float]  # what the bridge delivers, drug by drug
    rate_rule: str
    reasons: tuple[str, ...]


def bridge(old: Program, new: Program) -> Bridge:
    if old.device.key != new.device.key:
        raise InputError(
            "NEW", "old and new programs are for different devices; a bridge is for one pump"
        )
    space = dead_space(new)
    old_first, new_first = old.first, new.first
    new_dose = summarize(new).doses_mcg_per_day[new_first.drug.key]
    unit = new_first.drug.dose_unit.value
    reasons = [
        f"volume = pump pathway {format_volume(space.pathway_ml.value)} "
        f"({space.pathway_ml.provenance}) + catheter {format_volume(space.catheter_ml)}"
    ]
    if old_first.drug.key == new_first.drug.key:
        rate = new_dose / old_first.concentration_mcg_per_ml
        rule = "new daily dose / old concentration"
        reasons.append(
            f"rate = new daily dose {format_dose_rate(new_dose, unit)} / old concentration "
            f"{format_concentration(old_first.concentration_mcg_per_ml, unit)}"
        )
    else:
        # A different first drug: keep the old program's own rate so the patient keeps the old
        # dose until the new drug arrives. Stated, not hidden.
        rate = summarize(old).mean_volume_ml_per_day
        rule = "old program's rate (the first drug changes)"
        reasons.append(
            f"the first drug changes ({old_first.drug.key} -> {new_first.drug.key}): the old "
            "solution is pushed at the old program's mean rate so the old dose continues "
            "until the new drug reaches the tip"
        )
    if rate > new.device.max_bolus_rate_ml_per_day.value:
        raise InputError(
            "NEW", "the bridge rate is above the device's bolus maximum; review the programs"
        )
    duration = space.total_ml / rate * 24
    reasons.append(
        f"duration = volume / rate = {format_volume(space.total_ml)} / {rate:.4g} mL/day = "
        f"{duration:.2f} h; then the new program starts"
    )
    return Bridge(
        volume_ml=space.total_ml,
        rate_ml_per_day=rate,
        duration_hours=duration,
        old_solution_doses_mcg=old.doses_mcg(space.total_ml),
        rate_rule=rule,
        reasons=tuple(reasons),
    )


@dataclass(frozen=True)
class Priming:
    volume_ml: float
    rate_ml_per_day: float
    duration_hours: float
    drug_in_priming_volume_mcg: dict[str, float]
    hazard: str
    reasons: tuple[str, ...]


def priming(program: Program, rate_ml_per_day: float | None = None) -> Priming:
    """Priming bolus of an empty pathway and catheter, at ``rate`` or the device maximum."""
    space = dead_space(program)
    maximum = program.device.max_bolus_rate_ml_per_day
    rate = maximum.value if rate_ml_per_day is None else rate_ml_per_day
    if rate <= 0:
        raise InputError("rate", "must be greater than zero")
    # A rate above the device's bolus maximum is not refused here: the answer review reports it
    # as a hard finding with the maximum as a suggestion (clinical.answer_review).
    duration = space.total_ml / rate * 24
    return Priming(
        volume_ml=space.total_ml,
        rate_ml_per_day=rate,
        duration_hours=duration,
        drug_in_priming_volume_mcg=program.doses_mcg(space.total_ml),
        hazard=MIXING_HAZARD,
        reasons=(
            f"volume = pump pathway {format_volume(space.pathway_ml.value)} "
            f"({space.pathway_ml.provenance}) + catheter {format_volume(space.catheter_ml)}",
            "no drug reaches the patient until this volume is displaced (ideally); mixing "
            "makes the real onset earlier and the concentration lower for a while",
            f"rate {rate:g} mL/day ({'device maximum' if rate_ml_per_day is None else 'given'})"
            f"; duration = volume / rate = {duration:.2f} h",
        ),
    )
