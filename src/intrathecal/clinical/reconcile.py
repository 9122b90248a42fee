"""Refill reconciliation: what should be left in the pump against what was withdrawn.

Expected residual = fill - delivered since the fill (basal, periodic boluses and the demand
boluses the pump logged). Investigate when |expected - withdrawn| exceeds the device accuracy x
the volume delivered, or 1 mL on a 20 mL pump / 2 mL on a 40 mL pump (Maino et al. 2017; ASRA
2017: "outside device accuracy specifications or greater than 2 mL"). Pocket fill and pump
failure are the hazards behind it.
"""

from __future__ import annotations

from dataclasses import dataclass

from intrathecal.engine.delivery import build_delivery
from intrathecal.therapy.program import Program
from intrathecal.units import InputError, format_volume

SMALL_RESERVOIR_THRESHOLD_ML = 1.0  # > 1 mL on a 20 mL pump (Maino 2017)
LARGE_RESERVOIR_THRESHOLD_ML = 2.0  # > 2 mL on a 40 mL pump (Maino 2017; ASRA 2017)

LESS_CAUSES = (
    "over-infusion (pump delivering faster than programmed)",
    "part of the last fill went into the pocket or subcutaneous tissue (pocket fill)",
    "a leak in the pump, catheter or connector",
    "aspiration error: the reservoir was not fully emptied",
    "more demand boluses than recorded",
)
MORE_CAUSES = (
    "under-infusion or pump failure (motor stall)",
    "catheter occlusion, kink or granuloma at the tip",
    "the last fill was larger than recorded, or a bolus recorded was not delivered",
    "aspiration error: fluid from outside the reservoir was withdrawn",
)
LESS_ACTIONS = (
    "do not refill until the needle position in the reservoir is confirmed (template, needle "
    "stop); if a pocket fill is suspected, follow the emergency procedure and observe for "
    "overdose",
    "interrogate the pump for alarms and its log; compare with the bolus history",
    "consider a dye study or catheter access port aspiration to check the system",
)
MORE_ACTIONS = (
    "assess the patient for withdrawal and loss of effect",
    "interrogate the pump for motor stall and other alarms; check the rotor study or imaging",
    "investigate the catheter (access port aspiration, myelogram) before increasing doses",
)


@dataclass(frozen=True)
class Reconciliation:
    filled_ml: float
    delivered_ml: float
    expected_ml: float
    withdrawn_ml: float
    discrepancy_ml: float  # withdrawn - expected: negative = less came back than expected
    accuracy_threshold_ml: float
    reservoir_threshold_ml: float
    investigate: bool
    reasons: tuple[str, ...]
    possible_causes: tuple[str, ...]
    actions: tuple[str, ...]


def reconcile(
    program: Program,
    filled_ml: float,
    filled_at_s: float,
    withdrawn_ml: float,
    withdrawn_at_s: float,
    demand_boluses: int = 0,
) -> Reconciliation:
    reservoir = program.device.reservoir_ml.value
    if not 0 < filled_ml <= reservoir:
        raise InputError(
            "filled",
            f"{format_volume(filled_ml)} must be above 0 mL and at most the reservoir "
            f"{format_volume(reservoir)}",
        )
    if withdrawn_ml < 0:
        raise InputError("withdrawn", f"must not be negative, got {format_volume(withdrawn_ml)}")
    if withdrawn_ml > reservoir:
        raise InputError(
            "withdrawn",
            f"{format_volume(withdrawn_ml)} is more than the reservoir holds "
            f"({format_volume(reservoir)})",
        )
    if withdrawn_at_s < filled_at_s:
        raise InputError("withdrawn-at", "is before the fill time")
    if demand_boluses < 0:
        raise InputError("boluses", "must not be negative")
    if demand_boluses and program.demand is None:
        raise InputError("boluses", "this program has no demand bolus")
    delivery, _ = build_delivery(program)
    delivered = delivery.volume_between(filled_at_s, withdrawn_at_s)
    if program.demand is not None:
        delivered += demand_boluses * program.demand.volume_ml
    expected = filled_ml - delivered
    discrepancy = withdrawn_ml - expected
    accuracy = program.device.accuracy_fraction
    accuracy_threshold = accuracy.value * delivered
    reservoir_threshold = (
        SMALL_RESERVOIR_THRESHOLD_ML if reservoir <= 20 else LARGE_RESERVOIR_THRESHOLD_ML
    )
    reasons = []
    size = abs(discrepancy)
    if size > accuracy_threshold:
        reasons.append(
            f"discrepancy {format_volume(size)} exceeds the device accuracy "
            f"{accuracy.value * 100:g}% x {format_volume(delivered)} delivered = "
            f"{format_volume(accuracy_threshold)} ({accuracy.provenance})"
        )
    if size > reservoir_threshold:
        reasons.append(
            f"discrepancy {format_volume(size)} exceeds {format_volume(reservoir_threshold)} on a "
            f"{format_volume(reservoir)} reservoir (Maino et al., Neuromodulation 2017)"
        )
    if expected < 0:
        reasons.append(
            "the program should have emptied the pump before this refill: check the fill "
            "record and the patient"
        )
    investigate = bool(reasons)
    if not investigate:
        reasons.append(
            f"discrepancy {format_volume(size)} is within the device accuracy "
            f"({format_volume(accuracy_threshold)}) and {format_volume(reservoir_threshold)}"
        )
    less = discrepancy < 0
    return Reconciliation(
        filled_ml=filled_ml,
        delivered_ml=delivered,
        expected_ml=expected,
        withdrawn_ml=withdrawn_ml,
        discrepancy_ml=discrepancy,
        accuracy_threshold_ml=accuracy_threshold,
        reservoir_threshold_ml=reservoir_threshold,
        investigate=investigate,
        reasons=tuple(reasons),
        possible_causes=(LESS_CAUSES if less else MORE_CAUSES) if investigate else (),
        actions=(LESS_ACTIONS if less else MORE_ACTIONS) if investigate else (),
    )
