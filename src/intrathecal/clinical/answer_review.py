"""Every calculator's answer, as the program or fill it becomes, through the program review.

A calculator answers a question (a concentration, a fill, a titrated program, a converted dose,
a recipe, a bridge or a priming bolus). Before anything reaches a pump that answer is reviewed
like any program (``safety.review``): its findings and ``allowed`` travel with the numbers.
Nothing is capped silently: where a safe alternative exists (a lower concentration, a shorter
interval, a smaller change) it is returned as a :class:`Suggestion`, beside the answer, never in
its place.

Fill times are relative: a calculator has no clock, so the fill is at ``filled_at_s`` (0 by
default) and the scheduled refill ``interval`` days after it; the review only uses differences.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass

from intrathecal.clinical.bridge import Bridge, Priming
from intrathecal.clinical.compounding import Recipe
from intrathecal.clinical.refill import ConcentrationPlan, FillPlan
from intrathecal.clinical.titration import Titration, scaled_basal
from intrathecal.library.records import DeviceKind, Library
from intrathecal.safety.refill_due import refill_due
from intrathecal.safety.review import (
    Acknowledgement,
    RefillContext,
    ReviewInput,
    check_acknowledgements,
    review,
)
from intrathecal.therapy.findings import Finding, Severity
from intrathecal.therapy.parse import parse_program
from intrathecal.therapy.program import Program
from intrathecal.units import (
    SECONDS_PER_DAY,
    InputError,
    Toward,
    format_concentration,
    format_dose_rate,
    format_mass,
    format_volume,
    format_volume_rate,
    round_to_step,
)

# Where a calculator has no device, the answer is reviewed on this one, and says so.
DEFAULT_DEVICE = "synchromed-ii-20"
# Where a converted dose has no concentration, one that runs it at this rate is assumed (well
# inside every programmable pump's range), and said.
DEFAULT_RATE_ML_PER_DAY = 0.5
DEFAULT_CATHETER_ML = 0.19


@dataclass(frozen=True)
class Suggestion:
    """A safe alternative to the answer, with the limit that makes the answer unsafe."""

    field: str
    value: str  # with its unit
    why: str


@dataclass(frozen=True)
class AnswerReview:
    findings: tuple[Finding, ...]
    unacknowledged: tuple[Finding, ...]
    acknowledgements: tuple[Acknowledgement, ...]
    suggestions: tuple[Suggestion, ...] = ()
    notes: tuple[str, ...] = ()  # every value assumed (not given) and every rounding

    @property
    def hard(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.HARD)

    @property
    def allowed(self) -> bool:
        return not self.hard and not self.unacknowledged


@dataclass(frozen=True)
class Part:
    """One review of an answer: its findings' fields get ``prefix``; findings (code, field)
    listed in ``known`` are facts of the program already running, not of the answer."""

    review_input: ReviewInput
    prefix: str = ""
    known: frozenset[tuple[str, str]] = frozenset()

    def keep(self, finding: Finding) -> bool:
        return (finding.code, finding.field) not in self.known


def combine(
    parts: Sequence[Part],
    acknowledgements: Sequence[Acknowledgement],
    extra: Sequence[Finding] = (),
    suggestions: Sequence[Suggestion] = (),
    assumptions: Sequence[str] = (),
) -> AnswerReview:
    """Review each part and add ``extra`` findings; one verdict for all.

    An acknowledgement is given to every review that has its code; one that matches no finding
    at all, names no one or acknowledges a hard finding is refused (as ``itp review`` does).
    """
    findings: list[Finding] = []
    unacknowledged: list[Finding] = []
    for part in parts:
        codes = {f.code for f in review(part.review_input).findings if part.keep(f)}
        result = review(part.review_input, [a for a in acknowledgements if a.code in codes])
        findings += [_prefixed(part.prefix, f) for f in result.findings if part.keep(f)]
        unacknowledged += [_prefixed(part.prefix, f) for f in result.unacknowledged if part.keep(f)]
    findings += extra
    check_acknowledgements(findings, acknowledgements, "answer")
    acknowledged = {a.code for a in acknowledgements}
    unacknowledged += [
        f for f in extra if f.severity is Severity.SOFT and f.code not in acknowledged
    ]
    return AnswerReview(
        findings=tuple(findings),
        unacknowledged=tuple(unacknowledged),
        acknowledgements=tuple(acknowledgements),
        suggestions=tuple(suggestions),
        notes=tuple(assumptions),
    )


def _prefixed(prefix: str, finding: Finding) -> Finding:
    if not prefix:
        return finding
    return dataclasses.replace(finding, field=f"{prefix}.{finding.field}")


def _refill(fill_ml: float, interval_days: float, filled_at_s: float) -> RefillContext:
    return RefillContext(fill_ml, filled_at_s, filled_at_s + interval_days * SECONDS_PER_DAY)


# --- programs built from an answer -----------------------------------------------------------


def scaled_program(program: Program, factor: float) -> tuple[Program, tuple[str, ...]]:
    """``program`` with every concentration x ``factor`` and every volume / ``factor``: the same
    doses in a stronger (or weaker) solution. Basal rates are rounded down to the device step
    (the side of less drug), each rounding said."""
    basal, notes = scaled_basal(program, factor, divide=True)
    demand = program.demand
    new = dataclasses.replace(
        program,
        ingredients=tuple(
            dataclasses.replace(i, concentration_mcg_per_ml=i.concentration_mcg_per_ml * factor)
            for i in program.ingredients
        ),
        basal=basal,
        periodic=tuple(
            dataclasses.replace(b, volume_ml=b.volume_ml / factor) for b in program.periodic
        ),
        demand=dataclasses.replace(demand, volume_ml=demand.volume_ml / factor) if demand else None,
        notices=(),
    )
    return new, tuple(notes)


def single_drug_program(
    library: Library,
    device_key: str,
    drug_key: str,
    dose_mcg_per_day: float,
    concentration_mcg_per_ml: float | None = None,
    name: str = "answer",
) -> tuple[Program, tuple[str, ...]]:
    """One drug at one daily dose on one device, as a program file parsed with every check of
    the parser (limits left to the review). Returns the program and the assumptions taken."""
    try:
        device = library.device(device_key)
        drug = library.drug(drug_key)
    except KeyError as exc:
        raise InputError("--device", str(exc.args[0])) from None
    unit = drug.dose_unit.value
    assumptions: list[str] = []
    if concentration_mcg_per_ml is None:
        # Never above the drug's own limits: an assumed value must not make a finding.
        bounds = drug.concentration_mcg_per_ml
        cap = bounds.soft_max or bounds.hard_max
        concentration_mcg_per_ml = dose_mcg_per_day / DEFAULT_RATE_ML_PER_DAY
        if cap is not None:
            concentration_mcg_per_ml = min(concentration_mcg_per_ml, cap.value)
        rate = dose_mcg_per_day / concentration_mcg_per_ml
        assumptions.append(
            f"reviewed at {format_concentration(concentration_mcg_per_ml, unit)} "
            f"({format_volume_rate(rate)}); give --concentration for yours"
        )
    assumptions.append(
        f"reviewed on a {device.name} with a {format_volume(DEFAULT_CATHETER_ML)} catheter and "
        f"the device's default low-reservoir alarm; give --device for the patient's pump"
        if device_key == DEFAULT_DEVICE
        else f"reviewed on a {device.name} with a {format_volume(DEFAULT_CATHETER_ML)} catheter "
        "and the device's default low-reservoir alarm"
    )
    text = "\n".join(
        [
            f"name = {json.dumps(name)}",
            f"device = {json.dumps(device.key)}",
            f'catheter_volume = "{DEFAULT_CATHETER_ML!r} mL"',
            "[[drugs]]",
            f"name = {json.dumps(drug.key)}",
            f'concentration = "{concentration_mcg_per_ml!r} mcg/mL"',
            "[[basal]]",
            'start = "00:00"',
            f'dose = "{dose_mcg_per_day!r} mcg/day"',
        ]
    )
    program = parse_program(text, library, name=name, check_limits=False)
    assumptions += [f"{n.field}: {n.message}" for n in program.notices]
    return program, tuple(assumptions)


# --- refill concentration and refill volume --------------------------------------------------


def _limit_days(program: Program, fill_ml: float, filled_at_s: float) -> tuple[float, str]:
    """Longest interval the stability of the admixture and the device allow, and which."""
    due = refill_due(program, fill_ml, filled_at_s)
    days = (due.stability_until_s - filled_at_s) / SECONDS_PER_DAY
    why = f"{due.stability_drug} is stable for {days:g} days"
    if due.device_until_s is not None and due.device_until_s < due.stability_until_s:
        days = (due.device_until_s - filled_at_s) / SECONDS_PER_DAY
        why = f"the device allows {days:g} days between refills"
    return days, why


def review_refill_concentration(
    program: Program,
    plan: ConcentrationPlan,
    acknowledgements: Sequence[Acknowledgement] = (),
    filled_at_s: float = 0.0,
    bridge_planned: bool = False,
) -> tuple[AnswerReview, Program]:
    """The program after a refill at the answered concentration (same doses), filled with
    ``plan.fill_ml`` and refilled ``plan.interval_days`` later, against the program now.

    A new concentration is a concentration change: unless a bridge bolus is planned, the review
    shows the transient of the old solution left in the pathway and catheter."""
    factor = plan.concentration_mcg_per_ml / program.first.concentration_mcg_per_ml
    new, notes = scaled_program(program, factor)
    part = Part(
        ReviewInput(
            new=new,
            old=program,
            refill=_refill(plan.fill_ml, plan.interval_days, filled_at_s),
            bridge_planned=bridge_planned,
        )
    )
    suggestions = _concentration_suggestions(program, plan, filled_at_s)
    return combine([part], acknowledgements, suggestions=suggestions, assumptions=notes), new


def _concentration_suggestions(
    program: Program, plan: ConcentrationPlan, filled_at_s: float
) -> list[Suggestion]:
    """When the answer is beyond a hard concentration limit, stability or the device's interval:
    the longest interval that is within all of them, and the concentrations it needs."""
    limit_days, limit_why = _limit_days(program, plan.fill_ml, filled_at_s)
    # Concentration per day of interval (the answer is linear in the interval).
    per_day = plan.concentration_mcg_per_ml / plan.interval_days
    days = min(plan.interval_days, limit_days)
    reasons = [limit_why] if limit_days < plan.interval_days else []
    for ingredient in program.ingredients:
        drug, unit = ingredient.drug, ingredient.drug.dose_unit.value
        hard = drug.concentration_mcg_per_ml.hard_max
        if hard is None:
            continue
        ratio = ingredient.concentration_mcg_per_ml / program.first.concentration_mcg_per_ml
        max_days = hard.value / (per_day * ratio)
        if max_days < days:
            days = max_days
            reasons = [
                f"{format_concentration(hard.value, unit)} is the largest {drug.key} "
                f"concentration within its hard limit ({hard.provenance})"
            ]
        elif max_days == days and reasons:
            reasons.append(f"{drug.key} reaches its hard limit too")
    # A stronger solution runs slower: no basal step may fall below the device minimum.
    device = program.device
    # Periodic flow runs no basal (its zero step is no rate): only real basal rates count.
    running = [s.rate_ml_per_day for s in program.basal if s.rate_ml_per_day > 0]
    if device.kind is not DeviceKind.FIXED_RATE and running:
        low = device.min_rate_ml_per_day
        slowest = min(running)
        max_days = program.first.concentration_mcg_per_ml * slowest / low.value / per_day
        if max_days < days:
            days = max_days
            reasons = [
                f"a stronger solution would run below the device minimum rate "
                f"{format_volume_rate(low.value)} ({low.provenance})"
            ]
    if days >= plan.interval_days:
        return []
    days = _floor(days, 1)
    suggestions = [
        Suggestion(
            "interval",
            f"{days:g} days",
            f"the longest interval within the limits: {'; '.join(reasons)}",
        )
    ]
    for ingredient in program.ingredients:
        ratio = ingredient.concentration_mcg_per_ml / program.first.concentration_mcg_per_ml
        u = ingredient.drug.dose_unit.value
        suggestions.append(
            Suggestion(
                f"concentration.{ingredient.drug.key}",
                format_concentration(per_day * ratio * days, u),
                f"keeps today's doses for {days:g} days on "
                f"{format_volume(plan.fill_ml)} (C = D x interval / (fill - alarm))",
            )
        )
    return suggestions


def _floor(value: float, digits: int) -> float:
    """Round down: a suggested interval must never be longer than the one that is safe."""
    scale = float(10**digits)
    return float(int(value * scale + 1e-9)) / scale


def review_refill_volume(
    program: Program,
    plan: FillPlan,
    acknowledgements: Sequence[Acknowledgement] = (),
    filled_at_s: float = 0.0,
) -> AnswerReview:
    """The program as it is, filled with the answered volume and refilled after the interval."""
    part = Part(
        ReviewInput(
            new=program, old=program, refill=_refill(plan.fill_ml, plan.interval_days, filled_at_s)
        )
    )
    limit_days, limit_why = _limit_days(program, plan.fill_ml, filled_at_s)
    suggestions: list[Suggestion] = []
    days, reasons = plan.interval_days, []
    if plan.capped:
        days = plan.achievable_days
        reasons.append(
            f"the full reservoir ({format_volume(plan.fill_ml)}) lasts "
            f"{plan.achievable_days:.1f} days to the low-reservoir alarm"
        )
    if limit_days < days:
        days, reasons = limit_days, [limit_why]
    if days < plan.interval_days:
        suggestions.append(
            Suggestion(
                "interval",
                f"{_floor(days, 1):g} days",
                f"the longest interval this fill allows: {'; '.join(reasons)}",
            )
        )
    return combine([part], acknowledgements, suggestions=suggestions)


# --- titration -------------------------------------------------------------------------------


def review_titration(
    program: Program,
    answer: Titration,
    capped: Titration,
    profile: str | None = None,
    acknowledgements: Sequence[Acknowledgement] = (),
) -> AnswerReview:
    """The requested titration against the program now. ``capped`` is the same request with
    the hard limits applied: when it differs, it is the suggestion, not the answer."""
    part = Part(ReviewInput(new=answer.program, old=program, change_profile=profile))
    suggestions = []
    caps = [c for c in capped.constraints if c.startswith("capped")]
    if caps and capped.applied_factor < answer.applied_factor:
        for key, dose in capped.new_doses_mcg_per_day.items():
            unit = next(i.drug.dose_unit.value for i in program.ingredients if i.drug.key == key)
            suggestions.append(
                Suggestion(
                    f"dose.{key}",
                    format_dose_rate(dose, unit),
                    "the largest change within the hard limits: " + "; ".join(caps),
                )
            )
    return combine([part], acknowledgements, suggestions=suggestions)


# --- conversions and compounding -------------------------------------------------------------


def review_dose(
    program: Program,
    old: Program | None,
    acknowledgements: Sequence[Acknowledgement] = (),
    assumptions: Sequence[str] = (),
    opioid_tolerant: bool | None = None,
) -> AnswerReview:
    """A converted daily dose as a program (see :func:`single_drug_program`)."""
    part = Part(ReviewInput(new=program, old=old, opioid_tolerant=opioid_tolerant))
    return combine(
        [part],
        acknowledgements,
        suggestions=_concentration_caps(program),
        assumptions=assumptions,
    )


def _concentration_caps(program: Program) -> list[Suggestion]:
    suggestions = []
    for ingredient in program.ingredients:
        drug, unit = ingredient.drug, ingredient.drug.dose_unit.value
        hard = drug.concentration_mcg_per_ml.hard_max
        if hard is not None and ingredient.concentration_mcg_per_ml > hard.value:
            suggestions.append(
                Suggestion(
                    f"concentration.{drug.key}",
                    format_concentration(hard.value, unit),
                    f"the largest {drug.key} concentration within its hard limit "
                    f"({hard.provenance})",
                )
            )
    return suggestions


def recipe_program(
    library: Library, result: Recipe, device_key: str, rate_ml_per_day: float | None
) -> tuple[Program, tuple[str, ...]]:
    """The recipe's admixture in a pump at a rate, for the review."""
    try:
        device = library.device(device_key)
    except KeyError as exc:
        raise InputError("--device", str(exc.args[0])) from None
    assumptions = []
    if device_key == DEFAULT_DEVICE:
        assumptions.append(f"reviewed in a {device.name}; give --device for the patient's pump")
    if rate_ml_per_day is None:
        rate_ml_per_day = device.min_rate_ml_per_day.value
        assumptions.append(
            f"reviewed at the device's minimum rate {format_volume_rate(rate_ml_per_day)}: daily "
            "doses are checked only at that rate; give --rate for the prescribed one"
        )
    step = device.rate_step_ml_per_day.value
    rate = round_to_step(rate_ml_per_day, step, Toward.DOWN).value
    lines = [
        'name = "recipe"',
        f"device = {json.dumps(device.key)}",
        f'catheter_volume = "{DEFAULT_CATHETER_ML!r} mL"',
    ]
    for c in result.components:
        lines += [
            "[[drugs]]",
            f"name = {json.dumps(c.drug)}",
            f'concentration = "{c.wanted_mcg_per_ml!r} mcg/mL"',
        ]
    lines += ["[[basal]]", 'start = "00:00"', f'rate = "{max(rate, step)!r} mL/day"']
    program = parse_program("\n".join(lines), library, name="recipe", check_limits=False)
    return program, tuple(assumptions)


