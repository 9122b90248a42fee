"""Refills: reconcile the old fill, prepare and record the new one, all in one transaction.

The maths is the clinician programmer's (``clinical.reconcile``, ``clinical.refill.plan``,
``clinical.bridge``, ``clinical.compounding``); this module gathers its inputs from the records
and stores the result. A refill row is never changed afterwards: a wrong one is voided by a
correction row (:func:`void`) and the last refill not voided is the one the next reconciles.

Saved once: a refill names the refill it follows (the last one not voided, None for the first);
the patient's row is locked while it is checked and written, so of two refills racing against
the same fill one is stored and the other gets :class:`ConflictError`. A reconciliation that says
INVESTIGATE is saved only with a written reason and a physician's co-signature (password
checked here, never stored).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from enum import Enum
from functools import cache

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.clinical.bridge import Bridge, bridge
from intrathecal.clinical.compounding import Recipe, recipe
from intrathecal.clinical.reconcile import Reconciliation, reconcile
from intrathecal.clinical.refill import RefillDue, plan
from intrathecal.library import default_library
from intrathecal.store import audit, hashing, programs, users
from intrathecal.store.db import reading
from intrathecal.store.errors import ConflictError, NotFoundError
from intrathecal.store.models import (
    Alarm,
    AuditEntry,
    Patient,
    ProgramVersion,
    Refill,
    RefillVoid,
    Role,
    Stage,
    User,
)
from intrathecal.store.programs import last_refill  # one query, shared with programs.py
from intrathecal.store.types import utc_from_s
from intrathecal.therapy.program import Program
from intrathecal.units import InputError

# Stock solutions a pharmacy commonly holds, used only to pre-fill the compounding form: the
# pharmacist confirms or corrects them (they are not library values and carry no source).
TYPICAL_STOCK_MCG_PER_ML = {
    "morphine": 25_000.0,
    "hydromorphone": 10_000.0,
    "fentanyl": 50.0,
    "sufentanil": 50.0,
    "bupivacaine": 7_500.0,
    "clonidine": 500.0,
    "ziconotide": 100.0,
    "baclofen": 2_000.0,
}


class Follows(Enum):
    """For callers inside the server (seed, scripts): follow whichever refill is last now."""

    LATEST = "latest"


@dataclass(frozen=True)
class RefillRequest:
    fill_ml: float
    performed_at: datetime
    withdrawn_ml: float | None = None  # None only on the first fill of an implant
    demand_boluses: int = 0
    program_version: int | None = None  # version to run after the refill; default the latest
    stocks_mcg_per_ml: dict[str, float] = field(default_factory=dict)
    overage_ml: float = 0.0
    via: str = "typed in"
    readback: str = ""  # program text the pump read back after it was sent (virtual pump)
    notes: str = ""
    # The refill this one follows, as its author saw it (None: the patient's first refill).
    follows_refill_id: int | Follows | None = Follows.LATEST
    # Saving over INVESTIGATE: why, and the co-signing physician (may be the saver, if a
    # physician, re-entering their password).
    investigate_reason: str = ""
    cosigner: str = ""
    cosigner_password: str = field(default="", repr=False)
    # What went in (0009): each drug's lot and expiry, and who compounded (full name).
    lots: tuple[DrugLot, ...] = ()
    compounded_by: str = ""
    # Filling a version older than the one in force needs a reason (recorded in the notes).
    older_version_reason: str = ""


# Longest lot number and name kept: a lot is a short code; a full name is a line.
MAX_LOT_CHARS = 40
MAX_NAME_CHARS = 120


@dataclass(frozen=True)
class DrugLot:
    drug: str
    lot: str
    expiry: date


@dataclass(frozen=True)
class RefillPlan:
    old_version: ProgramVersion | None  # the version run since the last fill
    new_version: ProgramVersion
    new_program: Program
    previous: Refill | None  # the fill reconciled (same implant), None on a first fill
    reconciliation: Reconciliation | None
    recipe: Recipe | None
    bridge: Bridge | None
    due: RefillDue
    notes: tuple[str, ...]
    previous_any: Refill | None = None  # the last refill not voided, of any implant: followed
    # What it was computed for and on: a plan made before the write lock is saved only for the
    # same request on the same basis (see :func:`save`).
    request: RefillRequest | None = None
    implant_id: int | None = None  # the implant filled (the patient's current one)

    @property
    def program_changes(self) -> bool:
        return self.old_version is None or self.old_version.id != self.new_version.id

    @property
    def basis(self) -> programs.RefillBasis:
        """The records it was computed from, by id."""
        return programs.RefillBasis(
            implant=self.implant_id,
            new_version=self.new_version.id,
            in_force=self.old_version.id if self.old_version is not None else None,
            last_refill=self.previous_any.id if self.previous_any is not None else None,
        )


def whole_seconds(request: RefillRequest) -> RefillRequest:
    """Pump time has whole seconds: a refill time is truncated to the second it falls in."""
    return replace(request, performed_at=request.performed_at.replace(microsecond=0))


def prepare(session: Session, patient: Patient, request: RefillRequest) -> RefillPlan:
    """Everything the refill wizard shows, computed from the records; nothing is stored.

    It reads the rows of :class:`programs.RefillBasis` and nothing else that can change (the
    drug library is the process's own): a new input read here must join that basis, or a plan
    made before the write lock could be saved on records that changed under it."""
    request = whole_seconds(request)
    implant = programs.current_implant(session, patient.id)
    if implant is None:
        raise InputError("patient", "has no implant to refill")
    if request.program_version is not None:
        new_version = programs.by_version(session, patient.id, request.program_version)
    else:
        latest = programs.latest(session, patient.id)
        if latest is None:
            raise InputError("program_version", "the patient has no signed program")
        new_version = latest
    new_program = programs.parse(new_version.program_toml)
    reservoir = new_program.device.reservoir_ml.value
    if not 0 < request.fill_ml <= reservoir:
        raise InputError("fill", f"must be above 0 mL and at most the reservoir {reservoir:g} mL")
    old_version = programs.in_force(session, patient.id)
    previous_any = previous = last_refill(session, patient.id)
    if previous is not None and previous.implant_id != implant.id:
        previous = None  # a new implant starts a new fill history
    notes: list[str] = []
    reconciliation = None
    if previous is not None:
        if request.withdrawn_ml is None:
            raise InputError("withdrawn", "give the volume withdrawn from the reservoir")
        if request.performed_at < previous.performed_at:
            raise InputError("performed_at", "is before the last refill")
        run_version = session.get(ProgramVersion, previous.program_version_id)
        assert run_version is not None
        if old_version is not None and old_version.id != run_version.id:
            notes.append(
                f"the program changed since the last fill (version {run_version.version} -> "
                f"{old_version.version}); the expected residual is computed with version "
                f"{run_version.version}, the one filled: check the change's date"
            )
        reconciliation = reconcile(
            programs.parse(run_version.program_toml),
            previous.fill_ml,
            previous.performed_at.timestamp(),
            request.withdrawn_ml,
            request.performed_at.timestamp(),
            request.demand_boluses,
        )
    elif request.withdrawn_ml not in (None, 0.0):
        notes.append("first fill of this implant: nothing to reconcile")
    wanted = {i.drug.key: i.concentration_mcg_per_ml for i in new_program.ingredients}
    made = None
    if request.stocks_mcg_per_ml:
        made = recipe(
            default_library(),
            wanted,
            request.stocks_mcg_per_ml,
            request.fill_ml,
            request.overage_ml,
        )
    bridged = None
    if old_version is not None and old_version.id != new_version.id:
        old_program = programs.parse(old_version.program_toml)
        if old_program.solution != new_program.solution:
            bridged = bridge(old_program, new_program)
    naive = previous is None
    due = plan(new_program, request.fill_ml, request.performed_at.timestamp(), naive_pump=naive)
    return RefillPlan(
        old_version=old_version,
        new_version=new_version,
        new_program=new_program,
        previous=previous,
        reconciliation=reconciliation,
        recipe=made,
        bridge=bridged,
        due=due,
        notes=tuple(notes),
        previous_any=previous_any,
        request=request,
        implant_id=implant.id,
    )


def prepare_apart(
    sessions: sessionmaker[Session], patient_id: int, request: RefillRequest
) -> RefillPlan | None:
    """The refill prepared in a session that only reads, before the caller's write transaction
    takes the database's write lock: the reconciliation, review and due date are computed while
    other writers go on. None when it cannot be prepared now (the error is for :func:`save` to
    give, from the records as they are under the lock)."""
    with reading(sessions) as reader:
        patient = reader.get(Patient, patient_id)
        if patient is None:
            return None
        try:
            return prepare(reader, patient, request)
        except (InputError, NotFoundError):
            return None


def lock_patient(session: Session, patient: Patient) -> None:
    """Hold the patient's row until commit, so refills and voids of one patient queue (SQLite's
    write transactions already do: BEGIN IMMEDIATE). Queries after the lock see a refill
    committed while this one waited, and the follows check refuses the second."""
    session.execute(select(Patient.id).where(Patient.id == patient.id).with_for_update())


def check_follows(request: RefillRequest, last: Refill | None) -> None:
    if request.follows_refill_id is Follows.LATEST:
        return
    current = last.id if last is not None else None
    if request.follows_refill_id == current:
        return
    if last is None:
        message = "this patient has no refill yet; leave follows_refill_id empty (null)"
    else:
        message = (
            f"refill {last.id} ({last.performed_at:%Y-%m-%d %H:%M} UTC by {last.performed_by}) "
            f"is the last refill, not {request.follows_refill_id}: another refill or a void was "
            "saved after you opened this one; reload, check its reconciliation and enter yours "
            "again"
        )
    raise ConflictError(message, current, field="follows_refill_id", current_key="current_refill")


# Wrong co-signature passwords allowed per physician in the window before co-signing as them is
# refused for a while: a signed-in user must not be able to guess a physician's password here
# faster than at the sign-in (same numbers as users.FREE_FAILURES and users.WINDOW).
FREE_COSIGN_FAILURES = users.FREE_FAILURES
COSIGN_WINDOW = users.WINDOW
COSIGN_FAILED = "refill.cosign-failed"  # audit action of a refused co-signature


class CosignError(InputError):
    """A wrong co-signature password; the door records it (:func:`record_failed_cosign`) in
    its own transaction after rolling back the refill."""

    def __init__(self, cosigner: str) -> None:
        super().__init__(
            "cosigner_password",
            "wrong user name or password for an active physician: the refill is not saved",
        )
        self.cosigner = cosigner


def record_failed_cosign(
    session: Session, cosigner: str, actor: str, now: datetime, patient_id: int
) -> None:
    audit.record(
        session, now, actor, COSIGN_FAILED, f"patient:{patient_id}", {"cosigner": cosigner[:64]}
    )


def _failed_cosigns(session: Session, cosigner: str, now: datetime) -> int:
    details = session.execute(
        select(AuditEntry.detail_json).where(
            AuditEntry.action == COSIGN_FAILED, AuditEntry.at >= now - COSIGN_WINDOW
        )
    ).scalars()
    return sum(1 for d in details if json.loads(d).get("cosigner") == cosigner)


def _claimed_cosigner(
    session: Session, request: RefillRequest, performed_by: str, now: datetime | None
) -> tuple[str, User | None]:
    """Every check of a co-signature but its password: the name it is given in and that user
    (None: no such user). InputError for a missing reason or co-signer, or too many failures."""
    if not request.investigate_reason.strip():
        raise InputError(
            "investigate_reason",
            "the reconciliation says INVESTIGATE: write why the refill goes ahead",
        )
    name = request.cosigner.strip() or performed_by
    saver = session.execute(select(User).where(User.username == performed_by)).scalar_one_or_none()
    if name == performed_by and (saver is None or saver.role != Role.PHYSICIAN.value):
        raise InputError(
            "cosigner",
            "the reconciliation says INVESTIGATE: a physician must co-sign (their user name "
            "and password)",
        )
    at = now or request.performed_at
    if _failed_cosigns(session, name, at) >= FREE_COSIGN_FAILURES:
        raise InputError(
            "cosigner_password",
            f"too many wrong co-signature passwords for {name!r} in the last "
            f"{COSIGN_WINDOW.total_seconds() / 60:.0f} minutes: try later or ask another "
            "physician",
        )
    cosigner = session.execute(select(User).where(User.username == name)).scalar_one_or_none()
    return name, cosigner


def _may_cosign(user: User) -> bool:
    return user.active and user.role == Role.PHYSICIAN.value


def cosign(
    session: Session, request: RefillRequest, performed_by: str, now: datetime | None = None
) -> str:
    """The physician who co-signs saving over INVESTIGATE (their password checked here)."""
    name, cosigner = _claimed_cosigner(session, request, performed_by, now)
    if cosigner is None:
        users.hash_password(request.cosigner_password)  # same cost: no probing by timing
        raise CosignError(name)
    if not _may_cosign(cosigner) or not users.check_password(
        cosigner.password_hash, request.cosigner_password
    ):
        raise CosignError(name)
    return cosigner.username


def verify_cosignature(
    sessions: sessionmaker[Session], request: RefillRequest, performed_by: str, now: datetime
) -> Future[str | None]:
    """The co-signing physician, checked before the refill's write transaction begins.

    A password check (argon2) takes about 0.1 s: inside SQLite's write lock it would hold up
    every other write of the clinic, audit entries of reads included. The records are read here
    with a read-only session; the password is checked on the hashing threads, and the answer is
    a future, so that a web request can wait for it without holding one of its few worker
    threads (a co-signed save held one for about 0.5 s under load). The save then takes the
    answer as ``verified_cosigner``. None when no co-signature was given or it does not check
    out: the save then decides (and records a wrong password) as without this step.
    """
    if not (request.cosigner_password and request.investigate_reason.strip()):
        return hashing.answered(None)
    with reading(sessions) as session:
        try:
            _, cosigner = _claimed_cosigner(session, request, performed_by, now)
        except InputError:
            return hashing.answered(None)
        if cosigner is None or not _may_cosign(cosigner):
            return hashing.answered(None)  # the save checks again and records the failure
        stored, username = cosigner.password_hash, cosigner.username
    password = request.cosigner_password
    return hashing.submit(lambda: username if users.password_matches(stored, password) else None)


def voids(session: Session, patient_id: int) -> dict[int, RefillVoid]:
    """The patient's voided refills: refill id -> its correction record."""
    rows = session.execute(_voids_query(), {"patient_id": patient_id})
    return {v.refill_id: v for v in rows.scalars()}


