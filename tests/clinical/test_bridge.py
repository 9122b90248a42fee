"""Bridge and priming boluses and time to the catheter tip, hand-worked."""

from __future__ import annotations

import pytest

from intrathecal.clinical.bridge import bridge, priming, time_to_tip_hours
from intrathecal.units import InputError
from tests.conftest import example, program_from

NEW = """
device = "synchromed-ii-20"
catheter_volume = "0.19 mL"
low_reservoir_alarm = "2 mL"
[[drugs]]
name = "morphine"
concentration = "20 mg/mL"
[[basal]]
start = "00:00"
dose = "3 mg/day"
"""


def test_bridge_bolus_rate_is_new_dose_over_old_concentration() -> None:
    # Old: morphine 10 mg/mL. New: 20 mg/mL at 3 mg/day (0.15 mL/day of new solution).
    # Bridge rate = 3 mg/day / 10 mg/mL = 0.3 mL/day of the OLD solution, so the patient keeps
    # getting 3 mg/day while the old solution in pathway + catheter is pushed through.
    old = example("morphine-bupivacaine.toml")
    new = program_from(NEW)
    result = bridge(old, new)
    pathway = new.device.pathway_volume_ml.value
    volume = pathway + 0.19
    assert result.volume_ml == pytest.approx(volume)
    assert result.rate_ml_per_day == pytest.approx(0.3)
    # duration = volume / rate, in hours: (pathway + 0.19) / 0.3 x 24.
    assert result.duration_hours == pytest.approx(volume / 0.3 * 24)
    # The bridge delivers old solution: volume x 10 mg/mL morphine, x 5 mg/mL bupivacaine.
    assert result.old_solution_doses_mcg["morphine"] == pytest.approx(volume * 10_000)
    assert result.old_solution_doses_mcg["bupivacaine"] == pytest.approx(volume * 5_000)


def test_bridge_between_devices_is_refused() -> None:
    with pytest.raises(InputError, match="different devices"):
        bridge(example("morphine-bupivacaine.toml"), program_from(NEW.replace("-20", "-40")))


def test_priming_bolus_states_the_mixing_hazard() -> None:
    program = program_from(NEW)
    result = priming(program, 24.0)
    volume = program.device.pathway_volume_ml.value + 0.19
    # At 24 mL/day (1 mL/h) the priming volume takes volume / 24 x 24 = volume hours.
    assert result.duration_hours == pytest.approx(volume)
    assert "overdose" in result.hazard and "supervision" in result.hazard


def test_time_to_tip_at_any_rate() -> None:
    program = program_from(NEW)
    volume = program.device.pathway_volume_ml.value + 0.19
    # At 0.5 mL/day: volume / 0.5 days = volume x 48 hours.
    assert time_to_tip_hours(program, 0.5) == pytest.approx(volume * 48)