def review_recipe(
    program: Program,
    result: Recipe,
    interval_days: float | None,
    acknowledgements: Sequence[Acknowledgement] = (),
    assumptions: Sequence[str] = (),
    filled_at_s: float = 0.0,
) -> AnswerReview:
    reservoir = program.device.reservoir_ml.value
    if result.fill_ml > reservoir:
        raise InputError(
            "--volume",
            f"{format_volume(result.fill_ml)} is more than the reservoir holds "
            f"({format_volume(reservoir)}, {program.device.name}); give --device for the pump",
        )
    refill = _refill(result.fill_ml, interval_days, filled_at_s) if interval_days else None
    part = Part(ReviewInput(new=program, old=None, refill=refill))
    # A recipe alone does not say which program ran before: it is reviewed as a first fill
    # (starting ranges apply, opioid status not stated: the stricter naive range).
    suggestions = _concentration_caps(program)
    if interval_days is not None:
        limit_days, limit_why = _limit_days(program, result.fill_ml, filled_at_s)
        if limit_days < interval_days:
            suggestions.append(Suggestion("interval", f"{_floor(limit_days, 1):g} days", limit_why))
    return combine([part], acknowledgements, suggestions=suggestions, assumptions=assumptions)


# --- bridge and priming boluses --------------------------------------------------------------


