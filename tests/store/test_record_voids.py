"""Issue 10 item 6 for every clinical record, in the store, on SQLite and PostgreSQL: a wrong
indication, prior treatment, evaluation, trial, implant, alarm, appointment or adverse event is
voided by a correction record (who, when, why), never edited or deleted, and what follows the
records (the current implant, the replacement list, the open alarms, the scheduled refill, the
change profile) skips it."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.store import audit, dashboard, programs, records
from intrathecal.store.errors import ConflictError, NotFoundError
from intrathecal.store.models import (
    AdverseEvent,
    Alarm,
    Appointment,
    AuditEntry,
    Base,
    Evaluation,
    Implant,
    Indication,
    Patient,
    PriorTreatment,
    RecordVoid,
    Trial,
)
from intrathecal.units import InputError
from tests.store.conftest import NOW
from tests.store.test_refill_integrity import implanted

LATER = NOW + timedelta(hours=1)


def one_of_each(session: Session, patient: Patient) -> dict[str, Base]:
    """A fresh record of every voidable kind for ``patient`` (flushed, ids assigned)."""
    rows: dict[str, Base] = {
        "indication": Indication(patient_id=patient.id, condition="other", recorded_at=NOW),
        "prior-treatment": PriorTreatment(
            patient_id=patient.id, medication="x", dose="1 mg", outcome="y", recorded_at=NOW
        ),
        "evaluation": Evaluation(
            patient_id=patient.id,
            kind="MRI",
            performed_on=date(2026, 1, 5),
            result="ok",
            recorded_by="physician",
            recorded_at=NOW,
        ),
        "trial": Trial(
            patient_id=patient.id,
            performed_on=date(2026, 1, 6),
            drug="morphine",
            dose_mcg=250.0,
            mode="single bolus",
            pain_before=8,
            pain_after=3,
            decision="implant",
            recorded_by="physician",
            recorded_at=NOW,
        ),
        "alarm": Alarm(
            patient_id=patient.id, kind="other", message="m", source="clinic", raised_at=NOW
        ),
        "appointment": Appointment(
            patient_id=patient.id, kind="follow-up", starts_at=NOW, booked_by="nurse"
        ),
        "adverse-event": AdverseEvent(
            patient_id=patient.id,
            kind="other",
            occurred_on=date(2026, 1, 7),
            serious=False,
            description="d",
            recorded_by="nurse",
            recorded_at=NOW,
        ),
    }
    for row in rows.values():
        session.add(row)
    session.flush()
    return rows


def test_every_kind_is_voided_once_by_a_correction_record_and_nothing_is_deleted(
    seeded: sessionmaker[Session],
) -> None:
    with seeded.begin() as session:
        patient = implanted(session)
        made = one_of_each(session, patient)
        made["implant"] = programs.current_implant(session, patient.id)  # type: ignore[assignment]
        ids = {kind: row.id for kind, row in made.items()}  # type: ignore[attr-defined]
        pid = patient.id
        assert set(ids) == set(records.VOIDABLE)
    with seeded.begin() as session:
        patient = session.get(Patient, pid)
        assert patient is not None
        for kind, record_id in ids.items():
            row = records.void(session, patient, kind, record_id, f" wrong {kind} ", "nurse", LATER)
            assert (row.kind, row.record_id, row.reason) == (kind, record_id, f"wrong {kind}")
            assert (row.voided_by, row.voided_at, row.patient_id) == ("nurse", LATER, pid)
    with seeded() as session:
        patient = session.get(Patient, pid)
        assert patient is not None
        found = records.voided(session, pid)
        assert set(found) == set(ids.items())
        for kind, record_id in ids.items():
            assert session.get(records.VOIDABLE[kind], record_id) is not None  # nothing deleted
            with pytest.raises(ConflictError) as twice:
                records.void(session, patient, kind, record_id, "again", "physician", LATER)
            assert "was voided by nurse" in twice.value.message
            session.rollback()
        entries = session.execute(
            select(AuditEntry).where(AuditEntry.action.like("%.void"))
        ).scalars()
        done = {(e.action, json.loads(e.detail_json)["id"], e.actor, e.at) for e in entries}
        assert done == {(f"{k}.void", i, "nurse", LATER) for k, i in ids.items()}
        assert audit.verify(session).ok  # the chain is intact after the voids


def test_a_void_needs_a_reason_and_the_patients_own_record(
    seeded: sessionmaker[Session],
) -> None:
    with seeded() as session:
        patient = implanted(session)
        other = (
            session.execute(select(Patient).where(Patient.id != patient.id).order_by(Patient.id))
            .scalars()
            .first()
        )
        assert other is not None
        theirs = one_of_each(session, other)
        session.commit()
        for kind, row in theirs.items():
            with pytest.raises(NotFoundError):
                records.void(session, patient, kind, row.id, "why", "nurse", LATER)  # type: ignore[attr-defined]
            session.rollback()
        with pytest.raises(NotFoundError):
            records.void(session, patient, "refill", 1, "why", "nurse", LATER)  # own correction
        session.rollback()
        with pytest.raises(NotFoundError):
            records.void(session, patient, "indication", 10**8, "why", "nurse", LATER)
        session.rollback()
        mine = one_of_each(session, patient)["indication"].id  # type: ignore[attr-defined]
        for reason in ("", "   ", "x" * 501):
            with pytest.raises(InputError) as caught:
                records.void(session, patient, "indication", mine, reason, "nurse", LATER)
            assert caught.value.field == "reason"
        session.rollback()
        assert session.execute(select(func.count()).select_from(RecordVoid)).scalar_one() == 0


def test_a_voided_implant_is_not_the_current_one_and_leaves_the_replacement_list(
    seeded: sessionmaker[Session],
) -> None:
    with seeded.begin() as session:
        patient = implanted(session)
        old = programs.current_implant(session, patient.id)
        assert old is not None
        # A second implant typed into this chart by mistake, due for replacement soon.
        wrong = Implant(
            patient_id=patient.id,
            device_key=old.device_key,
            serial="WRONG-CHART-1",
            catheter_length_cm=50.0,
            tip_level="T9",
            setting="inpatient",
            implanted_at=NOW - timedelta(days=3000),
            recorded_by="physician",
            recorded_at=NOW,
        )
        records.add_implant(session, patient, wrong, "physician", NOW)
        assert wrong.replaces_implant_id == old.id
        assert programs.current_implant(session, patient.id) is wrong
        board = dashboard.build(session, NOW, replace_within_days=10**5, limit=10**4)
        listed = {i.id for i, _ in board.replacements}
        assert wrong.id in listed and old.id not in listed  # the old one was replaced
        count = board.counts["replacements"]
        pid, old_id, wrong_id = patient.id, old.id, wrong.id
    with seeded.begin() as session:
        patient = session.get(Patient, pid)
        assert patient is not None
        records.void(session, patient, "implant", wrong_id, "wrong patient", "physician", LATER)
    with seeded() as session:
        current = programs.current_implant(session, pid)
        assert current is not None and current.id == old_id  # the real device again
        board = dashboard.build(session, NOW, replace_within_days=10**5, limit=10**4)
        listed = {i.id for i, _ in board.replacements}
        assert wrong_id not in listed and old_id in listed
        assert board.counts["replacements"] == count  # one out, the real one back in
        # The next implant replaces the real device, not the voided one.
        patient = session.get(Patient, pid)
        assert patient is not None
        again = Implant(
            patient_id=pid,
            device_key=current.device_key,
            serial="NEW-2",
            catheter_length_cm=50.0,
            tip_level="T9",
            setting="inpatient",
            implanted_at=NOW,
            recorded_by="physician",
            recorded_at=LATER,
        )
        records.add_implant(session, patient, again, "physician", LATER)
        assert again.replaces_implant_id == old_id
        session.rollback()


def test_a_voided_alarm_leaves_the_open_alarms_and_cannot_be_cleared(
    seeded: sessionmaker[Session],
) -> None:
    with seeded.begin() as session:
        patient = implanted(session)
        alarm = Alarm(
            patient_id=patient.id,
            kind="other",
            message="typed for the wrong patient",
            source="clinic",
            raised_at=NOW,
        )
        records.add(session, alarm, "nurse", NOW, "alarm.add")
        board = dashboard.build(session, NOW, limit=10**4)
        assert alarm.id in {a.id for a, _ in board.open_alarms}
        pid, alarm_id, open_count = patient.id, alarm.id, board.counts["open_alarms"]
    with seeded.begin() as session:
        patient = session.get(Patient, pid)
        assert patient is not None
        records.void(session, patient, "alarm", alarm_id, "wrong patient", "nurse", LATER)
    with seeded() as session:
        board = dashboard.build(session, NOW, limit=10**4)
        assert alarm_id not in {a.id for a, _ in board.open_alarms}
        assert board.counts["open_alarms"] == open_count - 1
        alarm = session.get(Alarm, alarm_id)
        assert alarm is not None and alarm.cleared_at is None  # a void is not a clearance
        with pytest.raises(InputError):
            records.clear_alarm(session, pid, alarm_id, "nurse", LATER)


def test_a_voided_refill_appointment_no_longer_schedules_the_refill_the_review_counts_on(
    seeded: sessionmaker[Session],
) -> None:
    with seeded.begin() as session:
        patient = implanted(session)
        last = programs.last_refill(session, patient.id)
        assert last is not None
        at = max(NOW, last.performed_at) + timedelta(hours=2)
        assert at < last.next_due_at
        booked = Appointment(
            patient_id=patient.id, kind="refill", starts_at=at, booked_by="nurse", booked_at=NOW
        )
        records.add(session, booked, "nurse", NOW, "appointment.add")
        scheduled, source = programs.scheduled_refill(session, patient.id, last, NOW)
        assert (scheduled, source) == (at, f"refill appointment {booked.id}")
        pid, booked_id = patient.id, booked.id
        # Any other booked refill before the due date (the seed's) is voided too, so the due
        # date is what remains.
        others = session.execute(
            select(Appointment.id).where(
                Appointment.patient_id == pid,
                Appointment.kind == "refill",
                Appointment.id != booked_id,
            )
        ).scalars()
        for other in list(others):
            records.void(session, patient, "appointment", other, "cancelled", "nurse", NOW)
    with seeded.begin() as session:
        patient = session.get(Patient, pid)
        assert patient is not None
        records.void(session, patient, "appointment", booked_id, "booked twice", "nurse", LATER)
    with seeded() as session:
        last = programs.last_refill(session, pid)
        assert last is not None
        scheduled, source = programs.scheduled_refill(session, pid, last, NOW)
        assert (scheduled, source) == (last.next_due_at, f"due date of refill {last.id}")
        assert session.get(Appointment, booked_id) is not None


def test_a_voided_indication_no_longer_sets_the_change_profile(
    seeded: sessionmaker[Session],
) -> None:
    with seeded.begin() as session:
        patient = implanted(session)
        pid = patient.id
        for row in session.execute(
            select(Indication).where(Indication.patient_id == pid)
        ).scalars():
            records.void(session, patient, "indication", row.id, "reset", "physician", NOW)
        wrong = Indication(
            patient_id=pid, condition="spasticity after spinal cord injury", recorded_at=NOW
        )
        records.add(session, wrong, "physician", NOW, "indication.add")
        assert programs.recorded_change_profile(session, pid)[0] == "spinal"
        wrong_id = wrong.id
    with seeded.begin() as session:
        patient = session.get(Patient, pid)
        assert patient is not None
        records.void(session, patient, "indication", wrong_id, "wrong patient", "physician", LATER)
    with seeded() as session:
        assert programs.recorded_change_profile(session, pid)[0] is None
