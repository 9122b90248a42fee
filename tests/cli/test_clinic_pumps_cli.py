"""`make run`'s pump steps as a user runs them: `itp clinic pumps`, and the pump server that
`itp clinic run` starts and stops with the clinic."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from intrathecal.cli.clinic_cmd import pump_server
from intrathecal.library import default_library
from intrathecal.pump.client import PumpClient
from intrathecal.pump.persistence import PumpStore
from tests.cli.test_cli import assert_clean_failure, itp
from tests.store.conftest import NOW


def test_clinic_pumps_creates_one_pump_per_implanted_patient_then_reuses_them(
    tmp_path: Path,
) -> None:
    database = f"sqlite:///{tmp_path / 'clinic.db'}"
    seeded = itp("clinic", "seed", "--patients", "10", "--database", database, "--json")
    assert seeded.returncode == 0, seeded.stderr
    implanted = json.loads(seeded.stdout)["seeded"]["implanted"]
    assert implanted > 0
    state = tmp_path / "pumps"
    first = itp("clinic", "pumps", "--state", state, "--database", database, "--json")
    assert first.returncode == 0, first.stderr
    made = json.loads(first.stdout)
    assert len(made["created"]) == implanted and made["reused"] == [] and made["problems"] == []
    again = itp("clinic", "pumps", "--state", state, "--database", database)
    assert again.returncode == 0, again.stderr
    assert f"pumps: 0 created, {implanted} reused" in again.stdout


def test_clinic_run_refuses_a_missing_pump_folder(tmp_path: Path) -> None:
    database = tmp_path / "clinic.db"
    result = itp(
        "clinic", "run", "--pumps", tmp_path / "nowhere", "--port", "1",
        "--database", f"sqlite:///{database}",
    )  # fmt: skip
    assert result.returncode == 2
    assert_clean_failure(result)
    assert "--pumps" in result.stderr and "itp clinic pumps" in result.stderr
    assert not database.exists()  # refused before the database is opened (and migrated)


def test_pump_server_answers_at_its_speed_and_stops_with_the_block(tmp_path: Path) -> None:
    PumpStore.create(tmp_path, "SN-RUN-1", "synchromed-ii-20", NOW.timestamp(), default_library())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pump_server(tmp_path, port, 60.0) as child:
        with PumpClient("127.0.0.1", port) as client:
            assert client.clock()["speed"] == 60.0
            assert client.list_pumps() == ["SN-RUN-1"]
        assert child.poll() is None
    assert child.poll() is not None  # stopped (SIGTERM), not left behind
    assert (tmp_path / "clock.json").is_file()  # it saved its clock on the way out
