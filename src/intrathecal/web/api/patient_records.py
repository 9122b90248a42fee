"""Adding a record to a patient's journey: one table, one route pattern, one store function.

Each kind (indication, prior treatment, evaluation, trial, implant, alarm, appointment, adverse
event) is a row of ``KINDS``: its request body, its model, the body's keys renamed to columns,
the permission and its answer. ``POST /api/v1/patients/{id}/<collection>`` reads the body,
builds the row (``make_row``) and hands it to ``store.records.add_record``, which checks it,
dates it by the server's clock and audits it. The pages (web/journey_pages.py) build the same
row from a form and call the same store function: same checks, same words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from intrathecal.store import records
from intrathecal.store.models import (
    AdverseEvent,
    Alarm,
    Appointment,
    Base,
    Evaluation,
    Implant,
    Indication,
    Patient,
    PriorTreatment,
    Trial,
)
from intrathecal.web import client_time
from intrathecal.web.api import schemas, serialize
from intrathecal.web.api.answers import signed_in
from intrathecal.web.deps import Actor, get_db, now, require
from intrathecal.web.idempotency import Idempotency, idempotency

router = APIRouter(prefix="/api/v1")


@dataclass(frozen=True)
class RecordKind:
    kind: str  # as store/records.py names it ("prior-treatment")
    collection: str  # its path under a patient ("prior-treatments")
    body: type[schemas.Strict]
    model: type[Base]
    permission: str
    answer: type[schemas.OkAnswer]
    serializer: Callable[[Any], dict[str, Any]]
    tag: str = "patients"
    # body key -> column, where they differ
    renames: dict[str, str] = field(default_factory=dict)
    # columns the store fills in (derived or dated by the server), with a placeholder
    derived: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The answer's key for the record ("prior_treatment")."""
        return self.kind.replace("-", "_")

    @property
    def label(self) -> str:
        return self.kind.replace("-", " ")


KINDS: dict[str, RecordKind] = {
    k.kind: k
    for k in (
        RecordKind(
            "indication",
            "indications",
            schemas.IndicationBody,
            Indication,
            "patient.write",
            schemas.IndicationAnswer,
            serialize.indication,
        ),
        RecordKind(
            "prior-treatment",
            "prior-treatments",
            schemas.PriorTreatmentBody,
            PriorTreatment,
            "patient.write",
            schemas.PriorTreatmentAnswer,
            serialize.prior_treatment,
        ),
        RecordKind(
            "evaluation",
            "evaluations",
            schemas.EvaluationBody,
            Evaluation,
            "patient.write",
            schemas.EvaluationAnswer,
            serialize.evaluation,
        ),
        RecordKind(
            "trial",
            "trials",
            schemas.TrialBody,
            Trial,
            "patient.write",
            schemas.TrialAnswer,
            serialize.trial,
            renames={"dose": "dose_mcg"},
        ),
        RecordKind(
            "implant",
            "implants",
            schemas.ImplantBody,
            Implant,
            "patient.write",
            schemas.ImplantAnswer,
            serialize.implant,
            renames={"device": "device_key", "catheter_length": "catheter_length_cm"},
            derived={"reservoir_ml": 0.0, "catheter_volume_ml": 0.0},
        ),
        RecordKind(
            "alarm",
            "alarms",
            schemas.AlarmBody,
            Alarm,
            "alarm.write",
            schemas.AlarmAnswer,
            serialize.alarm,
            tag="events",
        ),
        RecordKind(
            "appointment",
            "appointments",
            schemas.AppointmentBody,
            Appointment,
            "appointment.write",
            schemas.AppointmentAnswer,
            serialize.appointment,
            tag="events",
        ),
        RecordKind(
            "adverse-event",
            "adverse-events",
            schemas.AdverseEventBody,
            AdverseEvent,
            "adverse_event.write",
            schemas.AdverseEventAnswer,
            serialize.adverse_event,
            tag="events",
        ),
    )
}


def make_row(spec: RecordKind, patient_id: int, body: BaseModel) -> Base:
    values = {spec.renames.get(k, k): v for k, v in body.model_dump().items()}
    return spec.model(patient_id=patient_id, **spec.derived, **values)


def add(
    spec: RecordKind, db: Session, patient_id: int, body: BaseModel, request: Request, actor: Actor
) -> Base:
    """Build the row and add it through the store (checks, server date, audit)."""
    row = make_row(spec, patient_id, body)
    skew = client_time.skew(request)
    return records.add_record(db, spec.kind, row, actor.name, now(request), skew)


