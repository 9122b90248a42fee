"""Honest clinic statistics: shares with Wilson intervals, both ways of counting missing answers.

A clinic's statement "83% of our patients report a better quality of life" hides three choices:
who was asked (the cohort), what counts as better (the definition) and what happened to the
patients who did not answer. Here every share comes with its definition, its count, a 95%
Wilson score interval, and two denominators:

- completers only: the patients who answered the follow-up question;
- missing as not improved: every patient whose follow-up was due, non-answers counted as not
  improved (patients doing badly answer less often, so completers-only tends to flatter).

The cohort of a procedure in a period is the patients whose baseline falls in the period.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from intrathecal.outcomes.instruments import SIDE_EFFECT_LABELS
from intrathecal.outcomes.records import Period, Response
from intrathecal.outcomes.responders import SHARES, ScoreRef, ShareDefinition
from intrathecal.outcomes.timepoints import (
    Timepoint,
    follow_ups_for,
    parse_timepoint,
    procedure_key,
    procedure_label,
)
from intrathecal.outcomes.validation import Checked, episode_name, validate_responses
from intrathecal.units import InputError

Z95 = 1.959963984540054  # standard normal 97.5th percentile: two-sided 95%
SMALL_N = 20  # below this many answers an interval is wide enough to say so every time
LOW_RESPONSE_RATE = 0.8


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion, without continuity correction.

    centre = (p + z²/2n) / (1 + z²/n);  half = z / (1 + z²/n) · √(p(1-p)/n + z²/4n²).
    """
    if n <= 0:
        raise ValueError("an interval needs n >= 1")
    if not 0 <= successes <= n:
        raise ValueError("successes must lie in 0..n")
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # Clamp float noise at the ends (0 of n gives exactly 0, n of n exactly 1).
    low = 0.0 if successes == 0 else max(0.0, min(p, centre - half))
    high = 1.0 if successes == n else min(1.0, max(p, centre + half))
    return low, high


@dataclass(frozen=True)
class Proportion:
    """``successes`` of ``n``; estimate and 95% Wilson interval are None when n is 0."""

    successes: int
    n: int
    estimate: float | None = field(init=False)
    low: float | None = field(init=False)
    high: float | None = field(init=False)

    def __post_init__(self) -> None:
        if self.n < 0 or not 0 <= self.successes <= max(self.n, 0):
            raise ValueError(f"bad proportion {self.successes}/{self.n}")
        if self.n == 0:
            values: tuple[float | None, float | None, float | None] = (None, None, None)
        else:
            low, high = wilson_interval(self.successes, self.n)
            values = (self.successes / self.n, low, high)
        object.__setattr__(self, "estimate", values[0])
        object.__setattr__(self, "low", values[1])
        object.__setattr__(self, "high", values[2])

    def describe(self) -> str:
        """'8 of 10 (80%, 95% CI 49% to 94%)' or '0 of 0 (no answers)'."""
        if self.estimate is None or self.low is None or self.high is None:
            return f"{self.successes} of {self.n} (no answers)"
        return (
            f"{self.successes} of {self.n} ({percent(self.estimate)}, 95% CI "
            f"{percent(self.low)} to {percent(self.high)})"
        )


def percent(fraction: float) -> str:
    return f"{100 * fraction:.0f}%"


@dataclass(frozen=True)
class ShareResult:
    definition: ShareDefinition
    completers: Proportion  # successes / patients who answered
    missing_as_not_improved: Proportion  # successes / patients due (non-answers = not improved)
    missing: int  # due, with a baseline, but no answer at this follow-up
    no_baseline: int  # due but left out: the baseline measure this share needs is missing
    warnings: tuple[str, ...]
    small_n: bool = False  # answered by fewer than SMALL_N (but at least one) patients
    # False when no patient of the cohort answered the instrument at this time point: the
    # clinic did not ask it there, so "0% improved" would be a false statement.
    asked: bool = True

    @property
    def key(self) -> str:
        return self.definition.key

    def statement(self, timepoint: str) -> str:
        """One honest sentence a clinic may publish, with both denominators."""
        d = self.definition
        c, m = self.completers, self.missing_as_not_improved
        if not self.asked:
            return f"{d.label} at {timepoint}: not asked (no patient answered it at {timepoint})."
        if c.n == 0:
            return f"{d.label} at {timepoint}: no answers yet ({m.n} patients due)."
        who = (
            "the 1 who did not answer is"
            if self.missing == 1
            else (f"the {self.missing} who did not answer are")
        )
        return (
            f"{d.label} at {timepoint}: {c.describe()} of the patients who answered; "
            f"{m.describe()} when {who} counted as not improved. Definition: {d.definition}."
        )


