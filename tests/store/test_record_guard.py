"""The clinical records are append-only in the database too (migration 0015), on SQLite and on
PostgreSQL: someone with SQL access (or a bug) who UPDATEs, DELETEs or TRUNCATEs a refill, a
program version, a void, a bolus or any journey record is refused with the table's name, and
nothing changes. The two tables the application does move keep exactly that move: an open alarm
is cleared once, an open pump journal entry moves on; nothing else of them changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.store import audit, boluses, mri, programs, pump_journal, records, refills
from intrathecal.store.db import (
    alembic_config,
    make_engine,
    open_audit_key,
    open_database,
    session_factory,
)
from intrathecal.store.models import Alarm, Indication, PumpJournalEntry
from intrathecal.store.seed import seed_demo
from tests.store.conftest import NOW, SEED_PATIENTS, fresh_url
from tests.store.test_refill_integrity import implanted

# Each guarded table and a rewrite of one of its columns (what a tamperer or a bug would do).
APPEND_ONLY = {
    "indications": "detail = 'rewritten'",
    "prior_treatments": "outcome = 'rewritten'",
    "evaluations": "result = 'rewritten'",
    "trials": "side_effects = 'rewritten'",
    "implants": "tip_level = 'L1'",
    "appointments": "note = 'rewritten'",
    "adverse_events": "description = 'rewritten'",
    "program_versions": "program_toml = 'rewritten'",
    "program_applications": "readback = 'rewritten'",
    "refills": "fill_ml = fill_ml + 1",
    "refill_voids": "reason = 'rewritten'",
    "record_voids": "reason = 'rewritten'",
    "alarm_events": "note = 'rewritten'",
    "clinic_boluses": "volume_ml = volume_ml * 10",
    "mri_scans": "field_t = 7.0",
    "mri_confirmations": "note = 'rewritten'",
    "outcome_responses": "answers_json = '{}'",
}
MOVING = {
    "alarms": "message = 'rewritten'",
    "pump_journal": "payload_json = '{}'",
}
GUARDED = {**APPEND_ONLY, **MOVING}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def clinic(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sessionmaker[Session]]:
    """A demo clinic holding at least one row of every guarded table, made by the app's flows:
    a voided refill and indication, an acknowledged and a cleared alarm beside an open one, a
    clinician bolus, a confirmed MRI scan, one open and one closed pump journal entry."""
    url = fresh_url(request.param, tmp_path_factory.mktemp("guard"))
    engine, sessions = open_database(url)
    with sessions.begin() as session:
        seed_demo(session, patients=SEED_PATIENTS, now=NOW)
        patient = implanted(session)
        last = programs.last_refill(session, patient.id)
        assert last is not None
        refills.void(session, patient, last.id, "entered twice", "nurse", NOW)
        wrong = Indication(patient_id=patient.id, condition="other", detail="x")
        records.add_record(session, "indication", wrong, "physician", NOW)
        records.void(session, patient, "indication", wrong.id, "wrong patient", "physician", NOW)
        alarms = [
            Alarm(patient_id=patient.id, kind="other", message=m, source="clinic")
            for m in ("open", "seen", "cleared")
        ]
        for alarm in alarms:
            records.add_record(session, "alarm", alarm, "nurse", NOW)
        records.acknowledge_alarm(session, patient.id, alarms[1].id, "nurse", NOW, "on it")
        records.clear_alarm(session, patient.id, alarms[2].id, "nurse", NOW, "done")
        version = programs.in_force(session, patient.id)
        assert version is not None
        ask = boluses.BolusRequest("guard-bolus", "clinician", 0.1, 600.0, {}, "pain", (), 1)
        given = {"started_at": NOW, "via": "typed in", "readback": ""}
        boluses.record(session, patient, version, ask, "physician", NOW, **given)
        scan = mri.ScanInput(scan_at=NOW - timedelta(minutes=50), scan_minutes=30, field_t=1.5)
        planned = mri.plan_scan(session, patient, scan, "physician", NOW - timedelta(minutes=55))
        mri.confirm(session, patient.id, planned.id, "delivering", "nurse", NOW)
        patient_id = patient.id
    for closed in (False, True):
        with sessions() as session:
            entry = pump_journal.write_intent(
                session,
                patient_id=patient_id,
                serial="GUARD",
                kind="refill",
                payload={"fill_ml": 20.0},
                since_seq=0,
                who="nurse",
                now=NOW,
            )
            if closed:
                assert pump_journal.move(session, entry.id, pump_journal.NOT_DONE, NOW, "nurse")
                session.commit()
    yield sessions
    engine.dispose()


def rows(session: Session, table: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in session.execute(text(f"SELECT * FROM {table} ORDER BY id"))]


def refused(sessions: sessionmaker[Session], table: str, statement: str) -> None:
    """``statement`` fails naming ``table`` as append-only; nothing of it stays."""
    with sessions() as session:
        with pytest.raises(DBAPIError, match=rf"{table} rows are append-only"):
            session.execute(text(statement))
        session.rollback()


# --- the database refuses ------------------------------------------------------------------


@pytest.mark.parametrize("table", GUARDED)
def test_append_only_the_database_refuses_to_rewrite_or_delete_a_clinical_record(
    clinic: sessionmaker[Session], table: str
) -> None:
    with clinic() as session:
        before = rows(session, table)
        first = before[0][0]
        chain = audit.verify(session)
    assert before and chain.ok
    change = GUARDED[table]
    for statement in (
        f"UPDATE {table} SET {change} WHERE id = {first}",
        f"UPDATE {table} SET {change}",
        f"DELETE FROM {table} WHERE id = {first}",
        f"DELETE FROM {table}",
    ):
        refused(clinic, table, statement)
    with clinic() as session:
        assert rows(session, table) == before
        assert audit.verify(session) == chain


@pytest.mark.parametrize("table", GUARDED)
def test_append_only_truncate_is_refused_on_postgresql(
    clinic: sessionmaker[Session], table: str
) -> None:
    with clinic() as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("TRUNCATE is PostgreSQL's")
        before = rows(session, table)
    refused(clinic, table, f"TRUNCATE {table} CASCADE")
    # Emptying the patients cascades into every record: refused too.
    with clinic() as session, pytest.raises(DBAPIError, match=r"append-only"):
        session.execute(text("TRUNCATE patients CASCADE"))
    with clinic() as session:
        assert rows(session, table) == before


def test_append_only_a_row_of_a_guarded_table_cannot_be_rewritten_by_the_orm_either(
    clinic: sessionmaker[Session],
) -> None:
    # A bug that edits a loaded record instead of adding a correction fails at the flush.
    with clinic() as session:
        patient = implanted(session)
        last = programs.last_refill(session, patient.id)
        assert last is not None
        last.fill_ml += 1
        with pytest.raises(DBAPIError, match=r"refills rows are append-only"):
            session.flush()
        session.rollback()
        session.delete(session.execute(select(Indication).limit(1)).scalar_one())
        with pytest.raises(DBAPIError, match=r"indications rows are append-only"):
            session.flush()


# --- what the application still moves --------------------------------------------------------


def alarm(session: Session, message: str) -> Alarm:
    return session.execute(select(Alarm).where(Alarm.message == message)).scalar_one()


def test_append_only_an_open_alarm_is_cleared_once_and_nothing_else_of_it_changes(
    clinic: sessionmaker[Session],
) -> None:
    with clinic() as session:
        before = rows(session, "alarms")
        open_id, cleared_id = alarm(session, "open").id, alarm(session, "cleared").id
        patient_id = alarm(session, "open").patient_id
    # The clearance, as the clinic and a refill make it, passes (rolled back: the fixture is
    # shared).
    with clinic() as session:
        records.clear_alarm(session, patient_id, open_id, "nurse", NOW + timedelta(hours=1))
        session.flush()
        assert alarm(session, "open").cleared_by == "nurse"
        session.rollback()
    # Anything else is refused: the alarm's own facts, and a clearance changed or undone.
    for statement in (
        f"UPDATE alarms SET kind = 'forged', cleared_at = raised_at WHERE id = {open_id}",
        f"UPDATE alarms SET raised_at = raised_at, message = 'x' WHERE id = {open_id}",
        f"UPDATE alarms SET cleared_at = NULL, cleared_by = NULL WHERE id = {cleared_id}",
        f"UPDATE alarms SET cleared_by = 'mallory' WHERE id = {cleared_id}",
    ):
        refused(clinic, "alarms", statement)
    with clinic() as session:
        assert rows(session, "alarms") == before


def test_append_only_an_open_journal_entry_moves_on_and_a_closed_one_never_moves(
    clinic: sessionmaker[Session],
) -> None:
    with clinic() as session:
        before = rows(session, "pump_journal")
        entries = session.execute(
            select(PumpJournalEntry).where(PumpJournalEntry.serial == "GUARD")
        ).scalars()
        by_status = {e.status: e.id for e in entries}
    open_id, closed_id = by_status[pump_journal.INTENT], by_status[pump_journal.NOT_DONE]
    with clinic() as session:
        assert pump_journal.move(session, open_id, pump_journal.SENT, NOW, "nurse", "sent")
        session.rollback()
    for statement in (
        f"UPDATE pump_journal SET payload_json = '{{}}', status = 'sent' WHERE id = {open_id}",
        f"UPDATE pump_journal SET token = 'forged' WHERE id = {open_id}",
        f"UPDATE pump_journal SET status = 'intent' WHERE id = {closed_id}",
        f"UPDATE pump_journal SET outcome = 'rewritten' WHERE id = {closed_id}",
    ):
        refused(clinic, "pump_journal", statement)
    with clinic() as session:
        assert rows(session, "pump_journal") == before


# --- the migration -------------------------------------------------------------------------


def guard_triggers(session: Session) -> set[str]:
    if session.get_bind().dialect.name == "postgresql":
        query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    names = set(session.execute(text(query)).scalars())
    return {n for n in names if not n.startswith(("audit_", "patients_fts"))}


def test_append_only_migration_0015_guards_a_clinic_with_records_and_goes_down_and_up(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    config = alembic_config(database_url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0014")
        sessions = session_factory(engine, open_audit_key(engine, database_url))
        with sessions.begin() as session:
            seed_demo(session, patients=6, now=NOW)
            assert not guard_triggers(session)
            counts = {t: len(rows(session, t)) for t in GUARDED}
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        with sessions() as session:
            assert {t: len(rows(session, t)) for t in GUARDED} == counts
            assert len(guard_triggers(session)) >= 2 * len(GUARDED)
            assert audit.verify(session).ok
        refused(sessions, "refills", "UPDATE refills SET fill_ml = 0")
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0014")
        with sessions() as session:
            assert not guard_triggers(session)
            session.execute(text("UPDATE refills SET notes = 'unguarded'"))  # allowed again
            session.execute(text("DELETE FROM alarm_events"))
            session.rollback()
            assert {t: len(rows(session, t)) for t in GUARDED} == counts
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        refused(sessions, "refills", "UPDATE refills SET fill_ml = 0")
    finally:
        engine.dispose()
