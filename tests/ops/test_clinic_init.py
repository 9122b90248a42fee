"""`itp clinic init`: a real clinic's first start with its first admin and no demo data; the
demo seed refuses a clinic set up this way (the demo passwords are public)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from intrathecal.cli.main import app
from intrathecal.store import audit
from intrathecal.store.db import open_database
from intrathecal.store.models import Patient, User

ADMIN = 'username = "mkaur"\nfull_name = "Mina Kaur"\npassword = "lantern cobalt orchard ferry"\n'


def _init(tmp_path: Path, admin: str = ADMIN, *extra: str) -> tuple[str, object]:
    url = f"sqlite:///{tmp_path / 'clinic' / 'clinic.db'}"
    (tmp_path / "admin.toml").write_text(admin)
    args = ["clinic", "init", "--database", url, "--admin-file", str(tmp_path / "admin.toml")]
    return url, CliRunner().invoke(app, [*args, *extra])


def test_init_makes_the_first_admin_and_no_demo_data(tmp_path: Path) -> None:
    url, result = _init(tmp_path, ADMIN, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["admin"] == "mkaur"
    engine, sessions = open_database(url)
    with sessions() as session:
        people = session.execute(select(User.username, User.role)).all()
        assert people == [("mkaur", "admin")]
        assert session.execute(select(Patient.id)).first() is None
        assert audit.verify(session).ok
    engine.dispose()


def test_init_refuses_a_weak_password_and_changes_nothing(tmp_path: Path) -> None:
    weak = ADMIN.replace("lantern cobalt orchard ferry", "password")
    url, result = _init(tmp_path, weak)
    assert result.exit_code == 2
    assert "password" in result.output
    engine, sessions = open_database(url)
    with sessions() as session:
        assert session.execute(select(User.id)).first() is None
    engine.dispose()


def test_init_refuses_a_database_that_is_not_empty(tmp_path: Path) -> None:
    _init(tmp_path)
    _, again = _init(tmp_path, ADMIN.replace("mkaur", "other"))
    assert again.exit_code == 1
    assert "already has 1 users" in again.output


def test_init_without_a_terminal_or_a_file_says_how(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    result = CliRunner().invoke(app, ["clinic", "init", "--database", url])
    assert result.exit_code == 2
    assert "--admin-file" in result.output


def test_demo_seed_refuses_a_real_clinic(tmp_path: Path) -> None:
    url, _ = _init(tmp_path)
    seeded = CliRunner().invoke(app, ["clinic", "seed", "--database", url, "--patients", "3"])
    assert seeded.exit_code == 1
    assert "never added" in seeded.output
    engine, sessions = open_database(url)
    with sessions() as session:
        assert session.execute(select(User.username)).scalars().all() == ["mkaur"]
    engine.dispose()
