"""The virtual pump accepts programs in its device's modes only (issue 16, item 1)."""

from __future__ import annotations

import pytest

from intrathecal.library import default_library
from intrathecal.pump import commands as c
from intrathecal.pump.firmware import Firmware
from intrathecal.units import InputError
from tests.conftest import MONDAY
from tests.pump.helpers import MORPHINE, SERIAL, Pump

PERIODIC = """
device = "prometra-ii-20"
mode = "periodic-flow"
catheter_volume = "0.2 mL"
low_reservoir_alarm = "3 mL"
[[drugs]]
name = "morphine"
concentration = "10 mg/mL"
[[periodic_bolus]]
start = "08:00"
volume = "0.05 mL"
duration = "30 min"
[[periodic_bolus]]
start = "20:00"
volume = "0.05 mL"
duration = "30 min"
"""


def prometra() -> Pump:
    pump = Pump()
    pump.fw = Firmware.create(SERIAL, "prometra-ii-20", MONDAY, default_library())
    return pump


def test_prometra_firmware_runs_periodic_flow_with_nothing_between_doses() -> None:
    pump = prometra()
    pump.ok(c.Refill(20.0, (MORPHINE,)))
    pump.program(PERIODIC)
    pump.at(MONDAY + 7 * 3600)
    assert pump.delivered == pytest.approx(0.0)  # no flow before the 08:00 dose
    pump.at(MONDAY + 9 * 3600)
    assert pump.delivered == pytest.approx(0.05)  # the 08:00 dose, 0.05 mL in 30 min
    pump.at(MONDAY + 19 * 3600)
    assert pump.delivered == pytest.approx(0.05)  # still nothing between the doses
    pump.at(MONDAY + 24 * 3600)
    assert pump.delivered == pytest.approx(0.1)


def test_synchromed_firmware_refuses_periodic_flow_naming_the_device() -> None:
    pump = Pump()
    text = PERIODIC.replace("prometra-ii-20", "synchromed-ii-20")
    refusal = pump.refused(c.StageProgram(text))
    assert "SynchroMed II 20 mL (8637-20) has no periodic-flow mode" in refusal


def test_constant_flow_pump_has_no_firmware() -> None:
    with pytest.raises(InputError, match="constant-flow pump"):
        Firmware.create(SERIAL, "codman-3000", MONDAY, default_library())
