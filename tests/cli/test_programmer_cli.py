"""The clinician programmer's commands as a user runs them: hand-worked JSON, clean failures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cli.test_cli import EXAMPLE, assert_clean_failure, itp
from tests.conftest import EXAMPLES

NEW = EXAMPLES / "morphine-20.toml"
FILL = ("--filled", "20 mL", "--at", "2026-01-05T00:00:00Z")
# The example admixture holds bupivacaine: every answer for it needs these two decisions.
ADMIXTURE_ACKS = (
    "--ack",
    "DRUG_UNAPPROVED:Dr A:bupivacaine by the clinic's protocol",
    "--ack",
    "ADMIXTURE_UNAPPROVED:Dr A:compounded by the hospital pharmacy",
)


def json_of(*args: object) -> dict[str, Any]:
    result = itp(*map(str, args), "--json")
    assert result.returncode == 0, result.stderr
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def test_refill_plan_json_keys_and_hand_worked_alarm() -> None:
    # 18 mL above the 2 mL alarm at the worst case 0.3166667 mL/day (every demand bolus taken)
    # runs out on day 57 at 20:00 (working in tests/clinical/test_refill.py); stability of both
    # drugs is 90 days, so volume limits.
    payload = json_of("refill", "plan", EXAMPLE, *FILL)
    assert payload["low_reservoir_alarm_at"] == "2026-03-02T20:00:00Z"
    assert payload["refill_due_at"] == "2026-03-02T20:00:00Z"
    assert payload["limited_by"] == "volume"
    assert payload["worst_case_volume_ml_per_day"] == pytest.approx(0.3166667, abs=1e-7)
    assert payload["empty_at"] > payload["low_reservoir_alarm_at"]


def test_refill_plan_margin_moves_the_due_date() -> None:
    payload = json_of("refill", "plan", EXAMPLE, *FILL, "--margin", "3 days")
    assert payload["refill_due_at"] == "2026-02-27T20:00:00Z"


def test_refill_concentration_and_volume() -> None:
    # C = worst-case dose x interval / (fill - alarm) = 3.166667 mg/day x 30 / 18 mL.
    conc = json_of(
        "refill",
        "concentration",
        EXAMPLE,
        "--interval",
        "30 days",
        "--filled",
        "20 mL",
        "--bridge-planned",  # 10 -> 5.28 mg/mL: the old solution is pushed through
        *ADMIXTURE_ACKS,
    )
    # = 5.277778 mg/mL morphine; bupivacaine keeps its ratio: 5 x 5.277778 / 10 = 2.638889.
    assert conc["usable_ml"] == 18.0
    assert conc["concentrations_mcg_per_ml"]["morphine"] == pytest.approx(5277.778, abs=1e-3)
    assert conc["concentrations_mcg_per_ml"]["bupivacaine"] == pytest.approx(2638.889, abs=1e-3)
    # 30 days x 0.3166667 mL/day + 2 mL alarm = 11.5 mL; it fits, so it is not capped.
    volume = json_of("refill", "volume", EXAMPLE, "--interval", "30 days", *ADMIXTURE_ACKS)
    assert volume["fill_ml"] == pytest.approx(11.5)
    assert volume["capped_at_reservoir"] is False


def test_refill_reconcile_pocket_fill_threshold() -> None:
    # Expected 20 - (28 x 0.2866667 + 10 x 0.01) = 11.873333 mL; 10.5 mL back is 1.37 mL short.
    payload = json_of(
        "refill",
        "reconcile",
        EXAMPLE,
        *FILL,
        "--withdrawn",
        "10.5 mL",
        "--withdrawn-at",
        "2026-02-02T00:00:00Z",
        "--boluses",
        "10",
    )
    assert payload["expected_ml"] == pytest.approx(11.873333, abs=1e-6)
    assert payload["withdrawn_ml"] == 10.5
    assert payload["discrepancy_ml"] == pytest.approx(-1.373333, abs=1e-6)
    assert payload["investigate"] is True
    assert any("1 mL" in reason for reason in payload["reasons"])


def test_bridge_json() -> None:
    # Pathway 0.26 mL + catheter 0.19 mL = 0.45 mL at 3 mg/day / 10 mg/mL = 0.3 mL/day: 36 h.
    payload = json_of("bridge", EXAMPLE, NEW, "--ack", "DRUG_STOPPED:Dr A:not tolerated")
    assert payload["volume_ml"] == pytest.approx(0.45)
    assert payload["rate_ml_per_day"] == pytest.approx(0.3)
    assert payload["duration_hours"] == pytest.approx(36.0)


def test_tip_time_and_priming_hazard() -> None:
    # 0.45 mL at 0.15 mL/day = 3 days = 72 h.
    assert json_of("tip-time", NEW, "--rate", "0.15 mL/day")["hours"] == pytest.approx(72.0)
    prime = itp("prime", NEW, "--rate", "24 mL/day")
    assert prime.returncode == 1, prime.stderr  # the hazard is a decision to acknowledge
    assert "HAZARD" in prime.stdout and "supervision" in prime.stdout
    assert prime.stdout.startswith("NEEDS ACKNOWLEDGEMENT")


def test_titrate_json_rounds_and_reports() -> None:
    payload = json_of("titrate", EXAMPLE, "--by", "+20%", *ADMIXTURE_ACKS)
    # 2.866667 mg/day x 1.2 = 3.44 mg/day of morphine.
    assert payload["new_doses_mcg_per_day"]["morphine"] == pytest.approx(3440.0)
    assert payload["allowed"] is True
    assert 'rate = "0.24 mL/day"' in payload["program_toml"]


def test_review_needs_acknowledgement_then_allows() -> None:
    blocked = itp("review", EXAMPLE, NEW, "--json")
    payload = json.loads(blocked.stdout)
    assert payload["allowed"] is False
    assert "DRUG_STOPPED" in payload["unacknowledged"]
    # With the bridge bolus planned the concentration change leaves only DRUG_STOPPED.
    acked = json_of(
        "review", EXAMPLE, NEW, "--bridge-planned", "--ack", "DRUG_STOPPED:Dr A:not tolerated"
    )
    assert acked["allowed"] is True
    row = next(r for r in acked["comparison"] if r["setting"] == "morphine daily dose")
    assert (row["old"], row["new"]) == ("2.86667 mg/day", "3 mg/day")


def test_conversions_show_their_rule() -> None:
    # Baclofen: 50 mcg effective for 6 h (not > 8 h): 2 x 50 = 100 mcg/day (label rule).
    baclofen = json_of("convert", "trial", "baclofen", "--bolus", "50 mcg", "--effect", "6 h")
    assert baclofen["dose_mcg_per_day"] == pytest.approx(100.0)
    # Oral morphine 60 mg/day / 300 = 0.2 mg/day intrathecal.
    route = json_of(
        "convert", "route", "--dose", "60 mg/day", "--from", "oral", "--to", "intrathecal"
    )
    assert route["dose_mcg_per_day"] == pytest.approx(200.0)
    assert "300" in route["rule"]


def test_compound_recipe_json() -> None:
    payload = json_of(
        "compound",
        "--drug",
        "morphine=10 mg/mL",
        "--stock",
        "morphine=25 mg/mL",
        "--volume",
        "20 mL",
        "--overage",
        "3 mL",
    )
    # 23 mL x 10 / 25 = 9.2 mL of stock; diluent 23 - 9.2 = 13.8 mL.
    assert payload["components"][0]["volume_ml"] == pytest.approx(9.2)
    assert payload["diluent_ml"] == pytest.approx(13.8)
    assert payload["total_ml"] == 23.0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (
            ("refill", "plan", EXAMPLE, "--filled", "20 parsecs", "--at", "2026-01-05T00:00:00Z"),
            "--filled",
        ),
        (
            ("refill", "plan", EXAMPLE, "--filled", "-3 mL", "--at", "2026-01-05T00:00:00Z"),
            "--filled",
        ),
        (
            ("refill", "plan", EXAMPLE, "--filled", "30 mL", "--at", "2026-01-05T00:00:00Z"),
            "more than the reservoir holds",
        ),
        (
            (
                "refill",
                "reconcile",
                EXAMPLE,
                *FILL,
                "--withdrawn",
                "25 mL",
                "--withdrawn-at",
                "2026-02-02T00:00:00Z",
            ),
            "withdrawn",
        ),
        (
            (
                "refill",
                "reconcile",
                EXAMPLE,
                *FILL,
                "--withdrawn",
                "5 mL",
                "--withdrawn-at",
                "2025-12-01T00:00:00Z",
            ),
            "withdrawn-at",
        ),
        (("titrate", EXAMPLE, "--by", "lots"), "--by"),
        (
            (
                "compound",
                "--drug",
                "ketamine=10 mg/mL",
                "--stock",
                "ketamine=50 mg/mL",
                "--volume",
                "20 mL",
            ),
            "ketamine",
        ),
        (("tip-time", NEW, "--rate", "3 mg/day"), "--rate"),
    ],
)
def test_bad_programmer_input_fails_cleanly(args: tuple[object, ...], fragment: str) -> None:
    result = itp(*map(str, args))
    assert_clean_failure(result)
    assert fragment in result.stderr