def bridge_step_program(old: Program, answer: Bridge) -> Program:
    """The bridge as a program step: the old solution at the bridge rate, all day."""
    return dataclasses.replace(
        old,
        name=f"{old.name} bridge",
        basal=(
            dataclasses.replace(old.basal[0], start_s=0, rate_ml_per_day=answer.rate_ml_per_day),
        ),
        periodic=(),
        demand=None,
        notices=(),
    )


def review_bridge(
    old: Program,
    new: Program,
    answer: Bridge,
    acknowledgements: Sequence[Acknowledgement] = (),
) -> AnswerReview:
    """The bridge step's delivered dose (old concentration x bridge rate) against the daily-dose
    and change limits (fields ``bridge.…``), and the new program that follows it."""
    step = bridge_step_program(old, answer)
    # What the old program already carries (an unapproved drug, its concentration) is not the
    # bridge's to answer for: only what the bridge step adds is kept.
    known = frozenset((f.code, f.field) for f in review(ReviewInput(new=old)).findings)
    bridge_part = Part(ReviewInput(new=step, old=old), "bridge", known)
    # `itp bridge` is by definition the bridge of this change: the transient is covered.
    new_input = ReviewInput(new=new, old=old, bridge_planned=True)
    unit = old.first.drug.dose_unit.value
    delivered = answer.rate_ml_per_day * old.first.concentration_mcg_per_ml
    return combine(
        [bridge_part, Part(new_input)],
        acknowledgements,
        assumptions=(
            f"the bridge delivers {format_dose_rate(delivered, unit)} of {old.first.drug.key} "
            f"(old concentration x bridge rate), reviewed as a program step (fields bridge.…)",
        ),
    )


