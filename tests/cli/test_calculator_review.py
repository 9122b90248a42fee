"""Issue 9, gap 7: every calculator's answer is reviewed like a program before it is used.

Each calculator returns the review's ``findings`` and ``allowed`` with its numbers; not allowed
exits 1 (as ``itp review``), the text says why first, and a safe alternative comes as a
suggestion beside the answer, never in its place. Each case is worked by hand in comments.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_cli import itp
from tests.conftest import EXAMPLES

NEW = EXAMPLES / "morphine-20.toml"  # morphine 20 mg/mL at 3 mg/day, SynchroMed II 20 mL

MORPHINE_12MG = """
device = "synchromed-ii-20"
catheter_volume = "0.19 mL"
low_reservoir_alarm = "2 mL"
[[drugs]]
name = "morphine"
concentration = "20 mg/mL"
[[basal]]
start = "00:00"
dose = "12 mg/day"
"""

ZICONOTIDE = """
device = "synchromed-ii-20"
catheter_volume = "0.19 mL"
low_reservoir_alarm = "2 mL"
[[drugs]]
name = "ziconotide"
concentration = "25 mcg/mL"
[[basal]]
start = "00:00"
dose = "2.4 mcg/day"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run_json(*args: object, code: int) -> dict[str, Any]:
    result = itp(*map(str, args), "--json")
    assert result.returncode == code, result.stdout + result.stderr
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def codes(payload: dict[str, Any], severity: str) -> set[str]:
    return {f["code"] for f in payload["findings"] if f["severity"] == severity}


def suggestion(payload: dict[str, Any], field: str) -> str:
    return str(next(s["value"] for s in payload["suggestions"] if s["field"] == field))


def says_why_first(result: subprocess.CompletedProcess[str], verdict: str) -> None:
    lines = result.stdout.splitlines()
    assert lines[0].startswith(verdict), result.stdout
    assert lines.index("answer:") > 0  # the numbers come after the verdict and findings


def test_refill_concentration_beyond_the_hard_limit_and_stability_is_blocked(
    tmp_path: Path,
) -> None:
    # Morphine 12 mg/day, 20 mL fill, 2 mL alarm, 120 days: C = 12 mg/day x 120 / 18 mL
    # = 80 mg/mL, 3.2 x the 25 mg/mL hard limit; morphine is stable 90 days < 120.
    # Safe alternative: at 25 mg/mL the 18 mL last 25 x 18 / 12 = 37.5 days (< 90 days).
    program = write(tmp_path, "m12.toml", MORPHINE_12MG)
    args = ("refill", "concentration", program, "--interval", "120 days", "--filled", "20 mL")
    payload = run_json(*args, code=1)
    assert payload["concentrations_mcg_per_ml"]["morphine"] == pytest.approx(80_000.0)
    assert payload["allowed"] is False
    assert {"CONCENTRATION_ABOVE_HARD", "REFILL_BEYOND_STABILITY"} <= codes(payload, "hard")
    assert suggestion(payload, "interval") == "37.5 days"
    assert suggestion(payload, "concentration.morphine") == "25 mg/mL"
    # The answer itself is not replaced by the suggestion.
    assert payload["interval_days"] == 120.0
    says_why_first(itp(*map(str, args)), "BLOCKED by hard limits")


def test_refill_concentration_within_every_limit_is_allowed_with_a_bridge() -> None:
    # Morphine 3 mg/day for 30 days on 20 mL: 3 x 30 / 18 = 5 mg/mL (<= 25), 30 <= 90 days.
    # The change from 20 to 5 mg/mL is covered by a planned bridge bolus.
    payload = run_json(
        "refill",
        "concentration",
        NEW,
        "--interval",
        "30 days",
        "--filled",
        "20 mL",
        "--bridge-planned",
        code=0,
    )
    assert payload["concentrations_mcg_per_ml"]["morphine"] == pytest.approx(5000.0)
    assert payload["allowed"] is True
    assert not codes(payload, "hard") and payload["suggestions"] == []


def test_refill_concentration_change_without_a_bridge_shows_the_transient() -> None:
    # 20 -> 5 mg/mL at 3 mg/day: the new rate is 3 / 5 = 0.6 mL/day. The old 20 mg/mL left in
    # the pathway (0.26 mL) and catheter (0.19 mL) runs at 0.6 mL/day: 20 x 0.6 = 12 mg/day
    # for 0.45 / 0.6 x 24 = 18 h: a fourfold rise (below the 20 mg/day maximum, but beyond the
    # hard change limit of 50% in one step).
    payload = run_json(
        "refill", "concentration", NEW, "--interval", "30 days", "--filled", "20 mL", code=1
    )
    assert "TRANSIENT_DOSE_INCREASE_PER_STEP_ABOVE_HARD" in codes(payload, "hard")
    message = next(f["message"] for f in payload["findings"] if f["code"].startswith("TRANSIENT"))
    assert "18.0 h" in message and "12 mg/day" in message


