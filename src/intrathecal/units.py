"""Quantities at the boundaries: parse text with its unit, keep one canonical unit inside.

Canonical units (design.md, "Units"): mass in mcg, volume in mL, time in seconds, rates per
day, length in cm. Inside the pure layers a value travels as a float whose unit is in its name
(``dose_mcg``, ``rate_ml_per_day``) and in its type alias below, never as a bare number that could
be mg or mcg. Text is parsed and printed with pint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import Enum
from functools import lru_cache
from typing import Any, NewType

import pint

Mcg = NewType("Mcg", float)
Ml = NewType("Ml", float)
Seconds = NewType("Seconds", float)
Cm = NewType("Cm", float)
McgPerMl = NewType("McgPerMl", float)
McgPerDay = NewType("McgPerDay", float)
MlPerDay = NewType("MlPerDay", float)
MlPerCm = NewType("MlPerCm", float)

SECONDS_PER_DAY = 86_400
SECONDS_PER_HOUR = 3_600
SECONDS_PER_MINUTE = 60


class InputError(ValueError):
    """Bad input from outside. Names the field, the value and what was expected."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Kind(Enum):
    """A physical dimension a field expects, with its canonical unit and an example."""

    MASS = ("a mass", "microgram", "0.1 mg")
    VOLUME = ("a volume", "milliliter", "2 mL")
    DURATION = ("a duration", "second", "30 min")
    LENGTH = ("a length", "centimeter", "50 cm")
    CONCENTRATION = ("a concentration (mass per volume)", "microgram / milliliter", "10 mg/mL")
    DOSE_RATE = ("a dose rate (mass per time)", "microgram / day", "2 mg/day")
    VOLUME_RATE = ("a volume rate (volume per time)", "milliliter / day", "0.3 mL/day")
    VOLUME_PER_LENGTH = ("a volume per length", "milliliter / centimeter", "0.0026 mL/cm")

    @property
    def description(self) -> str:
        return self.value[0]

    @property
    def canonical(self) -> str:
        return self.value[1]

    @property
    def example(self) -> str:
        return self.value[2]


@lru_cache(maxsize=1)
def registry() -> Any:
    ureg: Any = pint.UnitRegistry(autoconvert_offset_to_baseunit=False)
    # "mcg" is the clinical spelling of microgram (mg/mcg confusion is a known error source,
    # so it is accepted and printed; "ug" and "µg" parse too).
    ureg.define("mcg = microgram")
    return ureg


@lru_cache(maxsize=16)
def _dimensionality(kind: Kind) -> Any:
    return registry().parse_units(kind.canonical).dimensionality


@lru_cache(maxsize=4096)
def _parse_cached(text: str, kind: Kind) -> float:
    ureg = registry()
    try:
        quantity: Any = ureg.Quantity(text)
    except Exception as exc:  # pint raises many types for bad text; all mean "unreadable".
        raise ValueError(f"cannot read {text!r} as a quantity with a unit") from exc
    if not isinstance(quantity, ureg.Quantity) or quantity.dimensionless:
        raise ValueError(f"{text!r} has no unit; write it like {kind.example!r}")
    if quantity.dimensionality != _dimensionality(kind):
        got = _describe_dimension(quantity.dimensionality)
        raise ValueError(
            f"expected {kind.description}, like {kind.example!r}, but {text!r} is {got}"
        )
    magnitude = float(quantity.to(kind.canonical).magnitude)
    if math.isnan(magnitude) or math.isinf(magnitude):
        raise ValueError(f"{text!r} is not a finite number")
    return magnitude


def _describe_dimension(dimensionality: Any) -> str:
    for kind in Kind:
        if dimensionality == _dimensionality(kind):
            return kind.description
    return f"of dimension {dimensionality}"


def parse(value: object, field: str, kind: Kind) -> float:
    """Parse ``value`` (text with a unit, e.g. "2 mg/day") into the canonical unit of ``kind``.

    A bare number is refused: the unit must be said, so mg is never read as mcg.
    """
    if isinstance(value, bool) or not isinstance(value, str):
        raise InputError(
            field,
            f"expected {kind.description} written as text with its unit, like "
            f"{kind.example!r}, got {value!r}",
        )
    text = value.strip()
    if not text:
        raise InputError(field, f"is empty; expected {kind.description}, like {kind.example!r}")
    try:
        return _parse_cached(text, kind)
    except ValueError as exc:
        raise InputError(field, str(exc)) from None


def parse_positive(value: object, field: str, kind: Kind) -> float:
    number = parse(value, field, kind)
    if number <= 0:
        raise InputError(field, f"must be greater than zero, got {value!r}")
    return number


def parse_non_negative(value: object, field: str, kind: Kind) -> float:
    number = parse(value, field, kind)
    if number < 0:
        raise InputError(field, f"must not be negative, got {value!r}")
    return number


