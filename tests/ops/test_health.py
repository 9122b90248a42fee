"""/healthz and /readyz (web/health.py) on SQLite and PostgreSQL: ready with the database
answering, the schema at head and the audit key present; 503 naming what is not."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

from intrathecal.web.app import create_app
from tests.ops.conftest import fresh_url


def test_alive_and_ready(backend: str, tmp_path: Path) -> None:
    app = create_app(fresh_url(backend, tmp_path))
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"ok": True, "status": "alive"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert {k: v["ok"] for k, v in ready.json()["checks"].items()} == {
            "database": True,
            "migrations": True,
            "audit_key": True,
        }
    app.state.engine.dispose()


def test_not_ready_when_the_schema_is_behind(backend: str, tmp_path: Path) -> None:
    app = create_app(fresh_url(backend, tmp_path))
    with app.state.engine.begin() as connection:  # as if the code was upgraded, not the schema
        connection.execute(text("UPDATE alembic_version SET version_num = '0007'"))
    with TestClient(app) as client:
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["checks"]["migrations"]["ok"] is False
        assert "run migrations" in answer.json()["checks"]["migrations"]["message"]
        assert client.get("/healthz").status_code == 200  # alive: do not restart it for this
    app.state.engine.dispose()


def test_not_ready_when_the_database_file_was_replaced_by_an_empty_one(tmp_path: Path) -> None:
    app = create_app(fresh_url("sqlite", tmp_path))
    app.state.engine.dispose()
    (tmp_path / "clinic" / "clinic.db").unlink()
    with TestClient(app) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["migrations"]["message"].startswith("the database has no schema")
    app.state.engine.dispose()


def test_not_ready_when_the_database_does_not_answer(tmp_path: Path) -> None:
    app = create_app(fresh_url("sqlite", tmp_path))
    app.state.engine.dispose()
    from sqlalchemy import create_engine

    app.state.engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with TestClient(app) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["database"] == {
        "ok": False,
        "message": "the database does not answer",
    }
