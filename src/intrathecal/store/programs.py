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
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Integer, Select, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intrathecal.library import default_library
from intrathecal.safety.change import allowed_increase_mcg_per_day, change_bounds
from intrathecal.safety.review import (
    Acknowledgement,
    DoseRecord,
    RefillContext,
    ReviewInput,
    ReviewResult,
    review,
)
from intrathecal.store import audit
from intrathecal.store.errors import BlockedError, ConflictError, NotFoundError
from intrathecal.store.models import (
    Appointment,
    Implant,
    Indication,
    Patient,
    ProgramApplication,
    ProgramVersion,
    Refill,
    RefillVoid,
)
from intrathecal.store.records import not_voided as record_not_voided
from intrathecal.therapy.findings import Finding
from intrathecal.therapy.parse import parse_program
from intrathecal.therapy.program import Program
from intrathecal.therapy.summary import summarize
from intrathecal.units import InputError


def parse(text: str, name: str = "program") -> Program:
    """Parse a program for review: device and drug hard limits become findings, not errors."""
    library = default_library()
    return _parsed(text, name, id(library))


@lru_cache(maxsize=512)
def _parsed(text: str, name: str, library_id: int) -> Program:
    # A stored version's text never changes (append-only rows) and a Program is immutable, so
    # one parse serves every page that shows the version: a refill's preview and save, the
    # chart and the wizard each parsed it again (TOML and the library's checks, ~0.2 ms).
    # Keyed by the library too (``library_id``): a test may load another.
    return parse_program(text, default_library(), name=name, check_limits=False)


# A patient (or version) as a value, or as a parameter bound at execution (_basis_statement).
_Id = int | BindParameter[int]


def _latest(patient_id: _Id) -> Select[ProgramVersion]:
    return (
        select(ProgramVersion)
        .where(ProgramVersion.patient_id == patient_id)
        .order_by(ProgramVersion.version.desc())
        .limit(1)
    )


def _by_version(patient_id: _Id, version: _Id) -> Select[ProgramVersion]:
    return select(ProgramVersion).where(
        ProgramVersion.patient_id == patient_id, ProgramVersion.version == version
    )


@cache
def _bound() -> dict[str, Select[Any]]:
    """The lookups below, each built once with the patient (and version) bound at execution:
    building a statement took longer than running it (a refill's plan makes five)."""
    patient, version = bindparam("patient_id", type_=Integer), bindparam("version", type_=Integer)
    return {
        "latest": _latest(patient),
        "by_version": _by_version(patient, version),
        "in_force": _in_force(patient),
        "current_implant": _current_implant(patient),
        "last_refill": _last_refill(patient),
    }


def _one(session: Session, name: str, **values: int) -> Any:
    return session.execute(_bound()[name], values).scalar_one_or_none()


def latest(session: Session, patient_id: int) -> ProgramVersion | None:
    found: ProgramVersion | None = _one(session, "latest", patient_id=patient_id)
    return found


def by_version(session: Session, patient_id: int, version: int) -> ProgramVersion:
    row: ProgramVersion | None = _one(session, "by_version", patient_id=patient_id, version=version)
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


def _in_force(patient_id: _Id) -> Select[ProgramVersion]:
    return (
        select(ProgramVersion)
        .join(ProgramApplication, ProgramApplication.program_version_id == ProgramVersion.id)
        .where(ProgramApplication.patient_id == patient_id)
        .order_by(ProgramApplication.id.desc())
        .limit(1)
    )


def in_force(session: Session, patient_id: int) -> ProgramVersion | None:
    """The version the pump runs: the last one applied (sent and read back)."""
    found: ProgramVersion | None = _one(session, "in_force", patient_id=patient_id)
    return found


def _current_implant(patient_id: _Id) -> Select[Implant]:
    return (
        select(Implant)
        .where(Implant.patient_id == patient_id, record_not_voided("implant", Implant))
        .order_by(Implant.id.desc())
        .limit(1)
    )


def current_implant(session: Session, patient_id: int) -> Implant | None:
    """The patient's latest implant that is not voided."""
    found: Implant | None = _one(session, "current_implant", patient_id=patient_id)
    return found


