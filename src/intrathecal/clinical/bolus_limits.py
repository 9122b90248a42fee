"""The limits of a clinician or bridge bolus given outside a refill: one home for the clinic's
review (web/bolus_pages.py) and the pump's own door (pump/firmware.py), so both agree.

- Duration: 60 s to 24 h for a clinician bolus; a bridge may take up to 30 days, since it moves
  the old solution at the new dose's rate (0.45 mL at 0.3 mL/day is 36 h): its real bound is
  the device's minimum rate.
- Clinician bolus: the bolus rate on top of the basal peak may not exceed the device's bolus
  maximum (OPCA-26); the dose of each drug in the volume against the drug library's per-bolus
  limits: above the hard limit blocks, above the soft limit needs an acknowledgement.
- Bridge bolus: at most the pump pathway and catheter volume (more would push the new solution
  at bolus rate), at a rate between the device's minimum rate and its bolus maximum.

Only hard findings are refused by the pump; a soft finding is the clinic's to acknowledge.
The values come from the device and drug libraries with their sources. Pure: no I/O, no clock.
"""

from __future__ import annotations

from intrathecal.engine.delivery import program_profile
from intrathecal.therapy.findings import Finding, Severity
from intrathecal.therapy.program import Program
from intrathecal.units import SECONDS_PER_DAY, format_mass, format_volume

DAY_S = float(SECONDS_PER_DAY)
EPS_ML = 1e-9  # float noise in volumes, far below any clinical quantity
MIN_BOLUS_S = 60.0
MAX_CLINICIAN_S = DAY_S
MAX_BRIDGE_S = 30 * DAY_S
KINDS = ("clinician", "bridge", "priming")  # the pump also moves a priming bolus this way


def longest_s(kind: str) -> float:
    return MAX_CLINICIAN_S if kind == "clinician" else MAX_BRIDGE_S


def basal_peak_ml_per_day(program: Program) -> float:
    """The highest basal rate the program runs (periodic and demand boluses excluded)."""
    return max(program_profile(program).rates_ml_per_day)


def bolus_findings(
    program: Program,
    kind: str,
    volume_ml: float,
    duration_s: float,
    catheter_ml: float | None = None,
) -> tuple[Finding, ...]:
    """Every finding of a ``kind`` bolus of ``volume_ml`` over ``duration_s`` on a pump running
    ``program`` (``catheter_ml``: the pump's own record of the catheter, else the program's)."""
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    longest = longest_s(kind)
    if not MIN_BOLUS_S <= duration_s <= longest:
        # Nothing else is worth reading at an impossible duration.
        return (
            Finding(
                Severity.HARD,
                "BOLUS_DURATION_OUT_OF_RANGE",
                "duration_s",
                f"must be from 60 s to {longest / 3600:g} h for a {kind} bolus",
            ),
        )
    rate = volume_ml * DAY_S / duration_s
    device = program.device
    ceiling = device.max_bolus_rate_ml_per_day
    if kind == "clinician":
        return _clinician(program, volume_ml, rate)
    findings = []
    dead = device.pathway_volume_ml.value + (
        program.catheter_volume_ml if catheter_ml is None else catheter_ml
    )
    if volume_ml > dead + EPS_ML:
        findings.append(
            Finding(
                Severity.HARD,
                "BRIDGE_VOLUME_ABOVE_DEAD_SPACE",
                "volume_ml",
                f"a {kind} bolus moves the pathway and catheter volume "
                f"({format_volume(dead)}); more would push new solution at bolus rate",
            )
        )
    if rate > ceiling.value + EPS_ML:
        findings.append(
            Finding(
                Severity.HARD,
                "BOLUS_RATE_ABOVE_DEVICE_MAX",
                "duration_s",
                f"rate {rate:.4g} mL/day exceeds the bolus maximum {ceiling.value:g}",
                "OPCA-26",
            )
        )
    floor = device.min_rate_ml_per_day
    if rate < floor.value - EPS_ML:
        findings.append(
            Finding(
                Severity.HARD,
                "BOLUS_RATE_BELOW_DEVICE_MIN",
                "duration_s",
                f"rate {rate:.4g} mL/day is below the device minimum {floor.value:g} mL/day "
                f"({floor.provenance})",
            )
        )
    return tuple(findings)


def _clinician(program: Program, volume_ml: float, rate: float) -> tuple[Finding, ...]:
    findings = []
    ceiling = program.device.max_bolus_rate_ml_per_day.value
    peak = basal_peak_ml_per_day(program)
    if rate + peak > ceiling + EPS_ML:
        findings.append(
            Finding(
                Severity.HARD,
                "BOLUS_RATE_ABOVE_DEVICE_MAX",
                "volume_ml",
                f"bolus rate {rate:.4g} mL/day on top of the basal peak {peak:.4g} mL/day "
                f"exceeds the device bolus maximum {ceiling:g} mL/day (OPCA-26)",
                "OPCA-26",
            )
        )
    for ingredient in program.ingredients:
        drug, unit = ingredient.drug, ingredient.drug.dose_unit.value
        dose = volume_ml * ingredient.concentration_mcg_per_ml
        hard, soft = drug.bolus_dose_mcg.hard_max, drug.bolus_dose_mcg.soft_max
        if hard is not None and dose > hard.value * (1 + 1e-12):
            findings.append(
                Finding(
                    Severity.HARD,
                    "BOLUS_DOSE_ABOVE_HARD",
                    "volume_ml",
                    f"{format_mass(dose, unit)} of {drug.key} is above its hard limit per "
                    f"bolus {format_mass(hard.value, unit)} ({hard.provenance})",
                )
            )
        elif soft is not None and dose > soft.value * (1 + 1e-12):
            findings.append(
                Finding(
                    Severity.SOFT,
                    "BOLUS_DOSE_ABOVE_SOFT",
                    "volume_ml",
                    f"{format_mass(dose, unit)} of {drug.key} is above its soft limit per "
                    f"bolus {format_mass(soft.value, unit)} ({soft.provenance})",
                )
            )
    return tuple(findings)
