"""``itp clinic serve|seed|migrate`` and ``itp audit verify``: the clinic service from the shell."""

from __future__ import annotations

from typing import Annotated

import typer

from intrathecal.cli.output import emit

app = typer.Typer(help="The clinic web app and its database.", no_args_is_help=True)
audit_app = typer.Typer(help="The clinic's hash-chained audit log.", no_args_is_help=True)

DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database", help="Database URL (default: DATABASE_URL or out/clinic.db)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command("migrate")
def migrate_cmd(database: DatabaseOpt = None, as_json: JsonOpt = False) -> None:
    """Create the database or bring its schema up to date."""
    from intrathecal.store.db import database_url, open_database

    url = database_url(database)
    open_database(url)[0].dispose()
    emit(as_json, {"database": _safe(url)}, f"database up to date: {_safe(url)}")


@app.command("seed")
def seed_cmd(
    database: DatabaseOpt = None,
    patients: Annotated[int, typer.Option(min=1, help="Demo patients.")] = 50,
    bulk: Annotated[bool, typer.Option(help="Large clinic by bulk insert (load tests).")] = False,
    refills: Annotated[int, typer.Option(min=1, help="Refills with --bulk.")] = 300_000,
    as_json: JsonOpt = False,
) -> None:
    """Seed a demo clinic when the database has no patients (or a large one with --bulk)."""
    from intrathecal.store.db import database_url, open_database
    from intrathecal.store.seed import ensure_users, is_empty, seed_bulk, seed_demo

    engine, sessions = open_database(database_url(database))
    with sessions.begin() as session:
        if bulk:
            counts = seed_bulk(session, patients=patients, refills_total=refills)
        elif is_empty(session):
            counts = seed_demo(session, patients=patients)
        else:
            ensure_users(session, __import__("datetime").datetime.now().astimezone())
            counts = {}
    engine.dispose()
    text = f"seeded: {counts}" if counts else "the clinic already has patients; nothing seeded"
    emit(as_json, {"seeded": counts}, text)


@app.command("users")
def users_cmd(as_json: JsonOpt = False) -> None:
    """The demo users and their passwords (demo only)."""
    from intrathecal.store.seed import DEMO_USERS

    rows = [{"username": u, "role": r, "password": p} for u, _, r, p in DEMO_USERS]
    lines = ["Demo users (change them before real use):"] + [
        f"  {r['role']:<11} user {r['username']:<11} password {r['password']}" for r in rows
    ]
    emit(as_json, {"users": rows}, "\n".join(lines))


@app.command("serve")
def serve_cmd(
    database: DatabaseOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the clinic web app and API (http://HOST:PORT, API docs at /api/v1/docs)."""
    import os

    import uvicorn

    from intrathecal.store.db import database_url

    os.environ["DATABASE_URL"] = database_url(database)
    typer.echo(f"clinic on http://{host}:{port}  (API docs http://{host}:{port}/api/v1/docs)")
    uvicorn.run(
        "intrathecal.web.main:app", host=host, port=port, workers=workers, log_level="warning"
    )


@audit_app.command("verify")
def verify_cmd(database: DatabaseOpt = None, as_json: JsonOpt = False) -> None:
    """Recompute the audit chain; exit code 1 if any entry was changed, removed or reordered."""
    from intrathecal.store import audit
    from intrathecal.store.db import database_url, open_database

    engine, sessions = open_database(database_url(database))
    with sessions() as session:
        result = audit.verify(session)
    engine.dispose()
    payload = {
        "intact": result.ok,
        "entries": result.entries,
        "first_bad_seq": result.first_bad_seq,
        "message": result.problem,
    }
    emit(as_json, payload, f"audit log {'intact' if result.ok else 'BROKEN'}: {result.problem}")
    if not result.ok:
        raise typer.Exit(1)


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
