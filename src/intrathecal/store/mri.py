"""MRI scans of pump patients: the plan's inputs, the post-scan confirmation, and the dashboard's
post-MRI tasks (issue 12, item 11).

The plan itself (before/after steps, withheld drug and withdrawal risk) is computed by
clinical/mri.py from the stored inputs and the program in force, each time it is shown, so it
always follows the current program. Records are append-only: a scan is planned once, confirmed
once; the server's clock dates both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from intrathecal.clinical.mri import MAX_SCAN_S, MriPlan, mri_plan
from intrathecal.store import programs, records
from intrathecal.store.errors import ConflictError
from intrathecal.store.models import MriConfirmation, MriScan, Patient, Stage
from intrathecal.store.types import UTCDateTime
from intrathecal.units import InputError

HOUR = 3600.0
# A scan further back than this cannot be planned now (a plan is made before the scan; a scan
# already done is confirmed, not planned).
PAST_SLACK = timedelta(hours=1)
MAX_AHEAD = timedelta(days=366)


@dataclass(frozen=True)
class ScanInput:
    scan_at: datetime  # aware
    scan_minutes: int
    field_t: float
    empty_hours_before: float | None = None
    restart_hours_after: float | None = None


@dataclass(frozen=True)
class ScanView:
    scan: MriScan
    confirmation: MriConfirmation | None
    plan: MriPlan | None
    problem: str  # why there is no plan (no program in force, ...)


def validate(data: ScanInput, now: datetime) -> None:
    if data.scan_at < now - PAST_SLACK:
        raise InputError("scan_at", "is in the past: plan a scan before it happens")
    if data.scan_at > now + MAX_AHEAD:
        raise InputError("scan_at", "is more than a year ahead")
    if not 1 <= data.scan_minutes <= MAX_SCAN_S / 60:
        raise InputError("scan_minutes", f"must be from 1 to {MAX_SCAN_S / 60:.0f} min")
    if data.field_t not in (1.5, 3.0):
        raise InputError("field_t", "must be 1.5 or 3 (tesla)")
    if data.empty_hours_before is not None and not 0 <= data.empty_hours_before <= 48:
        raise InputError("empty_hours_before", "must be from 0 to 48 h")
    if data.restart_hours_after is not None and not 0 <= data.restart_hours_after <= 72:
        raise InputError("restart_hours_after", "must be from 0 to 72 h")


def plan_scan(
    session: Session, patient: Patient, data: ScanInput, actor: str, now: datetime
) -> MriScan:
    """Store a planned scan (and its audit entry); the caller commits."""
    if patient.stage != Stage.IMPLANTED.value:
        raise InputError("patient", "has no implanted pump: an MRI plan is for pump patients")
    validate(data, now)
    row = MriScan(
        patient_id=patient.id,
        scan_at=data.scan_at,
        scan_minutes=data.scan_minutes,
        field_t=data.field_t,
        empty_hours_before=data.empty_hours_before,
        restart_hours_after=data.restart_hours_after,
        planned_by=actor,
        planned_at=now,
    )
    records.add(session, row, actor, now, "mri.plan")
    return row


def confirm(
    session: Session, patient_id: int, scan_id: int, note: str, actor: str, now: datetime
) -> MriConfirmation:
    """The pump was interrogated after the scan and is delivering; the caller commits."""
    scan = session.get(MriScan, scan_id)
    if scan is None or scan.patient_id != patient_id:
        raise InputError("scan", f"no MRI scan {scan_id} for this patient")
    if _confirmation(session, scan_id) is not None:
        raise ConflictError(f"MRI scan {scan_id} is already confirmed", None)
    if now < scan.scan_at:
        raise InputError("scan", "the scan has not happened yet: confirm after it")
    note = note.strip()
    if not note:
        raise InputError("note", "say what the interrogation showed (e.g. 'delivering 0.5 mL/day')")
    if len(note) > 2000:
        raise InputError("note", "is longer than 2000 characters")
    row = MriConfirmation(
        scan_id=scan_id, patient_id=patient_id, note=note, confirmed_by=actor, confirmed_at=now
    )
    records.add(session, row, actor, now, "mri.confirm")
    return row


def _confirmation(session: Session, scan_id: int) -> MriConfirmation | None:
    return session.execute(
        select(MriConfirmation).where(MriConfirmation.scan_id == scan_id)
    ).scalar_one_or_none()


def scans(session: Session, patient_id: int) -> list[ScanView]:
    """The patient's scans, newest first, each with its plan under the program in force."""
    current = programs.in_force(session, patient_id)
    program = programs.parse(current.program_toml) if current else None
    rows = session.execute(
        select(MriScan).where(MriScan.patient_id == patient_id).order_by(MriScan.scan_at.desc())
    ).scalars()
    views = []
    for scan in rows:
        plan, problem = None, ""
        if program is None:
            problem = "no program is in force: the withheld drug cannot be computed"
        else:
            hours = (scan.empty_hours_before, scan.restart_hours_after)
            try:
                plan = mri_plan(
                    program,
                    scan.scan_at.timestamp(),
                    scan.scan_minutes * 60.0,
                    empty_before_s=None if hours[0] is None else hours[0] * HOUR,
                    restart_after_s=None if hours[1] is None else hours[1] * HOUR,
                    field_t=scan.field_t,
                )
            except InputError as exc:
                problem = str(exc)
        views.append(ScanView(scan, _confirmation(session, scan.id), plan, problem))
    return views


def open_tasks(session: Session, now: datetime, limit: int) -> list[tuple[MriScan, Patient]]:
    """Post-MRI tasks: scans that have started and whose pump is not yet confirmed delivering,
    oldest first."""
    query = _open_tasks_query(limit)
    return [(scan, patient) for scan, patient in session.execute(query, {"now": now})]


@cache
def _open_tasks_query(limit: int) -> Any:
    # Built once (the dashboard asks on every view); ``now`` is bound at execution.
    confirmed = select(MriConfirmation.scan_id)
    return (
        select(MriScan, Patient)
        .join(Patient, Patient.id == MriScan.patient_id)
        .where(
            MriScan.scan_at <= bindparam("now", type_=UTCDateTime),
            MriScan.id.not_in(confirmed),
        )
        .order_by(MriScan.scan_at)
        .limit(limit)
    )
