"""Checking responses one by one and against each other (duplicates, follow-up before baseline)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from intrathecal.outcomes.errors import InvalidOutcomesError, raise_if_any
from intrathecal.outcomes.instruments import When
from intrathecal.outcomes.records import Response
from intrathecal.outcomes.scoring import Scored, instrument_for, validate_answers
from intrathecal.outcomes.timepoints import Timepoint, parse_timepoint, procedure_key
from intrathecal.units import InputError

# Pseudonymous ids only: letters, digits, '.', '_' and '-' (no spaces, so a name "Jane Doe"
# is refused; this lowers, but cannot remove, the chance of a real name being used as an id).
_SUBJECT = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_DAYS = 20 * 365
MAX_EPISODE = 99
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Checked:
    """A valid response: its time point parsed, its answers cleaned and scored."""

    response: Response
    timepoint: Timepoint
    scored: Scored


def check_subject(value: object, field: str) -> str:
    if not isinstance(value, str) or not _SUBJECT.match(value.strip()):
        raise InputError(
            field,
            f"{value!r} is not a pseudonymous id: 1 to 64 letters, digits, '.', '_' or '-' "
            "(never a patient's name)",
        )
    return value.strip()


def check_days(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(field, f"expected a whole number of days, got {value!r}")
    if not -MAX_DAYS <= value <= MAX_DAYS:
        raise InputError(field, f"{value} days is out of range (at most {MAX_DAYS} days)")
    return value


ColumnOf = Callable[[str], str]


def field_name(name: str, attr: str, column_of: ColumnOf | None = None) -> str:
    """'response 3.timepoint', or for a CSV row 'line 4, column timepoint'."""
    return f"{name}, column {column_of(attr)}" if column_of else f"{name}.{attr}"


def check_response(
    response: Response, name: str = "response", column_of: ColumnOf | None = None
) -> Checked:
    """One response on its own: ids, time point, days, instrument, answers.

    Raises ``InvalidOutcomesError`` listing every problem, each field prefixed by ``name``
    (``column_of`` maps an attribute such as 'answers.pgic.change' to a CSV column).
    """
    errors: list[InputError] = []

    def at(attr: str) -> str:
        return field_name(name, attr, column_of)

    def attempt(fn: Callable[[object, str], T], value: object, attr: str) -> T | None:
        # The field's name is built only for a problem: a big file has millions of answers.
        try:
            return fn(value, attr)
        except InputError as exc:
            errors.append(InputError(at(attr), exc.message))
        return None

    subject = attempt(check_subject, response.subject, "subject")
    procedure = attempt(procedure_key, response.procedure, "procedure")
    timepoint = attempt(parse_timepoint, response.timepoint, "timepoint")
    days = attempt(check_days, response.days_from_baseline, "days_from_baseline")
    instrument = attempt(instrument_for, response.instrument, "instrument")
    if response.collected_on is not None and not isinstance(response.collected_on, date):
        errors.append(InputError(at("collected_on"), "expected a date"))
    if (
        isinstance(response.episode, bool)
        or not isinstance(response.episode, int)
        or not 1 <= response.episode <= MAX_EPISODE
    ):
        errors.append(
            InputError(
                at("episode"),
                f"expected a whole number 1 to {MAX_EPISODE} (1 = first series or implant), "
                f"got {response.episode!r}",
            )
        )
    if response.entered_by not in ("staff", "patient"):
        errors.append(
            InputError(
                at("entered_by"), f"expected 'staff' or 'patient', got {response.entered_by!r}"
            )
        )
    if isinstance(timepoint, Timepoint) and isinstance(days, int):
        if timepoint.is_baseline and days != 0:
            errors.append(
                InputError(at("days_from_baseline"), f"is {days}; a baseline response is day 0")
            )
        if not timepoint.is_baseline and days <= 0:
            errors.append(
                InputError(
                    at("days_from_baseline"),
                    f"follow-up before baseline: the {timepoint.label} follow-up is on day {days}; "
                    "a follow-up comes at least 1 day after baseline",
                )
            )
        elif not timepoint.is_baseline:
            low, high = timepoint.window
            if not low <= days <= high:
                errors.append(
                    InputError(
                        at("days_from_baseline"),
                        f"day {days} is outside the {timepoint.label} window "
                        f"({timepoint.describe_window()}): check the time point or the days",
                    )
                )
    scored: Scored | None = None
    if instrument is not None:
        inst = instrument
        if (
            isinstance(timepoint, Timepoint)
            and timepoint.is_baseline
            and inst.when is When.FOLLOW_UP
        ):
            errors.append(
                InputError(
                    at(f"answers.{inst.key}"),
                    f"{inst.name} asks about change since the procedure; it has no baseline",
                )
            )
        try:
            scored = validate_answers(inst, response.answers)
        except InvalidOutcomesError as exc:
            errors.extend(InputError(at(f"answers.{e.field}"), e.message) for e in exc.errors)
    raise_if_any(errors)
    assert isinstance(subject, str) and isinstance(procedure, str)
    assert isinstance(timepoint, Timepoint) and isinstance(scored, Scored)
    clean = Response(
        subject,
        procedure,
        timepoint.label,
        response.days_from_baseline,
        response.instrument,
        scored.answers,  # shared, not copied: a big file holds millions of answers
        response.collected_on,
        response.entered_by,
        response.episode,
    )
    return Checked(clean, timepoint, scored)


def validate_responses(
    responses: Sequence[Response],
    names: Sequence[str] | None = None,
    column_of: ColumnOf | None = None,
) -> list[Checked]:
    """Every response, then the set: no duplicates, no follow-up dated on or before baseline.

    ``names`` label each response in messages (the CSV reader passes "line 12"). Raises
    ``InvalidOutcomesError`` with every problem found; on error nothing should be stored.
    """
    labels = (
        list(names) if names is not None else [f"response {i + 1}" for i in range(len(responses))]
    )
    if len(labels) != len(responses):
        raise ValueError("names must match responses one to one")
    errors: list[InputError] = []
    checked: list[tuple[str, Checked]] = []
    for response, label in zip(responses, labels, strict=True):
        try:
            checked.append((label, check_response(response, label, column_of)))
        except InvalidOutcomesError as exc:
            errors.extend(exc.errors)
    errors.extend(_duplicates(responses, labels))
    errors.extend(_before_baseline(checked, column_of))
    raise_if_any(errors)
    return [c for _, c in checked]


def _key(r: Response) -> tuple[str, str, str, str, object]:
    """Identity of a response, read leniently so duplicates of invalid rows are found too."""
    try:
        timepoint = parse_timepoint(r.timepoint).label
    except InputError:
        timepoint = str(r.timepoint).strip().lower()
    return (
        str(r.subject).strip(),
        str(r.procedure).strip(),
        timepoint,
        str(r.instrument),
        r.episode,
    )


def episode_name(subject: str, episode: int) -> str:
    """'P014', or 'P014 (episode 2)' for a repeated procedure."""
    return subject if episode == 1 else f"{subject} (episode {episode})"


def _duplicates(responses: Sequence[Response], labels: Sequence[str]) -> list[InputError]:
    errors: list[InputError] = []
    first_seen: dict[tuple[str, str, str, str, object], str] = {}
    for r, label in zip(responses, labels, strict=True):
        key = _key(r)
        if key in first_seen:
            subject, procedure, timepoint, instrument, episode = key
            who = episode_name(subject, episode) if isinstance(episode, int) else subject
            errors.append(
                InputError(
                    label,
                    f"duplicate response: {who} already has {instrument} at {timepoint} for "
                    f"{procedure} ({first_seen[key]}); a repeated procedure is a new episode "
                    "(column episode)",
                )
            )
        else:
            first_seen[key] = label
    return errors


def _before_baseline(
    checked: Sequence[tuple[str, Checked]], column_of: ColumnOf | None
) -> list[InputError]:
    errors: list[InputError] = []
    baseline_day: dict[tuple[str, str, int], tuple[date, str]] = {}
    for label, c in checked:
        r = c.response
        if c.timepoint.is_baseline and r.collected_on is not None:
            key = (r.subject, r.procedure, r.episode)
            if key not in baseline_day or r.collected_on < baseline_day[key][0]:
                baseline_day[key] = (r.collected_on, label)
    for label, c in checked:
        r = c.response
        if c.timepoint.is_baseline or r.collected_on is None:
            continue
        base = baseline_day.get((r.subject, r.procedure, r.episode))
        if base is not None and r.collected_on <= base[0]:
            errors.append(
                InputError(
                    field_name(label, "collected_on", column_of),
                    f"follow-up before baseline: {r.subject}'s {c.timepoint.label} "
                    f"{r.instrument} is dated {r.collected_on.isoformat()}, not after the "
                    f"baseline of {base[0].isoformat()} ({base[1]})",
                )
            )
        elif base is not None and (r.collected_on - base[0]).days != r.days_from_baseline:
            errors.append(
                InputError(
                    field_name(label, "days_from_baseline", column_of),
                    f"is {r.days_from_baseline}, but {r.subject}'s {c.timepoint.label} "
                    f"{r.instrument} is dated {r.collected_on.isoformat()}, "
                    f"{(r.collected_on - base[0]).days} days after the baseline of "
                    f"{base[0].isoformat()} ({base[1]}): the days and the dates must agree",
                )
            )
    return errors


def check_new_response(existing: Sequence[Response], new: Response) -> Checked:
    """Validate ``new`` before storing it beside ``existing`` (assumed already valid).

    Raises ``InvalidOutcomesError`` if ``new`` is bad on its own, duplicates a stored response,
    or is a follow-up dated on or before the baseline (or a baseline dated after a follow-up).
    """
    # Only the same patient's records of the same procedure can conflict with the new one.
    same = [r for r in existing if (r.subject, r.procedure) == (new.subject, new.procedure)]
    names = [f"stored response {i + 1}" for i in range(len(same))]
    checked = validate_responses([*same, new], [*names, "new response"])
    return checked[-1]