@dataclass(frozen=True)
class SideEffectSummary:
    answered: int
    any_effect: Proportion
    counts: dict[str, int]  # effect key -> patients reporting it
    needing_review: int  # patients with at least one answer flagged for clinician review


@dataclass(frozen=True)
class TimepointStatistics:
    timepoint: str
    nominal_days: int
    due: int  # cohort patients whose follow-up is due by as_of, plus any who already answered
    responded: int
    not_yet_due: int
    response_rate: Proportion
    shares: tuple[ShareResult, ...]
    side_effects: SideEffectSummary
    warnings: tuple[str, ...]

    def share(self, key: str) -> ShareResult:
        for share in self.shares:
            if share.key == key:
                return share
        raise KeyError(key)


@dataclass(frozen=True)
class ProcedureStatistics:
    procedure: str
    procedure_label: str
    period: Period
    as_of: date | None
    cohort: int  # patients with a baseline in the period
    timepoints: tuple[TimepointStatistics, ...]
    notes: tuple[str, ...]
    method: str = (
        "95% Wilson score intervals (no continuity correction). Completers only: patients who "
        "answered the item at that follow-up. Missing as not improved: every cohort patient "
        "whose follow-up was due by the as-of date (or who answered), non-answers counted as "
        "not improved. Cohort: patients whose baseline falls in the period."
    )

    def at(self, timepoint: str) -> TimepointStatistics:
        label = parse_timepoint(timepoint).label
        for stats in self.timepoints:
            if stats.timepoint == label:
                return stats
        raise KeyError(timepoint)


@dataclass
class _Subject:
    baseline_day: date | None = None
    has_baseline: bool = False
    scores: dict[str, dict[ScoreRef, int]] = field(default_factory=lambda: defaultdict(dict))
    answered: set[str] = field(default_factory=set)
    side_effects: dict[str, tuple[list[str], bool]] = field(default_factory=dict)


def _subjects(checked: Sequence[Checked], procedure: str) -> dict[str, _Subject]:
    """Per patient and episode (a repeated procedure counts again, with its own baseline)."""
    subjects: dict[str, _Subject] = defaultdict(_Subject)
    for c in checked:
        r = c.response
        if r.procedure != procedure:
            continue
        s = subjects[episode_name(r.subject, r.episode)]
        label = c.timepoint.label
        if c.timepoint.is_baseline:
            s.has_baseline = True
            if r.collected_on is not None and (
                s.baseline_day is None or r.collected_on < s.baseline_day
            ):
                s.baseline_day = r.collected_on
        else:
            s.answered.add(label)
        for score, value in c.scored.scores.items():
            s.scores[label][(r.instrument, score)] = int(value)
        if r.instrument == "side-effects":
            effects = [k for k in SIDE_EFFECT_LABELS if r.answers.get(k) == 1]
            s.side_effects[label] = (effects, bool(c.scored.review))
    return subjects


def procedure_statistics(
    responses: Sequence[Response],
    procedure: str,
    *,
    period: Period | None = None,
    as_of: date | None = None,
    timepoints: Sequence[str] | None = None,
    small_n: int = SMALL_N,
) -> ProcedureStatistics:
    """Every share of one procedure at each follow-up time point, for patients treated in period.

    ``as_of`` decides which follow-ups are due (baseline date + nominal length <= as_of); when it
    is None every patient in the cohort counts as due, and a warning says so. Raises
    ``InvalidOutcomesError`` if any response is invalid (nothing is reported then).
    """
    key = procedure_key(procedure)
    valid = validate_responses(responses)
    checked = snapshot(valid, as_of)
    return _statistics(
        checked, key, period or Period(), as_of, timepoints, small_n, len(valid) - len(checked)
    )


def practice_statistics(
    responses: Sequence[Response],
    *,
    period: Period | None = None,
    as_of: date | None = None,
    small_n: int = SMALL_N,
) -> tuple[ProcedureStatistics, ...]:
    """``procedure_statistics`` for every procedure present, in name order."""
    return checked_statistics(
        validate_responses(responses), period=period, as_of=as_of, small_n=small_n
    )


def checked_statistics(
    valid: Sequence[Checked],
    *,
    procedure: str | None = None,
    period: Period | None = None,
    as_of: date | None = None,
    timepoints: Sequence[str] | None = None,
    small_n: int = SMALL_N,
) -> tuple[ProcedureStatistics, ...]:
    """Statistics of responses already checked together (``validate_responses`` or
    ``parse_checked_csv``): every procedure present, or only ``procedure``."""
    checked = snapshot(valid, as_of)
    later = len(valid) - len(checked)
    if procedure is not None:
        procedures = [procedure_key(procedure)]
    else:
        procedures = sorted({c.response.procedure for c in checked})
    return tuple(
        _statistics(checked, p, period or Period(), as_of, timepoints, small_n, later)
        for p in procedures
    )


