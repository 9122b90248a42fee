"""Backing up the clinic and restoring it: one archive holding what the data depends on.

An archive (tar, gzip) holds:

- ``database/clinic.sqlite3`` (SQLite's online backup API: one consistent snapshot while the
  app goes on writing) or ``database/clinic.pgdump`` (``pg_dump`` custom format, one snapshot);
- ``keys/audit.key``: the audit chain's HMAC key, which never lives in the database; without it
  the restored chain could not be verified (``store.audit_key``);
- ``keys/pseudonym.key``: the export pseudonym key (it also lives in the database; kept apart so
  an operator can see it is there, and checked against the database on restore);
- ``pumps/<serial>/...``: the virtual pumps' state folder, when one is given;
- ``manifest.json``: format, who made it and when (server clock, UTC), the schema revision and
  the SHA-256 and size of every other file.

Restore goes into an empty target only (no database file, no tables; an empty or absent pump
folder). It checks every checksum before it touches anything, then restores, runs the
migrations (a backup of an older schema is brought to head) and verifies the audit chain with
the key; if any step fails, what it made is removed again and nothing is reported restored.
The checksums find damage and alteration of a file; the audit chain's HMAC finds a rewritten
record. The archive holds the keys: keep it as private as the database.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

import intrathecal
from intrathecal.store import audit, audit_key
from intrathecal.store.db import alembic_config, open_database, require_existing
from intrathecal.store.sqlite_writers import WRITER_LOCK
from intrathecal.units import InputError

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database/clinic.sqlite3"
PG_FILE = "database/clinic.pgdump"
AUDIT_KEY_FILE = "keys/audit.key"
PSEUDONYM_KEY_FILE = "keys/pseudonym.key"
PUMPS = "pumps"


class BackupRefusedError(Exception):
    """A check failed (altered archive, target not empty, broken chain): nothing was changed."""

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        self.message = message
        super().__init__(f"{field_name}: {message}")


@dataclass(frozen=True)
class Restored:
    manifest: dict[str, Any]
    schema_from: str
    schema_to: str
    audit_entries: int
    pump_folders: int
    notes: list[str] = field(default_factory=list)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _backend(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise InputError("--database", f"{name} databases are not supported (SQLite, PostgreSQL)")
    return name


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A URL pg_dump/pg_restore understand, and the environment carrying the password (never
    on the command line, where ``ps`` shows it)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    bare: URL = parsed.set(drivername="postgresql", password=None)
    return bare.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise InputError(what, f"{command[0]} is not installed (the PostgreSQL client)") from None
    if done.returncode != 0:
        raise InputError(what, f"{command[0]} failed: {done.stderr.strip()[:500]}")


def _revision_sqlite(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else ""


def _revision(url: str) -> str:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
    finally:
        engine.dispose()
    return str(row[0]) if row else ""


def _pseudonym_key_sqlite(path: Path) -> str | None:
    with sqlite3.connect(path) as connection:
        try:
            row = connection.execute(
                "SELECT value FROM clinic_settings WHERE name = 'pseudonym_key'"
            ).fetchone()
        except sqlite3.OperationalError:  # a schema older than the registry (0002)
            return None
    return str(row[0]) if row else None


def _pseudonym_key(url: str) -> str | None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("clinic_settings"):
                return None
            row = connection.execute(
                text("SELECT value FROM clinic_settings WHERE name = 'pseudonym_key'")
            ).first()
    finally:
        engine.dispose()
    return str(row[0]) if row else None


def create_backup(url: str, archive: Path, pumps: Path | None, now: datetime) -> dict[str, Any]:
    """Write ``archive`` (refused if it exists) from the database at ``url``, its audit key and
    the pump state folder ``pumps``; return the manifest. Safe while the app writes."""
    backend = _backend(url)
    require_existing(url)
    if archive.exists():
        raise InputError("--to", f"{archive} exists; a backup never overwrites a file")
    if pumps is not None and not pumps.is_dir():
        raise InputError("--pumps", f"{pumps} is not a directory")
    key = audit_key.load(url, create=False)
    if key is None:
        raise InputError(
            audit_key.ENV_FILE,
            f"no audit key for this database ({audit_key.key_path(url)}); without it a restored "
            "audit chain could not be verified",
        )
    with tempfile.TemporaryDirectory(prefix="itp-backup-") as work:
        root = Path(work)
        (root / "database").mkdir()
        (root / "keys").mkdir()
        if backend == "sqlite":
            copy = root / SQLITE_FILE
            _sqlite_snapshot(Path(str(make_url(url).database)), copy)
            revision, pseudonym = _revision_sqlite(copy), _pseudonym_key_sqlite(copy)
        else:
            revision, pseudonym = _revision(url), _pseudonym_key(url)
            target, env = _libpq(url)
            _run(
                ["pg_dump", "--format=custom", "--file", str(root / PG_FILE), target],
                env,
                "--database",
            )
        _private_write(root / AUDIT_KEY_FILE, key.secret.hex() + "\n")
        if pseudonym is not None:
            _private_write(root / PSEUDONYM_KEY_FILE, pseudonym + "\n")
        folders = 0
        if pumps is not None:
            folders = _copy_pumps(pumps, root / PUMPS)
        files = {
            str(PurePosixPath(*p.relative_to(root).parts)): {
                "sha256": _sha256(p),
                "bytes": p.stat().st_size,
            }
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "made_by": f"itp {intrathecal.__version__}",
            "created_at": now.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "database": {
                "backend": backend,
                "file": SQLITE_FILE if backend == "sqlite" else PG_FILE,
                "schema_revision": revision,
            },
            "keys": {
                "audit": AUDIT_KEY_FILE,
                "pseudonym": PSEUDONYM_KEY_FILE if pseudonym is not None else None,
            },
            "pumps": {"folder": PUMPS, "count": folders} if pumps is not None else None,
            "files": files,
        }
        (root / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        archive.parent.mkdir(parents=True, exist_ok=True)
        partial = archive.with_name(archive.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as stream, tarfile.open(fileobj=stream, mode="w:gz") as tar:
            tar.add(root / MANIFEST, arcname=MANIFEST)
            for name in files:
                tar.add(root / name, arcname=name)
        os.replace(partial, archive)  # a killed backup leaves no archive that looks whole
    return manifest


# A pump's files in the order that keeps a copy loadable while the pump server saves: the
# state first, then its event log (a save appends events before it replaces the state, and a
# load drops events beyond the count the state names; pump/persistence.py).
PUMP_FILES = ("identity.json", "state.json", "events.jsonl")


def _copy_pumps(source: Path, copy: Path) -> int:
    """Every pump folder of ``source`` (its state files only; never a save's temporary file)."""
    copy.mkdir()
    folders = 0
    for folder in sorted(p for p in source.iterdir() if (p / PUMP_FILES[0]).is_file()):
        (copy / folder.name).mkdir()
        for name in PUMP_FILES:
            if (folder / name).is_file():
                shutil.copy2(folder / name, copy / folder.name / name)
        folders += 1
    return folders


def _sqlite_snapshot(source: Path, copy: Path) -> None:
    """SQLite's backup API in one step: a consistent snapshot (WAL readers do not block the
    app's writers), written as a single self-contained file."""
    with sqlite3.connect(source, timeout=30) as live, sqlite3.connect(copy) as out:
        live.backup(out)
        out.execute("PRAGMA journal_mode=DELETE")
    live.close()
    out.close()


def _private_write(path: Path, content: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(content)


@contextmanager
def opened(archive: Path) -> Iterator[tuple[dict[str, Any], Path]]:
    """The archive's manifest and a folder holding its files, every checksum verified; a
    damaged or altered archive is refused (``BackupRefusedError``)."""
    if not archive.is_file():
        raise InputError("ARCHIVE", f"{archive} is not a file")
    with tempfile.TemporaryDirectory(prefix="itp-restore-") as work:
        root = Path(work)
        try:
            with tarfile.open(archive, mode="r:*") as tar:
                members = tar.getmembers()
                for member in members:
                    name = PurePosixPath(member.name)
                    if not (member.isfile() or member.isdir()) or name.is_absolute():
                        raise BackupRefusedError("ARCHIVE", f"unexpected entry {member.name!r}")
                    if ".." in name.parts:
                        raise BackupRefusedError("ARCHIVE", f"unexpected entry {member.name!r}")
                tar.extractall(root, filter="data")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise BackupRefusedError("ARCHIVE", f"not a readable itp backup: {exc}") from None
        try:
            manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
            files: dict[str, dict[str, Any]] = manifest["files"]
            fmt = manifest["format"]
        except (OSError, ValueError, KeyError, TypeError):
            raise BackupRefusedError("ARCHIVE", "has no readable manifest.json") from None
        if fmt != FORMAT:
            raise BackupRefusedError("ARCHIVE", f"is in format {fmt!r}; this itp reads {FORMAT}")
        present = {
            str(PurePosixPath(*p.relative_to(root).parts)) for p in root.rglob("*") if p.is_file()
        } - {MANIFEST}
        if present != set(files):
            extra, missing = sorted(present - set(files)), sorted(set(files) - present)
            raise BackupRefusedError(
                "ARCHIVE", f"was altered: files added {extra}, files missing {missing}"
            )
        for listed, expected in sorted(files.items()):
            path = root / listed
            size, digest = expected.get("bytes"), expected.get("sha256")
            if path.stat().st_size != size or _sha256(path) != digest:
                raise BackupRefusedError(
                    "ARCHIVE", f"was altered or damaged: {listed} does not match its SHA-256"
                )
        yield manifest, root


def _schema_known(revision: str) -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    try:
        found = scripts.get_revision(revision) if revision else None
    except Exception:  # alembic raises several kinds for an unknown id
        found = None
    if found is None:
        raise BackupRefusedError(
            "ARCHIVE",
            f"its schema revision {revision!r} is unknown to this itp (a newer version made it); "
            "restore with that version",
        )


def _require_empty(url: str, backend: str) -> None:
    if backend == "sqlite":
        path = Path(str(make_url(url).database or ""))
        if not str(path) or str(path) == ":memory:":
            raise InputError("--database", "give a SQLite file path to restore into")
        for candidate in (path, Path(f"{path}-wal")):
            if candidate.exists():
                raise BackupRefusedError(
                    "--database", f"{candidate} exists; restore goes into an empty target only"
                )
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
    except OperationalError as exc:
        raise InputError("--database", f"cannot open the target: {exc.orig}") from None
    finally:
        engine.dispose()
    if tables:
        raise BackupRefusedError(
            "--database",
            f"the target database has {len(tables)} tables; restore goes into an empty one only",
        )


def _key_target(url: str, secret: bytes) -> Path | None:
    """Where the archived audit key must be written (None: the environment already gives it).
    A different key already in place is refused: the chain could not be verified with it."""
    from_env = os.environ.get(audit_key.ENV_KEY, "").strip()
    if from_env:
        if audit_key.decode(from_env, audit_key.ENV_KEY) != secret:
            raise BackupRefusedError(
                audit_key.ENV_KEY,
                "differs from the archived audit key; unset it or set it to the archived key",
            )
        return None
    path = audit_key.key_path(url)
    if path.exists():
        raise BackupRefusedError(
            audit_key.ENV_FILE, f"{path} exists; restore goes into an empty target only"
        )
    return path


def restore_backup(archive: Path, url: str, pumps: Path | None) -> Restored:
    """Restore ``archive`` into the empty target ``url`` (and ``pumps``); see the module."""
    backend = _backend(url)
    with opened(archive) as (manifest, root):
        database = manifest.get("database") or {}
        if database.get("backend") != backend:
            raise BackupRefusedError(
                "--database",
                f"the archive holds a {database.get('backend')} database; the target is {backend}",
            )
        schema_from = str(database.get("schema_revision", ""))
        _schema_known(schema_from)
        secret = bytes.fromhex((root / AUDIT_KEY_FILE).read_text(encoding="ascii").strip())
        has_pumps = (root / PUMPS).is_dir()
        if has_pumps and pumps is None:
            raise InputError("--pumps", "the archive holds pump state; say where it goes")
        if pumps is not None and pumps.exists() and any(pumps.iterdir()):
            raise BackupRefusedError(
                "--pumps", f"{pumps} is not empty; restore goes into an empty one"
            )
        _require_empty(url, backend)
        key_file = _key_target(url, secret)
        made: list[Path] = []
        try:
            if key_file is not None:
                key_file.parent.mkdir(parents=True, exist_ok=True)
                _private_write(key_file, secret.hex() + "\n")
                made.append(key_file)
            if backend == "sqlite":
                target = Path(str(make_url(url).database))
                target.parent.mkdir(parents=True, exist_ok=True)
                made += [Path(f"{target}{end}") for end in ("", "-wal", "-shm", WRITER_LOCK)]
                with sqlite3.connect(root / SQLITE_FILE) as source, sqlite3.connect(target) as out:
                    source.backup(out)
                source.close()
                out.close()
            else:
                libpq, env = _libpq(url)
                restore = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error"]
                _run([*restore, "-d", libpq, str(root / PG_FILE)], env, "--database")
            folders = 0
            if has_pumps and pumps is not None:
                made.append(pumps)
                shutil.copytree(root / PUMPS, pumps, dirs_exist_ok=True)
                folders = sum(1 for p in pumps.iterdir() if p.is_dir())
            return _finish(url, manifest, root, schema_from, folders)
        except BaseException:
            _undo(url, backend, made)
            raise


def _finish(
    url: str, manifest: dict[str, Any], root: Path, schema_from: str, folders: int
) -> Restored:
    """Migrations to head, then the audit chain and the pseudonym key checked."""
    engine, sessions = open_database(url)
    try:
        with sessions() as session:
            result = audit.verify(session)
    finally:
        engine.dispose()
    if not result.ok:
        raise BackupRefusedError("ARCHIVE", f"the restored audit chain is broken: {result.problem}")
    pseudonym_file = root / PSEUDONYM_KEY_FILE
    if pseudonym_file.exists():
        stored = _pseudonym_key(url)
        if stored != pseudonym_file.read_text(encoding="ascii").strip():
            raise BackupRefusedError("ARCHIVE", "the pseudonym key differs from the database's")
    return Restored(manifest, schema_from, _revision(url), result.entries, folders)


def _undo(url: str, backend: str, made: list[Path]) -> None:
    """Remove what a failed restore made, so the target is empty again."""
    for path in reversed(made):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if backend == "postgresql":
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        except OperationalError:
            pass
        finally:
            engine.dispose()
