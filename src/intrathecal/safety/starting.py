"""Starting doses: a first program, or a drug new to an admixture, against the library's
starting range (opioid-naive or opioid-tolerant) and any labelled starting maximum."""

from __future__ import annotations

from intrathecal.library.records import Drug, DrugClass
from intrathecal.therapy.findings import Finding, Severity
from intrathecal.units import format_dose_rate


def starting_findings(
    drug: Drug, field: str, dose_mcg_per_day: float, opioid_tolerant: bool | None, subject: str
) -> list[Finding]:
    """``dose_mcg_per_day`` is the worst-case daily dose (heaviest day plus every allowed demand
    bolus); ``subject`` says what it is, for the message."""
    unit = drug.dose_unit.value
    dose = format_dose_rate(dose_mcg_per_day, unit)
    labelled = drug.starting_daily_dose_hard_max_mcg_per_day
    if labelled is not None and dose_mcg_per_day > labelled.value * (1 + 1e-12):
        return [
            Finding(
                Severity.HARD,
                "STARTING_DOSE_ABOVE_LABELLED_MAX",
                field,
                f"{drug.key} starts at {dose} ({subject}), above the labelled starting maximum "
                f"{format_dose_rate(labelled.value, unit)} ({labelled.provenance})",
                "OPCA-14",
            )
        ]
    starting = drug.starting_range(opioid_tolerant)
    high = starting.high
    if high is None or dose_mcg_per_day <= high.value * (1 + 1e-12):
        return []
    has_tolerant = drug.starting_tolerant_high_mcg_per_day is not None
    if drug.drug_class is DrugClass.OPIOID and opioid_tolerant is None:
        status = "; opioid status not given: the opioid-naive (stricter) range is used"
    elif opioid_tolerant and has_tolerant:
        status = "; opioid-tolerant range"
    elif drug.drug_class is DrugClass.OPIOID and has_tolerant:
        status = "; opioid-naive range"
    else:
        status = ""
    low = starting.low
    span = (
        f"{format_dose_rate(low.value, unit)}-{format_dose_rate(high.value, unit)}"
        if low is not None
        else f"up to {format_dose_rate(high.value, unit)}"
    )
    return [
        Finding(
            Severity.SOFT,
            "STARTING_DOSE_ABOVE_RANGE",
            field,
            f"{drug.key} starts at {dose} ({subject}), above the usual starting range {span}"
            f"{status} ({high.provenance})",
            "OPCA-15",
        )
    ]
