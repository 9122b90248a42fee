"""The JSON API under /api/v1: every record and action the pages use, same validation."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from intrathecal.clinical.compounding import recipe
from intrathecal.library import default_library
from intrathecal.safety.review import Acknowledgement, ReviewResult
from intrathecal.store import audit, dashboard, programs, records, refills
from intrathecal.store.errors import NotFoundError
from intrathecal.store.models import (
    Patient,
    Refill,
)
from intrathecal.store.types import utc_from_s
from intrathecal.therapy.program import Program
from intrathecal.therapy.summary import summarize
from intrathecal.web import client_time, cosignature, deps, settings
from intrathecal.web.api import schemas, serialize
from intrathecal.web.api.answers import errors, signed_in
from intrathecal.web.api.patient_records import KINDS
from intrathecal.web.deps import COOKIE, Actor, get_db, now, read_only, require
from intrathecal.web.disclaimer import DISCLAIMER
from intrathecal.web.idempotency import Idempotency, idempotency
from intrathecal.web.program_pump import apply_through_link
from intrathecal.web.read_audit import audit_read, audit_search, audited_chart

router = APIRouter(prefix="/api/v1")
MAX_PAGE = 200
# No list is this long; a larger offset would overflow the database's integer (a 500).
MAX_OFFSET = 10**9


def page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    following = offset + limit if offset + limit < total else None
    return {
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_offset": following,
    }


Limit = Query(50, ge=1, le=MAX_PAGE)
Offset = Query(0, ge=0, le=MAX_OFFSET)


# --- sign-in -------------------------------------------------------------------------------


@router.post(
    "/auth/sign-in",
    tags=["auth"],
    response_model=schemas.SignInAnswer,
    responses=errors(401, 422, 429),
)
async def sign_in(
    body: schemas.SignInBody,
    request: Request,
    response: Response,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    """Sign in; the token works as a Bearer token or as the session cookie (then send the
    csrf_token in an X-CSRF-Token header with every change)."""
    result = await deps.sign_in(request, db, body.username, body.password)
    if result.wait_s > 0:
        raise TooManyError(result.wait_s)
    if result.user is None:
        raise BadSignInError()
    set_session_cookie(response, result.token, request)
    return {
        "ok": True,
        "token": result.token,
        "csrf_token": result.csrf_token,
        "user": serialize.user(result.user),
    }


def set_session_cookie(response: Response, token: str, request: Request) -> None:
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        # Behind a TLS proxy the app sees plain http: ITP_COOKIE_SECURE=1 sets the flag anyway.
        secure=settings.of(request).cookie_secure or request.url.scheme == "https",
        max_age=12 * 3600,
        path="/",
    )


class TooManyError(Exception):
    def __init__(self, wait_s: float) -> None:
        super().__init__(f"too many failed sign-ins; try again in {wait_s:.0f} s")
        self.wait_s = wait_s


class BadSignInError(Exception):
    pass


@router.post(
    "/auth/sign-out", tags=["auth"], response_model=schemas.OkAnswer, responses=signed_in()
)
def sign_out(
    request: Request,
    response: Response,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("account.self")),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    db.delete(actor.session)
    audit.record(db, now(request), actor.name, "sign-out", f"user:{actor.name}")
    db.commit()
    response.delete_cookie(COOKIE, path="/")
    return {"ok": True}


@router.get("/me", tags=["auth"], response_model=schemas.UserAnswer, responses=signed_in())
@read_only
def me(actor: Actor = Depends(require("account.self"))) -> dict[str, Any]:  # noqa: B008 (FastAPI dependency)
    return {"ok": True, "user": serialize.user(actor.user)}


# --- dashboard and calendar ------------------------------------------------------------------


@router.get(
    "/dashboard",
    tags=["clinic"],
    response_model=schemas.DashboardAnswer,
    responses=signed_in(),
)
@read_only
def get_dashboard(
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("dashboard.read")),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    audit_search(request, actor, "dashboard worklists")  # names and due dates of patients
    board = dashboard.build(db, now(request))
    return {
        "ok": True,
        "counts": board.counts,
        "due_this_week": [serialize.patient(p) for p in board.due_this_week],
        "overdue": [serialize.patient(p) for p in board.overdue],
        "predicted_low_reservoir_alarms": [
            serialize.patient(p) for p in board.predicted_low_alarms
        ],
        "open_alarms": [serialize.alarm(a) for a, _ in board.open_alarms],
        "devices_nearing_replacement": [serialize.implant(i) for i, _ in board.replacements],
        "disclaimer": DISCLAIMER,
    }


@router.get(
    "/calendar",
    tags=["clinic"],
    response_model=schemas.CalendarAnswer,
    responses=signed_in(),
)
@read_only
def get_calendar(
    request: Request,
    start: schemas.ClinicTime | None = None,
    days: int = Query(28, ge=1, le=366),
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("dashboard.read")),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    begin = start or now(request)
    audit_search(request, actor, "refill calendar", start=begin.isoformat(), days=days)
    due = dashboard.calendar(db, begin, begin + timedelta(days=days))
    return {
        "ok": True,
        "from": serialize.iso(begin),
        "days": days,
        "refills_due": [serialize.patient(p) for p in due],
    }


# --- patients ----------------------------------------------------------------------------------


@router.get(
    "/patients",
    tags=["patients"],
    response_model=schemas.PatientsAnswer,
    responses=signed_in(),
)
@read_only
def list_patients(
    request: Request,
    q: str = "",
    stage: str = "",
    limit: int = Limit,
    offset: int = Offset,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("chart.read")),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    audit_search(request, actor, "patients", q=q, stage=stage, offset=offset)
    query = select(Patient)
    if q:
        query = query.where(or_(Patient.name.ilike(f"%{q}%"), Patient.mrn.ilike(f"%{q}%")))
    if stage:
        query = query.where(Patient.stage == stage)
    total = db.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = db.execute(query.order_by(Patient.id).limit(limit).offset(offset)).scalars()
    return {"ok": True, **page([serialize.patient(p) for p in rows], total, limit, offset)}


@router.post(
    "/patients/{patient_id}/opioid-status",
    tags=["patients"],
    response_model=schemas.PatientAnswer,
    responses=signed_in(404),
)
def set_opioid_status(
    patient_id: int,
    body: schemas.OpioidStatusBody,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("patient.write")),  # noqa: B008 (FastAPI dependency)
    idem: Idempotency = Depends(idempotency),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    """Record the patient's opioid status, which selects the starting range the program review
    uses; the change is audited with the status before it and why."""

    def work() -> dict[str, Any]:
        row = _patient(db, patient_id)
        before, row.opioid_status = row.opioid_status, body.opioid_status
        audit.record(
            db,
            now(request),
            actor.name,
            "patient.opioid_status",
            f"patient:{patient_id}",
            {"from": before, "to": body.opioid_status, "reason": body.reason},
        )
        return {"ok": True, "patient": serialize.patient(row)}

    return idem.run(db, actor.name, 200, work)


@router.get(
    "/patients/{patient_id}",
    tags=["patients"],
    response_model=schemas.ChartAnswer,
    responses=signed_in(404),
)
def get_patient(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("chart.read")),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    """The whole chart. Every read is written to the audit log."""
    chart = audited_chart(request, actor, db, patient_id)
    current = programs.in_force(db, patient_id)
    voided = refills.voids(db, patient_id)
    void = records.voided(db, patient_id)

    def mark(kind: str, rows: list[Any]) -> list[dict[str, Any]]:
        return [serialize.marked(kind, SERIALIZERS[kind](r), void) for r in rows]

    return {
        "ok": True,
        "patient": serialize.patient(chart.patient),
        "indications": mark("indication", chart.indications),
        "prior_treatments": mark("prior-treatment", chart.prior_treatments),
        "evaluations": mark("evaluation", chart.evaluations),
        "trials": mark("trial", chart.trials),
        "implants": mark("implant", chart.implants),
        "program_in_force": serialize.program_version(current) if current else None,
        "program_versions": [serialize.program_version(r) for r in chart.programs],
        "program_applications": [serialize.application(r) for r in chart.applications],
        "refills": [serialize.refill(r, voided) for r in chart.refills[-20:]],
        "refill_count": len(chart.refills),
        "alarms": mark("alarm", chart.alarms),
        "appointments": mark("appointment", chart.appointments),
        "adverse_events": mark("adverse-event", chart.adverse_events),
        "disclaimer": DISCLAIMER,
    }


def _patient(db: Session, patient_id: int) -> Patient:
    return records.require_patient(db, patient_id)


# Adding a record (indications ... adverse events, and a new patient): web/api/patient_records.py


# --- programs ----------------------------------------------------------------------------------


def review_payload(program: Program, result: ReviewResult) -> dict[str, Any]:
    summary = summarize(program)
    return {
        "allowed": result.allowed,
        "findings": [programs.finding_dict(f) for f in result.findings],
        "unacknowledged": [f.code for f in result.unacknowledged],
        "acknowledgements": [asdict(a) for a in result.acknowledgements],
        "comparison": [asdict(r) for r in result.comparison],
        "daily_volume_ml": summary.mean_volume_ml_per_day,
        "daily_doses_mcg": summary.doses_mcg_per_day,
        "worst_case_daily_volume_ml": summary.worst_case_volume_ml_per_day,
        "notices": [{"field": n.field, "message": n.message} for n in program.notices],
        "disclaimer": DISCLAIMER,
    }


def acknowledgements(actor: Actor, body: schemas.ReviewBody) -> tuple[Acknowledgement, ...]:
    return tuple(Acknowledgement(a.code, actor.name, a.why) for a in body.acknowledgements)


@router.get(
    "/patients/{patient_id}/programs",
    tags=["programs"],
    response_model=schemas.ProgramsAnswer,
    responses=signed_in(404),
)
@read_only
def list_programs(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("chart.read")),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    audit_read(request, actor, patient_id, "program versions")  # 404 for no such patient
    rows = programs.history(db, patient_id)
    current = programs.in_force(db, patient_id)
    return {
        "ok": True,
        "in_force_version": current.version if current else None,
        "versions": [serialize.program_version(r) for r in rows],
    }


@router.post(
    "/patients/{patient_id}/programs/review",
    tags=["programs"],
    response_model=schemas.ReviewAnswer,
    responses=signed_in(404),
)
@read_only
def review_program(
    patient_id: int,
    body: schemas.ReviewBody,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("program.review")),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    """Review a draft against the patient's current version; nothing is stored."""
    patient = _patient(db, patient_id)
    program, result = programs.review_for_patient(
        db,
        patient,
        body.program_toml,
        acknowledgements(actor, body),
        now(request),
        body.change_profile,
        body.next_refill_at,
    )
    return {"ok": True, **review_payload(program, result)}


