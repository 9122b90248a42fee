"""Backup and restore (store/backup.py, `itp clinic backup|restore`) on SQLite and PostgreSQL:
round trip, altered archive, non-empty target, older schema, and a restore after the app was
killed in the middle of writes."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from intrathecal.library import default_library
from intrathecal.pump.persistence import PumpStore
from intrathecal.store import audit
from intrathecal.store.backup import BackupRefusedError, create_backup, opened, restore_backup
from intrathecal.store.db import alembic_config, make_engine, open_database
from intrathecal.store.demo_pumps import ensure_demo_pumps
from intrathecal.store.models import AuditEntry, Patient, ProgramVersion, Refill
from intrathecal.store.seed import DEMO_USERS, ensure_users, seed_demo
from tests.conftest import ROOT
from tests.ops.conftest import fresh_url

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# The schema this itp migrates to (the newest migration), whatever number it has reached.
HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _counts(url: str) -> dict[str, int]:
    engine, sessions = open_database(url)
    try:
        with sessions() as session:
            return {
                model.__tablename__: session.execute(
                    select(func.count()).select_from(model)
                ).scalar_one()
                for model in (Patient, ProgramVersion, Refill, AuditEntry)
            }
    finally:
        engine.dispose()


def _seeded(url: str, pumps: Path) -> None:
    engine, sessions = open_database(url)
    with sessions.begin() as session:
        seed_demo(session, patients=8, now=NOW)
    with sessions() as session:
        ensure_demo_pumps(session, pumps, NOW, default_library())
    engine.dispose()


def _is_empty(url: str) -> bool:
    if url.startswith("sqlite"):
        return not Path(url.split("///", 1)[1]).exists()
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
        ).scalar_one()
    engine.dispose()
    return found == 0


def test_round_trip_restores_every_record_key_and_pump(backend: str, tmp_path: Path) -> None:
    source, target = fresh_url(backend, tmp_path, "a"), fresh_url(backend, tmp_path, "b")
    _seeded(source, tmp_path / "pumps")
    archive = tmp_path / "clinic.tar.gz"
    manifest = create_backup(source, archive, tmp_path / "pumps", NOW)
    assert manifest["database"]["schema_revision"] == HEAD
    assert manifest["created_at"] == "2026-03-02T09:00:00Z"
    assert oct(archive.stat().st_mode & 0o777) == "0o600"  # it holds the keys

    done = restore_backup(archive, target, tmp_path / "restored-pumps")

    assert done.schema_to == HEAD
    assert _counts(target) == _counts(source)
    assert done.audit_entries == _counts(source)["audit_entries"]
    # The restored records are guarded as the originals were (migration 0015).
    engine = create_engine(target, poolclass=NullPool)
    for statement in ("UPDATE refills SET fill_ml = 0", "DELETE FROM program_versions"):
        with engine.connect() as connection, pytest.raises(DBAPIError, match="append-only"):
            connection.execute(text(statement))
    engine.dispose()
    assert _counts(target) == _counts(source)
    assert sorted(p.name for p in (tmp_path / "restored-pumps").iterdir()) == sorted(
        p.name for p in (tmp_path / "pumps").iterdir()
    )
    library = default_library()
    for folder in (tmp_path / "pumps").iterdir():
        original = PumpStore(folder).load(library)
        restored = PumpStore(tmp_path / "restored-pumps" / folder.name).load(library)
        assert restored.state == original.state
        assert len(restored.events) == len(original.events)


def _rewrite(archive: Path, out: Path, change: str) -> None:
    """Copy ``archive`` with the first byte-run of ``change``'s file flipped (manifest kept)."""
    with tarfile.open(archive) as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else b""  # type: ignore[union-attr]
            if member.name == change:
                data = data[:-64] + bytes(b ^ 0xFF for b in data[-64:])
            dst.addfile(member, io.BytesIO(data))


