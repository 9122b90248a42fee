"""Pulsed delivery of a valve-gated pump (issue 16, item 3): hand-worked and for all programs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intrathecal.engine.delivery import build_delivery
from intrathecal.engine.pulses import actuation_times, pulse_summary, pulsed_volume
from intrathecal.therapy.program import Program
from intrathecal.therapy.summary import summarize
from tests.conftest import program_from
from tests.engine.strategies import instants, prometra_programs

DAY = 86_400.0
MONDAY = 1_767_571_200.0  # 2026-01-05 00:00 UTC
STROKE = 0.002  # Prometra actuation volume in the library (unverified, about 2 microlitres)

PERIODIC = """
device = "prometra-ii-20"
mode = "periodic-flow"
catheter_volume = "0.2 mL"
[[drugs]]
name = "morphine"
concentration = "10 mg/mL"
[[periodic_bolus]]
start = "08:00"
dose = "0.5 mg"
duration = "30 min"
[[periodic_bolus]]
start = "20:00"
dose = "0.5 mg"
duration = "30 min"
"""

CONSTANT = """
device = "prometra-ii-20"
mode = "continuous"
catheter_volume = "0.2 mL"
[[drugs]]
name = "morphine"
concentration = "10 mg/mL"
[[basal]]
start = "00:00"
rate = "0.24 mL/day"
"""


def test_constant_flow_actuation_count_interval_and_dose() -> None:
    program = program_from(CONSTANT)
    stroke = program.device.actuation_volume_ml
    assert stroke is not None and stroke.value == STROKE and not stroke.verified
    summary = pulse_summary(program, STROKE)
    # 0.24 mL/day / 0.002 mL = 120 actuations a day; 86400 s / 120 = 720 s (12 min) apart;
    # each holds 0.002 mL x 10 000 mcg/mL = 20 mcg of morphine.
    assert summary.actuations_per_day == pytest.approx(120)
    assert summary.mean_interval_s == pytest.approx(720)
    assert [i.interval_s for i in summary.intervals] == [pytest.approx(720)]
    assert summary.dose_per_actuation_mcg == {"morphine": pytest.approx(20)}
    delivery, _ = build_delivery(program)
    times = actuation_times(delivery, MONDAY, MONDAY + 3600, STROKE)
    # 3600 s / 720 s = 5 actuations, at 12, 24, 36, 48 and 60 min.
    assert times == pytest.approx([MONDAY + 720 * k for k in range(1, 6)])


def test_periodic_flow_actuations_only_while_a_dose_runs() -> None:
    program = program_from(PERIODIC)
    summary = pulse_summary(program, STROKE)
    # 0.1 mL/day / 0.002 mL = 50 a day; during a dose 2.4 mL/day -> 0.002 x 86400 / 2.4 = 72 s.
    assert summary.actuations_per_day == pytest.approx(50)
    assert [i.interval_s for i in summary.intervals] == [pytest.approx(72)]
    delivery, _ = build_delivery(program)
    times = actuation_times(delivery, MONDAY, MONDAY + DAY, STROKE)
    assert len(times) == 50
    # Each dose of 0.05 mL is 25 actuations within its half hour, none between the doses.
    morning = [t for t in times if MONDAY + 8 * 3600 < t <= MONDAY + 8.5 * 3600 + 1e-6]
    assert len(morning) == 25
    assert not [t for t in times if MONDAY + 8.5 * 3600 + 1 < t < MONDAY + 20 * 3600]


def test_a_pulse_view_needs_a_positive_actuation_volume() -> None:
    with pytest.raises(ValueError, match="positive"):
        pulse_summary(program_from(CONSTANT), 0.0)


@settings(max_examples=60, deadline=None)
@given(prometra_programs(), instants, st.floats(0, 3 * DAY))
def test_pulsed_volume_stays_within_one_actuation_of_the_exact_curve(
    program: Program, t0: float, span: float
) -> None:
    delivery, _ = build_delivery(program)
    exact = delivery.volume_between(t0, t0 + span)
    pulsed = pulsed_volume(delivery, t0, t0 + span, STROKE)
    # Never ahead of the exact curve (beyond float noise) and less than one actuation behind.
    assert -1e-9 * STROKE <= exact - pulsed < STROKE
    assert pulsed / STROKE == pytest.approx(round(pulsed / STROKE), abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(prometra_programs())
def test_daily_totals_equal_the_program_and_actuations_match_them(program: Program) -> None:
    delivery, _ = build_delivery(program)
    summary = pulse_summary(program, STROKE)
    days = 7 if program.weekly else 1
    cycle = delivery.volume_between(MONDAY, MONDAY + days * DAY)
    expected = summarize(program).mean_volume_ml_per_day
    assert summary.daily_volume_ml == pytest.approx(expected, rel=1e-9)
    assert cycle / days == pytest.approx(expected, rel=1e-9)
    if cycle / STROKE < 5000:
        count = len(actuation_times(delivery, MONDAY, MONDAY + days * DAY, STROKE))
        assert count == math.floor(cycle / STROKE + 1e-9)
