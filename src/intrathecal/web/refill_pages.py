"""The refill wizard (interrogate, withdraw, plan, fill with read-back) and the printable
refill record, with its void. The pump half lives in web/refill_pump.py."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from intrathecal.library import default_library
from intrathecal.store import programs, records, refills
from intrathecal.store.db import reading
from intrathecal.store.errors import ConflictError
from intrathecal.store.models import Implant, Patient, ProgramVersion, Refill, User
from intrathecal.units import (
    InputError,
    Kind,
    format_concentration,
    parse_non_negative,
    parse_positive,
)
from intrathecal.web import cosignature, refill_contents, refill_pump
from intrathecal.web.api.routes import plan_payload
from intrathecal.web.deps import Actor, get_db, now, read_only, require
from intrathecal.web.pages import render
from intrathecal.web.read_audit import audit_read, audited_patient

router = APIRouter(include_in_schema=False)


# --- refill wizard ------------------------------------------------------------------------------


def _volume(form: dict[str, str], key: str, positive: bool = True) -> float | None:
    raw = form.get(key, "").strip()
    if not raw:
        return None
    parse = parse_positive if positive else parse_non_negative
    return parse(raw, key, Kind.VOLUME)


@router.get("/patients/{patient_id}/refill", response_class=HTMLResponse)
@read_only
def refill_wizard(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("refill.perform")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    patient = audited_patient(
        request, actor, db, patient_id, "refill wizard and pump interrogation"
    )
    implant = programs.current_implant(db, patient_id)
    latest = programs.latest(db, patient_id)
    link = refill_pump.link_for(request.app.state.pump_links, implant)
    pump = refill_pump.interrogate(link) if link else None
    last = programs.last_refill(db, patient_id)
    form = {
        "fill": f"{implant.reservoir_ml:g} mL" if implant else "",
        "withdrawn": "",
        "program_version": str(latest.version) if latest else "",
        # The refill this one follows, as this page saw it: a second tab saving after the
        # first gets a conflict instead of a second refill on the same fill.
        "follows_refill_id": str(last.id) if last else "",
    }
    refill_pump.prefill(form, pump)
    stocks = _stock_defaults(latest.program_toml if latest else "")
    return render(
        request,
        "refill.html",
        actor,
        patient=patient,
        implant=implant,
        form=form,
        stocks=stocks,
        plan=None,
        errors=[],
        last=last,
        versions=programs.history(db, patient_id),
        in_force=programs.in_force(db, patient_id),
        lot_drugs=_lot_drugs(db, patient_id, form),
        changes=[],
        older=None,
        **refill_pump.context(db, pump, implant, now(request)),
    )


def _lot_drugs(db: Session, patient_id: int, form: dict[str, str]) -> list[str]:
    """The drugs of the version the form chose (else the latest): one lot and expiry each."""
    chosen = form.get("program_version", "").strip()
    version = None
    if chosen.isdigit():
        version = next(
            (v for v in programs.history(db, patient_id) if v.version == int(chosen)), None
        )
    version = version or programs.latest(db, patient_id)
    if version is None:
        return []
    return [i.drug.key for i in programs.parse(version.program_toml).ingredients]


def _stock_defaults(text: str) -> dict[str, str]:
    if not text:
        return {}
    program = programs.parse(text)
    out = {}
    for ingredient in program.ingredients:
        stock = refills.TYPICAL_STOCK_MCG_PER_ML.get(ingredient.drug.key)
        if stock is not None:
            unit = ingredient.drug.dose_unit.value
            out[ingredient.drug.key] = format_concentration(stock, unit)
    return out


@router.post("/patients/{patient_id}/refill", response_class=HTMLResponse)
async def refill_step(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("refill.perform")),  # noqa: B008 (FastAPI dependency)
) -> Response:
    raw = {str(k): str(v) for k, v in (await request.form()).items()}
    verified = None
    if raw.get("step") == "save":
        # A co-signature's password (argon2) is checked first, awaited without a worker thread.
        verified = await cosignature.verified(request, _cosignature(raw, now(request)), actor.name)
    # The pump's telemetry and the database block: they run in a worker thread, off the loop.
    return await run_in_threadpool(_refill_step, patient_id, request, db, actor, raw, verified)


def _cosignature(raw: dict[str, str], at: datetime) -> refills.RefillRequest:
    """The form's co-signature, the same fields :func:`_step` reads (only these are checked)."""
    return refills.RefillRequest(
        fill_ml=0.0,
        performed_at=at,
        investigate_reason=raw.get("investigate_reason", ""),
        cosigner=raw.get("cosigner", ""),
        cosigner_password=raw.get("cosigner_password", ""),
    )


