"""Labelled restrictions of a drug on a device: pumps the label does not name, and bolus modes
a drug must not be given by (Prometra PTC boluses of baclofen; ziconotide demand boluses)."""

from __future__ import annotations

from intrathecal.library.records import BolusMode, Strictness
from intrathecal.therapy.findings import Finding, Severity
from intrathecal.therapy.program import Program

SEVERITY = {Strictness.HARD: Severity.HARD, Strictness.SOFT: Severity.SOFT}


def restriction_findings(program: Program) -> list[Finding]:
    device = program.device
    used: dict[BolusMode, str] = {}
    if program.demand is not None:
        used[BolusMode.DEMAND] = "demand_bolus"
    if program.periodic:
        used[BolusMode.PERIODIC] = "periodic_bolus"
    findings = []
    for index, ingredient in enumerate(program.ingredients):
        drug = ingredient.drug
        labelled = drug.labelled_devices
        if labelled is not None and device.key not in labelled.devices.value:
            findings.append(
                Finding(
                    SEVERITY[labelled.strictness],
                    "DEVICE_NOT_LABELLED_FOR_DRUG",
                    f"drugs[{index}].name",
                    f"{drug.key} in a {device.name}: its label names only "
                    f"{', '.join(labelled.devices.value)} ({labelled.devices.provenance})",
                )
            )
        restrictions = [*drug.restrictions, *(r for r in device.restrictions if r.drug == drug.key)]
        for restriction in restrictions:
            for mode in sorted(restriction.bolus_modes & used.keys(), key=lambda m: m.value):
                where = f" on a {device.name}" if restriction.device else ""
                findings.append(
                    Finding(
                        SEVERITY[restriction.strictness],
                        "BOLUS_MODE_RESTRICTED",
                        used[mode],
                        f"a {mode.value} bolus of {drug.key}{where} is restricted: "
                        f'"{restriction.rule.value}" ({restriction.rule.provenance})',
                    )
                )
    return findings
