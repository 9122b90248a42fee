"""Review rules for delivery modes and constant-flow pumps (issue 16, items 1 and 4)."""

from __future__ import annotations

from intrathecal.engine.shape import delivery_shape
from intrathecal.library import default_library
from intrathecal.safety.review import RefillContext, ReviewInput, review
from intrathecal.therapy.findings import Severity
from intrathecal.therapy.parse import parse_program
from intrathecal.therapy.program import Program
from tests.conftest import program_from
from tests.safety.test_review_rules import found, message

MONDAY = 1_767_571_200.0
PROMETRA = """
device = "prometra-ii-20"
catheter_volume = "0.2 mL"
low_reservoir_alarm = "3 mL"
[[drugs]]
name = "morphine"
concentration = "10 mg/mL"
"""
CONSTANT = PROMETRA + '[[basal]]\nstart = "00:00"\ndose = "1 mg/day"\n'
PERIODIC = PROMETRA.replace("catheter_volume", 'mode = "periodic-flow"\ncatheter_volume') + (
    '[[periodic_bolus]]\nstart = "08:00"\ndose = "0.5 mg"\nduration = "30 min"\n'
    '[[periodic_bolus]]\nstart = "20:00"\ndose = "0.5 mg"\nduration = "30 min"\n'
)
CODMAN = """
device = "codman-3000"
catheter_volume = "0.2 mL"
[[drugs]]
name = "morphine"
concentration = "{c}"
[[basal]]
start = "00:00"
rate = "1 mL/day"
"""


def program_from_unchecked(text: str) -> Program:
    return parse_program(text, default_library(), check_limits=False)


def test_rule_mode_change_shows_peak_and_trough() -> None:
    # Same 1 mg/day: constant 0.1 mL/day, or 0.05 mL in 30 min twice (2.4 mL/day) and 0 between.
    result = review(ReviewInput(program_from(PERIODIC), program_from(CONSTANT)))
    assert found(result, "MODE_CHANGED") == [Severity.INFO]
    text = message(result, "MODE_CHANGED")
    assert "constant flow -> periodic flow" in text
    assert "peak rate 0.1 mL/day -> 2.4 mL/day" in text
    assert "trough 0.1 mL/day -> 0 mL/day" in text


def test_rule_periodic_flow_states_its_pause() -> None:
    # Doses end at 08:30 and 20:30; the pause 20:30 -> 08:00 is 11 h 30 min.
    result = review(ReviewInput(program_from(PERIODIC)))
    assert found(result, "PERIODIC_FLOW_PAUSE") == [Severity.INFO]
    assert "up to 11.5 h without delivery" in message(result, "PERIODIC_FLOW_PAUSE")
    assert delivery_shape(program_from(PERIODIC)).longest_pause_s == 11.5 * 3600
    assert result.allowed


def test_rule_fixed_rate_dose_changes_only_at_a_refill() -> None:
    old = program_from(CODMAN.format(c="5 mg/mL"))
    new = program_from(CODMAN.format(c="6 mg/mL"))
    without = review(ReviewInput(new, old))
    assert found(without, "FIXED_RATE_DOSE_WITHOUT_REFILL") == [Severity.HARD]
    assert "Codman 3000 constant-flow pump has no program to change" in message(
        without, "FIXED_RATE_DOSE_WITHOUT_REFILL"
    )
    assert not without.allowed
    at_refill = review(ReviewInput(new, old, refill=RefillContext(30.0, MONDAY)))
    assert found(at_refill, "FIXED_RATE_DOSE_WITHOUT_REFILL") == []
    assert found(at_refill, "FIXED_RATE_DOSE_AT_REFILL") == [Severity.INFO]


def test_rule_fixed_rate_pump_keeps_its_labelled_rate() -> None:
    # A rate the pump was not built for is refused, with the concentration that would do it.
    text = CODMAN.format(c="5 mg/mL").replace('rate = "1 mL/day"', 'rate = "2 mL/day"')
    result = review(ReviewInput(program_from_unchecked(text)))
    assert Severity.HARD in found(result, "FIXED_RATE_MISMATCH")


def test_finish_screen_shows_mode_and_peak_rate_side_by_side() -> None:
    result = review(ReviewInput(program_from(PERIODIC), program_from(CONSTANT)))
    rows = {r.setting: r for r in result.comparison}
    assert (rows["delivery mode"].old, rows["delivery mode"].new) == (
        "constant flow",
        "periodic flow (doses, no flow between)",
    )
    assert rows["delivery mode"].change == "changed"
    # Peak 0.1 -> 2.4 mL/day: +2.3 mL/day (+2300%).
    assert rows["peak programmed rate"].change == "+2.3 mL/day (+2300.0%)"