def test_an_altered_archive_is_refused_and_changes_nothing(backend: str, tmp_path: Path) -> None:
    source, target = fresh_url(backend, tmp_path, "a"), fresh_url(backend, tmp_path, "b")
    _seeded(source, tmp_path / "pumps")
    archive = tmp_path / "clinic.tar.gz"
    manifest = create_backup(source, archive, None, NOW)
    altered = tmp_path / "altered.tar.gz"
    _rewrite(archive, altered, manifest["database"]["file"])

    with pytest.raises(BackupRefusedError, match="does not match its SHA-256"):
        restore_backup(altered, target, None)
    assert _is_empty(target)


def test_restore_refuses_a_target_that_is_not_empty(backend: str, tmp_path: Path) -> None:
    source = fresh_url(backend, tmp_path, "a")
    _seeded(source, tmp_path / "pumps")
    archive = tmp_path / "clinic.tar.gz"
    create_backup(source, archive, None, NOW)
    before = _counts(source)

    with pytest.raises(BackupRefusedError, match="empty"):
        restore_backup(archive, source, None)
    assert _counts(source) == before


def test_a_backup_never_overwrites_a_file(tmp_path: Path) -> None:
    source = fresh_url("sqlite", tmp_path, "a")
    _seeded(source, tmp_path / "pumps")
    archive = tmp_path / "clinic.tar.gz"
    archive.write_text("precious")
    with pytest.raises(Exception, match="never overwrites"):
        create_backup(source, archive, None, NOW)
    assert archive.read_text() == "precious"


def test_a_backup_of_an_older_schema_restores_and_is_migrated(backend: str, tmp_path: Path) -> None:
    source, target = fresh_url(backend, tmp_path, "a"), fresh_url(backend, tmp_path, "b")
    engine = make_engine(source)
    config = alembic_config(source)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")  # before the audit chain was keyed (0006)
        connection.execute(
            text(
                "INSERT INTO patients (mrn, name, birth_date, sex, created_at, stage) "
                "VALUES ('OLD1', 'Old Record', :born, 'female', :at, 'referred')"
            ),
            {"born": date(1960, 5, 1), "at": NOW.replace(tzinfo=None)},
        )
        # Its creation in the unkeyed (legacy) chain of that schema.
        body = audit.canonical(1, NOW, "seeder", "patient.create", "patient:1", "{}")
        link = audit.chain_hash(audit.GENESIS, body)
        connection.execute(
            text(
                "INSERT INTO audit_entries (seq, at, actor, action, target, detail_json, "
                "prev_hash, hash) VALUES (1, :at, 'seeder', 'patient.create', 'patient:1', "
                "'{}', :prev, :hash)"
            ),
            {"at": NOW, "prev": audit.GENESIS, "hash": link},
        )
        connection.execute(
            text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 1, :hash)"), {"hash": link}
        )
    engine.dispose()
    archive = tmp_path / "old.tar.gz"
    assert create_backup(source, archive, None, NOW)["database"]["schema_revision"] == "0005"

    done = restore_backup(archive, target, None)

    assert (done.schema_from, done.schema_to) == ("0005", HEAD)
    engine, sessions = open_database(target)
    with sessions() as session:
        assert session.execute(select(Patient.name)).scalars().all() == ["Old Record"]
        verified = audit.verify(session)
        assert verified.ok, verified.problem
        assert (verified.entries, verified.legacy) == (1, 1)
    engine.dispose()


def test_the_manifest_lists_every_file_with_its_checksum(tmp_path: Path) -> None:
    source = fresh_url("sqlite", tmp_path, "a")
    _seeded(source, tmp_path / "pumps")
    archive = tmp_path / "clinic.tar.gz"
    create_backup(source, archive, tmp_path / "pumps", NOW)
    with opened(archive) as (manifest, root):
        assert set(manifest["files"]) >= {"database/clinic.sqlite3", "keys/audit.key"}
        assert "keys/pseudonym.key" in manifest["files"]
        assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())
        assert (root / "keys/audit.key").read_text().strip() == "5e" * 32


