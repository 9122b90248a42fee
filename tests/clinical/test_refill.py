"""Refill plan, concentration for an interval and fill volume: hand-worked, then properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intrathecal.clinical.refill import concentration_for, fill_for, plan
from intrathecal.safety.refill_due import LimitedBy
from intrathecal.units import InputError
from tests.conftest import DAY, HOUR, MONDAY, example

EXAMPLE = "morphine-bupivacaine.toml"


def test_refill_plan_worst_case_alarm_instant() -> None:
    # 20 mL at Monday 00:00, alarm 2 mL: 18 mL with every allowed demand bolus taken.
    # Worst-case day = 0.2866667 + 3 x 0.01 = 0.3166667 mL. 56 days deliver 17.733333 mL;
    # 0.2666667 mL remain on day 57, from 00:00 (demand bursts at 00:00, 04:00, 08:00):
    #   00:00-00:10  0.01 + 0.2 x 600/86400  = 0.0113889  -> 0.2552778 left
    #   00:10-04:00  0.2 x 13800/86400       = 0.0319444  -> 0.2233333
    #   04:00-04:10  0.0113889                            -> 0.2119444
    #   04:10-08:00  0.0319444                            -> 0.18
    #   08:00-08:10  0.01 + 0.3 x 600/86400  = 0.0120833  -> 0.1679167
    #   08:10-12:00  0.3 x 13800/86400       = 0.0479167  -> 0.12
    #   12:00-12:30  0.02 + 0.3 x 1800/86400 = 0.02625    -> 0.09375
    #   then 0.3 mL/day: 0.09375 / 0.3 = 0.3125 day = 7 h 30 min -> 20:00.
    program = example(EXAMPLE)
    due = plan(program, 20.0, MONDAY)
    assert due.low_reservoir_alarm_at_s == pytest.approx(MONDAY + 56 * DAY + 20 * HOUR, abs=1e-3)
    assert due.worst_case_volume_ml_per_day == pytest.approx(0.3166667, abs=1e-7)
    stability = min(i.drug.stability_days.value for i in program.ingredients)
    expected_due = min(due.low_reservoir_alarm_at_s, MONDAY + stability * DAY)
    assert due.refill_due_at_s == pytest.approx(expected_due)
    expected_by = (
        LimitedBy.VOLUME if stability * DAY > 56 * DAY + 20 * HOUR else LimitedBy.STABILITY
    )
    assert due.limited_by is expected_by
    assert due.empty_at_s > due.low_reservoir_alarm_at_s


def test_margin_is_taken_off_the_due_time() -> None:
    program = example(EXAMPLE)
    without = plan(program, 10.0, MONDAY)
    with_margin = plan(program, 10.0, MONDAY, margin_s=3 * DAY)
    assert with_margin.refill_due_at_s == pytest.approx(without.refill_due_at_s - 3 * DAY)


def test_fill_larger_than_the_reservoir_is_refused() -> None:
    with pytest.raises(InputError, match="more than the reservoir holds"):
        plan(example(EXAMPLE), 25.0, MONDAY)


@given(st.floats(2.5, 20.0), st.floats(0, 10 * DAY), st.booleans())
def test_refill_due_is_never_after_the_alarm_or_stability(
    filled: float, margin: float, naive: bool
) -> None:
    due = plan(example(EXAMPLE), filled, MONDAY, margin, naive_pump=naive)
    assert due.refill_due_at_s <= due.low_reservoir_alarm_at_s
    assert due.refill_due_at_s <= due.stability_until_s
    assert due.refill_due_at_s >= MONDAY


def test_concentration_for_a_target_interval() -> None:
    # C = D x interval / (fill - alarm): worst-case morphine 3.166667 mg/day x 30 days / 18 mL
    # = 5.277778 mg/mL; bupivacaine scales the same way: 5 x (5.277778/10) = 2.638889 mg/mL.
    result = concentration_for(example(EXAMPLE), 30.0, 20.0)
    assert result.usable_ml == 18.0
    assert result.admixture_mcg_per_ml["morphine"] == pytest.approx(5277.778, abs=1e-3)
    assert result.admixture_mcg_per_ml["bupivacaine"] == pytest.approx(2638.889, abs=1e-3)


def test_fill_volume_for_an_interval_and_its_cap() -> None:
    # 30 days: 0.3166667 x 30 + 2 mL alarm = 11.5 mL.
    thirty = fill_for(example(EXAMPLE), 30.0)
    assert thirty.fill_ml == pytest.approx(11.5)
    assert not thirty.capped
    # 90 days would need 30.5 mL: capped at the 20 mL reservoir, and said; it lasts
    # (20 - 2) / 0.3166667 = 56.84 days.
    ninety = fill_for(example(EXAMPLE), 90.0)
    assert ninety.capped and ninety.fill_ml == 20.0
    assert ninety.achievable_days == pytest.approx(56.842, abs=1e-3)
    assert any("more than the reservoir holds" in r for r in ninety.reasons)
