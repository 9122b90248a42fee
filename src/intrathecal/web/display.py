"""How pages show numbers and times: to sensible precision with units, in the clinic's zone.

Templates use these as filters (``install`` registers them on a Jinja environment):

- ``{{ 0.0661972|qty("mL") }}`` -> "0.07 mL"; ``{{ 562.5|qty("mcg/day") }}`` -> "563 mcg/day".
- ``{{ mcg|mass_of(drug) }}``, ``{{ mcg_per_day|dose_of(drug) }}``,
  ``{{ mcg_per_ml|conc_of(drug) }}``: in the drug's own dose unit ("12.5 mg/day" for morphine).
- ``{{ instant|when }}`` -> "30 Nov 2026 14:05 GMT", ``{{ instant|day }}`` -> "30 Nov 2026": an
  instant (aware or naive-UTC datetime, ISO text or seconds since the epoch) in the clinic's
  time zone. Naive datetimes are UTC: that is how the store keeps them.

The clinic's zone is ``ITP_CLINIC_TZ`` (an IANA name such as ``Europe/London``; default UTC),
read once; a name the system does not know is refused at start, never replaced by UTC.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict
from datetime import UTC, date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from intrathecal.library.load import default_library
from intrathecal.units import readable_number, readable_volume

DEFAULT_ZONE = "UTC"
WHEN_FORMAT = "%d %b %Y %H:%M %Z"
DAY_FORMAT = "%d %b %Y"


class ZoneError(ValueError):
    """The configured clinic time zone is not a zone this system knows."""


def zone_named(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ZoneError(
            f"ITP_CLINIC_TZ must be an IANA time zone name such as Europe/London, not {name!r}"
        ) from exc


@cache
def clinic_zone() -> ZoneInfo:
    return zone_named(os.environ.get("ITP_CLINIC_TZ", "").strip() or DEFAULT_ZONE)


def _instant(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, int | float):
        moment = datetime.fromtimestamp(float(value), UTC)
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def when(value: Any) -> str:
    moment = _instant(value)
    return "" if moment is None else moment.astimezone(clinic_zone()).strftime(WHEN_FORMAT)


def day(value: Any) -> str:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.strftime(DAY_FORMAT)  # a calendar date has no zone to convert
    moment = _instant(value)
    return "" if moment is None else moment.astimezone(clinic_zone()).strftime(DAY_FORMAT)


def qty(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "mL":
        return readable_volume(value)
    return f"{readable_number(value)} {unit}"


def _dose_unit(drug: str) -> str:
    return default_library().drug(drug).dose_unit.value


def mass_of(mcg: float, drug: str) -> str:
    unit = _dose_unit(drug)
    return qty(mcg / 1000.0 if unit == "mg" else mcg, unit)


def dose_of(mcg_per_day: float, drug: str) -> str:
    unit = _dose_unit(drug)
    return qty(mcg_per_day / 1000.0 if unit == "mg" else mcg_per_day, f"{unit}/day")


def conc_of(mcg_per_ml: float, drug: str) -> str:
    unit = _dose_unit(drug)
    return qty(mcg_per_ml / 1000.0 if unit == "mg" else mcg_per_ml, f"{unit}/mL")


# A number followed by a dose, volume or rate unit, in text the safety layer wrote exactly
# ("1.09524 mg/day", "+0.0952381 mL/day (+9.5%)").
_QUANTITY = re.compile(r"(?<![\w.])([+-]?)(\d+(?:\.\d+)?)(?=\s?(?:mL|mcg|mg)\b)")


def readable_text(text: str) -> str:
    """The exact quantities of a sentence or table cell to three significant figures; the
    rest of the text (times, percentages, names) as written."""
    return _QUANTITY.sub(lambda m: m.group(1) + readable_number(float(m.group(2))), text)


def readable_rows(rows: Any) -> list[dict[str, str]]:
    """Old-and-new comparison rows (safety.comparison) as a page shows them."""
    shown = []
    for row in rows:
        cells = row if isinstance(row, dict) else asdict(row)
        shown.append({k: readable_text(v) if k != "setting" else v for k, v in cells.items()})
    return shown


def install(env: Any) -> None:
    """Register the filters on a Jinja environment, and the zone's name as a global."""
    env.filters.update(
        qty=qty,
        mass_of=mass_of,
        dose_of=dose_of,
        conc_of=conc_of,
        when=when,
        day=day,
        readable=readable_text,
    )
    env.globals["CLINIC_ZONE"] = clinic_zone().key
