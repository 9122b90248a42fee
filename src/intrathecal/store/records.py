"""Adding the journey's records (each audited), voiding a wrong one by a correction record, and
reading a patient's chart.

Records are never edited or deleted: a wrong indication, prior treatment, evaluation, trial,
implant, alarm, appointment or adverse event is voided by a ``record_voids`` row (who, when, why;
:func:`void`). It stays on the chart, marked; what follows the records (the current implant, the
open alarms, the scheduled refill, the change profile) skips it (:func:`not_voided`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from intrathecal.library import default_library
from intrathecal.store import audit
from intrathecal.store.errors import ConflictError, NotFoundError
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
    ProgramApplication,
    ProgramVersion,
    RecordVoid,
    Refill,
    Stage,
    Trial,
)
from intrathecal.units import InputError

T = TypeVar("T", bound=Base)
STAGE_ORDER = [s.value for s in Stage]


def add(session: Session, row: Base, actor: str, now: datetime, action: str) -> Base:
    """Insert ``row`` and write its audit entry in the same transaction."""
    session.add(row)
    session.flush()
    patient_id = getattr(row, "patient_id", None) or getattr(row, "id", None)
    audit.record(
        session, now, actor, action, f"patient:{patient_id}", {"id": getattr(row, "id", None)}
    )
    return row


def _advance(patient: Patient, stage: Stage) -> None:
    """Move the patient forward on the journey (never back, except "not a candidate")."""
    if stage is Stage.NOT_A_CANDIDATE or STAGE_ORDER.index(stage.value) > STAGE_ORDER.index(
        patient.stage
    ):
        patient.stage = stage.value


def add_evaluation(
    session: Session, patient: Patient, row: Evaluation, actor: str, now: datetime
) -> Evaluation:
    _advance(patient, Stage.EVALUATION)
    add(session, row, actor, now, "evaluation.add")
    return row


def add_trial(session: Session, patient: Patient, row: Trial, actor: str, now: datetime) -> Trial:
    if row.pain_after > 10 or row.pain_before > 10 or row.pain_after < 0 or row.pain_before < 0:
        raise InputError("pain_before", "pain scores are 0 to 10")
    _advance(patient, Stage.NOT_A_CANDIDATE if row.decision == "no implant" else Stage.TRIAL)
    add(session, row, actor, now, "trial.add")
    return row


def add_implant(
    session: Session, patient: Patient, row: Implant, actor: str, now: datetime
) -> Implant:
    device = default_library().devices.get(row.device_key)
    if device is None:
        raise InputError("device", f"unknown device {row.device_key!r}")
    if session.execute(select(Implant.id).where(Implant.serial == row.serial)).first():
        raise InputError("serial", f"serial {row.serial!r} is already implanted")
    row.reservoir_ml = device.reservoir_ml.value
    row.catheter_volume_ml = row.catheter_length_cm * device.catheter_ml_per_cm.value
    row.replace_by = row.implanted_at + timedelta(days=device.service_life_days.value)
    previous = (
        session.execute(
            select(Implant)
            .where(Implant.patient_id == patient.id, not_voided("implant", Implant))
            .order_by(Implant.id.desc())
        )
        .scalars()
        .first()
    )
    row.replaces_implant_id = previous.id if previous else None
    _advance(patient, Stage.IMPLANTED)
    add(session, row, actor, now, "implant.add")
    return row


def clear_alarm(
    session: Session, patient_id: int, alarm_id: int, actor: str, now: datetime
) -> Alarm:
    alarm = session.get(Alarm, alarm_id)
    if alarm is None or alarm.patient_id != patient_id:
        raise NotFoundError(f"alarm {alarm_id} of patient {patient_id}")
    if alarm.cleared_at is not None:
        raise InputError("alarm", f"was cleared by {alarm.cleared_by} already")
    if voided(session, patient_id).get(("alarm", alarm_id)) is not None:
        raise InputError("alarm", "is void: a void is not cleared")
    alarm.cleared_at, alarm.cleared_by = now, actor
    audit.record(session, now, actor, "alarm.clear", f"patient:{patient_id}", {"alarm": alarm_id})
    return alarm


# The records a void may correct: kind (also the audit action's prefix and the API's path, plural)
# -> model. Refills have their own correction (store/refills.py ``void``): their due dates and
# reconciliation follow the refill before.
VOIDABLE: dict[str, type[Base]] = {
    "indication": Indication,
    "prior-treatment": PriorTreatment,
    "evaluation": Evaluation,
    "trial": Trial,
    "implant": Implant,
    "alarm": Alarm,
    "appointment": Appointment,
    "adverse-event": AdverseEvent,
}
MAX_VOID_REASON = 500  # characters


def not_voided(kind: str, model: Any) -> ColumnElement[bool]:
    """Filter for records of ``kind`` (rows of ``model``) that count: one NOT EXISTS on the
    unique (kind, record_id) index."""
    return ~(
        select(RecordVoid.id)
        .where(RecordVoid.kind == kind, RecordVoid.record_id == model.id)
        .exists()
    )


def voided(session: Session, patient_id: int) -> dict[tuple[str, int], RecordVoid]:
    """The patient's voided records: (kind, record id) -> its correction record."""
    rows = session.execute(select(RecordVoid).where(RecordVoid.patient_id == patient_id))
    return {(v.kind, v.record_id): v for v in rows.scalars()}


