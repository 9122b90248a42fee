"""Dose-change limits: how far a drug's daily dose may rise in one step and within 24 hours.

A limit is a fraction of the current dose, an absolute dose rate, or both (the stricter wins).
Baclofen has profiles by origin of spasticity (spinal, cerebral); others use their default.
"""

from __future__ import annotations

from intrathecal.library.records import ChangeBounds, ChangeLimit, Drug, Sourced
from intrathecal.therapy.findings import Finding, Severity
from intrathecal.units import InputError, format_dose_rate


def change_bounds(drug: Drug, profile: str | None) -> ChangeBounds:
    if profile is None:
        return drug.change
    if profile not in drug.change_profiles:
        known = ", ".join(sorted(drug.change_profiles)) or "none"
        raise InputError(
            "change_profile", f"{drug.key} has no change profile {profile!r} (it has: {known})"
        )
    return drug.change_profiles[profile]


def allowed_increase_mcg_per_day(limit: ChangeLimit, from_mcg_per_day: float) -> float:
    """Largest increase over ``from_mcg_per_day`` the limit allows."""
    candidates = []
    if limit.fraction is not None:
        candidates.append(from_mcg_per_day * limit.fraction)
    if limit.absolute_mcg_per_day is not None:
        candidates.append(limit.absolute_mcg_per_day)
    return min(candidates) if candidates else float("inf")


def describe(limit: ChangeLimit, unit: str) -> str:
    parts = []
    if limit.fraction is not None:
        parts.append(f"{limit.fraction * 100:g}%")
    if limit.absolute_mcg_per_day is not None:
        parts.append(format_dose_rate(limit.absolute_mcg_per_day, unit))
    return " or ".join(parts)


def change_findings(
    drug: Drug,
    field: str,
    old_mcg_per_day: float,
    new_mcg_per_day: float,
    *,
    dose_24h_ago_mcg_per_day: float | None = None,
    profile: str | None = None,
) -> list[Finding]:
    """Findings for raising ``drug`` from ``old`` to ``new`` mcg/day in one step.

    ``dose_24h_ago_mcg_per_day`` is the dose in force 24 hours ago (defaults to ``old``, i.e.
    no other change in the last day); the per-24 h limit is measured from it.
    """
    if new_mcg_per_day <= old_mcg_per_day or old_mcg_per_day <= 0:
        return []
    bounds = change_bounds(drug, profile)
    unit = drug.dose_unit.value
    base_24h = old_mcg_per_day if dose_24h_ago_mcg_per_day is None else dose_24h_ago_mcg_per_day
    findings: list[Finding] = []
    checks: list[tuple[str, float, Sourced[ChangeLimit] | None, Sourced[ChangeLimit] | None]] = [
        ("STEP", old_mcg_per_day, bounds.per_step_hard, bounds.per_step_soft),
        ("DAY", base_24h, bounds.per_day_hard, bounds.per_day_soft),
    ]
    for scope, base, hard, soft in checks:
        increase = new_mcg_per_day - base
        for severity, limit in ((Severity.HARD, hard), (Severity.SOFT, soft)):
            if limit is None or base <= 0:
                continue
            allowed = allowed_increase_mcg_per_day(limit.value, base)
            if increase > allowed * (1 + 1e-12):
                span = "in one step" if scope == "STEP" else "within 24 h"
                profile_text = f" ({profile} profile)" if profile else ""
                findings.append(
                    Finding(
                        severity,
                        f"DOSE_INCREASE_PER_{scope}_ABOVE_{severity.name}",
                        field,
                        f"{drug.key} rises {format_dose_rate(increase, unit)} "
                        f"({increase / base * 100:.1f}%) {span}, from "
                        f"{format_dose_rate(base, unit)} to "
                        f"{format_dose_rate(new_mcg_per_day, unit)}"
                        f"; the {severity.value} limit{profile_text} is "
                        f"{describe(limit.value, unit)} ({limit.provenance})",
                        "PCA-M3",
                    )
                )
                break  # the hard finding says it all
    return findings
