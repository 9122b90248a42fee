"""Pages for the patient journey: a new patient, and each record the API adds (indication,
prior treatment, evaluation, trial, implant, appointment, adverse event, alarm), plus the alarm
page where an alarm is acknowledged and cleared.

A form is read into the API's own request body (web/api/schemas.py) and added through the same
store function (``store.records.add_record``), so the page and the API refuse the same input
with the same words. A refused form comes back with the message beside its field and what was
typed kept; nothing is saved.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from intrathecal.clinical import journey_limits as limits
from intrathecal.library import default_library
from intrathecal.store import records
from intrathecal.store.errors import NotFoundError
from intrathecal.store.models import (
    ADVERSE_EVENT_KINDS,
    APPOINTMENT_KINDS,
    EVALUATION_KINDS,
    IMPLANT_SETTINGS,
    PRIOR_TREATMENT_KINDS,
    SEXES,
    TRIAL_DECISIONS,
    TRIAL_MODES,
    Alarm,
)
from intrathecal.units import InputError
from intrathecal.web.api import schemas
from intrathecal.web.api.patient_records import KINDS, RecordKind, add, make_patient
from intrathecal.web.api.validation import field_errors
from intrathecal.web.deps import Actor, get_db, now, read_only, require
from intrathecal.web.idempotency import HEADER, MAX_KEY, Idempotency, ReplayedError
from intrathecal.web.pages import render
from intrathecal.web.read_audit import audit_read, audited_patient

router = APIRouter(include_in_schema=False)

Options = list[tuple[str, str]]  # (value, label)


def _plain(values: tuple[str, ...] | list[str]) -> Options:
    return [(v, v) for v in values]


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text, textarea, date, datetime, select
    options: Options | Callable[[], Options] | None = None
    groups: list[tuple[str, Options]] | None = None  # a select's option groups
    hint: str = ""
    required: bool = True
    most: int | None = None  # characters
    section: str = ""  # a heading shown before the field

    def choices(self) -> Options:
        found = self.options() if callable(self.options) else self.options
        return found or []


# The indications as a clinician picks them: pain by its kind, spasticity by its cause.
INDICATION_GROUPS: list[tuple[str, Options]] = [
    ("Nociceptive pain", _plain(["nociceptive pain"])),
    (
        "Neuropathic pain",
        _plain(
            [
                "failed back surgery syndrome",
                "complex regional pain syndrome",
                "phantom limb pain",
                "post-herpetic neuralgia",
                "peripheral neuropathy",
            ]
        ),
    ),
    ("Cancer pain", _plain(["cancer pain"])),
    (
        "Spasticity, by its cause",
        _plain(
            [
                "spasticity after stroke",
                "spasticity after brain injury",
                "spasticity after spinal cord injury",
                "spasticity in cerebral palsy",
                "spasticity in multiple sclerosis",
            ]
        ),
    ),
    ("Other", _plain(["other"])),
]


def _drugs() -> Options:
    return [(k, d.name) for k, d in default_library().drugs.items()]


def _devices() -> Options:
    return [(k, d.name) for k, d in default_library().devices.items()]


PAIN = [(str(n), str(n)) for n in limits.PAIN_SCORES]
ASHWORTH = _plain(limits.ASHWORTH_GRADES)
PENN = [(str(n), str(n)) for n in limits.PENN_SPASM_SCORES]
T = limits.TEXT_CHARS
UTC_HINT = "UTC"

PATIENT_FIELDS = [
    Field("mrn", "Medical record number", most=limits.MRN_CHARS),
    Field("name", "Full name", most=limits.NAME_CHARS),
    Field("birth_date", "Date of birth", "date"),
    Field("sex", "Sex", "select", _plain(SEXES)),
    Field(
        "opioid_status",
        "Opioid status",
        "select",
        [("", "not known"), ("naive", "opioid-naive"), ("tolerant", "opioid-tolerant")],
        hint="selects the starting range the program review uses; not known: the stricter "
        "opioid-naive range",
        required=False,
    ),
]

FIELDS: dict[str, list[Field]] = {
    "indication": [
        Field("condition", "Indication", "select", groups=INDICATION_GROUPS),
        Field("detail", "Detail", "textarea", required=False, most=T),
    ],
    "prior-treatment": [
        Field("kind", "Tried", "select", _plain(PRIOR_TREATMENT_KINDS)),
        Field("medication", "Medication or method", most=limits.LABEL_CHARS),
        Field(
            "dose",
            "Dose",
            hint="oral medication: as prescribed, e.g. 60 mg/day",
            required=False,
            most=60,
        ),
        Field(
            "outcome", "Outcome", hint="e.g. inadequate relief, sedation", most=limits.NAME_CHARS
        ),
    ],
    "evaluation": [
        Field("kind", "Diagnostic", "select", _plain(EVALUATION_KINDS)),
        Field("performed_on", "Done on", "date"),
        Field("result", "Result", "textarea", most=T),
    ],
    "trial": [
        Field("performed_on", "Done on", "date"),
        Field("drug", "Drug", "select", _drugs),
        Field("mode", "Trial", "select", _plain(TRIAL_MODES)),
        Field(
            "dose",
            "Dose",
            hint="with its unit, e.g. 50 mcg or 0.5 mg; a continuous trial: the dose over 24 h",
            most=40,
        ),
        Field(
            "pain_before",
            "Pain before (0-10)",
            "select",
            [("", ""), *PAIN],
            required=False,
            section="Response: pain trial (numeric rating scale)",
        ),
        Field("pain_after", "Pain after (0-10)", "select", [("", ""), *PAIN], required=False),
        Field(
            "ashworth_before",
            "Ashworth before",
            "select",
            [("", ""), *ASHWORTH],
            required=False,
            section="Response: spasticity trial (baclofen): Modified "
            "Ashworth grade and Penn spasm frequency (0 none to 4 more than 10 an hour)",
        ),
        Field("ashworth_after", "Ashworth after", "select", [("", ""), *ASHWORTH], required=False),
        Field("spasms_before", "Spasms before (0-4)", "select", [("", ""), *PENN], required=False),
        Field("spasms_after", "Spasms after (0-4)", "select", [("", ""), *PENN], required=False),
        Field("side_effects", "Side effects", "textarea", required=False, most=T, section=" "),
        Field("decision", "Decision", "select", _plain(TRIAL_DECISIONS)),
    ],
    "implant": [
        Field("device", "Device", "select", _devices),
        Field("serial", "Serial number", most=40),
        Field(
            "catheter_length",
            "Catheter length",
            hint="with its unit, e.g. 70 cm; the catheter volume follows from the device",
            most=40,
        ),
        Field("tip_level", "Catheter tip level", hint="vertebral level, e.g. T10", most=10),
        Field("setting", "Setting", "select", _plain(IMPLANT_SETTINGS)),
        Field("implanted_at", "Implanted at", "datetime", hint=UTC_HINT),
    ],
    "appointment": [
        Field("kind", "Appointment", "select", _plain(APPOINTMENT_KINDS)),
        Field("starts_at", "Starts at", "datetime", hint=UTC_HINT),
        Field("note", "Note", "textarea", required=False, most=T),
    ],
    "adverse-event": [
        Field("kind", "Event", "select", _plain(ADVERSE_EVENT_KINDS)),
        Field("occurred_on", "Occurred on", "date"),
        Field("serious", "Serious", "select", [("", ""), ("no", "no"), ("yes", "yes")]),
        Field("description", "Description", "textarea", most=T),
        Field("action", "Action taken", "textarea", required=False, most=T),
    ],
    "alarm": [
        Field("kind", "Alarm", hint="e.g. low reservoir", most=40),
        Field("message", "Message", "textarea", most=T),
        Field("source", "Source", "select", [("clinic", "clinic"), ("pump", "pump")]),
    ],
}


def form_data(form: dict[str, str], fields: list[Field]) -> dict[str, Any]:
    """The API's body from a form: its fields only (no CSRF token); an empty optional field is
    left out (its default), an empty required one stays empty (then "is required"); a time
    typed without a zone is the UTC the field says."""
    data: dict[str, Any] = {}
    for f in fields:
        value = form.get(f.name, "")
        if value == "" and not f.required:
            continue
        if f.kind == "datetime" and value and not _zoned(value):
            value += "+00:00"
        data[f.name] = value
    return data


def body_of(model: type[BaseModel], form: dict[str, str], fields: list[Field]) -> BaseModel:
    return model.model_validate(form_data(form, fields))


def _zoned(value: str) -> bool:
    return value.endswith("Z") or "+" in value[10:] or "-" in value[10:]


def _form(raw: Any) -> dict[str, str]:
    return {k: v for k, v in raw.items() if isinstance(v, str)}


# A form carries a key of its own (hidden ``form_key``, new with each blank form): the same form
# sent twice (a double click, a reload after a lost answer) saves one record, as the API's
# Idempotency-Key does (web/idempotency.py, the same table).
FORM_KEY = "form_key"
SAVED_ALREADY = "this form was saved already; open the form again to add another record"


def _save_once(
    request: Request, db: Session, actor: Actor, form: dict[str, str], work: Callable[[], Any]
) -> tuple[int | None, dict[str, str]]:
    """Run ``work`` (reads the body, adds through the store) once per form key and commit;
    answer the id of the record saved (the first one, for a repeat). On refused input roll
    back and answer the errors by field: nothing is saved."""
    key = form.get(FORM_KEY) or None
    if key is not None and not (len(key) <= MAX_KEY and key.isascii() and key.isprintable()):
        key = None
    typed = {k: v for k, v in sorted(form.items()) if k not in ("csrf_token", FORM_KEY)}
    digest = hashlib.sha256(json.dumps(typed).encode()).hexdigest()
    once = Idempotency(key, f"PAGE {request.url.path}", digest, now(request))
    try:
        done = once.run(db, actor.name, 303, lambda: {"id": work().id})
        return int(done["id"]), {}
    except ReplayedError as exc:
        return int(json.loads(bytes(exc.response.body))["id"]), {}
    except ValidationError as exc:
        db.rollback()
        return None, {e["field"]: e["message"] for e in reversed(field_errors(exc.errors()))}
    except InputError as exc:
        db.rollback()
        if exc.field == HEADER:
            return None, {FORM_KEY: SAVED_ALREADY}
        return None, {exc.field: exc.message}


# --- a new patient ---------------------------------------------------------------------------


@router.get("/new-patient", response_class=HTMLResponse)
@read_only
def new_patient_page(
    request: Request,
    actor: Actor = Depends(require("patient.write")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    return _page(request, actor, None, "patient", PATIENT_FIELDS, {}, {})


@router.post("/new-patient", response_class=HTMLResponse)
async def new_patient(
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("patient.write")),  # noqa: B008 (FastAPI dependency)
) -> Response:
    # The form is read here (async); the database work runs in a worker thread, as every page
    # that writes does, so a slow commit never blocks the event loop.
    form = _form(await request.form())

    def work() -> Response:
        def create() -> Any:
            body = body_of(schemas.PatientBody, form, PATIENT_FIELDS)
            assert isinstance(body, schemas.PatientBody)
            return records.create_patient(db, make_patient(body), actor.name, now(request))

        saved, errors = _save_once(request, db, actor, form, create)
        if errors:
            return _page(request, actor, None, "patient", PATIENT_FIELDS, form, errors, 422)
        return RedirectResponse(f"/patients/{saved}", status_code=303)

    return await run_in_threadpool(work)


# --- a record of the journey -------------------------------------------------------------------


def _page(
    request: Request,
    actor: Actor,
    patient: Any,
    kind: str,
    fields: list[Field],
    form: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> HTMLResponse:
    spec = KINDS.get(kind)
    action = f"/patients/{patient.id}/{spec.collection}/new" if patient and spec else "/new-patient"
    title = "New patient" if kind == "patient" else f"Add {kind.replace('-', ' ')}"
    return render(
        request,
        "journey_form.html",
        actor,
        status,
        patient=patient,
        title=title,
        kind=kind,
        fields=fields,
        form=form,
        errors=errors,
        action=action,
        form_key=form.get(FORM_KEY) or secrets.token_urlsafe(16),
    )


def _register(spec: RecordKind) -> None:
    fields = FIELDS[spec.kind]

    @read_only
    def show(
        patient_id: int,
        request: Request,
        db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
        actor: Actor = Depends(require(spec.permission)),  # noqa: B008 (FastAPI dependency)
    ) -> HTMLResponse:
        # The form shows the patient's name, MRN and stage: a read of the record.
        patient = audited_patient(request, actor, db, patient_id, f"{spec.label} form")
        return _page(request, actor, patient, spec.kind, fields, {}, {})

    async def save(
        patient_id: int,
        request: Request,
        db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
        actor: Actor = Depends(require(spec.permission)),  # noqa: B008 (FastAPI dependency)
    ) -> Response:
        form = _form(await request.form())

        def work() -> Response:
            def added() -> Any:
                return add(spec, db, patient_id, body_of(spec.body, form, fields), request, actor)

            _, errors = _save_once(request, db, actor, form, added)
            if errors:
                patient = records.require_patient(db, patient_id)
                return _page(request, actor, patient, spec.kind, fields, form, errors, 422)
            return RedirectResponse(f"/patients/{patient_id}#journey", status_code=303)

        return await run_in_threadpool(work)

    path = f"/patients/{{patient_id}}/{spec.collection}/new"
    show.__name__ = f"new_{spec.key}_page"
    save.__name__ = f"add_{spec.key}_page"
    router.get(path, response_class=HTMLResponse)(show)
    router.post(path, response_class=HTMLResponse)(save)


for _spec in KINDS.values():
    _register(_spec)


# --- alarms: see, acknowledge, clear -------------------------------------------------------------


@router.get("/patients/{patient_id}/alarms", response_class=HTMLResponse)
@read_only
def alarms_page(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("chart.read")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    audit_read(request, actor, patient_id, "alarms")
    return _alarms(request, db, actor, patient_id)


def _alarms(
    request: Request,
    db: Session,
    actor: Actor,
    patient_id: int,
    errors: dict[int, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    patient = records.require_patient(db, patient_id)
    rows = list(
        db.execute(
            select(Alarm).where(Alarm.patient_id == patient_id).order_by(Alarm.raised_at.desc())
        ).scalars()
    )
    return render(
        request,
        "journey_alarms.html",
        actor,
        status,
        patient=patient,
        alarms=rows,
        history=records.alarm_events(db, patient_id),
        void=records.voided(db, patient_id),
        errors=errors or {},
    )


def _alarm_action(action: str) -> None:
    async def act(
        patient_id: int,
        alarm_id: int,
        request: Request,
        db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
        actor: Actor = Depends(require("alarm.write")),  # noqa: B008 (FastAPI dependency)
    ) -> Response:
        note = str((await request.form()).get("note", ""))

        def work() -> Response:
            do = records.acknowledge_alarm if action == "acknowledge" else records.clear_alarm
            try:
                do(db, patient_id, alarm_id, actor.name, now(request), note)
            except InputError as exc:
                db.rollback()
                text = f"{exc.message}. Nothing was changed."
                return _alarms(request, db, actor, patient_id, {alarm_id: text}, 422)
            except NotFoundError:
                db.rollback()
                raise
            db.commit()
            return RedirectResponse(f"/patients/{patient_id}/alarms", status_code=303)

        return await run_in_threadpool(work)

    act.__name__ = f"{action}_alarm_page"
    router.post(f"/patients/{{patient_id}}/alarms/{{alarm_id}}/{action}")(act)


_alarm_action("acknowledge")
_alarm_action("clear")