def snapshot(checked: Sequence[Checked], as_of: date | None) -> list[Checked]:
    """The registry as it stood on ``as_of``: answers dated after it are left out (baselines
    too), so a report "as of" a past date gives the figures that date would have given."""
    if as_of is None:
        return list(checked)
    return [
        c for c in checked if c.response.collected_on is None or c.response.collected_on <= as_of
    ]


@dataclass(frozen=True)
class ShareCount:
    """One share at one time point, as counts: where the data is (SQL) or from the records."""

    eligible: int  # due, with the baseline measure the share needs
    completers: int  # eligible and answered at the time point
    successes: int  # completers who meet the definition
    asked: bool  # any cohort patient answered the share's instrument at the time point


@dataclass(frozen=True)
class TimepointCount:
    timepoint: Timepoint
    cohort: int
    due: int
    responded: int
    shares: tuple[ShareCount, ...]  # in the order of SHARES
    effects_answered: int = 0
    effects_any: int = 0
    effect_counts: dict[str, int] = field(default_factory=dict)
    needing_review: int = 0


def procedure_notes(
    as_of: date | None,
    later: int,
    repeated: int,
    orphans: Sequence[str],
    undated: int,
) -> list[str]:
    """The notes every view of a procedure's statistics carries, in one wording."""
    notes: list[str] = []
    if later and as_of is not None:
        notes.append(
            f"{later} response(s) in the data dated after {as_of.isoformat()} are left out "
            "(the report shows the registry as it stood on that date)"
        )
    if repeated:
        notes.append(
            f"{repeated} repeated procedure(s) counted as episodes of their own, each with its "
            "own baseline"
        )
    if orphans:
        notes.append(
            f"{len(orphans)} patient(s) with follow-ups but no baseline were left out: "
            f"{', '.join(orphans)}"
        )
    if as_of is None:
        notes.append(
            "no as-of date given: every patient in the cohort counts as due at every follow-up"
        )
    elif undated:
        notes.append(
            f"{undated} patient(s) have no dated baseline and count as due at every follow-up"
        )
    return notes


def wanted_timepoints(
    procedure: str, timepoints: Sequence[str] | None, present: Collection[str]
) -> list[Timepoint]:
    """The follow-ups asked for, else those answered in the cohort, else the schedule."""
    if timepoints is not None:
        wanted = sorted({parse_timepoint(t, "timepoint") for t in timepoints})
        if any(t.is_baseline for t in wanted):
            raise InputError("timepoint", "statistics are for follow-ups, not for 'baseline'")
        return wanted
    return sorted({parse_timepoint(label) for label in present}) or list(follow_ups_for(procedure))


def from_counts(
    procedure: str,
    period: Period,
    as_of: date | None,
    cohort: int,
    counts: Sequence[TimepointCount],
    notes: Sequence[str],
    small_n: int = SMALL_N,
) -> ProcedureStatistics:
    """Statistics from counts: the one place shares, intervals and warnings are made."""
    return ProcedureStatistics(
        procedure=procedure,
        procedure_label=procedure_label(procedure),
        period=period,
        as_of=as_of,
        cohort=cohort,
        timepoints=tuple(_timepoint_result(c, small_n) for c in counts),
        notes=tuple(notes),
    )


def _statistics(
    checked: Sequence[Checked],
    procedure: str,
    period: Period,
    as_of: date | None,
    timepoints: Sequence[str] | None,
    small_n: int,
    later: int = 0,
) -> ProcedureStatistics:
    subjects = _subjects(checked, procedure)
    repeated = sum(1 for name in subjects if " (episode " in name)
    orphans = sorted(s for s, v in subjects.items() if not v.has_baseline)
    undated = sorted(s for s, v in subjects.items() if v.has_baseline and v.baseline_day is None)
    if undated and not period.unbounded:
        raise InputError(
            "period",
            f"{len(undated)} patient(s) have no dated baseline (collected_on), so they cannot be "
            "placed in a period (is this a de-identified file?); report without a period",
        )
    cohort = {s: v for s, v in subjects.items() if v.has_baseline and _in_period(v, period)}
    notes = procedure_notes(as_of, later, repeated, orphans, len(undated))
    present = {label for v in cohort.values() for label in v.answered}
    wanted = wanted_timepoints(procedure, timepoints, present)
    counts = [_count(cohort, tp, as_of) for tp in wanted]
    return from_counts(procedure, period, as_of, len(cohort), counts, notes, small_n)


