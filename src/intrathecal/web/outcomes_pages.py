"""Outcomes pages: questionnaire entry by staff, one-time links for patients, the patient's form,
the clinic's outcomes page with its charts, the PDF reports and the de-identified export.

The patient's form (``/q/<token>``) needs no account: the random token in the link is the
credential (only its hash is stored), it works once and until it expires, and the page shows
the questionnaires and nothing of the chart. Its POST must also carry the link's own CSRF
value from the page, and the page asks browsers to send no Referer (the token is in the URL).
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from intrathecal.charts.outcomes import shares_chart
from intrathecal.outcomes import (
    INSTRUMENTS,
    SHARES,
    Period,
    parse_timepoint,
    procedure_label,
)
from intrathecal.reports import deidentified_csv, practice_report_pdf
from intrathecal.store import audit, records
from intrathecal.store import outcomes as store
from intrathecal.units import InputError
from intrathecal.web import outcomes as views
from intrathecal.web import settings
from intrathecal.web.deps import Actor, get_db, now, read_only, require
from intrathecal.web.pages import refills_of, render
from intrathecal.web.read_audit import audit_apart, audit_read, audited_patient

router = APIRouter(include_in_schema=False)
From = Query("", alias="from", description="first baseline date of the period, YYYY-MM-DD")
To = Query("", alias="to", description="last baseline date of the period, YYYY-MM-DD")

# The patient's page: no caching, no Referer carrying the token, not for search engines.
PRIVATE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


def _form(raw: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in raw.items()}


def _days(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InputError("days_from_baseline", f"expected whole days, got {text!r}") from None


def _asked(timepoint: str) -> list[str]:
    try:
        return list(store.instruments_at(parse_timepoint(timepoint), staff=True))
    except InputError:
        return list(INSTRUMENTS)


# --- staff entry -------------------------------------------------------------------------------


def _entry(
    request: Request,
    actor: Actor,
    patient: Any,
    form: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> HTMLResponse:
    timepoint = form.get("timepoint", "baseline")
    return render(
        request,
        "outcome_entry.html",
        actor,
        status=status,
        patient=patient,
        form=form,
        errors=errors,
        instruments=views.instruments(_asked(timepoint)),
        procedures=views.procedure_choices(),
        timepoints=views.timepoint_choices(),
    )


@router.get("/patients/{patient_id}/outcomes/new", response_class=HTMLResponse)
@read_only
def entry_page(
    patient_id: int,
    request: Request,
    procedure: str = "",
    timepoint: str = "",
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("outcomes.write")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    patient = audited_patient(request, actor, db, patient_id, "outcomes entry")
    rows = store.patient_rows(db, patient_id)
    procedure = procedure or (store.procedures_of(rows) or [views.CARD_PROCEDURE])[0]
    form = {
        "procedure": procedure,
        "timepoint": timepoint or views.next_timepoint(rows, procedure),
        "collected_on": now(request).date().isoformat(),
        "days_from_baseline": "",
    }
    return _entry(request, actor, patient, form, {})


@router.post("/patients/{patient_id}/outcomes", response_class=HTMLResponse)
async def entry_save(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("outcomes.write")),  # noqa: B008 (FastAPI dependency)
) -> Response:
    form = _form(await request.form())
    # Database work runs in a worker thread: waiting for SQLite's write lock must not
    # stall the event loop that the lock's holder needs.
    return await run_in_threadpool(_entry_save, patient_id, request, db, actor, form)


def _entry_save(
    patient_id: int, request: Request, db: Session, actor: Actor, form: dict[str, str]
) -> Response:
    patient = records.require_patient(db, patient_id)
    at = now(request)
    try:
        visit = store.Visit(
            procedure=form.get("procedure", ""),
            timepoint=form.get("timepoint", ""),
            collected_on=views.parse_day(form.get("collected_on", ""), "collected_on") or at.date(),
            answers=views.answers_from_form(
                form, _asked(form.get("timepoint", "")), skip_blank=True
            ),
            days_from_baseline=_days(form.get("days_from_baseline", "")),
        )
        store.add_visit(db, patient, visit, actor.name, at)
    except InputError as exc:  # InvalidOutcomesError too: every problem, nothing stored
        db.rollback()
        return _entry(request, actor, patient, form, views.errors_by_field(exc), status=422)
    db.commit()
    return RedirectResponse(f"/patients/{patient_id}#outcomes", status_code=303)


@router.post("/patients/{patient_id}/outcomes/link", response_class=HTMLResponse)
async def link_create(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("outcomes.write")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    form = _form(await request.form())
    # Database work runs in a worker thread: waiting for SQLite's write lock must not
    # stall the event loop that the lock's holder needs.
    return await run_in_threadpool(_link_create, patient_id, request, db, actor, form)


def _link_create(
    patient_id: int, request: Request, db: Session, actor: Actor, form: dict[str, str]
) -> HTMLResponse:
    patient = records.require_patient(db, patient_id)
    try:
        days_text = form.get("valid_days", "").strip() or str(store.LINK_DAYS_DEFAULT)
        if not days_text.isdigit():
            raise InputError("valid_days", f"expected whole days, got {days_text!r}")
        made = store.create_link(
            db,
            patient,
            form.get("procedure", ""),
            form.get("timepoint", ""),
            actor.name,
            now(request),
            valid_days=int(days_text),
            days_from_baseline=_days(form.get("days_from_baseline", "")),
        )
    except InputError as exc:
        db.rollback()
        return render(
            request,
            "outcome_link.html",
            actor,
            status=422,
            patient=patient,
            errors=views.errors_by_field(exc),
            link=None,
            url="",
        )
    db.commit()
    return render(
        request,
        "outcome_link.html",
        actor,
        patient=patient,
        errors={},
        link=made.link,
        url=settings.of(request).link(f"/q/{made.token}"),
        procedure_label=procedure_label(made.link.procedure),
        asked=views.instruments(store.link_instruments(made.link)),
    )


# --- the patient's own form (no account) ------------------------------------------------------


def _refused(request: Request, reason: str) -> HTMLResponse:
    status = {"unknown": 404, "used": 410, "expired": 410, "form": 403}[reason]
    page = render(request, "questionnaire_refused.html", None, status=status, reason=reason)
    page.headers.update(PRIVATE)
    return page


def _questionnaire(
    request: Request,
    link: Any,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> HTMLResponse:
    page = render(
        request,
        "questionnaire.html",
        None,
        status=status,
        instruments=views.instruments(store.link_instruments(link)),
        link_csrf=link.csrf_token,
        values=values,
        errors=errors,
        expires_at=link.expires_at,
    )
    page.headers.update(PRIVATE)
    return page


@router.get("/q/{token}", response_class=HTMLResponse)
def patient_form(
    token: str,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    at = now(request)
    try:
        link = store.open_link(db, token, at)
    except store.LinkRefusedError as exc:
        return _refused(request, exc.reason)
    audit.record(
        db, at, f"patient link {link.id}", "outcomes.link.open", f"patient:{link.patient_id}"
    )
    db.commit()
    return _questionnaire(request, link, {}, {})


@router.post("/q/{token}", response_class=HTMLResponse)
async def patient_submit(
    token: str,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    form = _form(await request.form())
    # Database work runs in a worker thread: waiting for SQLite's write lock must not
    # stall the event loop that the lock's holder needs.
    return await run_in_threadpool(_patient_submit, token, request, db, form)


def _patient_submit(
    token: str, request: Request, db: Session, form: dict[str, str]
) -> HTMLResponse:
    at = now(request)
    try:
        link = store.open_link(db, token, at)
    except store.LinkRefusedError as exc:
        return _refused(request, exc.reason)
    if not secrets.compare_digest(form.get("link_csrf", ""), link.csrf_token):
        return _refused(request, "form")
    answers = views.answers_from_form(form, store.link_instruments(link), skip_blank=False)
    try:
        store.submit_link(db, token, answers, at)
    except store.LinkRefusedError as exc:
        db.rollback()
        return _refused(request, exc.reason)
    except InputError as exc:
        db.rollback()
        return _questionnaire(request, link, form, views.errors_by_field(exc), status=422)
    db.commit()
    page = render(request, "questionnaire_done.html", None)
    page.headers.update(PRIVATE)
    return page


# --- a patient's course: chart and report ------------------------------------------------------


@router.get("/patients/{patient_id}/outcomes/trend.svg")
@read_only
def trend_chart(
    patient_id: int,
    request: Request,
    procedure: str = "intrathecal-pump",
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("outcomes.read")),  # noqa: B008 (FastAPI dependency)
) -> Response:
    audit_read(request, actor, patient_id, "outcomes trend chart", procedure=procedure)
    records.require_patient(db, patient_id)
    return Response(views.trend_svg(db, patient_id, procedure), media_type="image/svg+xml")


@router.get("/patients/{patient_id}/report.pdf")
@read_only
def patient_report(
    patient_id: int,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("outcomes.read")),  # noqa: B008 (FastAPI dependency)
) -> Response:
    at = now(request)
    patient = audited_patient(
        request, actor, db, patient_id, "patient report pdf", report="patient pdf"
    )
    pdf = views.patient_pdf(db, patient, refills_of(db, patient_id), at.date())
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="patient-{patient_id}-report.pdf"',
            "Cache-Control": "no-store",
        },
    )


# --- the clinic's outcomes ---------------------------------------------------------------------


def _filter(request: Request, start: str, end: str, as_of: str) -> tuple[Period, date]:
    """The period (baseline dates) and the as-of date (default today) from the query."""
    period = views.period_of(start, end)
    return period, views.parse_day(as_of, "as_of") or now(request).date()


@router.get("/outcomes", response_class=HTMLResponse)
@read_only
def outcomes_page(
    request: Request,
    start: str = From,
    end: str = To,
    as_of: str = "",
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("outcomes.read")),  # noqa: B008 (FastAPI dependency)
) -> HTMLResponse:
    query = {"start": start, "end": end, "as_of": as_of}
    try:
        period, day = _filter(request, start, end, as_of)
    except InputError as exc:
        return render(
            request,
            "outcomes.html",
            actor,
            status=422,
            stats=(),
            query=query,
            error=str(exc),
            shares=SHARES,
            share_text=views.share_text,
            as_of=None,
        )
    stats = views.clinic_statistics(request.app.state, db, period, day)
    return render(
        request,
        "outcomes.html",
        actor,
        stats=stats,
        query=query,
        error="",
        shares=SHARES,
        share_text=views.share_text,
        as_of=day,
        period=period,
    )


@router.get("/outcomes/shares.svg")
@read_only
def shares_svg(
    request: Request,
    procedure: str,
    timepoint: str,
    start: str = From,
    end: str = To,
    as_of: str = "",
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    _: Actor = Depends(require("outcomes.read")),  # noqa: B008 (FastAPI dependency)
) -> Response:
    period, day = _filter(request, start, end, as_of)
    for stats in views.clinic_statistics(request.app.state, db, period, day):
        if stats.procedure == procedure:
            try:
                at = stats.at(timepoint)
            except KeyError:
                break
            title = f"{stats.procedure_label} at {at.timepoint}"
            return Response(shares_chart(at, title, "svg"), media_type="image/svg+xml")
    raise InputError("timepoint", f"no statistics for {procedure} at {timepoint!r}")


@router.get("/outcomes/report.pdf")
@read_only
def practice_pdf(
    request: Request,
    start: str = From,
    end: str = To,
    as_of: str = "",
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("outcomes.read")),  # noqa: B008 (FastAPI dependency)
) -> Response:
    period, day = _filter(request, start, end, as_of)
    stats = views.clinic_statistics(request.app.state, db, period, day)
    at = now(request)
    pdf = practice_report_pdf(stats, generated_on=at.date(), title="Outcomes report")
    audit_apart(
        request, actor, "outcomes.report", "clinic", {"period": period.describe(), "as_of": day}
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="outcomes-report-{at.date()}.pdf"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/outcomes/export.csv")
@read_only
def export_csv(
    request: Request,
    start: str = From,
    end: str = To,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("outcomes.read")),  # noqa: B008 (FastAPI dependency)
) -> Response:
    """Pseudonyms (HMAC with the clinic's key), no dates, no free text (reports.export)."""
    period = views.period_of(start, end)
    responses = views.cohort_responses(store.all_responses(db), period)
    text = deidentified_csv(responses, store.pseudonym_key(db))
    at = now(request)
    detail = {"period": period.describe(), "responses": len(responses)}
    audit_apart(request, actor, "outcomes.export", "clinic", detail)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="outcomes-deidentified-{at.date()}.csv"',
            "Cache-Control": "no-store",
        },
    )
