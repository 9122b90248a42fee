"""Apply a signed program version to the patient's pump over the pump link, journalled.

As the refill wizard does (web/refill_pump.py): the intent is committed to the pump journal
(store/pump_journal.py) before anything is sent; the pump stages the program, its checksum is
read back and compared, then it is activated; the application is recorded, at the pump's
activation time, in the same transaction as the journal's "recorded" mark. A crash in between
is reconciled by web/pump_recovery.py. Failures raise :class:`InputError` on ``send_to_pump``
after the journal says how the entry ended.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from intrathecal.store import programs, pump_journal
from intrathecal.store.models import Patient, ProgramApplication, ProgramVersion
from intrathecal.store.types import utc_from_s
from intrathecal.therapy.errors import InvalidProgramError
from intrathecal.units import InputError
from intrathecal.web.display import when
from intrathecal.web.pump_link import PumpLinkError, PumpLinks
from intrathecal.web.refill_pump import checksum_of

FIELD = "send_to_pump"


def apply_through_link(
    session: Session,
    links: PumpLinks,
    patient: Patient,
    version: ProgramVersion,
    actor: str,
    now: datetime,
) -> ProgramApplication:
    """Send ``version`` to the patient's pump and record it; the caller commits the record."""
    implant = programs.current_implant(session, patient.id)
    link = links.link(implant.serial) if implant is not None else None
    if link is None:
        raise InputError(FIELD, "no pump link is configured: apply it with the pump's programmer")
    try:
        expected = checksum_of(version.program_toml)
    except (InvalidProgramError, InputError, ValueError) as exc:
        raise InputError(FIELD, f"version {version.version} cannot be sent: {exc}") from None
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
    entry = pump_journal.write_intent(
        session,
        patient_id=patient.id,
        serial=link.serial,
        kind="program",
        payload={
            "program_version": version.version,
            "checksum": expected,
            "via": link.via,
            "where": link.where,
        },
        since_seq=since_seq,
        who=actor,
        now=now,
    )
    entry_id = entry.id
    try:
        back = link.program(version.program_toml, entry.token)
    except PumpLinkError as exc:
        to = pump_journal.NOT_DONE if exc.answered else pump_journal.SENT
        pump_journal.move(session, entry_id, to, now, actor, exc.message)
        session.commit()
        if exc.answered:
            raise InputError(FIELD, f"{exc.message}: the pump's program is unchanged") from None
        raise InputError(
            FIELD,
            f"{exc.message}: the pump may or may not have taken it; it is reconciled with the "
            "pump's log before another change can be sent",
        ) from None
    if back.checksum != expected:
        why = f"{link.where} reads back checksum {back.checksum[:12]}…, sent {expected[:12]}…"
        pump_journal.move(session, entry_id, pump_journal.NOT_DONE, now, actor, why)
        session.commit()
        raise InputError(FIELD, f"{why}: interrogate it and correct the pump")
    application = programs.apply_version(
        session,
        patient,
        version,
        actor,
        utc_from_s(back.activated_at_s),
        link.via,
        back.program_toml,
    )
    if not pump_journal.move(
        session, entry_id, pump_journal.RECORDED, now, actor, application_id=application.id
    ):
        session.rollback()
        raise InputError(FIELD, "already recorded by recovery from the pump's log")
    return application
