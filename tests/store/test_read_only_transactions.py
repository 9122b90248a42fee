"""A transaction begun read-only (store/db.begin_read_only, reading) is refused every write by
the database itself, and ends with COMMIT: on PostgreSQL psycopg forgets its prepared statements
on each ROLLBACK, so a read that rolled back had every query parsed and planned anew."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, event, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.store.db import begin_read_only, open_database, reading
from intrathecal.store.models import Patient
from tests.store.conftest import fresh_url

REFUSED = r"(?i)read-only|readonly"  # PostgreSQL: "read-only transaction"; SQLite: "readonly"


@pytest.fixture
def clinic(seeded: sessionmaker[Session]) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    engine = seeded.kw["bind"]
    yield engine, seeded


def test_read_only_transaction_refuses_a_core_write(clinic):
    """The ORM's flush guard cannot see a Core statement; the database refuses it."""
    _, sessions = clinic
    with sessions() as session:
        before = session.execute(select(Patient.name).where(Patient.id == 1)).scalar_one()
    with pytest.raises(DBAPIError, match=REFUSED), reading(sessions) as session:
        session.execute(update(Patient).where(Patient.id == 1).values(name="Changed Name"))
    with pytest.raises(DBAPIError, match=REFUSED), reading(sessions) as session:
        session.execute(
            insert(Patient).values(
                mrn="RO-1",
                name="Never Stored",
                birth_date=date(1970, 1, 1),
                sex="F",
                created_at=datetime(2026, 3, 2, tzinfo=UTC),
            )
        )
    with sessions() as session:
        assert session.execute(select(Patient.name).where(Patient.id == 1)).scalar_one() == before
        assert session.execute(select(Patient.id).where(Patient.mrn == "RO-1")).first() is None


def test_write_transaction_after_a_read_only_one_on_the_same_connection_writes(clinic):
    """The read-only mark belongs to one transaction, not to the pooled connection."""
    engine, sessions = clinic
    with reading(sessions) as session:
        session.execute(select(Patient.id)).first()
    with sessions.begin() as session:
        session.execute(update(Patient).where(Patient.id == 1).values(name="Renamed Once"))
    with sessions() as session:
        assert session.get(Patient, 1).name == "Renamed Once"
    assert engine.pool.checkedin() >= 1


def test_read_only_transaction_ends_with_commit_not_rollback(clinic):
    engine, sessions = clinic
    ended: list[str] = []
    event.listen(engine, "commit", lambda _c: ended.append("commit"))
    event.listen(engine, "rollback", lambda _c: ended.append("rollback"))
    with reading(sessions) as session:
        session.execute(select(Patient.id)).first()
    assert ended == ["commit"]
    ended.clear()
    with pytest.raises(ZeroDivisionError), reading(sessions) as session:
        session.execute(select(Patient.id)).first()
        _ = 1 / 0  # a failed read still rolls back
    assert ended == ["rollback"]


def test_postgresql_keeps_prepared_statements_across_read_only_transactions(tmp_path):
    """psycopg prepares a query on its sixth run on a connection, unless a ROLLBACK came
    between: ten reads of one patient, one at a time, leave that query prepared."""
    engine, sessions = open_database(fresh_url("postgresql", tmp_path))
    engine.dispose()  # a new pool: read one at a time, every read is served by one connection
    try:
        query = select(Patient.id).where(Patient.id == 1)
        for _ in range(10):
            with reading(sessions) as session:
                session.execute(query).all()
        assert engine.pool.checkedin() == 1  # one connection served every read
        with sessions() as session:
            begin_read_only(session)
            prepared = session.execute(
                text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE :q"),
                {"q": "%FROM patients%"},
            ).scalar_one()
        assert prepared >= 1
    finally:
        engine.dispose()
