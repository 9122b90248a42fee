"""Dose-change limits: how far a drug's daily dose may rise in one step, within rolling 24 h
and 7 days, how soon after the last increase, and how far it may be cut in one step.

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
    dose_7d_low_mcg_per_day: float | None = None,
    profile: str | None = None,
    code_prefix: str = "DOSE",
    what: str = "",
) -> list[Finding]:
    """Findings for changing ``drug`` from ``old`` to ``new`` mcg/day in one step.

    ``dose_24h_ago_mcg_per_day`` is the base of the 24 h window (the lowest dose in force in
    it; defaults to ``old``, i.e. no other change in the last day); ``dose_7d_low_mcg_per_day``
    the base of the 7-day window (no weekly check without it). ``code_prefix`` and ``what``
    name a transient dose (the old solution at the new rate) checked by the same limits.
    """
    if old_mcg_per_day <= 0:
        return []
    bounds = change_bounds(drug, profile)
    if new_mcg_per_day < old_mcg_per_day:
        return _decrease_findings(
            drug, field, old_mcg_per_day, new_mcg_per_day, bounds, profile, code_prefix, what
        )
    base_24h = old_mcg_per_day if dose_24h_ago_mcg_per_day is None else dose_24h_ago_mcg_per_day
    findings: list[Finding] = []
    checks: list[
        tuple[str, float | None, Sourced[ChangeLimit] | None, Sourced[ChangeLimit] | None]
    ] = [
        ("STEP", old_mcg_per_day, bounds.per_step_hard, bounds.per_step_soft),
        ("DAY", base_24h, bounds.per_day_hard, bounds.per_day_soft),
        ("WEEK", dose_7d_low_mcg_per_day, bounds.per_week_hard, bounds.per_week_soft),
    ]
    spans = {"STEP": "in one step", "DAY": "within 24 h", "WEEK": "within 7 days"}
    for scope, base, hard, soft in checks:
        if base is None or base <= 0:
            continue
        increase = new_mcg_per_day - base
        for severity, limit in ((Severity.HARD, hard), (Severity.SOFT, soft)):
            if limit is None:
                continue
            allowed = allowed_increase_mcg_per_day(limit.value, base)
            if increase > allowed * (1 + 1e-12):
                findings.append(
                    _finding(
                        drug,
                        field,
                        severity,
                        f"{code_prefix}_INCREASE_PER_{scope}_ABOVE_{severity.name}",
                        f"{what}rises {format_dose_rate(increase, drug.dose_unit.value)} "
                        f"({increase / base * 100:.1f}%) {spans[scope]}",
                        base,
                        new_mcg_per_day,
                        limit,
                        profile,
                    )
                )
                break  # the hard finding says it all
    return findings


def _finding(
    drug: Drug,
    field: str,
    severity: Severity,
    code: str,
    change: str,
    base: float,
    new: float,
    limit: Sourced[ChangeLimit],
    profile: str | None,
    tail: str = "",
) -> Finding:
    unit = drug.dose_unit.value
    profile_text = f" ({profile} profile)" if profile else ""
    return Finding(
        severity,
        code,
        field,
        f"{drug.key} {change}, from {format_dose_rate(base, unit)} to "
        f"{format_dose_rate(new, unit)}; the {severity.value} limit{profile_text} is "
        f"{describe(limit.value, unit)} ({limit.provenance}){tail}",
        "PCA-M3",
    )


def _decrease_findings(
    drug: Drug,
    field: str,
    old: float,
    new: float,
    bounds: ChangeBounds,
    profile: str | None,
    code_prefix: str,
    what: str,
) -> list[Finding]:
    """A cut beyond the drug's decrease limit (withdrawal risk); stopping is DRUG_STOPPED."""
    cut = old - new
    for severity, limit in (
        (Severity.HARD, bounds.decrease_per_step_hard),
        (Severity.SOFT, bounds.decrease_per_step_soft),
    ):
        if limit is None:
            continue
        if cut > allowed_increase_mcg_per_day(limit.value, old) * (1 + 1e-12):
            return [
                _finding(
                    drug,
                    field,
                    severity,
                    f"{code_prefix}_DECREASE_PER_STEP_ABOVE_{severity.name}",
                    f"{what}falls {format_dose_rate(cut, drug.dose_unit.value)} "
                    f"({cut / old * 100:.1f}%) in one step",
                    old,
                    new,
                    limit,
                    profile,
                    "; a large cut risks withdrawal (baclofen withdrawal can be fatal)",
                )
            ]
    return []


def interval_findings(
    drug: Drug,
    field: str,
    since_last_increase_s: float | None,
    *,
    profile: str | None = None,
) -> list[Finding]:
    """An increase sooner after the last one than the drug's minimum interval allows."""
    if since_last_increase_s is None:
        return []
    bounds = change_bounds(drug, profile)
    for severity, limit in (
        (Severity.HARD, bounds.min_increase_interval_hard_s),
        (Severity.SOFT, bounds.min_increase_interval_soft_s),
    ):
        if limit is not None and since_last_increase_s < limit.value:
            return [
                Finding(
                    severity,
                    f"DOSE_INCREASE_INTERVAL_BELOW_{severity.name}",
                    field,
                    f"{drug.key} rises again {since_last_increase_s / 3600:.1f} h after its "
                    f"last increase (or start); the {severity.value} minimum interval between "
                    f"increases is {limit.value / 3600:g} h ({limit.provenance})",
                    "PCA-M3",
                )
            ]
    return []
