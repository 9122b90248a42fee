"""When a pump must be refilled (design.md, "Refill due date").

Refill due = fill time + the least of: time to the low-reservoir alarm assuming every allowed
demand bolus is taken; the shortest reservoir stability of any drug in the admixture; the
device's own limit. A scheduling margin is taken off. The answer names what limited it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from intrathecal.engine.delivery import build_delivery
from intrathecal.library.records import Drug
from intrathecal.therapy.program import Ingredient, Program
from intrathecal.therapy.summary import summarize
from intrathecal.units import SECONDS_PER_DAY, InputError, format_volume


class LimitedBy(Enum):
    VOLUME = "volume"
    STABILITY = "stability"
    DEVICE = "device"


@dataclass(frozen=True)
class RefillDue:
    filled_at_s: float
    filled_ml: float
    low_reservoir_alarm_at_s: float
    empty_at_s: float
    stability_until_s: float
    stability_drug: str
    device_until_s: float | None
    refill_due_at_s: float
    limited_by: LimitedBy
    margin_s: float
    worst_case_volume_ml_per_day: float
    reasons: tuple[str, ...]


def refill_due(
    program: Program,
    filled_ml: float,
    filled_at_s: float,
    margin_s: float = 0.0,
    *,
    naive_pump: bool = False,
) -> RefillDue:
    """The refill due time of ``program`` filled with ``filled_ml`` at ``filled_at_s``.

    ``naive_pump``: the first fill of a new pump, where some drugs (ziconotide) have a shorter
    first interval.
    """
    reservoir = program.device.reservoir_ml.value
    if filled_ml <= 0:
        raise InputError("filled", f"must be greater than zero, got {format_volume(filled_ml)}")
    if filled_ml > reservoir:
        raise InputError(
            "filled",
            f"{format_volume(filled_ml)} is more than the reservoir holds "
            f"({format_volume(reservoir)}, {program.device.name})",
        )
    if margin_s < 0:
        raise InputError("margin", "must not be negative")
    delivery, _ = build_delivery(program, worst_case_from_s=filled_at_s)
    alarm_volume = filled_ml - program.low_reservoir_alarm_ml
    alarm_at = delivery.time_at_volume(filled_at_s, max(alarm_volume, 0.0))
    dead = program.device.non_retrievable_ml
    empty_at = delivery.time_at_volume(filled_at_s, filled_ml - (dead.value if dead else 0.0))
    stability_days, stability_drug = min(
        (_stability_days(i.drug, naive_pump, _alone(program, i)), i.drug.key)
        for i in program.ingredients
    )
    stability_until = filled_at_s + stability_days * SECONDS_PER_DAY
    device_limit = program.device.max_refill_interval_days
    device_until = (
        filled_at_s + device_limit.value * SECONDS_PER_DAY if device_limit is not None else None
    )
    candidates = [(alarm_at, LimitedBy.VOLUME), (stability_until, LimitedBy.STABILITY)]
    if device_until is not None:
        candidates.append((device_until, LimitedBy.DEVICE))
    limit_at, limited_by = min(candidates, key=lambda c: c[0])
    reasons = [
        f"low-reservoir alarm at {format_volume(program.low_reservoir_alarm_ml)} with every "
        "allowed demand bolus taken",
        f"{stability_drug} is stable in the reservoir for {stability_days:g} days",
    ]
    if device_until is not None and device_limit is not None:
        reasons.append(f"the device allows at most {device_limit.value:g} days between refills")
    if alarm_volume <= 0:
        reasons.append("the fill is at or below the low-reservoir alarm volume: alarm at once")
    if margin_s:
        reasons.append(f"a margin of {margin_s / SECONDS_PER_DAY:g} days is taken off")
    due = max(filled_at_s, limit_at - margin_s)
    # As the refill plan counts it: the mean day plus max_per_24h demand boluses.
    worst_daily = summarize(program).mean_volume_ml_per_day + program.demand_max_volume_ml_per_day()
    demand = program.demand
    if demand is not None and demand.max_per_24h * demand.lockout_s > SECONDS_PER_DAY:
        reachable = -(-SECONDS_PER_DAY // demand.lockout_s)
        reasons.append(
            f"with a {demand.lockout_s / 3600:g} h lockout at most {reachable} demand boluses "
            f"fit in 24 h, not {demand.max_per_24h}; the alarm time counts the {reachable}"
        )
    return RefillDue(
        filled_at_s=filled_at_s,
        filled_ml=filled_ml,
        low_reservoir_alarm_at_s=alarm_at,
        empty_at_s=empty_at,
        stability_until_s=stability_until,
        stability_drug=stability_drug,
        device_until_s=device_until,
        refill_due_at_s=due,
        limited_by=limited_by,
        margin_s=margin_s,
        worst_case_volume_ml_per_day=worst_daily,
        reasons=tuple(reasons),
    )


def _alone(program: Program, ingredient: Ingredient) -> float | None:
    """The concentration of a drug filled alone; None in an admixture (always diluted)."""
    return ingredient.concentration_mcg_per_ml if len(program.ingredients) == 1 else None


def _stability_days(drug: Drug, naive_pump: bool, alone_mcg_per_ml: float | None) -> float:
    # Undiluted ziconotide (the 25 mcg/mL vial) keeps 84 days, diluted 40 (library).
    stability = drug.stability_at(alone_mcg_per_ml) if alone_mcg_per_ml else drug.stability_days
    if naive_pump and drug.first_fill_stability_days is not None:
        return min(stability.value, drug.first_fill_stability_days.value)
    return stability.value
