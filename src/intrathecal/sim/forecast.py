"""The three clinic forecasts from the records: workload, drug needs and the risk of running dry.

Shared by ``itp forecast`` and the Forecast page. Each answer is a plain dictionary (the JSON
the CLI prints, and what the page shows): quantities carry their unit in the key, with a
display string beside them, instants are ISO 8601 UTC, days are the clinic's local dates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from intrathecal.clinical.refill import plan
from intrathecal.engine.demand import iso
from intrathecal.library import default_library
from intrathecal.sim import drugs, risk, workload
from intrathecal.sim.cases import risk_case
from intrathecal.sim.clinic import PatientFill, Replacement
from intrathecal.sim.lateness import Lateness
from intrathecal.sim.runs import LOCAL, Progress, Where, run_risk
from intrathecal.store.programs import parse
from intrathecal.units import format_concentration, readable_number, readable_volume

CURVE_MARGINS_DAYS = tuple(float(d) for d in range(15))  # the risk curve: 0 to 14 days
DEFAULT_CONTAINER_ML = 20.0  # vial or ampoule volume (ASSUMED; set it to the stock's)
DEFAULT_PRESSES_PER_DAY = 1.0  # demand presses a day (ASSUMED)


def _second(at: datetime) -> str:
    """An instant as ISO 8601 UTC to the whole second (rounded down: never later than it is)."""
    return iso(math.floor(at.timestamp()))


def interval_days(fill: PatientFill) -> float:
    """The refill interval to repeat: the last refill plan's, or, when a program with new rates
    was applied since, the refill plan of that program for the same fill."""
    if fill.in_force_toml is None:
        return fill.interval_days
    program = parse(fill.in_force_toml, name=fill.mrn)
    at = fill.filled_at.timestamp()
    return (plan(program, fill.fill_ml, at).refill_due_at_s - at) / 86400.0


def _dues(fills: Sequence[PatientFill]) -> list[workload.Due]:
    return [workload.Due(f.patient_id, f.mrn, f.due_at, interval_days(f)) for f in fills]


def workload_forecast(
    fills: Sequence[PatientFill],
    replacements: Sequence[Replacement],
    start: date,
    weeks: int,
    clinic: workload.Clinic,
) -> dict[str, Any]:
    calendar = workload.visits(_dues(fills), start, weeks * 7, clinic)
    days = [
        {
            "date": d.day.isoformat(),
            "weekday": workload.WEEKDAYS[d.day.weekday()],
            "open": d.open,
            "visits": len(d.visits),
            "overloaded": d.overloaded(clinic.capacity),
            "patients": [v.mrn for v in d.visits],
            "overdue": [v.mrn for v in d.visits if v.overdue],
        }
        for d in calendar
    ]
    end = start + timedelta(days=weeks * 7)
    return {
        "from": start.isoformat(),
        "to": (end - timedelta(days=1)).isoformat(),
        "weeks": weeks,
        "time_zone": str(clinic.tz),
        "open_days": [workload.WEEKDAYS[i] for i in sorted(clinic.open_weekdays)],
        "capacity_per_day": clinic.capacity,
        "patients": len(fills),
        "total_visits": sum(len(d.visits) for d in calendar),
        "overloaded_days": [x["date"] for x in days if x["overloaded"]],
        "days": days,
        "replacements": [
            {
                "mrn": r.mrn,
                "serial": r.serial,
                "device": r.device_key,
                "replace_by": _second(r.replace_by),
                "overdue": r.replace_by.astimezone(clinic.tz).date() < start,
            }
            for r in replacements
        ],
    }


def months_end(start: date, months: int) -> date:
    """The first day of the month ``months`` after the month of ``start``."""
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def drugs_forecast(
    fills: Sequence[PatientFill],
    start: date,
    months: int,
    clinic: workload.Clinic,
    container_ml: float = DEFAULT_CONTAINER_ML,
) -> dict[str, Any]:
    days = (months_end(start, months) - start).days
    calendar = workload.visits(_dues(fills), start, days, clinic)
    made = {
        f.patient_id: drugs.fill_from_recipe(f.patient_id, f.fill_ml, f.concentrations, f.recipe)
        for f in fills
    }
    library = default_library()
    rows = []
    for need in drugs.needs(calendar, made, container_ml):
        unit = library.drug(need.drug).dose_unit.value if need.drug in library.drugs else "mcg"
        rows.append(
            {
                "month": need.month,
                "drug": need.drug,
                "strength_mcg_per_ml": need.strength_mcg_per_ml,
                "strength": format_concentration(need.strength_mcg_per_ml, unit),
                "fills": need.fills,
                "mass_mcg": need.mass_mcg,
                "mass": f"{readable_number(need.mass_mcg / (1000 if unit == 'mg' else 1))} {unit}",
                "stock_ml": need.stock_ml,
                "stock": readable_volume(need.stock_ml),
                "containers": need.containers,
            }
        )
    return {
        "from": start.isoformat(),
        "to": (start + timedelta(days=days - 1)).isoformat(),
        "months": months,
        "container_ml": container_ml,
        "needs": rows,
    }


@dataclass(frozen=True)
class RiskOptions:
    margin_days: float
    trials: int
    seed: int
    presses_per_day: float
    lateness: Lateness


def risk_forecast(
    fills: Sequence[PatientFill],
    options: RiskOptions,
    where: Where = LOCAL,
    progress: Progress | None = None,
) -> dict[str, Any]:
    margins = tuple(sorted({*CURVE_MARGINS_DAYS, options.margin_days}))
    chosen = margins.index(options.margin_days)
    cases = []
    for f in fills:
        program = parse(f.program_toml, name=f.mrn)
        cases.append(
            risk_case(
                program,
                f.fill_ml,
                f.filled_at.timestamp(),
                label=f.mrn,
                presses_per_day=options.presses_per_day,
                limit_at_s=f.due_at.timestamp(),
                now_running=parse(f.in_force_toml, name=f.mrn) if f.in_force_toml else None,
                switched_at_s=f.switched_at.timestamp() if f.switched_at else None,
            )
        )
    settings = risk.RiskSettings(options.trials, options.seed, margins, options.lateness)
    counts = run_risk(cases, settings, where, progress=progress)
    n = options.trials
    patients = []
    chances: list[float] = []
    for i, f in enumerate(fills):
        a, e = int(counts.alarm[i, chosen]), int(counts.empty[i, chosen])
        chances.append(a / n)
        low, high = risk.wilson(a, n)
        patients.append(
            {
                "mrn": f.mrn,
                "filled_at": _second(f.filled_at),
                "due_at": _second(f.due_at),
                "visit_planned_at": _second(
                    max(f.filled_at, f.due_at - timedelta(days=options.margin_days))
                ),
                "p_alarm": a / n,
                "p_alarm_interval": [low, high],
                "p_empty": e / n,
            }
        )
    total = max(len(fills), 1) * n
    curve = []
    for m, margin in enumerate(margins):
        a = int(np.sum(counts.alarm[:, m]))
        low, high = risk.wilson(a, total)
        curve.append(
            {
                "margin_days": margin,
                "p_alarm": a / total if fills else 0.0,
                "p_alarm_interval": [low, high] if fills else [0.0, 0.0],
                "p_empty": int(np.sum(counts.empty[:, m])) / total if fills else 0.0,
            }
        )
    return {
        "margin_days": options.margin_days,
        "trials": n,
        "seed": options.seed,
        "presses_per_day": options.presses_per_day,
        "lateness": options.lateness.source,
        "patients": patients,
        "clinic": {
            "patients": len(fills),
            "expected_patients_with_alarm": sum(chances),
            **{k: v for k, v in curve[chosen].items() if k != "margin_days"},
        },
        "curve": curve,
    }


def today_in(tz: Any, now: datetime | None = None) -> date:
    """Today's date in the clinic's zone (``now`` from the caller's clock)."""
    return (now or datetime.now(UTC)).astimezone(tz).date()