@cache
def _voids_query() -> Select[RefillVoid]:
    # Built once (every chart and refill list reads it; building it cost more than running it).
    return select(RefillVoid).where(RefillVoid.patient_id == bindparam("patient_id"))


def void(
    session: Session,
    patient: Patient,
    refill_id: int,
    reason: str,
    actor: str,
    now: datetime,
) -> RefillVoid:
    """Void a wrong refill by a correction record; the row stays, nothing follows it any more.

    The patient's due date and predicted alarm return to those of the last refill not voided
    (none: no date). The program applied with the refill stays applied (the pump runs it).
    """
    if not reason.strip():
        raise InputError("reason", "say why the refill is void")
    lock_patient(session, patient)
    refill = require(session, patient.id, refill_id)
    done = session.execute(
        select(RefillVoid).where(RefillVoid.refill_id == refill_id)
    ).scalar_one_or_none()
    if done is not None:
        raise ConflictError(
            f"refill {refill_id} was voided by {done.voided_by} at "
            f"{done.voided_at:%Y-%m-%d %H:%M} UTC already",
            refill_id,
            field="refill",
            current_key="voided_refill",
        )
    row = RefillVoid(
        refill_id=refill.id,
        patient_id=patient.id,
        reason=reason.strip(),
        voided_by=actor,
        voided_at=now,
    )
    session.add(row)
    session.flush()
    last = last_refill(session, patient.id)
    patient.next_refill_due_at = last.next_due_at if last else None
    patient.low_alarm_at = last.low_alarm_at if last else None
    audit.record(
        session,
        now,
        actor,
        "refill.void",
        f"patient:{patient.id}",
        {"refill": refill.id, "reason": row.reason, "last_refill": last.id if last else None},
    )
    return row


