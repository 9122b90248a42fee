"""Issue 13, item 7: the Modified Ashworth Scale and the Penn Spasm Frequency Scale."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from intrathecal.outcomes import (
    InvalidOutcomesError,
    Response,
    format_responses_csv,
    parse_responses_csv,
    procedure_statistics,
    validate_answers,
)

PUMP = "intrathecal-pump"
DAY0 = date(2025, 1, 6)


def baclofen(subject: str, mas: tuple[int, int], psfs: tuple[int, int]) -> list[Response]:
    def r(tp: str, d: int, inst: str, answers: dict[str, int | str]) -> Response:
        return Response(subject, PUMP, tp, d, inst, answers, DAY0 + timedelta(days=d))

    def penn(f: int) -> dict[str, int | str]:
        return {"frequency": f, "severity": 2} if f else {"frequency": f}

    return [
        r("baseline", 0, "modified-ashworth", {"grade": mas[0]}),
        r("baseline", 0, "penn-spasm", penn(psfs[0])),
        r("3 months", 91, "modified-ashworth", {"grade": mas[1]}),
        r("3 months", 91, "penn-spasm", penn(psfs[1])),
    ]


def test_rule_less_spasticity_is_one_mas_grade_lower_and_fewer_spasms_one_category() -> None:
    # MAS codes: 0=0, 1=1, 2=1+, 3=2, 4=3, 5=4.
    #   A: 3 (2) -> 1 (1):  2 grades lower: less spasticity.  PSFS 3 -> 1: fewer spasms.
    #   B: 2 (1+) -> 1 (1): one grade lower: counts.          PSFS 2 -> 2: no.
    #   C: 4 (3) -> 4:      no.                               PSFS 4 -> 3: fewer.
    #   D: 0 -> 0:          baseline 0 cannot improve: no.    PSFS 0 -> 0: no.
    # less spasticity 2 of 4; fewer spasms 2 of 4.
    rows = [
        *baclofen("A", (3, 1), (3, 1)),
        *baclofen("B", (2, 1), (2, 2)),
        *baclofen("C", (4, 4), (4, 3)),
        *baclofen("D", (0, 0), (0, 0)),
    ]
    t = procedure_statistics(rows, PUMP).at("3 months")
    assert (
        t.share("less_spasticity").completers.successes,
        t.share("less_spasticity").completers.n,
    ) == (2, 4)
    assert (t.share("fewer_spasms").completers.successes, t.share("fewer_spasms").completers.n) == (
        2,
        4,
    )
    assert t.share("less_pain").asked is False  # no NRS in this file: not asked, not 0%


def test_penn_severity_only_with_spasms() -> None:
    with pytest.raises(InvalidOutcomesError, match="needed when there are spasms"):
        validate_answers("penn-spasm", {"frequency": 2})
    with pytest.raises(InvalidOutcomesError, match="leave blank"):
        validate_answers("penn-spasm", {"frequency": 0, "severity": 1})


def test_mas_grades_in_the_csv_are_written_as_grades_and_read_back() -> None:
    rows = baclofen("A", (2, 1), (3, 1))
    text = format_responses_csv(rows)
    assert ",1+," in text.splitlines()[1]
    again = {(r.timepoint, r.instrument): dict(r.answers) for r in parse_responses_csv(text)}
    assert again[("baseline", "modified-ashworth")] == {"grade": "2"}  # code 2 is grade 1+
    bad = text.replace(",1+,", ",5,")
    with pytest.raises(InvalidOutcomesError, match="column mas: '5' is not a grade"):
        parse_responses_csv(bad)
