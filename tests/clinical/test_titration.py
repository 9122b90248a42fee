"""Titration: capped by hard limits, rounded down to the device step, and always said."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intrathecal.clinical.titration import titrate
from intrathecal.safety.change import allowed_increase_mcg_per_day
from intrathecal.therapy.findings import Severity
from intrathecal.units import InputError
from tests.conftest import example, program_from

BACLOFEN = """
device = "synchromed-ii-20"
catheter_volume = "0.19 mL"
low_reservoir_alarm = "2 mL"
[[drugs]]
name = "baclofen"
concentration = "500 mcg/mL"
[[basal]]
start = "00:00"
dose = "200 mcg/day"
"""


def test_titrate_within_limits_hand_worked() -> None:
    # Morphine-bupivacaine example, -10%: every basal rate x 0.9 -> 0.18 and 0.27 mL/day,
    # periodic bolus 0.02 -> 0.018 mL; morphine 2.866667 -> 2.58 mg/day.
    result = titrate(example("morphine-bupivacaine.toml"), by_fraction=-0.10)
    assert [s.rate_ml_per_day for s in result.program.basal] == [0.18, 0.27]
    assert result.new_doses_mcg_per_day["morphine"] == pytest.approx(2580.0)
    assert not [f for f in result.findings if f.severity is Severity.HARD]


@pytest.mark.parametrize("profile", ["spinal", "cerebral"])
def test_baclofen_titration_is_capped_by_the_origin_profile(profile: str) -> None:
    # +50% requested from 200 mcg/day; the profile's hard per-step limit caps it.
    program = program_from(BACLOFEN)
    drug = program.first.drug
    hard = drug.change_profiles[profile].per_step_hard
    assert hard is not None
    ceiling = 200 + allowed_increase_mcg_per_day(hard.value, 200)
    result = titrate(program, by_fraction=0.5, profile=profile)
    assert result.new_doses_mcg_per_day["baclofen"] <= ceiling + 1e-9
    assert any("capped by the baclofen hard change limit" in c for c in result.constraints)


def test_rounding_to_the_device_step_is_down_and_said() -> None:
    # 2 mg/day at 10 mg/mL = 0.2 mL/day; +7% = 0.214 mL/day, on the step; +7.77% = 0.21554,
    # rounded down to 0.215 and reported.
    program = example("morphine-bupivacaine.toml")
    result = titrate(program, by_fraction=0.0777)
    assert result.program.basal[0].rate_ml_per_day == 0.215
    assert any("rounded down to the device step" in c for c in result.constraints)


def test_titrate_needs_exactly_one_target() -> None:
    with pytest.raises(InputError):
        titrate(example("morphine-bupivacaine.toml"))
    with pytest.raises(InputError):
        titrate(example("morphine-bupivacaine.toml"), by_fraction=-1.5)


@given(st.floats(-0.9, 5.0), st.sampled_from([None, "spinal", "cerebral"]))
def test_titration_never_exceeds_a_hard_limit_after_rounding(
    by: float, profile: str | None
) -> None:
    for program in (example("morphine-bupivacaine.toml"), program_from(BACLOFEN)):
        result = titrate(program, by_fraction=by, profile=profile)
        over = [
            f
            for f in result.findings
            if f.severity is Severity.HARD
            and (f.code.startswith("DAILY_DOSE") or f.code.startswith("DOSE_INCREASE"))
        ]
        assert not over, over