def save(
    session: Session,
    patient: Patient,
    request: RefillRequest,
    performed_by: str,
    *,
    on_flushed: Callable[[], None] | None = None,
    recorded_at: datetime | None = None,
    verified_cosigner: str | None = None,
    prepared_apart: RefillPlan | None = None,
) -> Refill:
    """Prepare and store a refill with its program application and the patient's next due date.

    Everything is flushed inside the caller's transaction; the caller commits once, so a crash
    at any point leaves the whole refill or none of it. ``on_flushed`` runs after every row is
    written and before the commit (tests use it to kill the process there). ``recorded_at`` is
    the server's clock (it dates the row's recording and the audit entry); ``performed_at``,
    when given by a client, has been checked against it at the door. ``verified_cosigner``:
    the physician whose password the server already checked for this refill before it was sent
    to a pump (the pump link and its recovery); never taken from a client. ``prepared_apart``:
    the plan :func:`prepare_apart` made for this request before the lock; it is used only if
    its basis is the patient's basis now, under the lock, else the refill is prepared again.
    """
    request = whole_seconds(request)
    lock_patient(session, patient)
    prepared = prepared_apart
    if (
        prepared is None
        or prepared.request != request
        or prepared.basis != programs.refill_basis(session, patient.id, request.program_version)
    ):
        prepared = prepare(session, patient, request)
    check_follows(request, prepared.previous_any)
    check_contents(prepared, request)
    rec = prepared.reconciliation
    cosigned_by = None
    if rec is not None and rec.investigate:
        if verified_cosigner is not None and request.investigate_reason.strip():
            cosigned_by = verified_cosigner
        else:
            cosigned_by = cosign(session, request, performed_by, recorded_at)
    recorded = recorded_at or request.performed_at
    refill = Refill(
        patient_id=patient.id,
        implant_id=prepared.new_version.implant_id,
        program_version_id=prepared.new_version.id,
        performed_at=request.performed_at,
        performed_by=performed_by,
        via=request.via,
        previous_fill_ml=rec.filled_ml if rec else None,
        expected_residual_ml=rec.expected_ml if rec else None,
        withdrawn_ml=rec.withdrawn_ml if rec else None,
        discrepancy_ml=rec.discrepancy_ml if rec else None,
        investigate=rec.investigate if rec else False,
        reconciliation_json=json.dumps(asdict(rec)) if rec else "{}",
        fill_ml=request.fill_ml,
        concentrations_json=json.dumps(
            {i.drug.key: i.concentration_mcg_per_ml for i in prepared.new_program.ingredients}
        ),
        recipe_json=json.dumps(_recipe_dict(prepared.recipe)) if prepared.recipe else "{}",
        bridge_json=json.dumps(asdict(prepared.bridge)) if prepared.bridge else "{}",
        next_due_at=utc_from_s(prepared.due.refill_due_at_s),
        low_alarm_at=utc_from_s(prepared.due.low_reservoir_alarm_at_s),
        limited_by=prepared.due.limited_by.value,
        notes="\n".join(
            [*prepared.notes, *older_version_note(prepared, request), request.notes]
        ).strip(),
        follows_refill_id=prepared.previous_any.id if prepared.previous_any else None,
        recorded_at=recorded,
        investigate_reason=request.investigate_reason.strip() if cosigned_by else None,
        cosigned_by=cosigned_by,
        cosigned_at=recorded if cosigned_by else None,
        drug_lots_json=json.dumps(
            [{"drug": x.drug, "lot": x.lot, "expiry": x.expiry.isoformat()} for x in request.lots]
        ),
        compounded_by=request.compounded_by.strip() or None,
    )
    session.add(refill)
    if prepared.program_changes:
        programs.apply_version(
            session,
            patient,
            prepared.new_version,
            performed_by,
            request.performed_at,
            request.via,
            request.readback,
        )
    patient.next_refill_due_at = refill.next_due_at
    patient.low_alarm_at = refill.low_alarm_at
    patient.stage = Stage.IMPLANTED.value
    # The refill answers any open low-reservoir alarm of this patient.
    session.execute(
        update(Alarm)
        .where(
            Alarm.patient_id == patient.id,
            Alarm.cleared_at.is_(None),
            Alarm.kind == "low reservoir",
        )
        .values(cleared_at=request.performed_at, cleared_by=performed_by)
        # Straight to the database: no alarm row of this session is read after it (matching
        # the statement against every loaded row cost more than the update).
        .execution_options(synchronize_session=False)
    )
    session.flush()
    audit.record(
        session,
        recorded,
        performed_by,
        "refill.save",
        f"patient:{patient.id}",
        {
            "refill": refill.id,
            "follows": refill.follows_refill_id,
            "performed_at": request.performed_at.isoformat(),
            "fill_ml": request.fill_ml,
            "withdrawn_ml": request.withdrawn_ml,
            "investigate": refill.investigate,
            "cosigned_by": cosigned_by,
            "program_version": prepared.new_version.version,
        },
    )
    if on_flushed is not None:
        on_flushed()
    return refill


