"""The clinic's outcome statistics counted where the data is (issue 13, item 12).

``refresh`` rewrites one patient's ``outcome_summary`` rows for a procedure in the transaction
that stores a visit; ``clinic_statistics`` sums those rows in SQL (one query per procedure and
follow-up time point) and hands the counts to ``outcomes.statistics.from_counts``, which makes
the same shares, intervals and warnings as the registry's own ``procedure_statistics``. No
answer is loaded, decoded or re-scored to show a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from intrathecal.outcomes import Period, ProcedureStatistics, Response, validate_responses
from intrathecal.outcomes.responders import SHARES
from intrathecal.outcomes.statistics import (
    SMALL_N,
    ShareCount,
    TimepointCount,
    from_counts,
    procedure_notes,
    wanted_timepoints,
)
from intrathecal.outcomes.summary import EFFECT_KEYS, summary_rows
from intrathecal.outcomes.timepoints import Timepoint, procedure_key
from intrathecal.store.models import OutcomeResponse, OutcomeSummary

FAR_PAST = date(1900, 1, 1)
FAR_FUTURE = date(9999, 12, 31)


def refresh(
    session: Session, patient_id: int, procedure: str, responses: Sequence[Response]
) -> None:
    """Rewrite the summary rows of one patient's ``responses`` to ``procedure`` (all of them)."""
    session.execute(
        delete(OutcomeSummary).where(
            OutcomeSummary.patient_id == patient_id, OutcomeSummary.procedure == procedure
        )
    )
    mine = [r for r in responses if r.procedure == procedure]
    if not mine:
        return
    for row in summary_rows(validate_responses(mine)):
        session.add(
            OutcomeSummary(
                patient_id=patient_id,
                procedure=procedure,
                timepoint=row.timepoint,
                nominal_days=row.nominal_days,
                collected_on=row.collected_on,
                baseline_on=row.baseline_on,
                baseline_mask=row.baseline_mask,
                first=row.first,
                answered_mask=row.answered_mask,
                success_mask=row.success_mask,
                effects_answered=row.effects_answered,
                effects_mask=row.effects_mask,
                review=row.review,
            )
        )
    session.flush()


def rebuild(session: Session) -> int:
    """Every summary row from the stored answers (the migration's backfill); returns rows."""
    from intrathecal.store.outcomes import subject_of, to_response

    session.execute(delete(OutcomeSummary))
    groups: dict[tuple[int, str], list[Response]] = {}
    for row in session.execute(select(OutcomeResponse).order_by(OutcomeResponse.id)).scalars():
        groups.setdefault((row.patient_id, row.procedure), []).append(to_response(row))
    for (patient_id, procedure), responses in groups.items():
        assert all(r.subject == subject_of(patient_id) for r in responses)
        refresh(session, patient_id, procedure, responses)
    return int(session.execute(select(func.count(OutcomeSummary.id))).scalar_one())


def _bit(column: Any, k: int) -> Any:
    return (column.op(">>")(k)).op("&")(1)


def clinic_statistics(
    session: Session,
    *,
    period: Period | None = None,
    as_of: date | None = None,
    procedure: str | None = None,
    timepoints: Sequence[str] | None = None,
    small_n: int = SMALL_N,
) -> tuple[ProcedureStatistics, ...]:
    """``practice_statistics`` of every stored answer (or one procedure), counted in SQL."""
    period = period or Period()
    if procedure is not None:
        procedures = [procedure_key(procedure)]
    else:
        procedures = list(
            session.execute(
                select(OutcomeSummary.procedure)
                .where(OutcomeSummary.collected_on <= (as_of or FAR_FUTURE))
                .distinct()
                .order_by(OutcomeSummary.procedure)
            ).scalars()
        )
    later = 0
    if as_of is not None:
        later = int(
            session.execute(
                select(func.count(OutcomeResponse.id)).where(OutcomeResponse.collected_on > as_of)
            ).scalar_one()
        )
    return tuple(
        _procedure(session, p, period, as_of, timepoints, small_n, later) for p in procedures
    )


