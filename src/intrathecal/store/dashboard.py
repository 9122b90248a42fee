"""The clinic's worklists: refills due and overdue, predicted alarms, open alarms, devices to
replace, and the refill calendar. Reads the patients' derived status columns (indexed) so the
dashboard stays fast with tens of thousands of patients."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import Session, aliased

from intrathecal.store import json_read, mri
from intrathecal.store.json_read import Listing
from intrathecal.store.models import Alarm, Implant, Patient, Stage
from intrathecal.store.records import voided_ids
from intrathecal.store.types import UTCDateTime

LIST_LIMIT = 100


class PatientRow(NamedTuple):
    """A patient as a worklist shows it: the columns read, not a tracked ORM object (building
    those was a fifth of a dashboard request)."""

    id: int
    mrn: str
    name: str
    birth_date: date
    sex: str
    stage: str
    next_refill_due_at: datetime | None
    low_alarm_at: datetime | None


PATIENT_COLUMNS = (
    Patient.id,
    Patient.mrn,
    Patient.name,
    Patient.birth_date,
    Patient.sex,
    Patient.stage,
    Patient.next_refill_due_at,
    Patient.low_alarm_at,
)


@dataclass
class Dashboard:
    due_this_week: list[PatientRow]
    overdue: list[PatientRow]
    predicted_low_alarms: list[PatientRow]
    open_alarms: list[tuple[Alarm, PatientRow]]
    replacements: list[tuple[Implant, PatientRow]]
    counts: dict[str, int]
    # Post-MRI tasks: scans whose pump is not yet confirmed delivering (store/mri.py).
    post_mri: list[tuple[Any, Any]] = field(default_factory=list)


COUNTED = ("due_this_week", "overdue", "predicted_low_alarms", "open_alarms", "replacements")


@cache
def _worklists(limit: int) -> tuple[tuple[Any, ...], tuple[Listing, ...]]:
    """The dashboard's five counts and five lists (in the order of COUNTED), built once per
    process with the instants as bound parameters (``now``, ``week``, ``replace_before``):
    building them anew on each request was most of its time (SQLAlchemy's construction, not
    the database). Each list is ordered to the row (then by id), so both databases list the same
    rows in the same order."""
    now, week = bindparam("now", type_=UTCDateTime), bindparam("week", type_=UTCDateTime)
    replace_before = bindparam("replace_before", type_=UTCDateTime)
    implanted = Patient.stage == Stage.IMPLANTED.value
    due = (implanted, Patient.next_refill_due_at >= now, Patient.next_refill_due_at < week)
    overdue = (implanted, Patient.next_refill_due_at < now)
    low = (implanted, Patient.low_alarm_at < week)
    # A voided implant is no one's device; one replaced only by a voided implant is current again.
    # Both as NOT IN a set read once (the voided implants, the implants a counted implant
    # replaced): few rows, where a NOT EXISTS per implant made PostgreSQL hash every implant
    # and probe the voids for each (9 ms of a 11 ms dashboard query at 10,000 patients).
    newer = aliased(Implant)
    replaced = select(newer.replaces_implant_id).where(
        newer.replaces_implant_id.is_not(None), newer.id.not_in(voided_ids("implant"))
    )
    replace = (
        Implant.id.not_in(replaced),
        Implant.id.not_in(voided_ids("implant")),
        Implant.replace_by < replace_before,
    )
    unanswered = (Alarm.cleared_at.is_(None), Alarm.id.not_in(voided_ids("alarm")))

    def count(model: type[Any], where: tuple[Any, ...]) -> Any:
        # Counted on the one table (its indexes suffice), not on the listed join: joining
        # every row to its patient only to count it cost milliseconds per thousand rows.
        return select(func.count()).select_from(model).where(*where).scalar_subquery()

    def patients(where: tuple[Any, ...], by: Any) -> Listing:
        return Listing(PATIENT_COLUMNS, where, (by, Patient.id), limit)

    def with_patient(model: type[Any], where: tuple[Any, ...], order: tuple[Any, ...]) -> Listing:
        columns = (*model.__table__.columns, *PATIENT_COLUMNS)
        return Listing(columns, where, order, limit, ((Patient, Patient.id == model.patient_id),))

    counts = (
        count(Patient, due),
        count(Patient, overdue),
        count(Patient, low),
        count(Alarm, unanswered),
        count(Implant, replace),
    )
    lists = (
        patients(due, Patient.next_refill_due_at),
        patients(overdue, Patient.next_refill_due_at),
        patients(low, Patient.low_alarm_at),
        with_patient(Alarm, unanswered, (Alarm.raised_at.desc(), Alarm.id.desc())),
        with_patient(Implant, replace, (Implant.replace_by, Implant.id)),
    )
    return counts, lists


def build(
    session: Session, now: datetime, replace_within_days: int = 180, limit: int = LIST_LIMIT
) -> Dashboard:
    """The worklists (at most ``limit`` rows each, most urgent first) and their full counts:
    on PostgreSQL one statement in all (store/json_read.py), a round trip each was a tenth of
    a dashboard view's CPU with 20 users."""
    counts, lists = _worklists(limit)
    at = {
        "now": now,
        "week": now + timedelta(days=7),
        "replace_before": now + timedelta(days=replace_within_days),
    }
    values, (due, overdue, low, alarms, implants) = json_read.listings(session, counts, lists, at)

    def with_patient(model: type[Any], rows: list[tuple[Any, ...]]) -> list[Any]:
        keys = [c.key for c in model.__table__.columns]
        return [
            (json_read.entity(model, zip(keys, row, strict=False)), PatientRow(*row[len(keys) :]))
            for row in rows
        ]

    board = Dashboard(
        due_this_week=[PatientRow(*row) for row in due],
        overdue=[PatientRow(*row) for row in overdue],
        predicted_low_alarms=[PatientRow(*row) for row in low],
        open_alarms=with_patient(Alarm, alarms),
        replacements=with_patient(Implant, implants),
        counts={name: int(value) for name, value in zip(COUNTED, values, strict=True)},
    )
    board.post_mri = mri.open_tasks(session, now, limit)  # issue 12: the post-MRI hook
    return board


