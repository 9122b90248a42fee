"""Program review: an ordered chain of checks, each adding findings with their reasons.

``allowed`` is False while any hard finding exists, or any soft finding lacks an
acknowledgement (who and why) - OPCA-14 and OPCA-15. The result carries the acknowledgements
and the side-by-side comparison of old and new settings that a programmer's finish screen shows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from intrathecal.library.records import BolusMode, Source, Sourced
from intrathecal.safety.change import change_findings, interval_findings
from intrathecal.safety.comparison import ComparisonRow, compare
from intrathecal.safety.history import DAY_S, WEEK_S, DoseRecord, DoseTimeline, timeline
from intrathecal.safety.modes import mode_findings
from intrathecal.safety.refill_due import refill_due
from intrathecal.safety.restrictions import restriction_findings
from intrathecal.safety.starting import starting_findings
from intrathecal.safety.switch import is_opioid, switch_findings
from intrathecal.safety.transient import transient, transient_text, without_bridge_finding
from intrathecal.therapy.checks import (
    device_findings,
    limit_findings,
    max_daily_doses_mcg,
    mixing_findings,
)
from intrathecal.therapy.findings import Finding, Severity
from intrathecal.therapy.program import Ingredient, Program
from intrathecal.therapy.summary import summarize
from intrathecal.units import InputError, format_dose_rate, format_volume

__all__ = [
    "SAFE_ALARM_ML",
    "Acknowledgement",
    "DoseRecord",
    "RefillContext",
    "ReviewInput",
    "ReviewResult",
    "review",
]

# A low-reservoir alarm below 2 mL was the older SynchroMed recommendation; some patients had
# withdrawal at residuals above 2 mL, none after it was raised to 4 mL (domain-facts.md §1.1).
SAFE_ALARM_ML = Sourced(
    value=2.0,
    source=Source(
        "neurosurgery-2004",
        "Multicentre study of low-reservoir residual volumes, Neurosurgery 2004 (abstract)",
        "https://www.metajournal.com/articles/journal/2174/neurosurgery/2004/8",
    ),
    verified=True,
    note="4 mL prevented recurrence of withdrawal in the patients who had symptoms above 2 mL",
)


@dataclass(frozen=True)
class Acknowledgement:
    code: str
    who: str
    why: str


@dataclass(frozen=True)
class RefillContext:
    filled_ml: float
    filled_at_s: float
    next_refill_at_s: float | None = None
    margin_s: float = 0.0


@dataclass(frozen=True)
class ReviewInput:
    new: Program
    old: Program | None = None
    change_profile: str | None = None
    # Dose of each drug in force 24 h ago, when another change happened within the last day
    # (an extra history point at now - 24 h).
    doses_24h_ago_mcg_per_day: dict[str, float] = field(default_factory=dict)
    refill: RefillContext | None = None
    min_alarm_ml: Sourced[float] = SAFE_ALARM_ML
    # None: not stated; the opioid-naive (stricter) starting range is used and said so.
    opioid_tolerant: bool | None = None
    # A bridge bolus is planned for a concentration or drug change (covers the transient).
    bridge_planned: bool = False
    # Earlier versions in force, oldest first; rolling 24 h / 7-day limits and intervals.
    history: tuple[DoseRecord, ...] = ()
    # When the new program takes effect (pump/UTC epoch s); default: the last history record.
    now_s: float | None = None

    def timeline(self) -> tuple[DoseTimeline, list[str]]:
        current = summarize(self.old).doses_mcg_per_day if self.old is not None else {}
        return timeline(self.history, self.now_s, current, self.doses_24h_ago_mcg_per_day)


@dataclass(frozen=True)
class ReviewResult:
    findings: tuple[Finding, ...]
    acknowledgements: tuple[Acknowledgement, ...]
    comparison: tuple[ComparisonRow, ...]

    @property
    def hard(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.HARD)

    @property
    def unacknowledged(self) -> tuple[Finding, ...]:
        acknowledged = {a.code for a in self.acknowledgements}
        return tuple(
            f for f in self.findings if f.severity is Severity.SOFT and f.code not in acknowledged
        )

    @property
    def allowed(self) -> bool:
        return not self.hard and not self.unacknowledged


Check = Callable[[ReviewInput], list[Finding]]


def check_device(review: ReviewInput) -> list[Finding]:
    return device_findings(review.new)


def check_mixing(review: ReviewInput) -> list[Finding]:
    return mixing_findings(review.new)


def check_approval(review: ReviewInput) -> list[Finding]:
    findings = []
    for index, ingredient in enumerate(review.new.ingredients):
        approval = ingredient.drug.approved_for_pump
        if not approval.value:
            findings.append(
                Finding(
                    Severity.SOFT,
                    "DRUG_UNAPPROVED",
                    f"drugs[{index}].name",
                    f"{ingredient.drug.name} is not approved for intrathecal pumps; unapproved "
                    f"drugs were linked to more pump failures ({approval.provenance})",
                )
            )
    if len(review.new.ingredients) > 1:
        findings.append(
            Finding(
                Severity.SOFT,
                "ADMIXTURE_UNAPPROVED",
                "drugs",
                "no admixture is approved for intrathecal pumps (FDA safety communication, "
                "14 Nov 2018); compounded mixtures carry dosing-error and pump-failure risks",
            )
        )
    return findings


def check_limits(review: ReviewInput) -> list[Finding]:
    return limit_findings(review.new)


def check_restrictions(review: ReviewInput) -> list[Finding]:
    return restriction_findings(review.new)


def check_starting(review: ReviewInput) -> list[Finding]:
    """A first program, or a drug new to the admixture, against its starting range. An opioid
    replacing another is checked as a switch instead (check_switch)."""
    old = review.old
    old_keys = {i.drug.key for i in old.ingredients} if old is not None else set()
    new_keys = {i.drug.key for i in review.new.ingredients}
    opioid_stopped = old is not None and any(
        is_opioid(i.drug) and i.drug.key not in new_keys for i in old.ingredients
    )
    daily = max_daily_doses_mcg(review.new)
    subject = "first program" if old is None else "new in this program"
    if review.new.demand is not None:
        subject += ", including every allowed demand bolus"
    findings: list[Finding] = []
    for index, ingredient in enumerate(review.new.ingredients):
        drug = ingredient.drug
        if drug.key in old_keys or (opioid_stopped and is_opioid(drug)):
            continue
        findings.extend(
            starting_findings(
                drug, f"drugs[{index}]", daily[drug.key], review.opioid_tolerant, subject
            )
        )
    return findings


def check_changes(review: ReviewInput) -> list[Finding]:
    history, notes = review.timeline()
    findings = [Finding(Severity.INFO, "REVIEW_TIME_ASSUMED", "now", n) for n in notes]
    old = review.old
    if old is None:
        return findings
    old_doses = summarize(old).doses_mcg_per_day
    new_doses = summarize(review.new).doses_mcg_per_day
    old_conc = {i.drug.key: i.concentration_mcg_per_ml for i in old.ingredients}
    for index, ingredient in enumerate(review.new.ingredients):
        drug = ingredient.drug
        key, field = drug.key, f"drugs[{index}]"
        if key not in old_doses:
            findings.append(
                Finding(Severity.INFO, "NEW_DRUG", field, f"{key} is new in this program")
            )
            continue
        profile = _profile(review, key)
        known = bool(history.records)
        findings.extend(
            change_findings(
                drug,
                field,
                old_doses[key],
                new_doses[key],
                dose_24h_ago_mcg_per_day=history.lowest_in_window(key, DAY_S),
                dose_7d_low_mcg_per_day=history.lowest_in_window(key, WEEK_S) if known else None,
                profile=profile,
            )
        )
        last = history.last_increase_s(key)
        if new_doses[key] > old_doses[key] and last is not None:
            findings.extend(interval_findings(drug, field, history.now_s - last, profile=profile))
        if old_conc[key] != ingredient.concentration_mcg_per_ml:
            findings.append(
                Finding(
                    Severity.INFO,
                    "CONCENTRATION_CHANGED",
                    f"{field}.concentration",
                    f"{key} concentration changes: the old solution in the pump pathway and "
                    "catheter must be pushed through with a bridge bolus (itp bridge)",
                )
            )
    new_keys = {i.drug.key for i in review.new.ingredients}
    for ingredient in old.ingredients:
        if ingredient.drug.key not in new_keys:
            findings.append(
                Finding(
                    Severity.SOFT,
                    "DRUG_STOPPED",
                    "drugs",
                    f"{ingredient.drug.key} is stopped; abrupt withdrawal can be dangerous "
                    "(baclofen withdrawal can be fatal); taper or plan monitoring",
                )
            )
    return findings


def _profile(review: ReviewInput, key: str) -> str | None:
    drug = next(i.drug for i in (*review.new.ingredients, *_old(review)) if i.drug.key == key)
    return review.change_profile if review.change_profile in drug.change_profiles else None


def _old(review: ReviewInput) -> tuple[Ingredient, ...]:
    return review.old.ingredients if review.old is not None else ()


def check_switch(review: ReviewInput) -> list[Finding]:
    old = review.old
    if old is None:
        return []
    old_doses = summarize(old).doses_mcg_per_day
    new_doses = summarize(review.new).doses_mcg_per_day
    stopped = {
        i.drug.key: (i.drug, old_doses[i.drug.key])
        for i in old.ingredients
        if is_opioid(i.drug) and i.drug.key not in new_doses
    }
    started = {
        i.drug.key: (i.drug, new_doses[i.drug.key], f"drugs[{index}]")
        for index, i in enumerate(review.new.ingredients)
        if is_opioid(i.drug) and i.drug.key not in old_doses
    }
    if not stopped or not started:
        return []
    return switch_findings(stopped, started)


def check_transient(review: ReviewInput) -> list[Finding]:
    old, new = review.old, review.new
    if old is None:
        return []
    t = transient(old, new)
    if t is None:
        return []
    bridgeable = BolusMode.BRIDGE in new.device.bolus_modes
    notes: list[Finding] = []
    if review.bridge_planned and not bridgeable:
        # A planned bridge cannot relax the transient on a pump that cannot give one.
        notes.append(
            Finding(
                Severity.INFO,
                "BRIDGE_NOT_AVAILABLE",
                "bridge_planned",
                f"a {new.device.name} cannot give a bridge bolus; the transient is checked",
            )
        )
    elif review.bridge_planned:
        return [
            Finding(
                Severity.INFO,
                "BRIDGE_PLANNED",
                "drugs",
                f"a bridge bolus is planned and covers the transient: without it, "
                f"{transient_text(old, new, t)}",
            )
        ]
    old_doses = summarize(old).doses_mcg_per_day
    new_index = {i.drug.key: index for index, i in enumerate(new.ingredients)}
    findings: list[Finding] = []
    for ingredient in old.ingredients:
        drug, unit = ingredient.drug, ingredient.drug.dose_unit.value
        key = drug.key
        field = f"drugs[{new_index[key]}]" if key in new_index else "drugs"
        mean, worst = t.doses_mcg_per_day[key]
        what = f"during the {t.duration_h:.1f} h transient (old solution at the new rate) "
        bounds = drug.daily_dose_mcg_per_day
        for severity, limit in ((Severity.HARD, bounds.hard_max), (Severity.SOFT, bounds.soft_max)):
            if limit is not None and worst > limit.value * (1 + 1e-12):
                findings.append(
                    Finding(
                        severity,
                        f"TRANSIENT_DAILY_DOSE_ABOVE_{severity.name}",
                        field,
                        f"{key} {what}runs at up to {format_dose_rate(worst, unit)}, above the "
                        f"{severity.value} limit {format_dose_rate(limit.value, unit)} "
                        f"({limit.provenance}); {transient_text(old, new, t)}",
                        "OPCA-14" if severity is Severity.HARD else "OPCA-15",
                    )
                )
                break
        findings.extend(
            change_findings(
                drug,
                field,
                old_doses[key],
                mean,
                profile=_profile(review, key),
                code_prefix="TRANSIENT_DOSE",
                what=what,
            )
        )
    broken = any(f.severity is not Severity.INFO for f in findings)
    main = without_bridge_finding(old, new, t, broken, bridgeable)
    return [*notes, *findings, *([main] if main else [])]


def check_alarm(review: ReviewInput) -> list[Finding]:
    alarm = review.new.low_reservoir_alarm_ml
    safe = review.min_alarm_ml
    if alarm < safe.value:
        return [
            Finding(
                Severity.SOFT,
                "LOW_RESERVOIR_ALARM_BELOW_SAFE",
                "low_reservoir_alarm",
                f"{format_volume(alarm)} is below the safe volume {format_volume(safe.value)} "
                f"({safe.provenance})",
                "EC-RES",
            )
        ]
    return []


def check_refill(review: ReviewInput) -> list[Finding]:
    context = review.refill
    if context is None:
        return []
    due = refill_due(review.new, context.filled_ml, context.filled_at_s, context.margin_s)
    next_refill = context.next_refill_at_s
    findings = [
        Finding(
            Severity.INFO,
            "REFILL_DUE",
            "refill",
            f"refill due {_days(due.refill_due_at_s - context.filled_at_s)} after the fill, "
            f"limited by {due.limited_by.value}",
        )
    ]
    if next_refill is None:
        return findings
    if next_refill > due.empty_at_s:
        findings.append(
            Finding(
                Severity.HARD,
                "EMPTIES_BEFORE_REFILL",
                "refill",
                f"with every allowed demand bolus the pump empties "
                f"{_days(due.empty_at_s - context.filled_at_s)} after the fill, before the "
                f"refill scheduled {_days(next_refill - context.filled_at_s)} after it",
                "EC-RES",
            )
        )
    elif next_refill > due.low_reservoir_alarm_at_s:
        findings.append(
            Finding(
                Severity.SOFT,
                "ALARM_BEFORE_REFILL",
                "refill",
                f"the low-reservoir alarm sounds "
                f"{_days(due.low_reservoir_alarm_at_s - context.filled_at_s)} after the fill, "
                f"before the refill scheduled {_days(next_refill - context.filled_at_s)} after it",
            )
        )
    if next_refill > due.stability_until_s:
        findings.append(
            Finding(
                Severity.HARD,
                "REFILL_BEYOND_STABILITY",
                "refill",
                f"{due.stability_drug} is stable for "
                f"{_days(due.stability_until_s - context.filled_at_s)}; the refill is scheduled "
                f"{_days(next_refill - context.filled_at_s)} after the fill",
            )
        )
    if due.device_until_s is not None and next_refill > due.device_until_s:
        findings.append(
            Finding(
                Severity.HARD,
                "REFILL_BEYOND_DEVICE_LIMIT",
                "refill",
                f"the device allows {_days(due.device_until_s - context.filled_at_s)} between "
                "refills",
            )
        )
    return findings


def _days(seconds: float) -> str:
    return f"{seconds / 86_400:.1f} days"


def check_modes(review: ReviewInput) -> list[Finding]:
    return mode_findings(review.new, review.old, review.refill is not None)


CHAIN: tuple[tuple[str, Check], ...] = (
    ("device", check_device),
    ("modes", check_modes),
    ("mixing", check_mixing),
    ("approval", check_approval),
    ("restrictions", check_restrictions),
    ("limits", check_limits),
    ("starting", check_starting),
    ("changes", check_changes),
    ("switch", check_switch),
    ("transient", check_transient),
    ("alarm", check_alarm),
    ("refill", check_refill),
)


def check_acknowledgements(
    findings: Sequence[Finding], acknowledgements: Sequence[Acknowledgement], of: str = "review"
) -> None:
    """Each acknowledgement names who and why, and a soft finding of these (never a hard one)."""
    by_code = {f.code: f for f in findings}
    for ack in acknowledgements:
        if not ack.who.strip() or not ack.why.strip():
            raise InputError("ack", f"acknowledging {ack.code} needs who and why")
        finding = by_code.get(ack.code)
        if finding is None:
            raise InputError("ack", f"{ack.code} is not a finding of this {of}")
        if finding.severity is Severity.HARD:
            raise InputError("ack", f"{ack.code} is a hard limit: it cannot be acknowledged")


def review(
    review_input: ReviewInput, acknowledgements: Sequence[Acknowledgement] = ()
) -> ReviewResult:
    findings: list[Finding] = []
    for _, check in CHAIN:
        findings.extend(check(review_input))
    check_acknowledgements(findings, acknowledgements)
    return ReviewResult(
        findings=tuple(findings),
        acknowledgements=tuple(acknowledgements),
        comparison=tuple(compare(review_input.old, review_input.new)),
    )
