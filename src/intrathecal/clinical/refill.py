"""Refill planning: when, how strong, how much.

Plan: the refill-due rule (``safety.refill_due``) for a fill. Inverse: the concentration that
makes a target interval, C = D x interval / (V_fill - V_alarm) with D the worst-case daily dose
(domain-facts.md §6.1). Refill volume: the new fill to prepare for a target interval.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from intrathecal.library.records import DeliveryMode
from intrathecal.safety.refill_due import RefillDue, refill_due
from intrathecal.therapy.checks import program_findings
from intrathecal.therapy.findings import Finding
from intrathecal.therapy.program import Ingredient, Program
from intrathecal.therapy.summary import summarize
from intrathecal.units import (
    SECONDS_PER_DAY,
    InputError,
    format_concentration,
    format_dose_rate,
    format_mass,
    format_volume,
    format_volume_rate,
)

__all__ = [
    "ConcentrationPlan",
    "FillPlan",
    "FixedRatePlan",
    "RefillDue",
    "concentration_for",
    "fill_for",
    "fixed_rate_plan",
    "plan",
]


def plan(
    program: Program,
    filled_ml: float,
    filled_at_s: float,
    margin_s: float = 0.0,
    *,
    naive_pump: bool = False,
) -> RefillDue:
    return refill_due(program, filled_ml, filled_at_s, margin_s, naive_pump=naive_pump)


@dataclass(frozen=True)
class ConcentrationPlan:
    drug: str
    interval_days: float
    fill_ml: float
    usable_ml: float  # fill - low-reservoir alarm volume
    worst_case_daily_dose_mcg: float
    concentration_mcg_per_ml: float
    # Every drug of the admixture scaled by the same factor, so each daily dose stays the same.
    admixture_mcg_per_ml: dict[str, float]
    rate_ml_per_day: float
    reasons: tuple[str, ...]


def concentration_for(program: Program, interval_days: float, fill_ml: float) -> ConcentrationPlan:
    """Concentrations that keep today's doses and last ``interval_days`` on ``fill_ml``."""
    if interval_days <= 0:
        raise InputError("interval", "must be greater than zero")
    _check_fill(program, fill_ml)
    usable = fill_ml - program.low_reservoir_alarm_ml
    if usable <= 0:
        raise InputError(
            "filled",
            f"{format_volume(fill_ml)} is not above the low-reservoir alarm "
            f"{format_volume(program.low_reservoir_alarm_ml)}",
        )
    summary = summarize(program)
    worst_ml = summary.worst_case_volume_ml_per_day
    first = program.first
    dose = worst_ml * first.concentration_mcg_per_ml
    # New volume per day that makes the interval: usable / interval. Each drug's daily mass is
    # kept, so every concentration scales by old volume / new volume.
    new_ml_per_day = usable / interval_days
    factor = worst_ml / new_ml_per_day
    return ConcentrationPlan(
        drug=first.drug.key,
        interval_days=interval_days,
        fill_ml=fill_ml,
        usable_ml=usable,
        worst_case_daily_dose_mcg=dose,
        concentration_mcg_per_ml=first.concentration_mcg_per_ml * factor,
        admixture_mcg_per_ml={
            i.drug.key: i.concentration_mcg_per_ml * factor for i in program.ingredients
        },
        rate_ml_per_day=summary.mean_volume_ml_per_day / factor,
        reasons=(
            f"C = D x interval / (fill - alarm) = worst-case daily dose x {interval_days:g} days "
            f"/ ({format_volume(fill_ml)} - {format_volume(program.low_reservoir_alarm_ml)})",
            "every allowed demand bolus is counted in the daily dose",
            "the answer is reviewed as the program after the refill; round the concentrations "
            "to what the pharmacy can compound and review that program again",
        ),
    )


@dataclass(frozen=True)
class FillPlan:
    interval_days: float
    needed_ml: float  # worst-case volume over the interval + alarm volume
    fill_ml: float  # what to put in (capped at the reservoir, never silently)
    capped: bool
    achievable_days: float  # days the fill actually covers to the alarm
    reasons: tuple[str, ...]


def fill_for(program: Program, interval_days: float) -> FillPlan:
    """The fill volume for a target interval: worst case x interval + the alarm volume."""
    if interval_days <= 0:
        raise InputError("interval", "must be greater than zero")
    worst = summarize(program).worst_case_volume_ml_per_day
    needed = worst * interval_days + program.low_reservoir_alarm_ml
    reservoir = program.device.reservoir_ml.value
    fill = min(needed, reservoir)
    reasons = [
        f"worst-case {worst:.4g} mL/day x {interval_days:g} days + alarm volume "
        f"{format_volume(program.low_reservoir_alarm_ml)} = {format_volume(needed)}"
    ]
    if needed > reservoir:
        reasons.append(
            f"more than the reservoir holds ({format_volume(reservoir)}): fill it full and "
            "refill sooner, or raise the concentration"
        )
    return FillPlan(
        interval_days=interval_days,
        needed_ml=needed,
        fill_ml=fill,
        capped=needed > reservoir,
        achievable_days=(fill - program.low_reservoir_alarm_ml) / worst,
        reasons=tuple(reasons),
    )


