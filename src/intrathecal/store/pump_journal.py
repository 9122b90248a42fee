"""The pump journal: what the clinic is about to send to a pump, committed before it is sent.

Why: the clinic record of a refill (or of a program applied) is written after the pump confirms
it, so a crash in between would leave a changed pump and no record. Each intent is committed on
its own first, naming the pump requests it will send (``token``); recovery
(``web/pump_recovery.py``) reconciles every open entry with the pump's event log. The record and
the entry's "recorded" mark go in one transaction through :func:`move`, a conditional update
only an open entry passes: whoever gets there first (wizard or recovery) writes the record, the
other finds the entry closed, so a refill is never recorded twice.

Statuses: ``intent`` (written, nothing sent yet) -> ``sent`` (sent, no answer: the pump may or
may not have it) -> ``confirmed`` (the pump answered and read back what was sent) ->
``recorded`` | ``not_done``. Every move is audited.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from intrathecal.store import audit
from intrathecal.store.models import PumpJournalEntry

INTENT = "intent"
SENT = "sent"
CONFIRMED = "confirmed"
RECORDED = "recorded"
NOT_DONE = "not_done"
OPEN = (INTENT, SENT, CONFIRMED)
KINDS = ("refill", "program", "bolus")


def write_intent(
    session: Session,
    *,
    patient_id: int,
    serial: str,
    kind: str,
    payload: dict[str, Any],
    since_seq: int,
    who: str,
    now: datetime,
    token: str | None = None,
) -> PumpJournalEntry:
    """Journal an intent and COMMIT it: it must be durable before anything goes to the pump.

    ``token``: the form's own key when a re-posted form must find its entry (a bolus); unique,
    so a second entry under the same key fails (IntegrityError) and nothing is sent twice."""
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    entry = PumpJournalEntry(
        token=token or uuid.uuid4().hex,
        patient_id=patient_id,
        serial=serial,
        kind=kind,
        status=INTENT,
        payload_json=json.dumps(payload, sort_keys=True),
        since_seq=since_seq,
        created_by=who,
        created_at=now,
        updated_at=now,
        outcome="",
        by_recovery=False,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        now,
        who,
        "pump_journal.intent",
        f"patient:{patient_id}",
        {"journal": entry.id, "serial": serial, "kind": kind, "token": entry.token},
    )
    session.commit()
    return entry


def move(
    session: Session,
    entry_id: int,
    to: str,
    now: datetime,
    actor: str,
    outcome: str = "",
    *,
    by_recovery: bool = False,
    refill_id: int | None = None,
    application_id: int | None = None,
) -> bool:
    """Move an open entry to ``to`` inside the caller's transaction (the caller commits).

    False, and nothing written, when the entry is no longer open: another worker or recovery
    closed it first.
    """
    if to not in (*OPEN, RECORDED, NOT_DONE):
        raise ValueError(f"status: unknown {to!r}")
    values: dict[str, Any] = {"status": to, "updated_at": now, "by_recovery": by_recovery}
    if outcome:
        values["outcome"] = outcome
    if refill_id is not None:
        values["refill_id"] = refill_id
    if application_id is not None:
        values["application_id"] = application_id
    result = session.execute(
        update(PumpJournalEntry)
        .where(PumpJournalEntry.id == entry_id, PumpJournalEntry.status.in_(OPEN))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return False
    entry = session.get(PumpJournalEntry, entry_id)
    assert entry is not None
    session.refresh(entry)
    audit.record(
        session,
        now,
        actor,
        f"pump_journal.{to}",
        f"patient:{entry.patient_id}",
        {
            "journal": entry_id,
            "serial": entry.serial,
            "kind": entry.kind,
            "by_recovery": by_recovery,
            "outcome": outcome,
            "refill": refill_id,
            "application": application_id,
        },
    )
    return True


def payload(entry: PumpJournalEntry) -> dict[str, Any]:
    data = json.loads(entry.payload_json)
    assert isinstance(data, dict)
    return data


def open_for(
    session: Session, serial: str, started_before: datetime | None = None
) -> Sequence[PumpJournalEntry]:
    """Open entries of one pump, oldest first (only those begun by ``started_before``)."""
    query = select(PumpJournalEntry).where(
        PumpJournalEntry.serial == serial, PumpJournalEntry.status.in_(OPEN)
    )
    if started_before is not None:
        query = query.where(PumpJournalEntry.created_at <= started_before)
    return session.execute(query.order_by(PumpJournalEntry.id)).scalars().all()


def by_token(session: Session, token: str) -> PumpJournalEntry | None:
    return session.execute(
        select(PumpJournalEntry).where(PumpJournalEntry.token == token)
    ).scalar_one_or_none()


def open_serials(session: Session) -> list[str]:
    query = select(PumpJournalEntry.serial).where(PumpJournalEntry.status.in_(OPEN)).distinct()
    return sorted(session.execute(query).scalars())


def shown_for(session: Session, serial: str, since: datetime) -> Sequence[PumpJournalEntry]:
    """What the pump's page shows: open entries, and those recovery closed since ``since`` (the
    wizard said at the time how the others ended)."""
    return (
        session.execute(
            select(PumpJournalEntry)
            .where(
                PumpJournalEntry.serial == serial,
                or_(
                    PumpJournalEntry.status.in_(OPEN),
                    (PumpJournalEntry.updated_at >= since) & PumpJournalEntry.by_recovery.is_(True),
                ),
            )
            .order_by(PumpJournalEntry.id)
        )
        .scalars()
        .all()
    )
