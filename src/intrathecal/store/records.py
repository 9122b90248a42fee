"""Adding the journey's records (each audited), voiding a wrong one by a correction record, and
reading a patient's chart.

Records are never edited or deleted: a wrong indication, prior treatment, evaluation, trial,
implant, alarm, appointment or adverse event is voided by a ``record_voids`` row (who, when, why;
:func:`void`). It stays on the chart, marked; what follows the records (the current implant, the
open alarms, the scheduled refill, the change profile) skips it (:func:`not_voided`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, select
from sqlalchemy.orm import Session

from intrathecal.clinical import journey_limits as limits
from intrathecal.library import default_library
from intrathecal.store import audit, json_read
from intrathecal.store.errors import ConflictError, NotFoundError
from intrathecal.store.models import (
    ADVERSE_EVENT_KINDS,
    APPOINTMENT_KINDS,
    EVALUATION_KINDS,
    IMPLANT_SETTINGS,
    INDICATIONS,
    OPIOID_STATUSES,
    PRIOR_TREATMENT_KINDS,
    SEXES,
    TRIAL_DECISIONS,
    TRIAL_MODES,
    AdverseEvent,
    Alarm,
    AlarmEvent,
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


def _choice(value: str, options: tuple[str, ...], field: str) -> str:
    if value not in options:
        raise InputError(field, f"must be one of: {', '.join(options)}")
    return value


# --- one way to add a patient's record ------------------------------------------------------
# Every record of the journey goes through ``add_record``: the patient must exist, the record's
# bounds (clinical/journey_limits.py) are checked against the server's clock, the server dates
# it, the journey moves on, and the audit entry is written in the same transaction. The API and
# the pages both call it, so both refuse the same input with the same words.


def create_patient(session: Session, row: Patient, actor: str, now: datetime) -> Patient:
    row.mrn = limits.check_text(row.mrn, "mrn", limits.MRN_CHARS)
    row.name = limits.check_text(row.name, "name", limits.NAME_CHARS)
    limits.check_birth_date(row.birth_date, now)
    _choice(row.sex, SEXES, "sex")
    if row.opioid_status is not None:
        _choice(row.opioid_status, OPIOID_STATUSES, "opioid_status")
    if session.execute(select(Patient.id).where(Patient.mrn == row.mrn)).first():
        raise InputError("mrn", f"{row.mrn!r} belongs to another patient")
    row.created_at = now
    add(session, row, actor, now, "patient.create")
    return row


def _indication(row: Indication, patient: Patient, now: datetime, skew: timedelta) -> None:
    _choice(row.condition, INDICATIONS, "condition")
    row.detail = limits.check_text(row.detail or "", "detail", required=False)
    row.recorded_at = now


def _prior_treatment(row: PriorTreatment, patient: Patient, now: datetime, skew: timedelta) -> None:
    _choice(row.kind, PRIOR_TREATMENT_KINDS, "kind")
    row.medication = limits.check_text(row.medication, "medication", limits.LABEL_CHARS)
    oral = row.kind == "oral medication"
    row.dose = limits.check_text(row.dose or "", "dose", 60, required=oral)
    if row.dose:
        limits.check_stated_dose(row.dose, "dose")
    row.outcome = limits.check_text(row.outcome, "outcome", limits.NAME_CHARS)
    row.recorded_at = now


def _evaluation(row: Evaluation, patient: Patient, now: datetime, skew: timedelta) -> None:
    _choice(row.kind, EVALUATION_KINDS, "kind")
    limits.check_day(row.performed_on, now, "performed_on")
    row.result = limits.check_text(row.result, "result")
    row.recorded_at = now
    _advance(patient, Stage.EVALUATION)


def _trial(row: Trial, patient: Patient, now: datetime, skew: timedelta) -> None:
    limits.check_day(row.performed_on, now, "performed_on")
    try:
        drug = default_library().drug(row.drug)
    except KeyError as exc:
        raise InputError("drug", str(exc.args[0])) from None
    _choice(row.mode, TRIAL_MODES, "mode")
    limits.check_trial_dose(drug, row.mode, row.dose_mcg)
    limits.check_trial_response(
        drug,
        limits.TrialResponse(
            row.pain_before,
            row.pain_after,
            row.ashworth_before,
            row.ashworth_after,
            row.spasms_before,
            row.spasms_after,
        ),
    )
    row.side_effects = limits.check_text(row.side_effects or "", "side_effects", required=False)
    _choice(row.decision, TRIAL_DECISIONS, "decision")
    row.recorded_at = now
    _advance(patient, Stage.NOT_A_CANDIDATE if row.decision == "no implant" else Stage.TRIAL)


def _alarm(row: Alarm, patient: Patient, now: datetime, skew: timedelta) -> None:
    row.kind = limits.check_text(row.kind, "kind", 40)
    row.message = limits.check_text(row.message, "message")
    _choice(row.source, ("pump", "clinic", "predicted"), "source")
    row.raised_at = now


def _appointment(row: Appointment, patient: Patient, now: datetime, skew: timedelta) -> None:
    _choice(row.kind, APPOINTMENT_KINDS, "kind")
    limits.check_booking(row.starts_at, now)
    row.note = limits.check_text(row.note or "", "note", required=False)
    row.booked_at = now


def _adverse_event(row: AdverseEvent, patient: Patient, now: datetime, skew: timedelta) -> None:
    _choice(row.kind, ADVERSE_EVENT_KINDS, "kind")
    limits.check_day(row.occurred_on, now, "occurred_on")
    row.description = limits.check_text(row.description, "description")
    row.action = limits.check_text(row.action or "", "action", required=False)
    row.recorded_at = now


def _implant_checks(row: Implant, patient: Patient, now: datetime, skew: timedelta) -> None:
    _implant(row, patient, now, skew)


# kind (the audit action's prefix, as in VOIDABLE) -> the check that readies its row.
CHECKS: dict[str, Callable[[Any, Patient, datetime, timedelta], None]] = {
    "indication": _indication,
    "prior-treatment": _prior_treatment,
    "evaluation": _evaluation,
    "trial": _trial,
    "implant": _implant_checks,
    "alarm": _alarm,
    "appointment": _appointment,
    "adverse-event": _adverse_event,
}


def add_record(
    session: Session,
    kind: str,
    row: Base,
    actor: str,
    now: datetime,
    skew: timedelta = timedelta(0),
) -> Base:
    """Add one record of the patient's journey (``kind`` as in ``CHECKS``): checked, dated by
    the server's clock (``now``), audited. ``skew``: how far a time a client gives (an implant's)
    may be ahead of ``now``. Raises InputError naming the field; nothing is written then."""
    patient = require_patient(session, row.patient_id)  # type: ignore[attr-defined]
    if hasattr(row, "recorded_by"):
        row.recorded_by = actor
    if hasattr(row, "booked_by"):
        row.booked_by = actor
    CHECKS[kind](row, patient, now, skew)
    if kind == "implant":
        _implant_place(session, row, patient)  # type: ignore[arg-type]
    add(session, row, actor, now, f"{kind}.add")
    return row


def add_evaluation(
    session: Session, patient: Patient, row: Evaluation, actor: str, now: datetime
) -> Evaluation:
    row.patient_id = patient.id
    add_record(session, "evaluation", row, actor, now)
    return row


def add_trial(session: Session, patient: Patient, row: Trial, actor: str, now: datetime) -> Trial:
    row.patient_id = patient.id
    add_record(session, "trial", row, actor, now)
    return row


def _implant(row: Implant, patient: Patient, now: datetime, skew: timedelta) -> None:
    device = default_library().devices.get(row.device_key)
    if device is None:
        raise InputError("device", f"unknown device {row.device_key!r}")
    row.serial = limits.check_text(row.serial, "serial", 40)
    limits.check_catheter_length(row.catheter_length_cm)
    if not re.fullmatch(r"[CTLS]\d{1,2}", row.tip_level or ""):
        raise InputError("tip_level", 'must be a vertebral level, e.g. "T10"')
    _choice(row.setting, IMPLANT_SETTINGS, "setting")
    limits.check_done_at(row.implanted_at, now, skew, "implanted_at")
    row.reservoir_ml = device.reservoir_ml.value
    row.catheter_volume_ml = row.catheter_length_cm * device.catheter_ml_per_cm.value
    row.replace_by = row.implanted_at + timedelta(days=device.service_life_days.value)
    row.recorded_at = now
    _advance(patient, Stage.IMPLANTED)


def _implant_place(session: Session, row: Implant, patient: Patient) -> None:
    """The serial is free, and the new implant replaces the patient's last one (not voided)."""
    if session.execute(select(Implant.id).where(Implant.serial == row.serial)).first():
        raise InputError("serial", f"serial {row.serial!r} is already implanted")
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