@router.post(
    "/patients/{patient_id}/programs",
    tags=["programs"],
    status_code=201,
    response_model=schemas.ProgramVersionAnswer,
    responses=signed_in(404, 409),
)
def sign_program(
    patient_id: int,
    body: schemas.ProgramBody,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("program.sign")),  # noqa: B008 (FastAPI dependency)
    idem: Idempotency = Depends(idempotency),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    """Sign a new version. 409 when ``replaces_version`` is not the latest version. The refill
    context comes from the records: ``next_refill_at`` may only name a later refill, and
    ``change_profile`` only the patient's or a stricter one (else 422)."""

    def work() -> dict[str, Any]:
        patient = _patient(db, patient_id)
        version = programs.save_version(
            db,
            patient,
            programs.Draft(
                body.program_toml,
                body.reason,
                body.replaces_version,
                acknowledgements(actor, body),
                body.change_profile,
                body.next_refill_at,
            ),
            actor.name,
            now(request),
        )
        return {"ok": True, "program_version": serialize.program_version(version)}

    return idem.run(db, actor.name, 201, work)


@router.post(
    "/patients/{patient_id}/programs/{version}/apply",
    tags=["programs"],
    response_model=schemas.ApplicationAnswer,
    responses=signed_in(404),
)
def apply_program(
    patient_id: int,
    version: int,
    body: schemas.ApplyBody,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("program.apply")),  # noqa: B008 (FastAPI dependency)
    idem: Idempotency = Depends(idempotency),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    """Record that a signed version was sent to the pump (a nurse may apply what a physician
    signed)."""

    def work() -> dict[str, Any]:
        patient = _patient(db, patient_id)
        row = programs.by_version(db, patient_id, version)
        programs.require_same_solution(db, patient, row)
        if body.send_to_pump:
            links = request.app.state.pump_links
            applied = apply_through_link(db, links, patient, row, actor.name, now(request))
        else:
            applied = programs.apply_version(
                db, patient, row, actor.name, now(request), body.via, body.readback_toml
            )
        return {"ok": True, "application": serialize.application(applied)}

    return idem.run(db, actor.name, 200, work)


