"""Quantities at the boundary: units are required, converted exactly, and errors name the field."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intrathecal.units import (
    InputError,
    Kind,
    Toward,
    format_dose_rate,
    format_duration,
    parse,
    parse_percent,
    round_to_step,
)


@pytest.mark.parametrize(
    ("text", "kind", "canonical"),
    [
        ("10 mg/mL", Kind.CONCENTRATION, 10_000.0),  # 10 mg = 10 000 mcg
        ("25 mcg/mL", Kind.CONCENTRATION, 25.0),
        ("2 mg/day", Kind.DOSE_RATE, 2_000.0),
        ("0.1 mcg/h", Kind.DOSE_RATE, 2.4),  # ziconotide label: 0.1 mcg/h = 2.4 mcg/day
        ("0.3 mL/day", Kind.VOLUME_RATE, 0.3),
        ("0.5 mL/h", Kind.VOLUME_RATE, 12.0),
        ("30 min", Kind.DURATION, 1_800.0),
        ("4 h", Kind.DURATION, 14_400.0),
        ("0.19 mL", Kind.VOLUME, 0.19),
        ("190 uL", Kind.VOLUME, 0.19),
        ("0.2 mg", Kind.MASS, 200.0),
        ("45 cm", Kind.LENGTH, 45.0),
        ("0.0026 mL/cm", Kind.VOLUME_PER_LENGTH, 0.0026),
    ],
)
def test_parse_converts_to_the_canonical_unit(text: str, kind: Kind, canonical: float) -> None:
    assert math.isclose(parse(text, "f", kind), canonical, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2 mg", "expected a volume"),  # mg given where mL is expected
        ("2", "has no unit"),
        (2.0, "written as text with its unit"),  # a bare TOML number
        ("nan mL", "not a finite number"),
        ("inf mL", "not a finite number"),
        ("", "is empty"),
        ("two mL", "cannot read"),
        ("2 mL/day", "is a volume rate"),
    ],
)
def test_bad_quantity_names_field_and_expected_unit(value: object, fragment: str) -> None:
    with pytest.raises(InputError) as caught:
        parse(value, "catheter_volume", Kind.VOLUME)
    assert caught.value.field == "catheter_volume"
    assert fragment in str(caught.value)


def test_percent() -> None:
    assert parse_percent("+20%", "by") == pytest.approx(0.2)
    assert parse_percent("-10 %", "by") == pytest.approx(-0.1)
    with pytest.raises(InputError, match="by: expected a percentage"):
        parse_percent("20", "by")


def test_round_to_step_is_exact_in_decimal() -> None:
    # 0.3 / 0.001 is 299.99999999999994 in binary floating point; a naive floor gives 0.299.
    assert round_to_step(0.3, 0.001, Toward.DOWN).value == 0.3
    assert not round_to_step(0.3, 0.001, Toward.DOWN).changed
    # 3 mg/day at 7 mg/mL = 0.428571... mL/day -> 0.428 down, 0.429 up.
    assert round_to_step(3 / 7, 0.001, Toward.DOWN).value == 0.428
    assert round_to_step(3 / 7, 0.001, Toward.UP).value == 0.429


@given(
    st.floats(min_value=0.0, max_value=100.0, allow_nan=False),
    st.sampled_from([0.001, 0.002, 0.01, 0.048, 0.5]),
)
def test_rounding_toward_the_safe_side_never_crosses_the_value(value: float, step: float) -> None:
    down = round_to_step(value, step, Toward.DOWN).value
    up = round_to_step(value, step, Toward.UP).value
    assert down <= value <= up
    assert up - down <= step * (1 + 1e-9)


def test_formatting_keeps_the_unit() -> None:
    assert format_dose_rate(2_000.0, "mg") == "2 mg/day"
    assert format_dose_rate(2.4, "mcg") == "2.4 mcg/day"
    assert format_duration(14_400) == "4 h"
    assert format_duration(1_800) == "30 min"