def _refill_step(
    patient_id: int,
    request: Request,
    db: Session,
    actor: Actor,
    raw: dict[str, str],
    verified: str | None,
) -> Response:
    """One step of the wizard. Its reading, plan and page come from a session that only reads:
    rendered inside the write transaction, a preview held SQLite's one write lock (every other
    write of the clinic, chart reads' audit entries included) for the whole page. Only a save
    writes, through ``db``, and re-checks the plan against the records under its lock."""
    with reading(request.app.state.sessions) as reader:
        return _step(patient_id, request, reader, db, actor, raw, verified)


def _step(
    patient_id: int,
    request: Request,
    reader: Session,
    db: Session,
    actor: Actor,
    raw: dict[str, str],
    verified: str | None,
) -> Response:
    patient = records.require_patient(reader, patient_id)
    implant = programs.current_implant(reader, patient_id)
    step = raw.get("step", "preview")
    link = refill_pump.link_for(request.app.state.pump_links, implant)
    pump = refill_pump.reading(link, raw)
    stocks_text = {k[6:]: v for k, v in raw.items() if k.startswith("stock_") and v.strip()}
    password = raw.pop("cosigner_password", "")  # used once, never shown back in the form
    errors: list[str] = []
    status = 422
    request_obj = None
    try:
        stocks = {
            k: parse_positive(v, f"stock {k}", Kind.CONCENTRATION) for k, v in stocks_text.items()
        }
        fill = _volume(raw, "fill")
        if fill is None:
            raise InputError("fill", "give the volume to put in, e.g. '20 mL'")
        version = raw.get("program_version", "").strip()
        follows = raw.get("follows_refill_id", "").strip()
        request_obj = refills.RefillRequest(
            fill_ml=fill,
            performed_at=refill_pump.time_of(pump, now(request)),
            withdrawn_ml=_volume(raw, "withdrawn", False),
            demand_boluses=int(raw.get("demand_boluses", "0") or 0),
            program_version=int(version) if version else None,
            stocks_mcg_per_ml=stocks,
            notes=raw.get("notes", ""),
            follows_refill_id=int(follows) if follows else None,
            investigate_reason=raw.get("investigate_reason", ""),
            cosigner=raw.get("cosigner", ""),
            cosigner_password=password,
            compounded_by=raw.get("compounded_by", ""),
            older_version_reason=raw.get("older_version_reason", ""),
        )
        prepared = refills.prepare(reader, patient, request_obj)
        request_obj = replace(request_obj, lots=refill_contents.lots(raw, prepared, step))
    except (InputError, ValueError) as exc:
        errors = [str(exc)]
        prepared = None
    if step == "interrogate":
        prepared, errors = None, []  # a fresh reading only; the plan comes with the preview
    if prepared is not None and request_obj is not None and step == "save":
        try:
            row, errors = _save_refill(
                request, db, patient, actor, raw, link, pump, prepared, request_obj, verified
            )
        except ConflictError as exc:
            row, errors, status = None, [exc.message], 409
        except refills.CosignError as exc:
            row, errors = None, [str(exc)]
            db.rollback()  # nothing of the refill; the failed co-signature is kept
            refills.record_failed_cosign(db, exc.cosigner, actor.name, now(request), patient_id)
            db.commit()
        except InputError as exc:
            row, errors = None, [str(exc)]
        if row is not None:
            db.commit()
            return RedirectResponse(f"/patients/{patient_id}/refills/{row.id}", status_code=303)
        db.rollback()
    return render(
        request,
        "refill.html",
        actor,
        status=status if errors else 200,
        patient=patient,
        implant=implant,
        form=raw,
        stocks=stocks_text or _stock_defaults(""),
        plan=plan_payload(prepared) if prepared else None,
        errors=errors,
        last=programs.last_refill(reader, patient_id),
        versions=programs.history(reader, patient_id),
        in_force=programs.in_force(reader, patient_id),
        lot_drugs=_lot_drugs(reader, patient_id, raw),
        changes=refill_contents.changes(prepared) if prepared else [],
        older=refills.older_than_in_force(prepared) if prepared else None,
        **refill_pump.context(reader, pump, implant, now(request), prepared),
    )


