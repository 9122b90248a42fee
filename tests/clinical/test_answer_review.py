"""The answer review (issue 9, gap 7): pure cases and properties of the suggestions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intrathecal.clinical.answer_review import (
    review_priming,
    review_refill_concentration,
    scaled_program,
)
from intrathecal.clinical.bridge import priming
from intrathecal.clinical.refill import concentration_for
from intrathecal.safety.review import Acknowledgement
from intrathecal.therapy.findings import Severity
from intrathecal.units import InputError
from tests.conftest import program_from

MORPHINE = """
device = "synchromed-ii-20"
catheter_volume = "0.19 mL"
low_reservoir_alarm = "2 mL"
[[drugs]]
name = "morphine"
concentration = "20 mg/mL"
[[basal]]
start = "00:00"
dose = "{dose} mg/day"
"""
HARD_MCG_PER_ML = 25_000.0  # morphine's hard concentration limit
STABLE_DAYS = 90.0  # morphine's stability in the reservoir


def test_scaled_program_keeps_the_doses_and_rounds_down() -> None:
    # 3 mg/day at 20 mg/mL = 0.15 mL/day; x1.4 stronger (28 mg/mL): 0.15 / 1.4 = 0.107142...
    # mL/day, rounded down to the 0.001 step: 0.107 mL/day = 2.996 mg/day, said.
    program = program_from(MORPHINE.format(dose=3))
    scaled, notes = scaled_program(program, 1.4)
    assert scaled.first.concentration_mcg_per_ml == pytest.approx(28_000.0)
    assert scaled.basal[0].rate_ml_per_day == 0.107
    assert notes and "rounded down" in notes[0]


def test_refill_concentration_hard_findings_name_the_numbers() -> None:
    # 12 mg/day x 120 days / 18 mL = 80 mg/mL: "80 mg/mL ... above the hard limit 25 mg/mL".
    program = program_from(MORPHINE.format(dose=12))
    plan = concentration_for(program, 120, 20)
    reviewed, new = review_refill_concentration(program, plan)
    hard = {f.code: f.message for f in reviewed.hard}
    assert "80 mg/mL" in hard["CONCENTRATION_ABOVE_HARD"]
    assert "120.0 days" in hard["REFILL_BEYOND_STABILITY"]
    assert new.first.concentration_mcg_per_ml == pytest.approx(80_000.0)
    assert not reviewed.allowed


@settings(max_examples=40, deadline=None)
@given(
    dose_mg=st.floats(1.0, 19.0),  # >= 0.05 mL/day at 20 mg/mL, above the pump minimum
    fill_ml=st.floats(5.0, 20.0),
    interval_days=st.floats(1.0, 200.0),
)
def test_no_answer_beyond_a_hard_limit_is_allowed_and_every_suggestion_is_safe(
    dose_mg: float, fill_ml: float, interval_days: float
) -> None:
    program = program_from(MORPHINE.format(dose=round(dose_mg, 3)))
    plan = concentration_for(program, interval_days, fill_ml)
    reviewed, _ = review_refill_concentration(program, plan)
    beyond = plan.concentration_mcg_per_ml > HARD_MCG_PER_ML or interval_days > STABLE_DAYS
    if beyond:
        assert not reviewed.allowed
    if beyond or reviewed.suggestions:
        days = float({s.field: s.value for s in reviewed.suggestions}["interval"].split()[0])
        assert days <= min(interval_days, STABLE_DAYS)
        # The suggestion, reviewed in turn, has no hard finding of concentration, stability or
        # device rate.
        safe = concentration_for(program, days, fill_ml)
        again, _ = review_refill_concentration(program, safe)
        assert {f.code for f in again.hard}.isdisjoint(
            {"CONCENTRATION_ABOVE_HARD", "REFILL_BEYOND_STABILITY", "RATE_BELOW_DEVICE_MIN"}
        )


def test_priming_mixing_hazard_is_a_decision_to_record() -> None:
    program = program_from(MORPHINE.format(dose=3))
    answer = priming(program)
    reviewed = review_priming(program, answer)
    hazard = next(f for f in reviewed.findings if f.code == "PRIMING_MIXING_HAZARD")
    assert hazard.severity is Severity.SOFT and not reviewed.allowed
    with pytest.raises(InputError, match="not a finding"):
        review_priming(program, answer, [Acknowledgement("NO_SUCH_CODE", "Dr A", "why")])
    with pytest.raises(InputError, match="who and why"):
        review_priming(program, answer, [Acknowledgement("PRIMING_MIXING_HAZARD", "Dr A", " ")])
