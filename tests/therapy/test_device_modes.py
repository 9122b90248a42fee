"""Programs in each device's own modes (issue 16, item 1), with hand-worked numbers."""

from __future__ import annotations

import pytest

from intrathecal.engine.delivery import build_delivery
from intrathecal.library import default_library
from intrathecal.library.records import DeliveryMode
from intrathecal.therapy.errors import InvalidProgramError
from intrathecal.therapy.modes import device_modes, mode_spec
from intrathecal.therapy.parse import parse_program
from intrathecal.therapy.serialize import to_toml
from intrathecal.therapy.summary import summarize
from tests.conftest import program_from

MONDAY = 1_767_571_200.0  # 2026-01-05 00:00 UTC, a Monday

PROMETRA_PERIODIC = """
device = "prometra-ii-20"
mode = "periodic-flow"
catheter_volume = "0.2 mL"
low_reservoir_alarm = "3 mL"
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

SYNCHROMED = """
device = "synchromed-ii-20"
catheter_volume = "0.19 mL"
low_reservoir_alarm = "2 mL"
[[drugs]]
name = "morphine"
concentration = "10 mg/mL"
"""


def _errors(text: str) -> str:
    with pytest.raises(InvalidProgramError) as caught:
        parse_program(text, default_library())
    return str(caught.value)


def test_prometra_periodic_flow_delivers_its_doses_with_zero_flow_between() -> None:
    program = program_from(PROMETRA_PERIODIC)
    assert program.mode is DeliveryMode.PERIODIC_FLOW
    # Each dose 0.5 mg / 10 mg/mL = 0.05 mL over 30 min; two a day = 0.1 mL/day = 1 mg/day.
    assert summarize(program).mean_volume_ml_per_day == pytest.approx(0.1)
    delivery, _ = build_delivery(program)
    eight, half_past, eight_pm = MONDAY + 8 * 3600, MONDAY + 8.5 * 3600, MONDAY + 20 * 3600
    assert delivery.rate_at(MONDAY + 12 * 3600) == 0.0  # no flow between the doses
    assert delivery.rate_at(MONDAY + 3 * 3600) == 0.0
    assert delivery.volume_between(half_past, eight_pm) == 0.0
    assert delivery.volume_between(eight, half_past) == pytest.approx(0.05)
    # 0.05 mL over 1800 s = 2.4 mL/day while the dose runs.
    assert delivery.rate_at(eight + 60) == pytest.approx(2.4)
    assert delivery.volume_between(MONDAY, MONDAY + 86_400) == pytest.approx(0.1)


def test_periodic_flow_needs_no_basal_minimum() -> None:
    # The old model required a basal of at least 0.048 mL/day on every pump: no longer here.
    program = program_from(PROMETRA_PERIODIC)
    assert all(step.rate_ml_per_day == 0.0 for step in program.basal)


def test_periodic_flow_refuses_a_basal_and_needs_a_dose() -> None:
    with_basal = PROMETRA_PERIODIC + '[[basal]]\nstart = "00:00"\nrate = "0.1 mL/day"\n'
    assert "no flow between" in _errors(with_basal)
    no_dose = PROMETRA_PERIODIC.split("[[periodic_bolus]]", maxsplit=1)[0]
    assert "at least one [[periodic_bolus]]" in _errors(no_dose)


def test_a_mode_the_device_lacks_is_refused_with_the_device_named() -> None:
    text = (
        SYNCHROMED.replace(
            'device = "synchromed-ii-20"', 'device = "synchromed-ii-20"\nmode = "periodic-flow"'
        )
        + '[[periodic_bolus]]\nstart = "08:00"\ndose = "0.5 mg"\nduration = "30 min"\n'
    )
    message = _errors(text)
    assert "Medtronic SynchroMed II 20 mL (8637-20) has no periodic-flow mode" in message
    assert "its modes: continuous, flex" in message
    flex_on_prometra = PROMETRA_PERIODIC.replace('"periodic-flow"', '"flex"')
    assert "Flowonix Prometra II 20 mL (REF 13827) has no flex mode" in _errors(flex_on_prometra)
    assert "not a delivery mode" in _errors(PROMETRA_PERIODIC.replace('"periodic-flow"', '"x"'))


def test_a_program_cannot_give_its_device_a_mode() -> None:
    text = PROMETRA_PERIODIC.replace('mode = "periodic-flow"', 'mode = "continuous"') + (
        '[device_overrides]\nmodes = { value = ["periodic-flow"], source = "me" }\n'
    )
    assert "cannot be overridden" in _errors(text)


def test_a_program_without_a_mode_keeps_its_old_meaning() -> None:
    one = program_from(SYNCHROMED + '[[basal]]\nstart = "00:00"\ndose = "1 mg/day"\n')
    assert one.mode is DeliveryMode.CONTINUOUS
    two = program_from(
        SYNCHROMED + '[[basal]]\nstart = "00:00"\ndose = "1 mg/day"\n'
        '[[basal]]\nstart = "08:00"\ndose = "2 mg/day"\n'
    )
    assert two.mode is DeliveryMode.FLEX
    prometra = program_from(
        PROMETRA_PERIODIC.replace('mode = "periodic-flow"\n', "").split("[[periodic_bolus]]")[0]
        + '[[basal]]\nstart = "00:00"\ndose = "1 mg/day"\n'
        '[[basal]]\nstart = "08:00"\ndose = "2 mg/day"\n'
    )
    assert prometra.mode is DeliveryMode.MULTIPLE_RATES


def test_continuous_mode_is_one_rate_all_day() -> None:
    text = SYNCHROMED.replace(
        'device = "synchromed-ii-20"', 'device = "synchromed-ii-20"\nmode = "continuous"'
    )
    steps = (
        '[[basal]]\nstart = "00:00"\ndose = "1 mg/day"\n'
        '[[basal]]\nstart = "08:00"\ndose = "2 mg/day"\n'
    )
    assert "continuous mode is one rate all day" in _errors(text + steps)
    assert "mode = 'flex'" in _errors(text + steps)


def test_fixed_rate_pump_has_only_its_labelled_rate() -> None:
    text = """