def _save_refill(
    request: Request,
    db: Session,
    patient: Patient,
    actor: Actor,
    raw: dict[str, str],
    link: Any,
    pump: Any,
    prepared: refills.RefillPlan,
    request_obj: refills.RefillRequest,
    verified: str | None,
) -> tuple[Any, list[str]]:
    """Save the wizard's refill: (row, []) or (None, why). ConflictError and InputError (the
    follows check, the co-signature over INVESTIGATE) come before anything is sent to a pump.
    ``prepared`` was made from the read-only session; the checks here are early answers, and
    the save repeats them under the write lock."""
    if raw.get("confirm") != "yes":
        return None, ["tick the confirmation that the fill and the program were checked"]
    refills.check_follows(request_obj, prepared.previous_any)
    refill_contents.require_for_save(raw, prepared)
    refills.check_contents(prepared, request_obj)
    if prepared.reconciliation is None or not prepared.reconciliation.investigate:
        verified = None
    elif verified is None:
        # The password, checked before the write lock (refill_step), did not check out: checked
        # again here, a wrong one is refused and recorded.
        refills.cosign(db, request_obj, actor.name, now(request))
    writing = records.require_patient(db, patient.id)
    if raw.get("mode") == "pump":
        # What the pump is sent is computed again through the writing session (on SQLite its
        # write lock is taken), as before the wizard's pages were read apart.
        prepared = refills.prepare(db, writing, request_obj)
        refills.check_follows(request_obj, prepared.previous_any)
        refills.check_contents(prepared, request_obj)
        # All or nothing: the clinic record is written only after the pump confirmed.
        return refill_pump.save_through(
            link, pump, db, writing, prepared, request_obj, actor.name, now(request), raw
        )
    row = refills.save(
        db,
        writing,
        request_obj,
        actor.name,
        recorded_at=now(request),
        verified_cosigner=verified,
        prepared_apart=prepared,
    )
    return row, []


@router.get("/patients/{patient_id}/refills/{refill_id}", response_class=HTMLResponse)
@read_only
def refill_record(
    patient_id: int,
    refill_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("chart.read")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    from intrathecal.web.api.serialize import refill as refill_json

    patient = records.require_patient(db, patient_id)
    row = refills.require(db, patient_id, refill_id)  # a refill not there is a 404, not audited
    audit_read(request, actor, patient_id, "refill record", refill=refill_id)
    r = refill_json(row, refills.voids(db, patient_id))
    return render(
        request, "refill_record.html", actor, patient=patient, r=r, error="", **_record(db, row)
    )


def _record(db: Session, row: Refill) -> dict[str, Any]:
    """What the printed record adds to the refill: the pump, the program's drugs with their
    daily doses, and the full names of the people who signed."""
    implant = db.get(Implant, row.implant_id)
    version = db.get(ProgramVersion, row.program_version_id)
    doses = json.loads(version.daily_doses_json) if version else {}
    names = [row.performed_by, row.cosigned_by, version.signed_by if version else None]
    people = {
        u.username: u.full_name
        for u in db.execute(
            select(User).where(User.username.in_([n for n in names if n]))
        ).scalars()
    }
    lots = {x["drug"]: x for x in json.loads(row.drug_lots_json or "[]")}
    drugs = [
        {
            "drug": drug,
            "concentration": refill_contents.concentration_text(drug, per_ml),
            "dose": refill_contents.dose_text(drug, doses.get(drug)),
            "lot": lots.get(drug, {}).get("lot", ""),
            "expiry": lots.get(drug, {}).get("expiry", ""),
        }
        for drug, per_ml in json.loads(row.concentrations_json).items()
    ]
    return {
        "implant": implant,
        "device": default_library().device(implant.device_key) if implant else None,
        "version": version,
        "drugs": drugs,
        "people": people,
    }


@router.post("/patients/{patient_id}/refills/{refill_id}/void", response_class=HTMLResponse)
async def refill_void(
    patient_id: int,
    refill_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("refill.void")),  # noqa: B008 (FastAPI dependency)
) -> Response:
    reason = str((await request.form()).get("reason", ""))
    return await run_in_threadpool(_refill_void, patient_id, refill_id, request, db, actor, reason)


def _refill_void(
    patient_id: int, refill_id: int, request: Request, db: Session, actor: Actor, reason: str
) -> Response:
    from intrathecal.web.api.serialize import refill as refill_json

    patient = records.require_patient(db, patient_id)
    try:
        refills.void(db, patient, refill_id, reason, actor.name, now(request))
    except (InputError, ConflictError) as exc:
        db.rollback()
        row = refills.require(db, patient_id, refill_id)
        r = refill_json(row, refills.voids(db, patient_id))
        message = exc.message if isinstance(exc, ConflictError) else str(exc)
        status = 409 if isinstance(exc, ConflictError) else 422
        return render(
            request,
            "refill_record.html",
            actor,
            status,
            patient=patient,
            r=r,
            error=message,
            **_record(db, row),
        )
    db.commit()
    return RedirectResponse(f"/patients/{patient_id}/refills/{refill_id}", status_code=303)
