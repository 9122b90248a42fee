"""Titration: raise or lower a program's doses, within the limits that hold.

The requested change passes a chain of constraints (AndroidAPS-style), each of which may only
narrow it and records why: the per-step and per-24 h change limits of every drug in the
admixture (hard), and every drug's daily-dose hard limit. Each basal rate is then rounded down
to the device step (the side of less drug) and that is said too. Soft limits are findings that
need an acknowledgement; they do not change the numbers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from intrathecal.safety.change import allowed_increase_mcg_per_day, change_bounds, change_findings
from intrathecal.therapy.checks import program_findings
from intrathecal.therapy.findings import Finding
from intrathecal.therapy.program import BasalStep, Program
from intrathecal.therapy.summary import summarize
from intrathecal.therapy.timeline import daily_volumes_ml
from intrathecal.units import (
    InputError,
    Toward,
    format_dose_rate,
    format_volume_rate,
    round_to_step,
)


@dataclass(frozen=True)
class Titration:
    program: Program
    requested_factor: float
    applied_factor: float
    old_doses_mcg_per_day: dict[str, float]
    new_doses_mcg_per_day: dict[str, float]
    constraints: tuple[str, ...]  # every narrowing and rounding, in order
    findings: tuple[Finding, ...]


def titrate(
    program: Program,
    *,
    by_fraction: float | None = None,
    to_mcg_per_day: float | None = None,
    profile: str | None = None,
    dose_24h_ago_mcg_per_day: dict[str, float] | None = None,
    cap: bool = True,
) -> Titration:
    """Change the first drug's mean daily dose by a fraction or to a dose; the admixture
    follows (same volume). Demand-bolus settings are left as they are.

    With ``cap`` False the request is kept as asked (only rounded to the device step), for the
    review to judge; the capped titration is then the safe alternative to suggest.
    """
    if (by_fraction is None) == (to_mcg_per_day is None):
        raise InputError("by", "give exactly one of --by (a percentage) or --to (a dose)")
    old = summarize(program).doses_mcg_per_day
    first = program.first
    unit = first.drug.dose_unit.value
    if by_fraction is not None:
        if by_fraction <= -1:
            raise InputError(
                "by", "a decrease of 100% or more stops the drug; that is not titration"
            )
        factor = 1 + by_fraction
    else:
        assert to_mcg_per_day is not None
        if to_mcg_per_day <= 0:
            raise InputError("to", "must be greater than zero")
        factor = to_mcg_per_day / old[first.drug.key]
    requested = factor
    constraints: list[str] = [
        f"requested: {first.drug.key} {format_dose_rate(old[first.drug.key], unit)} -> "
        f"{format_dose_rate(old[first.drug.key] * factor, unit)} (x{factor:.4g})"
    ]
    history = dose_24h_ago_mcg_per_day or {}
    if factor > 1 and cap:
        factor = _cap_increase(program, factor, old, history, profile, constraints)
    basal, notes = scaled_basal(program, factor)
    constraints.extend(notes)
    periodic = tuple(
        dataclasses.replace(b, volume_ml=b.volume_ml * factor) for b in program.periodic
    )
    new_program = dataclasses.replace(program, basal=basal, periodic=periodic, notices=())
    new = summarize(new_program).doses_mcg_per_day
    findings = list(program_findings(new_program))
    for index, ingredient in enumerate(program.ingredients):
        key = ingredient.drug.key
        findings.extend(
            change_findings(
                ingredient.drug,
                f"drugs[{index}]",
                old[key],
                new[key],
                dose_24h_ago_mcg_per_day=history.get(key),
                profile=profile if profile in ingredient.drug.change_profiles else None,
            )
        )
    applied = new[first.drug.key] / old[first.drug.key]
    return Titration(
        program=new_program,
        requested_factor=requested,
        applied_factor=applied,
        old_doses_mcg_per_day=old,
        new_doses_mcg_per_day=new,
        constraints=tuple(constraints),
        findings=tuple(findings),
    )


def _cap_increase(
    program: Program,
    factor: float,
    old: dict[str, float],
    history: dict[str, float],
    profile: str | None,
    constraints: list[str],
) -> float:
    """Narrow an increase by every drug's hard change limits and daily-dose hard limit."""
    heaviest = max(daily_volumes_ml(program.basal, program.periodic, program.weekly))
    demand_ml = program.demand_max_volume_ml_per_day()
    for ingredient in program.ingredients:
        drug = ingredient.drug
        unit = drug.dose_unit.value
        dose = old[drug.key]
        bounds = change_bounds(drug, profile if profile in drug.change_profiles else None)
        limits = [
            ("one step", dose, bounds.per_step_hard),
            ("24 h", history.get(drug.key, dose), bounds.per_day_hard),
        ]
        for span, base, limit in limits:
            if limit is None:
                continue
            # Never below 1: a change limit stops an increase, it does not force a decrease.
            ceiling = max(1.0, (base + allowed_increase_mcg_per_day(limit.value, base)) / dose)
            if factor > ceiling:
                factor = ceiling
                constraints.append(
                    f"capped by the {drug.key} hard change limit per {span} "
                    f"({limit.provenance}): at most {format_dose_rate(dose * ceiling, unit)}"
                )
        hard = drug.daily_dose_mcg_per_day.hard_max
        if hard is not None:
            # The heaviest day scaled, plus the unchanged demand boluses, must stay under it.
            ceiling = (hard.value / ingredient.concentration_mcg_per_ml - demand_ml) / heaviest
            if factor > ceiling:
                factor = max(ceiling, 0.0)
                constraints.append(
                    f"capped by the {drug.key} daily-dose hard limit "
                    f"{format_dose_rate(hard.value, unit)} ({hard.provenance})"
                )
    return factor


def scaled_basal(
    program: Program, factor: float, *, divide: bool = False
) -> tuple[tuple[BasalStep, ...], list[str]]:
    """Each basal rate x ``factor`` (/ ``factor`` with ``divide``), rounded down to the device
    step (the side of less drug), with a note for each rounding."""
    step = program.device.rate_step_ml_per_day.value
    basal, notes = [], []
    for index, s in enumerate(program.basal):
        # 12 significant digits first: 0.2 x 0.9 is 0.18000000000000002 in binary, not a
        # rounding worth reporting.
        rate = s.rate_ml_per_day / factor if divide else s.rate_ml_per_day * factor
        rounded = round_to_step(float(f"{rate:.12g}"), step, Toward.DOWN)
        if rounded.changed:
            notes.append(
                f"basal[{index}]: {format_volume_rate(rounded.requested)} rounded down to the "
                f"device step {format_volume_rate(step)}: {format_volume_rate(rounded.value)}"
            )
        basal.append(dataclasses.replace(s, rate_ml_per_day=rounded.value))
    return tuple(basal), notes
