"""``itp forecast workload|drugs|risk``: the clinic's next weeks from its records (read only)."""

from __future__ import annotations

import os
from datetime import date
from typing import Annotated, Any

import typer

from intrathecal.cli import quantities
from intrathecal.cli.clinic_cmd import DatabaseOpt
from intrathecal.cli.output import emit, reported
from intrathecal.cli.sim_output import (
    ChartOpt,
    CsvOpt,
    EngineOpt,
    JsonOpt,
    SchedulerOpt,
    SeedOpt,
    WorkersOpt,
    check_outputs,
    check_seed,
    progress_bar,
    where,
    write_outputs,
)
from intrathecal.units import InputError

app = typer.Typer(help="Forecasts from the clinic's records.", no_args_is_help=True)

FromOpt = Annotated[
    str | None,
    typer.Option("--from", help="First day, YYYY-MM-DD (default: today in the clinic's zone)."),
]
OpenOpt = Annotated[
    str | None,
    typer.Option(
        "--open",
        help="Opening days, e.g. Mon-Fri or Mon,Wed (default: ITP_CLINIC_DAYS, else Mon-Fri).",
    ),
]
CapacityOpt = Annotated[
    int | None,
    typer.Option("--capacity", help="Refill visits a day (default: ITP_CLINIC_CAPACITY, else 12)."),
]
TzOpt = Annotated[
    str | None,
    typer.Option("--tz", help="Clinic time zone (default: ITP_CLINIC_TZ, else UTC)."),
]


def _clinic(open_days: str | None, capacity: int | None, tz_name: str | None) -> Any:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from intrathecal.sim.workload import Clinic

    name = tz_name or os.environ.get("ITP_CLINIC_TZ", "").strip() or "UTC"
    try:
        tz = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError("--tz", f"unknown time zone {name!r}; e.g. Europe/London") from None
    from intrathecal.clinical.clinic_days import DEFAULT_CAPACITY, DEFAULT_DAYS, parse_days

    if open_days is None:
        open_days = os.environ.get("ITP_CLINIC_DAYS", "").strip() or DEFAULT_DAYS
    if capacity is None:
        setting = os.environ.get("ITP_CLINIC_CAPACITY", "").strip()
        capacity = int(setting) if setting.isdigit() else DEFAULT_CAPACITY
    try:
        weekdays = parse_days(open_days)  # the calendar's parser: one spelling of opening days
    except InputError as exc:
        raise InputError("--open", exc.message) from None
    if not 1 <= capacity <= 10_000:
        raise InputError("--capacity", f"must be 1 to 10,000 visits a day, got {capacity}")
    return Clinic(weekdays, capacity, tz)


def _start(text: str | None, tz: Any) -> date:
    from intrathecal.sim.forecast import today_in

    if text is None:
        return today_in(tz)
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError("--from", f"{text!r} is not a date like 2026-01-05") from None


def _weeks(weeks: int) -> int:
    if not 1 <= weeks <= 104:
        raise InputError("--weeks", f"must be 1 to 104 weeks, got {weeks}")
    return weeks


