"""The CSV checked in one streaming pass (issue 13, item 11): the same verdicts, messages and
statistics as the list reader, in bounded memory, one row at a time."""

from __future__ import annotations

import io
import json
import random
import re
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from intrathecal.cli.outcomes_cmd import app
from intrathecal.outcomes import InvalidOutcomesError
from intrathecal.outcomes.csvfile import (
    _ITEM_COLUMNS,
    COLUMN_NAMES,
    _row_responses,
    _rows,
    column_of,
    parse_checked_csv,
)
from intrathecal.outcomes.csvstream import (
    NO_ANSWER,
    REF_COLUMNS,
    REFS,
    _Reader,
    scan_csv,
    scan_statistics,
    visit_of,
)
from intrathecal.outcomes.errors import MAX_REPORTED, capped
from intrathecal.outcomes.instruments import MAS_GRADES, SIDE_EFFECT_LABELS
from intrathecal.outcomes.records import Period
from intrathecal.outcomes.serialize import statistics_to_dict
from intrathecal.outcomes.statistics import checked_statistics
from intrathecal.outcomes.validation import check_response, validate_responses
from intrathecal.units import InputError
from tests.conftest import EXAMPLES

EXAMPLE = (EXAMPLES / "outcomes.csv").read_text()


def list_reader_errors(text: str) -> list[tuple[str, str]]:
    """The checks as the list reader made them before issue 13 item 11 (the reference): every
    row made into responses, all validated together, problems sorted by line and capped."""
    try:
        rows = _rows(text)
    except InvalidOutcomesError as exc:
        return [(e.field, e.message) for e in capped(exc.errors)]
    except InputError as exc:
        return [(exc.field, exc.message)]
    errors: list[InputError] = []
    responses, names = [], []
    for line, row in rows:
        row_responses, row_errors = _row_responses(line, row)
        errors.extend(row_errors)
        responses.extend(row_responses)
        names.extend(f"line {line}" for _ in row_responses)
    try:
        validate_responses(responses, names, column_of)
    except InvalidOutcomesError as exc:
        errors.extend(exc.errors)
    unique = {(e.field, e.message): e for e in errors}

    def order(e: InputError) -> tuple[int, str]:
        match = re.match(r"line (\d+)", e.field)
        return (int(match.group(1)) if match else 0, e.field)

    return [(e.field, e.message) for e in capped(sorted(unique.values(), key=order))]


def stream_errors(text: str) -> list[tuple[str, str]]:
    try:
        scan = scan_csv(io.StringIO(text, newline=""))
    except InvalidOutcomesError as exc:
        return [(e.field, e.message) for e in exc.errors]
    return [(e.field, e.message) for e in scan.errors()]


# Rows: mostly valid answers, with a few cells changed to something odd or wrong.
GOOD = {
    "nrs_pain": [str(n) for n in range(11)],
    "pgic": [str(n) for n in range(1, 8)],
    "percent_improvement": ["0", "50", "51", "100"],
    "mas": list(MAS_GRADES),
    "mas_muscle": ["", "left adductors"],
    "psfs_frequency": ["0", "2", "4"],
    "side_effects": ["none", "nausea", "nausea;fever", "NONE"],
    "side_effects_other": ["", "", "hiccups"],
}
ODD = ["", " ", "3.0", "+2", "11", "-1", "x", "1+", "0", "2020-01-01", "none", "baseline", "P 1"]
VISITS = [("baseline", 0), ("3 months", 91), ("1 month", 30), ("2 weeks", 12), ("3 months", 14)]


@st.composite
def files(draw: st.DrawFn) -> str:
    rng = random.Random(draw(st.integers(0, 10_000)))
    spoil = draw(st.sampled_from([0.0, 0.05, 0.3]))
    lines = [",".join(COLUMN_NAMES)]
    for _ in range(draw(st.integers(1, 12))):
        subject = rng.choice(["P1", "P2", "P3"])
        timepoint, days = rng.choice(VISITS)
        start = date(2025, 1, 1) + timedelta(rng.choice([0, 0, 3]))
        row = dict.fromkeys(COLUMN_NAMES, "")
        row.update(
            subject=subject,
            procedure=rng.choice(["intrathecal-pump"] * 9 + ["Pump!"]),
            timepoint=timepoint,
            days_from_baseline=str(days),
            episode=rng.choice(["", "1", "2"]),
            collected_on=rng.choice(["", (start + timedelta(days)).isoformat()]),
            entered_by=rng.choice(["", "staff", "patient"]),
        )
        for column in ("nrs_pain", "pgic", "percent_improvement", "mas", "psfs_frequency"):
            if rng.random() < 0.5:
                row[column] = rng.choice(GOOD[column])
        if row["psfs_frequency"] not in ("", "0"):
            row["psfs_severity"] = str(rng.randint(1, 3))
        if rng.random() < 0.3:
            row["side_effects"] = rng.choice(GOOD["side_effects"])
            row["side_effects_other"] = rng.choice(GOOD["side_effects_other"])
        if rng.random() < 0.4:
            for key in (k for k, (inst, _) in _ITEM_COLUMNS.items() if inst == "promis-global-10"):
                row[key] = str(rng.randint(1, 5))
        if rng.random() < spoil:  # a cell changed to something odd or wrong
            row[rng.choice(COLUMN_NAMES)] = rng.choice(ODD)
        lines.append(",".join(row[c] for c in COLUMN_NAMES))
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files())
def test_rule_the_streaming_pass_gives_the_list_readers_verdict_and_messages(text: str) -> None:
    assert stream_errors(text) == list_reader_errors(text)


