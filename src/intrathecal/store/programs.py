"""Program versions: reviewed, signed, append-only, with optimistic concurrency.

A new version must name the version it replaces (the one its author saw). If another clinician
saved a version in between, the save is refused with :class:`ConflictError` and nothing is stored:
the second author reloads, sees the first author's change and decides again. Two saves racing
past the check both try to insert the same (patient, version) pair; the unique constraint lets
one through and turns the other into the same ConflictError.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intrathecal.library import default_library
from intrathecal.safety.review import (
    Acknowledgement,
    RefillContext,
    ReviewInput,
    ReviewResult,
    review,
)
from intrathecal.store import audit
from intrathecal.store.errors import BlockedError, ConflictError, NotFoundError
from intrathecal.store.models import Implant, Patient, ProgramApplication, ProgramVersion, Refill
from intrathecal.therapy.findings import Finding
from intrathecal.therapy.parse import parse_program
from intrathecal.therapy.program import Program
from intrathecal.therapy.summary import summarize
from intrathecal.units import InputError


def parse(text: str, name: str = "program") -> Program:
    """Parse a program for review: device and drug hard limits become findings, not errors."""
    return parse_program(text, default_library(), name=name, check_limits=False)


def latest(session: Session, patient_id: int) -> ProgramVersion | None:
    return session.execute(
        select(ProgramVersion)
        .where(ProgramVersion.patient_id == patient_id)
        .order_by(ProgramVersion.version.desc())
        .limit(1)
    ).scalar_one_or_none()


def by_version(session: Session, patient_id: int, version: int) -> ProgramVersion:
    row = session.execute(
        select(ProgramVersion).where(
            ProgramVersion.patient_id == patient_id, ProgramVersion.version == version
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"program version {version} of patient {patient_id}")
    return row


def history(session: Session, patient_id: int) -> list[ProgramVersion]:
    return list(
        session.execute(
            select(ProgramVersion)
            .where(ProgramVersion.patient_id == patient_id)
            .order_by(ProgramVersion.version)
        ).scalars()
    )


def in_force(session: Session, patient_id: int) -> ProgramVersion | None:
    """The version the pump runs: the last one applied (sent and read back)."""
    return session.execute(
        select(ProgramVersion)
        .join(ProgramApplication, ProgramApplication.program_version_id == ProgramVersion.id)
        .where(ProgramApplication.patient_id == patient_id)
        .order_by(ProgramApplication.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def current_implant(session: Session, patient_id: int) -> Implant | None:
    return session.execute(
        select(Implant).where(Implant.patient_id == patient_id).order_by(Implant.id.desc()).limit(1)
    ).scalar_one_or_none()


def last_refill(session: Session, patient_id: int) -> Refill | None:
    """The patient's latest refill (refills.py uses this one too)."""
    return session.execute(
        select(Refill)
        .where(Refill.patient_id == patient_id)
        .order_by(Refill.performed_at.desc(), Refill.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def review_for_patient(
    session: Session,
    patient: Patient,
    text: str,
    acknowledgements: Sequence[Acknowledgement],
    now: datetime,
    change_profile: str | None = None,
    next_refill_at: datetime | None = None,
) -> tuple[Program, ReviewResult]:
    """Review ``text`` against the patient's latest version, last fill and next refill."""
    new = parse(text)
    current = latest(session, patient.id)
    old = parse(current.program_toml) if current else None
    implant = current_implant(session, patient.id)
    if implant is not None and new.device.key != implant.device_key:
        raise InputError(
            "device", f"the patient's pump is {implant.device_key!r}, not {new.device.key!r}"
        )
    doses_24h_ago: dict[str, float] = {}
    if current is not None and current.signed_at > now - timedelta(days=1):
        before = session.execute(
            select(ProgramVersion)
            .where(
                ProgramVersion.patient_id == patient.id,
                ProgramVersion.signed_at <= now - timedelta(days=1),
            )
            .order_by(ProgramVersion.version.desc())
            .limit(1)
        ).scalar_one_or_none()
        if before is not None:
            doses_24h_ago = json.loads(before.daily_doses_json)
    refill = last_refill(session, patient.id)
    context = None
    if refill is not None:
        context = RefillContext(
            filled_ml=refill.fill_ml,
            filled_at_s=refill.performed_at.timestamp(),
            next_refill_at_s=(next_refill_at or refill.next_due_at).timestamp(),
        )
    result = review(
        ReviewInput(
            new=new,
            old=old,
            change_profile=change_profile,
            doses_24h_ago_mcg_per_day=doses_24h_ago,
            refill=context,
        ),
        acknowledgements,
    )
    return new, result


@dataclass(frozen=True)
class Draft:
    program_toml: str
    reason: str
    replaces_version: int | None  # the version the author saw; None for a first program
    acknowledgements: tuple[Acknowledgement, ...] = ()
    change_profile: str | None = None
    # The refill date the clinic will keep with this program (default: the one scheduled now).
    next_refill_at: datetime | None = None


def save_version(
    session: Session, patient: Patient, draft: Draft, signed_by: str, now: datetime
) -> ProgramVersion:
    """Review and store a new version; ConflictError, BlockedError or InputError store nothing.

    The caller commits; on any exception it rolls back.
    """
    if not draft.reason.strip():
        raise InputError("reason", "say why the program changes")
    current = latest(session, patient.id)
    current_number = current.version if current else None
    if draft.replaces_version != current_number:
        if current is None:
            message = "this patient has no program yet; leave replaces_version empty"
        else:
            message = (
                f"version {current.version} was saved by {current.signed_by} at "
                f"{current.signed_at:%Y-%m-%d %H:%M} UTC after you opened version "
                f"{draft.replaces_version}; reload, review their change and apply yours again"
            )
        raise ConflictError(message, current_number)
    implant = current_implant(session, patient.id)
    if implant is None:
        raise InputError("patient", "has no implant: a program needs a pump")
    program, result = review_for_patient(
        session,
        patient,
        draft.program_toml,
        draft.acknowledgements,
        now,
        draft.change_profile,
        draft.next_refill_at,
    )
    if not result.allowed:
        raise BlockedError(result.findings, result.unacknowledged)
    version = ProgramVersion(
        patient_id=patient.id,
        implant_id=implant.id,
        version=(current_number or 0) + 1,
        replaces_version=current_number,
        program_toml=draft.program_toml,
        reason=draft.reason.strip(),
        findings_json=json.dumps([finding_dict(f) for f in result.findings]),
        acknowledgements_json=json.dumps([asdict(a) for a in result.acknowledgements]),
        daily_doses_json=json.dumps(summarize(program).doses_mcg_per_day),
        signed_by=signed_by,
        signed_at=now,
    )
    try:
        with session.begin_nested():
            session.add(version)
            session.flush()
    except IntegrityError:
        raise ConflictError(
            "another clinician saved a new version of this program at the same moment; reload "
            "and apply your change again",
            current_number,
        ) from None
    audit.record(
        session,
        now,
        signed_by,
        "program.sign",
        f"patient:{patient.id}",
        {
            "version": version.version,
            "replaces": current_number,
            "reason": version.reason,
            "acknowledged": [a.code for a in result.acknowledgements],
        },
    )
    return version


def apply_version(
    session: Session,
    patient: Patient,
    version: ProgramVersion,
    applied_by: str,
    now: datetime,
    via: str,
    readback: str,
    *,
    recovered: bool = False,
) -> ProgramApplication:
    """Record that ``version`` was sent to the pump and what the pump read back.

    ``recovered``: written by recovery from the pump's log (web/pump_recovery.py), said in
    the audit entry.
    """
    matches = _same_program(version.program_toml, readback) if readback else via == "typed in"
    application = ProgramApplication(
        patient_id=patient.id,
        program_version_id=version.id,
        applied_by=applied_by,
        applied_at=now,
        via=via,
        readback_matches=matches,
        readback=readback,
    )
    session.add(application)
    session.flush()
    audit.record(
        session,
        now,
        applied_by,
        "program.apply",
        f"patient:{patient.id}",
        {"version": version.version, "via": via, "readback_matches": matches}
        | ({"completed_by_recovery": True} if recovered else {}),
    )
    return application


def _same_program(sent: str, readback: str) -> bool:
    """Read-back check: the program the pump holds delivers the same as the one sent."""
    try:
        a, b = parse(sent), parse(readback)
    except (InputError, ValueError):
        return False
    return (
        a.device.key == b.device.key
        and [(i.drug.key, i.concentration_mcg_per_ml) for i in a.ingredients]
        == [(i.drug.key, i.concentration_mcg_per_ml) for i in b.ingredients]
        and a.basal == b.basal
        and a.periodic == b.periodic
        and a.demand == b.demand
        and a.low_reservoir_alarm_ml == b.low_reservoir_alarm_ml
    )


def finding_dict(finding: Finding) -> dict[str, str]:
    return {
        "severity": finding.severity.value,
        "code": finding.code,
        "field": finding.field,
        "message": finding.message,
        "requirement": finding.requirement,
    }


def require_patient(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFoundError(f"patient {patient_id}")
    return patient
