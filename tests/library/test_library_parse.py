"""A library file with a mistake is refused with the path of the mistake."""

from __future__ import annotations

import pytest

from intrathecal.library.load import library_texts
from intrathecal.library.parse import parse_library
from intrathecal.units import InputError


def refuse(drugs: str, devices: str, path: str, fragment: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_library(drugs, devices)
    assert caught.value.field.startswith(path), str(caught.value)
    assert fragment in str(caught.value)


def test_bundled_texts_parse() -> None:
    library = parse_library(*library_texts())
    assert library.drugs and library.devices


def test_unknown_source_id_is_refused() -> None:
    drugs, devices = library_texts()
    broken = drugs.replace('source = "', 'source = "nowhere-', 1)
    with pytest.raises(InputError, match="unknown source"):
        parse_library(broken, devices)


def test_bare_number_is_refused() -> None:
    drugs, devices = library_texts()
    broken = devices.replace('value = "0.048 mL/day"', "value = 0.048", 1)
    refuse(drugs, broken, "devices.synchromed-ii-20.min_rate.value", "with its unit")


def test_soft_limit_above_hard_limit_is_refused() -> None:
    drugs, devices = library_texts()
    header = drugs.split("[drugs.", 1)[0]
    drug = """
[drugs.testdrug]
name = "Test"
class = "opioid"
dose_unit = "mg"
compatibility = "none"
approved_for_pump = { value = false, source = "S", verified = false }
mixable = { value = true, source = "S", verified = false }
stability = { value = "30 day", source = "S", verified = false }
[drugs.testdrug.concentration]
soft_max = { value = "30 mg/mL", source = "S", verified = false }
hard_max = { value = "20 mg/mL", source = "S", verified = false }
[drugs.testdrug.daily_dose]
hard_max = { value = "1 mg/day", source = "S", verified = false }
[drugs.testdrug.bolus_dose]
hard_max = { value = "1 mg", source = "S", verified = false }
[drugs.testdrug.change]
per_step_hard = { value = "10%", source = "S", verified = false }
per_day_hard = { value = "10%", source = "S", verified = false }
"""
    source = '[sources.S]\ncitation = "test"\n'
    refuse(header + source + drug, devices, "drugs.testdrug.concentration", "above hard limit")


def test_typo_in_a_key_is_refused() -> None:
    drugs, devices = library_texts()
    broken = devices.replace("min_rate =", "minimum_rate =", 1)
    with pytest.raises(InputError):
        parse_library(drugs, broken)
