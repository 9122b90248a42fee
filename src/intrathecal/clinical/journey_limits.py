"""The bounds of the patient journey's records: the one home of each (design.md, "One home per
limit"); the store applies them to every record and the API and the pages show their errors.

Pure: "today" and "now" are parameters (the server's clock, never a client's). Each bound says
where it comes from; those chosen by the project are marked so, not verified in a source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from intrathecal.library.records import Drug, DrugClass, Sourced
from intrathecal.units import InputError, format_mass

# The zone furthest ahead of UTC (Kiribati, UTC+14): a date that has begun somewhere is not in
# the future.
LATEST_ZONE = timedelta(hours=14)

# Project defaults (not from a source): a birth date after 1900 (no living patient is older);
# a clinical record (evaluation, trial, implant, adverse event) from 1980 on, the year before the
# first implanted intrathecal morphine pumps were reported (Onofrio, Yaksh and Arnold, Mayo Clin
# Proc 1981;56:516-20; not checked here): an earlier date is a typing error.
FIRST_BIRTH_DAY = date(1900, 1, 1)
FIRST_RECORD_DAY = date(1980, 1, 1)
# Appointments (project default): booked up to two years ahead, and entered up to a year late.
BOOK_AHEAD = timedelta(days=731)
BOOK_BEHIND = timedelta(days=366)

# Text lengths (project default, characters): short names and labels, and free text. A field
# longer than this is refused, never cut.
MRN_CHARS = 32
NAME_CHARS = 200
LABEL_CHARS = 100
TEXT_CHARS = 2000

# Catheter length as implanted, trimmed (project default): a length outside this is a typing
# error (mm for cm, or the volume in its place).
CATHETER_CM = (5.0, 150.0)

# Trial response scales. Pain: numeric rating scale 0-10. Spasticity (intrathecal baclofen):
# Modified Ashworth Scale (Bohannon and Smith 1987: 0, 1, 1+, 2, 3, 4) and Penn Spasm Frequency
# Scale (Penn et al. 1989: 0 none to 4 more than ten spasms an hour).
PAIN_SCORES = range(0, 11)
ASHWORTH_GRADES = ("0", "1", "1+", "2", "3", "4")
PENN_SPASM_SCORES = range(0, 5)


def today(now: datetime) -> date:
    """The latest date that has begun anywhere at ``now`` (UTC)."""
    return (now + LATEST_ZONE).date()


def check_day(day: date, now: datetime, field: str, earliest: date = FIRST_RECORD_DAY) -> date:
    """A day of a record: not in the future by the server's clock, not before ``earliest``."""
    latest = today(now)
    if day > latest:
        raise InputError(field, f"{day.isoformat()} is in the future (today is {latest})")
    if day < earliest:
        raise InputError(
            field, f"{day.isoformat()} is before {earliest.isoformat()}: check the year"
        )
    return day


def check_birth_date(day: date, now: datetime, field: str = "birth_date") -> date:
    return check_day(day, now, field, FIRST_BIRTH_DAY)


def check_done_at(at: datetime, now: datetime, skew: timedelta, field: str) -> datetime:
    """The time a thing was done (an implant): not after the server's clock (within the skew a
    client's clock may have), not before the first record day."""
    if at > now + skew:
        raise InputError(field, "is in the future: record it once it is done")
    check_day(at.date(), now, field)
    return at


def check_booking(at: datetime, now: datetime, field: str = "starts_at") -> datetime:
    if at > now + BOOK_AHEAD:
        raise InputError(field, f"is more than {BOOK_AHEAD.days} days ahead: check the year")
    if at < now - BOOK_BEHIND:
        raise InputError(field, f"is more than {BOOK_BEHIND.days} days ago: check the year")
    return at


def check_text(text: str, field: str, most: int = TEXT_CHARS, required: bool = True) -> str:
    """Free text, stripped: required unless said otherwise, at most ``most`` characters."""
    kept = text.strip()
    if required and not kept:
        raise InputError(field, "is required")
    if len(kept) > most:
        raise InputError(field, f"is {len(kept)} characters; at most {most}")
    return kept


def check_catheter_length(cm: float, field: str = "catheter_length") -> float:
    low, high = CATHETER_CM
    if not low <= cm <= high:
        raise InputError(field, f"{cm:g} cm is outside {low:g} to {high:g} cm: check the length")
    return cm


