"""``itp clinic serve|run|seed|pumps|migrate`` and ``itp audit verify``: the clinic service from
the shell."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from intrathecal.cli.output import EXIT_BAD_INPUT, emit, reported
from intrathecal.cli.pump_supervisor import PumpServerError, Supervisor
from intrathecal.units import InputError

app = typer.Typer(help="The clinic web app and its database.", no_args_is_help=True)
audit_app = typer.Typer(
    help="The clinic's audit log, chained with a key kept outside the database.",
    no_args_is_help=True,
)

DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database", help="Database URL (default: DATABASE_URL or out/clinic.db)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command("migrate")
def migrate_cmd(database: DatabaseOpt = None, as_json: JsonOpt = False) -> None:
    """Create the database or bring its schema up to date; make the audit key if absent."""
    from intrathecal.store.db import database_url, open_database

    url = database_url(database)
    with reported(as_json):
        open_database(url)[0].dispose()
    key = _key_source(url)
    emit(
        as_json,
        {"database": _safe(url), "audit_key": key},
        f"database up to date: {_safe(url)}\naudit key: {key} (back it up with the database)",
    )


def _key_source(url: str) -> str:
    """Where the audit key comes from (never the key itself)."""
    from intrathecal.store import audit_key

    found = audit_key.load(url, create=False)
    return found.source if found else "none"


@app.command("seed")
def seed_cmd(
    database: DatabaseOpt = None,
    patients: Annotated[int, typer.Option(min=1, help="Demo patients.")] = 50,
    bulk: Annotated[bool, typer.Option(help="Large clinic by bulk insert (load tests).")] = False,
    refills: Annotated[int, typer.Option(min=1, help="Refills with --bulk.")] = 300_000,
    as_json: JsonOpt = False,
) -> None:
    """Seed a demo clinic when the database has no patients (or a large one with --bulk)."""
    from intrathecal.store.clinic_setup import is_real_clinic
    from intrathecal.store.db import database_url, open_database
    from intrathecal.store.seed import ensure_users, is_empty, seed_bulk, seed_demo

    engine, sessions = open_database(database_url(database))
    with sessions.begin() as session:
        if is_real_clinic(session):  # demo users' passwords are public: never in a real clinic
            engine.dispose()
            typer.echo(
                "refused: this clinic was set up with `itp clinic init` (real accounts); demo "
                "data and demo users are never added to it",
                err=True,
            )
            raise typer.Exit(1)
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

    from intrathecal.store.db import database_url, open_database
    from intrathecal.web.serve import serve

    _check_settings()
    os.environ["DATABASE_URL"] = database_url(database)
    with reported(False):  # a missing audit key is told here, not as a worker's traceback
        open_database(os.environ["DATABASE_URL"])[0].dispose()
    _recover_pumps(os.environ["DATABASE_URL"])
    typer.echo(f"clinic on http://{host}:{port}  (API docs http://{host}:{port}/api/v1/docs)")
    serve(host, port, workers)


def _check_settings() -> None:
    """The web settings (ITP_BASE_URL, ITP_CLINIC_TZ, ITP_CLINIC_DAYS, …) are read by each
    worker at start: a bad one is told here, naming the variable, not as a worker's traceback."""
    from intrathecal.web.display import ZoneError, zone_named
    from intrathecal.web.settings import SettingsError, from_env

    with reported(False):
        try:
            from_env()
            zone_named(os.environ.get("ITP_CLINIC_TZ", "").strip() or "UTC")
        except (SettingsError, ZoneError) as exc:
            raise InputError("environment", str(exc)) from None


def _recover_pumps(url: str) -> None:
    """Refills and programs a crash left between a pump and its record: reconciled with the
    pumps' logs (``ITP_PUMP_PORT``'s link) before the clinic serves (web/pump_recovery.py)."""
    from intrathecal.web.pump_client_link import links_from_env
    from intrathecal.web.pump_recovery import recover_at_start

    with reported(False):
        try:
            links = links_from_env()
        except ValueError as exc:
            raise InputError("environment", str(exc)) from None
    for line in recover_at_start(url, links):
        typer.echo(line)


