"""One patient's course, read from the example file."""

from __future__ import annotations

from datetime import date

import pytest

from intrathecal.outcomes import course_to_dict, parse_responses_csv, patient_course
from intrathecal.units import InputError
from tests.conftest import EXAMPLES

RESPONSES = parse_responses_csv((EXAMPLES / "outcomes.csv").read_text())


def test_course_of_p001_hand_read_from_the_file() -> None:
    # P001, intrathecal pump: baseline 2025-07-19 NRS 7, Global06 2, Global02 3;
    # 3 months (day 98) NRS 1, Global06 3, Global02 4, PGIC 1, 70%, itching.
    # GPH baseline = Global03 2 + Global06 2 + pain 7 -> 2 + Global08r 2 = 8;
    # at 3 months = 3 + 3 + pain 1 -> 4 + 3 = 13.
    course = patient_course(RESPONSES, "P001", "intrathecal-pump")
    assert [p.value for p in course.series("pain")] == [7, 1]
    assert course.change("pain") == -6
    assert course.change("physical_function") == 1
    assert course.change("quality_of_life") == 1
    assert [p.value for p in course.series("global_physical_health_raw")] == [8, 13]
    assert course.series("pgic")[0].value == 1 and course.change("pgic") is None
    assert course.series("pain")[1].collected_on == date(2025, 10, 25)
    assert course.side_effects[0].effects == ("Itching",)
    as_dict = course_to_dict(course)
    assert as_dict["measures"]["pain"]["change_from_baseline"] == -6


def test_course_flags_answers_for_review() -> None:
    course = patient_course(RESPONSES, "P024", "epidural-injection")
    assert any("numbness" in r for r in course.side_effects[0].review)


def test_unknown_patient_is_refused() -> None:
    with pytest.raises(InputError, match="no responses for P999"):
        patient_course(RESPONSES, "P999", "intrathecal-pump")
