"""Issue 13, item 10: the practice PDF opens with a summary a clinic could publish; small n
once per table; the standalone chart marks small n and states its definitions."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from intrathecal.charts.outcomes import shares_chart
from intrathecal.outcomes import parse_responses_csv, practice_statistics
from intrathecal.reports import practice_report_pdf
from intrathecal.reports.practice import headline
from tests.conftest import EXAMPLES

RESPONSES = parse_responses_csv((EXAMPLES / "outcomes.csv").read_text())
AS_OF = date(2025, 10, 28)


def test_headline_in_the_seed_form_with_both_ways_of_counting() -> None:
    # Facet joint injection at 3 months, less pain: 6 of 9 answered (67%, Wilson 35-88%),
    # 6 of 11 due (55%, 28-79%) when the 2 who did not answer count as not improved.
    stats = {s.procedure: s for s in practice_statistics(RESPONSES, as_of=AS_OF)}
    t = stats["facet-joint-injection"].at("3 months")
    assert headline(t.share("less_pain"), t) == (
        "67% of patients report less pain at 3 months (95% CI 35%–88%, n 9 answered of 11 due); "
        "55% (28%–79%) if the 2 who did not answer are counted as not improved [small n]."
    )
    assert headline(t.share("less_spasticity"), t) is None  # not asked: no headline


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler's pdftotext")
def test_rule_the_summary_page_comes_first_and_small_n_is_said_once_per_table(
    tmp_path: Path,
) -> None:
    pdf = tmp_path / "r.pdf"
    stats = practice_statistics(RESPONSES, as_of=AS_OF)
    pdf.write_bytes(practice_report_pdf(stats, generated_on=date(2025, 11, 1)))
    pages = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout.split("\f")
    pages = [" ".join(p.split()) for p in pages]  # lines wrap where the layout wraps them
    first = pages[0]
    assert "Summary" in first and "of patients report less pain at 3 months" in first
    assert "if the 2 who did not answer are counted as not improved" in first
    facet = next(p for p in pages[1:] if "Facet joint injection at 3 months" in p)
    # Old code: one "only N answer(s)... fewer than 20" bullet per share (seven of them).
    assert facet.count("fewer than 20") == 1
    assert "not asked" in facet  # the spasticity shares


def test_the_chart_states_its_definitions_and_marks_small_n() -> None:
    stats = {s.procedure: s for s in practice_statistics(RESPONSES, as_of=AS_OF)}
    t = stats["facet-joint-injection"].at("3 months")
    svg = shares_chart(t, "Facet joint injection at 3 months", "svg").decode()
    assert "small n" in svg and "less pain *" in svg
    assert "reduced from baseline by at least 2 points" in svg
    assert "Not asked at 3 months: less spasticity, fewer spasms" in svg
