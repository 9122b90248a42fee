"""Server-rendered pages (Jinja2). Forms post with the session's CSRF token; the program editor
asks the review API on every change (small vanilla JS, no build step, nothing from a CDN)."""

from __future__ import annotations

import json
import secrets
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from intrathecal.charts.clinic import doses_svg, reservoir_svg
from intrathecal.library import default_library
from intrathecal.store import audit, dashboard, patient_search, programs, records, refills, users
from intrathecal.store.errors import ConflictError, NotFoundError
from intrathecal.store.models import AuditEntry, Patient, User
from intrathecal.therapy.summary import device_value_text, device_values
from intrathecal.units import (
    InputError,
    format_concentration,
)
from intrathecal.web import deps, display, outcomes, pump_views, settings
from intrathecal.web.api.routes import MAX_OFFSET, VOIDS, set_session_cookie
from intrathecal.web.deps import COOKIE, Actor, get_db, now, read_only, require
from intrathecal.web.disclaimer import DISCLAIMER
from intrathecal.web.permissions import DESCRIPTIONS, PERMISSIONS, allowed
from intrathecal.web.read_audit import audit_read, audit_search, audited_chart

router = APIRouter(include_in_schema=False)
# Rows per worklist on the dashboard (most urgent first; each card says how many there are and
# where the rest are). A card of hundreds of rows helps no one and costs every page view.
DASHBOARD_ROWS = 25
MAX_QUERY = 200  # characters of a patient search (a name or an MRN is far shorter)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
templates.env.globals["DISCLAIMER"] = DISCLAIMER
display.install(templates.env)


class _ZoneName:
    """``{{ CLINIC_ZONE }}``: the zone's name as the pages' times use it (read when shown)."""

    def __str__(self) -> str:
        return display.clinic_zone().key


templates.env.globals["CLINIC_ZONE"] = _ZoneName()


def _concentration_of(mcg_per_ml: float, drug: str) -> str:
    """A concentration in the drug's own dose unit ("25 mg/mL" for morphine, not 25000 mcg)."""
    return format_concentration(mcg_per_ml, default_library().drug(drug).dose_unit.value)


templates.env.filters["concentration_of"] = _concentration_of


def render(
    request: Request, name: str, actor: Actor | None, status: int = 200, **context: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {"actor": actor, "csrf": actor.session.csrf_token if actor else "", **context},
        status_code=status,
    )


# The sign-in form has no session yet: its CSRF token is a random value kept in a cookie of its
# own and echoed by the form (double submit). A page elsewhere can neither read the cookie nor
# send it (SameSite=Strict), so it cannot sign a browser in to an account of its choosing.
SIGN_IN_COOKIE = "itp_sign_in"


def _sign_in_form(request: Request, next: str, error: str, status: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = render(
        request, "sign_in.html", None, status=status, next=next, error=error, form_token=token
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=settings.of(request).cookie_secure or request.url.scheme == "https",
        max_age=3600,
        path="/sign-in",
    )
    return response


def _safe_next(next: str) -> str:
    return next if next.startswith("/") and not next.startswith(("//", "/\\")) else "/"


@router.get("/sign-in", response_class=HTMLResponse)
@read_only
def sign_in_page(request: Request, next: str = "/") -> HTMLResponse:
    return _sign_in_form(request, next, "")


@router.post("/sign-in")
async def sign_in(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
    csrf_token: str = Form(""),
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
) -> Response:
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not secrets.compare_digest(csrf_token.encode(), expected.encode()):
        return _sign_in_form(
            request, next, "The sign-in form had expired; please sign in again.", status=403
        )
    if not username or not password:
        return _sign_in_form(request, next, "Give your user name and password.", status=422)
    if len(username) > 64 or len(password) > 1000:  # as the API's limits; never hashed
        return _sign_in_form(request, next, "Wrong user name or password.", status=422)
    result = await deps.sign_in(request, db, username, password)
    if result.user is None:
        error = (
            f"Too many failed sign-ins: try again in {result.wait_s:.0f} s."
            if result.wait_s
            else "Wrong user name or password."
        )
        return _sign_in_form(request, next, error, status=429 if result.wait_s else 401)
    target = _safe_next(next)
    if target == "/" and not allowed(result.user.role, "dashboard.read"):
        target = "/admin" if allowed(result.user.role, "users.manage") else "/account"
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, result.token, request)
    response.delete_cookie(SIGN_IN_COOKIE, path="/sign-in")
    return response


