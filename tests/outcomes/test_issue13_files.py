"""Issue 13, items 1, 2 and 11: the whole file or nothing; nothing written on failure; caps."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from intrathecal.cli.outcomes_cmd import app
from intrathecal.outcomes import InvalidOutcomesError, parse_responses_csv
from tests.conftest import EXAMPLES

DATA = EXAMPLES / "outcomes.csv"
runner = CliRunner()


def lines() -> list[str]:
    return DATA.read_text(encoding="utf-8").splitlines()


def test_an_unclosed_quote_that_a_later_row_closes_is_refused_with_its_line() -> None:
    # Old code: the quote opened on line 3 swallowed lines 4-6 (exit 0, patients vanished).
    rows = lines()
    rows[2] += '"oops'
    rows[5] += 'x"'
    with pytest.raises(InvalidOutcomesError) as caught:
        parse_responses_csv("\n".join(rows) + "\n")
    assert caught.value.errors[0].field == "line 3"
    assert "closing quote" in caught.value.errors[0].message


def test_an_unclosed_quote_never_closed_names_the_line_where_it_opened() -> None:
    rows = lines()
    rows[2] += '"oops'
    with pytest.raises(InvalidOutcomesError) as caught:
        parse_responses_csv("\n".join(rows) + "\n")
    assert caught.value.errors[0].field == "line 3"


def test_text_after_a_closing_quote_is_refused() -> None:
    rows = lines()
    rows[2] += '"ouch" she said'
    with pytest.raises(InvalidOutcomesError):
        parse_responses_csv("\n".join(rows) + "\n")


def test_errors_are_capped_with_the_total_count() -> None:
    header = lines()[0]
    bad = [f"P{i},facet-joint-injection,baseline,0,2025-01-01,staff,11" for i in range(80)]
    cols = header.count(",") + 1
    rows = [r + "," * (cols - 1 - r.count(",")) for r in bad]
    with pytest.raises(InvalidOutcomesError) as caught:
        parse_responses_csv("\n".join([header, *rows]) + "\n")
    errors = caught.value.errors
    assert len(errors) == 51
    assert errors[-1].field == "file" and "80 in all" in errors[-1].message


def test_rule_nothing_written_when_the_pdf_path_is_bad(tmp_path: Path) -> None:
    # Old code wrote the chart, then failed with exit 3 on the PDF's missing folder.
    chart = tmp_path / "a.png"
    result = runner.invoke(
        app, ["report", str(DATA), "--chart", str(chart), "--pdf", str(tmp_path / "no" / "r.pdf")]
    )
    assert result.exit_code == 2
    assert "--pdf" in result.stderr and "does not exist" in result.stderr
    assert not chart.exists()


def test_a_folder_given_as_the_chart_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "x.png"
    folder.mkdir()
    result = runner.invoke(
        app, ["report", str(DATA), "--procedure", "facet-joint-injection", "--chart", str(folder)]
    )
    assert result.exit_code == 2 and "is a folder" in result.stderr


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with big.open("wb") as f:
        f.truncate(101_000_000)  # sparse: no disk used
    result = runner.invoke(app, ["report", str(big)])
    assert result.exit_code == 2 and "at most 100 MB" in result.stderr
