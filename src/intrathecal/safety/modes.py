"""Review findings about how a program delivers: a change of mode, periodic flow's pauses, and
a constant-flow pump whose dose can change only with the solution at a refill."""

from __future__ import annotations

from intrathecal.engine.shape import delivery_shape
from intrathecal.library.records import DeliveryMode
from intrathecal.therapy.findings import Finding, Severity
from intrathecal.therapy.modes import mode_label
from intrathecal.therapy.program import Program
from intrathecal.therapy.summary import summarize
from intrathecal.units import format_volume_rate


def mode_findings(new: Program, old: Program | None, refill_given: bool) -> list[Finding]:
    findings: list[Finding] = []
    device = new.device
    shape = delivery_shape(new)
    # One rate against timed steps shows in the basal rows; a change to or from periodic flow
    # (doses with nothing between) changes what the patient meets, so it is stated.
    periodic = DeliveryMode.PERIODIC_FLOW
    if old is not None and old.mode is not new.mode and periodic in (old.mode, new.mode):
        before = delivery_shape(old)
        findings.append(
            Finding(
                Severity.INFO,
                "MODE_CHANGED",
                "mode",
                f"{mode_label(device, old.mode)} -> {mode_label(device, new.mode)}: peak rate "
                f"{format_volume_rate(before.peak_rate_ml_per_day)} -> "
                f"{format_volume_rate(shape.peak_rate_ml_per_day)}, trough "
                f"{format_volume_rate(before.trough_rate_ml_per_day)} -> "
                f"{format_volume_rate(shape.trough_rate_ml_per_day)}",
            )
        )
    if new.mode is DeliveryMode.PERIODIC_FLOW:
        findings.append(
            Finding(
                Severity.INFO,
                "PERIODIC_FLOW_PAUSE",
                "periodic_bolus",
                f"no drug flows between the doses: up to {shape.longest_pause_s / 3600:.1f} h "
                f"without delivery; each dose runs at up to "
                f"{format_volume_rate(shape.peak_rate_ml_per_day)}",
            )
        )
    if new.mode is DeliveryMode.FIXED_RATE and old is not None:
        old_doses = summarize(old).doses_mcg_per_day
        new_doses = summarize(new).doses_mcg_per_day
        if old_doses != new_doses:
            if refill_given:
                findings.append(
                    Finding(
                        Severity.INFO,
                        "FIXED_RATE_DOSE_AT_REFILL",
                        "drugs",
                        f"{device.name} runs at one rate: the new dose comes with the new "
                        "solution at this refill; empty the reservoir fully first",
                    )
                )
            else:
                # The pump has no program to change: a dose recorded without a refill would be
                # a dose the patient never gets.
                findings.append(
                    Finding(
                        Severity.HARD,
                        "FIXED_RATE_DOSE_WITHOUT_REFILL",
                        "drugs",
                        f"{device.name} has no program to change: its dose changes only with the "
                        "concentration, at a refill; review the change as a refill (give the "
                        "fill) or plan it with itp program fixed-rate-plan",
                    )
                )
    return findings