def _register(spec: RecordKind) -> None:
    """``POST /patients/{patient_id}/<collection>`` for one kind."""

    def add_one(
        patient_id: int,
        body: Any,
        request: Request,
        db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
        actor: Actor = Depends(require(spec.permission)),  # noqa: B008 (FastAPI dependency)
        idem: Idempotency = Depends(idempotency),  # noqa: B008 (FastAPI dependency)
    ) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            row = add(spec, db, patient_id, body, request, actor)
            return {"ok": True, spec.key: spec.serializer(row)}

        return idem.run(db, actor.name, 201, work)

    add_one.__annotations__["body"] = spec.body  # the body model FastAPI reads and documents
    add_one.__name__ = f"add_{spec.key}"
    add_one.__doc__ = (
        f"Add a {spec.label} to the patient's record: checked (the field and why, 422), dated "
        "by the server's clock and audited. A wrong one is voided, never edited."
    )
    router.post(
        f"/patients/{{patient_id}}/{spec.collection}",
        tags=[spec.tag],
        status_code=201,
        response_model=spec.answer,
        responses=signed_in(404),
        summary=f"Add {spec.label}",
    )(add_one)


for _spec in KINDS.values():
    _register(_spec)


# --- a new patient ---------------------------------------------------------------------------


def make_patient(body: schemas.PatientBody) -> Patient:
    return Patient(**body.model_dump())


@router.post(
    "/patients",
    tags=["patients"],
    status_code=201,
    response_model=schemas.PatientAnswer,
    responses=signed_in(),
)
def create_patient(
    body: schemas.PatientBody,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("patient.write")),  # noqa: B008 (FastAPI dependency)
    idem: Idempotency = Depends(idempotency),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    """A new patient (referred). The birth date is checked against the server's clock."""

    def work() -> dict[str, Any]:
        row = records.create_patient(db, make_patient(body), actor.name, now(request))
        return {"ok": True, "patient": serialize.patient(row)}

    return idem.run(db, actor.name, 201, work)


# --- alarms: acknowledged and cleared by records ----------------------------------------------


def _alarm_answer(db: Session, patient_id: int, alarm_id: int) -> dict[str, Any]:
    alarm = db.get(Alarm, alarm_id)
    history = records.alarm_events(db, patient_id).get(alarm_id, [])
    return {
        "ok": True,
        "alarm": serialize.alarm(alarm),  # type: ignore[arg-type]
        "history": [serialize.alarm_event(e) for e in history],
    }


@router.post(
    "/patients/{patient_id}/alarms/{alarm_id}/acknowledge",
    tags=["events"],
    response_model=schemas.AlarmHistoryAnswer,
    responses=signed_in(404),
)
def acknowledge_alarm(
    patient_id: int,
    alarm_id: int,
    request: Request,
    body: schemas.AlarmActionBody | None = None,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("alarm.write")),  # noqa: B008 (FastAPI dependency)
    idem: Idempotency = Depends(idempotency),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    """Record that you have seen the alarm (who, when by the server's clock, a note); it stays
    open until cleared. The history of the alarm is kept, never overwritten."""

    def work() -> dict[str, Any]:
        note = body.note if body else ""
        records.acknowledge_alarm(db, patient_id, alarm_id, actor.name, now(request), note)
        return _alarm_answer(db, patient_id, alarm_id)

    return idem.run(db, actor.name, 200, work)


@router.post(
    "/patients/{patient_id}/alarms/{alarm_id}/clear",
    tags=["events"],
    response_model=schemas.AlarmHistoryAnswer,
    responses=signed_in(404),
)
def clear_alarm(
    patient_id: int,
    alarm_id: int,
    request: Request,
    body: schemas.AlarmActionBody | None = None,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("alarm.write")),  # noqa: B008 (FastAPI dependency)
    idem: Idempotency = Depends(idempotency),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    """Record that the alarm's cause is dealt with (who, when, a note): a clearance record;
    the alarm leaves the open-alarms list."""

    def work() -> dict[str, Any]:
        note = body.note if body else ""
        records.clear_alarm(db, patient_id, alarm_id, actor.name, now(request), note)
        return _alarm_answer(db, patient_id, alarm_id)

    return idem.run(db, actor.name, 200, work)
