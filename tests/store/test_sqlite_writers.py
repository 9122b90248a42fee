"""SQLite writers queue on the database file's writer lock (store/sqlite_writers.py): held from
BEGIN IMMEDIATE to the end of the transaction however it ends, never by a read-only
transaction, and never across a sign-in's password check."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.store import sqlite_writers, users
from intrathecal.store.db import begin_read_only, open_database
from intrathecal.store.seed import ensure_users

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[tuple[Engine, sessionmaker[Session], Path]]:
    path = tmp_path / "clinic.db"
    engine, sessions = open_database(f"sqlite:///{path}")
    yield engine, sessions, Path(f"{path}-writer.lock")
    engine.dispose()


def lock_is_free(lock_file: Path) -> bool:
    """Whether another process could take the writer lock now (a second open file: flock
    locks belong to the open file, so this one competes like another process would)."""
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing the file also lets go of a lock it took
    return True


def test_write_transaction_holds_the_writer_lock_until_commit(clinic):
    _, sessions, lock_file = clinic
    session = sessions()
    session.execute(text("SELECT 1"))  # a session that may write begins with BEGIN IMMEDIATE
    assert not lock_is_free(lock_file)
    session.commit()
    assert lock_is_free(lock_file)
    session.close()


def test_writer_lock_released_on_rollback_and_on_close(clinic):
    _, sessions, lock_file = clinic
    session = sessions()
    session.execute(text("SELECT 1"))
    session.rollback()
    assert lock_is_free(lock_file)
    session.execute(text("SELECT 1"))
    assert not lock_is_free(lock_file)
    session.close()  # the pool resets the connection with a rollback
    assert lock_is_free(lock_file)


def test_read_only_transaction_takes_no_writer_lock(clinic):
    _, sessions, lock_file = clinic
    with sessions() as session:
        begin_read_only(session)
        session.execute(text("SELECT count(*) FROM patients"))
        assert lock_is_free(lock_file)


def test_a_second_writer_waits_and_then_fails_naming_the_lock(clinic, monkeypatch):
    _, sessions, _ = clinic
    monkeypatch.setattr(sqlite_writers, "WAIT_S", 0.05)
    other = os.open(clinic[2], os.O_RDWR | os.O_CREAT, 0o600)  # another process's writer
    fcntl.flock(other, fcntl.LOCK_EX)
    try:
        with pytest.raises(Exception, match="database is locked"), sessions() as session:
            session.execute(text("SELECT 1"))
    finally:
        os.close(other)
    with sessions.begin() as session:  # the lock it never took is not left held
        session.execute(text("SELECT 1"))


def test_sign_in_password_check_holds_no_write_lock(clinic, monkeypatch):
    """The API's sign-in checks the password (argon2) in a read-only session first: no
    sign-in holds up the clinic's writes."""
    from fastapi.testclient import TestClient

    from intrathecal.web.app import create_app

    _, sessions, lock_file = clinic
    with sessions.begin() as session:
        ensure_users(session, NOW)
    seen: list[bool] = []
    checked = users.password_matches

    def check(stored: str, given: str) -> bool:
        seen.append(lock_is_free(lock_file))
        return checked(stored, given)

    monkeypatch.setattr(users, "password_matches", check)
    url = str(sessions.kw["bind"].url)
    with TestClient(create_app(url, clock=lambda: NOW)) as client:
        body = {"username": "nurse", "password": "quiet-meadow-compass-27"}
        assert client.post("/api/v1/auth/sign-in", json=body).status_code == 200
        body["password"] = "wrong-guess-0000-0000"
        assert client.post("/api/v1/auth/sign-in", json=body).status_code == 401
    assert seen == [True, True]


def test_a_request_that_writes_queues_for_the_writer_lock_once(clinic, monkeypatch):
    """The signed-in user is looked up in a transaction that only reads: a request that writes
    takes the lock for its own transaction alone (before, a first time just for the lookup,
    queueing twice behind every other writer)."""
    from fastapi.testclient import TestClient

    from intrathecal.web.app import create_app

    _, sessions, _ = clinic
    with sessions.begin() as session:
        ensure_users(session, NOW)
    writes: list[str] = []
    begin_write = sqlite_writers.LockingConnection.begin_write

    def counted(self):  # type: ignore[no-untyped-def]
        writes.append("write")
        begin_write(self)

    url = str(sessions.kw["bind"].url)
    with TestClient(create_app(url, clock=lambda: NOW)) as client:
        body = {"username": "physician", "password": "amber-harbor-lantern-51"}
        token = client.post("/api/v1/auth/sign-in", json=body).json()["token"]
        monkeypatch.setattr(sqlite_writers.LockingConnection, "begin_write", counted)
        created = client.post(
            "/api/v1/patients",
            json={
                "mrn": "MRN-LOCK-1",
                "name": "Ada Writer",
                "birth_date": "1960-01-01",
                "sex": "female",
            },
            headers={"Authorization": f"Bearer {token}"},
        )
    assert created.status_code == 201, created.text
    assert writes == ["write"]
