"""``itp program modes | pulses | compare | fixed-rate-plan`` as a user runs them (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import Result
from typer.testing import CliRunner

from intrathecal.cli.main import app
from tests.cli.test_cli import assert_clean_failure, itp

MODES = Path(__file__).parents[2] / "examples" / "device-modes"


def run(*args: str | Path) -> Result:
    """In process (fast); the refusal test below runs the real ``itp`` as a user does."""
    return CliRunner().invoke(app, [str(a) for a in args])


def refused(result: Result) -> None:
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output


def test_modes_lists_the_device_modes_with_their_provenance() -> None:
    result = run("program", "modes", "synchromed-ii-40")
    assert result.exit_code == 0, result.output
    assert "continuous: simple continuous" in result.stdout
    assert "flex: flex dosing (timed steps)" in result.stdout
    assert "up to 13 a day" in result.stdout
    assert "periodic-flow" not in result.stdout
    assert "actuation volume: none (not a valve-gated pump)" in result.stdout
    payload = json.loads(run("program", "modes", "prometra-ii-20", "--json").stdout)
    assert [m["mode"] for m in payload["modes"]] == [
        "continuous",
        "multiple-rates",
        "periodic-flow",
    ]
    assert payload["actuation_volume_ml"] == 0.002
    refused(run("program", "modes", "no-such-pump"))


def test_periodic_flow_on_synchromed_is_refused_naming_the_device(tmp_path: Path) -> None:
    text = (
        (MODES / "prometra-periodic.toml").read_text().replace("prometra-ii-20", "synchromed-ii-20")
    )
    program = tmp_path / "p.toml"
    program.write_text(text)
    result = itp("program", "check", program)
    assert_clean_failure(result)
    assert "SynchroMed II 20 mL (8637-20) has no periodic-flow mode" in result.stderr


def test_pulses_of_periodic_flow() -> None:
    result = run(
        "program", "pulses", MODES / "prometra-periodic.toml",
        "--from", "2026-01-05T08:00:00Z", "--for", "10 min",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # 0.1 mL/day / 0.002 mL = 50 a day; a dose runs at 2.4 mL/day: one every 72 s;
    # 600 s / 72 s = 8 actuations in the first 10 minutes, the first at 08:01:12.
    assert "actuations per day: 50.0" in result.stdout
    assert "at 2.4 mL/day: every 72 s" in result.stdout
    assert "dose per actuation: 0.02 mg morphine" in result.stdout
    assert "actuations listed: 8" in result.stdout
    assert "2026-01-05T08:01:12Z" in result.stdout
    assert "UNVERIFIED" in result.stdout
    codman = run("program", "pulses", MODES / "codman-3000.toml")
    refused(codman)
    assert "not a valve-gated pump" in codman.stderr


def test_compare_schedules_with_the_same_daily_total() -> None:
    files = [MODES / f"prometra-{n}.toml" for n in ("constant", "multiple-rates", "periodic")]
    result = run("program", "compare", *files)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("daily: 0.1 mL/day = 1 mg/day morphine") == 3
    assert "peak rate: 0.14 mL/day; trough rate: 0.06 mL/day" in result.stdout
    assert "peak rate: 2.4 mL/day; trough rate: 0 mL/day" in result.stdout
    assert "nothing for up to 11.5 h" in result.stdout
    assert "daily totals: the same" in result.stdout
    payload = json.loads(run("program", "compare", *files, "--json").stdout)
    assert payload["same_daily_total"] is True
    refused(run("program", "compare", files[0]))


def test_fixed_rate_plan_for_a_constant_flow_pump() -> None:
    result = run(
        "program", "fixed-rate-plan", MODES / "codman-3000.toml", "--dose", "8 mg/day",
        "--fill", "30 mL", "--filled-at", "2026-01-05T10:00:00Z", "--stock", "25 mg/mL",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # 8 mg/day / 1 mL/day = 8 mg/mL; (30 - 3) mL / 1 mL/day = 27 days; 240 mg / 25 mg/mL.
    assert "concentration: 8 mg/mL" in result.stdout
    assert "refill due: 2026-02-01T10:00:00Z (27.0 days, limited by volume)" in result.stdout
    assert "recipe: 9.6 mL of 25 mg/mL + 20.4 mL diluent" in result.stdout
    bad = run(
        "program", "fixed-rate-plan", MODES / "codman-3000.toml", "--dose", "8 mg",
        "--fill", "30 mL", "--filled-at", "2026-01-05T10:00:00Z",
    )  # fmt: skip
    refused(bad)
    assert "--dose" in bad.stderr


def test_library_devices_json_shows_modes_by_name() -> None:
    # Defect: a mode list in the library made `itp library devices --json` an internal error.
    result = run("library", "devices", "--json")
    assert result.exit_code == 0, result.output
    prometra = json.loads(result.stdout)["devices"]["prometra-ii-20"]["values"]
    assert prometra["modes"]["value"] == ["continuous", "multiple-rates", "periodic-flow"]
    assert prometra["modes"]["verified"] is False
    assert prometra["actuation_volume"]["value"] == 0.002
