"""Validating a form's answers against an instrument, and scoring them by the published rules."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from intrathecal.outcomes.errors import raise_if_any
from intrathecal.outcomes.instruments import (
    INSTRUMENTS,
    REVIEW_SIDE_EFFECTS,
    SIDE_EFFECT_LABELS,
    Instrument,
    Item,
    ItemKind,
)
from intrathecal.outcomes.records import Answer
from intrathecal.units import InputError


@dataclass(frozen=True, slots=True)
class Scored:
    """Answers after validation (codes as int, text stripped) and the scores they give."""

    instrument: str
    answers: Mapping[str, int | str]
    scores: Mapping[str, float]
    review: tuple[str, ...] = ()  # answers a clinician should look at (side effects)


def instrument_for(key: object, field: str = "instrument") -> Instrument:
    if not isinstance(key, str) or key not in INSTRUMENTS:
        raise InputError(
            field, f"unknown instrument {key!r}; known: {', '.join(sorted(INSTRUMENTS))}"
        )
    return INSTRUMENTS[key]


def _whole_number(value: Answer, field: str) -> int:
    """Form values arrive as text ("3"), CSV as text, JSON as numbers: accept whole numbers."""
    if isinstance(value, bool):
        raise InputError(field, f"expected a whole number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value):
            return int(value)
        raise InputError(field, f"expected a whole number, got {value!r}")
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        raise InputError(field, f"expected a whole number, got {value!r}") from None
    if math.isfinite(number) and number == int(number):
        return int(number)
    raise InputError(field, f"expected a whole number, got {value!r}")


def check_item(item: Item, value: Answer, field: str) -> int | str:
    """One answer, checked against its item; the error names the item and what is allowed."""
    if item.kind is ItemKind.TEXT:
        if not isinstance(value, str):
            raise InputError(field, f"expected text, got {value!r}")
        text = value.strip()
        if len(text) > item.max_length:
            raise InputError(field, f"at most {item.max_length} characters, got {len(text)}")
        return text
    number = _whole_number(value, field)
    if item.kind is ItemKind.CHOICE:
        if number not in item.codes:
            allowed = ", ".join(f"{c.code} = {c.label}" for c in item.choices)
            raise InputError(field, f"{number} is not an allowed answer; allowed: {allowed}")
        return number
    assert item.minimum is not None and item.maximum is not None
    if not item.minimum <= number <= item.maximum:
        unit = item.unit
        raise InputError(
            field,
            f"{number}{unit} is out of range; allowed {item.minimum}{unit} to "
            f"{item.maximum}{unit} ({item.min_label}, {item.max_label})",
        )
    return number


def validate_answers(
    instrument: str | Instrument, answers: Mapping[str, Answer], field: str = ""
) -> Scored:
    """Check every answer of one completed instrument and score it.

    Raises ``InvalidOutcomesError`` (an ``InputError``) listing every bad item: unknown items,
    missing required items, answers outside the allowed codes or range.
    """
    inst = instrument if isinstance(instrument, Instrument) else instrument_for(instrument)
    prefix = f"{field}." if field else ""
    errors: list[InputError] = []
    clean: dict[str, int | str] = {}
    for key in answers:
        if key not in inst.item_keys:
            errors.append(
                InputError(
                    f"{prefix}{inst.key}.{key}",
                    f"unknown item; {inst.name} has {', '.join(inst.item_keys)}",
                )
            )
    for item in inst.items:
        name = f"{prefix}{inst.key}.{item.key}"
        raw = answers.get(item.key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if item.required:
                errors.append(InputError(name, "no answer; this item is required"))
            continue
        try:
            clean[item.key] = check_item(item, raw, name)
        except InputError as error:
            errors.append(error)
    if inst.key == "penn-spasm" and "frequency" in clean:
        # The severity part is asked only of a patient who has spasms.
        name = f"{prefix}{inst.key}.severity"
        if clean["frequency"] == 0 and "severity" in clean:
            errors.append(InputError(name, "leave blank: the frequency is 0 (no spasms)"))
        elif clean["frequency"] != 0 and "severity" not in clean:
            errors.append(InputError(name, "no answer; needed when there are spasms"))
    raise_if_any(errors)
    scores, review = _score(inst, clean)
    return Scored(inst.key, clean, scores, review)


def rescore_global07(pain: int) -> int:
    """PROMIS Global07r pain 0-10 -> 1-5 (higher = better): 0->5, 1-3->4, 4-6->3, 7-9->2, 10->1."""
    if pain == 0:
        return 5
    if pain <= 3:
        return 4
    if pain <= 6:
        return 3
    if pain <= 9:
        return 2
    return 1


def _number(answers: Mapping[str, int | str], key: str) -> int:
    value = answers[key]
    assert isinstance(value, int)
    return value


def _score(
    inst: Instrument, answers: Mapping[str, int | str]
) -> tuple[dict[str, float], tuple[str, ...]]:
    if inst.key == "nrs-pain":
        return {"pain": _number(answers, "pain")}, ()
    if inst.key == "pgic":
        return {"pgic": _number(answers, "change")}, ()
    if inst.key == "percent-improvement":
        return {"percent_improvement": _number(answers, "percent")}, ()
    if inst.key == "promis-global-10":
        n = {key: _number(answers, key) for key in inst.item_keys}
        pain_rescored = rescore_global07(n["global07r"])
        return {
            "global_physical_health_raw": n["global03"]
            + n["global06"]
            + pain_rescored
            + n["global08r"],
            "global_mental_health_raw": n["global02"]
            + n["global04"]
            + n["global05"]
            + n["global10r"],
            "general_health": n["global01"],
            "quality_of_life": n["global02"],
            "physical_function": n["global06"],
            "social_roles": n["global09r"],
            "pain": n["global07r"],
            "pain_rescored": pain_rescored,
        }, ()
    if inst.key == "side-effects":
        reported = [key for key in SIDE_EFFECT_LABELS if answers.get(key) == 1]
        review = tuple(
            f"{SIDE_EFFECT_LABELS[key]}: needs clinician review"
            for key in reported
            if key in REVIEW_SIDE_EFFECTS
        )
        other = answers.get("other", "")
        if other:
            review = (*review, f"other side effect described: {other!r}")
        return {"side_effects_count": len(reported)}, review
    if inst.key == "modified-ashworth":
        return {"mas": _number(answers, "grade")}, ()
    if inst.key == "penn-spasm":
        return {"psfs_frequency": _number(answers, "frequency")}, ()
    raise AssertionError(f"no scoring rule for {inst.key}")  # every instrument has one
