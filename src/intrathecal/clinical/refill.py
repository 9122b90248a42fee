"""Refill planning: when, how strong, how much.

Plan: the refill-due rule (``safety.refill_due``) for a fill. Inverse: the concentration that
makes a target interval, C = D x interval / (V_fill - V_alarm) with D the worst-case daily dose
(domain-facts.md §6.1). Refill volume: the new fill to prepare for a target interval.
"""

from __future__ import annotations

from dataclasses import dataclass

from intrathecal.safety.refill_due import RefillDue, refill_due
from intrathecal.therapy.program import Program
from intrathecal.therapy.summary import summarize
from intrathecal.units import SECONDS_PER_DAY, InputError, format_volume

__all__ = ["ConcentrationPlan", "FillPlan", "RefillDue", "concentration_for", "fill_for", "plan"]


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
