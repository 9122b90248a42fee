"""Battery (issue 12, item 9): drain with volume and boluses, ERI and EOS from it, low battery
reset. Numbers worked by hand from pump/battery.py: drain per day = 1 + 0.5 x (mL/day), plus
1 h of nominal life per bolus; the labelled service life ("up to") is the longest it lasts."""

from __future__ import annotations

import pytest

from intrathecal.pump import commands as c
from intrathecal.pump.alarms import AlarmCode
from intrathecal.pump.battery import drain_days, time_to_drain
from tests.conftest import DAY, HOUR, MONDAY
from tests.pump.helpers import CONSTANT, DEMAND, SLOW, Pump

FAST = CONSTANT.replace('rate = "0.5 mL/day"', 'rate = "1.5 mL/day"')


def test_pumping_shortens_the_labelled_life_which_is_never_exceeded() -> None:
    # 0.5 mL/day uses 1 + 0.5 x 0.5 = 1.25 nominal days a day: ERI (at 90 nominal days left of
    # 100) after 10 / 1.25 = 8 days, never later than the 10 days of a pump pumping nothing.
    pump = Pump(battery_remaining_s=100 * DAY).start(CONSTANT)
    pump.at(MONDAY + 12 * DAY)
    assert pump.raised_at("elective_replacement") == pytest.approx(MONDAY + 8 * DAY)


def test_more_volume_brings_eri_sooner_and_less_later() -> None:
    # 1.5 mL/day: 1 + 0.5 x 1.5 = 1.75 nominal days a day: ERI after 10 / 1.75 = 5.71 days.
    fast = Pump(battery_remaining_s=100 * DAY).start(FAST).at(MONDAY + 6 * DAY)
    assert fast.raised_at("elective_replacement") == pytest.approx(MONDAY + 10 / 1.75 * DAY)
    # 0.1 mL/day: 1.05 a day: after 10 / 1.05 = 9.52 days.
    slow = Pump(battery_remaining_s=100 * DAY).start(SLOW).at(MONDAY + 17 * DAY)
    assert slow.raised_at("elective_replacement") == pytest.approx(MONDAY + 10 / 1.05 * DAY)
    status = slow.fw.interrogate()["battery"]
    assert "ASSUMED" in status["assumption"]


def test_each_bolus_costs_battery() -> None:
    # 0.5 mL/day plus 3 demand presses a day (0.05 mL each, 0.65 mL in all): per day
    # 1 + 0.5 x 0.65 + 3 / 24 = 1 + 0.325 + 0.125 = 1.45 nominal days: 98.55 left.
    pump = Pump(battery_remaining_s=100 * DAY).start(DEMAND)
    for n in range(3):
        pump.at(MONDAY + n * 5 * HOUR).ok(c.DemandBolus())
    pump.at(MONDAY + DAY)
    assert pump.fw.state.battery_charge_days == pytest.approx(100 - 1.45, abs=1e-6)


def test_time_to_drain_inverts_the_drain() -> None:
    def pumped(t0: float, t1: float) -> float:
        return 0.8 * (t1 - t0) / DAY

    at = time_to_drain(0.0, 7.0, pumped)
    assert drain_days(at, pumped(0.0, at)) == pytest.approx(7.0, abs=1e-5)
    assert time_to_drain(0.0, 7.0, None) == pytest.approx(7 * DAY)  # nothing pumped: the time


def test_low_battery_reset_stops_delivery_until_reprogrammed() -> None:
    pump = Pump().start(CONSTANT).at(MONDAY + HOUR)
    pump.ok(c.InjectFault("low_battery"))
    assert "low_battery_reset" in pump.alarms() and not pump.fw.delivering()
    assert pump.fw.program is None
    pump.ok(c.ClearFault("low_battery"))
    assert "reprogram" in pump.refused(c.ClearAlarm(AlarmCode.LOW_BATTERY_RESET))
    pump.program(CONSTANT)
    pump.ok(c.ClearAlarm(AlarmCode.LOW_BATTERY_RESET))
    assert pump.fw.delivering()