def test_refill_volume_beyond_the_reservoir_and_stability_is_blocked() -> None:
    # 3 mg/day at 20 mg/mL = 0.15 mL/day; 130 days need 0.15 x 130 + 2 = 21.5 mL > 20 mL:
    # capped at 20 mL, which lasts 18 / 0.15 = 120 days to the alarm; stability 90 days.
    payload = run_json("refill", "volume", NEW, "--interval", "130 days", code=1)
    assert payload["fill_ml"] == 20.0 and payload["capped_at_reservoir"] is True
    assert "REFILL_BEYOND_STABILITY" in codes(payload, "hard")
    assert "ALARM_BEFORE_REFILL" in codes(payload, "soft")
    assert suggestion(payload, "interval") == "90 days"


def test_refill_volume_within_limits_is_allowed() -> None:
    # 0.15 mL/day x 30 days + 2 mL alarm = 6.5 mL; the alarm sounds at day 30, not before.
    payload = run_json("refill", "volume", NEW, "--interval", "30 days", code=0)
    assert payload["fill_ml"] == pytest.approx(6.5)
    assert payload["allowed"] is True


def test_titrate_answers_what_was_asked_and_suggests_the_capped_dose(tmp_path: Path) -> None:
    # Ziconotide 2.4 -> 7.2 mcg/day (+200%) is +4.8 mcg/day in one step, over the 2.4 mcg/day
    # hard step: blocked, and 2.4 + 2.4 = 4.8 mcg/day is suggested, not substituted.
    program = write(tmp_path, "zic.toml", ZICONOTIDE)
    out = tmp_path / "new.toml"
    payload = run_json("titrate", program, "--by", "+200%", "--write", out, code=1)
    assert payload["new_doses_mcg_per_day"]["ziconotide"] == pytest.approx(7.2)
    assert "DOSE_INCREASE_PER_STEP_ABOVE_HARD" in codes(payload, "hard")
    assert suggestion(payload, "dose.ziconotide") == "4.8 mcg/day"
    assert payload["written"] is None and not out.exists()


def test_titrate_within_limits_is_allowed_and_written(tmp_path: Path) -> None:
    # Morphine 3 -> 3.6 mg/day (+20%): 0.15 x 1.2 = 0.18 mL/day at 20 mg/mL.
    out = tmp_path / "new.toml"
    payload = run_json("titrate", NEW, "--by", "+20%", "--write", out, code=0)
    assert payload["allowed"] is True and out.exists()


def test_convert_trial_above_the_daily_dose_limit_is_blocked() -> None:
    # Baclofen 1000 mcg effective for 6 h (not > 8 h): 2 x 1000 = 2000 mcg/day, above the
    # 1000 mcg/day hard daily limit; the concentration assumed for the review is stated.
    payload = run_json(
        "convert", "trial", "baclofen", "--bolus", "1000 mcg", "--effect", "6 h", code=1
    )
    assert payload["dose_mcg_per_day"] == pytest.approx(2000.0)
    assert "DAILY_DOSE_ABOVE_HARD" in codes(payload, "hard")
    assert any("--device" in note for note in payload["notes"])


def test_convert_trial_within_limits_is_allowed() -> None:
    # Baclofen 50 mcg for 6 h: 100 mcg/day.
    payload = run_json(
        "convert", "trial", "baclofen", "--bolus", "50 mcg", "--effect", "6 h", code=0
    )
    assert payload["allowed"] is True


def test_convert_route_to_intrathecal_is_reviewed() -> None:
    # Oral morphine 9000 mg/day / 300 = 30 mg/day intrathecal, above the 20 mg/day hard limit.
    payload = run_json(
        "convert", "route", "--dose", "9000 mg/day", "--from", "oral", "--to", "intrathecal", code=1
    )
    assert payload["dose_mcg_per_day"] == pytest.approx(30_000.0)
    assert "DAILY_DOSE_ABOVE_HARD" in codes(payload, "hard")


