"""Apply a signed program to the pump between refills (a titration): the page.

The same path as the refill wizard and the API (web/program_pump.py): the intent goes to the
pump journal first, the pump stages the program, its checksum is read back and compared, then
it is activated; the application is recorded and audited (store/programs.py) at the pump's
activation time. Without a pump link the clinician programs the pump with its own programmer and
records it here as typed in.

Outside a refill only rates and boluses may change: a version with another drug or
concentration is offered to the refill wizard instead (programs.require_same_solution).

Idempotent: the form carries the version in force as the page saw it. A second post of the same
form (a double click, a reload) finds its version already in force and shows that, sending
nothing; a version applied meanwhile by someone else is a conflict, and nothing is sent.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from intrathecal.safety.comparison import compare
from intrathecal.store import audit, programs, records
from intrathecal.store.errors import NotFoundError
from intrathecal.store.models import Patient, ProgramVersion
from intrathecal.units import InputError
from intrathecal.web import display, refill_pump
from intrathecal.web.deps import Actor, get_db, now, read_only, require
from intrathecal.web.pages import render
from intrathecal.web.program_pump import apply_through_link
from intrathecal.web.read_audit import audited_patient

router = APIRouter(include_in_schema=False)


def _offers(db: Session, patient: Patient) -> list[dict[str, Any]]:
    """Every signed version, newest first, with whether it may be applied outside a refill."""
    running = programs.in_force(db, patient.id)
    out = []
    for version in reversed(programs.history(db, patient.id)):
        why = ""
        if running is not None and version.id == running.id:
            why = "in force"
        else:
            try:
                programs.require_same_solution(db, patient, version)
            except InputError:
                why = "changes the drug or its concentration: fill it with the refill wizard"
        out.append({"version": version, "why": why})
    return out


def _page(
    request: Request,
    db: Session,
    actor: Actor,
    patient: Patient,
    form: dict[str, str],
    *,
    status: int = 200,
    errors: list[str] | None = None,
    done: str = "",
) -> HTMLResponse:
    implant = programs.current_implant(db, patient.id)
    link = refill_pump.link_for(request.app.state.pump_links, implant)
    pump = refill_pump.interrogate(link) if link else None
    running = programs.in_force(db, patient.id)
    offers = _offers(db, patient)
    chosen = form.get("version", "")
    if not chosen:
        # Offered by default: the newest version after the one in force; never an older one.
        newer = [
            o
            for o in offers
            if not o["why"] and (running is None or o["version"].version > running.version)
        ]
        chosen = str(newer[0]["version"].version) if newer else ""
    selected = next((o["version"] for o in offers if str(o["version"].version) == chosen), None)
    comparison = []
    findings: list[dict[str, str]] = []
    blocking: list[str] = []
    if selected is not None:
        old = programs.parse(running.program_toml) if running else None
        comparison = display.readable_rows(compare(old, programs.parse(selected.program_toml)))
        if running is None or selected.id != running.id:
            findings, blocking = review_now(db, patient, selected, running, now(request))
    return render(
        request,
        "program_apply.html",
        actor,
        status=status,
        patient=patient,
        implant=implant,
        running=running,
        offers=offers,
        chosen=chosen,
        selected=selected,
        findings=findings,
        blocking=blocking,
        acknowledgements=json.loads(selected.acknowledgements_json) if selected else [],
        comparison=comparison,
        errors=errors or [],
        done=done,
        older=selected is not None and running is not None and selected.version < running.version,
        bolus=_bolus_running(pump),
        form=form,
        **refill_pump.context(db, pump, implant, now(request)),
    )


def _bolus_running(pump: refill_pump.PumpStatus | None) -> str:
    """A bolus the pump's latest events show still running (a bridge after a refill): the new
    program's basal starts only when it ends, and the bolus was planned for the old dose."""
    found = pump.interrogation if pump is not None else None
    if found is None or found.pump_time_s is None:
        return ""
    running = ""
    for event in found.events:
        if event.kind == "bolus_started":
            ends = event.at_s + float(event.data.get("duration_s", 0))
            running = event.message if ends > found.pump_time_s else ""
        elif event.kind == "bolus_ended":
            running = ""
    return running


