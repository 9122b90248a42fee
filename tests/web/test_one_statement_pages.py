"""On PostgreSQL the chart and the dashboard read in one statement (store/json_read.py). What a
clinician reads must not depend on it: every demo patient's chart page and API chart, and the
dashboard page and API answer, are the same byte for byte as when each kind and each list is
read by a statement of its own (the SQLite way, forced here on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from intrathecal.store import json_read
from intrathecal.store.models import Patient
from intrathecal.store.seed import seed_demo
from intrathecal.web.app import create_app
from tests.store.conftest import NOW, fresh_url
from tests.web.conftest import PASSWORDS


@pytest.fixture(scope="module")
def postgresql_clinic(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, dict[str, str], list[int]]]:
    app = create_app(
        fresh_url("postgresql", Path(tmp_path_factory.mktemp("pg"))), clock=lambda: NOW
    )
    with app.state.sessions.begin() as session:
        seed_demo(session, patients=20, now=NOW)
    with app.state.sessions() as session:
        patients = list(session.execute(select(Patient.id).order_by(Patient.id)).scalars())
    client = TestClient(app)
    answer = client.post(
        "/api/v1/auth/sign-in", json={"username": "physician", "password": PASSWORDS["physician"]}
    )
    headers = {"Authorization": f"Bearer {answer.json()['token']}"}
    yield client, headers, patients
    app.state.engine.dispose()


def _each_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the statement-each reads (as on SQLite) on PostgreSQL."""
    monkeypatch.setattr(json_read, "read", json_read.read_apart)
    monkeypatch.setattr(json_read, "listings", json_read.listings_apart)


def _pages(client: TestClient, headers: dict[str, str], patients: list[int]) -> list[str]:
    paths = ["/", "/api/v1/dashboard"]
    paths += [f"/patients/{p}" for p in patients] + [f"/api/v1/patients/{p}" for p in patients]
    pages = []
    for path in paths:
        answer = client.get(path, headers=headers)
        assert answer.status_code == 200, (path, answer.text[:300])
        pages.append(answer.text)
    return pages


def test_chart_and_dashboard_read_in_one_statement_show_what_each_read_apart_shows(
    postgresql_clinic, monkeypatch
):
    client, headers, patients = postgresql_clinic
    one_statement = _pages(client, headers, patients)
    with monkeypatch.context() as patched:
        _each_apart(patched)
        apart = _pages(client, headers, patients)
    assert one_statement == apart
    # The pages compared hold what the reads found (not an empty clinic's pages).
    assert sum("refill" in page for page in one_statement) > len(patients)
