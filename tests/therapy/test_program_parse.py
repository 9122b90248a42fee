"""Program files that must load, with their hand-worked numbers."""

from __future__ import annotations

import pytest

from intrathecal.library.records import Origin
from intrathecal.therapy.summary import device_values, summarize
from tests.conftest import example, program_from

BASE = """
device = "synchromed-ii-20"
catheter_volume = "0.19 mL"
low_reservoir_alarm = "2 mL"
[[drugs]]
name = "morphine"
concentration = "10 mg/mL"
"""


def test_issue_example_loads_as_written() -> None:
    program = example("morphine-bupivacaine.toml")
    assert [i.drug.key for i in program.ingredients] == ["morphine", "bupivacaine"]
    # Rate = dose / concentration of the first drug: 2 mg/day / 10 mg/mL = 0.2 mL/day.
    assert [s.rate_ml_per_day for s in program.basal] == [0.2, 0.3]
    assert [s.start_s for s in program.basal] == [0, 8 * 3600]
    # Periodic 0.2 mg / 10 mg/mL = 0.02 mL over 30 min; demand 0.1 mg = 0.01 mL.
    assert program.periodic[0].volume_ml == pytest.approx(0.02)
    assert program.periodic[0].duration_s == 1800
    assert program.demand is not None
    assert program.demand.volume_ml == pytest.approx(0.01)
    assert program.demand.lockout_s == 4 * 3600
    assert program.demand.max_per_24h == 3
    assert program.catheter_volume_ml == 0.19
    assert program.low_reservoir_alarm_ml == 2.0


def test_daily_summary_of_the_example() -> None:
    # Basal 0.2 x 8/24 + 0.3 x 16/24 = 0.0666667 + 0.2 = 0.2666667 mL, + periodic 0.02 mL
    # = 0.2866667 mL/day; morphine x 10 mg/mL = 2.866667 mg/day; bupivacaine x 5 = 1.433333.
    # Worst case adds 3 demand boluses x 0.01 mL = 0.03 mL/day -> 0.3166667 mL/day.
    summary = summarize(example("morphine-bupivacaine.toml"))
    assert summary.mean_volume_ml_per_day == pytest.approx(0.2866667, abs=1e-7)
    assert summary.doses_mcg_per_day["morphine"] == pytest.approx(2866.667, abs=1e-3)
    assert summary.doses_mcg_per_day["bupivacaine"] == pytest.approx(1433.333, abs=1e-3)
    assert summary.worst_case_volume_ml_per_day == pytest.approx(0.3166667, abs=1e-7)


def test_dose_that_is_not_a_whole_device_step_is_rounded_down_and_said() -> None:
    # 3 mg/day at 7 mg/mL = 0.428571 mL/day; the device step rounds it down (less drug).
    program = program_from(
        BASE.replace('"10 mg/mL"', '"7 mg/mL"') + '[[basal]]\nstart = "00:00"\ndose = "3 mg/day"\n'
    )
    step = program.device.rate_step_ml_per_day.value
    rate = program.basal[0].rate_ml_per_day
    assert rate <= 3 / 7 < rate + step
    assert any("rounded down to the device step" in n.message for n in program.notices)


def test_catheter_length_uses_the_device_volume_per_cm() -> None:
    text = BASE.replace('catheter_volume = "0.19 mL"', 'catheter_length = "50 cm"')
    program = program_from(text + '[[basal]]\nstart = "00:00"\nrate = "0.5 mL/day"\n')
    per_cm = program.device.catheter_ml_per_cm.value
    assert program.catheter_volume_ml == pytest.approx(50 * per_cm)


def test_device_override_is_used_and_marked() -> None:
    program = program_from(
        BASE
        + '[[basal]]\nstart = "00:00"\nrate = "0.5 mL/day"\n'
        + "[device_overrides]\n"
        + 'pathway_volume = { value = "0.3 mL", source = "clinic copy of the implant manual" }\n'
    )
    assert program.device.pathway_volume_ml.value == 0.3
    assert program.device.pathway_volume_ml.origin is Origin.PROGRAM_OVERRIDE
    assert "program override" in program.device.pathway_volume_ml.provenance
    assert program.overridden == frozenset({"pathway_volume"})
    assert device_values(program)["pathway_volume"].origin is Origin.PROGRAM_OVERRIDE


def test_missing_alarm_takes_the_device_default_and_says_so() -> None:
    text = BASE.replace('low_reservoir_alarm = "2 mL"\n', "")
    program = program_from(text + '[[basal]]\nstart = "00:00"\nrate = "0.5 mL/day"\n')
    assert program.low_reservoir_alarm_ml == program.device.low_reservoir_alarm_default_ml.value
    assert any(n.field == "low_reservoir_alarm" for n in program.notices)


def test_fixed_rate_pump_accepts_its_labelled_rate(library: object) -> None:
    from intrathecal.library import default_library

    device = default_library().device("fixed-rate-20")
    assert device.fixed_rates_ml_per_day is not None
    labelled = device.fixed_rates_ml_per_day.value[0]
    program = program_from(
        BASE.replace("synchromed-ii-20", "fixed-rate-20").replace(
            'low_reservoir_alarm = "2 mL"\n', ""
        )
        + f'[[basal]]\nstart = "00:00"\nrate = "{labelled} mL/day"\n'
    )
    assert program.basal[0].rate_ml_per_day == labelled