def not_voided() -> ColumnElement[bool]:
    """Filter for refills that count: a voided refill stays on file but nothing follows it."""
    return ~select(RefillVoid.id).where(RefillVoid.refill_id == Refill.id).exists()


def _last_refill(patient_id: _Id) -> Select[Refill]:
    return (
        select(Refill)
        .where(Refill.patient_id == patient_id, not_voided())
        .order_by(Refill.performed_at.desc(), Refill.id.desc())
        .limit(1)
    )


def last_refill(session: Session, patient_id: int) -> Refill | None:
    """The patient's latest refill that is not voided (refills.py uses this one too)."""
    found: Refill | None = _one(session, "last_refill", patient_id=patient_id)
    return found


@dataclass(frozen=True)
class RefillBasis:
    """The rows a refill is computed from (store/refills.py ``prepare``), by id: the current
    implant, the version to fill (the one asked for, else the latest), the version in force and
    the last refill not voided. They are append-only rows, so two equal bases are the same
    records, and a refill prepared on one is the refill prepared on the other."""

    implant: int | None
    new_version: int | None
    in_force: int | None
    last_refill: int | None


def refill_basis(session: Session, patient_id: int, version: int | None) -> RefillBasis:
    """The patient's :class:`RefillBasis` now, in one query."""
    values = {"patient_id": patient_id} | ({} if version is None else {"version": version})
    implant, filled, running, last = session.execute(
        _basis_statement(version is None), values
    ).one()
    return RefillBasis(implant, filled, running, last)


@cache
def _basis_statement(latest: bool) -> Select[Any]:
    """The four statements of :func:`current_implant`, :func:`latest` (or :func:`by_version`),
    :func:`in_force` and :func:`last_refill`, each reduced to its id; built once (building them
    took longer than running them), the patient and version bound at execution."""
    patient = bindparam("patient_id", type_=Integer)
    filled = (
        _latest(patient) if latest else _by_version(patient, bindparam("version", type_=Integer))
    )
    return select(
        _current_implant(patient).with_only_columns(Implant.id).scalar_subquery(),
        filled.with_only_columns(ProgramVersion.id).scalar_subquery(),
        _in_force(patient).with_only_columns(ProgramVersion.id).scalar_subquery(),
        _last_refill(patient).with_only_columns(Refill.id).scalar_subquery(),
    )


# Indications that name where spasticity comes from: baclofen's dose-change profile follows it.
# A cerebral origin takes the stricter profile whenever the record names both.
SPINAL_INDICATIONS = ("spasticity after spinal cord injury", "spasticity in multiple sclerosis")
CEREBRAL_INDICATIONS = (
    "spasticity after stroke",
    "spasticity after brain injury",
    "spasticity in cerebral palsy",
)


def recorded_change_profile(session: Session, patient_id: int) -> tuple[str | None, str]:
    """The change profile the patient's indications call for, and which indication says so."""
    conditions = list(
        session.execute(
            select(Indication.condition)
            .where(Indication.patient_id == patient_id, record_not_voided("indication", Indication))
            .order_by(Indication.id)
        ).scalars()
    )
    for condition in conditions:
        if condition in CEREBRAL_INDICATIONS:
            return "cerebral", f"indication {condition!r}"
    for condition in conditions:
        if condition in SPINAL_INDICATIONS:
            return "spinal", f"indication {condition!r}"
    return None, "no indication names the origin of spasticity: each drug's default limits"


def _looser(program: Program, asked: str | None, recorded: str | None) -> list[str]:
    """Drugs for which profile ``asked`` allows a larger dose increase than ``recorded``."""
    out = []
    for ingredient in program.ingredients:
        drug = ingredient.drug
        if not drug.change_profiles:
            continue
        mine, theirs = change_bounds(drug, asked), change_bounds(drug, recorded)
        for limit in ("per_step_soft", "per_step_hard", "per_day_soft", "per_day_hard"):
            a, b = getattr(mine, limit), getattr(theirs, limit)
            if b is None:
                continue  # the record's profile sets no such limit: nothing to loosen
            # Compared over the range of daily doses a pump gives (1 mcg to 1 g per day).
            if a is None or any(
                allowed_increase_mcg_per_day(a.value, dose)
                > allowed_increase_mcg_per_day(b.value, dose)
                for dose in (1.0, 100.0, 10_000.0, 1_000_000.0)
            ):
                out.append(drug.key)
                break
    return out


