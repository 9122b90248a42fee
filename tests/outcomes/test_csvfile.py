"""The CSV of responses: the example file, round trips, and bad files named line by line."""

from __future__ import annotations

from collections import Counter

import pytest

from intrathecal.outcomes import InvalidOutcomesError, format_responses_csv, parse_responses_csv
from intrathecal.outcomes.csvfile import COLUMN_NAMES, LATER_COLUMNS
from tests.conftest import EXAMPLES

EXAMPLE = (EXAMPLES / "outcomes.csv").read_text()
HEADER = "subject,procedure,timepoint,days_from_baseline,collected_on,nrs_pain,pgic"


def errors_of(text: str) -> list[tuple[str, str]]:
    with pytest.raises(InvalidOutcomesError) as info:
        parse_responses_csv(text)
    return [(e.field, e.message) for e in info.value.errors]


def test_example_file_reads_completely() -> None:
    responses = parse_responses_csv(EXAMPLE)
    # 51 rows: 30 baselines (NRS + PROMIS = 2 responses each) and 21 follow-ups (NRS, PGIC,
    # percent, PROMIS, side effects = 5 each): 60 + 105 = 165 responses.
    assert len(responses) == 165
    assert len({r.subject for r in responses}) == 30
    visits = Counter((r.procedure, r.timepoint) for r in responses if r.instrument == "nrs-pain")
    assert visits == {
        ("intrathecal-pump", "baseline"): 8,
        ("intrathecal-pump", "3 months"): 5,
        ("facet-joint-injection", "baseline"): 12,
        ("facet-joint-injection", "3 months"): 9,
        ("epidural-injection", "baseline"): 10,
        ("epidural-injection", "3 months"): 7,
    }
    assert any(r.entered_by == "patient" for r in responses)


def test_format_then_parse_gives_the_same_responses() -> None:
    responses = parse_responses_csv(EXAMPLE)
    again = parse_responses_csv(format_responses_csv(responses))
    key = lambda r: (r.subject, r.procedure, r.timepoint, r.instrument)  # noqa: E731
    assert sorted(again, key=key) == sorted(responses, key=key)


def test_bad_rows_are_each_named_by_line_and_column_and_nothing_is_returned() -> None:
    text = "\n".join(
        [
            HEADER,
            "P1,epidural-injection,baseline,0,2025-01-10,11,",  # line 2: NRS 11
            "P1,epidural-injection,baseline,0,2025-01-10,5,",  # line 3: duplicate
            "P1,epidural-injection,3 months,90,2025-01-01,4,9",  # line 4: before baseline; PGIC 9
            "P2,epidural-injection,baseline,0,2025-01-10,5,2",  # line 5: PGIC at baseline
            "P3,epidural-injection,3 months,ninety,2025-04-01,4,2",  # line 6: days not a number
            "P4,epidural-injection,baseline,0,10/01/2025,4,",  # line 7: date format
            "P5,epidural-injection,baseline,0,2025-01-10,,",  # line 8: no answers
            "P6,epidural-injection,3 months,90,2025-04-10,4,2",  # line 9: fine (no baseline)
        ]
    )
    errors = errors_of(text)
    assert errors == [
        ("line 2, column nrs_pain", errors[0][1]),
        ("line 3", errors[1][1]),
        ("line 4, column collected_on", errors[2][1]),
        ("line 4, column pgic", errors[3][1]),
        ("line 5, column pgic", errors[4][1]),
        ("line 6, column days_from_baseline", errors[5][1]),
        ("line 7, column collected_on", errors[6][1]),
        ("line 8", errors[7][1]),
    ]
    assert "out of range" in errors[0][1]
    assert "duplicate" in errors[1][1] and "line 2" in errors[1][1]
    assert "follow-up before baseline" in errors[2][1]
    assert "not an allowed answer" in errors[3][1]
    assert "no baseline" in errors[4][1]
    assert "whole days" in errors[5][1]
    assert "YYYY-MM-DD" in errors[6][1]
    assert "no answers" in errors[7][1]


def test_a_partly_answered_promis_names_each_missing_column() -> None:
    text = "subject,procedure,timepoint,days_from_baseline,promis_global01,promis_global02\n"
    text += "P1,epidural-injection,baseline,0,3,4\n"
    fields = {f for f, _ in errors_of(text)}
    assert (
        "line 2, column promis_global03" in fields and "line 2, column promis_global07r" in fields
    )
    assert len(fields) == 8  # the eight unanswered items


def test_side_effects_column() -> None:
    head = "subject,procedure,timepoint,days_from_baseline,side_effects,side_effects_other\n"
    ok = parse_responses_csv(head + "P1,intrathecal-pump,1 month,30,itching;nausea,dry mouth\n")
    assert ok[0].answers["itching"] == 1 and ok[0].answers["fever"] == 0
    assert ok[0].answers["other"] == "dry mouth"
    none = parse_responses_csv(head + "P1,intrathecal-pump,1 month,30,none,\n")
    assert sum(v == 1 for v in none[0].answers.values()) == 0
    assert errors_of(head + "P1,intrathecal-pump,1 month,30,hiccups,\n")[0][0] == (
        "line 2, column side_effects"
    )
    assert "write 'none'" in errors_of(head + "P1,intrathecal-pump,1 month,30,,dizzy\n")[0][1]


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("", "line 1", "empty"),
        (HEADER + "\n", "line 2", "no data rows"),
        ("subject;procedure;timepoint\n", "line 1", "commas, not semicolons"),
        (
            "subject,procedure,timepoint,days,nrs_pain\nP1,x,baseline,0,3\n",
            "line 1, column days",
            "unknown column",
        ),
        (
            "subject,procedure,days_from_baseline,nrs_pain\nP1,x,0,3\n",
            "line 1",
            "missing required column(s): timepoint",
        ),
        (HEADER + ",pgic\n", "line 1, column pgic", "appears twice"),
        (HEADER + "\nP1,epidural-injection,baseline,0\n", "line 2", "has 4 cells"),
    ],
)
def test_malformed_files_are_refused(text: str, field: str, message: str) -> None:
    errors = errors_of(text)
    assert any(f == field and message in m for f, m in errors), errors


def test_byte_order_mark_and_blank_lines_are_tolerated() -> None:
    text = "\ufeff" + HEADER + "\n\nP1,epidural-injection,baseline,0,2025-01-10,5,\n\n"
    assert len(parse_responses_csv(text)) == 1


def test_columns_are_documented() -> None:
    assert COLUMN_NAMES[:4] == ("subject", "procedure", "timepoint", "days_from_baseline")
    # The example file predates the optional columns of issue 13: every other column.
    assert EXAMPLE.splitlines()[0].split(",") == [c for c in COLUMN_NAMES if c not in LATER_COLUMNS]
