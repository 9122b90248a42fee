"""Give a reviewed clinician or bridge bolus over the pump link, journalled.

As a program applied between refills (web/program_pump.py): the intent is committed to the pump
journal before anything is sent, under the form's key as its token (a form posted twice finds
the entry and sends nothing; two posts at once meet the token's unique index). The pump's door
reviews the bolus again (clinical/bolus_limits.py, the same limits). The bolus is recorded at
the pump's start time in the same transaction as the journal's "recorded" mark; a crash in
between is reconciled from the pump's log by web/pump_recovery.py. Failures raise
:class:`InputError` on ``send_to_pump``, after the journal says how the entry ended.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intrathecal.store import boluses, programs, pump_journal
from intrathecal.store.boluses import BolusRequest
from intrathecal.store.models import ClinicBolus, Patient, ProgramVersion
from intrathecal.store.types import utc_from_s
from intrathecal.units import InputError, format_volume
from intrathecal.web.display import when
from intrathecal.web.pump_link import BolusStarted, PumpLinkError, PumpLinks

FIELD = "send_to_pump"


def readback_line(where: str, started: BolusStarted) -> str:
    """The pump's answer, in words (one function for the page and recovery)."""
    return (
        f"{where}: {started.kind} bolus {format_volume(started.volume_ml)} started "
        f"{when(started.started_at_s)}, ends {when(started.ends_at_s)} (pump time)"
    )


def give_through_link(
    session: Session,
    links: PumpLinks,
    patient: Patient,
    version: ProgramVersion,
    request: BolusRequest,
    actor: str,
    now: datetime,
) -> ClinicBolus:
    """Send the bolus to the patient's pump and record it; the caller commits the record."""
    implant = programs.current_implant(session, patient.id)
    link = links.link(implant.serial) if implant is not None else None
    if link is None:
        raise InputError(FIELD, "no pump link is configured: give it with the pump's programmer")
    waiting = pump_journal.open_for(session, link.serial)
    if waiting:
        raise InputError(
            FIELD,
            f"a {waiting[0].kind} sent to {link.where} at "
            f"{when(waiting[0].created_at)} is not reconciled with the pump yet: "
            "nothing was sent",
        )
    try:
        since_seq = max((e.seq for e in link.interrogate().events), default=0)
    except PumpLinkError as exc:
        raise InputError(FIELD, f"{exc.message}: nothing was sent") from None
    try:
        entry = pump_journal.write_intent(
            session,
            patient_id=patient.id,
            serial=link.serial,
            kind="bolus",
            payload=request.payload() | {"via": link.via, "where": link.where},
            since_seq=since_seq,
            who=actor,
            now=now,
            token=request.form_key,
        )
    except IntegrityError:
        session.rollback()
        raise InputError(FIELD, "this form was already sent: nothing was sent again") from None
    entry_id = entry.id
    try:
        started = link.bolus(request.kind, request.volume_ml, request.duration_s, entry.token)
    except PumpLinkError as exc:
        to = pump_journal.NOT_DONE if exc.answered else pump_journal.SENT
        pump_journal.move(session, entry_id, to, now, actor, exc.message)
        session.commit()
        if exc.answered:
            raise InputError(
                FIELD, f"the pump refused the bolus: {exc.message}; nothing was given"
            ) from None
        raise InputError(
            FIELD,
            f"{exc.message}: the pump may or may not have started it; it is reconciled with the "
            "pump's log before another change can be sent",
        ) from None
    row = boluses.record(
        session,
        patient,
        version,
        request,
        actor,
        now,
        started_at=utc_from_s(started.started_at_s),
        via=link.via,
        readback=readback_line(link.where, started),
    )
    if not pump_journal.move(
        session, entry_id, pump_journal.RECORDED, now, actor, f"recorded as bolus {row.id}"
    ):
        session.rollback()
        raise InputError(FIELD, "already recorded by recovery from the pump's log")
    return row
