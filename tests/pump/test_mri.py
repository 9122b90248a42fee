"""MRI scenarios per device (issue 12, item 10), with the missed volume and doses worked by hand,
and the clinic's MRI plan (clinical/mri.py) against the same numbers."""

from __future__ import annotations

import pytest

from intrathecal.clinical.mri import MriResponse, mri_plan
from intrathecal.library import default_library
from intrathecal.pump import commands as c
from intrathecal.pump.alarms import AlarmCode
from intrathecal.pump.firmware import Firmware
from intrathecal.therapy.parse import parse_program
from tests.conftest import DAY, HOUR, MONDAY
from tests.pump.helpers import CONSTANT, Pump

MINUTE = 60.0

# Baclofen 500 mcg/mL at 0.4 mL/day = 200 mcg/day on a Prometra II 20 mL.
PROMETRA = """
device = "prometra-ii-20"
catheter_volume = "0.2 mL"
low_reservoir_alarm = "3 mL"

[[drugs]]
name = "baclofen"
concentration = "500 mcg/mL"

[[basal]]
start = "00:00"
rate = "0.4 mL/day"
"""
BACLOFEN = c.Drug("baclofen", 500.0)


def prometra_pump() -> Pump:
    pump = Pump.__new__(Pump)
    pump.fw = Firmware.create("SN-PROM-1", "prometra-ii-20", MONDAY, default_library())
    pump.now = MONDAY
    pump.ok(c.Refill(20.0, (BACLOFEN,)))
    pump.program(PROMETRA)
    return pump


def test_synchromed_ii_mri_motor_stall_then_check_by_interrogation() -> None:
    # 0.5 mL/day of morphine 10 mg/mL. Scan at 10:00 for 45 min.
    pump = Pump().start(CONSTANT).at(MONDAY + 10 * HOUR)
    pump.ok(c.MriExposure(45 * MINUTE))
    assert "mri_motor_stall" in pump.alarms() and not pump.fw.delivering()
    assert "in the field" in pump.refused(c.ClearAlarm(AlarmCode.MRI_MOTOR_STALL))
    # Predictions account for the missed delivery: 20 - 0.5 x 10/24 = 19.791667 mL left; the
    # 2 mL alarm needs 17.791667 mL more at 0.5 mL/day = 35.583333 days from 10:45.
    status = pump.fw.interrogate()
    expected_low = MONDAY + 10.75 * HOUR + 17.791667 / 0.5 * DAY
    assert status["predictions"]["low_reservoir_alarm_at_s"] == pytest.approx(expected_low)
    pump.at(MONDAY + 11 * HOUR)
    # Missed: 0.5 mL/day x 0.75 h / 24 h = 0.015625 mL = 0.15625 mg of morphine.
    missed = [e for e in pump.fw.events if e.kind == "mri_missed"][-1]
    assert missed.data["missed_ml"] == pytest.approx(0.015625)
    assert pump.alarms() == {"mri_check"} and pump.fw.delivering()
    # The interrogation that finds the pump delivering clears the check.
    pump.send(c.Interrogate())
    assert pump.alarms() == set()
    pump.at(MONDAY + DAY)
    # Delivered over the day: 0.5 x (24 - 0.75) / 24 = 0.484375 mL.
    assert pump.delivered == pytest.approx(0.484375)


def test_prometra_ii_mri_valve_closes_until_reset() -> None:
    # 0.4 mL/day of baclofen 500 mcg/mL, NOT emptied (the pump warns). Scan 10:00-10:30;
    # valve reset at 14:00.
    pump = prometra_pump().at(MONDAY + 10 * HOUR)
    result = pump.ok(c.MriExposure(30 * MINUTE))
    assert result["discharged_ml"] == pytest.approx(0.010)  # at most 10 microlitres
    kinds = [e.kind for e in pump.fw.events]
    assert "mri_warning" in kinds  # the reservoir was not emptied
    assert "mri_valve_closed" in pump.alarms() and not pump.fw.delivering()
    pump.at(MONDAY + 12 * HOUR)  # out of the field: the valve stays closed
    assert "mri_valve_closed" in pump.alarms() and not pump.fw.delivering()
    pump.at(MONDAY + 14 * HOUR)
    pump.ok(c.ClearAlarm(AlarmCode.MRI_VALVE_CLOSED))
    # Missed 10:00-14:00: 0.4 x 4/24 = 0.0666667 mL = 33.33 mcg of baclofen.
    missed = [e for e in pump.fw.events if e.kind == "mri_missed"][-1]
    assert missed.data["missed_ml"] == pytest.approx(0.4 * 4 / 24)
    pump.at(MONDAY + DAY)
    # Delivered: 0.4 x 10/24 + 0.010 + 0.4 x 10/24 = 0.343333 mL; the invariant holds.
    assert pump.delivered == pytest.approx(0.4 * 20 / 24 + 0.010)
    s = pump.fw.state
    assert s.remaining_ml + s.delivered_since_fill_ml == pytest.approx(s.filled_ml)


def test_prometra_at_3_tesla_is_logged_outside_its_conditions() -> None:
    pump = prometra_pump().at(MONDAY + HOUR)
    pump.ok(c.MriExposure(20 * MINUTE, 3.0))
    messages = " ".join(e.message for e in pump.fw.events if e.kind == "mri_warning")
    assert "1.5 T only" in messages


