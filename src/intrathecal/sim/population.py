"""An exported population for the fleet simulation: one pump a row of a CSV text.

Columns: ``rate_ml_per_day`` (the pump's mean rate, required), ``pattern`` (``flat`` or
``day-night``, default flat) and ``battery_age_days`` (days since the battery was new, default
drawn as for a synthetic pump). Every bad cell is reported with its row, column and unit.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np

from intrathecal.sim.streams import FloatArray
from intrathecal.units import InputError

PATTERNS = ("flat", "day-night")  # the order of fleet.TEMPLATES
MAX_ROWS = 10_000_000


@dataclass(frozen=True, eq=False)
class Population:
    rates_ml_per_day: FloatArray
    templates: np.ndarray  # index into fleet.TEMPLATES
    battery_age_days: FloatArray  # NaN: draw it

    @property
    def size(self) -> int:
        return len(self.rates_ml_per_day)


def parse(text: str, field: str, max_rate_ml_per_day: float, battery_days: float) -> Population:
    reader = csv.DictReader(io.StringIO(text))
    columns = reader.fieldnames or []
    if "rate_ml_per_day" not in columns:
        raise InputError(field, "needs a header row with a rate_ml_per_day column (mL/day)")
    unknown = set(columns) - {"rate_ml_per_day", "pattern", "battery_age_days"}
    if unknown:
        raise InputError(field, f"unknown columns: {', '.join(sorted(unknown))}")
    rates: list[float] = []
    patterns: list[int] = []
    ages: list[float] = []
    for row_number, row in enumerate(reader, start=2):
        if len(rates) >= MAX_ROWS:
            raise InputError(field, f"more than {MAX_ROWS:,} pumps")
        where = f"{field} row {row_number}"
        rates.append(_number(row.get("rate_ml_per_day"), f"{where}, rate_ml_per_day", "mL/day"))
        if not 0 < rates[-1] <= max_rate_ml_per_day:
            raise InputError(
                f"{where}, rate_ml_per_day",
                f"must be above 0 and at most the device's {max_rate_ml_per_day:g} mL/day, got "
                f"{rates[-1]:g} mL/day",
            )
        pattern = (row.get("pattern") or "flat").strip()
        if pattern not in PATTERNS:
            raise InputError(f"{where}, pattern", f"must be flat or day-night, not {pattern!r}")
        patterns.append(PATTERNS.index(pattern))
        raw_age = (row.get("battery_age_days") or "").strip()
        if raw_age:
            age = _number(raw_age, f"{where}, battery_age_days", "days")
            if not 0 <= age < battery_days:
                raise InputError(
                    f"{where}, battery_age_days",
                    f"must be 0 to under {battery_days:g} days (the battery's period to ERI), "
                    f"got {age:g} days",
                )
            ages.append(age)
        else:
            ages.append(math.nan)
    if not rates:
        raise InputError(field, "has no pumps (no rows under the header)")
    return Population(
        np.array(rates, dtype=np.float64),
        np.array(patterns, dtype=np.intp),
        np.array(ages, dtype=np.float64),
    )


def _number(raw: str | None, field: str, unit: str) -> float:
    text = (raw or "").strip()
    try:
        value = float(text)
    except ValueError:
        raise InputError(field, f"{text!r} is not a number of {unit}") from None
    if not math.isfinite(value):
        raise InputError(field, f"{text!r} is not a number of {unit}")
    return value
