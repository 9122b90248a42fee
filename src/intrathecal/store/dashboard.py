"""The clinic's worklists: refills due and overdue, predicted alarms, open alarms, devices to
replace, and the refill calendar. Reads the patients' derived status columns (indexed) so the
dashboard stays fast with tens of thousands of patients."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from intrathecal.store.models import Alarm, Implant, Patient, Stage

LIST_LIMIT = 100


@dataclass
class Dashboard:
    due_this_week: list[Patient]
    overdue: list[Patient]
    predicted_low_alarms: list[Patient]
    open_alarms: list[tuple[Alarm, Patient]]
    replacements: list[tuple[Implant, Patient]]
    counts: dict[str, int]


def build(session: Session, now: datetime, replace_within_days: int = 180) -> Dashboard:
    week = now + timedelta(days=7)
    implanted = Patient.stage == Stage.IMPLANTED.value
    due = select(Patient).where(
        implanted, Patient.next_refill_due_at >= now, Patient.next_refill_due_at < week
    )
    overdue = select(Patient).where(implanted, Patient.next_refill_due_at < now)
    low = select(Patient).where(implanted, Patient.low_alarm_at < week)
    newer = aliased(Implant)
    current = ~select(newer.id).where(newer.replaces_implant_id == Implant.id).exists()
    replace = (
        select(Implant, Patient)
        .join(Patient, Patient.id == Implant.patient_id)
        .where(current, Implant.replace_by < now + timedelta(days=replace_within_days))
    )
    open_alarms = (
        select(Alarm, Patient)
        .join(Patient, Patient.id == Alarm.patient_id)
        .where(Alarm.cleared_at.is_(None))
    )

    def count(query: object) -> int:
        sub = query.subquery()  # type: ignore[attr-defined]
        return int(session.execute(select(func.count()).select_from(sub)).scalar_one())

    return Dashboard(
        due_this_week=list(
            session.execute(due.order_by(Patient.next_refill_due_at).limit(LIST_LIMIT)).scalars()
        ),
        overdue=list(
            session.execute(
                overdue.order_by(Patient.next_refill_due_at).limit(LIST_LIMIT)
            ).scalars()
        ),
        predicted_low_alarms=list(
            session.execute(low.order_by(Patient.low_alarm_at).limit(LIST_LIMIT)).scalars()
        ),
        open_alarms=[
            (a, p)
            for a, p in session.execute(
                open_alarms.order_by(Alarm.raised_at.desc()).limit(LIST_LIMIT)
            ).tuples()
        ],
        replacements=[
            (i, p)
            for i, p in session.execute(
                replace.order_by(Implant.replace_by).limit(LIST_LIMIT)
            ).tuples()
        ],
        counts={
            "due_this_week": count(due),
            "overdue": count(overdue),
            "predicted_low_alarms": count(low),
            "open_alarms": count(open_alarms),
            "replacements": count(replace),
        },
    )


def calendar(session: Session, start: datetime, end: datetime) -> list[Patient]:
    """Implanted patients whose next refill falls in [start, end)."""
    return list(
        session.execute(
            select(Patient)
            .where(
                and_(
                    Patient.stage == Stage.IMPLANTED.value,
                    Patient.next_refill_due_at >= start,
                    Patient.next_refill_due_at < end,
                )
            )
            .order_by(Patient.next_refill_due_at)
        ).scalars()
    )