def priming_findings(program: Program, answer: Priming) -> list[Finding]:
    """The priming bolus against the device and the drug's bolus limits, and its hazard."""
    device = program.device
    findings = []
    high, low = device.max_bolus_rate_ml_per_day, device.min_rate_ml_per_day
    if answer.rate_ml_per_day > high.value:
        findings.append(
            Finding(
                Severity.HARD,
                "PRIMING_RATE_ABOVE_DEVICE_MAX",
                "prime.rate",
                f"{format_volume_rate(answer.rate_ml_per_day)} is above the device's bolus "
                f"maximum {format_volume_rate(high.value)} ({high.provenance})",
                "OPCA-26",
            )
        )
    elif answer.rate_ml_per_day < low.value:
        findings.append(
            Finding(
                Severity.HARD,
                "PRIMING_RATE_BELOW_DEVICE_MIN",
                "prime.rate",
                f"{format_volume_rate(answer.rate_ml_per_day)} is below the device minimum "
                f"{format_volume_rate(low.value)} ({low.provenance})",
            )
        )
    if answer.volume_ml > program.device.reservoir_ml.value:
        findings.append(
            Finding(
                Severity.HARD,
                "PRIMING_VOLUME_ABOVE_RESERVOIR",
                "prime.volume",
                f"{format_volume(answer.volume_ml)} is more than the reservoir holds "
                f"({format_volume(program.device.reservoir_ml.value)})",
            )
        )
    findings.append(Finding(Severity.SOFT, "PRIMING_MIXING_HAZARD", "prime", answer.hazard))
    for index, ingredient in enumerate(program.ingredients):
        drug, unit = ingredient.drug, ingredient.drug.dose_unit.value
        mass = answer.drug_in_priming_volume_mcg[drug.key]
        bounds = drug.bolus_dose_mcg
        for name, limit in (("hard", bounds.hard_max), ("soft", bounds.soft_max)):
            if limit is not None and mass > limit.value:
                findings.append(
                    Finding(
                        Severity.SOFT,
                        "PRIMING_VOLUME_ABOVE_BOLUS_LIMIT",
                        f"prime.drugs[{index}]",
                        f"the priming volume holds {format_mass(mass, unit)} of {drug.key}, above "
                        f"its {name} per-bolus limit {format_mass(limit.value, unit)} "
                        f"({limit.provenance}); with mixing part of it can reach the patient "
                        "early: prime under supervision",
                    )
                )
                break
    return findings


def review_priming(
    program: Program, answer: Priming, acknowledgements: Sequence[Acknowledgement] = ()
) -> AnswerReview:
    findings = priming_findings(program, answer)
    suggestions = []
    high = program.device.max_bolus_rate_ml_per_day.value
    if answer.rate_ml_per_day > high:
        suggestions.append(
            Suggestion(
                "rate",
                format_volume_rate(high),
                f"the device's bolus maximum; the priming then takes "
                f"{answer.volume_ml / high * 24:.2f} h",
            )
        )
    return combine([], acknowledgements, extra=findings, suggestions=suggestions)


__all__ = [
    "DEFAULT_DEVICE",
    "AnswerReview",
    "Part",
    "Suggestion",
    "combine",
    "review_bridge",
    "review_dose",
    "review_priming",
    "review_recipe",
    "review_refill_concentration",
    "review_refill_volume",
    "review_titration",
    "scaled_program",
    "single_drug_program",
]
