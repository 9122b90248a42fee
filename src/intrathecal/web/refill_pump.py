"""The refill wizard with a pump on the link: interrogate, cross-check, refill with read-back.

All or nothing, in this order: the clinic's plan is computed and validated first (nothing is
sent if it fails); the refill and the program go to the pump, which stages the program, reads
its checksum back and activates it with the fill; the wizard reads the pump back and compares;
only then is the clinic's refill record written, at the pump's fill time. A refusal, an error
or no answer leaves the clinic record unsaved and says so.

Journal: before anything is sent, the intent is committed to the pump journal
(store/pump_journal.py) with the ids of the pump requests; the record and the journal's
"recorded" mark are one transaction. A crash in between is reconciled by web/pump_recovery.py
at the clinic's start or the pump's next interrogation (:func:`context` runs it).

Clock: with a pump on the link the refill's time is the pump's clock (the instant its
interrogation describes), so the clinic's expected residual (fill − delivered since the last
fill) is computed over the same interval the pump delivered. The demo pumps run faster than
the wall clock, so there the pump's time is ahead of the clinic's; the page shows both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from intrathecal.library import default_library
from intrathecal.pump.firmware import canonical_program
from intrathecal.store import programs, pump_journal, refills
from intrathecal.store.models import Implant, Patient, ProgramVersion, Refill
from intrathecal.store.refills import RefillPlan, RefillRequest
from intrathecal.store.types import utc_from_s
from intrathecal.therapy.errors import InvalidProgramError
from intrathecal.units import InputError
from intrathecal.web import pump_recovery
from intrathecal.web.display import when
from intrathecal.web.pump_link import (
    Interrogation,
    PumpLink,
    PumpLinkError,
    PumpLinks,
    RefillReadBack,
)
from intrathecal.web.pump_recovery import READ_BACK, clock_gap

__all__ = ["READ_BACK", "clock_gap"]  # re-exported: the wizard's record lines live there


class ReadBackMismatchError(PumpLinkError):
    """The pump took the refill but reads back something else: nothing saved in the clinic."""


@dataclass(frozen=True)
class PumpStatus:
    where: str
    interrogation: Interrogation | None
    problem: str = ""  # why there is no interrogation
    link: PumpLink | None = field(default=None, compare=False)  # recovery reads its log

    @property
    def answered(self) -> bool:
        return self.interrogation is not None


def interrogate(link: PumpLink) -> PumpStatus:
    try:
        return PumpStatus(link.where, link.interrogate(), link=link)
    except PumpLinkError as exc:
        return PumpStatus(link.where, None, exc.message, link=link)


def checksum_of(program_toml: str) -> str:
    """The checksum the pump computes for this program (SHA-256 of its canonical text)."""
    return canonical_program(program_toml, default_library())[2]


def _checksum_or_blank(program_toml: str) -> str:
    try:
        return checksum_of(program_toml)
    except (InvalidProgramError, InputError, ValueError):
        return ""


def disagreements(
    found: Interrogation,
    implant: Implant,
    in_force: ProgramVersion | None,
    last: Refill | None,
) -> list[str]:
    """Where the pump and the clinic's records disagree, each said plainly."""
    out = []
    if found.device_key and found.device_key != implant.device_key:
        out.append(
            f"the pump is a {found.device_key}; the clinic records a {implant.device_key} "
            f"for serial {implant.serial}"
        )
    if in_force is not None and found.checksum != _checksum_or_blank(in_force.program_toml):
        shown = f"checksum {found.checksum[:12]}…" if found.checksum else "no program"
        out.append(
            f"the pump runs {shown}, not version {in_force.version} that the clinic has in force"
        )
    if last is not None and last.implant_id == implant.id:
        at = last.performed_at.timestamp()
        if found.filled_at_s is None or abs(found.filled_at_s - at) >= 1.0:
            pump_fill = when(found.filled_at_s) if found.filled_at_s is not None else "never"
            out.append(
                f"the pump's last fill ({pump_fill}) is not the clinic's last refill "
                f"({when(at)}): the expected residual comes from the clinic's records"
            )
    return out


