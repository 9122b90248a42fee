"""Programs and a pump factory shared by the pump tests (times from tests.conftest)."""

from __future__ import annotations

import itertools

from intrathecal.library import default_library
from intrathecal.pump import commands as c
from intrathecal.pump.firmware import Firmware
from intrathecal.pump.state import Json
from tests.conftest import MONDAY

SERIAL = "SN-TEST-1"
DEVICE = "synchromed-ii-20"
MORPHINE = c.Drug("morphine", 10_000.0)  # 10 mg/mL

# 0.5 mL/day all day (5 mg/day morphine), alarm 2 mL, demand 0.05 mL (0.5 mg) over 10 min.
CONSTANT = """
device = "synchromed-ii-20"
catheter_volume = "0.19 mL"
low_reservoir_alarm = "2 mL"

[[drugs]]
name = "morphine"
concentration = "10 mg/mL"

[[basal]]
start = "00:00"
rate = "0.5 mL/day"
"""

DEMAND = (
    CONSTANT
    + """
[demand_bolus]
volume = "0.05 mL"
duration = "10 min"
lockout = "4 h"
max_per_24h = 3
"""
)

# 0.1 mL/day: 20 mL lasts 200 days, long enough to see the battery run out first.
SLOW = CONSTANT.replace('rate = "0.5 mL/day"', 'rate = "0.1 mL/day"')

# 0.2 mL/day from 00:00, 0.8 mL/day from 12:00 (0.5 mL a day).
TWO_STEPS = CONSTANT.replace(
    'rate = "0.5 mL/day"', 'rate = "0.2 mL/day"\n\n[[basal]]\nstart = "12:00"\nrate = "0.8 mL/day"'
)

_ids = itertools.count(1)


class Pump:
    """A firmware with a running clock, for scenario tests: every call carries ``now``."""

    def __init__(self, battery_remaining_s: float | None = None, start_s: float = MONDAY):
        self.fw = Firmware.create(SERIAL, DEVICE, start_s, default_library(), battery_remaining_s)
        self.now = start_s

    def at(self, t: float) -> Pump:
        self.now = t
        self.fw.advance(t)
        return self

    def send(self, command: c.Command, request_id: str | None = None) -> dict[str, Json]:
        return self.fw.handle(request_id or f"r{next(_ids)}", command, self.now)

    def ok(self, command: c.Command) -> dict[str, Json]:
        reply = self.send(command)
        assert reply["ok"], reply
        result = reply["result"]
        assert isinstance(result, dict)
        return result

    def refused(self, command: c.Command) -> str:
        reply = self.send(command)
        assert reply["ok"] is False and reply["code"] == "refused", reply
        return " ".join(e["field"] + ": " + e["message"] for e in reply["errors"])

    def program(self, text: str) -> str:
        checksum = str(self.ok(c.StageProgram(text))["checksum"])
        self.ok(c.ActivateProgram(checksum))
        return checksum

    def start(self, text: str = CONSTANT, volume_ml: float = 20.0) -> Pump:
        self.ok(c.Refill(volume_ml, (MORPHINE,)))
        self.program(text)
        return self

    @property
    def delivered(self) -> float:
        return self.fw.state.delivered_total_ml

    def alarms(self) -> set[str]:
        return {a.code.value for a in self.fw.state.alarms}

    def raised_at(self, code: str) -> float:
        return next(
            e.at_s for e in self.fw.events if e.kind == "alarm_raised" and e.data["code"] == code
        )
