"""A clinician bolus or a bridge bolus outside a refill, from the clinic to the pump: the page.

Reviewed first, against the program in force, with the limits the pump's own door uses
(clinical/bolus_limits.py: the drug library's per-bolus limits, the device's bolus rate and
duration bounds, the bridge's dead space): a hard finding blocks; a soft finding needs a reason,
recorded with the name of who gave it. Then it goes through the pump journal (web/bolus_pump.py)
and the pump answers with its start and end; a refusal is shown in words. Without a pump link
the bolus is given with the pump's programmer and recorded here as typed in.

Idempotent: the form carries a key made when the page was drawn. A second post of the same form
finds its bolus (or its journal entry) and sends nothing; a program put in force meanwhile is a
conflict, and nothing is sent.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from intrathecal.clinical.bolus_limits import MAX_BRIDGE_S, MAX_CLINICIAN_S
from intrathecal.clinical.bridge import dead_space
from intrathecal.store import boluses, programs, pump_journal, records
from intrathecal.store.boluses import BolusRequest
from intrathecal.store.errors import NotFoundError
from intrathecal.store.models import Patient, ProgramVersion
from intrathecal.therapy.errors import InvalidProgramError
from intrathecal.units import InputError
from intrathecal.web import refill_pump
from intrathecal.web.bolus_pump import give_through_link
from intrathecal.web.bolus_review import KEY, KIND_NAMES, Reviewed, review
from intrathecal.web.deps import Actor, get_db, now, read_only, require
from intrathecal.web.pages import render
from intrathecal.web.read_audit import audited_patient

router = APIRouter(include_in_schema=False)


def _page(
    request: Request,
    db: Session,
    actor: Actor,
    patient: Patient,
    form: dict[str, str],
    *,
    status: int = 200,
    errors: list[str] | None = None,
    reviewed: Reviewed | None = None,
    done: str = "",
) -> HTMLResponse:
    implant = programs.current_implant(db, patient.id)
    link = refill_pump.link_for(request.app.state.pump_links, implant)
    pump = refill_pump.interrogate(link) if link else None
    running = programs.in_force(db, patient.id)
    hint: dict[str, Any] = {}
    if running is not None:
        try:
            program = programs.parse(running.program_toml)
            space = dead_space(program)
            hint = {
                "dead_ml": space.total_ml,
                "pathway": space.pathway_ml,
                "catheter_ml": space.catheter_ml,
                "drugs": [(i.drug.key, i.concentration_mcg_per_ml) for i in program.ingredients],
                "limits": [
                    (i.drug.key, i.drug.bolus_dose_mcg.soft_max, i.drug.bolus_dose_mcg.hard_max)
                    for i in program.ingredients
                ],
                "max_rate": program.device.max_bolus_rate_ml_per_day,
                "min_rate": program.device.min_rate_ml_per_day,
            }
        except (InvalidProgramError, InputError):
            hint = {}
    form = dict(form)
    if not KEY.fullmatch(form.get("form_key", "")):
        form["form_key"] = uuid.uuid4().hex
    return render(
        request,
        "bolus_give.html",
        actor,
        status=status,
        patient=patient,
        implant=implant,
        running=running,
        form=form,
        errors=errors or [],
        reviewed=reviewed,
        done=done,
        hint=hint,
        kinds=KIND_NAMES,
        longest={
            "clinician": f"{MAX_CLINICIAN_S / 3600:g} h",
            "bridge": f"{MAX_BRIDGE_S / 86_400:g} days",
        },
        given=boluses.of_patient(db, patient.id),
        **refill_pump.context(db, pump, implant, now(request)),
    )


@router.get("/patients/{patient_id}/bolus", response_class=HTMLResponse)
@read_only
def bolus_page(
    patient_id: int,
    request: Request,
    done: str = "",
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("program.apply")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    patient = audited_patient(request, actor, db, patient_id, "bolus page and pump interrogation")
    note = ""
    if done.isdigit():
        row = next((b for b in boluses.of_patient(db, patient_id) if str(b.id) == done), None)
        if row is not None:
            note = f"{KIND_NAMES.get(row.kind, row.kind)} given: {row.readback or row.via}."
    return _page(request, db, actor, patient, {"kind": "clinician"}, done=note)


@router.post("/patients/{patient_id}/bolus", response_class=HTMLResponse)
async def bolus_give(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("program.apply")),  # noqa: B008 (FastAPI dependency)
) -> Response:
    raw = {str(k): str(v) for k, v in (await request.form()).items()}
    # The pump's telemetry and the database block: they run in a worker thread, off the loop.
    return await run_in_threadpool(_give, patient_id, request, db, actor, raw)


def _give(
    patient_id: int, request: Request, db: Session, actor: Actor, raw: dict[str, str]
) -> Response:
    patient = records.require_patient(db, patient_id)
    running = programs.in_force(db, patient_id)
    key = raw.get("form_key", "")
    if KEY.fullmatch(key):
        already = boluses.by_key(db, key)
        if already is not None:  # this form was posted before: nothing is sent again
            db.rollback()
            return RedirectResponse(f"/patients/{patient_id}/bolus?done={already.id}", 303)
        sent = pump_journal.by_token(db, key)
        if sent is not None:
            db.rollback()
            why = (
                f"send_to_pump: this form was already sent ({sent.status.replace('_', ' ')}"
                + (f": {sent.outcome}" if sent.outcome else "")
                + "); nothing was sent again"
            )
            return _page(request, db, actor, patient, raw, status=409, errors=[why])
    try:
        reviewed = review(raw, running, actor.name)
    except InputError as exc:
        db.rollback()
        return _page(request, db, actor, patient, raw, status=422, errors=[str(exc)])
    seen = raw.get("in_force_version", "").strip()
    if running is not None and seen != str(running.version):
        db.rollback()
        why = (
            f"version {running.version} was put in force after this page was opened (it showed "
            f"version {seen or 'none'}): nothing was sent; review the bolus again"
        )
        return _page(request, db, actor, patient, raw, status=409, errors=[why], reviewed=reviewed)
    if raw.get("action") != "give":
        return _page(request, db, actor, patient, raw, reviewed=reviewed)
    problems = list(reviewed.blocking)
    if not reviewed.request.reason:
        problems.append("reason: say why the bolus is given")
    if raw.get("confirm") != "yes":
        problems.append("confirm: tick that you checked the bolus with the patient and the pump")
    if problems:
        db.rollback()
        return _page(
            request, db, actor, patient, raw, status=422, errors=problems, reviewed=reviewed
        )
    assert running is not None
    try:
        row = _send(request, db, actor, patient, running, reviewed.request, raw)
    except (InputError, NotFoundError) as exc:
        db.rollback()
        return _page(
            request, db, actor, patient, raw, status=422, errors=[str(exc)], reviewed=reviewed
        )
    row_id = row.id
    db.commit()
    return RedirectResponse(f"/patients/{patient_id}/bolus?done={row_id}", status_code=303)


def _send(
    request: Request,
    db: Session,
    actor: Actor,
    patient: Patient,
    version: ProgramVersion,
    bolus: BolusRequest,
    raw: dict[str, str],
) -> Any:
    links = request.app.state.pump_links
    implant = programs.current_implant(db, patient.id)
    if refill_pump.link_for(links, implant) is not None:
        return give_through_link(db, links, patient, version, bolus, actor.name, now(request))
    if raw.get("typed") != "yes":
        raise InputError(
            "typed", "no pump link: give the bolus with the pump's own programmer, then tick it"
        )
    at = now(request)
    return boluses.record(
        db, patient, version, bolus, actor.name, at, started_at=at, via="typed in", readback=""
    )


def acknowledgements(row: Any) -> list[dict[str, str]]:
    data = json.loads(row.acknowledgements_json)
    assert isinstance(data, list)
    return data