def _procedure(
    session: Session,
    procedure: str,
    period: Period,
    as_of: date | None,
    timepoints: Sequence[str] | None,
    small_n: int,
    later: int,
) -> ProcedureStatistics:
    snap = as_of or FAR_FUTURE
    first_day = period.start or FAR_PAST
    last_day = min(period.end or FAR_FUTURE, snap)
    s = OutcomeSummary
    # The cohort's baselines by (mask, date): one query serves every time point's "due".
    baselines = [
        (mask, day, int(n))
        for mask, day, n in session.execute(
            select(s.baseline_mask, s.collected_on, func.count(s.id))
            .where(
                s.procedure == procedure,
                s.timepoint == "baseline",
                s.collected_on >= first_day,
                s.collected_on <= last_day,
            )
            .group_by(s.baseline_mask, s.collected_on)
        )
    ]
    cohort = sum(n for _, _, n in baselines)
    # Follow-ups (dated up to the snapshot) of patients without a baseline.
    orphan_ids = session.execute(
        select(s.patient_id)
        .where(
            s.procedure == procedure,
            s.timepoint != "baseline",
            s.collected_on <= snap,
            s.baseline_on.is_(None),
        )
        .distinct()
    ).scalars()
    orphans = sorted(f"patient-{pid}" for pid in orphan_ids)
    present = session.execute(
        select(s.timepoint)
        .where(
            s.procedure == procedure,
            s.timepoint != "baseline",
            s.collected_on <= snap,
            s.baseline_on >= first_day,
            s.baseline_on <= last_day,
        )
        .distinct()
    ).scalars()
    wanted = wanted_timepoints(procedure, timepoints, set(present))
    counts = [
        _count(session, procedure, tp, as_of, first_day, last_day, cohort, baselines)
        for tp in wanted
    ]
    notes = procedure_notes(as_of, later, 0, orphans, 0)
    return from_counts(procedure, period, as_of, cohort, counts, notes, small_n)


def _count(
    session: Session,
    procedure: str,
    tp: Timepoint,
    as_of: date | None,
    first_day: date,
    last_day: date,
    cohort: int,
    baselines: Sequence[tuple[int, date, int]],
) -> TimepointCount:
    """Two single-table sums: cohort patients due by date (their baseline rows), and the
    follow-up rows at the time point (each carries its patient's baseline). A patient is due
    when the follow-up is due by date or when they answered; each instrument is answered once
    per time point, so a sum of masks over a patient's rows is their OR."""
    s = OutcomeSummary
    snap = as_of or FAR_FUTURE
    due_by = as_of - timedelta(days=tp.nominal_days) if as_of is not None else FAR_FUTURE
    k_range = range(len(SHARES))
    # Rows are grouped by their masks (a few hundred distinct values at most) and the bits
    # decoded here: SQL counts rows, Python reads a handful of groups.
    # A: patients of the cohort whose follow-up is due by date, by baseline mask.
    due_by_date = 0
    eligible = [0] * len(SHARES)
    for mask, day, n in baselines:
        if day > due_by:
            continue
        due_by_date += n
        for k in k_range:
            eligible[k] += n * ((mask >> k) & 1)
    # B: the follow-up rows at this time point of cohort patients, up to the snapshot.
    early = case((s.baseline_on > due_by, 1), else_=0)  # answered before due by date
    completers = [0] * len(SHARES)
    successes = [0] * len(SHARES)
    answered = [0] * len(SHARES)
    responded = early_due = effects_answered = effects_any = review = 0
    effect_counts = dict.fromkeys(EFFECT_KEYS, 0)
    groups = session.execute(
        select(
            s.baseline_mask,
            s.answered_mask,
            s.success_mask,
            s.first,
            early,
            s.effects_answered,
            s.effects_mask,
            s.review,
            func.count(s.id),
        )
        .where(
            s.procedure == procedure,
            s.timepoint == tp.label,
            s.collected_on <= snap,
            s.baseline_on >= first_day,
            s.baseline_on <= last_day,
        )
        .group_by(
            s.baseline_mask,
            s.answered_mask,
            s.success_mask,
            s.first,
            early,
            s.effects_answered,
            s.effects_mask,
            s.review,
        )
    )
    for bm, am, sm, first, is_early, ea, em, rv, n in groups:
        responded += n * first
        early_due += n * first * is_early
        effects_answered += n * ea
        effects_any += n * (em > 0)
        review += n * rv
        for k, key in enumerate(EFFECT_KEYS):
            effect_counts[key] += n * ((em >> k) & 1)
        for k in k_range:
            counted = (bm >> k) & 1
            eligible[k] += n * first * is_early * counted
            completers[k] += n * counted * ((am >> k) & 1)
            successes[k] += n * counted * ((sm >> k) & 1)
            answered[k] += n * ((am >> k) & 1)
    shares = tuple(
        ShareCount(eligible[k], completers[k], successes[k], answered[k] > 0) for k in k_range
    )
    return TimepointCount(
        timepoint=tp,
        cohort=cohort,
        due=due_by_date + early_due,
        responded=responded,
        shares=shares,
        effects_answered=effects_answered,
        effects_any=effects_any,
        effect_counts=effect_counts,
        needing_review=review,
    )
