"""The program editor pages: the structured editor (the routine path), its live review, the
finish screen before signing, and the advanced TOML editor (import and export).

The structured editor posts its fields; the server writes them as a program file
(web/program_form.py) and reviews it exactly as the API does (store/programs.py), so the page's
script only shows what the server found: no rule is written twice.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from intrathecal.library import default_library
from intrathecal.library.records import DeliveryMode
from intrathecal.safety.comparison import compare
from intrathecal.safety.review import Acknowledgement, ReviewResult
from intrathecal.store import programs, records
from intrathecal.store.errors import BlockedError, ConflictError
from intrathecal.store.models import Patient, ProgramVersion
from intrathecal.therapy.errors import InvalidProgramError
from intrathecal.therapy.modes import ModeSpec
from intrathecal.therapy.program import WEEKDAY_NAMES, Program
from intrathecal.therapy.summary import summarize
from intrathecal.units import InputError, readable_number
from intrathecal.web import display, program_form
from intrathecal.web.deps import Actor, ForbiddenError, get_db, now, read_only, require
from intrathecal.web.pages import render
from intrathecal.web.read_audit import audited_patient

router = APIRouter(include_in_schema=False)

# Form fields the finish screen carries on as they were (the program); the rest it asks again.
NOT_CARRIED = ("csrf_token", "step", "reason")


def _multi(form: FormData) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        out.setdefault(str(key), []).append(str(value))
    return out


def _readable(number: float, unit: str) -> str:
    """To sensible significant figures (units.readable_number, as every page): "0.0662 mL/day"."""
    return f"{readable_number(number)} {unit}"


def _dose(mcg: float, drug: str, per: str = "/day") -> str:
    unit = default_library().drug(drug).dose_unit.value
    return _readable(mcg / 1000.0 if unit == "mg" else mcg, f"{unit}{per}")


def totals(program: Program) -> dict[str, Any]:
    """What the program delivers per day and per drug (means over a weekly cycle), as text."""
    summary = summarize(program)
    days = [
        {
            "day": day,
            "volume": _readable(volume, "mL/day"),
            "doses": [_dose(mcg, drug) for drug, mcg in program.doses_mcg(volume).items()],
        }
        for day, volume in summary.volume_ml_by_day.items()
    ]
    drugs = [
        {
            "drug": drug,
            "mean": _dose(mcg, drug),
            "worst": _dose(summary.worst_case_doses_mcg_per_day[drug], drug),
        }
        for drug, mcg in summary.doses_mcg_per_day.items()
    ]
    return {
        "days": days,
        "drugs": drugs,
        "volume": _readable(summary.mean_volume_ml_per_day, "mL/day"),
        "worst_volume": _readable(summary.worst_case_volume_ml_per_day, "mL/day"),
        "demand": program.demand is not None,
    }


def _acks(actor: Actor, form: dict[str, list[str]]) -> tuple[Acknowledgement, ...]:
    return tuple(
        Acknowledgement(key[4:], actor.name, values[0].strip()[:500])
        for key, values in form.items()
        if key.startswith("ack_") and values and values[0].strip()
    )


def _device_of(db: Session, patient_id: int) -> str:
    """The patient's pump decides the device; a form never does."""
    implant = programs.current_implant(db, patient_id)
    if implant is None:
        raise InputError("patient", "has no implant: a program needs a pump")
    return implant.device_key


def _overrides(latest: ProgramVersion | None) -> str:
    return program_form.overrides_of(programs.parse(latest.program_toml) if latest else None)


def _review(
    db: Session, patient: Patient, actor: Actor, form: dict[str, list[str]], request: Request
) -> tuple[Program | None, program_form.Built, ReviewResult | None]:
    latest = programs.latest(db, patient.id)
    program, built = program_form.parse_form(form, _device_of(db, patient.id), _overrides(latest))
    if program is None:
        return None, built, None
    try:
        _, result = programs.review_for_patient(
            db, patient, built.toml, _acks(actor, form), now(request)
        )
    except (InvalidProgramError, InputError) as exc:
        errors = exc.errors if isinstance(exc, InvalidProgramError) else [exc]
        built.errors += [
            program_form.FieldError(*program_form.field_of(e.field, built), e.message)
            for e in errors
        ]
        return None, built, None
    return program, built, result


def _error_dicts(built: program_form.Built) -> list[dict[str, str]]:
    return [{"field": e.field, "label": e.label, "message": e.message} for e in built.errors]