def review_now(
    db: Session,
    patient: Patient,
    version: ProgramVersion,
    running: ProgramVersion | None,
    at: datetime,
) -> tuple[list[dict[str, str]], list[str]]:
    """The review run again now, against the version the pump runs (the dose changes per day
    count every change made since): its findings, and what blocks sending. A hard finding
    blocks; so does a soft one the physician did not acknowledge when signing: sign it again."""
    signed = {a["code"] for a in json.loads(version.acknowledgements_json)}
    try:
        _, result, _ = programs.review_with_context(
            db, patient, version.program_toml, (), at, against=running
        )
    except InputError as exc:
        return [], [str(exc)]
    blocking = [f"{f.code}: {f.message}" for f in result.hard]
    blocking += [
        f"{f.code} was not acknowledged when version {version.version} was signed: {f.message}; "
        "a physician signs it again with a reason"
        for f in result.unacknowledged
        if f.code not in signed
    ]
    return [programs.finding_dict(f) for f in result.findings], blocking


@router.get("/patients/{patient_id}/program/apply", response_class=HTMLResponse)
@read_only
def program_apply_page(
    patient_id: int,
    request: Request,
    version: str = "",
    done: str = "",
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("program.apply")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    patient = audited_patient(
        request, actor, db, patient_id, "program apply and pump interrogation"
    )
    form = {"version": version[:12] if version.isdigit() else ""}
    note = f"Version {done[:12]} is in force on the pump." if done.isdigit() else ""
    return _page(request, db, actor, patient, form, done=note)


@router.post("/patients/{patient_id}/program/apply", response_class=HTMLResponse)
async def program_apply(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("program.apply")),  # noqa: B008 (FastAPI dependency)
) -> Response:
    raw = {str(k): str(v) for k, v in (await request.form()).items()}
    # The pump's telemetry and the database block: they run in a worker thread, off the loop.
    return await run_in_threadpool(_apply, patient_id, request, db, actor, raw)


def _apply(
    patient_id: int, request: Request, db: Session, actor: Actor, raw: dict[str, str]
) -> Response:
    patient = records.require_patient(db, patient_id)
    chosen = raw.get("version", "").strip()
    seen = raw.get("in_force_version", "").strip()
    running = programs.in_force(db, patient_id)
    now_running = str(running.version) if running else ""
    if not chosen.isdigit() or len(chosen) > 9:
        return _page(request, db, actor, patient, raw, status=422, errors=["version: choose one"])
    if now_running == chosen:
        # Already in force (this form posted twice, or the pump already runs it): nothing sent.
        db.rollback()
        return RedirectResponse(
            f"/patients/{patient_id}/program/apply?done={chosen}", status_code=303
        )
    if seen != now_running:
        db.rollback()
        message = (
            f"version {now_running or 'none'} was put in force after this page was opened "
            f"(it showed version {seen or 'none'}): nothing was sent; check it and apply again"
        )
        return _page(request, db, actor, patient, raw, status=409, errors=[message])
    if (
        running is not None
        and int(chosen) < running.version
        and not raw.get("older_version_reason", "").strip()
    ):
        why = (
            f"older_version_reason: version {chosen} is older than version {running.version} in "
            "force: say why the older version is applied"
        )
        return _page(request, db, actor, patient, raw, status=422, errors=[why])
    if raw.get("confirm") != "yes":
        why = "tick the confirmation that you checked the change with the patient"
        return _page(request, db, actor, patient, raw, status=422, errors=[why])
    try:
        version = programs.by_version(db, patient_id, int(chosen))
        programs.require_same_solution(db, patient, version)
        _, blocking = review_now(db, patient, version, running, now(request))
        if blocking:
            db.rollback()
            return _page(request, db, actor, patient, raw, status=422, errors=blocking)
        _send(request, db, actor, patient, version, raw)
        if running is not None and version.version < running.version:
            audit.record(
                db,
                now(request),
                actor.name,
                "program.apply.older",
                f"patient:{patient_id}",
                {
                    "version": version.version,
                    "in_force": running.version,
                    "reason": raw.get("older_version_reason", "").strip()[:2000],
                },
            )
    except (InputError, NotFoundError) as exc:
        db.rollback()
        return _page(request, db, actor, patient, raw, status=422, errors=[str(exc)])
    db.commit()
    return RedirectResponse(f"/patients/{patient_id}/program/apply?done={chosen}", status_code=303)


def _send(
    request: Request,
    db: Session,
    actor: Actor,
    patient: Patient,
    version: ProgramVersion,
    raw: dict[str, str],
) -> None:
    links = request.app.state.pump_links
    implant = programs.current_implant(db, patient.id)
    if refill_pump.link_for(links, implant) is not None:
        apply_through_link(db, links, patient, version, actor.name, now(request))
        return
    if raw.get("typed") != "yes":
        raise InputError(
            "typed",
            "no pump link: program the pump with its own programmer, then tick that you did",
        )
    programs.apply_version(db, patient, version, actor.name, now(request), "typed in", "")
