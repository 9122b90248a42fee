"""The ``itp`` command as a user runs it: real processes, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

EXAMPLE = EXAMPLES / "morphine-bupivacaine.toml"
ITP = Path(sys.executable).parent / "itp"


def itp(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ITP), *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr


def test_program_check_text_shows_units_and_provenance() -> None:
    result = itp("program", "check", EXAMPLE)
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
    assert "daily volume (mean): 0.286667 mL/day" in result.stdout
    assert "daily dose morphine: 2.86667 mg/day" in result.stdout
    assert "UNVERIFIED" in result.stdout  # unverified device values are shown as such
    assert "Reference calculation for trained clinicians" in result.stdout


def test_program_check_json_and_plot(tmp_path: Path) -> None:
    plot = tmp_path / "rate.png"
    result = itp("program", "check", EXAMPLE, "--json", "--plot", plot)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["valid"] is True
    assert payload["daily_volume_ml"] == pytest.approx(0.2866667, abs=1e-7)
    assert payload["daily_doses_mcg"]["morphine"] == pytest.approx(2866.667, abs=1e-3)
    assert payload["worst_case_daily_volume_ml"] == pytest.approx(0.3166667, abs=1e-7)
    assert payload["device_values"]["min_rate"]["unit"] == "mL/day"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_delivery_json_keys_carry_units() -> None:
    # One day, no demand boluses: 0.2866667 mL; morphine 2866.667 mcg; bupivacaine 1433.333.
    result = itp(
        "delivery",
        EXAMPLE,
        "--from",
        "2026-01-05T00:00:00Z",
        "--to",
        "2026-01-06T00:00:00Z",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["volume_ml"] == pytest.approx(0.2866667, abs=1e-7)
    assert payload["doses_mcg"] == pytest.approx(
        {"morphine": 2866.667, "bupivacaine": 1433.333}, abs=1e-3
    )


def test_delivery_worst_case_and_presses() -> None:
    worst = itp(
        "delivery",
        EXAMPLE,
        "--from",
        "2026-01-05T00:00:00Z",
        "--to",
        "2026-01-06T00:00:00Z",
        "--worst-case",
        "--json",
    )
    # Three demand boluses of 0.01 mL on top of 0.2866667 mL.
    assert json.loads(worst.stdout)["volume_ml"] == pytest.approx(0.3166667, abs=1e-7)
    pressed = itp(
        "delivery",
        EXAMPLE,
        "--from",
        "2026-01-05T00:00:00Z",
        "--to",
        "2026-01-06T00:00:00Z",
        "--presses",
        EXAMPLES / "presses.txt",
        "--json",
    )
    payload = json.loads(pressed.stdout)
    # presses.txt: 01:00 yes, 02:00 lockout, 05:00 yes, 10:00 yes, 15:00 over the maximum.
    assert payload["demand"]["accepted"] == 3
    assert payload["demand"]["refused"] == 2
    assert payload["volume_ml"] == pytest.approx(0.3166667, abs=1e-7)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("program", "check", "nope.toml"), "does not exist"),
        (
            ("delivery", EXAMPLE, "--from", "yesterday", "--to", "2026-01-06T00:00:00Z"),
            "--from: 'yesterday' is not an ISO 8601 time",
        ),
        (
            ("delivery", EXAMPLE, "--from", "2026-01-05T00:00:00", "--to", "2026-01-06T00:00:00Z"),
            "has no UTC offset",
        ),
        (
            ("delivery", EXAMPLE, "--from", "2026-01-06T00:00:00Z", "--to", "2026-01-05T00:00:00Z"),
            "--to",
        ),
        (
            (
                "delivery",
                EXAMPLE,
                "--from",
                "2026-01-05T00:00:00Z",
                "--to",
                "2026-01-06T00:00:00Z",
                "--worst-case",
                "--presses",
                EXAMPLES / "presses.txt",
            ),
            "not both",
        ),
    ],
)
def test_bad_arguments_fail_cleanly(args: tuple[str, ...], fragment: str) -> None:
    result = itp(*args)
    assert_clean_failure(result)
    assert fragment in result.stderr


def test_invalid_program_lists_errors_in_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        EXAMPLE.read_text().replace('"0.19 mL"', '"0.19 mg"').replace("10 mg/mL", "0 mg/mL")
    )
    result = itp("program", "check", bad, "--json")
    assert_clean_failure(result)
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    fields = {e["field"] for e in payload["errors"]}
    assert {"catheter_volume", "drugs[0].concentration"} <= fields


@pytest.mark.parametrize("content", [b"", b"device = [", b"\xff\xfe\x00garbage"])
def test_empty_malformed_or_binary_file(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_bytes(content)
    result = itp("program", "check", bad)
    assert_clean_failure(result)
    assert "error" in result.stderr


def test_bad_presses_file_names_the_line(tmp_path: Path) -> None:
    presses = tmp_path / "presses.txt"
    presses.write_text("2026-01-05T01:00:00Z\nlunchtime\n")
    result = itp(
        "delivery",
        EXAMPLE,
        "--from",
        "2026-01-05T00:00:00Z",
        "--to",
        "2026-01-06T00:00:00Z",
        "--presses",
        presses,
    )
    assert_clean_failure(result)
    assert "line 2" in result.stderr


def test_library_listing_marks_unverified_values() -> None:
    drugs = json.loads(itp("library", "drugs", "--json").stdout)
    assert drugs["drugs"]["ziconotide"]["daily_dose_mcg_per_day"]["hard_max"]["source"]
    devices = itp("library", "devices")
    assert devices.returncode == 0
    assert "UNVERIFIED" in devices.stdout
