"""The audit chain holds against someone who can write the database but has not the key (issue 10,
item 8): every edit, cut, wind-back or wipe is found, malformed entries are reported, and the
database itself refuses UPDATE and DELETE on the log."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.store import audit, audit_key, records
from intrathecal.store.db import alembic_config, open_database
from intrathecal.store.models import Patient
from intrathecal.units import InputError
from tests.conftest import TEST_AUDIT_KEY
from tests.store.audit_attacker import rehash_unkeyed, tamper
from tests.store.conftest import NOW

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def seeded(database_url: str) -> Iterator[sessionmaker[Session]]:
    """A small clinic: 6 patients, each created and read a few times (60 entries)."""
    engine, sessions = open_database(database_url)
    for i in range(6):
        add_patient(sessions, f"P{i}")
        with sessions.begin() as session:
            for k in range(9):
                at = NOW + timedelta(minutes=10 * i + k)
                audit.record(session, at, "nurse", "chart.read", f"patient:{i + 1}", {"k": k})
    yield sessions
    engine.dispose()


def last_seq(session: Session) -> int:
    return int(session.execute(text("SELECT max(seq) FROM audit_entries")).scalar_one())


def add_patient(sessions: sessionmaker[Session], mrn: str) -> None:
    with sessions.begin() as session:
        row = Patient(mrn=mrn, name="Test", birth_date=date(1970, 1, 1), sex="female")
        row.created_at = NOW
        records.add(session, row, "physician", NOW, "patient.create")


# --- the database refuses ------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET actor = 'mallory' WHERE seq = 3",
        "DELETE FROM audit_entries WHERE seq = 3",
        "DELETE FROM audit_entries",
        "UPDATE audit_head SET seq = seq - 1",
        "UPDATE audit_head SET mac = NULL",
        "DELETE FROM audit_head",
    ],
)
def test_append_only_the_database_refuses_to_rewrite_the_log(
    seeded: sessionmaker[Session], statement: str
) -> None:
    with seeded() as session:
        before = audit.verify(session)
        with pytest.raises(DBAPIError, match=r"append-only|only moves forward"):
            session.execute(text(statement))
        session.rollback()
        assert audit.verify(session) == before and before.ok


def test_append_only_truncate_is_refused_on_postgresql(seeded: sessionmaker[Session]) -> None:
    with seeded() as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("TRUNCATE is PostgreSQL's")
        for table in ("audit_entries", "audit_head"):
            with pytest.raises(DBAPIError, match=r"append-only|only moves forward"):
                session.execute(text(f"TRUNCATE {table} CASCADE"))
            session.rollback()


# --- what the key finds ----------------------------------------------------------------------


def test_keyed_chain_an_edit_with_recomputed_hashes_is_found(
    seeded: sessionmaker[Session],
) -> None:
    # Before the key, editing an entry and recomputing SHA-256 from there on verified intact.
    with seeded.begin() as session:
        tamper(session, "UPDATE audit_entries SET actor = 'mallory' WHERE seq = 7")
        rehash_unkeyed(session, 7)
    with seeded() as session:
        result = audit.verify(session)
        assert not result.ok and result.first_bad_seq == 7
        assert "changed" in result.problem


def test_keyed_chain_a_deleted_entry_is_found(seeded: sessionmaker[Session]) -> None:
    with seeded.begin() as session:
        tamper(session, "DELETE FROM audit_entries WHERE seq = 12")
    with seeded() as session:
        result = audit.verify(session)
        assert not result.ok and result.first_bad_seq == 12
        assert result.problem == "entry 12 is missing (next is 13)"


def test_keyed_chain_a_cut_tail_with_the_head_moved_onto_it_is_found(
    seeded: sessionmaker[Session],
) -> None:
    with seeded.begin() as session:
        last = last_seq(session)
        keep = last - 3
        tamper(
            session,
            f"DELETE FROM audit_entries WHERE seq > {keep}",
            f"UPDATE audit_head SET seq = {keep}, "
            f"hash = (SELECT hash FROM audit_entries WHERE seq = {keep})",
        )
    with seeded() as session:
        result = audit.verify(session)
        assert not result.ok and "seal" in result.problem


def test_keyed_chain_a_cut_tail_alone_is_found(seeded: sessionmaker[Session]) -> None:
    with seeded.begin() as session:
        last = last_seq(session)
        tamper(session, f"DELETE FROM audit_entries WHERE seq = {last}")
    with seeded() as session:
        result = audit.verify(session)
        assert not result.ok and result.first_bad_seq == last
        assert result.problem == f"the log ends at entry {last - 1} but entry {last} was written"


def test_keyed_chain_an_old_head_replayed_over_a_cut_tail_is_found_by_the_records(
    seeded: sessionmaker[Session],
) -> None:
    # The attacker kept a copy of an earlier head (validly sealed) and puts it back after
    # cutting off what came later; the patient created since has no creation entry left.
    with seeded() as session:
        old = session.execute(text("SELECT seq, hash, mac FROM audit_head")).one()
    add_patient(seeded, "LATE-1")
    with seeded.begin() as session:
        tamper(
            session,
            f"DELETE FROM audit_entries WHERE seq > {old.seq}",
            f"UPDATE audit_head SET seq = {old.seq}, hash = '{old.hash}', mac = '{old.mac}'",
        )
    with seeded() as session:
        result = audit.verify(session)
        assert not result.ok
        assert "patients are stored but the log records the creation of" in result.problem


def test_keyed_chain_a_wiped_log_is_broken_when_records_exist(
    seeded: sessionmaker[Session],
) -> None:
    # Before: deleting every entry verified as "intact: 0 entries".
    with seeded.begin() as session:
        tamper(session, "DELETE FROM audit_entries", "DELETE FROM audit_head")
    with seeded() as session:
        result = audit.verify(session)
        assert not result.ok and result.entries == 0
        assert "stored but the log records the creation of 0" in result.problem


def test_keyed_chain_an_empty_clinic_verifies_intact(database_url: str) -> None:
    engine, sessions = open_database(database_url)
    with sessions() as session:
        assert audit.verify(session) == audit.Verification(True, 0, None, "0 entries, chain intact")
    engine.dispose()


def test_keyed_chain_another_key_does_not_verify(seeded: sessionmaker[Session]) -> None:
    with seeded() as session:
        session.info[audit.KEY] = bytes(32)
        result = audit.verify(session)
        assert not result.ok and result.first_bad_seq == 1


def test_keyed_chain_nothing_is_appended_to_a_forged_head(
    seeded: sessionmaker[Session],
) -> None:
    # Appending would seal the forged head with the key, hiding the cut for good.
    with seeded.begin() as session:
        last = last_seq(session)
        tamper(
            session,
            f"DELETE FROM audit_entries WHERE seq = {last}",
            f"UPDATE audit_head SET seq = {last - 1}, "
            f"hash = (SELECT hash FROM audit_entries WHERE seq = {last - 1})",
        )
    with seeded() as session, pytest.raises(audit.AuditBrokenError, match="seal"):
        audit.record(session, NOW, "nurse", "chart.read", "patient:1")


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seq=st.integers(min_value=1, max_value=60),
    column=st.sampled_from(["actor", "action", "target", "detail_json", "at"]),
)
def test_keyed_chain_any_single_edit_is_found_at_its_seq(
    seeded: sessionmaker[Session], seq: int, column: str
) -> None:
    value = "'2020-01-01 00:00:00.000000'" if column == "at" else "'{}'"
    if column == "at" and seeded.kw["bind"].dialect.name == "postgresql":
        value = "TIMESTAMPTZ '2020-01-01 00:00:00+00'"
    with seeded() as session:
        original = session.execute(
            text(f"SELECT {column} FROM audit_entries WHERE seq = {seq}")
        ).scalar_one()
        tamper(session, f"UPDATE audit_entries SET {column} = {value} WHERE seq = {seq}")
        changed = session.execute(
            text(f"SELECT {column} FROM audit_entries WHERE seq = {seq}")
        ).scalar_one()
        result = audit.verify(session)
        session.rollback()  # the DDL and the edit go with it
    if changed != original:
        assert not result.ok and result.first_bad_seq == seq


# --- malformed entries -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assignment", "why"),
    [
        ("detail_json = '{not json'", "detail is not JSON"),
        ("detail_json = '[1, 2]'", "not a JSON object"),
        ("at = 'yesterday'", "not a timestamp"),
        ("at = 12345", "not a timestamp"),
        ("actor = x'00ff'", "not text"),
    ],
)
def test_malformed_entry_is_reported_broken_with_its_seq(
    tmp_path: Path, assignment: str, why: str
) -> None:
    # SQLite keeps whatever it is given; PostgreSQL's column types refuse most of these.
    engine, sessions = open_database(f"sqlite:///{tmp_path / 'clinic.db'}")
    for i in range(5):
        add_patient(sessions, f"M{i}")
    with sessions.begin() as session:
        tamper(session, f"UPDATE audit_entries SET {assignment} WHERE seq = 3")
    with sessions() as session:
        result = audit.verify(session)
    engine.dispose()
    assert not result.ok and result.first_bad_seq == 3
    assert result.problem.startswith("entry 3 is malformed") and why in result.problem


def test_malformed_entry_cli_says_broken_and_exits_1_without_a_traceback(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    engine, sessions = open_database(url)
    add_patient(sessions, "X1")
    add_patient(sessions, "X2")
    with sessions.begin() as session:
        tamper(session, "UPDATE audit_entries SET detail_json = 'oops', at = 'x' WHERE seq = 2")
    engine.dispose()
    done = subprocess.run(
        [sys.executable, "-m", "intrathecal.cli.main", "audit", "verify", "--database", url],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert done.returncode == 1, done.stderr
    assert "BROKEN" in done.stdout and "entry 2 is malformed" in done.stdout
    assert "Traceback" not in done.stderr


# --- the key ---------------------------------------------------------------------------------


def test_key_file_is_made_private_on_first_start_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(audit_key.ENV_KEY)
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    engine, sessions = open_database(url)
    add_patient(sessions, "K1")
    engine.dispose()
    key_file = tmp_path / "audit.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = key_file.read_text()
    engine, sessions = open_database(url)
    with sessions() as session:
        assert audit.verify(session).ok
    engine.dispose()
    assert key_file.read_text() == first  # never replaced


def test_key_file_lost_is_an_error_not_a_new_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(audit_key.ENV_KEY)
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    engine, sessions = open_database(url)
    add_patient(sessions, "K1")
    engine.dispose()
    (tmp_path / "audit.key").unlink()
    with pytest.raises(InputError, match=r"missing.*restore the key") as caught:
        open_database(url)
    assert caught.value.field == audit_key.ENV_FILE
    assert not (tmp_path / "audit.key").exists()


def test_key_file_readable_by_others_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(audit_key.ENV_KEY)
    key_file = tmp_path / "k"
    key_file.write_text("ab" * 32)
    key_file.chmod(0o644)
    monkeypatch.setenv(audit_key.ENV_FILE, str(key_file))
    with pytest.raises(InputError, match="chmod 600"):
        open_database(f"sqlite:///{tmp_path / 'clinic.db'}")


@pytest.mark.parametrize("value", ["abc", "!!" * 40, "ab" * 16])
def test_key_from_the_environment_is_validated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(audit_key.ENV_KEY, value)
    with pytest.raises(InputError) as caught:
        open_database(f"sqlite:///{tmp_path / 'clinic.db'}")
    assert caught.value.field == audit_key.ENV_KEY


# --- an unkeyed chain from before migration 0006 --------------------------------------------


def test_legacy_chain_is_sealed_by_the_migration_and_the_keyed_chain_follows(
    database_url: str,
) -> None:
    # A clinic at revision 0003 with the old unkeyed SHA-256 chain of three entries.
    config = alembic_config(database_url)
    old = create_engine(database_url)
    with old.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
        prev = audit.GENESIS
        for seq in (1, 2, 3):
            at = NOW + timedelta(minutes=seq)
            body = audit.canonical(seq, at, "nurse", "chart.read", f"patient:{seq}", "{}")
            link = audit.chain_hash(prev, body)
            connection.execute(
                text(
                    "INSERT INTO audit_entries (seq, at, actor, action, target, detail_json, "
                    "prev_hash, hash) VALUES (:seq, :at, 'nurse', 'chart.read', :t, '{}', :p, :h)"
                ),
                {
                    "seq": seq,
                    "at": at.replace(tzinfo=None) if old.dialect.name == "sqlite" else at,
                    "t": f"patient:{seq}",
                    "p": prev,
                    "h": link,
                },
            )
            prev = link
        connection.execute(
            text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 3, :h)"), {"h": prev}
        )
    old.dispose()
    engine, sessions = open_database(database_url)  # migrates: seals the old chain
    with sessions.begin() as session:
        assert audit.verify(session).ok
        audit.record(session, NOW + timedelta(hours=1), "nurse", "chart.read", "patient:1")
    with sessions() as session:
        result = audit.verify(session)
        assert result.ok and result.entries == 4 and result.legacy == 3
        assert "3 unkeyed entries from before the key" in result.problem
    # Rewriting the old part and recomputing its SHA-256 no longer passes: the keyed entry 4
    # chains from the sealed last hash.
    with sessions.begin() as session:
        tamper(session, "UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2")
        rehash_unkeyed(session, 2)
    with sessions() as session:
        result = audit.verify(session)
        assert not result.ok and result.first_bad_seq == 4
    engine.dispose()


def test_the_test_suite_uses_a_fixed_key() -> None:
    assert os.environ[audit_key.ENV_KEY] == TEST_AUDIT_KEY


def test_keyed_chain_a_deleted_correction_record_is_found(
    seeded: sessionmaker[Session],
) -> None:
    # Deleting a void would make the refill it voided count again (due dates, reconciliation)
    # with nothing in the log to say so: the log records the void, so verify finds it missing.
    from intrathecal.store import records
    from intrathecal.store.models import Indication, Patient

    with seeded.begin() as session:
        patient = session.execute(select(Patient).limit(1)).scalar_one()
        row = Indication(patient_id=patient.id, condition="cancer pain", detail="", recorded_at=NOW)
        records.add(session, row, "physician", NOW, "indication.add")
        records.void(session, patient, "indication", row.id, "wrong patient", "physician", NOW)
    with seeded() as session:
        assert audit.verify(session).ok
    with seeded.begin() as session:
        tamper(session, "DELETE FROM record_voids")
    with seeded() as session:
        result = audit.verify(session)
        assert not result.ok and "record voids but 0 are stored" in result.problem