@app.command("pumps")
def pumps_cmd(
    state: Annotated[
        Path, typer.Option("--state", help="Pump state directory (one folder a pump).")
    ] = Path("out/pumps"),
    database: DatabaseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A virtual pump for every implanted patient, filled and programmed as the records say
    (existing pumps are reused, never rewritten)."""
    from datetime import UTC, datetime

    from intrathecal.library import default_library
    from intrathecal.store.db import database_url, open_database
    from intrathecal.store.demo_pumps import ensure_demo_pumps

    with reported(as_json):
        engine, sessions = open_database(database_url(database))
        with sessions() as session:
            made = ensure_demo_pumps(session, state, datetime.now(UTC), default_library())
        engine.dispose()
        payload = {
            "state": str(state),
            "created": made.created,
            "reused": made.reused,
            "problems": [{"serial": s, "message": m} for s, m in made.problems],
        }
        emit(as_json, payload, f"{made.summary()} in {state}")


@app.command("run")
def run_cmd(
    database: DatabaseOpt = None,
    host: Annotated[str, typer.Option(help="Address the clinic listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    pumps: Annotated[
        Path, typer.Option("--pumps", help="Pump state directory (itp clinic pumps).")
    ] = Path("out/pumps"),
    pump_port: Annotated[int, typer.Option("--pump-port", min=1, max=65535)] = 7474,
    speed: Annotated[
        float, typer.Option("--speed", help="Pump seconds per wall second (60: 1 s = 1 min).")
    ] = 60.0,
) -> None:
    """Serve the clinic with its virtual pumps: starts `itp pump serve` for PUMPS on loopback,
    links the refill wizard to it, and stops it when the clinic stops (Ctrl-C)."""

    import uvicorn

    from intrathecal.store.db import database_url, open_database

    _check_settings()
    with reported(False):
        # The options first: a wrong one changes nothing, the database included.
        if not pumps.is_dir():
            raise InputError("--pumps", f"{pumps} is not a directory; run `itp clinic pumps`")
        if not 0 < speed <= 1e6:
            raise InputError("--speed", "must be above 0 and at most 1e6 pump seconds a second")
        # Migrates, and makes the audit key on first start (or says why it cannot).
        open_database(database_url(database))[0].dispose()
    os.environ["DATABASE_URL"] = database_url(database)
    # uvicorn re-raises SIGTERM after its shutdown; the default action would end this process
    # before the pump server is stopped, so SIGTERM becomes an exit that runs the clean-up.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    server = uvicorn.Server(
        uvicorn.Config("intrathecal.web.main:app", host=host, port=port, log_level="warning")
    )

    def give_up() -> None:  # the pump server keeps dying: the clinic stops with it
        server.should_exit = True

    with pump_server(pumps, pump_port, speed, on_give_up=give_up) as supervisor:
        os.environ["ITP_PUMP_HOST"] = "127.0.0.1"
        os.environ["ITP_PUMP_PORT"] = str(pump_port)
        _recover_pumps(os.environ["DATABASE_URL"])
        typer.echo(
            f"clinic on http://{host}:{port}  (API docs http://{host}:{port}/api/v1/docs); "
            f"virtual pumps on 127.0.0.1:{pump_port} at speed {speed:g}; Ctrl-C stops both"
        )
        server.run()
    if supervisor.gave_up:
        raise typer.Exit(EXIT_PUMP_SERVER_DIED)


# `itp clinic run` ended because its pump server kept dying (the message says how often).
EXIT_PUMP_SERVER_DIED = 3


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def pump_server(
    state: Path, port: int, speed: float, on_give_up: Callable[[], None] = lambda: None
) -> Iterator[Supervisor]:
    """`itp pump serve` in a child process, started at the wall clock's time (pumps that ran
    ahead keep their time), answering before this yields; restarted if it dies (``on_give_up``
    is called if it keeps dying, cli/pump_supervisor.py); stopped (SIGTERM, the server saves
    every pump) when the block ends, however it ends, and by the kernel if this process is
    killed."""
    import time

    from intrathecal.engine.demand import iso

    def command() -> list[str]:
        return [
            sys.executable,
            "-m",
            "intrathecal.cli.main",
            "pump",
            "serve",
            "--state",
            str(state),
            "--port",
            str(port),
            "--speed",
            f"{speed:g}",
            "--start",
            iso(float(int(time.time()))),
        ]

    supervisor = Supervisor(command, port, on_give_up=on_give_up)
    try:
        supervisor.start()
    except PumpServerError as exc:
        typer.echo(str(exc), err=True)  # the server printed why above (port taken, …)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    try:
        yield supervisor
    finally:
        supervisor.stop()


@audit_app.command("verify")
def verify_cmd(database: DatabaseOpt = None, as_json: JsonOpt = False) -> None:
    """Recompute the audit chain with the key; exit code 1 if any entry was changed, removed,
    reordered or malformed, the head wound back, or records stored without their entries."""
    from intrathecal.store import audit
    from intrathecal.store.db import database_url, open_database, require_existing

    with reported(as_json):
        url = database_url(database)
        require_existing(url)
        engine, sessions = open_database(url)
    try:
        with sessions() as session:
            result = audit.verify(session)
    finally:
        engine.dispose()
    payload = {
        "intact": result.ok,
        "entries": result.entries,
        "legacy_entries": result.legacy,
        "first_bad_seq": result.first_bad_seq,
        "message": result.problem,
    }
    emit(as_json, payload, f"audit log {'intact' if result.ok else 'BROKEN'}: {result.problem}")
    if not result.ok:
        raise typer.Exit(1)


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