def require_record(session: Session, patient_id: int, kind: str, record_id: int) -> Base:
    model = VOIDABLE.get(kind)
    if model is None:
        raise NotFoundError(f"record kind {kind!r}")
    row = session.get(model, record_id)
    if row is None or getattr(row, "patient_id", None) != patient_id:
        raise NotFoundError(f"{kind.replace('-', ' ')} {record_id} of patient {patient_id}")
    return row


def void(
    session: Session,
    patient: Patient,
    kind: str,
    record_id: int,
    reason: str,
    actor: str,
    now: datetime,
) -> RecordVoid:
    """Void a wrong record by a correction record (who, when by the server's clock, why); the
    row stays. 404 unless the record is the patient's; 409 when it is voided already."""
    why = reason.strip()
    if not why:
        raise InputError("reason", "say why the record is void")
    if len(why) > MAX_VOID_REASON:
        raise InputError("reason", f"at most {MAX_VOID_REASON} characters")
    # Voids of one patient queue behind each other (and behind refills, which read implants).
    session.execute(select(Patient.id).where(Patient.id == patient.id).with_for_update())
    require_record(session, patient.id, kind, record_id)
    done = session.execute(
        select(RecordVoid).where(RecordVoid.kind == kind, RecordVoid.record_id == record_id)
    ).scalar_one_or_none()
    if done is not None:
        raise ConflictError(
            f"{kind.replace('-', ' ')} {record_id} was voided by {done.voided_by} at "
            f"{done.voided_at:%Y-%m-%d %H:%M} UTC already",
            record_id,
            field=kind,
            current_key="voided_record",
        )
    row = RecordVoid(
        kind=kind,
        record_id=record_id,
        patient_id=patient.id,
        reason=why,
        voided_by=actor,
        voided_at=now,
    )
    session.add(row)
    session.flush()
    detail = {"id": record_id, "reason": why}
    audit.record(session, now, actor, f"{kind}.void", f"patient:{patient.id}", detail)
    return row


def require_patient(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFoundError(f"patient {patient_id}")
    return patient


@dataclass
class Chart:
    patient: Patient
    indications: list[Indication]
    prior_treatments: list[PriorTreatment]
    evaluations: list[Evaluation]
    trials: list[Trial]
    implants: list[Implant]
    programs: list[ProgramVersion]
    applications: list[ProgramApplication]
    refills: list[Refill]
    alarms: list[Alarm]
    appointments: list[Appointment]
    adverse_events: list[AdverseEvent]


def _all(session: Session, model: type[T], patient_id: int, order: Any) -> list[T]:
    column = model.patient_id  # type: ignore[attr-defined]
    return list(
        session.execute(select(model).where(column == patient_id).order_by(order)).scalars()
    )


def chart(session: Session, patient_id: int, actor: str, now: datetime) -> Chart:
    """Everything about one patient. Reading a chart is itself audited."""
    audit_chart_read(session, patient_id, actor, now)
    return read_chart(session, patient_id)


def audit_chart_read(session: Session, patient_id: int, actor: str, now: datetime) -> Patient:
    """Record that ``actor`` reads the chart. Committed before the chart is read, the read is on
    record even if showing it fails, and the write lock is held only for this entry."""
    patient = require_patient(session, patient_id)
    audit.record(session, now, actor, "chart.read", f"patient:{patient_id}")
    return patient


def read_chart(session: Session, patient_id: int) -> Chart:
    """Everything about one patient; reads only (audit the read with ``audit_chart_read``)."""
    patient = require_patient(session, patient_id)
    return Chart(
        patient=patient,
        indications=_all(session, Indication, patient_id, Indication.id),
        prior_treatments=_all(session, PriorTreatment, patient_id, PriorTreatment.id),
        evaluations=_all(session, Evaluation, patient_id, Evaluation.performed_on),
        trials=_all(session, Trial, patient_id, Trial.performed_on),
        implants=_all(session, Implant, patient_id, Implant.implanted_at),
        programs=_all(session, ProgramVersion, patient_id, ProgramVersion.version),
        applications=_all(session, ProgramApplication, patient_id, ProgramApplication.id),
        refills=_all(session, Refill, patient_id, Refill.performed_at),
        alarms=_all(session, Alarm, patient_id, Alarm.raised_at),
        appointments=_all(session, Appointment, patient_id, Appointment.starts_at),
        adverse_events=_all(session, AdverseEvent, patient_id, AdverseEvent.occurred_on),
    )
