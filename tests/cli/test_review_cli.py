"""`itp review` with history, time, opioid status and a planned bridge, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import assert_clean_failure, itp
from tests.conftest import EXAMPLES

ZICONOTIDE = [EXAMPLES / f"ziconotide-{dose}.toml" for dose in ("2.4", "4.8", "7.2")]
HISTORY = EXAMPLES / "ziconotide-history.toml"


def test_review_history_ziconotide_third_rise_in_24h_is_blocked() -> None:
    # History: 2.4 at 09:00, 4.8 at 21:00; 7.2 at 09:00 next day is 12 h after the last rise.
    result = itp(
        "review", ZICONOTIDE[1], ZICONOTIDE[2], "--history", HISTORY,
        "--at", "2026-03-03T09:00:00Z", "--json",
    )  # fmt: skip
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    assert payload["allowed"] is False
    codes = {f["code"]: f for f in payload["findings"]}
    assert codes["DOSE_INCREASE_INTERVAL_BELOW_HARD"]["severity"] == "hard"
    assert "12.0 h" in codes["DOSE_INCREASE_INTERVAL_BELOW_HARD"]["message"]
    assert payload["at"] == "2026-03-03T09:00:00Z"
    assert [h["at"] for h in payload["history"]] == ["2026-03-02T09:00:00Z", "2026-03-02T21:00:00Z"]
    # Without the history each edit passes the per-step hard limit (soft findings only).
    alone = json.loads(itp("review", ZICONOTIDE[1], ZICONOTIDE[2], "--json").stdout)
    assert not [f for f in alone["findings"] if f["severity"] == "hard"]


def test_review_first_program_opioid_status_selects_the_starting_range(tmp_path: Path) -> None:
    program = tmp_path / "morphine-10.toml"
    program.write_text(
        'device = "synchromed-ii-20"\ncatheter_volume = "0.19 mL"\nlow_reservoir_alarm = "3 mL"\n'
        '[[drugs]]\nname = "morphine"\nconcentration = "10 mg/mL"\n'
        '[[basal]]\nstart = "00:00"\ndose = "10 mg/day"\n'
    )
    naive = json.loads(itp("review", program, "--json").stdout)
    assert "STARTING_DOSE_ABOVE_RANGE" in naive["unacknowledged"]
    tolerant = itp("review", program, "--opioid-tolerant", "--json")
    assert tolerant.returncode == 0, tolerant.stdout
    assert json.loads(tolerant.stdout)["opioid_tolerant"] is True


def test_review_bad_history_fails_cleanly(tmp_path: Path) -> None:
    bad = tmp_path / "history.toml"
    cases = {
        '[[version]]\nat = "2026-03-02T09:00:00"\ndoses = { ziconotide = "2.4 mcg/day" }\n': "UTC",
        '[[version]]\nat = "2026-03-02T09:00:00Z"\ndoses = { zico = "2.4 mcg/day" }\n': "zico",
        '[[version]]\nat = "2026-03-02T09:00:00Z"\ndoses = { ziconotide = "2.4 mL" }\n': "dose",
        '[[version]]\nat = "2026-03-02T09:00:00Z"\n': "either program",
        "[[version]]\nat = 2026-03-02T09:00:00Z\ndoses = {}\ndoze = 1\n": "doze",
    }
    for text, words in cases.items():
        bad.write_text(text)
        result = itp("review", ZICONOTIDE[0], ZICONOTIDE[1], "--history", bad)
        assert_clean_failure(result)
        assert words in result.stdout + result.stderr, (text, result.stdout, result.stderr)
    late = itp(
        "review", ZICONOTIDE[0], ZICONOTIDE[1], "--history", HISTORY,
        "--at", "2026-03-01T00:00:00Z",
    )  # fmt: skip
    assert_clean_failure(late)
    assert "after the time" in late.stdout + late.stderr
