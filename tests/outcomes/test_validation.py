"""Records checked alone and together: nothing bad is accepted, every problem is named."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from intrathecal.outcomes import (
    InvalidOutcomesError,
    Response,
    check_new_response,
    check_response,
    parse_timepoint,
    validate_responses,
)
from intrathecal.units import InputError
from tests.outcomes.builders import FollowUp, patient

BASE = Response(
    "P1", "epidural-injection", "baseline", 0, "nrs-pain", {"pain": 6}, date(2025, 3, 3)
)
LATER = Response(
    "P1", "epidural-injection", "3 months", 90, "nrs-pain", {"pain": 2}, date(2025, 6, 1)
)


def errors_of(responses: list[Response]) -> list[InputError]:
    with pytest.raises(InvalidOutcomesError) as info:
        validate_responses(responses)
    return list(info.value.errors)


def test_a_valid_response_is_cleaned() -> None:
    checked = check_response(replace(LATER, timepoint=" 3 Months ", answers={"pain": "2"}))
    assert checked.response.timepoint == "3 months"
    assert checked.response.answers == {"pain": 2}
    assert checked.scored.scores == {"pain": 2}


@pytest.mark.parametrize(
    ("text", "label", "days"),
    [
        ("baseline", "baseline", 0),
        ("3 months", "3 months", 90),
        ("1 month", "1 month", 30),
        ("2 weeks", "2 weeks", 14),
        ("1 Year", "12 months", 360),  # issue 13: one time point, not two
        ("52 weeks", "12 months", 360),
        ("6 MONTH", "6 months", 180),
    ],
)
def test_timepoints_are_read_and_named_canonically(text: str, label: str, days: int) -> None:
    tp = parse_timepoint(text)
    assert (tp.label, tp.nominal_days) == (label, days)


@pytest.mark.parametrize("text", ["", "soon", "0 months", "3 fortnights", "-2 weeks", "3"])
def test_bad_timepoints_are_refused(text: str) -> None:
    with pytest.raises(InputError, match="timepoint"):
        parse_timepoint(text)


def test_duplicated_response_is_refused_naming_both() -> None:
    errors = errors_of([BASE, LATER, replace(LATER, answers={"pain": 3})])
    assert [e.field for e in errors] == ["response 3"]
    assert "duplicate" in errors[0].message and "(response 2)" in errors[0].message


def test_timepoint_spelling_does_not_hide_a_duplicate() -> None:
    errors = errors_of([BASE, LATER, replace(LATER, timepoint="3 Month")])
    assert "duplicate" in errors[0].message


def test_follow_up_dated_before_baseline_is_refused() -> None:
    errors = errors_of([BASE, replace(LATER, collected_on=date(2025, 3, 1))])
    assert errors[0].field == "response 2.collected_on"
    assert "follow-up before baseline" in errors[0].message
    assert "2025-03-01" in errors[0].message and "2025-03-03" in errors[0].message


def test_follow_up_on_the_baseline_day_is_refused() -> None:
    errors = errors_of([BASE, replace(LATER, collected_on=BASE.collected_on)])
    assert "follow-up before baseline" in errors[0].message


def test_follow_up_with_days_not_after_baseline_is_refused() -> None:
    for days in (0, -14):
        errors = errors_of([BASE, replace(LATER, days_from_baseline=days)])
        assert errors[0].field == "response 2.days_from_baseline"
        assert "follow-up before baseline" in errors[0].message


def test_baseline_is_day_zero() -> None:
    errors = errors_of([replace(BASE, days_from_baseline=3)])
    assert "a baseline response is day 0" in errors[0].message


def test_change_questions_have_no_baseline() -> None:
    pgic = Response("P1", "epidural-injection", "baseline", 0, "pgic", {"change": 2})
    errors = errors_of([pgic])
    assert errors[0].field == "response 1.answers.pgic"
    assert "no baseline" in errors[0].message


@pytest.mark.parametrize("subject", ["Jane Doe", "", "x" * 65, "née"])
def test_names_are_not_accepted_as_subject_ids(subject: str) -> None:
    errors = errors_of([replace(BASE, subject=subject)])
    assert errors[0].field == "response 1.subject"


@pytest.mark.parametrize("procedure", ["Facet Joint", "facet_joint", "", "-pump"])
def test_procedure_keys_are_slugs(procedure: str) -> None:
    errors = errors_of([replace(BASE, procedure=procedure)])
    assert errors[0].field == "response 1.procedure"


def test_every_problem_of_every_record_is_listed() -> None:
    bad = Response("Jane Doe", "Pump!", "later", 5, "nrs-pain", {"pain": 12}, entered_by="robot")
    fields = {e.field for e in errors_of([bad])}
    assert fields == {
        "response 1.subject",
        "response 1.procedure",
        "response 1.timepoint",
        "response 1.entered_by",
        "response 1.answers.nrs-pain.pain",
    }


def test_check_new_response_accepts_a_valid_follow_up() -> None:
    stored = patient("P7", 6)
    new = patient("P7", 6, follow_up=FollowUp(3, 2, 50, 3, 3))[2]
    assert check_new_response(stored, new).response.answers == {"pain": 3}


def test_check_new_response_refuses_a_duplicate_and_a_follow_up_before_baseline() -> None:
    stored = patient("P7", 6, follow_up=FollowUp(3, 2, 50, 3, 3))
    with pytest.raises(InvalidOutcomesError, match="duplicate"):
        check_new_response(stored, stored[2])
    early = replace(stored[2], subject="P8", collected_on=date(2024, 12, 1))
    with pytest.raises(InvalidOutcomesError, match="follow-up before baseline"):
        check_new_response([*stored, *patient("P8", 5)], early)
    # A new baseline dated after a stored follow-up is refused just the same.
    late_baseline = replace(patient("P9", 5)[0], collected_on=date(2026, 1, 1))
    followed = [replace(r, subject="P9") for r in stored[2:]]
    with pytest.raises(InvalidOutcomesError, match="follow-up before baseline"):
        check_new_response(followed, late_baseline)
