"""Time points ("baseline", "3 months") and the follow-up schedule of each procedure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from intrathecal.outcomes.records import BASELINE
from intrathecal.units import InputError

# Nominal lengths used only to decide whether a follow-up is due yet (never for scoring).
# A month counts as 30 days and a year as 365: a short month makes a follow-up due sooner, so
# more patients count as missing in the missing-as-not-improved share (the cautious side).
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
_LABEL = re.compile(r"^\s*(\d{1,3})\s*(day|week|month|year)s?\s*$", re.IGNORECASE)
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True, order=True)
class Timepoint:
    nominal_days: int
    label: str

    @property
    def is_baseline(self) -> bool:
        return self.label == BASELINE


def parse_timepoint(text: object, field: str = "timepoint") -> Timepoint:
    """'baseline' or '<n> day|week|month|year(s)' -> a Timepoint with a canonical label."""
    if not isinstance(text, str) or not text.strip():
        raise InputError(field, f"expected 'baseline' or a follow-up like '3 months', got {text!r}")
    if text.strip().lower() == BASELINE:
        return Timepoint(0, BASELINE)
    match = _LABEL.match(text)
    if match is None:
        raise InputError(
            field,
            f"{text!r} is not a time point; write 'baseline' or a follow-up such as '2 weeks', "
            "'3 months' or '1 year'",
        )
    count, unit = int(match.group(1)), match.group(2).lower()
    if count == 0:
        raise InputError(field, f"{text!r}: a follow-up is at least 1 {unit} after baseline")
    label = f"{count} {unit}" + ("s" if count != 1 else "")
    return Timepoint(count * _UNIT_DAYS[unit], label)


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
