"""Rules that hold whatever the presses, clock jumps, restarts and commands."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intrathecal.engine.delivery import build_delivery
from intrathecal.library import default_library
from intrathecal.pump import commands as c
from intrathecal.pump.alarms import AlarmCode
from intrathecal.pump.firmware import Firmware
from intrathecal.pump.state import state_from_json, state_to_json
from intrathecal.therapy.parse import parse_program
from tests.conftest import DAY, MONDAY
from tests.pump.helpers import DEMAND, Pump

LOCKOUT_S, MAX_PER_24H = 4 * 3600, 3

actions = st.one_of(
    st.tuples(st.just("wait"), st.floats(0, 3 * DAY)),
    st.tuples(st.just("jump"), st.floats(3 * DAY, 60 * DAY)),
    st.tuples(st.just("press"), st.none()),
    st.tuples(st.just("stop"), st.none()),
    st.tuples(st.just("resume"), st.none()),
    st.tuples(st.just("refill"), st.floats(0.5, 20.0)),
    st.tuples(st.just("clinician"), st.floats(0.001, 0.1)),
    st.tuples(st.just("bridge"), st.floats(0.01, 0.45)),
    st.tuples(st.just("fault"), st.sampled_from(["motor_stall", "catheter_occlusion"])),
    st.tuples(st.just("unfault"), st.sampled_from(["motor_stall", "catheter_occlusion"])),
    st.tuples(st.just("clear"), st.sampled_from([code.value for code in AlarmCode])),
    st.tuples(st.just("clock"), st.integers(-12 * 3600, 12 * 3600)),
    st.tuples(st.just("restart"), st.none()),
)

# Commands after which delivery may legitimately start again.
MAY_RESTART_DELIVERY = {"resume", "clear", "refill"}


def apply(pump: Pump, action: str, value: Any) -> None:
    match action:
        case "wait" | "jump":
            pump.at(pump.now + value)
        case "press":
            pump.send(c.DemandBolus())
        case "stop":
            pump.send(c.Stop())
        case "resume":
            pump.send(c.Resume())
        case "refill":
            pump.send(c.Refill(value))
        case "clinician":
            pump.send(c.Bolus("clinician", value, 3600.0))
        case "bridge":
            pump.send(c.Bolus("bridge", value, 6 * 3600.0))
        case "fault":
            pump.send(c.InjectFault(value))
        case "unfault":
            pump.send(c.ClearFault(value))
        case "clear":
            pump.send(c.ClearAlarm(AlarmCode(value)))
        case "clock":
            pump.send(c.SetClock(pump.now + value))
        case "restart":
            stored = state_to_json(pump.fw.state)
            pump.fw = Firmware(state_from_json(stored), default_library(), pump.fw.events)


def demand_starts(pump: Pump) -> list[float]:
    return [
        e.at_s
        for e in pump.fw.events
        if e.kind == "bolus_started" and e.data.get("kind") == "demand"
    ]


@given(st.lists(actions, max_size=40))
def test_pump_invariants_under_any_sequence(steps: list[tuple[str, Any]]) -> None:
    pump = Pump(battery_remaining_s=200 * DAY).start(DEMAND)
    for action, value in steps:
        before_total = pump.fw.state.delivered_total_ml
        inhibited = bool(pump.fw.inhibitions())
        apply(pump, action, value)
        s = pump.fw.state
        # Mass balance: delivered since the fill + remaining = filled.
        assert s.delivered_since_fill_ml + s.remaining_ml == pytest.approx(s.filled_ml, abs=1e-9)
        assert s.remaining_ml >= 0.0
        assert s.delivered_total_ml >= before_total - 1e-12
        # No delivery while a critical alarm or a stop is active (OPCA-2, OPCA-52).
        if inhibited and action not in MAY_RESTART_DELIVERY:
            assert s.delivered_total_ml == before_total
    # No demand bolus inside the lockout (OPCA-24) or over 3 per rolling 24 h (OPCA-61),
    # checked from the log, in the pump's own time, whatever the clock was set to.
    starts = demand_starts(pump)
    for earlier, later in itertools.pairwise(starts):
        assert later - earlier >= LOCKOUT_S
    for t in starts:
        assert sum(1 for u in starts if t - 86_400 < u <= t) <= MAX_PER_24H
    # Every logged event is numbered in order, with no gap.
    assert [e.seq for e in pump.fw.events] == list(range(1, len(pump.fw.events) + 1))


@given(st.lists(st.floats(0, 20 * DAY), max_size=30))
def test_delivered_volume_is_the_engines_exact_volume(presses: list[float]) -> None:
    # Only presses and the passing of time, 20 days from a 20 mL fill (never empty): the pump's
    # count equals the engine's closed form with the accepted presses as one-off boluses.
    pump = Pump().start(DEMAND)
    for t in sorted(presses):
        pump.at(MONDAY + t)
        pump.send(c.DemandBolus())
    end = MONDAY + 21 * DAY
    pump.at(end)
    program = parse_program(DEMAND, default_library())
    delivery, outcome = build_delivery(program, presses_s=demand_starts(pump))
    assert all(d.accepted for d in outcome.decisions)
    expected = delivery.volume_between(MONDAY, end)
    assert pump.fw.state.delivered_since_fill_ml == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_a_year_is_a_handful_of_steps() -> None:
    # Closed form, not ticks: a year with a press every 8 h costs a few thousand events, and a
    # quiet year after that is only the battery and reservoir events.
    pump = Pump().start(DEMAND)
    for k in range(3 * 30):
        pump.at(MONDAY + k * 8 * 3600)
        pump.send(c.DemandBolus())
    pump.at(MONDAY + 365 * DAY)
    assert pump.fw.state.alarm(AlarmCode.EMPTY_RESERVOIR) is not None
    assert len(pump.fw.events) < 1000
