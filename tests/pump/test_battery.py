"""Battery (issue 12, item 9): drain with volume and boluses, ERI and EOS from it, low battery
reset. Numbers worked by hand from pump/battery.py: drain per day = 0.5 + 0.5 x (mL/day) / 0.5,
plus 1 h of nominal life per bolus."""

from __future__ import annotations

import pytest

from intrathecal.pump import commands as c
from intrathecal.pump.alarms import AlarmCode
from intrathecal.pump.battery import drain_days, time_to_drain
from tests.conftest import DAY, HOUR, MONDAY
from tests.pump.helpers import CONSTANT, DEMAND, SLOW, Pump

FAST = CONSTANT.replace('rate = "0.5 mL/day"', 'rate = "1.5 mL/day"')


def test_at_the_nominal_volume_the_battery_lasts_its_service_life() -> None:
    # 0.5 mL/day uses 0.5 + 0.5 = 1 nominal day a day: 100 days of charge last 100 days
    # (ERI at 90 nominal days left = day 10).
    pump = Pump(battery_remaining_s=100 * DAY).start(CONSTANT)
    pump.at(MONDAY + 12 * DAY)
    assert pump.raised_at("elective_replacement") == pytest.approx(MONDAY + 10 * DAY)


def test_more_volume_brings_eri_sooner_and_less_later() -> None:
    # 1.5 mL/day: 0.5 + 0.5 x 3 = 2 nominal days a day: ERI after 10 / 2 = 5 days.
    fast = Pump(battery_remaining_s=100 * DAY).start(FAST).at(MONDAY + 6 * DAY)
    assert fast.raised_at("elective_replacement") == pytest.approx(MONDAY + 5 * DAY)
    # 0.1 mL/day: 0.6 a day: after 10 / 0.6 = 16.67 days.
    slow = Pump(battery_remaining_s=100 * DAY).start(SLOW).at(MONDAY + 17 * DAY)
    assert slow.raised_at("elective_replacement") == pytest.approx(MONDAY + 10 / 0.6 * DAY)
    status = slow.fw.interrogate()["battery"]
    assert "ASSUMED" in status["assumption"]


def test_each_bolus_costs_battery() -> None:
    # 0.5 mL/day plus 3 demand presses a day (0.05 mL each, 0.65 mL in all): per day
    # 0.5 + 0.5 x 0.65 / 0.5 + 3 / 24 = 0.5 + 0.65 + 0.125 = 1.275 nominal days: 98.725 left.
    pump = Pump(battery_remaining_s=100 * DAY).start(DEMAND)
    for n in range(3):
        pump.at(MONDAY + n * 5 * HOUR).ok(c.DemandBolus())
    pump.at(MONDAY + DAY)
    assert pump.fw.state.battery_charge_days == pytest.approx(100 - 1.275, abs=1e-6)


def test_time_to_drain_inverts_the_drain() -> None:
    def pumped(t0: float, t1: float) -> float:
        return 0.8 * (t1 - t0) / DAY

    at = time_to_drain(0.0, 7.0, pumped)
    assert drain_days(at, pumped(0.0, at)) == pytest.approx(7.0, abs=1e-5)
    assert time_to_drain(0.0, 7.0, None) == pytest.approx(14 * DAY)  # fixed part only


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