def scheduled_refill(
    session: Session, patient_id: int, refill: Refill, now: datetime
) -> tuple[datetime, str]:
    """When the next refill is scheduled, from the records: the last fill's due date, or an
    earlier refill appointment booked for after now and not voided (a clinician brings a refill
    forward by booking it). Only an appointment booked after the last fill counts: one booked
    before it was for the visit that fill was (a stale booking must not bring the refill
    forward)."""
    booked = session.execute(
        select(Appointment)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.kind == "refill",
            Appointment.starts_at >= now,
            Appointment.starts_at >= refill.performed_at,
            Appointment.starts_at < refill.next_due_at,
            Appointment.booked_at >= (refill.recorded_at or refill.performed_at),
            record_not_voided("appointment", Appointment),
        )
        .order_by(Appointment.starts_at)
        .limit(1)
    ).scalar_one_or_none()
    if booked is not None:
        return booked.starts_at, f"refill appointment {booked.id}"
    return refill.next_due_at, f"due date of refill {refill.id}"


@dataclass(frozen=True)
class ReviewContext:
    """What the review was told beyond the program, each value with where it came from."""

    refill_id: int | None = None
    filled_ml: float | None = None
    filled_at: str | None = None
    next_refill_at: str | None = None
    next_refill_source: str = ""
    change_profile: str | None = None
    change_profile_source: str = ""
    opioid_tolerant: bool | None = None  # the patient's record; None: not stated
    bridge_planned: bool = False
    bridge_source: str = ""
    history_versions: tuple[int, ...] = ()  # the stored versions the rolling windows read


# Rolling windows reach 7 days back; the version in force at the window's start counts too.
HISTORY_WINDOW = timedelta(days=8)


def dose_history(
    session: Session, patient_id: int, now: datetime
) -> tuple[tuple[DoseRecord, ...], tuple[int, ...]]:
    """The patient's stored versions as the review's dose history, oldest first: each version
    signed in the window, and the one in force when it began. A version counts from its
    signature (the earliest it can reach the pump), which is the stricter reading."""
    kept: list[ProgramVersion] = []
    for row in sorted(history(session, patient_id), key=lambda r: r.version, reverse=True):
        kept.append(row)
        if row.signed_at <= now - HISTORY_WINDOW:
            break
    kept.reverse()
    records = tuple(
        DoseRecord(
            at_s=row.signed_at.timestamp(), doses_mcg_per_day=json.loads(row.daily_doses_json)
        )
        for row in kept
    )
    return records, tuple(row.version for row in kept)


def _drugs_change(old: Program | None, new: Program) -> bool:
    if old is None:
        return False
    return old.solution != new.solution


def require_same_solution(session: Session, patient: Patient, version: ProgramVersion) -> None:
    """Outside a refill a program may change rates and boluses, not what is in the reservoir:
    a new drug or concentration needs the refill wizard, which plans its bridge bolus."""
    running = in_force(session, patient.id)
    if running is None or running.id == version.id:
        return
    if _drugs_change(parse(running.program_toml), parse(version.program_toml)):
        raise InputError(
            "version",
            f"version {version.version} changes the drug or its concentration from version "
            f"{running.version}, which the pump runs: that needs a refill (the refill wizard "
            "applies it with its bridge bolus), not a program change",
        )


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
    program, result, _ = review_with_context(
        session, patient, text, acknowledgements, now, change_profile, next_refill_at
    )
    return program, result


