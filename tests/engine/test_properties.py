"""Properties of the delivery engine that hold for every program (hypothesis)."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from intrathecal.engine.delivery import build_delivery, program_profile
from intrathecal.engine.demand import WINDOW_S, decide_presses
from intrathecal.engine.fleet import Fleet
from intrathecal.engine.tick_oracle import tick_volume
from intrathecal.therapy.program import Program
from tests.engine.strategies import demand_boluses, instants, programs

DAY = 86_400.0


@given(programs(), instants, st.floats(0, 20 * DAY), st.floats(0, 20 * DAY))
def test_cumulative_delivery_is_monotone_and_additive(
    program: Program, t0: float, a: float, b: float
) -> None:
    delivery, _ = build_delivery(program)
    t1, t2 = t0 + min(a, b), t0 + max(a, b)
    first = delivery.volume_between(t0, t1)
    second = delivery.volume_between(t1, t2)
    whole = delivery.volume_between(t0, t2)
    assert first >= -1e-12 and second >= -1e-12
    assert whole == pytest.approx(first + second, rel=1e-9, abs=1e-9)


@given(programs(), instants, st.floats(0, 30 * DAY))
def test_mass_balance_dose_is_volume_times_concentration(
    program: Program, t0: float, span: float
) -> None:
    delivery, _ = build_delivery(program)
    volume = delivery.volume_between(t0, t0 + span)
    doses = program.doses_mcg(volume)
    for ingredient in program.ingredients:
        assert doses[ingredient.drug.key] == pytest.approx(
            volume * ingredient.concentration_mcg_per_ml, rel=1e-12
        )


@given(programs(with_demand=False), instants, st.integers(60, 2 * 86_400))
def test_closed_form_agrees_with_the_tick_oracle(program: Program, t0: float, span: int) -> None:
    # The oracle samples the rate at each 60 s tick's midpoint; a tick that straddles a rate
    # change errs by at most |change| x tick. Bound: breakpoints inside x max rate x tick.
    tick = 60.0
    profile = program_profile(program)
    t1 = t0 + span
    exact = profile.volume_between(t0, t1)
    oracle = tick_volume(profile.rate_at, t0, t1, tick)
    changes = sum(1 for _ in profile.breakpoints_between(t0, t1))
    bound = changes * max(profile.rates_ml_per_day) * tick / DAY + 1e-9
    assert abs(exact - oracle) <= bound


@given(programs(), instants, st.floats(1e-6, 25.0))
def test_time_to_volume_inverts_delivered_volume(
    program: Program, t0: float, volume: float
) -> None:
    delivery, _ = build_delivery(program)
    t = delivery.time_at_volume(t0, volume)
    assert t >= t0
    assert delivery.volume_between(t0, t) == pytest.approx(volume, rel=1e-9, abs=1e-9)
    # And nothing earlier suffices: one second before, less than the volume was delivered.
    if t - 1 > t0:
        assert delivery.volume_between(t0, t - 1) < volume


@given(programs(with_demand=True), instants, st.floats(1e-6, 5.0), st.data())
def test_time_to_volume_inverts_with_demand_presses(
    program: Program, t0: float, volume: float, data: st.DataObject
) -> None:
    offsets = data.draw(st.lists(st.floats(0, 5 * DAY), max_size=30))
    delivery, _ = build_delivery(program, presses_s=[t0 + o for o in offsets])
    t = delivery.time_at_volume(t0, volume)
    assert delivery.volume_between(t0, t) == pytest.approx(volume, rel=1e-9, abs=1e-9)


@given(demand_boluses(), st.lists(st.floats(0, 10 * DAY), max_size=80), st.data())
def test_no_demand_bolus_inside_lockout_or_over_the_24h_maximum(
    demand: object, offsets: list[float], data: st.DataObject
) -> None:
    # OPCA-24 (lockout start to start) and OPCA-61 (maximum per rolling 24 h).
    from intrathecal.therapy.program import DemandBolus

    assert isinstance(demand, DemandBolus)
    history = data.draw(st.lists(st.floats(-2 * DAY, 0), max_size=5, unique=True))
    history = sorted(history)
    # History itself must obey the rules for the claim to be about the decisions made here.
    kept = [d.at_s for d in decide_presses(demand, history) if d.accepted]
    decisions = decide_presses(demand, offsets, kept)
    starts = kept + [d.at_s for d in decisions if d.accepted]
    for earlier, later in pairwise(starts):
        assert later - earlier >= demand.lockout_s
    for i, start in enumerate(starts):
        in_window = [s for s in starts[: i + 1] if start - WINDOW_S < s <= start]
        assert len(in_window) <= demand.max_per_24h
    for d in decisions:
        assert d.reason


@given(programs(with_demand=True), instants, st.data())
def test_worst_case_delivers_at_least_any_press_pattern(
    program: Program, t0: float, data: st.DataObject
) -> None:
    offsets = data.draw(st.lists(st.floats(0, 4 * DAY), max_size=40))
    horizon = data.draw(st.floats(0, 4 * DAY))
    worst, _ = build_delivery(program, worst_case_from_s=t0)
    pressed, _ = build_delivery(program, presses_s=[t0 + o for o in offsets])
    assert worst.volume_between(t0, t0 + horizon) >= pressed.volume_between(t0, t0 + horizon) - 1e-9


@given(st.lists(programs(), min_size=1, max_size=8), st.data())
def test_vectorised_fleet_matches_each_pump(programs_: list[Program], data: st.DataObject) -> None:
    profiles = [program_profile(p) for p in programs_]
    fleet = Fleet.of(profiles)
    t0 = np.array([data.draw(instants) for _ in profiles])
    volume = np.array([data.draw(st.floats(0.0, 40.0)) for _ in profiles])
    times = fleet.time_at_volume(t0, volume)
    for i, profile in enumerate(profiles):
        expected = profile.time_at_volume(float(t0[i]), float(volume[i]))
        assert times[i] == pytest.approx(expected, rel=1e-12, abs=1e-3)
    t1 = t0 + np.array([data.draw(st.floats(0, 30 * DAY)) for _ in profiles])
    volumes = fleet.volume_between(t0, t1)
    for i, profile in enumerate(profiles):
        expected = profile.volume_between(float(t0[i]), float(t1[i]))
        assert volumes[i] == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_time_to_volume_of_a_zero_volume_is_now() -> None:
    from tests.conftest import MONDAY, example

    delivery, _ = build_delivery(example("morphine-bupivacaine.toml"))
    assert delivery.time_at_volume(MONDAY, 0.0) == MONDAY
    assert math.isfinite(delivery.time_at_volume(MONDAY, 1e-9))
