"""Switching from one intrathecal opioid to another, against the equianalgesic dose.

The equianalgesic dose comes from the library's intrathecal-morphine equivalents. Above it is
soft: cross-tolerance is incomplete and the usual advice is to start the new opioid lower;
beyond the new drug's hard per-step change limit measured from it is hard. A pair without a
sourced ratio is soft and says so.
"""

from __future__ import annotations

from intrathecal.library.records import Drug, DrugClass
from intrathecal.safety.change import allowed_increase_mcg_per_day, change_bounds, describe
from intrathecal.therapy.findings import Finding, Severity
from intrathecal.units import format_dose_rate

REDUCE_ADVICE = (
    "cross-tolerance between opioids is incomplete: the converted dose is usually reduced "
    "(commonly by 20-50%; UNVERIFIED project guidance, no source read)"
)


def is_opioid(drug: Drug) -> bool:
    return drug.drug_class is DrugClass.OPIOID


def switch_findings(
    stopped: dict[str, tuple[Drug, float]],
    started: dict[str, tuple[Drug, float, str]],
    profile: str | None = None,
) -> list[Finding]:
    """``stopped``: opioids removed (drug, old mean mcg/day); ``started``: opioids added (drug,
    new mean mcg/day, field). Only called when both are non-empty."""
    findings: list[Finding] = []
    unsourced = [d.key for d, _ in stopped.values() if d.it_morphine_equivalent is None]
    morphine_mg = sum(
        dose / 1000 * d.it_morphine_equivalent.value
        for d, dose in stopped.values()
        if d.it_morphine_equivalent is not None
    )
    old_text = " + ".join(
        format_dose_rate(dose, d.dose_unit.value) + f" {d.key}" for d, dose in stopped.values()
    )
    for drug, dose, field in started.values():
        unit = drug.dose_unit.value
        ratio = drug.it_morphine_equivalent
        missing = unsourced + ([drug.key] if ratio is None else [])
        if missing or ratio is None:
            findings.append(
                Finding(
                    Severity.SOFT,
                    "OPIOID_SWITCH_NO_RATIO",
                    field,
                    f"switch from {old_text} to {format_dose_rate(dose, unit)} {drug.key}: the "
                    f"library has no sourced intrathecal ratio for {', '.join(missing)}; the "
                    "equianalgesic dose cannot be checked",
                )
            )
            continue
        # mg IT morphine / (mg morphine per mg of the new drug) = mg of the new drug.
        equianalgesic = morphine_mg / ratio.value * 1000
        sources = "; ".join(
            f"{d.key}: {d.it_morphine_equivalent.provenance}"
            for d in [*(d for d, _ in stopped.values()), drug]
            if d.it_morphine_equivalent is not None and d.key != "morphine"
        )
        head = (
            f"switch from {old_text} (= {morphine_mg:.4g} mg/day IT morphine) to "
            f"{format_dose_rate(dose, unit)} {drug.key}; equianalgesic "
            f"{format_dose_rate(equianalgesic, unit)}"
        )
        hard = change_bounds(drug, profile).per_step_hard
        if hard is not None:
            ceiling = equianalgesic + allowed_increase_mcg_per_day(hard.value, equianalgesic)
            if dose > ceiling * (1 + 1e-12):
                findings.append(
                    Finding(
                        Severity.HARD,
                        "OPIOID_SWITCH_ABOVE_HARD",
                        field,
                        f"{head}; above it by more than the {drug.key} hard change limit "
                        f"{describe(hard.value, unit)} (at most "
                        f"{format_dose_rate(ceiling, unit)}; {hard.provenance}); {sources}",
                        "PCA-M3",
                    )
                )
                continue
        if dose > equianalgesic * (1 + 1e-12):
            findings.append(
                Finding(
                    Severity.SOFT,
                    "OPIOID_SWITCH_ABOVE_EQUIANALGESIC",
                    field,
                    f"{head}; {REDUCE_ADVICE}; {sources}",
                )
            )
    return findings
