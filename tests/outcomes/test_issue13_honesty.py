"""Issue 13, items 3-6: time points mean what they say, --as-of is a snapshot, every
denominator visible, repeated procedures are episodes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from intrathecal.cli.outcomes_cmd import app
from intrathecal.outcomes import (
    InvalidOutcomesError,
    format_responses_csv,
    parse_responses_csv,
    parse_timepoint,
    patient_course,
    procedure_statistics,
    validate_responses,
)
from intrathecal.units import InputError
from tests.outcomes.builders import DAY0, PROCEDURE, FollowUp, patient

runner = CliRunner()


# --- item 3: windows, synonyms, days agree with dates ------------------------------------


def test_rule_a_3_month_answer_on_day_14_is_refused() -> None:
    rows = patient("A", 8, follow_up=FollowUp(3, 1, 80, 3, 3), timepoint="3 months", days=14)
    with pytest.raises(InvalidOutcomesError, match=r"outside the 3 months window \(days 60"):
        validate_responses(rows)


def test_rule_a_2_week_answer_on_day_90_is_refused() -> None:
    rows = patient("A", 8, follow_up=FollowUp(3, 1, 80, 3, 3), timepoint="2 weeks", days=90)
    with pytest.raises(InvalidOutcomesError, match="outside the 2 weeks window"):
        validate_responses(rows)


def test_rule_1_year_and_12_months_are_one_time_point() -> None:
    assert parse_timepoint("1 year") == parse_timepoint("12 months")
    a = patient("A", 8, follow_up=FollowUp(3, 1, 80, 3, 3), timepoint="1 year", days=365)
    b = patient("B", 8, follow_up=FollowUp(3, 1, 80, 3, 3), timepoint="12 months", days=366)
    stats = procedure_statistics([*a, *b], PROCEDURE)
    assert [t.timepoint for t in stats.timepoints] == ["12 months"]
    assert stats.timepoints[0].responded == 2
    # The same visit written both ways for one patient is a duplicate, not two time points.
    c = patient("C", 8, follow_up=FollowUp(3, 1, 80, 3, 3), timepoint="1 year", days=365)
    twice = [*c, *(replace(r, timepoint="12 months") for r in c[2:])]
    with pytest.raises(InvalidOutcomesError, match="duplicate"):
        validate_responses(twice)


def test_rule_days_from_baseline_must_agree_with_the_dates() -> None:
    # Baseline 2025-01-06; follow-up dated 2025-04-07 is 91 days later, but says 100.
    rows = patient("A", 8, follow_up=FollowUp(3, 1, 80, 3, 3), days=91)
    wrong = [*rows[:2], *(replace(r, days_from_baseline=100) for r in rows[2:])]
    with pytest.raises(InvalidOutcomesError, match="91 days after the baseline"):
        validate_responses(wrong)


# --- item 4: --as-of is a snapshot -------------------------------------------------------


def test_rule_as_of_leaves_out_answers_and_baselines_dated_after_it() -> None:
    # A: baseline 2025-01-06, follow-up on day 91 = 2025-04-07. B: baseline 2025-05-01.
    a = patient("A", 8, follow_up=FollowUp(3, 1, 80, 3, 3))
    b = patient("B", 8, start=date(2025, 5, 1))
    stats = procedure_statistics([*a, *b], PROCEDURE, as_of=date(2025, 4, 6))
    assert stats.cohort == 1  # B's baseline is after the as-of date
    t = stats.at("3 months")
    # A's answer (2025-04-07) is after the snapshot, and A is due on 2025-04-06 (day 90): due,
    # not answered.
    assert (t.due, t.responded) == (1, 0)
    assert any("dated after 2025-04-06 are left out" in n for n in stats.notes)


# --- item 5: every denominator visible; "not asked" ----------------------------------------


def test_rule_an_instrument_never_asked_is_not_asked_not_zero_percent() -> None:
    # Follow-ups with NRS only: PGIC never asked at 3 months.
    a = patient("A", 8, follow_up=FollowUp(3, 1, 80, 3, 3))
    only_nrs = [r for r in a if r.timepoint == "baseline" or r.instrument == "nrs-pain"]
    t = procedure_statistics(only_nrs, PROCEDURE).at("3 months")
    improved = t.share("improved")
    assert improved.asked is False
    assert improved.missing_as_not_improved.n == 0
    assert "not asked" in improved.statement("3 months")
    assert t.share("less_pain").asked is True


def test_rule_patients_without_a_baseline_for_an_instrument_are_shown_in_the_text(
    tmp_path: Path,
) -> None:
    # B has no NRS at baseline: left out of "less pain", counted in the no-baseline column.
    a = patient("A", 8, follow_up=FollowUp(3, 1, 80, 3, 3))
    b = [
        r
        for r in patient("B", 6, follow_up=FollowUp(3, 1, 80, 3, 3))
        if not (r.timepoint == "baseline" and r.instrument == "nrs-pain")
    ]
    data = tmp_path / "d.csv"
    data.write_text(format_responses_csv([*a, *b]), encoding="utf-8")
    result = runner.invoke(app, ["report", str(data)])
    assert result.exit_code == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.strip().startswith("less pain"))
    assert line.rstrip().endswith(" 1")
    assert "for want of its baseline measure: less pain 1, pain halved 1" in result.stdout
    payload = json.loads(runner.invoke(app, ["report", str(data), "--json"]).stdout)
    shares = {s["key"]: s for s in payload["procedures"][0]["timepoints"][0]["shares"]}
    assert shares["less_pain"]["no_baseline"] == 1


# --- item 6: repeated procedures are episodes --------------------------------------------


def test_rule_a_repeated_procedure_is_an_episode_not_a_duplicate(tmp_path: Path) -> None:
    first = patient("A", 8, follow_up=FollowUp(3, 1, 80, 3, 3))
    second = [
        replace(r, episode=2)
        for r in patient("A", 7, follow_up=FollowUp(6, 4, 10, 3, 3), start=date(2025, 9, 1))
    ]
    with pytest.raises(InvalidOutcomesError, match="new episode"):
        validate_responses([*first, *(replace(r, episode=1) for r in second)])
    stats = procedure_statistics([*first, *second], PROCEDURE)
    assert stats.cohort == 2
    t = stats.at("3 months")
    assert (t.responded, t.share("improved").completers.successes) == (2, 1)
    # CSV round trip keeps the episode.
    again = parse_responses_csv(format_responses_csv([*first, *second]))
    assert sorted({r.episode for r in again}) == [1, 2]
    with pytest.raises(InputError, match="2 episodes"):
        patient_course([*first, *second], "A", PROCEDURE)
    course = patient_course([*first, *second], "A", PROCEDURE, episode=2)
    assert course.change("pain") == -1
    assert DAY0.year == 2025