def calendar(session: Session, start: datetime, end: datetime) -> list[PatientRow]:
    """Implanted patients whose next refill falls in [start, end)."""
    query = (
        select(*PATIENT_COLUMNS)
        .where(
            and_(
                Patient.stage == Stage.IMPLANTED.value,
                Patient.next_refill_due_at >= start,
                Patient.next_refill_due_at < end,
            )
        )
        .order_by(Patient.next_refill_due_at)
    )
    return [PatientRow(*row) for row in session.execute(query)]


def due_counts(session: Session, bounds: list[tuple[datetime, datetime]]) -> list[int]:
    """How many implanted patients are due in each [start, end) of ``bounds`` (the calendar's
    days, cut in the clinic's zone by the caller): one round trip, each count a range of the
    (stage, next_refill_due_at) index, no patient row read."""
    if not bounds:
        return []
    values: dict[str, datetime] = {}
    for i, (start, end) in enumerate(bounds):
        values |= {f"s{i}": start, f"e{i}": end}
    row = session.execute(_due_counts_query(len(bounds)), values).one()
    return [int(n) for n in row]


@lru_cache(maxsize=8)
def _due_counts_query(days: int) -> Any:
    # Built once per number of days (the calendar asks for 22 to 28): building the 28 counts
    # anew was two thirds of a calendar page's time, SQLAlchemy's work, not the database's.
    implanted = Patient.stage == Stage.IMPLANTED.value

    def count(i: int) -> Any:
        start = bindparam(f"s{i}", type_=UTCDateTime)
        end = bindparam(f"e{i}", type_=UTCDateTime)
        due = (implanted, Patient.next_refill_due_at >= start, Patient.next_refill_due_at < end)
        return select(func.count()).select_from(Patient).where(*due).scalar_subquery()

    return select(*(count(i) for i in range(days)))


def due_by_rank(
    session: Session, start: datetime, end: datetime, first: int, count: int
) -> list[PatientRow]:
    """The implanted patients due in [start, end), in due order (then id), ranks ``first`` to
    ``first + count - 1``: one booked day of the refill calendar (clinical/clinic_days.py)."""
    if count <= 0:
        return []
    query = (
        select(*PATIENT_COLUMNS)
        .where(
            Patient.stage == Stage.IMPLANTED.value,
            Patient.next_refill_due_at >= start,
            Patient.next_refill_due_at < end,
        )
        .order_by(Patient.next_refill_due_at, Patient.id)
        .offset(first)
        .limit(count)
    )
    return [PatientRow(*row) for row in session.execute(query)]
