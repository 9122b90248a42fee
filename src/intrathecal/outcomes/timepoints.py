"""Time points ("baseline", "3 months") and the follow-up schedule of each procedure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from intrathecal.outcomes.records import BASELINE
from intrathecal.units import InputError

# Nominal lengths used only to decide whether a follow-up is due yet (never for scoring).
# A month counts as 30 days and a year as 365: a short month makes a follow-up due sooner, so
# more patients count as missing in the missing-as-not-improved share (the cautious side).
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
_LABEL = re.compile(r"^\s*(\d{1,3})\s*(day|week|month|year)s?\s*$", re.IGNORECASE)
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

# Synonyms: one time point has one label, whatever the form says. A year is 12 months; the
# week counts below are the usual ways of writing the same visit.
_SYNONYMS: dict[tuple[int, str], tuple[int, str]] = {
    (4, "week"): (1, "month"),
    (13, "week"): (3, "month"),
    (12, "week"): (3, "month"),
    (26, "week"): (6, "month"),
    (52, "week"): (12, "month"),
}

# Windows: the days from baseline an answer may carry and still be that time point. They meet
# half-way between the usual visits (2 weeks, 1 month, 3, 6, 12 months) so that a "3 months"
# answer on day 14 is refused, not counted as a 3-month result. This project's choice; see
# docs/outcomes.md. Other time points: the nominal length +/- 25% (at least +/- 3 days).
WINDOWS: dict[str, tuple[int, int]] = {
    "1 week": (4, 10),
    "2 weeks": (7, 21),
    "1 month": (22, 45),
    "6 weeks": (35, 56),
    "2 months": (46, 74),
    "3 months": (60, 135),
    "6 months": (136, 270),
    "9 months": (240, 320),
    "12 months": (300, 455),
    "18 months": (456, 640),
    "24 months": (641, 900),
}


@dataclass(frozen=True, order=True, slots=True)
class Timepoint:
    nominal_days: int
    label: str

    @property
    def is_baseline(self) -> bool:
        return self.label == BASELINE

    @property
    def window(self) -> tuple[int, int]:
        """(first, last) day from baseline an answer at this time point may carry."""
        if self.is_baseline:
            return (0, 0)
        known = WINDOWS.get(self.label)
        if known is not None:
            return known
        spread = max(3, self.nominal_days // 4)
        return (max(1, self.nominal_days - spread), self.nominal_days + spread)

    def describe_window(self) -> str:
        low, high = self.window
        return f"days {low} to {high} from baseline"


@lru_cache(maxsize=1024)
def _parse(text: str) -> Timepoint | str:
    """A Timepoint, or the reason the text is not one (cached: a big file repeats a few labels)."""
    if text.strip().lower() == BASELINE:
        return Timepoint(0, BASELINE)
    match = _LABEL.match(text)
    if match is None:
        return (
            f"{text!r} is not a time point; write 'baseline' or a follow-up such as '2 weeks', "
            "'3 months' or '12 months'"
        )
    count, unit = int(match.group(1)), match.group(2).lower()
    if count == 0:
        return f"{text!r}: a follow-up is at least 1 {unit} after baseline"
    if unit == "year":
        count, unit = 12 * count, "month"
    count, unit = _SYNONYMS.get((count, unit), (count, unit))
    label = f"{count} {unit}" + ("s" if count != 1 else "")
    return Timepoint(count * _UNIT_DAYS[unit], label)


def parse_timepoint(text: object, field: str = "timepoint") -> Timepoint:
    """'baseline' or '<n> day|week|month|year(s)' -> a Timepoint with a canonical label.

    '1 year' and '12 months' are one time point ('12 months'); see ``_SYNONYMS``.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError(field, f"expected 'baseline' or a follow-up like '3 months', got {text!r}")
    found = _parse(text)
    if isinstance(found, str):
        raise InputError(field, found)
    return found


@dataclass(frozen=True)
class Procedure:
    key: str
    label: str
    follow_ups: tuple[str, ...]  # recommended follow-up time points, in order


PROCEDURES: dict[str, Procedure] = {
    p.key: p
    for p in (
        Procedure(
            "intrathecal-pump",
            "Intrathecal pump",
            ("1 month", "3 months", "6 months", "12 months"),
        ),
        Procedure("facet-joint-injection", "Facet joint injection", ("2 weeks", "3 months")),
        Procedure("epidural-injection", "Epidural injection", ("2 weeks", "3 months")),
        Procedure(
            "radiofrequency-ablation",
            "Radiofrequency ablation",
            ("3 months", "6 months", "12 months"),
        ),
        Procedure(
            "spinal-cord-stimulator",
            "Spinal cord stimulator",
            ("3 months", "6 months", "12 months"),
        ),
    )
}
DEFAULT_FOLLOW_UPS = ("3 months",)


def procedure_key(text: object, field: str = "procedure") -> str:
    """A procedure is a lower-case slug; the known ones have labels and schedules."""
    if not isinstance(text, str) or not _SLUG.match(text.strip()):
        raise InputError(
            field,
            f"{text!r} is not a procedure key; use lower-case words joined by hyphens, such as "
            f"{', '.join(sorted(PROCEDURES))}",
        )
    return text.strip()


def procedure_label(key: str) -> str:
    known = PROCEDURES.get(key)
    return known.label if known else key.replace("-", " ").capitalize()


def follow_ups_for(key: str) -> tuple[Timepoint, ...]:
    """The recommended follow-up time points of a procedure (3 months for one not listed)."""
    known = PROCEDURES.get(key)
    labels = known.follow_ups if known else DEFAULT_FOLLOW_UPS
    return tuple(parse_timepoint(label) for label in labels)