def test_the_mri_plan_for_synchromed_uses_the_same_numbers() -> None:
    program = parse_program(CONSTANT, default_library())
    plan = mri_plan(program, MONDAY + 10 * HOUR, 45 * MINUTE)
    assert plan.response is MriResponse.MOTOR_STALL
    # Scan only: 0.015625 mL; with 24 h recovery: 0.5 x 24.75 / 24 = 0.515625 mL.
    assert plan.withheld_ml_low == pytest.approx(0.015625)
    assert plan.withheld_ml_high == pytest.approx(0.515625)
    (morphine,) = plan.drugs
    assert morphine.withheld == "0.156 mg to 5.16 mg" and morphine.daily == "5 mg/day"
    assert not morphine.high_risk and "opioid withdrawal" in morphine.risk
    assert any("Interrogate" in step for step in plan.after)


def test_the_mri_plan_for_prometra_baclofen_is_high_risk_and_empties_first() -> None:
    program = parse_program(PROMETRA, default_library())
    # Emptied 1 h before a 30 min scan, reset and refilled 2 h after: 3.5 h without drug,
    # 0.4 x 3.5/24 = 0.0583333 mL = 29.2 mcg of baclofen.
    plan = mri_plan(program, MONDAY + 10 * HOUR, 30 * MINUTE)
    assert plan.withheld_ml_low == plan.withheld_ml_high == pytest.approx(0.4 * 3.5 / 24)
    (baclofen,) = plan.drugs
    assert baclofen.withheld == "29.2 mcg" and baclofen.high_risk
    assert plan.before[0].startswith("Baclofen")
    assert any("Empty all drug" in step for step in plan.before)
    assert any("Reset the flow-activated valve" in step for step in plan.after)
    assert any("STOP" in s for s in mri_plan(program, MONDAY, 1800, field_t=3.0).before)


def test_synchromed_sounding_an_alarm_waits_for_an_interrogation_after_the_scan() -> None:
    # TGA hazard alert: a pump that enters the field while alarming does not resume until it is
    # interrogated. The alarm test sounds at 10:00; scan 10:00-10:30; interrogation at 12:00.
    pump = Pump().start(CONSTANT).at(MONDAY + 10 * HOUR)
    pump.ok(c.AlarmTest())
    pump.ok(c.MriExposure(30 * MINUTE))
    pump.at(MONDAY + 12 * HOUR)
    assert not pump.fw.delivering()
    assert any("telemetry mode" in r for r in pump.fw.inhibitions())
    pump.send(c.Interrogate())
    assert pump.fw.delivering() and "mri_check" not in pump.alarms()
    pump.at(MONDAY + DAY)
    # Nothing from 10:00 to 12:00: 0.5 x 22 / 24 = 0.458333 mL over the day.
    assert pump.delivered == pytest.approx(0.5 * 22 / 24)


def pump_on(device: str, text: str, drug: c.Drug) -> Pump:
    pump = Pump.__new__(Pump)
    pump.fw = Firmware.create(f"SN-{device}", device, MONDAY, default_library())
    pump.now = MONDAY
    pump.ok(c.Refill(20.0, (drug,)))
    pump.program(text.replace('device = "synchromed-ii-20"', f'device = "{device}"'))
    return pump


@pytest.mark.parametrize("device", ["synchromed-ii-20", "synchromed-ii-40"])
def test_each_synchromed_misses_the_scan_and_the_plan_agrees(device: str) -> None:
    # 0.5 mL/day of morphine 10 mg/mL; 60 min in the field from 06:00: 0.5 / 24 = 0.0208333 mL
    # missed, 0.208333 mg of morphine.
    pump = pump_on(device, CONSTANT, c.Drug("morphine", 10_000.0)).at(MONDAY + 6 * HOUR)
    pump.ok(c.MriExposure(HOUR))
    pump.at(MONDAY + 8 * HOUR)
    missed = [e for e in pump.fw.events if e.kind == "mri_missed"][-1].data["missed_ml"]
    assert missed == pytest.approx(0.5 / 24)
    program = parse_program(
        CONSTANT.replace('device = "synchromed-ii-20"', f'device = "{device}"'), default_library()
    )
    plan = mri_plan(program, MONDAY + 6 * HOUR, HOUR)
    assert plan.withheld_ml_low == pytest.approx(missed)
    assert plan.drugs[0].withheld.startswith("0.208 mg")


@pytest.mark.parametrize("device", ["prometra-ii-20", "prometra-ii-40"])
def test_each_prometra_ii_discharges_at_most_10_microlitres(device: str) -> None:
    text = PROMETRA.replace('device = "prometra-ii-20"', 'device = "synchromed-ii-20"')
    pump = pump_on(device, text, BACLOFEN).at(MONDAY + HOUR)
    assert pump.ok(c.MriExposure(HOUR))["discharged_ml"] == pytest.approx(0.010)
    # 0.010 mL of baclofen 500 mcg/mL = 5 mcg as the valve closes.
    assert pump.fw.state.delivered_total_ml == pytest.approx(0.4 / 24 + 0.010)


def test_a_fixed_rate_pump_has_no_mri_facts_and_says_so() -> None:
    text = CONSTANT.replace('device = "synchromed-ii-20"', 'device = "fixed-rate-20"')
    program = parse_program(text, default_library())
    plan = mri_plan(program, MONDAY, HOUR)
    assert plan.response is MriResponse.NOT_KNOWN
    assert "UNVERIFIED" in plan.before[0]