@app.command("workload")
def workload_cmd(
    weeks: Annotated[int, typer.Option("--weeks", help="Weeks ahead.")] = 4,
    start: FromOpt = None,
    open_days: OpenOpt = None,
    capacity: CapacityOpt = None,
    tz: TzOpt = None,
    database: DatabaseOpt = None,
    csv_path: CsvOpt = None,
    chart: ChartOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Refill visits per clinic day, overloaded days marked, and devices reaching their
    replacement date within the horizon."""
    from datetime import datetime, time, timedelta

    from intrathecal.sim import clinic
    from intrathecal.sim.charts import visits_chart
    from intrathecal.sim.forecast import workload_forecast

    with reported(as_json):
        days = _weeks(weeks) * 7
        place = _clinic(open_days, capacity, tz)
        first = _start(start, place.tz)
        fmt = check_outputs(csv_path, chart)
        end = datetime.combine(first + timedelta(days=days), time(), place.tz)
        with clinic.reading(database) as session:
            fills = clinic.implanted(session)
            replace = clinic.replacements(session, end)
        answer = workload_forecast(fills, replace, first, weeks, place)
        rows = [
            [
                d["date"],
                d["weekday"],
                d["open"],
                d["visits"],
                d["overloaded"],
                " ".join(d["patients"]),
            ]
            for d in answer["days"]
        ]
        header = ["date", "weekday", "open", "visits", "overloaded", "patients"]
        write_outputs(csv_path, header, rows, chart, fmt, lambda f: visits_chart(answer, f))
        emit(as_json, answer, _workload_text(answer))


def _workload_text(answer: dict[str, Any]) -> str:
    lines = [
        f"refill visits {answer['from']} to {answer['to']} ({answer['time_zone']}; open "
        f"{','.join(answer['open_days'])}; capacity {answer['capacity_per_day']} a day): "
        f"{answer['total_visits']} visits for {answer['patients']} patients",
    ]
    for d in answer["days"]:
        if not d["open"] and not d["visits"]:
            continue
        mark = "  OVERLOADED" if d["overloaded"] else ""
        late = f" ({len(d['overdue'])} overdue)" if d["overdue"] else ""
        lines.append(f"  {d['date']} {d['weekday']}: {d['visits']}{late}{mark}")
    lines.append(f"overloaded days: {len(answer['overloaded_days'])}")
    lines.append(f"devices to replace by {answer['to']}: {len(answer['replacements'])}")
    lines.extend(
        f"  {r['mrn']} {r['device']} {r['serial']}: {r['replace_by']}"
        + (" (overdue)" if r["overdue"] else "")
        for r in answer["replacements"]
    )
    return "\n".join(lines)


@app.command("drugs")
def drugs_cmd(
    months: Annotated[int, typer.Option("--months", help="Months ahead.")] = 3,
    start: FromOpt = None,
    container: Annotated[
        str, typer.Option("--container", help="Volume of one vial or ampoule of stock.")
    ] = "20 mL",
    open_days: OpenOpt = None,
    capacity: CapacityOpt = None,
    tz: TzOpt = None,
    database: DatabaseOpt = None,
    csv_path: CsvOpt = None,
    chart: ChartOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Per month, each drug's mass and the vials or ampoules by strength the fills need."""
    from intrathecal.sim import clinic
    from intrathecal.sim.charts import drugs_chart
    from intrathecal.sim.forecast import drugs_forecast

    with reported(as_json):
        if not 1 <= months <= 24:
            raise InputError("--months", f"must be 1 to 24 months, got {months}")
        container_ml = quantities.volume(container, "--container")
        place = _clinic(open_days, capacity, tz)
        first = _start(start, place.tz)
        fmt = check_outputs(csv_path, chart)
        with clinic.reading(database) as session:
            fills = clinic.implanted(session)
        answer = drugs_forecast(fills, first, months, place, container_ml)
        header = ["month", "drug", "strength", "fills", "mass_mcg", "stock_ml", "containers"]
        rows = [
            [
                n["month"],
                n["drug"],
                n["strength"],
                n["fills"],
                round(n["mass_mcg"], 3),
                round(n["stock_ml"], 3),
                n["containers"],
            ]
            for n in answer["needs"]
        ]
        write_outputs(csv_path, header, rows, chart, fmt, lambda f: drugs_chart(answer, f))
        lines = [
            f"drug needs {answer['from']} to {answer['to']} (each fill as the patient's last; "
            f"containers of {container_ml:g} mL, one set opened per fill):"
        ]
        lines.extend(
            f"  {n['month']} {n['drug']} {n['strength']}: {_count(n['fills'], 'fill')}, "
            f"{n['mass']}, {n['stock']} of stock, {_count(n['containers'], 'container')}"
            for n in answer["needs"]
        )
        emit(as_json, answer, "\n".join(lines))


@app.command("risk")
def risk_cmd(
    margin: Annotated[
        str, typer.Option("--margin", help="Scheduling margin before the due date.")
    ] = "0 days",
    trials: Annotated[int, typer.Option("--trials", help="Monte Carlo trials a patient.")] = 2000,
    presses: Annotated[
        float, typer.Option("--presses-per-day", help="Demand presses a day (programs with one).")
    ] = 1.0,
    lateness: Annotated[
        str,
        typer.Option("--lateness", help="records (the clinic's, if 20 or more), default, on-time."),
    ] = "records",
    seed: SeedOpt = 1,
    engine: EngineOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    database: DatabaseOpt = None,
    csv_path: CsvOpt = None,
    chart: ChartOpt = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """The chance each patient reaches the low-reservoir alarm, or empties, before the visit,
    and the clinic's risk curve against the margin."""
    from intrathecal.sim import clinic
    from intrathecal.sim import lateness as late
    from intrathecal.sim.charts import risk_chart
    from intrathecal.sim.forecast import RiskOptions, risk_forecast

    with reported(as_json):
        margin_days = quantities.duration_days(margin, "--margin", allow_zero=True)
        if margin_days > 60:
            raise InputError("--margin", f"must be at most 60 days, got {margin_days:g} days")
        if not 100 <= trials <= 1_000_000:
            raise InputError("--trials", f"must be 100 to 1,000,000 trials, got {trials}")
        if not 0 <= presses <= 100:
            raise InputError(
                "--presses-per-day", f"must be 0 to 100 presses a day, got {presses:g}"
            )
        if lateness not in ("records", "default", "on-time"):
            raise InputError("--lateness", f"must be records, default or on-time, not {lateness!r}")
        place = where(engine, scheduler, workers)
        fmt = check_outputs(csv_path, chart)
        with clinic.reading(database) as session:
            fills = clinic.implanted(session)
            recorded = clinic.lateness_days(session) if lateness == "records" else []
        chosen = {
            "records": late.from_records(recorded),
            "default": late.DEFAULT,
            "on-time": late.ON_TIME,
        }[lateness]
        options = RiskOptions(margin_days, trials, check_seed(seed), presses, chosen)
        with progress_bar("patients", len(fills), progress and not as_json) as advance:
            try:
                answer = risk_forecast(fills, options, place, advance)
            except OSError as exc:
                raise InputError("--scheduler", f"cannot reach {scheduler}: {exc}") from None
        header = ["mrn", "due_at", "visit_planned_at", "p_alarm", "p_alarm_low", "p_alarm_high",
                  "p_empty"]  # fmt: skip
        rows = [
            [
                p["mrn"],
                p["due_at"],
                p["visit_planned_at"],
                p["p_alarm"],
                *p["p_alarm_interval"],
                p["p_empty"],
            ]
            for p in answer["patients"]
        ]
        write_outputs(csv_path, header, rows, chart, fmt, lambda f: risk_chart(answer, f))
        emit(as_json, answer, _risk_text(answer))


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _pct(p: float) -> str:
    return f"{100 * p:.1f} %"


def _risk_text(answer: dict[str, Any]) -> str:
    c = answer["clinic"]
    low, high = c["p_alarm_interval"]
    lines = [
        f"risk of running dry before the refill visit, margin {answer['margin_days']:g} days, "
        f"{answer['trials']:,} trials a patient (seed {answer['seed']}):",
        f"  clinic: alarm before the visit {_pct(c['p_alarm'])} of visits ({_pct(low)} to "
        f"{_pct(high)}), empty {_pct(c['p_empty'])}; expected patients with an alarm "
        f"{c['expected_patients_with_alarm']:.1f} of {c['patients']}",
        "  by margin: "
        + ", ".join(f"{m['margin_days']:g} d {_pct(m['p_alarm'])}" for m in answer["curve"]),
        "patients at risk (alarm before the visit):",
    ]
    risky = [p for p in answer["patients"] if p["p_alarm"] > 0]
    risky.sort(key=lambda p: -p["p_alarm"])
    lines.extend(
        f"  {p['mrn']}: {_pct(p['p_alarm'])} alarm, {_pct(p['p_empty'])} empty; due {p['due_at']}"
        for p in risky[:20]
    )
    if not risky:
        lines.append("  none")
    lines.append(f"visit lateness: {answer['lateness']}")
    lines.append(f"demand presses: {answer['presses_per_day']:g} a day (ASSUMED) where allowed")
    return "\n".join(lines)