def _serve(url: str, port: int) -> subprocess.Popen[bytes]:
    """`itp clinic serve` in its own process, answering before this returns."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    env.pop("ITP_PUMP_PORT", None)
    command = ["clinic", "serve", "--database", url, "--port", str(port)]
    server = subprocess.Popen(
        [sys.executable, "-m", "intrathecal.cli.main", *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, "the clinic did not start"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the clinic did not answer within 60 s"
        time.sleep(0.2)


def _write_patients(base: str, confirmed: list[int], stop: threading.Event) -> None:
    """New patients over the API, one after the other, until the app stops answering; the id
    of each one the app confirmed (201) goes to ``confirmed``."""
    with httpx.Client(timeout=10) as client:
        token = client.post(
            f"{base}/auth/sign-in",
            json={"username": "physician", "password": DEMO_USERS[0][3]},
        ).json()["token"]
        index = 0
        while not stop.is_set():
            index += 1
            body = {"mrn": f"W{index:07d}", "name": f"Writer {index}"}
            body |= {"birth_date": "1970-01-01", "sex": "female"}
            try:
                answer = client.post(
                    f"{base}/patients", json=body, headers={"Authorization": f"Bearer {token}"}
                )
            except httpx.HTTPError:
                return  # the app was killed
            assert answer.status_code == 201, answer.text
            confirmed.append(int(answer.json()["patient"]["id"]))


def test_restore_after_the_app_was_killed_mid_writes(backend: str, tmp_path: Path) -> None:
    """The clinic app (a real `itp clinic serve` process) takes new patients over its API; a
    backup is taken while it writes; the app is killed (SIGKILL) in the middle of writes. The
    restored clinic holds every patient the API confirmed before the backup began, no hole and
    nothing half-made, with the audit chain intact; the killed database's own chain too."""
    source, target = fresh_url(backend, tmp_path, "a"), fresh_url(backend, tmp_path, "b")
    engine, sessions = open_database(source)
    with sessions.begin() as session:
        ensure_users(session, NOW)
    engine.dispose()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = _serve(source, port)
    base = f"http://127.0.0.1:{port}/api/v1"
    confirmed: list[int] = []
    stop = threading.Event()
    writer = threading.Thread(target=_write_patients, args=(base, confirmed, stop), daemon=True)
    writer.start()
    try:
        deadline = time.monotonic() + 60
        while len(confirmed) < 20:
            assert writer.is_alive() and time.monotonic() < deadline, "the app wrote nothing"
            time.sleep(0.05)
        before_backup = set(confirmed)
        archive = tmp_path / "during.tar.gz"
        create_backup(source, archive, None, datetime.now(UTC))
        seen = len(confirmed)
        while len(confirmed) < seen + 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.send_signal(signal.SIGKILL)  # in the middle of writes
        server.wait(10)
        stop.set()
        writer.join(15)

    done = restore_backup(archive, target, None)

    engine, sessions = open_database(target)
    with sessions() as session:
        restored = set(session.execute(select(Patient.id)).scalars())
    engine.dispose()
    assert before_backup <= restored
    assert restored == set(range(1, len(restored) + 1))  # a prefix: no hole, nothing half-made
    assert done.audit_entries >= len(restored)
    engine, sessions = open_database(source)
    with sessions() as session:
        assert audit.verify(session).ok
        assert set(confirmed) <= set(session.execute(select(Patient.id)).scalars())
    engine.dispose()