@dataclass(frozen=True)
class FixedRatePlan:
    """A constant-flow pump's refill: the dose changes only through the concentration.

    Codman ARCHIMEDES manual, Appendix B: running time = usable volume / flow per 24 h; drug
    amount = daily dose x running time; drug volume = amount / stock concentration; diluent =
    fill - drug volume. ``program`` is the program after the refill, for the review.
    """

    rate_ml_per_day: float
    daily_dose_mcg: float
    concentration_mcg_per_ml: float
    fill_ml: float
    due: RefillDue  # the refill-due rule on the new program (volume, stability, device)
    drug_amount_mcg: float  # in the whole fill
    stock_mcg_per_ml: float | None
    stock_ml: float | None
    diluent_ml: float | None
    program: Program
    findings: tuple[Finding, ...]  # the program review's findings for the new solution
    reasons: tuple[str, ...]


def fixed_rate_plan(
    program: Program,
    daily_dose_mcg: float,
    fill_ml: float,
    filled_at_s: float,
    stock_mcg_per_ml: float | None = None,
) -> FixedRatePlan:
    """Concentration, refill date and recipe that give ``daily_dose_mcg`` of the first drug on
    a fixed-rate pump filled with ``fill_ml`` at ``filled_at_s``."""
    if program.mode is not DeliveryMode.FIXED_RATE:
        raise InputError(
            "program", f"{program.device.name} is not a fixed-rate pump; change its program instead"
        )
    if len(program.ingredients) != 1:
        raise InputError("program", "a fixed-rate plan is for a single drug; plan admixtures apart")
    if not daily_dose_mcg > 0:
        raise InputError("dose", "must be greater than zero")
    if stock_mcg_per_ml is not None and not stock_mcg_per_ml > 0:
        raise InputError("stock", "must be greater than zero")
    _check_fill(program, fill_ml)
    first = program.first
    unit = first.drug.dose_unit.value
    rate = program.basal[0].rate_ml_per_day
    concentration = daily_dose_mcg / rate
    new = dataclasses.replace(program, ingredients=(Ingredient(first.drug, concentration),))
    due = refill_due(new, fill_ml, filled_at_s)
    running_days = (due.refill_due_at_s - filled_at_s) / SECONDS_PER_DAY
    amount = concentration * fill_ml
    reasons = [
        f"the pump runs at its labelled {format_volume_rate(rate)}: concentration = daily dose / "
        f"rate = {format_dose_rate(daily_dose_mcg, unit)} / {format_volume_rate(rate)} = "
        f"{format_concentration(concentration, unit)}",
        *due.reasons,
        f"drug in the fill: {format_concentration(concentration, unit)} x "
        f"{format_volume(fill_ml)} = {format_mass(amount, unit)} "
        f"(lasts {running_days:.1f} days to the refill)",
    ]
    stock_ml = diluent_ml = None
    if stock_mcg_per_ml is not None:
        stock_ml = amount / stock_mcg_per_ml
        if stock_ml > fill_ml:
            raise InputError(
                "stock",
                f"{format_concentration(stock_mcg_per_ml, unit)} is weaker than the "
                f"{format_concentration(concentration, unit)} needed; use a stronger stock",
            )
        diluent_ml = fill_ml - stock_ml
        reasons.append(
            f"stock volume = {format_mass(amount, unit)} / "
            f"{format_concentration(stock_mcg_per_ml, unit)} = {format_volume(stock_ml)}; "
            f"diluent = {format_volume(fill_ml)} - {format_volume(stock_ml)} = "
            f"{format_volume(diluent_ml)}"
        )
    return FixedRatePlan(
        rate_ml_per_day=rate,
        daily_dose_mcg=daily_dose_mcg,
        concentration_mcg_per_ml=concentration,
        fill_ml=fill_ml,
        due=due,
        drug_amount_mcg=amount,
        stock_mcg_per_ml=stock_mcg_per_ml,
        stock_ml=stock_ml,
        diluent_ml=diluent_ml,
        program=new,
        findings=tuple(program_findings(new)),
        reasons=tuple(reasons),
    )


def _check_fill(program: Program, fill_ml: float) -> None:
    reservoir = program.device.reservoir_ml.value
    if not 0 < fill_ml <= reservoir:
        raise InputError(
            "filled",
            f"{format_volume(fill_ml)} must be above 0 mL and at most the reservoir "
            f"{format_volume(reservoir)}",
        )


def days(seconds: float) -> float:
    return seconds / SECONDS_PER_DAY