def test_convert_opioid_switch_is_reviewed() -> None:
    # IT hydromorphone 4 mg/day x 6 = 24 mg/day IT morphine, above the 20 mg/day hard limit.
    payload = run_json(
        "convert",
        "opioid",
        "--dose",
        "4 mg/day",
        "--from",
        "hydromorphone",
        "--to",
        "morphine",
        code=1,
    )
    assert payload["dose_mcg_per_day"] == pytest.approx(24_000.0)
    assert "DAILY_DOSE_ABOVE_HARD" in codes(payload, "hard")


def test_compound_above_the_concentration_limit_is_blocked_with_a_suggestion() -> None:
    # 30 mg/mL morphine from 50 mg/mL stock: 30 x 20 / 50 = 12 mL of stock + 8 mL diluent;
    # 30 > 25 mg/mL hard; 100 days > 90 days of stability.
    payload = run_json(
        "compound",
        "--drug",
        "morphine=30 mg/mL",
        "--stock",
        "morphine=50 mg/mL",
        "--volume",
        "20 mL",
        "--interval",
        "100 days",
        code=1,
    )
    assert payload["components"][0]["volume_ml"] == pytest.approx(12.0)
    assert {"CONCENTRATION_ABOVE_HARD", "REFILL_BEYOND_STABILITY"} <= codes(payload, "hard")
    assert suggestion(payload, "concentration.morphine") == "25 mg/mL"
    assert suggestion(payload, "interval") == "90 days"


def test_bridge_of_an_old_admixture_over_a_daily_limit_is_blocked(tmp_path: Path) -> None:
    # Old: morphine 1 mg/mL + bupivacaine 15 mg/mL at 1 mL/day (1 mg + 15 mg a day).
    # New: morphine 2 mg/mL + bupivacaine 15 mg/mL at 1.5 mg/day morphine (0.75 mL/day).
    # Bridge rate = new dose / old concentration = 1.5 / 1 = 1.5 mL/day of the old solution:
    # bupivacaine 1.5 x 15 = 22.5 mg/day, above its 20 mg/day hard limit.
    old = write(tmp_path, "old.toml", _admixture(1, 15, 1))
    new = write(tmp_path, "new.toml", _admixture(2, 15, 1.5))
    payload = run_json("bridge", old, new, code=1)
    assert payload["rate_ml_per_day"] == pytest.approx(1.5)
    hard = [f for f in payload["findings"] if f["severity"] == "hard"]
    assert any(
        f["code"] == "DAILY_DOSE_ABOVE_HARD" and f["field"] == "bridge.drugs[1]" for f in hard
    )


def _admixture(morphine_mg_per_ml: float, bupivacaine_mg_per_ml: float, dose: float) -> str:
    return f"""
device = "synchromed-ii-20"
catheter_volume = "0.19 mL"
low_reservoir_alarm = "2 mL"
[[drugs]]
name = "morphine"
concentration = "{morphine_mg_per_ml} mg/mL"
[[drugs]]
name = "bupivacaine"
concentration = "{bupivacaine_mg_per_ml} mg/mL"
[[basal]]
start = "00:00"
dose = "{dose} mg/day"
"""


def test_prime_above_the_device_bolus_maximum_is_blocked() -> None:
    # 0.26 mL pathway + 0.19 mL catheter = 0.45 mL at 30 mL/day > the 24 mL/day maximum;
    # at 24 mL/day it takes 0.45 / 24 x 24 = 0.45 h (suggested).
    payload = run_json("prime", NEW, "--rate", "30 mL/day", code=1)
    assert "PRIMING_RATE_ABOVE_DEVICE_MAX" in codes(payload, "hard")
    assert "PRIMING_MIXING_HAZARD" in codes(payload, "soft")
    assert suggestion(payload, "rate") == "24 mL/day"


def test_prime_is_allowed_once_the_hazards_are_acknowledged() -> None:
    # 0.45 mL x 20 mg/mL = 9 mg of morphine in the priming volume, above the per-bolus limit:
    # a second decision to record with the mixing hazard.
    payload = run_json(
        "prime",
        NEW,
        "--ack",
        "PRIMING_MIXING_HAZARD:Dr A:primed under supervision in recovery",
        "--ack",
        "PRIMING_VOLUME_ABOVE_BOLUS_LIMIT:Dr A:observed for 24 h",
        code=0,
    )
    assert payload["allowed"] is True
    assert payload["drug_in_priming_volume_mcg"]["morphine"] == pytest.approx(9000.0)


def test_a_hard_finding_cannot_be_acknowledged_away() -> None:
    result = itp(
        "prime", NEW, "--rate", "30 mL/day", "--ack", "PRIMING_RATE_ABOVE_DEVICE_MAX:Dr A:urgent"
    )
    assert result.returncode == 2
    assert "cannot be acknowledged" in result.stderr
