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

from sqlalchemy import and_, case, delete, func, or_, select
from sqlalchemy.orm import Session, aliased

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
                baseline_mask=row.baseline_mask,
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
    b = aliased(OutcomeSummary)
    f = aliased(OutcomeSummary)
    in_cohort = and_(
        b.procedure == procedure,
        b.timepoint == "baseline",
        b.collected_on >= (period.start or FAR_PAST),
        b.collected_on <= min(period.end or FAR_FUTURE, snap),
    )
    cohort = int(session.execute(select(func.count(b.id)).where(in_cohort)).scalar_one())
    # Follow-ups (dated up to the snapshot) of patients without a baseline by then.
    has_base = (
        select(b.id)
        .where(
            b.patient_id == f.patient_id,
            b.procedure == procedure,
            b.timepoint == "baseline",
            b.collected_on <= snap,
        )
        .exists()
    )
    orphan_ids = session.execute(
        select(f.patient_id)
        .where(
            f.procedure == procedure, f.timepoint != "baseline", f.collected_on <= snap, ~has_base
        )
        .distinct()
    ).scalars()
    orphans = sorted(f"patient-{pid}" for pid in orphan_ids)
    present = session.execute(
        select(f.timepoint)
        .join(b, and_(b.patient_id == f.patient_id, in_cohort))
        .where(f.procedure == procedure, f.timepoint != "baseline", f.collected_on <= snap)
        .distinct()
    ).scalars()
    wanted = wanted_timepoints(procedure, timepoints, set(present))
    counts = [_count(session, procedure, in_cohort, b, f, tp, as_of, cohort) for tp in wanted]
    notes = procedure_notes(as_of, later, 0, orphans, 0)
    return from_counts(procedure, period, as_of, cohort, counts, notes, small_n)


def _count(
    session: Session,
    procedure: str,
    in_cohort: Any,
    b: Any,
    f: Any,
    tp: Timepoint,
    as_of: date | None,
    cohort: int,
) -> TimepointCount:
    snap = as_of or FAR_FUTURE
    # Per patient of the cohort: their baseline mask and the sums of their follow-up rows at
    # this time point (an instrument is answered once per time point, so a sum of masks is
    # their OR).
    per = (
        select(
            b.patient_id.label("pid"),
            b.baseline_mask.label("bm"),
            b.collected_on.label("bd"),
            func.count(f.id).label("nf"),
            func.coalesce(func.sum(f.answered_mask), 0).label("am"),
            func.coalesce(func.sum(f.success_mask), 0).label("sm"),
            func.coalesce(func.sum(f.effects_answered), 0).label("ea"),
            func.coalesce(func.sum(f.effects_mask), 0).label("em"),
            func.coalesce(func.sum(f.review), 0).label("rv"),
        )
        .select_from(b)
        .outerjoin(
            f,
            and_(
                f.patient_id == b.patient_id,
                f.procedure == b.procedure,
                f.timepoint == tp.label,
                f.collected_on <= snap,
            ),
        )
        .where(in_cohort)
        .group_by(b.patient_id, b.baseline_mask, b.collected_on)
        .subquery()
    )
    due_by = as_of - timedelta(days=tp.nominal_days) if as_of is not None else FAR_FUTURE
    due = case((or_(per.c.nf > 0, per.c.bd <= due_by), 1), else_=0)
    columns: list[Any] = [
        func.coalesce(func.sum(due), 0),
        func.coalesce(func.sum(case((per.c.nf > 0, 1), else_=0)), 0),
    ]
    for k in range(len(SHARES)):
        eligible = _bit(per.c.bm, k)
        columns += [
            func.coalesce(func.sum(due * eligible), 0),
            func.coalesce(func.sum(due * eligible * _bit(per.c.am, k)), 0),
            func.coalesce(func.sum(due * eligible * _bit(per.c.sm, k)), 0),
            func.coalesce(func.sum(_bit(per.c.am, k)), 0),  # asked: anyone of the cohort
        ]
    columns += [
        func.coalesce(func.sum(due * case((per.c.ea > 0, 1), else_=0)), 0),
        func.coalesce(func.sum(due * case((per.c.em > 0, 1), else_=0)), 0),
        func.coalesce(func.sum(due * case((per.c.rv > 0, 1), else_=0)), 0),
    ]
    columns += [
        func.coalesce(func.sum(due * _bit(per.c.em, k)), 0) for k in range(len(EFFECT_KEYS))
    ]
    values = [int(v) for v in session.execute(select(*columns).select_from(per)).one()]
    shares = tuple(
        ShareCount(values[2 + 4 * k], values[3 + 4 * k], values[4 + 4 * k], values[5 + 4 * k] > 0)
        for k in range(len(SHARES))
    )
    rest = values[2 + 4 * len(SHARES) :]
    return TimepointCount(
        timepoint=tp,
        cohort=cohort,
        due=values[0],
        responded=values[1],
        shares=shares,
        effects_answered=rest[0],
        effects_any=rest[1],
        effect_counts=dict(zip(EFFECT_KEYS, rest[3:], strict=True)),
        needing_review=rest[2],
    )
