"""Every read of patient data goes on the audit log (issue 10, item 7): chart, lists, charts,
editor and wizard pages, exports. One entry a request, in its own short write transaction,
committed before the data is read, so the read is on record even if showing it fails, and a
route whose session only reads (``read_only``) still takes no write lock for its own work."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from intrathecal.store import audit, records
from intrathecal.store.db import begin_read_only
from intrathecal.store.models import Patient
from intrathecal.web.deps import Actor, now

CHART_READ = "chart.read"
SEARCH = "patients.search"


def audit_read(
    request: Request, actor: Actor, patient_id: int, what: str, **detail: Any
) -> Patient:
    """``actor`` reads ``what`` of the patient's record; a patient that does not exist is a 404
    (NotFoundError) and writes nothing. Call it first in the handler, before its own queries.
    Returns the patient as read (detached: for a page's own session, ``audited_patient``)."""
    with request.app.state.sessions.begin() as session:
        patient = records.require_patient(session, patient_id)
        audit.record(
            session,
            now(request),
            actor.name,
            CHART_READ,
            f"patient:{patient_id}",
            {"read": what, **detail},
        )
    return patient


def audited_patient(
    request: Request, actor: Actor, db: Session, patient_id: int, what: str, **detail: Any
) -> Patient:
    """``audit_read``, and the patient it read, in ``db`` without reading it again."""
    return db.merge(audit_read(request, actor, patient_id, what, **detail), load=False)


def audited_chart(request: Request, actor: Actor, db: Session, patient_id: int) -> records.Chart:
    """The whole chart, its read on the audit log first: the entry is committed in ``db``, which
    then only reads (no write lock held while the chart loads and renders)."""
    patient = records.audit_chart_read(db, patient_id, actor.name, now(request))
    db.commit()
    begin_read_only(db)
    return records.read_chart(db, patient)


def audit_search(request: Request, actor: Actor, what: str, **detail: Any) -> None:
    """``actor`` lists or searches patients (the query is kept, the rows shown are not)."""
    audit_apart(request, actor, SEARCH, "patients", {"read": what, **detail})


def audit_apart(
    request: Request, actor: Actor, action: str, target: str, detail: dict[str, Any]
) -> None:
    """One audit entry in its own short write transaction, for a page whose session only
    reads (a list, a search, a report of the clinic's outcomes)."""
    with request.app.state.sessions.begin() as session:
        audit.record(session, now(request), actor.name, action, target, detail)
