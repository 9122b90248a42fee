"""``itp forecast`` against a clinic database, with answers worked out by hand."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from intrathecal.cli.main import app
from tests.sim.clinic_factory import MORPHINE_20, Record, make_clinic
from tests.support.postgres import postgres_url

runner = CliRunner()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# Monday 2026-01-05 is the first day; the clinic opens Mon-Fri, 2 visits a day.
RECORDS = [
    # A: due Wed 7th 10:00, weekly: Wed 7th and Wed 14th in two weeks (7, 14, 21, 28 in January).
    # Recipe: 20 mg/mL from 50 mg/mL stock, fill 20 mL + 3 mL overage = 23 mL:
    # stock 20 x 23 / 50 = 9.2 mL, morphine 20 mg/mL x 23 mL = 460 mg a fill.
    Record(
        "A",
        utc(2026, 1, 7, 10),
        7,
        concentrations={"morphine": 20_000.0},
        recipe={
            "total_ml": 23.0,
            "fill_ml": 20.0,
            "overage_ml": 3.0,
            "components": [
                {
                    "drug": "morphine",
                    "wanted_mcg_per_ml": 20_000.0,
                    "stock_mcg_per_ml": 50_000.0,
                    "volume_ml": 9.2,
                    "mass_mcg": 460_000.0,
                }
            ],
        },
        program=MORPHINE_20.format(conc="20 mg/mL"),
    ),
    # B: due Sat 10th: the clinic is closed, so Fri 9th (a day early); next due Fri 9th + 14 =
    # Fri 23rd. Ready-made baclofen 2000 mcg/mL, 20 mL a fill.
    Record("B", utc(2026, 1, 10, 9), 14, concentrations={"baclofen": 2000.0}),
    # C: due Sun 4th, before the first day: overdue, first opening day Mon 5th; next Feb 4th.
    # Its device is to be replaced by Mon 12th.
    Record("C", utc(2026, 1, 4, 9), 30, replace_by=utc(2026, 1, 12, 9)),
    # D, E: due Wed 7th 10:00 with A: three on a two-visit day. F: due Wed 7th 03:00 UTC, which
    # is Tue 6th 22:00 in New York.
    Record("D", utc(2026, 1, 7, 10), 28),
    Record("E", utc(2026, 1, 7, 10), 28),
    Record("F", utc(2026, 1, 7, 3), 28),
    # G: 10 mg/mL at 3 mg/day = 0.3 mL/day; 20 mL filled 60 days before its due date, at the
    # alarm (18 mL / 0.3 mL/day = 60 days): no visit in January, at risk if the visit is late.
    Record("G", utc(2026, 3, 6, 10), 60),
    # H: 20 mg/mL at 3 mg/day = 0.15 mL/day, due 90 days after the fill (stability). On day 30
    # the dose was raised to 6 mg/day (0.3 mL/day) without a refill: by day 90 the pump has
    # delivered 0.15 x 30 + 0.3 x 60 = 22.5 mL > 18 mL usable, even 14.5 % slow (19.2 mL on
    # day 89, a visit a day early): the alarm comes before the booked visit in every trial.
    Record(
        "H",
        utc(2026, 4, 1, 10),
        90,
        concentrations={"morphine": 20_000.0},
        program=MORPHINE_20.format(conc="20 mg/mL"),
        applied=(30, MORPHINE_20.format(conc="20 mg/mL").replace("3 mg/day", "6 mg/day")),
    ),
]

COMMON = ["--from", "2026-01-05", "--open", "Mon-Fri", "--capacity", "2"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def clinic_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('clinic') / 'clinic.db'}"
    else:
        found = postgres_url()
        if found is None:
            pytest.skip("Debian's PostgreSQL binaries are not installed")
        url = found
    make_clinic(url, RECORDS)
    return url


def run(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_workload_by_hand(clinic_url: str) -> None:
    answer = run("forecast", "workload", "--weeks", "2", "--tz", "UTC", *COMMON,
                 "--database", clinic_url)  # fmt: skip
    by_day = {d["date"]: d for d in answer["days"]}
    assert by_day["2026-01-05"]["patients"] == ["C"] and by_day["2026-01-05"]["overdue"] == ["C"]
    assert sorted(by_day["2026-01-07"]["patients"]) == ["A", "D", "E", "F"]
    assert by_day["2026-01-09"]["patients"] == ["B"]
    assert by_day["2026-01-14"]["patients"] == ["A"]
    assert not by_day["2026-01-10"]["open"] and by_day["2026-01-10"]["visits"] == 0
    assert answer["total_visits"] == 7
    assert answer["overloaded_days"] == ["2026-01-07"]
    assert [r["mrn"] for r in answer["replacements"]] == ["C"]


def test_workload_days_are_the_clinic_s_local_days(clinic_url: str) -> None:
    answer = run("forecast", "workload", "--weeks", "1", "--tz", "America/New_York", *COMMON,
                 "--database", clinic_url)  # fmt: skip
    by_day = {d["date"]: d for d in answer["days"]}
    assert by_day["2026-01-06"]["patients"] == ["F"]
    assert sorted(by_day["2026-01-07"]["patients"]) == ["A", "D", "E"]


def test_drug_needs_by_hand(clinic_url: str) -> None:
    answer = run("forecast", "drugs", "--months", "1", "--container", "5 mL", "--tz", "UTC",
                 *COMMON, "--database", clinic_url)  # fmt: skip
    needs = {(n["drug"], n["strength_mcg_per_ml"]): n for n in answer["needs"]}
    assert answer["to"] == "2026-01-31"
    # A: Wednesdays 7, 14, 21, 28 = 4 fills x 460 mg = 1840 mg; 4 x 9.2 = 36.8 mL of 50 mg/mL;
    # 9.2 mL needs two 5 mL ampoules a fill (single use): 8.
    a = needs[("morphine", 50_000.0)]
    assert (a["fills"], a["containers"]) == (4, 8)
    assert a["mass_mcg"] == pytest.approx(1_840_000.0) and a["stock_ml"] == pytest.approx(36.8)
    # B: Fri 9th and Fri 23rd, 20 mL of 2000 mcg/mL each = 80,000 mcg, 4 ampoules a fill.
    b = needs[("baclofen", 2000.0)]
    assert (b["fills"], b["mass_mcg"], b["stock_ml"], b["containers"]) == (2, 80_000.0, 40.0, 8)
    # C, D, E, F once each in January (next Feb 4th): 4 x 20 mL x 10 mg/mL = 800 mg.
    c = needs[("morphine", 10_000.0)]
    assert (c["fills"], c["mass_mcg"], c["containers"]) == (4, 800_000.0, 16)


def test_risk_falls_as_the_margin_grows(clinic_url: str) -> None:
    answer = run("forecast", "risk", "--trials", "400", "--lateness", "default", "--workers",
                 "1", "--database", clinic_url)  # fmt: skip
    curve = [c["p_alarm"] for c in answer["curve"]]
    assert curve == sorted(curve, reverse=True)  # same draws: an earlier visit never adds risk
    assert curve[0] > curve[-1]
    by_mrn = {p["mrn"]: p for p in answer["patients"]}
    assert by_mrn["H"]["p_alarm"] == 1.0  # the raised program, not the one filled
    assert by_mrn["A"]["p_alarm"] == 0.0  # weekly visits, months of drug left
    assert [p["mrn"] for p in answer["patients"]] == ["A", "B", "C", "D", "E", "F", "G", "H"]


def test_bad_input_exits_2_naming_the_field_and_writes_nothing(
    clinic_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "visits.csv"
    cases = [
        (["--weeks", "0"], "--weeks", "weeks"),
        (["--capacity", "0"], "--capacity", "visits a day"),
        (["--open", "Fri-Mon"], "--open", "backwards"),
        (["--tz", "Mars/Olympus"], "--tz", "time zone"),
        (["--from", "05/01/2026"], "--from", "date"),
        (["--chart", str(tmp_path / "no" / "x.png")], "--chart", "does not exist"),
        (["--chart", str(tmp_path / "x.gif")], "--chart", ".png or .svg"),
    ]
    for extra, field, words in cases:
        result = runner.invoke(
            app,
            ["forecast", "workload", "--database", clinic_url, "--csv", str(out), *extra,
             "--json"],
        )  # fmt: skip
        assert result.exit_code == 2, (extra, result.output)
        error = json.loads(result.stdout)["errors"][0]
        assert error["field"] == field and words in error["message"]
        assert not out.exists()


def test_risk_margin_and_trials_are_checked_with_their_units(clinic_url: str) -> None:
    for extra, field in (
        (["--margin", "-1 day"], "--margin"),
        (["--margin", "3 mL"], "--margin"),
        (["--trials", "5"], "--trials"),
        (["--presses-per-day", "-1"], "--presses-per-day"),
        (["--engine", "spark"], "--engine"),
        (["--engine", "dask"], "--scheduler"),
    ):
        result = runner.invoke(app, ["forecast", "risk", "--database", clinic_url, *extra,
                                     "--json"])  # fmt: skip
        assert result.exit_code == 2, (extra, result.output)
        assert json.loads(result.stdout)["errors"][0]["field"] == field


def test_a_missing_database_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "none.db"
    result = runner.invoke(app, ["forecast", "workload", "--database", f"sqlite:///{path}"])
    assert result.exit_code == 2 and "--database" in result.output
    assert not path.exists()


def test_the_interval_repeated_is_the_running_program_s() -> None:
    # H's recorded interval is 90 days (stability at 0.15 mL/day); the program applied since
    # runs 0.3 mL/day: 18 mL usable / 0.3 mL/day = 60 days, which the workload repeats.
    from intrathecal.sim.clinic import PatientFill
    from intrathecal.sim.forecast import interval_days

    h = RECORDS[-1]
    assert h.applied is not None
    fill = PatientFill(
        patient_id=8,
        mrn="H",
        name="H",
        filled_at=utc(2026, 1, 1, 10),
        fill_ml=20.0,
        due_at=h.due_at,
        low_alarm_at=h.due_at,
        concentrations=h.concentrations,
        recipe={},
        program_toml=h.program,
        device_key="synchromed-ii-20",
        first_fill=False,
    )
    assert fill.interval_days == 90.0
    assert interval_days(replace(fill, in_force_toml=h.applied[1])) == pytest.approx(60.0)


def test_charts_and_tables_are_written(clinic_url: str, tmp_path: Path) -> None:
    for command, chart in (("workload", "visits.svg"), ("drugs", "needs.png"), ("risk", "r.svg")):
        table = tmp_path / f"{command}.csv"
        args = ["forecast", command, "--database", clinic_url, "--csv", str(table), "--chart",
                str(tmp_path / chart)]  # fmt: skip
        if command == "risk":
            args += ["--trials", "100", "--workers", "1", "--no-progress"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert table.read_text().count("\n") >= 2
        data = (tmp_path / chart).read_bytes()
        assert data.startswith(b"\x89PNG") if chart.endswith(".png") else b"<svg" in data


def test_a_daily_interval_never_books_two_visits_a_day() -> None:
    from datetime import date

    from intrathecal.sim.workload import MON_FRI, Clinic, Due, visits

    days = visits([Due(1, "Z", utc(2026, 1, 5, 9), 0.001)], date(2026, 1, 5), 7, Clinic(
        MON_FRI, 5, UTC))  # fmt: skip
    assert [len(d.visits) for d in days] == [1, 1, 1, 1, 1, 0, 0]