def _check_read_back(
    back: RefillReadBack, fill_ml: float, expected: str, wanted: dict[str, float]
) -> list[str]:
    problems = []
    if back.checksum != expected:
        problems.append(f"program checksum {back.checksum[:12] or 'none'}…, sent {expected[:12]}…")
    if not math.isclose(back.filled_ml, fill_ml, abs_tol=1e-9):
        problems.append(f"filled {back.filled_ml:g} mL, sent {fill_ml:g} mL")
    have = dict(back.drugs)
    if have.keys() != wanted.keys() or any(
        not math.isclose(have[k], wanted[k], rel_tol=1e-9) for k in wanted
    ):
        problems.append(f"drugs {have}, sent {wanted}")
    return problems


def send(
    link: PumpLink,
    prepared: RefillPlan,
    request: RefillRequest,
    clinic_now: datetime,
    bridge_on_pump: bool,
    journal: str | None = None,
) -> RefillRequest:
    """Refill and program the pump, read it back, and return the request to record.

    ``journal``: the token of the journal entry, naming the pump requests.

    Raises :class:`PumpLinkError` (nothing changed on the pump, or no answer) or
    :class:`ReadBackMismatchError` (the pump changed but reads back something else).
    """
    version = prepared.new_version
    try:
        expected = checksum_of(version.program_toml)
    except (InvalidProgramError, InputError, ValueError) as exc:
        raise PumpLinkError(
            f"version {version.version} cannot be sent to the pump: {exc}", answered=True
        ) from None
    wanted = {i.drug.key: i.concentration_mcg_per_ml for i in prepared.new_program.ingredients}
    back = link.refill(
        request.fill_ml, list(wanted.items()), version.program_toml, request.withdrawn_ml, journal
    )
    problems = _check_read_back(back, request.fill_ml, expected, wanted)
    if problems:
        raise ReadBackMismatchError(
            f"{link.where} took the refill at {when(back.filled_at_s)} but reads back "
            + "; ".join(problems)
            + ": interrogate it and correct the pump before recording this refill",
            answered=True,
        )
    bridge = _bridge(link, prepared, bridge_on_pump, journal)
    lines = pump_recovery.record_lines(link.where, version.version, back, clinic_now, bridge)
    notes = "\n".join([request.notes.strip(), *lines]).strip()
    return replace(
        request,
        performed_at=utc_from_s(back.filled_at_s),
        via=link.via,
        readback=back.program_toml,
        notes=notes,
    )


def _bridge(link: PumpLink, prepared: RefillPlan, on_pump: bool, journal: str | None) -> str | None:
    bridge = prepared.bridge
    if bridge is None:
        return None
    if not on_pump:
        return pump_recovery.BRIDGE_NOT_CHOSEN
    try:
        started = link.bolus("bridge", bridge.volume_ml, bridge.duration_hours * 3600, journal)
    except PumpLinkError as exc:
        return pump_recovery.bridge_not_started(exc.message)
    return pump_recovery.bridge_started(started.volume_ml, started.started_at_s, started.ends_at_s)


# --- the wizard's page ---------------------------------------------------------------------


def link_for(links: PumpLinks, implant: Implant | None) -> PumpLink | None:
    return links.link(implant.serial) if implant is not None else None


def prefill(form: dict[str, str], pump: PumpStatus | None) -> None:
    """Set the wizard's mode from the interrogation, and what the pump's log counts.

    The withdrawn volume is never pre-filled from the pump: it is measured with the syringe,
    and the reconciliation exists to compare the measurement with the count.
    """
    found = pump.interrogation if pump is not None else None
    form["mode"] = "pump" if found is not None else "typed"
    if found is not None and found.demand_boluses_since_fill is not None:
        form["demand_boluses"] = str(found.demand_boluses_since_fill)


def reading(link: PumpLink | None, form: dict[str, str]) -> PumpStatus | None:
    """The pump's state for a posted wizard step.

    In pump mode (and on "Interrogate the pump") the pump is read again, since its clock has
    moved on; in typed-in mode it is not contacted, and the page keeps saying why.
    """
    if link is None:
        return None
    step = form.get("step", "preview")
    if step != "interrogate" and form.get("mode") != "pump":
        return PumpStatus(link.where, None, "it did not answer when interrogated", link=link)
    pump = interrogate(link)
    if step == "interrogate":
        prefill(form, pump)
    return pump