@settings(max_examples=150, deadline=None)
@given(files())
def test_rule_a_row_the_fast_checks_accept_is_the_row_the_full_checks_accept(text: str) -> None:
    """The precompiled validators never accept a row the per-answer checks refuse, and read
    the same scores from it as scoring.py does."""
    reader = csv_reader_for(text)
    for line, cells in csv_rows(text):
        visit = reader.fast(line, cells)
        if visit is None:
            continue
        row = dict(zip(COLUMN_NAMES, cells, strict=False))
        responses, errors = _row_responses(line, row)
        assert not errors
        checked = [check_response(r, f"line {line}", column_of) for r in responses]
        assert visit == visit_of(line, responses[0], [r.instrument for r in responses], checked)


def csv_reader_for(text: str) -> _Reader:
    return _Reader(text.splitlines()[0].split(","))


def csv_rows(text: str) -> list[tuple[int, list[str]]]:
    return [
        (i + 2, [*(c.strip() for c in line.split(",")), ""])
        for i, line in enumerate(text.splitlines()[1:])
    ]


def test_every_score_the_shares_read_comes_from_its_column() -> None:
    assert set(REFS) == set(REF_COLUMNS)
    for ref, column in REF_COLUMNS.items():
        assert _ITEM_COLUMNS[column][0] == ref[0]


def reports_agree(text: str, **options: object) -> None:
    expected = checked_statistics(parse_checked_csv(text), **options)  # type: ignore[arg-type]
    scan = scan_csv(io.StringIO(text, newline=""))
    assert scan_statistics(scan, **options) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"as_of": date(2025, 6, 1)},
        {"as_of": date(2025, 2, 1)},  # before one procedure's first answer: it is left out
        {"as_of": date(2025, 3, 1), "procedure": "facet-joint-injection"},
        {"period": Period(date(2025, 1, 1), date(2025, 2, 15)), "as_of": date(2025, 9, 1)},
        {"timepoints": ["3 months", "2 weeks"]},
    ],
)
def test_statistics_counted_from_the_scan_equal_those_of_the_records(
    options: dict[str, object],
) -> None:
    reports_agree(EXAMPLE, **options)


def generated(patients: int, seed: int = 3) -> str:
    rng = random.Random(seed)
    lines = [",".join(COLUMN_NAMES)]
    promis = [k for k, (inst, _) in _ITEM_COLUMNS.items() if inst == "promis-global-10"]
    for i in range(patients):
        start = date(2024, 1, 1) + timedelta(rng.randint(0, 400))
        episode = rng.choice(["", "", "2"])
        for timepoint, days in (("baseline", 0), ("1 month", 30), ("3 months", 91)):
            if timepoint != "baseline" and rng.random() < 0.25:
                continue
            row = dict.fromkeys(COLUMN_NAMES, "")
            row.update(
                subject=f"S{i}",
                procedure=rng.choice(["intrathecal-pump", "epidural-injection"]),
                timepoint=timepoint,
                days_from_baseline=str(days),
                episode=episode,
                collected_on=(start + timedelta(days)).isoformat() if rng.random() < 0.9 else "",
                nrs_pain=str(rng.randint(0, 10)),
                mas=rng.choice(MAS_GRADES) if rng.random() < 0.3 else "",
                psfs_frequency="0" if rng.random() < 0.3 else "",
            )
            if rng.random() < 0.7:
                row.update({key: str(rng.randint(1, 5)) for key in promis})
            if timepoint != "baseline":
                row["pgic"] = str(rng.randint(1, 7))
                row["percent_improvement"] = str(rng.randint(0, 100))
                row["side_effects"] = rng.choice(["none", "nausea", "fever;itching"])
            lines.append(",".join(row[c] for c in COLUMN_NAMES))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("as_of", [None, date(2024, 6, 1), date(2025, 12, 31)])
def test_statistics_of_a_generated_registry_equal_those_of_the_records(
    as_of: date | None,
) -> None:
    reports_agree(generated(400), as_of=as_of)


