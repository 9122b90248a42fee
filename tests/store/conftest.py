"""Every store and API test runs on SQLite and on PostgreSQL (Debian's, started once per
session by tests/support/postgres.py; skipped only when its binaries are absent)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.store.db import open_database
from intrathecal.store.seed import seed_demo
from tests.support.postgres import postgres_url

# A Monday morning, the clinic's "now" in every test (the seed is laid out relative to it).
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SEED_PATIENTS = 20


def fresh_url(backend: str, tmp: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'clinic.db'}"
    url = postgres_url()
    if url is None:
        pytest.skip("Debian's PostgreSQL binaries are not installed")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind."""
    return fresh_url(request.param, tmp_path)


@pytest.fixture
def seeded(database_url: str) -> Iterator[sessionmaker[Session]]:
    """A migrated database holding a small demo clinic."""
    engine, sessions = open_database(database_url)
    with sessions.begin() as session:
        seed_demo(session, patients=SEED_PATIENTS, now=NOW)
    yield sessions
    engine.dispose()