# --- refills -----------------------------------------------------------------------------------


def refill_request(body: schemas.RefillPlanBody, request: Request) -> refills.RefillRequest:
    """The refill as asked, its time kept only within the allowed skew of the server's clock."""
    performed_at = client_time.kept(
        body.performed_at, now(request), client_time.skew(request), "performed_at"
    )
    return refills.RefillRequest(
        fill_ml=body.fill,
        performed_at=performed_at,
        withdrawn_ml=body.withdrawn,
        demand_boluses=body.demand_boluses,
        program_version=body.program_version,
        stocks_mcg_per_ml=dict(body.stocks),
        overage_ml=body.overage,
        notes=body.notes,
    )


def refill_to_save(body: schemas.RefillBody, request: Request) -> refills.RefillRequest:
    return replace(
        refill_request(body, request),
        follows_refill_id=body.follows_refill_id,
        investigate_reason=body.investigate_reason,
        cosigner=body.cosigner,
        cosigner_password=body.cosigner_password,
        lots=tuple(refills.DrugLot(x.drug, x.lot, x.expiry) for x in body.lots),
        compounded_by=body.compounded_by,
        older_version_reason=body.older_version_reason,
    )


def plan_payload(prepared: refills.RefillPlan) -> dict[str, Any]:
    rec = prepared.reconciliation
    made = prepared.recipe
    due = prepared.due
    return {
        "program_version": prepared.new_version.version,
        "program_changes": prepared.program_changes,
        "reconciliation": asdict(rec) if rec else None,
        "recipe": {**asdict(made), "findings": [programs.finding_dict(f) for f in made.findings]}
        if made
        else None,
        "bridge": asdict(prepared.bridge) if prepared.bridge else None,
        "next_due_at": serialize.iso(utc_from_s(due.refill_due_at_s)),
        "low_reservoir_alarm_at": serialize.iso(utc_from_s(due.low_reservoir_alarm_at_s)),
        "limited_by": due.limited_by.value,
        "due_reasons": list(due.reasons),
        "notes": list(prepared.notes),
        "disclaimer": DISCLAIMER,
    }