device = "codman-3000"
mode = "fixed-rate"
catheter_volume = "0.2 mL"
[[drugs]]
name = "morphine"
concentration = "10 mg/mL"
[[basal]]
start = "00:00"
rate = "1 mL/day"
"""
    program = program_from(text)
    assert program.mode is DeliveryMode.FIXED_RATE
    assert summarize(program).mean_volume_ml_per_day == pytest.approx(1.0)
    bad = text.replace('mode = "fixed-rate"', 'mode = "continuous"')
    assert "Codman 3000 constant-flow pump has no continuous mode" in _errors(bad)
    demand = text + '[demand_bolus]\nvolume = "0.1 mL"\nduration = "10 min"\n'
    demand += 'lockout = "4 h"\nmax_per_24h = 2\n'
    assert "has no demand bolus" in _errors(demand)


def test_periodic_flow_round_trips_through_toml() -> None:
    program = program_from(PROMETRA_PERIODIC)
    again = program_from(to_toml(program))
    assert again.mode is DeliveryMode.PERIODIC_FLOW
    assert again.periodic == program.periodic and again.basal == program.basal


def test_editor_is_offered_the_device_modes_only() -> None:
    library = default_library()
    prometra = [s.mode for s in device_modes(library.device("prometra-ii-40"))]
    assert prometra == [
        DeliveryMode.CONTINUOUS,
        DeliveryMode.MULTIPLE_RATES,
        DeliveryMode.PERIODIC_FLOW,
    ]
    synchromed = device_modes(library.device("synchromed-ii-20"))
    assert [s.label for s in synchromed] == ["simple continuous", "flex dosing (timed steps)"]
    assert synchromed[1].max_steps_per_day == 13
    periodic = mode_spec(library.device("prometra-ii-20"), DeliveryMode.PERIODIC_FLOW)
    assert periodic.max_steps_per_day == 0
    assert [f.key for f in periodic.fields] == ["periodic_bolus", "demand_bolus"]
    assert [s.mode for s in device_modes(library.device("codman-3000"))] == [
        DeliveryMode.FIXED_RATE
    ]
    with pytest.raises(ValueError, match="has no periodic-flow mode"):
        mode_spec(library.device("synchromed-ii-20"), DeliveryMode.PERIODIC_FLOW)


def test_the_labelling_words_for_a_mode_are_accepted() -> None:
    text = PROMETRA_PERIODIC.replace('"periodic-flow"', '"Periodic Flow"')
    assert program_from(text).mode is DeliveryMode.PERIODIC_FLOW
    constant = (
        PROMETRA_PERIODIC.replace('"periodic-flow"', '"constant flow"').split("[[periodic_bolus]]")[
            0
        ]
        + '[[basal]]\nstart = "00:00"\ndose = "1 mg/day"\n'
    )
    assert program_from(constant).mode is DeliveryMode.CONTINUOUS
    simple = SYNCHROMED.replace(
        'device = "synchromed-ii-20"', 'device = "synchromed-ii-20"\nmode = "simple_continuous"'
    )
    simple += '[[basal]]\nstart = "00:00"\ndose = "1 mg/day"\n'
    assert program_from(simple).mode is DeliveryMode.CONTINUOUS