def review_with_context(
    session: Session,
    patient: Patient,
    text: str,
    acknowledgements: Sequence[Acknowledgement],
    now: datetime,
    change_profile: str | None = None,
    next_refill_at: datetime | None = None,
    *,
    against: ProgramVersion | None = None,
) -> tuple[Program, ReviewResult, ReviewContext]:
    """Review ``text`` in the context the records give; a client value may only tighten it.

    ``against``: the version compared with (default the latest; applying a signed version to
    the pump compares it with the one in force, which the pump runs).

    The scheduled refill comes from the records (:func:`scheduled_refill`); ``next_refill_at``
    may name a later refill (the check then looks further ahead) but an earlier one is refused:
    it would turn EMPTIES_BEFORE_REFILL into nothing. Bring a refill forward by booking it.
    ``change_profile`` may be the profile the patient's indications call for or a stricter one.
    """
    new = parse(text)
    current = against if against is not None else latest(session, patient.id)
    old = parse(current.program_toml) if current else None
    implant = current_implant(session, patient.id)
    if implant is not None and new.device.key != implant.device_key:
        raise InputError(
            "device", f"the patient's pump is {implant.device_key!r}, not {new.device.key!r}"
        )
    doses, versions = dose_history(session, patient.id, now)
    tolerant = {"tolerant": True, "naive": False}.get(patient.opioid_status or "")
    # A new concentration or drug reaches the pump only with a refill (apply_version refuses it
    # outside one), and the refill wizard plans the bridge bolus of every such change.
    bridge = _drugs_change(old, new)
    recorded, profile_source = recorded_change_profile(session, patient.id)
    profile = recorded
    if change_profile is not None and change_profile != recorded:
        looser = _looser(new, change_profile, recorded)
        if looser:
            raise InputError(
                "change_profile",
                f"{change_profile!r} allows larger {', '.join(looser)} increases than the "
                f"patient's record calls for ({recorded or 'the default limits'}: "
                f"{profile_source}); a client may only choose a stricter profile",
            )
        profile, profile_source = change_profile, "chosen by the prescriber (stricter)"
    refill = last_refill(session, patient.id)
    context = None
    stored = ReviewContext(
        change_profile=profile,
        change_profile_source=profile_source,
        opioid_tolerant=tolerant,
        bridge_planned=bridge,
        bridge_source="the refill wizard bridges every change of drug or concentration"
        if bridge
        else "",
        history_versions=versions,
    )
    if refill is not None:
        scheduled, source = scheduled_refill(session, patient.id, refill, now)
        if next_refill_at is not None and next_refill_at < scheduled:
            raise InputError(
                "next_refill_at",
                f"{next_refill_at:%Y-%m-%d %H:%M} UTC is before the refill the records "
                f"schedule ({scheduled:%Y-%m-%d %H:%M} UTC, {source}); an earlier refill "
                "counts only when it is booked as a refill appointment",
            )
        if next_refill_at is not None and next_refill_at > scheduled:
            scheduled, source = next_refill_at, "given by the prescriber (later than scheduled)"
        context = RefillContext(
            filled_ml=refill.fill_ml,
            filled_at_s=refill.performed_at.timestamp(),
            next_refill_at_s=scheduled.timestamp(),
        )
        stored = replace(
            stored,
            refill_id=refill.id,
            filled_ml=refill.fill_ml,
            filled_at=refill.performed_at.isoformat(),
            next_refill_at=scheduled.isoformat(),
            next_refill_source=source,
        )
    result = review(
        ReviewInput(
            new=new,
            old=old,
            change_profile=profile,
            refill=context,
            opioid_tolerant=tolerant,
            bridge_planned=bridge,
            history=doses,
            now_s=now.timestamp(),
        ),
        acknowledgements,
    )
    return new, result, stored


@dataclass(frozen=True)
class Draft:
    program_toml: str
    reason: str
    replaces_version: int | None  # the version the author saw; None for a first program
    acknowledgements: tuple[Acknowledgement, ...] = ()
    change_profile: str | None = None  # the record's profile or a stricter one
    # A refill later than the one the records schedule (tightens the check); never earlier.
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
    program, result, context = review_with_context(
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
        review_context_json=json.dumps(asdict(context)),
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
        and a.solution == b.solution
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