def test_a_file_bad_on_every_row_keeps_fifty_problems_and_counts_them_all() -> None:
    header = "subject,procedure,timepoint,days_from_baseline,nrs_pain"
    rows = [f"P{i},intrathecal-pump,baseline,0,12" for i in range(5000)]
    scan = scan_csv(io.StringIO("\n".join([header, *rows]) + "\n", newline=""))
    assert scan.error_count == 5000
    assert len(scan._errors) <= 20 * MAX_REPORTED + 1  # memory stays small however bad
    errors = scan.errors()
    assert len(errors) == MAX_REPORTED + 1
    assert errors[0].field == "line 2, column nrs_pain"
    assert errors[-1].message == "4950 more problem(s) not listed (5000 in all)"
    assert not scan.episodes  # nothing kept for a report that will not be made


def test_rule_lines_are_read_one_at_a_time() -> None:
    """The reader takes an iterator of lines (an open file): it never needs the whole text."""
    text = generated(50)
    taken: list[str] = []

    def lines() -> object:
        for line in io.StringIO(text, newline=""):
            taken.append(line)
            yield line

    scan = scan_csv(lines())  # type: ignore[arg-type]
    assert "".join(taken) == text
    assert scan.error_count == 0 and scan.responses > 0


def test_a_visit_holds_side_effects_and_marks_unanswered_scores() -> None:
    row = dict.fromkeys(COLUMN_NAMES, "")
    row.update(
        subject="P1",
        procedure="intrathecal-pump",
        timepoint="3 months",
        days_from_baseline="91",
        pgic="2",
        side_effects="fever;nausea",
    )
    visit = _Reader(COLUMN_NAMES).fast(2, [*(row[c] for c in COLUMN_NAMES), ""])
    assert visit is not None
    assert visit.effects == tuple(k for k in SIDE_EFFECT_LABELS if k in ("nausea", "fever"))
    assert visit.review  # fever needs a clinician's review
    assert visit.instruments == ("pgic", "side-effects")
    assert visit.values[REFS.index(("pgic", "pgic"))] == 2
    assert visit.values[REFS.index(("nrs-pain", "pain"))] == NO_ANSWER


def test_rule_a_report_names_a_file_that_stops_being_utf8_part_way(tmp_path: Path) -> None:
    """The file is decoded as it is read: a bad byte after the first rows is still a clear
    error naming the file, not a stack trace, and no report is printed."""
    data = tmp_path / "latin1.csv"
    text = generated(300)  # well past the first block the file is decoded in
    data.write_bytes(text.encode() + b"P99,intrathecal-pump,baseline,0," + b",\xe9" * 22 + b"\n")
    result = CliRunner().invoke(app, ["report", str(data)])
    assert result.exit_code == 2
    assert "is not UTF-8 text" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert "patients with a baseline" not in result.stdout


def test_rule_the_report_of_a_file_is_the_same_read_in_one_pass(tmp_path: Path) -> None:
    data = tmp_path / "registry.csv"
    data.write_text(generated(120), encoding="utf-8")
    result = CliRunner().invoke(app, ["report", str(data), "--as-of", "2025-03-01", "--json"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    checked = parse_checked_csv(data.read_text(encoding="utf-8"))
    assert payload["responses"] == len(checked)
    expected = checked_statistics(checked, as_of=date(2025, 3, 1))
    assert payload["procedures"] == [statistics_to_dict(s) for s in expected]


def test_memory_per_row_stays_small() -> None:
    """About 0.4 KB a row is kept (for the cross-row checks and the counts); the list reader
    kept a record per answer, several KB a row (790 MB for 100,782 rows)."""
    text = generated(2000)
    rows = text.count("\n") - 1
    tracemalloc.start()
    try:
        scan = scan_csv(io.StringIO(text, newline=""))
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert scan.error_count == 0
    assert kept / rows < 1000, f"{kept / rows:.0f} bytes a row"


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 1000),
    as_of=st.none() | st.dates(date(2023, 12, 1), date(2025, 6, 1)),
    start=st.none() | st.dates(date(2024, 1, 1), date(2024, 12, 31)),
)
def test_rule_streamed_statistics_equal_those_of_the_records_for_any_snapshot(
    seed: int, as_of: date | None, start: date | None
) -> None:
    text = generated(30, seed)
    period = Period(start, None)
    try:
        expected = checked_statistics(parse_checked_csv(text), period=period, as_of=as_of)
    except InputError as exc:  # undated baselines cannot be placed in a period
        with pytest.raises(InputError) as caught:
            scan_statistics(scan_csv(io.StringIO(text, newline="")), period=period, as_of=as_of)
        assert (caught.value.field, caught.value.message) == (exc.field, exc.message)
        return
    scan = scan_csv(io.StringIO(text, newline=""))
    assert scan_statistics(scan, period=period, as_of=as_of) == expected