def test_cli_backup_and_restore_exit_codes(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from intrathecal.cli.main import app

    source, target = fresh_url("sqlite", tmp_path, "a"), fresh_url("sqlite", tmp_path, "b")
    _seeded(source, tmp_path / "pumps")
    runner = CliRunner()
    archive = tmp_path / "c.tar.gz"
    made = runner.invoke(
        app, ["clinic", "backup", "--database", source, "--to", str(archive), "--json"]
    )
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["manifest"]["format"] == 1
    refused = runner.invoke(app, ["clinic", "restore", str(archive), "--database", source])
    assert refused.exit_code == 1
    assert "empty target only" in refused.output
    missing = runner.invoke(app, ["clinic", "restore", str(tmp_path / "nope.tar.gz")])
    assert missing.exit_code == 2
    restored = runner.invoke(app, ["clinic", "restore", str(archive), "--database", target])
    assert restored.exit_code == 0, restored.output
    assert "audit chain intact" in restored.stdout


def _repack(archive: Path, out: Path, change: Callable[[Path], None]) -> None:
    """``archive`` unpacked, changed by ``change`` and packed again with the manifest's
    checksums made to fit: what someone who rewrites an archive on purpose would do."""
    import hashlib

    work = out.parent / "repack"
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    change(work)
    manifest = json.loads((work / "manifest.json").read_text())
    for name, entry in manifest["files"].items():
        data = (work / name).read_bytes()
        entry |= {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (work / "manifest.json").write_text(json.dumps(manifest))
    with tarfile.open(out, "w:gz") as tar:
        tar.add(work / "manifest.json", arcname="manifest.json")
        for name in manifest["files"]:
            tar.add(work / name, arcname=name)


def test_a_rewritten_archive_with_fitting_checksums_fails_on_the_audit_chain(
    tmp_path: Path,
) -> None:
    """A patient slipped into the database copy (no audit entry) passes the checksums but not
    the audit check: refused, and the target is left empty (no database, no key file)."""
    source, target = fresh_url("sqlite", tmp_path, "a"), fresh_url("sqlite", tmp_path, "b")
    _seeded(source, tmp_path / "pumps")
    archive = tmp_path / "clinic.tar.gz"
    create_backup(source, archive, None, NOW)

    def slip_in(root: Path) -> None:
        with sqlite3.connect(root / "database" / "clinic.sqlite3") as db:
            db.execute(
                "INSERT INTO patients (mrn, name, birth_date, sex, created_at, stage) "
                "VALUES ('X1', 'Nobody', '1970-01-01', 'male', '2026-03-02 09:00:00', 'referred')"
            )

    forged = tmp_path / "forged.tar.gz"
    _repack(archive, forged, slip_in)
    with pytest.raises(BackupRefusedError, match="audit chain is broken"):
        restore_backup(forged, target, None)
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


@pytest.mark.parametrize("change", ["added", "missing"])
def test_an_archive_with_a_file_added_or_missing_is_refused(change: str, tmp_path: Path) -> None:
    source, target = fresh_url("sqlite", tmp_path, "a"), fresh_url("sqlite", tmp_path, "b")
    _seeded(source, tmp_path / "pumps")
    archive = tmp_path / "clinic.tar.gz"
    create_backup(source, archive, None, NOW)
    altered = tmp_path / "altered.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(altered, "w:gz") as dst:
        for member in src.getmembers():
            if change == "missing" and member.name == "keys/pseudonym.key":
                continue
            dst.addfile(member, src.extractfile(member))
        if change == "added":
            extra = tarfile.TarInfo("keys/extra.key")
            extra.size = 4
            dst.addfile(extra, io.BytesIO(b"evil"))
    with pytest.raises(BackupRefusedError, match="was altered"):
        restore_backup(altered, target, None)
    assert not Path(target.split("///", 1)[1]).exists()


def test_restore_refuses_a_different_audit_key_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = fresh_url("sqlite", tmp_path, "a"), fresh_url("sqlite", tmp_path, "b")
    _seeded(source, tmp_path / "pumps")
    archive = tmp_path / "clinic.tar.gz"
    create_backup(source, archive, None, NOW)
    monkeypatch.setenv("ITP_AUDIT_KEY", "7a" * 32)
    with pytest.raises(BackupRefusedError, match="differs from the archived audit key"):
        restore_backup(archive, target, None)
    monkeypatch.delenv("ITP_AUDIT_KEY")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "audit.key").write_text("7a" * 32)
    with pytest.raises(BackupRefusedError, match="exists"):
        restore_backup(archive, target, None)
    assert (tmp_path / "b" / "audit.key").read_text() == "7a" * 32  # left as it was
