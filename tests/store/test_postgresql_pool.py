"""The PostgreSQL pool hands out no connection the server has closed (store/db.py, its
pool_pre_ping): a restart or an administrator ends the clinic's sessions, and the next page works
on a new connection instead of failing. Measured side by side, the check costs no page anything
that shows (an empty statement per checkout; 20 users on the dashboard, three pairs of runs)."""

from __future__ import annotations

from pathlib import Path

import psycopg
from sqlalchemy import func, make_url, select, text

from intrathecal.store.db import open_database
from intrathecal.store.models import Patient
from tests.store.conftest import fresh_url


def _backend(sessions) -> int:
    with sessions() as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _end_every_session_of(url: str) -> int:
    """What a restart does to the clinic's connections: each is ended by the server (FATAL,
    then the socket closes), and waited for (up to 5 s)."""
    parts = make_url(url)
    with psycopg.connect(
        host=parts.host,
        port=parts.port,
        user=parts.username,
        dbname=parts.database,
        autocommit=True,
    ) as admin:
        ended = admin.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert ended is not None
    return int(ended[0])


def test_a_pooled_connection_the_server_closed_is_replaced_before_use(tmp_path: Path):
    engine, sessions = open_database(fresh_url("postgresql", tmp_path))
    try:
        first = _backend(sessions)
        assert engine.pool.checkedin() >= 1  # the connection waits in the pool
        assert _end_every_session_of(engine.url.render_as_string(hide_password=False)) >= 1
        # The next session gets a live connection: no "server closed the connection" error.
        with sessions() as session:
            assert session.execute(select(func.count()).select_from(Patient)).scalar_one() == 0
        assert _backend(sessions) != first
    finally:
        engine.dispose()