def _in_period(subject: _Subject, period: Period) -> bool:
    if period.unbounded:
        return True
    return subject.baseline_day is not None and period.contains(subject.baseline_day)


def _is_due(subject: _Subject, tp: Timepoint, as_of: date | None) -> bool:
    if as_of is None or subject.baseline_day is None:
        return True
    return subject.baseline_day + timedelta(days=tp.nominal_days) <= as_of


def _count(cohort: dict[str, _Subject], tp: Timepoint, as_of: date | None) -> TimepointCount:
    label = tp.label
    considered = [v for v in cohort.values() if label in v.answered or _is_due(v, tp, as_of)]
    asked_refs = {ref for v in cohort.values() for ref in v.scores.get(label, {})}
    shares = []
    for d in SHARES:
        eligible = completers = successes = 0
        for subject in considered:
            baseline = None
            if d.baseline is not None:
                baseline = subject.scores.get("baseline", {}).get(d.baseline)
                if baseline is None:
                    continue
            eligible += 1
            follow_up = subject.scores.get(label, {}).get(d.follow_up)
            if follow_up is None:
                continue
            completers += 1
            successes += d.responds(baseline, follow_up)
        shares.append(ShareCount(eligible, completers, successes, d.follow_up in asked_refs))
    answered = [v.side_effects[label] for v in considered if label in v.side_effects]
    return TimepointCount(
        timepoint=tp,
        cohort=len(cohort),
        due=len(considered),
        responded=sum(1 for v in considered if label in v.answered),
        shares=tuple(shares),
        effects_answered=len(answered),
        effects_any=sum(bool(effects) for effects, _ in answered),
        effect_counts={
            key: sum(key in effects for effects, _ in answered) for key in SIDE_EFFECT_LABELS
        },
        needing_review=sum(review for _, review in answered),
    )


def _timepoint_result(c: TimepointCount, small_n: int) -> TimepointStatistics:
    label = c.timepoint.label
    shares = tuple(
        _share(d, sc, c.due, label, small_n) for d, sc in zip(SHARES, c.shares, strict=True)
    )
    rate = Proportion(c.responded, c.due)
    warnings: list[str] = []
    if not c.due:
        warnings.append(f"no patient's {label} follow-up is due yet: nothing to report")
    elif rate.estimate is not None and rate.estimate < LOW_RESPONSE_RATE:
        warnings.append(
            f"only {rate.describe()} of the patients due at {label} answered; completers-only "
            "shares may overstate the outcome (patients doing badly answer less often): quote "
            "the missing-as-not-improved share beside it"
        )
    not_yet = c.cohort - c.due
    if not_yet:
        warnings.append(f"{not_yet} patient(s) not yet due at {label} are not counted")
    return TimepointStatistics(
        timepoint=label,
        nominal_days=c.timepoint.nominal_days,
        due=c.due,
        responded=c.responded,
        not_yet_due=not_yet,
        response_rate=rate,
        shares=shares,
        side_effects=SideEffectSummary(
            answered=c.effects_answered,
            any_effect=Proportion(c.effects_any, c.effects_answered),
            counts={key: c.effect_counts.get(key, 0) for key in SIDE_EFFECT_LABELS},
            needing_review=c.needing_review,
        ),
        warnings=tuple(warnings),
    )


def _share(d: ShareDefinition, sc: ShareCount, due: int, label: str, small_n: int) -> ShareResult:
    done = Proportion(sc.successes, sc.completers)
    itt = Proportion(sc.successes, sc.eligible if sc.asked else 0)
    warnings: list[str] = []
    if not sc.asked:
        warnings.append(f"{d.label}: not asked at {label} (no patient answered it there)")
    elif sc.completers == 0:
        warnings.append(f"{d.label}: no answers at {label}; no share can be given")
    elif sc.completers < small_n:
        warnings.append(
            f"{d.label}: only {sc.completers} answer(s) at {label} (fewer than {small_n}); the "
            f"95% interval runs from {percent(done.low or 0.0)} to {percent(done.high or 0.0)}: "
            "do not quote the share without it"
        )
    return ShareResult(
        definition=d,
        completers=done,
        missing_as_not_improved=itt,
        missing=sc.eligible - sc.completers,
        no_baseline=due - sc.eligible,
        warnings=tuple(warnings),
        small_n=0 < sc.completers < small_n,
        asked=sc.asked,
    )
