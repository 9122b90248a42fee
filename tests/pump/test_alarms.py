"""Each alarm against hand-worked instants, and what it does to delivery."""

from __future__ import annotations

from pathlib import Path

import pytest

from intrathecal.library import default_library
from intrathecal.pump import commands as c
from intrathecal.pump.alarms import AlarmCode
from intrathecal.pump.persistence import STATE, PumpStore
from intrathecal.safety.refill_due import refill_due
from intrathecal.therapy.parse import parse_program
from tests.conftest import DAY, EXAMPLES, HOUR, MONDAY
from tests.pump.helpers import CONSTANT, DEMAND, SLOW, Pump

MINUTE = 60.0


def test_low_reservoir_alarm_at_the_minute_the_refill_plan_predicts() -> None:
    # 20 mL at 0.5 mL/day, alarm 2 mL: 18 mL / 0.5 mL/day = 36 days -> Monday + 36 d 00:00.
    # Empty (no non-retrievable volume on SynchroMed II in the library): 40 days.
    pump = Pump().start(CONSTANT)
    pump.at(MONDAY + 35 * DAY)
    assert pump.alarms() == set()
    pump.at(MONDAY + 45 * DAY)
    plan = refill_due(parse_program(CONSTANT, default_library()), 20.0, MONDAY)
    assert pump.raised_at("low_reservoir") == pytest.approx(MONDAY + 36 * DAY, abs=1e-3)
    assert pump.raised_at("low_reservoir") == pytest.approx(plan.low_reservoir_alarm_at_s, abs=1e-3)
    assert pump.raised_at("empty_reservoir") == pytest.approx(MONDAY + 40 * DAY, abs=1e-3)
    assert pump.raised_at("empty_reservoir") == pytest.approx(plan.empty_at_s, abs=1e-3)


def test_low_reservoir_alarm_with_every_allowed_demand_bolus_matches_the_plan() -> None:
    # The example program with presses at 00:00, 04:00 and 08:00 every day (the worst case the
    # refill plan assumes): tests/clinical/test_refill.py works the alarm out by hand as
    # day 56 at 20:00.
    text = (EXAMPLES / "morphine-bupivacaine.toml").read_text()
    pump = Pump()
    pump.ok(c.Refill(20.0, (c.Drug("morphine", 10_000.0), c.Drug("bupivacaine", 5_000.0))))
    pump.program(text)
    for day in range(57):
        for k in range(3):
            pump.at(MONDAY + day * DAY + k * 4 * HOUR)
            pump.ok(c.DemandBolus())
    pump.at(MONDAY + 58 * DAY)
    plan = refill_due(parse_program(text, default_library()), 20.0, MONDAY)
    expected = MONDAY + 56 * DAY + 20 * HOUR
    assert plan.low_reservoir_alarm_at_s == pytest.approx(expected, abs=1e-3)
    assert pump.raised_at("low_reservoir") == pytest.approx(expected, abs=1e-3)
    # Non-critical: delivery goes on after it.
    assert pump.fw.delivering()


def test_empty_reservoir_is_critical_and_stops_delivery_until_a_refill() -> None:
    pump = Pump().start(DEMAND)
    pump.at(MONDAY + 50 * DAY)  # empty at day 40 (20 mL / 0.5 mL/day)
    assert {"low_reservoir", "empty_reservoir"} <= pump.alarms()
    assert pump.delivered == pytest.approx(20.0)
    assert pump.fw.state.remaining_ml == 0.0
    assert "critical alarm empty_reservoir" in pump.refused(c.DemandBolus())
    assert "empty" in pump.refused(c.ClearAlarm(AlarmCode.EMPTY_RESERVOIR))
    # A 10 mL refill clears both reservoir alarms (10 mL > 2 mL) and delivery restarts:
    # one day later 0.5 mL more has gone.
    pump.ok(c.Refill(10.0, withdrawn_ml=0.0))
    assert pump.alarms() == set()
    pump.at(MONDAY + 51 * DAY)
    assert pump.delivered == pytest.approx(20.5)


def test_eri_keeps_delivery_and_end_of_service_stops_it() -> None:
    # Battery with 100 nominal days left; ERI at 90 nominal days (SynchroMed II).
    # Drain at 0.1 mL/day (pump/battery.py): 1 day + 0.5 x 0.1 mL = 1.05 nominal days a day.
    # ERI after 10 / 1.05 = 9.524 days (0.952 mL delivered), EOS after 100 / 1.05 = 95.238 days
    # (9.524 mL delivered), nothing after.
    pump = Pump(battery_remaining_s=100 * DAY).start(SLOW)
    pump.at(MONDAY + 20 * DAY)
    assert pump.raised_at("elective_replacement") == pytest.approx(MONDAY + 10 / 1.05 * DAY)
    assert pump.delivered == pytest.approx(2.0)  # 20 days x 0.1 mL/day: ERI keeps delivery
    assert "replace" in pump.refused(c.ClearAlarm(AlarmCode.ELECTIVE_REPLACEMENT))
    pump.at(MONDAY + 200 * DAY)
    assert pump.raised_at("end_of_service") == pytest.approx(MONDAY + 100 / 1.05 * DAY)
    assert pump.delivered == pytest.approx(100 / 1.05 * 0.1)
    assert pump.fw.inhibitions() == ["critical alarm end_of_service"]
    checksum = str(pump.ok(c.StageProgram(SLOW))["checksum"])
    assert "end of service" in pump.refused(c.ActivateProgram(checksum))
    assert "cannot be cleared" in pump.refused(c.ClearAlarm(AlarmCode.END_OF_SERVICE))


