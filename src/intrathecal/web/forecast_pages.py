"""The Forecast page: refill visits per clinic day, the pharmacy's needs per month and the risk
of running dry against the scheduling margin, from the records (issue 14). Read-only; the read
is audited like the other lists; the charts are drawn inline (SVG)."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from intrathecal.clinical.clinic_days import DEFAULT_CAPACITY
from intrathecal.sim import charts, clinic, lateness
from intrathecal.sim.forecast import (
    DEFAULT_CONTAINER_ML,
    DEFAULT_PRESSES_PER_DAY,
    RiskOptions,
    drugs_forecast,
    risk_forecast,
    workload_forecast,
)
from intrathecal.sim.runs import Where
from intrathecal.sim.workload import Clinic
from intrathecal.web import settings
from intrathecal.web.deps import Actor, get_db, now, read_only, require
from intrathecal.web.display import clinic_zone
from intrathecal.web.pages import render
from intrathecal.web.read_audit import audit_search

router = APIRouter(include_in_schema=False)

PAGE_TRIALS = 500  # per patient: enough for a curve on the page; the CLI takes more
IN_PROCESS = Where(workers=1)  # no process pool inside the web server
# field -> (lowest, highest, unit, default)
BOUNDS: dict[str, tuple[int, int, str, int]] = {
    "weeks": (1, 26, "weeks", 4),
    "months": (1, 12, "months", 3),
    "margin": (0, 30, "days", 0),
    "capacity": (1, 10_000, "visits a day", DEFAULT_CAPACITY),
}


def _ask(request: Request) -> tuple[dict[str, int], dict[str, str]]:
    """The form's numbers, each checked against its bounds; errors by field."""
    values: dict[str, int] = {}
    errors: dict[str, str] = {}
    for name, (low, high, unit, default) in BOUNDS.items():
        raw = request.query_params.get(name, "").strip()
        if not raw:
            values[name] = default
            continue
        try:
            value = int(raw)
        except ValueError:
            errors[name] = f"{name}: {raw!r} is not a whole number of {unit}"
            values[name] = default
            continue
        if not low <= value <= high:
            errors[name] = f"{name}: must be {low} to {high} {unit}, got {value}"
            values[name] = default
            continue
        values[name] = value
    return values, errors


def _svg(data: bytes, alt: str) -> Markup:
    """A chart as an image of its own. Inline, matplotlib's SVG draws with style attributes the
    page's policy (style-src 'self') refuses, and every shape fell back to black; as an image
    it is a document of its own, which the page's policy allows (img-src data:)."""
    encoded = base64.b64encode(data).decode("ascii")
    return Markup('<img src="data:image/svg+xml;base64,{}" alt="{}">').format(encoded, alt)


@router.get("/forecast", response_class=HTMLResponse)
@read_only
async def forecast_page(
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("dashboard.read")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    values, errors = _ask(request)
    opening = settings.of(request).clinic_days  # ITP_CLINIC_DAYS / ITP_CLINIC_CAPACITY
    if not request.query_params.get("capacity", "").strip():
        values["capacity"] = opening.capacity  # the clinic's own capacity unless asked
    if errors:
        return render(request, "forecast.html", actor, 400, values=values, errors=errors)
    audit_search(request, actor, "forecast", **values)
    zone = clinic_zone()
    place = Clinic(opening.open_weekdays, values["capacity"], zone)
    today = now(request).astimezone(zone).date()

    def work() -> dict[str, Any]:
        fills = clinic.implanted(db)
        end = _end(today, values["weeks"], zone)
        load = workload_forecast(fills, clinic.replacements(db, end), today, values["weeks"],
                                 place)  # fmt: skip
        needs = drugs_forecast(fills, today, values["months"], place, DEFAULT_CONTAINER_ML)
        options = RiskOptions(
            float(values["margin"]),
            PAGE_TRIALS,
            1,
            DEFAULT_PRESSES_PER_DAY,
            lateness.from_records(clinic.lateness_days(db)),
        )
        risk = risk_forecast(fills, options, IN_PROCESS)
        ids = {f.mrn: f.patient_id for f in fills}
        return {
            "load": load,
            "needs": needs,
            "risk": risk,
            "ids": ids,
            "visits_svg": _svg(charts.visits_chart(load), "refill visits per day"),
            "drugs_svg": _svg(charts.drugs_chart(needs), "drug needs per month")
            if needs["needs"]
            else None,
            "risk_svg": _svg(charts.risk_chart(risk), "risk of running dry against the margin")
            if fills
            else None,
        }

    found = await run_in_threadpool(work)
    return render(request, "forecast.html", actor, values=values, errors={}, **found)


def _end(start: Any, weeks: int, zone: Any) -> Any:
    from datetime import datetime, time, timedelta

    return datetime.combine(start + timedelta(days=weeks * 7), time(), zone)
