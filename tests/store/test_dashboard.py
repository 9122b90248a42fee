"""The dashboard's worklists on a small clinic laid out by hand around NOW (Monday 09:00 UTC),
and the read-only sessions the dashboard runs in."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.store import dashboard
from intrathecal.store.db import begin_read_only, open_database
from intrathecal.store.models import Alarm, Implant, Patient, Stage
from tests.store.conftest import NOW

DAY = timedelta(days=1)


def patient(session: Session, mrn: str, stage: Stage, due: datetime | None = None) -> Patient:
    row = Patient(
        mrn=mrn,
        name=f"Patient {mrn}",
        birth_date=date(1960, 1, 1),
        sex="female",
        created_at=NOW - 400 * DAY,
        stage=stage.value,
        next_refill_due_at=due,
        low_alarm_at=due + 2 * DAY if due else None,  # the alarm 2 days after the due date
    )
    session.add(row)
    session.flush()
    return row


def implant(
    session: Session,
    owner: Patient,
    serial: str,
    replace_by: datetime,
    replaces: Implant | None = None,
) -> Implant:
    row = Implant(
        patient_id=owner.id,
        device_key="synchromed-ii-20",
        serial=serial,
        reservoir_ml=20.0,
        catheter_length_cm=70.0,
        catheter_volume_ml=0.2,
        tip_level="T10",
        setting="outpatient",
        implanted_at=replace_by - 2000 * DAY,
        replace_by=replace_by,
        recorded_by="physician",
        recorded_at=NOW,
        replaces_implant_id=replaces.id if replaces else None,
    )
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def clinic(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Implanted A due in 2 days, B due in 6 days, C overdue by 1 day, D due in 9 days; E in
    evaluation with a stale due date (not implanted: never on a worklist). A's first pump was
    replaced (its end of service, in 10 days, no longer matters); A's current pump and B's reach
    theirs in 100 and 400 days. One open alarm (C) and one cleared (B)."""
    engine, sessions = open_database(database_url)
    with sessions.begin() as session:
        a = patient(session, "A", Stage.IMPLANTED, NOW + 2 * DAY)
        b = patient(session, "B", Stage.IMPLANTED, NOW + 6 * DAY)
        c = patient(session, "C", Stage.IMPLANTED, NOW - 1 * DAY)
        patient(session, "D", Stage.IMPLANTED, NOW + 9 * DAY)
        patient(session, "E", Stage.EVALUATION, NOW - 30 * DAY)
        first = implant(session, a, "A-1", NOW + 10 * DAY)
        implant(session, a, "A-2", NOW + 100 * DAY, replaces=first)
        implant(session, b, "B-1", NOW + 400 * DAY)
        for owner, cleared in ((c, None), (b, NOW)):
            session.add(
                Alarm(
                    patient_id=owner.id,
                    kind="low reservoir",
                    message="beep",
                    source="pump",
                    raised_at=NOW - DAY,
                    cleared_at=cleared,
                )
            )
    yield sessions
    engine.dispose()


def mrns(rows: list[dashboard.PatientRow]) -> list[str]:
    return [row.mrn for row in rows]


def test_worklists_hold_implanted_patients_by_date_most_urgent_first(
    clinic: sessionmaker[Session],
) -> None:
    with clinic() as session:
        board = dashboard.build(session, NOW)
    # Due this week: [NOW, NOW + 7 days): A (+2) then B (+6); D (+9) is next week.
    assert mrns(board.due_this_week) == ["A", "B"]
    assert mrns(board.overdue) == ["C"]  # E is overdue too, but not implanted
    # Predicted low-reservoir alarm before NOW + 7 days: C (+1), A (+4); B's comes at +8.
    assert mrns(board.predicted_low_alarms) == ["C", "A"]
    assert [(a.kind, p.mrn) for a, p in board.open_alarms] == [("low reservoir", "C")]
    # Within 180 days of end of service: only A's current pump (A-1 was replaced).
    assert [(i.serial, p.mrn) for i, p in board.replacements] == [("A-2", "A")]
    assert board.counts == {
        "due_this_week": 2,
        "overdue": 1,
        "predicted_low_alarms": 2,
        "open_alarms": 1,
        "replacements": 1,
    }


def test_a_shorter_list_keeps_the_full_counts(clinic: sessionmaker[Session]) -> None:
    with clinic() as session:
        board = dashboard.build(session, NOW, limit=1)
    assert mrns(board.due_this_week) == ["A"]
    assert mrns(board.predicted_low_alarms) == ["C"]
    assert board.counts["due_this_week"] == 2
    assert board.counts["predicted_low_alarms"] == 2


def test_calendar_lists_implanted_patients_due_in_the_window(
    clinic: sessionmaker[Session],
) -> None:
    with clinic() as session:
        due = dashboard.calendar(session, NOW - 2 * DAY, NOW + 7 * DAY)
    assert mrns(due) == ["C", "A", "B"]


def test_a_read_only_session_refuses_to_write(clinic: sessionmaker[Session]) -> None:
    with clinic() as session:
        begin_read_only(session)
        assert session.execute(select(Patient.mrn).where(Patient.mrn == "A")).scalar() == "A"
        session.add(Alarm(patient_id=1, kind="x", message="x", source="clinic", raised_at=NOW))
        with pytest.raises(RuntimeError, match="read-only"):
            session.flush()


def test_on_sqlite_a_reader_does_not_hold_the_write_lock(tmp_path: Path) -> None:
    # A read-only session in the middle of its transaction (snapshot taken) must not keep a
    # writer waiting: before, every transaction began with BEGIN IMMEDIATE and held the lock.
    path = tmp_path / "clinic.db"
    engine, sessions = open_database(f"sqlite:///{path}")
    try:
        with sessions() as reader:
            begin_read_only(reader)
            assert reader.execute(select(Patient.id)).all() == []
            writer = sqlite3.connect(path, timeout=0.2, isolation_level=None)
            writer.execute("BEGIN IMMEDIATE")  # "database is locked" if the reader holds it
            writer.execute("UPDATE audit_head SET seq = seq")
            writer.execute("COMMIT")
            writer.close()
    finally:
        engine.dispose()