def add_implant(
    session: Session, patient: Patient, row: Implant, actor: str, now: datetime
) -> Implant:
    row.patient_id = patient.id
    add_record(session, "implant", row, actor, now)
    return row


# --- alarms: acknowledged and cleared by records, never by an edit that loses history ---------

ALARM_NOTE_CHARS = 500


def _open_alarm(session: Session, patient_id: int, alarm_id: int) -> Alarm:
    alarm = session.get(Alarm, alarm_id)
    if alarm is None or alarm.patient_id != patient_id:
        raise NotFoundError(f"alarm {alarm_id} of patient {patient_id}")
    if alarm.cleared_at is not None:
        raise InputError(
            "alarm", f"was cleared by {alarm.cleared_by} at {alarm.cleared_at:%Y-%m-%d %H:%M} UTC"
        )
    if voided(session, patient_id).get(("alarm", alarm_id)) is not None:
        raise InputError("alarm", "is void: a void alarm is not acknowledged or cleared")
    return alarm


def alarm_events(session: Session, patient_id: int) -> dict[int, list[AlarmEvent]]:
    """The patient's alarm history: alarm id -> its acknowledgements and clearance, in order."""
    rows = session.execute(
        select(AlarmEvent).where(AlarmEvent.patient_id == patient_id).order_by(AlarmEvent.id)
    ).scalars()
    found: dict[int, list[AlarmEvent]] = {}
    for row in rows:
        found.setdefault(row.alarm_id, []).append(row)
    return found


