"""The outcomes registry in the JSON API: a patient's questionnaires (list, enter), one-time
links for patients, the instruments, and the statistics per procedure and period.

Shares are fractions of 1 (``_fraction``); every share carries its definition, its counts, its
95% Wilson interval for both denominators and its warnings (``outcomes.statistics_to_dict``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from sqlalchemy.orm import Session

from intrathecal.outcomes import (
    INSTRUMENTS,
    ProcedureStatistics,
    course_to_dict,
    instrument_to_dict,
    statistics_to_dict,
)
from intrathecal.store import outcomes as store
from intrathecal.store import outcomes_stats, records
from intrathecal.web import outcomes as views
from intrathecal.web import settings
from intrathecal.web.api import schemas
from intrathecal.web.api.answers import signed_in
from intrathecal.web.api.schemas import Strict
from intrathecal.web.deps import Actor, get_db, now, read_only, require
from intrathecal.web.disclaimer import DISCLAIMER
from intrathecal.web.read_audit import audit_read

router = APIRouter(prefix="/api/v1", tags=["outcomes"])

# An answer is a code or a number (JSON number or text, "3") or free text; bool is listed so
# that true/false reach the registry's check and are refused there by name, not coerced to 1/0.
AnswerValue = bool | int | float | str


class OutcomeBody(Strict):
    procedure: str = Field(examples=["intrathecal-pump"])
    timepoint: str = Field(examples=["3 months"])
    collected_on: date | None = Field(None, description="day answered; default today")
    days_from_baseline: int | None = Field(
        None, description="whole days; default: 0 at baseline, else from the stored baseline"
    )
    answers: dict[str, dict[str, AnswerValue]] = Field(
        description="instrument key -> item key -> answer",
        examples=[{"nrs-pain": {"pain": 3}, "pgic": {"change": 2}}],
    )


class LinkBody(Strict):
    procedure: str = Field(examples=["intrathecal-pump"])
    timepoint: str = Field(examples=["3 months"])
    instruments: list[str] = Field(
        default_factory=list, description="default: every instrument asked at that time point"
    )
    valid_days: int = Field(store.LINK_DAYS_DEFAULT, ge=1, le=store.LINK_DAYS_MAX)
    days_from_baseline: int | None = None


@router.get(
    "/outcomes/instruments",
    response_model=schemas.InstrumentsAnswer,
    responses=signed_in(),
)
@read_only
def list_instruments(
    _: Actor = Depends(require("outcomes.read")),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    """Every instrument's items, allowed answers, scoring rule, source and licence."""
    return {
        "ok": True,
        "instruments": [instrument_to_dict(i) for i in INSTRUMENTS.values()],
        "disclaimer": DISCLAIMER,
    }


@router.get(
    "/outcomes/statistics",
    response_model=schemas.StatisticsAnswer,
    responses=signed_in(),
)
@read_only
def statistics(
    request: Request,
    procedure: str = "",
    start: str = Query("", alias="from", description="first baseline date, YYYY-MM-DD"),
    end: str = Query("", alias="to", description="last baseline date, YYYY-MM-DD"),
    as_of: str = Query("", description="follow-ups due by this day; default today"),
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    _: Actor = Depends(require("outcomes.read")),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    """Shares per procedure and follow-up for the patients whose baseline is in the period."""
    period = views.period_of(start, end)
    day = views.parse_day(as_of, "as_of") or now(request).date()
    stats: tuple[ProcedureStatistics, ...]
    if procedure:
        stats = outcomes_stats.clinic_statistics(db, period=period, as_of=day, procedure=procedure)
    else:
        stats = views.clinic_statistics(request.app.state, db, period, day)
    return {
        "ok": True,
        "as_of": day.isoformat(),
        "period": period.describe(),
        "procedures": [statistics_to_dict(s) for s in stats],
        "disclaimer": DISCLAIMER,
    }


@router.get(
    "/patients/{patient_id}/outcomes",
    response_model=schemas.PatientOutcomesAnswer,
    responses=signed_in(404),
)
@read_only
def patient_outcomes(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("outcomes.read")),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    """The patient's stored responses and course per procedure (the read is audited)."""
    audit_read(request, actor, patient_id, "outcomes", outcomes=True)
    rows = store.patient_rows(db, patient_id)
    courses = []
    for procedure in store.procedures_of(rows):
        course = store.course(db, patient_id, procedure)
        if course is not None:
            courses.append(course_to_dict(course))
    return {
        "ok": True,
        "subject": store.subject_of(patient_id),
        "responses": [views.response_dict(r) for r in rows],
        "courses": courses,
        "disclaimer": DISCLAIMER,
    }


@router.post(
    "/patients/{patient_id}/outcomes",
    status_code=201,
    response_model=schemas.OutcomesAddedAnswer,
    responses=signed_in(404),
)
def add_outcomes(
    patient_id: int,
    body: OutcomeBody,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("outcomes.write")),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    """One visit's questionnaires. 422 naming every bad item (``answers.<instrument>.<item>``),
    a duplicate, or a follow-up before the baseline; nothing is stored then."""
    patient = records.require_patient(db, patient_id)
    at = now(request)
    visit = store.Visit(
        procedure=body.procedure,
        timepoint=body.timepoint,
        collected_on=body.collected_on or at.date(),
        answers=body.answers,
        days_from_baseline=body.days_from_baseline,
    )
    rows = store.add_visit(db, patient, visit, actor.name, at)
    db.commit()
    return {"ok": True, "responses": [views.response_dict(r) for r in rows]}


@router.post(
    "/patients/{patient_id}/outcomes/links",
    status_code=201,
    response_model=schemas.LinkAnswer,
    responses=signed_in(404),
)
def create_link(
    patient_id: int,
    body: LinkBody,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("outcomes.write")),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    """A one-time link for the patient; the token is in this answer only (the clinic keeps its
    hash)."""
    patient = records.require_patient(db, patient_id)
    made = store.create_link(
        db,
        patient,
        body.procedure,
        body.timepoint,
        actor.name,
        now(request),
        instruments=body.instruments,
        valid_days=body.valid_days,
        days_from_baseline=body.days_from_baseline,
    )
    db.commit()
    link = made.link
    return {
        "ok": True,
        "link": {
            "id": link.id,
            "url": settings.of(request).link(f"/q/{made.token}"),
            "token": made.token,
            "procedure": link.procedure,
            "timepoint": link.timepoint,
            "instruments": store.link_instruments(link),
            "expires_at": link.expires_at.isoformat().replace("+00:00", "Z"),
        },
    }