@pytest.mark.parametrize("fault", ["motor_stall", "catheter_occlusion"])
def test_injected_fault_is_critical_cuts_the_bolus_and_stops_delivery(fault: str) -> None:
    # Day 1 00:00: 0.5 mL delivered; a demand bolus starts (0.05 mL over 10 min) and the fault
    # comes 5 min later: 0.025 mL of the bolus and 0.5 x 300/86400 mL of basal have gone.
    pump = Pump().start(DEMAND)
    pump.at(MONDAY + DAY)
    pump.ok(c.DemandBolus())
    pump.at(MONDAY + DAY + 5 * MINUTE)
    pump.ok(c.InjectFault(fault))
    before = 0.5 + 0.025 + 0.5 * 300 / DAY
    assert pump.delivered == pytest.approx(before)
    cut = next(e for e in pump.fw.events if e.kind == "bolus_cut")
    assert cut.data["delivered_ml"] == pytest.approx(0.025)
    assert cut.data["not_delivered_ml"] == pytest.approx(0.025)
    pump.at(MONDAY + 3 * DAY)
    assert pump.delivered == pytest.approx(before)  # nothing while the alarm stands
    assert "still present" in pump.refused(c.ClearAlarm(AlarmCode(fault)))
    pump.ok(c.ClearFault(fault))
    assert fault in pump.alarms()  # removing the fault does not silence the alarm
    pump.ok(c.ClearAlarm(AlarmCode(fault)))
    pump.at(MONDAY + 4 * DAY)
    assert pump.delivered == pytest.approx(before + 0.5)


def test_alarm_test_is_non_critical() -> None:
    pump = Pump().start(CONSTANT)
    pump.ok(c.AlarmTest())
    assert "alarm_test" in pump.alarms()
    assert "already" in pump.refused(c.AlarmTest())
    pump.at(MONDAY + DAY)
    assert pump.delivered == pytest.approx(0.5)
    pump.ok(c.ClearAlarm(AlarmCode.ALARM_TEST))
    assert pump.alarms() == set()


def test_memory_error_on_a_corrupt_state_is_a_safe_state(tmp_path: Path) -> None:
    library = default_library()
    store, fw = PumpStore.create(tmp_path, "SN9", "synchromed-ii-20", MONDAY, library)
    fw.handle("a", c.Refill(20.0, (c.Drug("morphine", 10_000.0),)), MONDAY)
    staged = fw.handle("b", c.StageProgram(CONSTANT), MONDAY)
    fw.handle("c", c.ActivateProgram(staged["result"]["checksum"]), MONDAY)  # type: ignore[index]
    fw.advance(MONDAY + DAY)
    store.save(fw)
    path = tmp_path / "SN9" / STATE
    data = bytearray(path.read_bytes())
    index = data.index(b'"remaining_ml":') + len(b'"remaining_ml":')
    data[index] = ord("9") if data[index] != ord("9") else ord("8")  # one corrupted digit
    path.write_bytes(bytes(data))

    loaded = PumpStore(tmp_path / "SN9").load(library)
    assert loaded.state.alarm(AlarmCode.MEMORY_ERROR) is not None
    assert loaded.program is None and not loaded.delivering()
    assert [e.kind for e in loaded.events][-1] == "alarm_raised"  # the old log is kept
    t = MONDAY + 2 * DAY
    loaded.advance(t)
    # The total delivered survives (issue 12 defect 5): 0.5 mL/day for the first day, then
    # nothing in the safe state.
    assert loaded.state.delivered_total_ml == pytest.approx(0.5)
    refusal = loaded.handle("d", c.ClearAlarm(AlarmCode.MEMORY_ERROR), t)
    assert refusal["ok"] is False
    assert loaded.handle("e", c.Refill(20.0, (c.Drug("morphine", 10_000.0),)), t)["ok"]
    staged = loaded.handle("f", c.StageProgram(CONSTANT), t)
    assert loaded.handle("g", c.ActivateProgram(staged["result"]["checksum"]), t)["ok"]  # type: ignore[index]
    assert loaded.handle("h", c.ClearAlarm(AlarmCode.MEMORY_ERROR), t)["ok"]
    assert loaded.delivering()