# A dose as prescribed before a pump ("40 mg/day", "10 mg twice daily"): a number above 0, then
# its unit in words; kept as typed (oral doses are not checked against the pump's library).
STATED_DOSE = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*[^\d\s.,]")


def check_stated_dose(text: str, field: str = "dose") -> str:
    found = STATED_DOSE.match(text.strip())
    if found is None or float(found.group(1)) <= 0:
        raise InputError(field, 'must start with a dose above 0 and its unit, e.g. "40 mg/day"')
    return text


@dataclass(frozen=True)
class TrialDoseLimit:
    mode: str  # "single bolus" or "continuous"
    limit: Sourced[float]  # mcg (bolus) or mcg/day (continuous)
    what: str  # words for the message


def trial_dose_limit(drug: Drug, mode: str) -> TrialDoseLimit | None:
    """The largest plausible trial dose: a single bolus no more than the drug's hard per-bolus
    limit, a continuous trial no more than its hard daily-dose limit (over 24 h)."""
    if mode == "continuous":
        bound = drug.daily_dose_mcg_per_day.hard_max
        return TrialDoseLimit(mode, bound, "hard daily-dose limit") if bound else None
    bound = drug.bolus_dose_mcg.hard_max
    return TrialDoseLimit(mode, bound, "hard per-bolus limit") if bound else None


def check_trial_dose(drug: Drug, mode: str, dose_mcg: float, field: str = "dose") -> float:
    if dose_mcg <= 0:
        raise InputError(field, "must be more than 0")
    found = trial_dose_limit(drug, mode)
    if found is not None and dose_mcg > found.limit.value:
        unit = drug.dose_unit.value
        per = " over 24 h" if mode == "continuous" else ""
        status = "verified" if found.limit.verified else "UNVERIFIED"
        raise InputError(
            field,
            f"{format_mass(dose_mcg, unit)}{per} is above {drug.key}'s {found.what} of "
            f"{format_mass(found.limit.value, unit)} ({status}): not a plausible trial dose",
        )
    return dose_mcg


def response_measure(drug: Drug) -> str:
    """How a trial's response is measured: "spasticity" for a GABA-B agonist (baclofen, given
    for spasticity), else "pain"."""
    return "spasticity" if drug.drug_class is DrugClass.GABA_B_AGONIST else "pain"


@dataclass(frozen=True)
class TrialResponse:
    pain_before: int | None = None
    pain_after: int | None = None
    ashworth_before: str | None = None
    ashworth_after: str | None = None
    spasms_before: int | None = None
    spasms_after: int | None = None


def check_trial_response(drug: Drug, response: TrialResponse) -> TrialResponse:
    """Pain trials need pain scores (0-10); spasticity trials the Ashworth grade and the Penn
    spasm score before and after, and no pain score in their place."""
    if response_measure(drug) == "pain":
        for name in ("pain_before", "pain_after"):
            value = getattr(response, name)
            if value is None:
                raise InputError(name, "is required for a pain trial (0 to 10)")
            if value not in PAIN_SCORES:
                raise InputError(name, "must be 0 to 10 (numeric rating scale)")
        for name in ("ashworth_before", "ashworth_after", "spasms_before", "spasms_after"):
            if getattr(response, name) is not None:
                raise InputError(name, f"is for spasticity trials, not a {drug.key} trial")
        return response
    for name in ("pain_before", "pain_after"):
        if getattr(response, name) is not None:
            raise InputError(
                name,
                f"is not used in a {drug.key} trial: it is measured in spasticity (Ashworth, "
                "spasms), not pain",
            )
    for name in ("ashworth_before", "ashworth_after"):
        grade = getattr(response, name)
        if grade is None:
            raise InputError(name, "is required for a spasticity trial (0, 1, 1+, 2, 3 or 4)")
        if grade not in ASHWORTH_GRADES:
            raise InputError(name, "must be 0, 1, 1+, 2, 3 or 4 (Modified Ashworth Scale)")
    for name in ("spasms_before", "spasms_after"):
        value = getattr(response, name)
        if value is None:
            raise InputError(name, "is required for a spasticity trial (0 to 4)")
        if value not in PENN_SPASM_SCORES:
            raise InputError(name, "must be 0 to 4 (Penn spasm frequency scale)")
    return response