def older_than_in_force(prepared: RefillPlan) -> ProgramVersion | None:
    """The version in force when the refill fills an older one, else None."""
    running = prepared.old_version
    if running is not None and prepared.new_version.version < running.version:
        return running
    return None


def older_version_note(prepared: RefillPlan, request: RefillRequest) -> list[str]:
    running = older_than_in_force(prepared)
    if running is None:
        return []
    return [
        f"version {prepared.new_version.version} filled, older than version {running.version} "
        f"in force: {request.older_version_reason.strip()}"
    ]


def check_contents(prepared: RefillPlan, request: RefillRequest) -> None:
    """What a refill puts in, checked at every door before anything is sent or stored: an older
    version than the one in force needs a reason; each lot names a drug of the new program
    once, and no drug expires before the fill's day; names and lots have a length."""
    running = older_than_in_force(prepared)
    if running is not None and not request.older_version_reason.strip():
        raise InputError(
            "older_version_reason",
            f"version {prepared.new_version.version} is older than version {running.version}, "
            f"in force (signed by {running.signed_by} on {running.signed_at:%Y-%m-%d}): say why "
            "the older version is filled, or choose the current one",
        )
    if len(request.older_version_reason) > 2000:
        raise InputError("older_version_reason", "is too long (at most 2000 characters)")
    if len(request.compounded_by) > MAX_NAME_CHARS:
        raise InputError("compounded_by", f"is too long (at most {MAX_NAME_CHARS} characters)")
    drugs = {i.drug.key for i in prepared.new_program.ingredients}
    seen: set[str] = set()
    fill_day = request.performed_at.date()
    for lot in request.lots:
        if lot.drug not in drugs:
            raise InputError(
                f"lot_{lot.drug[:40]}",
                f"{lot.drug[:40]!r} is not in version {prepared.new_version.version} "
                f"({', '.join(sorted(drugs))})",
            )
        if lot.drug in seen:
            raise InputError(f"lot_{lot.drug}", "is given twice")
        seen.add(lot.drug)
        if not lot.lot.strip() or len(lot.lot) > MAX_LOT_CHARS or not lot.lot.isprintable():
            raise InputError(
                f"lot_{lot.drug}",
                f"the lot number must be 1 to {MAX_LOT_CHARS} printable characters",
            )
        if lot.expiry < fill_day:
            raise InputError(
                f"expiry_{lot.drug}",
                f"{lot.drug} expires on {lot.expiry:%Y-%m-%d}, before the fill date "
                f"{fill_day:%Y-%m-%d}: it may not be filled",
            )


def _recipe_dict(made: Recipe) -> dict[str, object]:
    data = asdict(made)
    data["findings"] = [programs.finding_dict(f) for f in made.findings]
    return data


def require(session: Session, patient_id: int, refill_id: int) -> Refill:
    refill = session.get(Refill, refill_id)
    if refill is None or refill.patient_id != patient_id:
        raise NotFoundError(f"refill {refill_id} of patient {patient_id}")
    return refill
