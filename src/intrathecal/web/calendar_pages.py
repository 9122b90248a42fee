"""The refill calendar: four weeks from this week's Monday, in the clinic's time zone, with the
refills due each day booked on the clinic's opening days within its daily capacity
(clinical/clinic_days.py; ``ITP_CLINIC_DAYS``, ``ITP_CLINIC_CAPACITY``).

The month shows counts only (one query of 28 index range counts); a day's list of patients is
its own page, read by rank in due order, so a clinic of 50,000 never sends 42,000 rows at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import pass_context
from jinja2.runtime import Context
from sqlalchemy.orm import Session

from intrathecal.clinical.clinic_days import Booked, Schedule, ranks_within, schedule
from intrathecal.store import dashboard
from intrathecal.store.errors import NotFoundError
from intrathecal.units import InputError
from intrathecal.web import settings
from intrathecal.web.deps import Actor, get_db, now, read_only, require
from intrathecal.web.display import clinic_zone
from intrathecal.web.pages import render, templates
from intrathecal.web.read_audit import audit_search

router = APIRouter(include_in_schema=False)
DAYS_SHOWN = 28
MAX_LISTED = 500  # patients on one day's page; a day over that says how many more


@pass_context
def book_by(context: Context, due: datetime) -> str:
    """The opening day a refill due at ``due`` is booked on at the latest ("Fri 06 Mar 2026"):
    its due day in the clinic's zone, or the last opening day before it (never after)."""
    clinic = context["request"].app.state.settings.clinic_days
    return f"{clinic.book_on(due.astimezone(clinic_zone()).date()):%a %d %b %Y}"


templates.env.filters["book_by"] = book_by


@dataclass(frozen=True)
class Cell:
    """One day of the month view."""

    day: date
    past: bool
    open: bool
    due: int  # due that day (in the clinic's zone)
    booked: Booked | None  # what the clinic does that day (opening days from today)


@dataclass(frozen=True)
class Plan:
    today: date
    cells: list[Cell]
    schedule: Schedule
    edges: list[datetime]  # each window day's start (today 00:00 first), and the last one's end
    due: list[int]  # how many are due on each window day


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant a clinic day starts (DST-aware: a 23 h or 25 h day stays one day)."""
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def plan_of(request: Request, db: Session) -> Plan:
    zone = clinic_zone()
    clinic = settings.of(request).clinic_days
    today = now(request).astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    days = [monday + timedelta(days=i) for i in range(DAYS_SHOWN)]
    window = [d for d in days if d >= today]
    edges = [_midnight(d, zone) for d in [*window, window[-1] + timedelta(days=1)]]
    counts = dashboard.due_counts(db, list(pairwise(edges)))
    due = dict(zip(window, counts, strict=True))
    plan = schedule(clinic, due, window)
    cells = [
        Cell(d, d < today, clinic.is_open(d), due.get(d, 0), plan.on(d) if d >= today else None)
        for d in days
    ]
    return Plan(today, cells, plan, edges, counts)


@router.get("/calendar", response_class=HTMLResponse)
@read_only
def calendar_page(
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("dashboard.read")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    audit_search(request, actor, "refill calendar", counts_only=True)
    plan = plan_of(request, db)
    return render(
        request,
        "calendar.html",
        actor,
        plan=plan,
        clinic=settings.of(request).clinic_days,
        zone=clinic_zone().key,
    )


def _day_param(text: str) -> date | None:
    """ "urgent" (None) or an ISO date, else a 422 naming the field."""
    if text == "urgent":
        return None
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InputError("day", "give a date like 2026-03-02") from None


@router.get("/calendar/{day}", response_class=HTMLResponse)
@read_only
def calendar_day(
    day: str,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("dashboard.read")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    """The patients booked on one opening day (or the urgent ones), earliest due first."""
    wanted = _day_param(day[:20])
    audit_search(request, actor, "refill calendar day", day=day[:20])
    plan = plan_of(request, db)
    if wanted is None:
        first, count, booked = 0, plan.schedule.urgent, None
    else:
        booked = plan.schedule.on(wanted)
        if booked is None:
            raise NotFoundError(
                f"refill booked on {wanted:%d %b %Y}: the calendar books opening days from "
                f"{plan.today:%d %b %Y} for {DAYS_SHOWN} days"
            )
        first, count = booked.first, booked.count
    listed = min(count, MAX_LISTED)
    low, high, offset = ranks_within(plan.due, first, listed)
    rows = dashboard.due_by_rank(db, plan.edges[low], plan.edges[high + 1], offset, listed)
    zone = clinic_zone()
    due_days = [
        (p, p.next_refill_due_at.astimezone(zone).date()) for p in rows if p.next_refill_due_at
    ]
    return render(
        request,
        "calendar_day.html",
        actor,
        day=wanted,
        booked=booked,
        total=count,
        rows=due_days,
        clinic=settings.of(request).clinic_days,
        zone=zone.key,
    )