def time_of(pump: PumpStatus | None, clinic_now: datetime) -> datetime:
    """The refill's time: the pump's clock when a pump answered, else the clinic's."""
    found = pump.interrogation if pump is not None else None
    if found is not None and found.pump_time_s is not None:
        return utc_from_s(found.pump_time_s)
    return clinic_now


def context(
    session: Session,
    pump: PumpStatus | None,
    implant: Implant | None,
    clinic_now: datetime,
    prepared: RefillPlan | None = None,
) -> dict[str, Any]:
    """What the wizard's template shows about the pump.

    An answering pump is the next interrogation the journal waits for: its open entries that
    are no longer in flight are reconciled here (each committed), then shown.
    """
    found = pump.interrogation if pump is not None else None
    journal: list[pump_recovery.Shown] = []
    link = pump.link if pump is not None else None
    if link is not None and implant is not None:
        if found is not None and pump_recovery.due(session, link, clinic_now):
            # A write (and on SQLite its lock) only when something is to be reconciled.
            with pump_recovery.writing(session) as writer:
                pump_recovery.recover_pump(writer, link, clinic_now)
                journal = pump_recovery.shown(writer, link.serial, clinic_now, link.in_flight_s)
        else:
            journal = pump_recovery.shown(session, link.serial, clinic_now, link.in_flight_s)
    checks: list[str] = []
    gap = ""
    if found is not None and implant is not None:
        checks = disagreements(
            found,
            implant,
            programs.in_force(session, implant.patient_id),
            programs.last_refill(session, implant.patient_id),
        )
        gap = clock_gap(found.pump_time_s or clinic_now.timestamp(), clinic_now)
    return {
        "pump": pump,
        "pump_checks": checks,
        "pump_journal": journal,
        "pump_clock_gap": gap,
        "pump_time": when(found.pump_time_s) if found and found.pump_time_s else "",
        "clinic_time": when(clinic_now),
        "bridge_on_pump_offered": prepared is not None and prepared.bridge is not None,
    }


