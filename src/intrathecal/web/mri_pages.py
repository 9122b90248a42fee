"""The MRI plan of a pump patient (issue 12, item 11): plan a scan, read what to do before and
after it on this patient's device, how much drug is withheld and for how long with the
withdrawal risk at the patient's dose, print the checklist, and confirm afterwards that the
pump is delivering (which ends the dashboard's post-MRI task).

Reading the page needs ``chart.read`` (audited); planning and confirming need ``alarm.write``
(physicians and nurses, who answer the pump's alarms). The plan is computed at page time by
clinical/mri.py from the stored inputs and the program in force.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from intrathecal.store import mri, programs, records
from intrathecal.store.errors import ConflictError
from intrathecal.units import InputError
from intrathecal.web.api.schemas import MAX_ID
from intrathecal.web.deps import Actor, get_db, now, read_only, require
from intrathecal.web.display import clinic_zone
from intrathecal.web.pages import render
from intrathecal.web.read_audit import audit_read

router = APIRouter(include_in_schema=False)


def _context(db: Session, patient_id: int) -> dict[str, Any]:
    patient = records.require_patient(db, patient_id)
    implant = programs.current_implant(db, patient_id)
    return {"patient": patient, "implant": implant, "scans": mri.scans(db, patient_id)}


@router.get("/patients/{patient_id}/mri", response_class=HTMLResponse)
@read_only
def mri_page(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("chart.read")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    audit_read(request, actor, patient_id, "MRI plan")
    return render(request, "mri.html", actor, errors={}, form={}, **_context(db, patient_id))


@router.get("/patients/{patient_id}/mri/checklist", response_class=HTMLResponse)
@read_only
def mri_checklist(
    patient_id: int,
    request: Request,
    scan: int | None = Query(None, ge=1, le=MAX_ID),
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("chart.read")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    """The printable checklist of one scan (``?scan=<id>``; without it, the newest scan)."""
    audit_read(request, actor, patient_id, "MRI checklist", scan=scan)
    context = _context(db, patient_id)
    scans = context["scans"]
    view = (
        scans[0] if scan is None and scans else next((v for v in scans if v.scan.id == scan), None)
    )
    if view is None and scan is not None:
        raise InputError("scan", f"no MRI scan {scan} for this patient")
    return render(request, "mri_checklist.html", actor, view=view, **context)


def parse_scan_form(form: FormData) -> mri.ScanInput:
    """The plan form: every field validated, each error naming its field and unit."""

    def text(key: str) -> str:
        value = form.get(key, "")
        return value.strip() if isinstance(value, str) else ""

    def hours(key: str) -> float | None:
        raw = text(key)
        if not raw:
            return None
        try:
            return float(raw)
        except ValueError:
            raise InputError(key, f"expected a number of hours, got {raw!r}") from None

    raw_at = text("scan_at")
    try:
        local = datetime.fromisoformat(raw_at)
    except ValueError:
        raise InputError(
            "scan_at",
            f"expected a date and time like 2026-12-01T09:30 (clinic time, {clinic_zone().key})",
        ) from None
    if local.tzinfo is not None:
        raise InputError("scan_at", f"give the clinic's local time ({clinic_zone().key})")
    raw_minutes = text("scan_minutes")
    if not raw_minutes.isdigit():
        raise InputError("scan_minutes", f"expected a whole number of minutes, got {raw_minutes!r}")
    field_raw = text("field_t") or "1.5"
    if field_raw not in ("1.5", "3"):
        raise InputError("field_t", "must be 1.5 or 3 (tesla)")
    return mri.ScanInput(
        scan_at=local.replace(tzinfo=clinic_zone()),
        scan_minutes=int(raw_minutes),
        field_t=float(field_raw),
        empty_hours_before=hours("empty_hours_before"),
        restart_hours_after=hours("restart_hours_after"),
    )


@router.post("/patients/{patient_id}/mri", response_class=HTMLResponse)
async def mri_plan_save(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("alarm.write")),  # noqa: B008 (FastAPI dependency)
) -> Response:
    form = await request.form()
    return await run_in_threadpool(_plan_save, patient_id, request, db, actor, form)


def _plan_save(
    patient_id: int, request: Request, db: Session, actor: Actor, form: FormData
) -> Response:
    patient = records.require_patient(db, patient_id)
    try:
        mri.plan_scan(db, patient, parse_scan_form(form), actor.name, now(request))
    except InputError as exc:
        db.rollback()
        shown = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
        return render(
            request,
            "mri.html",
            actor,
            status=422,
            errors={exc.field: exc.message},
            form=shown,
            **_context(db, patient_id),
        )
    db.commit()
    return RedirectResponse(f"/patients/{patient_id}/mri", status_code=303)


@router.post("/patients/{patient_id}/mri/{scan_id}/confirm", response_class=HTMLResponse)
async def mri_confirm(
    patient_id: int,
    scan_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("alarm.write")),  # noqa: B008 (FastAPI dependency)
) -> Response:
    form = await request.form()
    return await run_in_threadpool(_confirm, patient_id, scan_id, request, db, actor, form)


def _confirm(
    patient_id: int, scan_id: int, request: Request, db: Session, actor: Actor, form: FormData
) -> Response:
    records.require_patient(db, patient_id)
    note = form.get("note", "")
    try:
        mri.confirm(
            db, patient_id, scan_id, note if isinstance(note, str) else "", actor.name, now(request)
        )
    except (InputError, ConflictError) as exc:
        db.rollback()
        field = exc.field if isinstance(exc, InputError) else "scan"
        message = exc.message
        return render(
            request,
            "mri.html",
            actor,
            status=422 if isinstance(exc, InputError) else 409,
            errors={f"confirm_{scan_id}": f"{field}: {message}"},
            form={},
            **_context(db, patient_id),
        )
    db.commit()
    return RedirectResponse(f"/patients/{patient_id}/mri", status_code=303)
