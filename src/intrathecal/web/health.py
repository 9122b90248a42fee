"""Health and readiness for a supervisor (systemd, a load balancer, a container platform).

- ``GET /healthz``: the process answers (liveness). Checks nothing else, so a database outage
  does not get a healthy worker restarted.
- ``GET /readyz``: ready to serve clinical work: the database answers, its schema is at this
  version's head revision (an upgrade's migrations have run), and the audit key is present
  (without it no change can be recorded). 200 with every check, or 503 naming each one that
  failed. Neither needs a sign-in, and neither shows data, versions or paths.
"""

from __future__ import annotations

import functools

from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from intrathecal.store import audit
from intrathecal.store.db import alembic_config

router = APIRouter(tags=["health"], include_in_schema=False)


@functools.cache
def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


@router.get("/healthz")
def healthz() -> dict[str, object]:
    return {"ok": True, "status": "alive"}


def _database(engine: Engine) -> tuple[bool, str, bool, str]:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            try:
                row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
            except SQLAlchemyError:
                return True, "answers", False, "the database has no schema: run migrations"
    except SQLAlchemyError:
        return False, "the database does not answer", False, "not checked"
    current = str(row[0]) if row else None
    if current != _head():
        return True, "answers", False, "the schema is not at this version's head: run migrations"
    return True, "answers", True, "at head"


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    engine: Engine = request.app.state.engine
    db_ok, db_note, schema_ok, schema_note = _database(engine)
    key = (request.app.state.sessions.kw.get("info") or {}).get(audit.KEY)
    key_ok = isinstance(key, bytes) and len(key) >= 32
    checks = {
        "database": {"ok": db_ok, "message": db_note},
        "migrations": {"ok": schema_ok, "message": schema_note},
        "audit_key": {"ok": key_ok, "message": "present" if key_ok else "missing"},
    }
    ready = db_ok and schema_ok and key_ok
    return JSONResponse(
        {"ok": ready, "status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )
