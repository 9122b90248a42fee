"""Hand-worked delivery scenarios. The working is in each test."""

from __future__ import annotations

import pytest

from intrathecal.engine.delivery import build_delivery, delivered, program_profile
from intrathecal.engine.demand import decide_presses
from tests.conftest import DAY, HOUR, MONDAY, example, program_from

EXAMPLE = "morphine-bupivacaine.toml"


def test_two_step_day_volumes_and_doses() -> None:
    # Morphine 10 mg/mL: 2 mg/day = 0.2 mL/day from 00:00, 3 mg/day = 0.3 mL/day from 08:00;
    # periodic bolus 0.2 mg = 0.02 mL at 12:00 over 30 min.
    program = example(EXAMPLE)
    delivery, _ = build_delivery(program)
    # 00:00-08:00: 0.2 mL/day x 8/24 day = 0.0666667 mL
    assert delivery.volume_between(MONDAY, MONDAY + 8 * HOUR) == pytest.approx(0.2 * 8 / 24)
    # 08:00-12:00: 0.3 x 4/24 = 0.05 mL
    assert delivery.volume_between(MONDAY + 8 * HOUR, MONDAY + 12 * HOUR) == pytest.approx(0.05)
    # 12:00-12:30: basal 0.3 x 0.5/24 = 0.00625 mL + the whole bolus 0.02 mL = 0.02625 mL
    assert delivery.volume_between(MONDAY + 12 * HOUR, MONDAY + 12.5 * HOUR) == pytest.approx(
        0.02625
    )
    # Whole day: 0.0666667 + 0.3 x 16/24 (= 0.2) + 0.02 = 0.2866667 mL
    day = delivered(program, delivery, MONDAY, MONDAY + DAY)
    assert day.volume_ml == pytest.approx(0.2866667, abs=1e-7)
    # Mass balance: morphine 0.2866667 mL x 10 mg/mL = 2.866667 mg; bupivacaine x 5 mg/mL.
    assert day.doses_mcg["morphine"] == pytest.approx(2866.667, abs=1e-3)
    assert day.doses_mcg["bupivacaine"] == pytest.approx(1433.333, abs=1e-3)


def test_low_reservoir_alarm_instant_two_step_day() -> None:
    # 20 mL fill, alarm at 2 mL: 18 mL to deliver at 0.2866667 mL/day (no demand boluses).
    # 62 whole days deliver 62 x 0.2866667 = 17.773333 mL; 0.226667 mL remain on day 63:
    #   00:00-08:00 delivers 0.0666667 -> 0.16 left; 08:00-12:00 0.05 -> 0.11 left;
    #   12:00-12:30 0.02625 -> 0.08375 left; then 0.3 mL/day: 0.08375 / 0.3 day = 6 h 42 min.
    # So the alarm sounds 62 days after the fill, at 12:30 + 6:42 = 19:12 pump time.
    program = example(EXAMPLE)
    delivery, _ = build_delivery(program)
    alarm = delivery.time_at_volume(MONDAY, 20.0 - 2.0)
    assert alarm == pytest.approx(MONDAY + 62 * DAY + 19.2 * HOUR, abs=1e-3)


def test_worst_case_demand_every_allowed_bolus_from_the_start() -> None:
    # Demand 0.1 mg = 0.01 mL over 10 min, lockout 4 h, at most 3 per 24 h: 3 x 4 h <= 24 h, so
    # the worst case is a burst at 00:00, 04:00 and 08:00 each day: +0.03 mL/day.
    program = example(EXAMPLE)
    delivery, _ = build_delivery(program, worst_case_from_s=MONDAY)
    assert delivery.volume_between(MONDAY, MONDAY + DAY) == pytest.approx(0.2866667 + 0.03)
    # The burst: 00:00-00:10 holds one whole bolus (0.01 mL) plus basal 0.2 x 10/1440.
    assert delivery.volume_between(MONDAY, MONDAY + 600) == pytest.approx(0.01 + 0.2 * 600 / DAY)
    # 00:10-04:00 holds no bolus: basal only.
    assert delivery.volume_between(MONDAY + 600, MONDAY + 4 * HOUR) == pytest.approx(
        0.2 * (4 * HOUR - 600) / DAY
    )
    # 18 mL at 0.3166667 mL/day: 56.84 days (vs 62.8 without demand boluses).
    days = (delivery.time_at_volume(MONDAY, 18.0) - MONDAY) / DAY
    assert days == pytest.approx(18 / 0.3166667, rel=1e-3)


def test_press_decisions_lockout_start_to_start_and_rolling_24h_maximum() -> None:
    # Lockout 4 h start to start; at most 3 per rolling 24 h.
    program = example(EXAMPLE)
    assert program.demand is not None
    presses = [1, 2, 5, 10, 15, 24.99, 25]  # hours after Monday 00:00
    decisions = decide_presses(program.demand, [MONDAY + h * HOUR for h in presses])
    accepted = [d.accepted for d in decisions]
    # 01:00 yes; 02:00 only 1 h after 01:00 (lockout); 05:00 yes (exactly 4 h); 10:00 yes;
    # 15:00 would be the 4th since 01:00 (max 3); 00:59:24 next day still inside 24 h of
    # 01:00; 01:00 next day: 01:00 yesterday has left the window (p - 24 h, p].
    assert accepted == [True, False, True, True, False, False, True]
    assert "lockout" in decisions[1].reason
    assert "next allowed at 2026-01-05T05:00:00Z" in decisions[1].reason
    assert "maximum 3 per rolling 24 h" in decisions[4].reason
    assert "next allowed at 2026-01-06T01:00:00Z" in decisions[4].reason


def test_partial_bolus_and_time_inside_a_bolus() -> None:
    # A press at 01:00: 0.01 mL over 10 min = 1.44 mL/day on top of basal 0.2 mL/day.
    program = example(EXAMPLE)
    delivery, _ = build_delivery(program, presses_s=[MONDAY + HOUR])
    # 01:00-01:05: basal 0.2 x 300/86400 = 0.000694 mL + half the bolus 0.005 mL.
    assert delivery.volume_between(MONDAY + HOUR, MONDAY + HOUR + 300) == pytest.approx(
        0.005 + 0.2 * 300 / DAY
    )
    # 0.005 mL from 01:00 at 1.64 mL/day takes 0.005 / 1.64 day = 263.41 s.
    t = delivery.time_at_volume(MONDAY + HOUR, 0.005)
    assert t - (MONDAY + HOUR) == pytest.approx(0.005 / 1.64 * DAY)


def test_weekly_program_weekend_steps() -> None:
    # Weekdays 0.5 mL/day all day; weekend 0.2 mL/day from 00:00 and 0.4 mL/day from 12:00.
    program = program_from(
        """
        device = "synchromed-ii-20"
        catheter_volume = "0.2 mL"
        low_reservoir_alarm = "2 mL"
        [[drugs]]
        name = "morphine"
        concentration = "10 mg/mL"
        [[basal]]
        start = "00:00"
        days = ["mon", "tue", "wed", "thu", "fri"]
        rate = "0.5 mL/day"
        [[basal]]
        start = "00:00"
        days = ["sat", "sun"]
        rate = "0.2 mL/day"
        [[basal]]
        start = "12:00"
        days = ["sat", "sun"]
        rate = "0.4 mL/day"
        """
    )
    assert program.weekly
    delivery, _ = build_delivery(program)
    # Monday..Friday: 5 x 0.5 = 2.5 mL; each weekend day 0.2/2 + 0.4/2 = 0.3 mL -> 3.1 mL/week.
    assert delivery.volume_between(MONDAY, MONDAY + 7 * DAY) == pytest.approx(3.1)
    saturday = MONDAY + 5 * DAY
    assert delivery.volume_between(saturday, saturday + DAY) == pytest.approx(0.3)
    # Friday 23:00 to Saturday 13:00: 1 h at 0.5 + 12 h at 0.2 + 1 h at 0.4 (per day rates).
    assert delivery.volume_between(saturday - HOUR, saturday + 13 * HOUR) == pytest.approx(
        (0.5 * 1 + 0.2 * 12 + 0.4 * 1) / 24
    )


def test_first_step_not_at_midnight_wraps_from_the_last() -> None:
    # Steps at 06:00 (0.4 mL/day) and 22:00 (0.1 mL/day): 00:00-06:00 runs the 22:00 rate.
    program = program_from(
        """
        device = "synchromed-ii-20"
        catheter_volume = "0.2 mL"
        [[drugs]]
        name = "morphine"
        concentration = "10 mg/mL"
        [[basal]]
        start = "06:00"
        rate = "0.4 mL/day"
        [[basal]]
        start = "22:00"
        rate = "0.1 mL/day"
        """
    )
    profile = program_profile(program)
    assert profile.rate_at(MONDAY + 3 * HOUR) == 0.1
    # Day: 6 h x 0.1 + 16 h x 0.4 + 2 h x 0.1 = (0.6 + 6.4 + 0.2)/24 = 0.3 mL.
    assert profile.volume_between(MONDAY, MONDAY + DAY) == pytest.approx(0.3)
