"""`itp audit verify` on a database that is not there refuses (exit 2) and creates nothing:
before, a mistyped SQLite path made an empty database and reported "chain intact"."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from intrathecal.cli.main import app


def test_audit_verify_refuses_a_mistyped_sqlite_path(tmp_path: Path) -> None:
    typo = tmp_path / "out" / "clinc.db"
    result = CliRunner().invoke(app, ["audit", "verify", "--database", f"sqlite:///{typo}"])
    assert result.exit_code == 2
    assert "no clinic database" in result.output
    assert "intact" not in result.output
    assert not typo.exists() and not typo.parent.exists()


def test_audit_verify_refuses_a_file_that_is_not_a_clinic_database(tmp_path: Path) -> None:
    other = tmp_path / "notes.db"
    other.write_bytes(b"")
    result = CliRunner().invoke(app, ["audit", "verify", "--database", f"sqlite:///{other}"])
    assert result.exit_code == 2
    assert "not a clinic database" in result.output