def parse_percent(value: object, field: str) -> float:
    """Parse "+20%", "-10 %" or "15%" into a fraction (0.2, -0.1, 0.15)."""
    if not isinstance(value, str) or not value.strip().endswith("%"):
        raise InputError(field, f"expected a percentage like '+20%', got {value!r}")
    body = value.strip()[:-1].strip()
    try:
        number = float(body)
    except ValueError:
        raise InputError(field, f"expected a percentage like '+20%', got {value!r}") from None
    if not math.isfinite(number):
        raise InputError(field, f"{value!r} is not a finite percentage")
    return number / 100.0


# ---------------------------------------------------------------------------------------------
# Printing. Every printed quantity carries its unit.


def _trim(number: float, digits: int = 6) -> str:
    """Up to ``digits`` significant digits, no trailing zeros, no exponent for clinical ranges."""
    if number == 0:
        return "0"
    text = f"{number:.{digits}g}"
    if "e" in text:
        text = f"{number:.{max(digits, 10)}f}".rstrip("0").rstrip(".")
    return text


def format_mass(mcg: float, unit: str = "mcg") -> str:
    """Print a mass in ``unit`` ("mcg" or "mg")."""
    if unit == "mg":
        return f"{_trim(mcg / 1000.0)} mg"
    return f"{_trim(mcg)} mcg"


def format_volume(ml: float) -> str:
    return f"{_trim(ml)} mL"


def format_concentration(mcg_per_ml: float, mass_unit: str = "mcg") -> str:
    if mass_unit == "mg":
        return f"{_trim(mcg_per_ml / 1000.0)} mg/mL"
    return f"{_trim(mcg_per_ml)} mcg/mL"


def format_dose_rate(mcg_per_day: float, mass_unit: str = "mcg") -> str:
    if mass_unit == "mg":
        return f"{_trim(mcg_per_day / 1000.0)} mg/day"
    return f"{_trim(mcg_per_day)} mcg/day"


def format_volume_rate(ml_per_day: float) -> str:
    return f"{_trim(ml_per_day)} mL/day"


def format_duration(seconds: float) -> str:
    if seconds % SECONDS_PER_DAY == 0 and seconds >= SECONDS_PER_DAY:
        return f"{_trim(seconds / SECONDS_PER_DAY)} day"
    if seconds % SECONDS_PER_HOUR == 0 and seconds >= SECONDS_PER_HOUR:
        return f"{_trim(seconds / SECONDS_PER_HOUR)} h"
    if seconds % SECONDS_PER_MINUTE == 0 and seconds >= SECONDS_PER_MINUTE:
        return f"{_trim(seconds / SECONDS_PER_MINUTE)} min"
    return f"{_trim(seconds)} s"


# ---------------------------------------------------------------------------------------------
# Rounding to a device step, toward the safe side, reported.


class Toward(Enum):
    DOWN = "down"
    UP = "up"


@dataclass(frozen=True)
class Rounded:
    """A value rounded to a step, with the direction and whether it changed."""

    requested: float
    value: float
    step: float
    toward: Toward

    @property
    def changed(self) -> bool:
        return self.value != self.requested


def round_to_step(value: float, step: float, toward: Toward) -> Rounded:
    """Round ``value`` to a multiple of ``step`` in the given direction.

    Decimal arithmetic on the printed values, so 0.3 on a 0.001 step stays 0.3 instead of
    becoming 0.299 through binary floating-point error.
    """
    if step <= 0 or not math.isfinite(step):
        raise ValueError(f"step must be a positive finite number, got {step}")
    d_value = Decimal(repr(value))
    d_step = Decimal(repr(step))
    quotient = (d_value / d_step).to_integral_value(
        rounding=ROUND_FLOOR if toward is Toward.DOWN else ROUND_CEILING
    )
    return Rounded(requested=value, value=float(quotient * d_step), step=step, toward=toward)


def is_multiple_of(value: float, step: float) -> bool:
    d_value = Decimal(repr(value))
    d_step = Decimal(repr(step))
    return (d_value % d_step) == 0


# ---------------------------------------------------------------------------------------------
# Reading at a glance (pages and printed records). The CLI and the API keep the exact figures
# above; a person reading a page gets a figure rounded for reading, never for computing.

READABLE_DIGITS = 3


def readable_number(value: float, digits: int = READABLE_DIGITS) -> str:
    """``digits`` significant figures, but never fewer than the whole-number part has: 562.5 is
    "563" rather than "560", 0.0661972 is "0.0662". Grouped thousands ("12,500")."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    # Half away from zero, as people round (562.5 -> 563), not the float's half-to-even.
    rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)
    text = f"{rounded:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def readable_volume(ml: float) -> str:
    """Volumes to the hundredth of a millilitre a syringe is read to ("0.07 mL", "5.01 mL");
    below that, one significant figure, so a small volume never reads as "0 mL"."""
    if ml != 0 and abs(ml) < 0.005:
        return f"{readable_number(ml, 1)} mL"
    rounded = Decimal(repr(ml)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    text = f"{rounded:,.2f}".rstrip("0").rstrip(".")
    return f"{'0' if text == '-0' else text} mL"