def _shown(modes: tuple[ModeSpec, ...]) -> dict[str, str]:
    """For each editor section, the modes (space-separated) that show it: the page hides and
    disables the others, so a section the chosen mode lacks is never posted."""
    shown = {
        key: " ".join(m.mode.value for m in modes if key in {f.key for f in m.fields})
        for key, _ in program_form.SECTIONS
    }
    shown["steps"] = " ".join(m.mode.value for m in modes if m.max_steps_per_day > 1)
    # Periodic boluses on top of a basal, or the doses that are the whole program (periodic flow).
    for key, required in (("doses_required", True), ("boluses", False)):
        shown[key] = " ".join(
            m.mode.value
            for m in modes
            if any(f.key == "periodic_bolus" and f.required is required for f in m.fields)
        )
    return shown


def _editor(
    request: Request,
    actor: Actor,
    patient: Patient,
    db: Session,
    form: dict[str, list[str]],
    *,
    status: int = 200,
    errors: list[program_form.FieldError] | None = None,
    conflict: str = "",
    reason: str = "",
) -> HTMLResponse:
    latest = programs.latest(db, patient.id)
    implant = programs.current_implant(db, patient.id)
    library = default_library()
    device = library.device(implant.device_key) if implant else None
    modes = program_form.editable_modes(device) if device else ()
    mode = program_form.first_value(form, "mode") or (modes[0].mode.value if modes else "")
    periodic = program_form.rows(form, "periodic")
    return render(
        request,
        "program.html",
        actor,
        status=status,
        patient=patient,
        current=latest,
        implant=implant,
        device=device,
        no_program=program_form.no_program(device) if device else "",
        modes=modes,
        mode=mode,
        shown=_shown(modes),
        drugs=sorted(library.drugs),
        form=form,
        rows={k: program_form.rows(form, k) or [0] for k in ("drug", "basal")}
        | {"periodic": periodic or ([0] if mode == DeliveryMode.PERIODIC_FLOW.value else [])},
        days=list(zip(WEEKDAY_NAMES, program_form.DAY_LABELS, strict=True)),
        errors=errors or [],
        by_field={e.field: e.message for e in errors or [] if e.field},
        conflict=conflict,
        reason=reason,
    )


@router.get("/patients/{patient_id}/program", response_class=HTMLResponse)
@read_only
def program_editor(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("program.review")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    patient = audited_patient(request, actor, db, patient_id, "program editor")
    latest = programs.latest(db, patient_id)
    program = programs.parse(latest.program_toml) if latest else None
    implant = programs.current_implant(db, patient_id)
    form = program_form.fields_of(program, implant.device_key if implant else "")
    form["replaces_version"] = [str(latest.version) if latest else ""]
    return _editor(request, actor, patient, db, form)


@router.post("/patients/{patient_id}/program/review")
async def program_review(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("program.review")),  # noqa: B008 (FastAPI dependency)
) -> Response:
    """The live review of the editor's fields: errors by field, findings, totals, old and new.
    Nothing is stored."""
    form = _multi(await request.form())
    return await run_in_threadpool(_program_review, patient_id, request, db, actor, form)


def _program_review(
    patient_id: int, request: Request, db: Session, actor: Actor, form: dict[str, list[str]]
) -> Response:
    patient = records.require_patient(db, patient_id)
    try:
        program, built, result = _review(db, patient, actor, form, request)
    except InputError as exc:
        return JSONResponse(
            {"ok": False, "errors": [{"field": "", "label": exc.field, "message": exc.message}]}
        )
    db.rollback()  # the review reads only
    if program is None or result is None:
        return JSONResponse({"ok": False, "errors": _error_dicts(built)})
    return JSONResponse(
        {
            "ok": True,
            "allowed": result.allowed,
            "findings": [programs.finding_dict(f) for f in result.findings],
            "unacknowledged": [f.code for f in result.unacknowledged],
            "comparison": display.readable_rows(result.comparison),
            "notices": [{"field": n.field, "message": n.message} for n in program.notices],
            "totals": totals(program),
        }
    )