def save_through(
    link: PumpLink | None,
    pump: PumpStatus | None,
    session: Session,
    patient: Patient,
    prepared: RefillPlan,
    request: RefillRequest,
    performed_by: str,
    clinic_now: datetime,
    form: dict[str, str],
) -> tuple[Refill | None, list[str]]:
    """Send the refill to the pump, then record it; (None, why) when anything failed."""
    if link is None:
        return None, [
            "No pump link is configured any more: nothing was sent and nothing saved. "
            "Interrogate again to continue with typed-in values."
        ]
    if pump is None or pump.interrogation is None:
        why = pump.problem if pump is not None else "not interrogated"
        return None, [
            f"No answer from {link.where} ({why}): nothing was sent and nothing saved. "
            "Interrogate the pump again; if it still does not answer, the wizard switches to "
            "typed-in values (refill the pump with its own programmer)."
        ]
    waiting = pump_journal.open_for(session, link.serial)
    if waiting:
        return None, [
            f"A {waiting[0].kind} sent to {link.where} at "
            f"{when(waiting[0].created_at)} by {waiting[0].created_by} is not "
            "reconciled with the pump yet: nothing was sent and nothing saved. Interrogate the "
            "pump again after the time the pump panel gives."
        ]
    bridge_on_pump = form.get("bridge_on_pump") == "yes"
    entry = pump_journal.write_intent(
        session,
        patient_id=patient.id,
        serial=link.serial,
        kind="refill",
        payload=_payload(link, prepared, request, bridge_on_pump, performed_by),
        since_seq=max((e.seq for e in pump.interrogation.events), default=0),
        who=performed_by,
        now=clinic_now,
    )
    entry_id, token = entry.id, entry.token
    try:
        record = send(link, prepared, request, clinic_now, bridge_on_pump, token)
    except ReadBackMismatchError as exc:
        _close(session, entry_id, pump_journal.NOT_DONE, clinic_now, performed_by, exc.message)
        return None, [f"{exc.message}. Nothing was saved in the clinic record."]
    except PumpLinkError as exc:
        if exc.answered:
            _close(session, entry_id, pump_journal.NOT_DONE, clinic_now, performed_by, exc.message)
            return None, [
                f"{exc.message}. The pump's reservoir and program are unchanged and nothing "
                "was saved in the clinic record."
            ]
        _close(session, entry_id, pump_journal.SENT, clinic_now, performed_by, exc.message)
        return None, [
            f"{exc.message}. Nothing was saved in the clinic record. The pump may or may not "
            "have taken the refill: it is reconciled with the pump's log (see the pump panel) "
            "before another refill can be sent."
        ]
    _close(session, entry_id, pump_journal.CONFIRMED, clinic_now, performed_by)
    try:
        row = refills.save(
            session,
            patient,
            record,
            performed_by,
            recorded_at=clinic_now,
            verified_cosigner=_cosigner(prepared, request, performed_by),
        )
    except (InputError, ValueError) as exc:
        session.rollback()
        why = (
            f"The pump was refilled at {when(record.performed_at)} but the clinic "
            f"record could not be saved ({exc}): record this refill again with typed-in values."
        )
        _close(session, entry_id, pump_journal.NOT_DONE, clinic_now, performed_by, why)
        return None, [why]
    # The record and the journal's mark in one transaction (the caller commits): if recovery
    # closed the entry meanwhile, it wrote the record, and this one is dropped.
    if not pump_journal.move(
        session, entry_id, pump_journal.RECORDED, clinic_now, performed_by, refill_id=row.id
    ):
        session.rollback()
        return None, [
            "This refill was already recorded by recovery from the pump's log: see the "
            "patient's refills."
        ]
    return row, []


def _close(
    session: Session, entry_id: int, to: str, now: datetime, actor: str, why: str = ""
) -> None:
    """Move the journal entry and commit (the wizard's own steps; never with the record)."""
    pump_journal.move(session, entry_id, to, now, actor, why)
    session.commit()


def _payload(
    link: PumpLink,
    prepared: RefillPlan,
    request: RefillRequest,
    bridge_on_pump: bool,
    performed_by: str,
) -> dict[str, Any]:
    """What the refill record will hold, as the journal keeps it for recovery."""
    return {
        "fill_ml": request.fill_ml,
        "withdrawn_ml": request.withdrawn_ml,
        "demand_boluses": request.demand_boluses,
        "program_version": prepared.new_version.version,
        "stocks_mcg_per_ml": request.stocks_mcg_per_ml,
        "overage_ml": request.overage_ml,
        "notes": request.notes,
        "bridge_on_pump": bridge_on_pump,
        "checksum": _checksum_or_blank(prepared.new_version.program_toml),
        "drugs": {i.drug.key: i.concentration_mcg_per_ml for i in prepared.new_program.ingredients},
        "via": link.via,
        "where": link.where,
        "previous_refill_id": prepared.previous.id if prepared.previous is not None else None,
        # The refill this one follows, as the wizard saw it: recovery records it only if no
        # other refill was recorded since (say, typed in after the crash).
        "follows_refill_id": prepared.previous_any.id if prepared.previous_any else None,
        # Over INVESTIGATE the page checked the co-signature before anything was sent: recovery
        # records who co-signed and why (never the password).
        "investigate_reason": request.investigate_reason,
        "cosigned_by": _cosigner(prepared, request, performed_by),
        # What went in and why an older version, for the record recovery writes.
        "lots": [
            {"drug": x.drug, "lot": x.lot, "expiry": x.expiry.isoformat()} for x in request.lots
        ],
        "compounded_by": request.compounded_by,
        "older_version_reason": request.older_version_reason,
    }


def _cosigner(prepared: RefillPlan, request: RefillRequest, performed_by: str) -> str | None:
    rec = prepared.reconciliation
    if rec is None or not rec.investigate:
        return None
    return request.cosigner.strip() or performed_by