def acknowledge_alarm(
    session: Session, patient_id: int, alarm_id: int, actor: str, now: datetime, note: str = ""
) -> AlarmEvent:
    """Someone has seen the alarm and acts on it; it stays open until cleared."""
    _open_alarm(session, patient_id, alarm_id)
    kept = limits.check_text(note, "note", ALARM_NOTE_CHARS, required=False)
    done = [e for e in alarm_events(session, patient_id).get(alarm_id, []) if e.by == actor]
    if any(e.action == "acknowledged" for e in done):
        raise InputError("alarm", f"was acknowledged by {actor} already")
    event = AlarmEvent(
        alarm_id=alarm_id, patient_id=patient_id, action="acknowledged", note=kept, by=actor, at=now
    )
    session.add(event)
    session.flush()
    detail = {"alarm": alarm_id, "note": kept}
    audit.record(session, now, actor, "alarm.acknowledge", f"patient:{patient_id}", detail)
    return event


def clear_alarm(
    session: Session, patient_id: int, alarm_id: int, actor: str, now: datetime, note: str = ""
) -> Alarm:
    """The alarm's cause is dealt with: an ``alarm_events`` row (who, when, note) is the
    record; the alarm's ``cleared_at``/``cleared_by`` follow it for the worklists."""
    alarm = _open_alarm(session, patient_id, alarm_id)
    kept = limits.check_text(note, "note", ALARM_NOTE_CHARS, required=False)
    session.add(
        AlarmEvent(
            alarm_id=alarm_id, patient_id=patient_id, action="cleared", note=kept, by=actor, at=now
        )
    )
    alarm.cleared_at, alarm.cleared_by = now, actor
    detail = {"alarm": alarm_id, "note": kept}
    audit.record(session, now, actor, "alarm.clear", f"patient:{patient_id}", detail)
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


def voided_ids(kind: str) -> Select[int]:
    """The ids of the voided records of ``kind``, for ``Model.id.not_in(...)``: one small set
    read once, where a query over many rows (the dashboard's counts) would otherwise probe
    :func:`not_voided` row by row."""
    return select(RecordVoid.record_id).where(RecordVoid.kind == kind)


def voided(session: Session, patient_id: int) -> dict[tuple[str, int], RecordVoid]:
    """The patient's voided records: (kind, record id) -> its correction record."""
    rows = session.execute(_voided_query(), {"patient_id": patient_id})
    return {(v.kind, v.record_id): v for v in rows.scalars()}


@cache
def _voided_query() -> Select[RecordVoid]:
    # Built once, as the chart's other reads (json_read.read_apart).
    return select(RecordVoid).where(RecordVoid.patient_id == bindparam("patient_id"))


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


# What a chart reads of a patient, each kind in its order (then by id): the Chart's field, the
# mapped class, the column ordered by.
CHART_KINDS: tuple[tuple[str, type[Any], str], ...] = (
    ("indications", Indication, "id"),
    ("prior_treatments", PriorTreatment, "id"),
    ("evaluations", Evaluation, "performed_on"),
    ("trials", Trial, "performed_on"),
    ("implants", Implant, "implanted_at"),
    ("programs", ProgramVersion, "version"),
    ("applications", ProgramApplication, "id"),
    ("refills", Refill, "performed_at"),
    ("alarms", Alarm, "raised_at"),
    ("appointments", Appointment, "starts_at"),
    ("adverse_events", AdverseEvent, "occurred_on"),
)


def audit_chart_read(session: Session, patient_id: int, actor: str, now: datetime) -> Patient:
    """Record that ``actor`` reads the chart. Committed before the chart is read, the read is on
    record even if showing it fails, and the write lock is held only for this entry."""
    patient = require_patient(session, patient_id)
    audit.record(session, now, actor, "chart.read", f"patient:{patient_id}")
    return patient


def read_chart(session: Session, patient: Patient) -> Chart:
    """Everything about ``patient`` (as ``audit_chart_read`` returned it, so not read twice: a
    session holds the rows it loaded only while something refers to them); reads only."""
    # On PostgreSQL one round trip for all eleven kinds (store/json_read.py): a statement each
    # was a fifth of a chart view's CPU with 20 users.
    rows = json_read.read(session, patient.id, [(model, order) for _, model, order in CHART_KINDS])
    found = {name: kind_rows for (name, _, _), kind_rows in zip(CHART_KINDS, rows, strict=True)}
    return Chart(patient=patient, **found)
