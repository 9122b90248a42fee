"""``itp simulate fleet``: outputs, the same answer on Dask, and bad input refused with its unit
before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from intrathecal.cli.main import app

runner = CliRunner()
FLEET = ["simulate", "fleet", "--years", "1", "--seed", "7", "--no-progress"]


def test_fleet_writes_json_csv_and_chart(tmp_path: Path) -> None:
    table, chart = tmp_path / "fleet.csv", tmp_path / "fleet.png"
    result = runner.invoke(
        app, [*FLEET, "--pumps", "300", "--json", "--csv", str(table), "--chart", str(chart)]
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["pump_years"] == 300.0
    assert set(answer["per_1000_pump_years"]) == {
        "low_reservoir_alarm",
        "empty_reservoir",
        "battery_eri",
    }
    assert table.read_text().startswith("kind,events,per_1000_pump_years,low_95,high_95\n")
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_fleet_on_dask_prints_the_local_answer(dask_scheduler: str) -> None:
    local = runner.invoke(app, [*FLEET, "--pumps", "3000", "--workers", "1", "--json"])
    remote = runner.invoke(
        app,
        [*FLEET, "--pumps", "3000", "--engine", "dask", "--scheduler", dask_scheduler, "--json"],
    )
    assert remote.exit_code == 0, remote.output
    assert json.loads(remote.stdout) == json.loads(local.stdout)


def test_bad_input_exits_2_naming_the_field_and_writes_nothing(tmp_path: Path) -> None:
    table = tmp_path / "fleet.csv"
    bad_rows = tmp_path / "pop.csv"
    bad_rows.write_text("rate_ml_per_day\n0.5\n30\n")
    cases = [
        (["--pumps", "0"], "--pumps", "pumps"),
        (["--pumps", "10", "--years", "0"], "--years", "years"),
        (["--pumps", "10", "--years", "101"], "--years", "years"),
        (["--pumps", "10", "--margin", "2 mL"], "--margin", "duration"),
        (["--pumps", "10", "--rate-min", "0.1 mL"], "--rate-min", "volume rate"),
        (["--pumps", "10", "--device", "nope"], "--device", "unknown device"),
        (["--pumps", "10", "--engine", "dask"], "--scheduler", "address"),
        (["--pumps", "10", "--chart", str(tmp_path / "x.gif")], "--chart", ".png or .svg"),
        (["--population", str(bad_rows)], "--population row 3, rate_ml_per_day", "mL/day"),
        (["--population", str(bad_rows), "--pumps", "2"], "--pumps", "not both"),
        ([], "--pumps", "number of pumps"),
    ]
    for extra, field, words in cases:
        args = [*FLEET, *extra, "--csv", str(table), "--json"]
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (extra, result.output)
        error = json.loads(result.stdout)["errors"][0]
        assert error["field"] == field and words in error["message"], (extra, error)
        assert not table.exists()