@router.post("/sign-out")
def sign_out(
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("account.self")),  # noqa: B008 (FastAPI dependency)
) -> Response:
    db.delete(actor.session)
    audit.record(db, now(request), actor.name, "sign-out", f"user:{actor.name}")
    db.commit()
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/account", response_class=HTMLResponse)
@read_only
def account_page(
    request: Request,
    actor: Actor = Depends(require("account.self")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    """Who is signed in and what the role may do (every role has it, to sign out from)."""
    may = [DESCRIPTIONS[p] for p, roles in PERMISSIONS.items() if actor.role in roles]
    return render(request, "account.html", actor, may=may)


@router.get("/", response_class=HTMLResponse)
@read_only
def home(
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("account.self")),  # noqa: B008 (FastAPI dependency)
) -> Response:
    if not actor.can("dashboard.read"):
        # The admin's home is the admin page; a role with neither gets its account page.
        target = "/admin" if actor.can("users.manage") else "/account"
        return RedirectResponse(target, status_code=303)
    audit_search(request, actor, "dashboard worklists")  # names and due dates of patients
    board = dashboard.build(db, now(request), limit=DASHBOARD_ROWS)
    card = (
        outcomes.dashboard_card(request.app.state, db, now(request).date())
        if actor.can("outcomes.read")
        else None
    )
    return render(
        request,
        "dashboard.html",
        actor,
        board=board,
        now=now(request),
        outcomes_card=card,
        **pump_views.dashboard_context(db, request.app.state.pump_links),
    )


@router.get("/patients", response_class=HTMLResponse)
@read_only
def patient_list(
    request: Request,
    q: str = "",
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("chart.read")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    audit_search(request, actor, "patient list", q=q, offset=offset)
    found = patient_search.search(db, q[:MAX_QUERY], offset=offset, limit=50)
    return render(
        request,
        "patients.html",
        actor,
        patients=found.patients,
        q=q[:MAX_QUERY],
        offset=offset,
        total=found.total,
        by=found.by,
        now=now(request),
    )


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def chart_page(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("chart.read")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    chart = audited_chart(request, actor, db, patient_id)
    current = programs.in_force(db, patient_id)
    program = programs.parse(current.program_toml) if current else None
    device = (
        [(k, device_value_text(k, v), v.provenance) for k, v in device_values(program).items()]
        if program
        else []
    )
    void = records.voided(db, patient_id)
    timeline = [
        (when, kind, text + (" (voided)" if (VOID_KIND.get(kind), rid) in void else ""))
        for when, kind, text, rid in _with_ids(chart)
    ]
    timeline += [
        (_local_day(v.signed_at), "program", f"version {v.version} by {v.signed_by}: {v.reason}")
        for v in chart.programs
    ]
    voided = refills.voids(db, patient_id)
    counted = [r for r in chart.refills if r.id not in voided]
    if counted:
        first, last = counted[0], counted[-1]
        timeline.append(
            (
                _local_day(first.performed_at),
                "refills",
                f"{len(counted)} refills, last {display.day(last.performed_at)}"
                + (f" ({len(voided)} more voided)" if voided else ""),
            )
        )
    timeline.sort(key=lambda item: item[0])
    return render(
        request,
        "chart.html",
        actor,
        chart=chart,
        current=current,
        program=program,
        device=device,
        timeline=timeline,
        refills=list(reversed(chart.refills[-12:])),
        voided=voided,
        void=void,
        record_rows=_record_rows(chart, void),
        void_paths=VOIDS,
        outcomes=outcomes.chart_section(db, patient_id) if actor.can("outcomes.read") else None,
        **pump_views.chart_context(db, request.app.state.pump_links, patient_id, now(request)),
    )


def _local_day(at: datetime) -> date:
    """The day an instant falls on in the clinic's zone (the chart's timeline and records)."""
    return at.astimezone(display.clinic_zone()).date()


# Timeline kind -> the record kind a void names (store/records.py VOIDABLE).
VOID_KIND = {
    "evaluation": "evaluation",
    "trial": "trial",
    "implant": "implant",
    "adverse event": "adverse-event",
}


def _with_ids(chart: records.Chart) -> list[tuple[Any, str, str, int]]:
    """The journey's records as (date, kind, text, id)."""
    rows: list[tuple[Any, str, str, int]] = []
    rows += [
        (e.performed_on, "evaluation", f"{e.kind}: {e.result}", e.id) for e in chart.evaluations
    ]
    rows += [
        (
            t.performed_on,
            "trial",
            f"{t.drug} {t.dose_mcg:g} mcg {t.mode}: {t.response}; {t.decision}",
            t.id,
        )
        for t in chart.trials
    ]
    rows += [
        (
            _local_day(i.implanted_at),
            "implant",
            f"{i.device_key} serial {i.serial}, tip {i.tip_level}, {i.setting}",
            i.id,
        )
        for i in chart.implants
    ]
    rows += [
        (a.occurred_on, "adverse event", f"{a.kind}: {a.description}", a.id)
        for a in chart.adverse_events
    ]
    return rows


def _record_rows(chart: records.Chart, void: dict[tuple[str, int], Any]) -> list[dict[str, Any]]:
    """Every record a void may correct, for the chart's Records card: kind, id, when, text, its
    void (or None) and the permission that voids it."""
    rows = [
        ("indication", i.id, _local_day(i.recorded_at), f"{i.condition} {i.detail}".strip())
        for i in chart.indications
    ]
    rows += [
        (
            "prior-treatment",
            t.id,
            _local_day(t.recorded_at),
            f"{t.medication} {t.dose} ({t.outcome})",
        )
        for t in chart.prior_treatments
    ]
    rows += [(VOID_KIND[k], rid, when, text) for when, k, text, rid in _with_ids(chart)]
    rows += [
        ("alarm", a.id, _local_day(a.raised_at), f"{a.kind}: {a.message}") for a in chart.alarms
    ]
    rows += [
        (
            "appointment",
            a.id,
            _local_day(a.starts_at),
            f"{a.kind} {display.when(a.starts_at)} {a.note}",
        )
        for a in chart.appointments
    ]
    return [
        {
            "kind": kind,
            "id": rid,
            "when": when,
            "text": text,
            "void": void.get((kind, rid)),
            "permission": VOIDS[kind][1],
        }
        for kind, rid, when, text in rows
    ]


@router.get("/patients/{patient_id}/reservoir.svg")
@read_only
def reservoir_chart(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("chart.read")),  # noqa: B008 (FastAPI dependency)
) -> Response:
    audit_read(request, actor, patient_id, "reservoir chart")
    rows = refills_of(db, patient_id)
    fills = [(r.performed_at, r.fill_ml) for r in rows]
    expected = [(r.performed_at, r.expected_residual_ml or 0.0) for r in rows[1:]]
    withdrawn = [(r.performed_at, r.withdrawn_ml) for r in rows if r.withdrawn_ml is not None]
    current = programs.in_force(db, patient_id)
    alarm = programs.parse(current.program_toml).low_reservoir_alarm_ml if current else 0.0
    cycle = current_cycle(rows, db.get(Patient, patient_id), alarm, now(request))
    svg = reservoir_svg(fills, expected, withdrawn, alarm, cycle)
    return Response(svg, media_type="image/svg+xml")


def current_cycle(
    rows: list[Any], patient: Patient | None, alarm_ml: float, at: datetime
) -> list[tuple[datetime, float]]:
    """The cycle in progress for the reservoir chart: the last fill, the volume expected now
    and the low-reservoir alarm at its predicted time (the patient's ``low_alarm_at``, kept
    with the records), the volume drawn straight between them (the program's mean rate)."""
    if not rows or patient is None or patient.low_alarm_at is None:
        return []
    start, filled = rows[-1].performed_at, rows[-1].fill_ml
    alarm_at = patient.low_alarm_at
    if alarm_at <= start or filled <= alarm_ml:
        return []
    if at >= alarm_at:
        return [(start, filled), (alarm_at, alarm_ml)]
    fraction = max((at - start) / (alarm_at - start), 0.0)
    return [(start, filled), (at, filled - (filled - alarm_ml) * fraction), (alarm_at, alarm_ml)]


@router.get("/patients/{patient_id}/doses.svg")
@read_only
def doses_chart(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("chart.read")),  # noqa: B008 (FastAPI dependency)
) -> Response:
    audit_read(request, actor, patient_id, "doses chart")
    series: dict[str, list[Any]] = {}
    for version in programs.history(db, patient_id):
        for drug, dose in json.loads(version.daily_doses_json).items():
            series.setdefault(drug, []).append((version.signed_at, dose))
    # Each drug in its library dose unit (ziconotide in mcg/day, morphine in mg/day).
    units = {drug: default_library().drug(drug).dose_unit.value for drug in series}
    return Response(doses_svg(series, now(request), units), media_type="image/svg+xml")


def refills_of(db: Session, patient_id: int) -> list[Any]:
    """The refills that count (voided ones are left out of the charts), oldest first."""
    from intrathecal.store.models import Refill

    return list(
        db.execute(
            select(Refill)
            .where(Refill.patient_id == patient_id, programs.not_voided())
            .order_by(Refill.performed_at)
        ).scalars()
    )


def _void_page(kind: str, collection: str, permission: str) -> None:
    """Register the chart's Void form for one kind: ``POST /patients/{id}/<collection>/{record
    id}/void`` with the reason and the CSRF token; back to the chart, or an error page."""

    async def void_record(
        patient_id: int,
        record_id: int,
        request: Request,
        db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
        actor: Actor = Depends(require(permission)),  # noqa: B008 (FastAPI dependency)
    ) -> Response:
        reason = str((await request.form()).get("reason", ""))
        return await run_in_threadpool(
            _record_void, kind, patient_id, record_id, request, db, actor, reason
        )

    void_record.__name__ = f"void_{kind.replace('-', '_')}_page"
    router.post(
        f"/patients/{{patient_id}}/{collection}/{{record_id}}/void", response_class=HTMLResponse
    )(void_record)


def _record_void(
    kind: str,
    patient_id: int,
    record_id: int,
    request: Request,
    db: Session,
    actor: Actor,
    reason: str,
) -> Response:
    patient = records.require_patient(db, patient_id)
    try:
        records.void(db, patient, kind, record_id, reason, actor.name, now(request))
    except (InputError, ConflictError) as exc:
        db.rollback()
        conflict = isinstance(exc, ConflictError)
        message = exc.message if isinstance(exc, ConflictError) else str(exc)
        context = {"title": "Not voided", "message": f"{message}. Nothing was changed."}
        return render(request, "error.html", actor, 409 if conflict else 422, **context)
    db.commit()
    return RedirectResponse(f"/patients/{patient_id}#records", status_code=303)


# One form per kind, on the API's table (web/api/routes.py VOIDS: collection path, permission).
for _kind, (_collection, _permission) in VOIDS.items():
    _void_page(_kind, _collection, _permission)


# --- audit log (the refill calendar is web/calendar_pages.py) ------------------------------------


@router.get("/admin/audit", response_class=HTMLResponse)
@read_only
def audit_page(
    request: Request,
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("audit.read")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    rows = list(
        db.execute(
            select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(100).offset(max(offset, 0))
        ).scalars()
    )
    return render(
        request, "audit.html", actor, rows=rows, verification=audit.verify(db), offset=offset
    )


# --- the admin's home: users, roles, sessions, recent audit ----------------------------------

ADMIN_ACTIONS = ("deactivate", "activate", "role", "password", "end-sessions")


def _admin_page(
    request: Request,
    db: Session,
    actor: Actor,
    status: int = 200,
    error: str = "",
    error_user: int | None = None,
    done: str = "",
) -> HTMLResponse:
    at = now(request)
    rows = list(db.execute(select(User).order_by(User.id)).scalars())
    sessions = users.active_sessions(db, at)
    per_user: dict[str, int] = {}
    for s in sessions:
        per_user[s.username] = per_user.get(s.username, 0) + 1
    recent = list(
        db.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(20)).scalars()
    )
    return render(
        request,
        "admin.html",
        actor,
        status=status,
        users=rows,
        per_user=per_user,
        sessions=sessions,
        recent=recent,
        roles=users.ROLES,
        error=error,
        error_user=error_user,
        done=done,
    )


@router.get("/admin", response_class=HTMLResponse)
@read_only
def admin_home(
    request: Request,
    done: str = "",
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("users.manage")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    return _admin_page(request, db, actor, done=done[:200])


@router.post("/admin/users", response_class=HTMLResponse)
def admin_create_user(
    request: Request,
    username: str = Form(""),
    full_name: str = Form(""),
    role: str = Form(""),
    password: str = Form(""),
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("users.manage")),  # noqa: B008 (FastAPI dependency)
) -> Response:
    try:
        if not full_name.strip():
            raise InputError("full_name", "give the user's full name")
        users.create_user(db, username, full_name, role, password, now(request), actor.name)
    except InputError as exc:
        db.rollback()
        return _admin_page(request, db, actor, status=422, error=str(exc))
    db.commit()
    return RedirectResponse(f"/admin?done=created+{username}", status_code=303)


@router.post("/admin/users/{user_id}/{action}", response_class=HTMLResponse)
def admin_user_action(
    user_id: int,
    action: str,
    request: Request,
    role: str = Form(""),
    password: str = Form(""),
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("users.manage")),  # noqa: B008 (FastAPI dependency)
) -> Response:
    """Deactivate or reactivate, change the role, reset the password, end the sessions."""
    if action not in ADMIN_ACTIONS:
        raise NotFoundError(f"admin action {action!r}")
    user = users.require_user(db, user_id)
    at, by = now(request), actor.name
    try:
        if action in ("deactivate", "activate"):
            users.set_active(db, user, action == "activate", at, by)
        elif action == "role":
            users.set_role(db, user, role, at, by)
        elif action == "password":
            users.reset_password(db, user, password, at, by)
        else:
            users.end_sessions(db, user, at, by)
    except InputError as exc:
        db.rollback()
        return _admin_page(request, db, actor, status=422, error=str(exc), error_user=user_id)
    db.commit()
    return RedirectResponse(f"/admin?done={action}+{user.username}", status_code=303)
