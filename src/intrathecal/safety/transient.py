"""The transient after a concentration or drug change made without a bridge bolus.

The old solution still fills the pump pathway and the catheter (pathway + catheter volume). The
new program pushes it at the new rate, so for (pathway + catheter) / new rate the patient gets
old concentration x new rate: the transient. It goes through the same daily-dose and
dose-change limits as any program; a bridge bolus (design.md) avoids it.
"""

from __future__ import annotations

from dataclasses import dataclass

from intrathecal.therapy.findings import Finding, Severity
from intrathecal.therapy.program import Program
from intrathecal.therapy.summary import summarize
from intrathecal.units import (
    format_concentration,
    format_dose_rate,
    format_volume,
    format_volume_rate,
)


@dataclass(frozen=True)
class Transient:
    volume_ml: float  # pathway + catheter
    rate_ml_per_day: float  # new mean rate
    duration_h: float
    # Old drug -> (mean, worst-case) daily dose of the old solution at the new rate.
    doses_mcg_per_day: dict[str, tuple[float, float]]


def transient(old: Program, new: Program) -> Transient | None:
    """None when nothing changes in the pump's solution, or the pump itself was replaced."""
    if old.device.key != new.device.key:
        return None
    old_solution = {i.drug.key: i.concentration_mcg_per_ml for i in old.ingredients}
    new_solution = {i.drug.key: i.concentration_mcg_per_ml for i in new.ingredients}
    if old_solution == new_solution:
        return None
    summary = summarize(new)
    rate, worst = summary.mean_volume_ml_per_day, summary.worst_case_volume_ml_per_day
    volume = new.device.pathway_volume_ml.value + new.catheter_volume_ml
    return Transient(
        volume_ml=volume,
        rate_ml_per_day=rate,
        duration_h=volume / rate * 24,
        doses_mcg_per_day={key: (c * rate, c * worst) for key, c in old_solution.items()},
    )


def transient_text(old: Program, new: Program, t: Transient) -> str:
    """The numbers of the transient, drug by drug, for a finding's message."""
    parts = []
    for ingredient in old.ingredients:
        key, unit = ingredient.drug.key, ingredient.drug.dose_unit.value
        mean, _ = t.doses_mcg_per_day[key]
        parts.append(
            f"{key} {format_dose_rate(mean, unit)} (old "
            f"{format_concentration(ingredient.concentration_mcg_per_ml, unit)})"
        )
    old_keys = {i.drug.key for i in old.ingredients}
    late = [i.drug.key for i in new.ingredients if i.drug.key not in old_keys]
    arrival = f"; {', '.join(late)} reaches the patient only after that" if late else ""
    return (
        f"the old solution in the pump pathway and catheter ({format_volume(t.volume_ml)}) is "
        f"delivered at the new rate {format_volume_rate(t.rate_ml_per_day)} for "
        f"{t.duration_h:.1f} h: {', '.join(parts)}{arrival}"
    )


def without_bridge_finding(
    old: Program, new: Program, t: Transient, limits_broken: bool, bridgeable: bool = True
) -> Finding | None:
    """The soft finding for an unbridged change: always for a drug switch (a drug removed and
    another added: the new one is late), otherwise only when the transient breaks no limit."""
    old_keys = {i.drug.key for i in old.ingredients}
    new_keys = {i.drug.key for i in new.ingredients}
    text = transient_text(old, new, t)
    advice = (
        "; plan a bridge bolus (itp bridge) or acknowledge"
        if bridgeable
        else "; this pump cannot give a bridge bolus: acknowledge the delay"
    )
    if old_keys - new_keys and new_keys - old_keys:
        return Finding(
            Severity.SOFT, "DRUG_SWITCH_WITHOUT_BRIDGE", "drugs", f"drug switch: {text}{advice}"
        )
    if limits_broken:
        return None
    return Finding(
        Severity.SOFT,
        "CONCENTRATION_CHANGE_WITHOUT_BRIDGE",
        "drugs",
        f"concentration change: {text}{advice}",
    )
