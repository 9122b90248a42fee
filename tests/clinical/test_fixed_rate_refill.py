"""Refill planning for a constant-flow pump (issue 16, item 4): the dose is the concentration."""

from __future__ import annotations

import pytest

from intrathecal.clinical.refill import fixed_rate_plan
from intrathecal.safety.refill_due import LimitedBy
from intrathecal.units import InputError
from tests.conftest import program_from

MONDAY = 1_767_571_200.0  # 2026-01-05 00:00 UTC
CODMAN = """
device = "codman-3000"
mode = "fixed-rate"
catheter_volume = "0.2 mL"
[[drugs]]
name = "morphine"
concentration = "5 mg/mL"
[[basal]]
start = "00:00"
rate = "1 mL/day"
"""


def test_fixed_rate_refill_interval_concentration_and_recipe() -> None:
    program = program_from(CODMAN)
    plan = fixed_rate_plan(program, 8000.0, 30.0, MONDAY, stock_mcg_per_ml=25_000.0)
    # Rate fixed at 1 mL/day: 8 mg/day needs 8 mg/mL (the dose moves only with concentration).
    assert plan.concentration_mcg_per_ml == pytest.approx(8000.0)
    # (30 mL fill - 3 mL planning residual) / 1 mL/day = 27 days, before morphine's 90 days.
    assert (plan.due.refill_due_at_s - MONDAY) / 86_400 == pytest.approx(27.0)
    assert plan.due.limited_by is LimitedBy.VOLUME
    # Appendix B: 8 mg/mL x 30 mL = 240 mg; / 25 mg/mL stock = 9.6 mL; diluent 20.4 mL.
    assert plan.drug_amount_mcg == pytest.approx(240_000.0)
    assert plan.stock_ml == pytest.approx(9.6)
    assert plan.diluent_ml == pytest.approx(20.4)
    assert plan.program.basal == program.basal  # the rate is the pump's, untouched
    assert plan.findings == ()


def test_fixed_rate_plan_is_reviewed_as_the_new_solution() -> None:
    # 40 mg/day at 1 mL/day is 40 mg/mL: the program review's concentration limits apply.
    plan = fixed_rate_plan(program_from(CODMAN), 40_000.0, 30.0, MONDAY)
    codes = {f.code for f in plan.findings}
    assert any(c.startswith("CONCENTRATION_ABOVE") for c in codes)


def test_fixed_rate_plan_refuses_a_weak_stock_and_a_programmable_pump() -> None:
    with pytest.raises(InputError, match="use a stronger stock"):
        fixed_rate_plan(program_from(CODMAN), 8000.0, 30.0, MONDAY, stock_mcg_per_ml=5000.0)
    prometra = CODMAN.replace('"codman-3000"', '"prometra-ii-20"').replace(
        'mode = "fixed-rate"', 'mode = "continuous"'
    )
    with pytest.raises(InputError, match="not a fixed-rate pump"):
        fixed_rate_plan(program_from(prometra), 8000.0, 20.0, MONDAY)
    with pytest.raises(InputError, match="reservoir"):
        fixed_rate_plan(program_from(CODMAN), 8000.0, 31.0, MONDAY)


def test_refill_concentration_answer_on_periodic_flow_is_not_limited_by_a_zero_basal() -> None:
    # Defect: the slowest basal step (0 mL/day in periodic flow) made the longest interval 0
    # days, "a stronger solution would run below the device minimum rate". Periodic flow runs
    # no basal, so only the drug and the stability limit the interval: 30 days is offered as is.
    from intrathecal.clinical.answer_review import review_refill_concentration
    from intrathecal.clinical.refill import concentration_for
    from tests.therapy.test_device_modes import PROMETRA_PERIODIC

    program = program_from(PROMETRA_PERIODIC)
    plan = concentration_for(program, 30.0, 20.0)
    reviewed, _ = review_refill_concentration(program, plan)
    assert not [s for s in reviewed.suggestions if "device minimum" in " ".join(s.reasons)]
