"""``itp clinic backup`` and ``itp clinic restore``: one archive of the database, the audit key,
the pseudonym key and the pump state (``store/backup.py``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from intrathecal.cli.output import EXIT_REFUSED, emit, reported

DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database", help="Database URL (default: DATABASE_URL or out/clinic.db)."),
]
PumpsOpt = Annotated[
    Path | None,
    typer.Option("--pumps", help="Pump state directory (one folder a pump), e.g. out/pumps."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@contextmanager
def _refusals(as_json: bool) -> Iterator[None]:
    """A failed check (altered archive, target not empty, broken chain) exits 1, bad input 2."""
    from intrathecal.store.backup import BackupRefusedError

    try:
        with reported(as_json):
            yield
    except BackupRefusedError as exc:
        if as_json:
            errors = [{"field": exc.field, "message": exc.message}]
            typer.echo(json.dumps({"ok": False, "errors": errors}, indent=2))
        else:
            typer.echo(f"refused: {exc.field}: {exc.message}\nNothing was changed.", err=True)
        raise typer.Exit(EXIT_REFUSED) from None


def backup_cmd(
    to: Annotated[Path, typer.Option("--to", help="The archive to write (never overwritten).")],
    database: DatabaseOpt = None,
    pumps: PumpsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Back up the database (consistent while the app runs), its audit key and the pump state
    into one archive with a manifest and SHA-256 checksums."""
    from intrathecal.store.backup import create_backup
    from intrathecal.store.db import database_url

    with _refusals(as_json):
        manifest = create_backup(database_url(database), to, pumps, datetime.now(UTC))
    revision = manifest["database"]["schema_revision"]
    pump_note = f", {_pumps(manifest['pumps']['count'])}" if manifest["pumps"] else ""
    emit(
        as_json,
        {"archive": str(to), "manifest": manifest},
        f"backup written: {to} (schema {revision}, {len(manifest['files'])} files{pump_note})\n"
        "It holds the audit key: keep it as private as the database.",
    )


def restore_cmd(
    archive: Annotated[Path, typer.Argument(help="An archive made by `itp clinic backup`.")],
    database: DatabaseOpt = None,
    pumps: PumpsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Restore an archive into an EMPTY database (and pump folder): checks every checksum,
    runs the migrations and verifies the audit chain before it reports success."""
    from intrathecal.store.backup import restore_backup
    from intrathecal.store.db import database_url

    with _refusals(as_json):
        done = restore_backup(archive, database_url(database), pumps)
    payload = {
        "archive": str(archive),
        "created_at": done.manifest.get("created_at"),
        "schema_from": done.schema_from,
        "schema_to": done.schema_to,
        "audit_entries": done.audit_entries,
        "pumps": done.pump_folders,
    }
    emit(
        as_json,
        payload,
        f"restored {archive} (made {done.manifest.get('created_at')}): schema "
        f"{done.schema_from} -> {done.schema_to}, audit chain intact "
        f"({_entries(done.audit_entries)}), {_pumps(done.pump_folders)}",
    )


def _pumps(count: int) -> str:
    return f"{count} pump" if count == 1 else f"{count} pumps"


def _entries(count: int) -> str:
    return f"{count} entry" if count == 1 else f"{count} entries"
