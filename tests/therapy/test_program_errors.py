"""Bad program files: each gives a clear error naming the field, and nothing runs."""

from __future__ import annotations

import pytest

from intrathecal.therapy.errors import InvalidProgramError
from intrathecal.units import InputError
from tests.conftest import program_from

HEADER = """
device = "synchromed-ii-20"
catheter_volume = "0.19 mL"
low_reservoir_alarm = "2 mL"
"""
MORPHINE = '[[drugs]]\nname = "morphine"\nconcentration = "10 mg/mL"\n'
STEP = '[[basal]]\nstart = "00:00"\ndose = "2 mg/day"\n'


def errors_of(text: str) -> list[InputError]:
    with pytest.raises((InvalidProgramError, InputError)) as caught:
        program_from(text)
    error = caught.value
    return error.errors if isinstance(error, InvalidProgramError) else [error]


def assert_error(text: str, field: str, fragment: str) -> None:
    errors = errors_of(text)
    matching = [e for e in errors if e.field.startswith(field) and fragment in e.message]
    assert matching, f"no error on {field!r} with {fragment!r}; got {[str(e) for e in errors]}"


def test_valid_baseline() -> None:
    program_from(HEADER + MORPHINE + STEP)


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ("", "program", "is empty"),
        ("device = [", "program", "is not valid TOML"),
        (
            HEADER.replace("synchromed-ii-20", "medipump-9000") + MORPHINE + STEP,
            "device",
            "unknown device",
        ),
        (HEADER + MORPHINE.replace("morphine", "ketamine") + STEP, "drugs[0].name", "unknown drug"),
        (
            HEADER + MORPHINE.replace("10 mg/mL", "0 mg/mL") + STEP,
            "drugs[0].concentration",
            "greater than zero",
        ),
        (
            HEADER + MORPHINE.replace("10 mg/mL", "-10 mg/mL") + STEP,
            "drugs[0].concentration",
            "greater than zero",
        ),
        (
            HEADER + MORPHINE.replace("10 mg/mL", "nan mg/mL") + STEP,
            "drugs[0].concentration",
            "not a finite number",
        ),
        (
            HEADER + MORPHINE.replace("10 mg/mL", "10 mg") + STEP,
            "drugs[0].concentration",
            "expected a concentration",
        ),
        (
            HEADER.replace('"0.19 mL"', '"0.19 mg"') + MORPHINE + STEP,
            "catheter_volume",
            "expected a volume",
        ),
        (HEADER.replace('"2 mL"', '"2"') + MORPHINE + STEP, "low_reservoir_alarm", "no unit"),
        (
            HEADER + MORPHINE + STEP.replace("2 mg/day", "2 mL"),
            "basal[0].dose",
            "expected a dose rate",
        ),
        (
            HEADER + MORPHINE + '[[basal]]\nstart = "00:00"\nrate = "0.01 mL/day"\n',
            "basal[0]",
            "below the device minimum",
        ),
        (
            HEADER + MORPHINE + '[[basal]]\nstart = "00:00"\nrate = "0.1234 mL/day"\n',
            "basal[0].rate",
            "not a multiple of the device rate step",
        ),
        (HEADER + MORPHINE + STEP + STEP, "basal[1].start", "overlaps"),
        (
            HEADER + MORPHINE + '[[basal]]\nstart = "08:00"\ndose = "2 mg/day"\n' + STEP,
            "basal[1].start",
            "in order of start time",
        ),
        (
            HEADER + MORPHINE + '[[basal]]\nstart = "25:00"\ndose = "2 mg/day"\n',
            "basal[0].start",
            "not a time",
        ),
        (
            HEADER
            + MORPHINE
            + '[[basal]]\nstart = "00:00"\ndose = "2 mg/day"\nrate = "0.2 mL/day"\n',
            "basal[0]",
            "exactly one of",
        ),
        (HEADER + MORPHINE, "basal", "at least one"),
        (HEADER + STEP, "drugs", "at least one"),
        (HEADER + MORPHINE + STEP + "colour = 'blue'\n", "basal[0].colour", "unknown key"),
        (HEADER + MORPHINE + STEP + "speling = 1\n", "", "unknown key"),
        (
            HEADER + MORPHINE + STEP.replace("2 mg/day", "500 mg/day"),
            "drugs[0]",
            "above the hard limit",
        ),
        (
            HEADER + MORPHINE.replace("10 mg/mL", "500 mg/mL") + STEP,
            "drugs[0].concentration",
            "above the hard limit",
        ),
        (
            HEADER.replace('"2 mL"', '"25 mL"') + MORPHINE + STEP,
            "low_reservoir_alarm",
            "outside the device range",
        ),
        (
            HEADER + MORPHINE + '[[drugs]]\nname = "morphine"\nconcentration = "5 mg/mL"\n' + STEP,
            "drugs[1].name",
            "listed twice",
        ),
        (
            HEADER
            + MORPHINE
            + '[[drugs]]\nname = "baclofen"\nconcentration = "500 mcg/mL"\n'
            + STEP,
            "drugs[1].name",
            "must not be mixed",
        ),
        (
            HEADER
            + MORPHINE
            + STEP
            + '[demand_bolus]\ndose = "0.1 mg"\nduration = "5 h"\nlockout = "4 h"\n'
            + "max_per_24h = 3\n",
            "demand_bolus.duration",
            "longer than the lockout",
        ),
        (
            HEADER
            + MORPHINE
            + STEP
            + '[demand_bolus]\ndose = "0.1 mg"\nduration = "10 min"\nlockout = "4 h"\n'
            "max_per_24h = 0\n",
            "demand_bolus.max_per_24h",
            "at least 1",
        ),
        (
            HEADER
            + MORPHINE
            + STEP
            + '[demand_bolus]\ndose = "0.1 mg/mL"\nduration = "10 min"\nlockout = "4 h"\n'
            "max_per_24h = 2\n",
            "demand_bolus.dose",
            "expected a mass",
        ),
        (
            HEADER
            + MORPHINE
            + STEP
            + '[[periodic_bolus]]\nstart = "12:00"\ndose = "0.2 mg"\nduration = "2 h"\n'
            + '[[periodic_bolus]]\nstart = "13:00"\ndose = "0.2 mg"\nduration = "30 min"\n',
            "periodic_bolus[1].start",
            "overlaps",
        ),
        (
            HEADER + MORPHINE + '[[basal]]\nstart = "00:00"\ndays = ["mon"]\ndose = "2 mg/day"\n',
            "basal",
            "no basal step runs on tue",
        ),
        (
            HEADER
            + MORPHINE
            + '[[basal]]\nstart = "00:00"\ndays = ["funday"]\ndose = "2 mg/day"\n',
            "basal[0].days",
            "not a weekday",
        ),
        (
            HEADER.replace('catheter_volume = "0.19 mL"\n', "") + MORPHINE + STEP,
            "catheter_volume",
            "exactly one of",
        ),
        (
            HEADER
            + MORPHINE
            + STEP
            + '[device_overrides]\nwarp_factor = { value = "9 mL", source = "x" }\n',
            "device_overrides.warp_factor",
            "not a device constant",
        ),
        (
            HEADER
            + MORPHINE
            + STEP
            + '[device_overrides]\npathway_volume = { value = "0.3 mL" }\n',
            "device_overrides.pathway_volume.source",
            "required",
        ),
    ],
)
def test_bad_program_is_refused_naming_the_field(text: str, field: str, fragment: str) -> None:
    assert_error(text, field, fragment)


def test_every_error_is_reported_at_once() -> None:
    text = (
        HEADER.replace('"0.19 mL"', '"0.19 mg"')
        + MORPHINE.replace("10 mg/mL", "-1 mg/mL")
        + STEP.replace("00:00", "7 o'clock")
    )
    fields = {e.field for e in errors_of(text)}
    assert {"catheter_volume", "drugs[0].concentration", "basal[0].start"} <= fields


def test_too_many_steps_for_the_device() -> None:
    steps = "".join(
        f'[[basal]]\nstart = "{hour:02d}:00"\nrate = "0.5 mL/day"\n' for hour in range(20)
    )
    assert_error(HEADER + MORPHINE + steps, "basal", "the device allows")


def test_device_without_demand_bolus_refuses_one() -> None:
    text = (
        HEADER.replace("synchromed-ii-20", "fixed-rate-20").replace(
            'low_reservoir_alarm = "2 mL"\n', ""
        )
        + MORPHINE
        + STEP
        + '[demand_bolus]\ndose = "0.1 mg"\nduration = "10 min"\nlockout = "4 h"\nmax_per_24h = 3\n'
    )
    assert_error(text, "demand_bolus", "has no demand bolus")
