"""``itp clinic init``: a real clinic's first start, with no demo data. Creates (or migrates) the
database and the audit key, and the first admin, typed in (password hidden, asked twice) or
read from a TOML file (``username``, ``full_name``, ``password``); the file should be deleted
afterwards."""

from __future__ import annotations

import json
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from intrathecal.cli.output import EXIT_REFUSED, emit, read_text, reported
from intrathecal.units import InputError

DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database", help="Database URL (default: DATABASE_URL or out/clinic.db)."),
]
FIELDS = ("username", "full_name", "password")


def _from_file(path: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(read_text(path, "--admin-file"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError("--admin-file", f"is not TOML: {exc}") from None
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise InputError("--admin-file", f"unknown keys {unknown}; expected {list(FIELDS)}")
    for name in FIELDS:
        if not isinstance(data.get(name), str) or not data[name].strip():
            raise InputError(f"--admin-file: {name}", "is missing (text)")
    return {name: str(data[name]) for name in FIELDS}


def _typed_in() -> dict[str, str]:
    if not sys.stdin.isatty():
        raise InputError(
            "--admin-file",
            "no terminal to type the first admin in: give --admin-file FILE (TOML with "
            "username, full_name and password)",
        )
    username = typer.prompt("first admin's user name")
    full_name = typer.prompt("full name")
    password = typer.prompt(
        "password (at least 15 characters)", hide_input=True, confirmation_prompt=True
    )
    return {"username": username, "full_name": full_name, "password": password}


def init_cmd(
    database: DatabaseOpt = None,
    admin_file: Annotated[
        Path | None,
        typer.Option("--admin-file", help="TOML with username, full_name, password."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Set up a real clinic: database, audit key and the first admin; no demo data, no demo
    users (those come only with `make run`'s demo seed)."""
    from intrathecal.store import audit_key
    from intrathecal.store.clinic_setup import AlreadySetUpError, initialise
    from intrathecal.store.db import database_url, open_database

    url = database_url(database)
    with reported(as_json):
        admin = _from_file(admin_file) if admin_file is not None else _typed_in()
        engine, sessions = open_database(url)
        try:
            with sessions.begin() as session:
                made = initialise(
                    session,
                    admin["username"],
                    admin["full_name"],
                    admin["password"],
                    datetime.now(UTC),
                )
                username = made.username
        except AlreadySetUpError as exc:
            if as_json:
                errors = [{"field": "--database", "message": str(exc)}]
                typer.echo(json.dumps({"ok": False, "errors": errors}, indent=2))
            else:
                typer.echo(f"refused: {exc}", err=True)
            raise typer.Exit(EXIT_REFUSED) from None
        finally:
            engine.dispose()
    key = audit_key.load(url, create=False)
    source = key.source if key else "none"
    from sqlalchemy.engine import make_url

    shown = make_url(url).render_as_string(hide_password=True)
    emit(
        as_json,
        {"database": shown, "admin": username, "audit_key": source, "demo_data": False},
        f"clinic set up: {shown}\nfirst admin: {username} (sign in and add the clinic's users)\n"
        f"audit key: {source} (back it up with the database: itp clinic backup)",
    )