@router.post("/patients/{patient_id}/program", response_class=HTMLResponse)
async def program_save(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("program.review")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    """``step=finish``: the finish screen (old and new side by side, findings, reason);
    ``step=sign``: review again and sign (a physician). Errors come back in the editor."""
    form = _multi(await request.form())
    # The form is read on the event loop; the database work runs in a worker thread, so waiting
    # for SQLite's write lock never stalls the requests that hold it.
    return await run_in_threadpool(_program_save, patient_id, request, db, actor, form)


def _program_save(
    patient_id: int, request: Request, db: Session, actor: Actor, form: dict[str, list[str]]
) -> HTMLResponse:
    patient = records.require_patient(db, patient_id)
    step = program_form.first_value(form, "step") or "finish"
    reason = program_form.first_value(form, "reason")
    replaces = program_form.first_value(form, "replaces_version").strip()
    if step == "edit":  # back from the finish screen, the fields as they were
        return _editor(request, actor, patient, db, form, reason=reason)
    if step == "sign" and not actor.can("program.sign"):
        raise ForbiddenError("program.sign", actor.role)  # the same answer as every door
    try:
        program, built, result = _review(db, patient, actor, form, request)
    except InputError as exc:
        error = program_form.FieldError("", exc.field, exc.message)
        return _editor(request, actor, patient, db, form, status=422, errors=[error])
    if program is None or result is None:
        db.rollback()
        return _editor(
            request, actor, patient, db, form, status=422, errors=built.errors, reason=reason
        )
    latest = programs.latest(db, patient_id)
    if step != "sign":
        db.rollback()
        return render(
            request,
            "program_finish.html",
            actor,
            patient=patient,
            old=latest,
            comparison=display.readable_rows(result.comparison),
            findings=[programs.finding_dict(f) for f in result.findings],
            hard=[f.code for f in result.hard],
            acks={a.code: a.why for a in result.acknowledgements},
            totals=totals(program),
            carried=[
                (k, v)
                for k, values in form.items()
                if k not in NOT_CARRIED and not k.startswith("ack_")
                for v in values
            ],
            reason=reason,
        )
    errors: list[program_form.FieldError] = []
    conflict = ""
    try:
        version = programs.save_version(
            db,
            patient,
            programs.Draft(
                built.toml,
                reason,
                int(replaces) if replaces.isdigit() else None,
                _acks(actor, form),
            ),
            actor.name,
            now(request),
        )
    except ConflictError as exc:
        conflict = exc.message
    except BlockedError as exc:
        errors = [
            program_form.FieldError("", f.code, f.message)
            for f in exc.findings
            if f.severity.value == "hard"
        ]
        errors += [
            program_form.FieldError("", f.code, "needs an acknowledgement with a reason")
            for f in exc.unacknowledged
        ]
    except InputError as exc:
        errors = [program_form.FieldError(*program_form.field_of(exc.field, built), exc.message)]
    if errors or conflict:
        db.rollback()
        return _editor(
            request,
            actor,
            patient,
            db,
            form,
            status=409 if conflict else 422,
            errors=errors,
            conflict=conflict,
            reason=reason,
        )
    db.commit()
    return _done(request, actor, patient, latest, version, built.toml)


def _done(
    request: Request,
    actor: Actor,
    patient: Patient,
    old: ProgramVersion | None,
    version: ProgramVersion,
    text: str,
) -> HTMLResponse:
    # The version it replaced against the one just signed (a review run now would compare the
    # new version with itself: it is the latest one).
    comparison = compare(programs.parse(old.program_toml) if old else None, programs.parse(text))
    return render(
        request,
        "program_done.html",
        actor,
        patient=patient,
        version=version,
        old=old,
        comparison=display.readable_rows(comparison),
        acknowledgements=json.loads(version.acknowledgements_json),
    )


# --- advanced: the program file (TOML) -----------------------------------------------------------


@router.get("/patients/{patient_id}/program/toml", response_class=HTMLResponse)
@read_only
def program_toml_editor(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("program.review")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    patient = audited_patient(request, actor, db, patient_id, "program editor")
    current = programs.latest(db, patient_id)
    return render(
        request,
        "program_toml.html",
        actor,
        patient=patient,
        current=current,
        text=current.program_toml if current else "",
        errors=[],
        conflict="",
    )


@router.post("/patients/{patient_id}/program/toml", response_class=HTMLResponse)
async def program_toml_save(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("program.sign")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    form = _multi(await request.form())
    return await run_in_threadpool(_program_toml_save, patient_id, request, db, actor, form)


def _program_toml_save(
    patient_id: int, request: Request, db: Session, actor: Actor, form: dict[str, list[str]]
) -> HTMLResponse:
    text = program_form.first_value(form, "program_toml")
    reason = program_form.first_value(form, "reason")
    replaces = program_form.first_value(form, "replaces_version").strip()
    patient = records.require_patient(db, patient_id)
    old = programs.latest(db, patient_id)
    errors: list[str] = []
    conflict = ""
    try:
        version = programs.save_version(
            db,
            patient,
            programs.Draft(
                text, reason, int(replaces) if replaces.isdigit() else None, _acks(actor, form)
            ),
            actor.name,
            now(request),
        )
    except ConflictError as exc:
        conflict = exc.message
    except BlockedError as exc:
        errors = [f"{f.code}: {f.message}" for f in exc.findings if f.severity.value == "hard"]
        errors += [f"{f.code} needs an acknowledgement with a reason" for f in exc.unacknowledged]
    except InvalidProgramError as exc:
        errors = [str(e) for e in exc.errors]
    except InputError as exc:
        errors = [str(exc)]
    if errors or conflict:
        db.rollback()
        return render(
            request,
            "program_toml.html",
            actor,
            status=409 if conflict else 422,
            patient=patient,
            current=programs.latest(db, patient_id),
            text=text,
            errors=errors,
            conflict=conflict,
        )
    db.commit()
    return _done(request, actor, patient, old, version, text)