@router.get(
    "/patients/{patient_id}/refills",
    tags=["refills"],
    response_model=schemas.RefillsAnswer,
    responses=signed_in(404),
)
@read_only
def list_refills(
    patient_id: int,
    request: Request,
    limit: int = Limit,
    offset: int = Offset,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("chart.read")),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    audit_read(request, actor, patient_id, "refills", offset=offset)  # 404 for no such patient
    base = select(Refill).where(Refill.patient_id == patient_id)
    total = db.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = db.execute(
        base.order_by(Refill.performed_at.desc(), Refill.id.desc()).limit(limit).offset(offset)
    )
    voided = refills.voids(db, patient_id)
    items = [serialize.refill(r, voided) for r in rows.scalars()]
    return {"ok": True, **page(items, total, limit, offset)}


@router.post(
    "/patients/{patient_id}/refills/preview",
    tags=["refills"],
    response_model=schemas.RefillPlanAnswer,
    responses=signed_in(404),
)
@read_only
def preview_refill(
    patient_id: int,
    body: schemas.RefillPlanBody,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    _: Actor = Depends(require("refill.perform")),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    """Reconciliation, recipe, bridge and next due date; nothing is stored."""
    patient = _patient(db, patient_id)
    return {"ok": True, **plan_payload(refills.prepare(db, patient, refill_request(body, request)))}


@router.post(
    "/patients/{patient_id}/refills",
    tags=["refills"],
    status_code=201,
    response_model=schemas.RefillAnswer,
    responses=signed_in(404, 409),
)
async def save_refill(
    patient_id: int,
    body: schemas.RefillBody,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("refill.perform")),  # noqa: B008 (FastAPI dependency)
    idem: Idempotency = Depends(idempotency),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    """Record a refill in one transaction (with the program application when it changes).

    409 when ``follows_refill_id`` is not the patient's last refill (not voided). Over an
    INVESTIGATE reconciliation: 422 unless ``investigate_reason`` and a physician's
    co-signature (``cosigner``, ``cosigner_password``) are given."""
    to_save = refill_to_save(body, request)
    # The password of a co-signature is checked before the write transaction takes its lock,
    # awaited here so that no worker thread waits for it.
    verified = await cosignature.verified(request, to_save, actor.name)
    return await run_in_threadpool(
        _save_refill, patient_id, to_save, verified, request, db, actor, idem
    )


def _save_refill(
    patient_id: int,
    to_save: refills.RefillRequest,
    verified: str | None,
    request: Request,
    db: Session,
    actor: Actor,
    idem: Idempotency,
) -> dict[str, Any]:
    # The refill's arithmetic is prepared before the lock too; save() uses it only if the
    # records are still those it read.
    planned = refills.prepare_apart(request.app.state.sessions, patient_id, to_save)

    def work() -> dict[str, Any]:
        patient = _patient(db, patient_id)
        try:
            row = refills.save(
                db,
                patient,
                to_save,
                actor.name,
                recorded_at=now(request),
                verified_cosigner=verified,
                prepared_apart=planned,
            )
        except refills.CosignError as exc:
            db.rollback()  # nothing of the refill; the failed co-signature is kept
            refills.record_failed_cosign(db, exc.cosigner, actor.name, now(request), patient_id)
            db.commit()
            raise
        return {"ok": True, "refill": serialize.refill(row)}

    return idem.run(db, actor.name, 201, work)


@router.post(
    "/patients/{patient_id}/refills/{refill_id}/void",
    tags=["refills"],
    status_code=201,
    response_model=schemas.RefillAnswer,
    responses=signed_in(404, 409),
)
def void_refill(
    patient_id: int,
    refill_id: int,
    body: schemas.VoidBody,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("refill.void")),  # noqa: B008 (FastAPI dependency)
    idem: Idempotency = Depends(idempotency),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    """Void a wrong refill by a correction record (who, when, why); nothing is deleted. The due
    date and the next reconciliation go back to the last refill not voided. 409 if voided."""

    def work() -> dict[str, Any]:
        patient = _patient(db, patient_id)
        refills.void(db, patient, refill_id, body.reason, actor.name, now(request))
        row = refills.require(db, patient_id, refill_id)
        return {"ok": True, "refill": serialize.refill(row, refills.voids(db, patient_id))}

    return idem.run(db, actor.name, 201, work)


@router.get(
    "/patients/{patient_id}/refills/{refill_id}",
    tags=["refills"],
    response_model=schemas.RefillAnswer,
    responses=signed_in(404),
)
@read_only
def get_refill(
    patient_id: int,
    refill_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("chart.read")),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    audit_read(request, actor, patient_id, "refill", refill=refill_id)
    row = refills.require(db, patient_id, refill_id)
    return {"ok": True, "refill": serialize.refill(row, refills.voids(db, patient_id))}


@router.post(
    "/compounding/recipe",
    tags=["refills"],
    response_model=schemas.RecipeAnswer,
    responses=signed_in(),
)
@read_only
def compounding_recipe(
    body: schemas.RecipeBody,
    _: Actor = Depends(require("compounding.calculate")),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    made = recipe(
        default_library(), dict(body.concentrations), dict(body.stocks), body.fill, body.overage
    )
    return {
        "ok": True,
        **asdict(made),
        "findings": [programs.finding_dict(f) for f in made.findings],
        "disclaimer": DISCLAIMER,
    }


# --- alarms, appointments, adverse events -------------------------------------------------------


# --- voids: a wrong record corrected by a correction record, never edited ---------------------

# kind -> (its collection's path, the permission that adds such a record), and its serializer:
# from the one table of record kinds (web/api/patient_records.py KINDS).
VOIDS: dict[str, tuple[str, str]] = {k: (s.collection, s.permission) for k, s in KINDS.items()}
SERIALIZERS: dict[str, Any] = {k: s.serializer for k, s in KINDS.items()}


def _void_route(kind: str, collection: str, permission: str) -> None:
    """Register ``POST /patients/{patient_id}/<collection>/{record_id}/void`` for one kind."""

    def void_record(
        patient_id: int,
        record_id: int,
        body: schemas.RecordVoidBody,
        request: Request,
        db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
        actor: Actor = Depends(require(permission)),  # noqa: B008 (FastAPI dependency)
        idem: Idempotency = Depends(idempotency),  # noqa: B008 (FastAPI dependency)
    ) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            patient = _patient(db, patient_id)
            row = records.void(db, patient, kind, record_id, body.reason, actor.name, now(request))
            record = records.require_record(db, patient_id, kind, record_id)
            done = serialize.refill_void(row)
            shown = SERIALIZERS[kind](record) | {"voided": done}
            return {"ok": True, "kind": kind, "record": shown, "voided": done}

        return idem.run(db, actor.name, 201, work)

    label = kind.replace("-", " ")
    void_record.__name__ = f"void_{kind.replace('-', '_')}"
    void_record.__doc__ = (
        f"Void a wrong {label} by a correction record (who, when by the server's clock, why); "
        f"the {label} stays on the chart, marked, and nothing is deleted. 404 unless it is this "
        f"patient's; 409 if it is voided already."
    )
    router.post(
        f"/patients/{{patient_id}}/{collection}/{{record_id}}/void",
        tags=["events" if permission != "patient.write" else "patients"],
        status_code=201,
        response_model=schemas.RecordVoidAnswer,
        responses=signed_in(404, 409),
        summary=f"Void {label}",
    )(void_record)


for _kind, (_collection, _permission) in VOIDS.items():
    _void_route(_kind, _collection, _permission)


# Users, sessions and the audit log (admin): web/api/admin.py


__all__ = ["NotFoundError", "router"]
