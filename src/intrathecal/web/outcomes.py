"""What the outcomes pages and API share: form answers, the period filter, the statistics,
a patient's trend chart and PDF report, and the dashboard's outcomes card.

The numbers come from the registry's own functions (the statistics counted in SQL by
``store.outcomes_stats`` and built by ``outcomes.statistics.from_counts``; ``patient_course``);
nothing here computes a share.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intrathecal.charts.outcomes import (
    DoseSeries,
    PatientTrend,
    Series,
    dose_series_from_changes,
    patient_trend_chart,
)
from intrathecal.library import default_library
from intrathecal.outcomes import (
    INSTRUMENTS,
    PROCEDURES,
    Instrument,
    Period,
    ProcedureStatistics,
    Response,
    ShareResult,
    follow_ups_for,
    procedure_label,
)
from intrathecal.outcomes.statistics import percent
from intrathecal.reports import PatientReport, Table, patient_report_pdf
from intrathecal.store import outcomes as store
from intrathecal.store import outcomes_stats, programs
from intrathecal.store.models import OutcomeResponse, Patient, Refill
from intrathecal.therapy.summary import summarize
from intrathecal.units import (
    InputError,
    format_concentration,
    format_dose_rate,
    format_duration,
    format_volume,
    format_volume_rate,
)

FIELD_PREFIX = "a."  # form fields are named a.<instrument>.<item>
CARD_PROCEDURE, CARD_TIMEPOINT, CARD_SHARE = "intrathecal-pump", "3 months", "less_pain"


# --- forms -----------------------------------------------------------------------------------


def answers_from_form(
    form: Mapping[str, str], asked: Sequence[str], *, skip_blank: bool
) -> dict[str, dict[str, str]]:
    """Form fields ``a.<instrument>.<item>`` -> answers per instrument.

    Staff may leave a whole instrument blank (not asked: ``skip_blank``); on a patient's link
    every instrument asked is kept, so a blank one is named item by item as unanswered.
    """
    answers: dict[str, dict[str, str]] = {key: {} for key in asked}
    for name, value in form.items():
        if not name.startswith(FIELD_PREFIX):
            continue
        instrument, _, item = name[len(FIELD_PREFIX) :].partition(".")
        if instrument in answers and item:
            answers[instrument][item] = value
    if skip_blank:
        answers = {k: v for k, v in answers.items() if any(x.strip() for x in v.values())}
    return answers


def errors_by_field(error: InputError) -> dict[str, str]:
    """Each problem keyed by its field (``answers.nrs-pain.pain``), for messages beside items."""
    problems = getattr(error, "errors", (error,))
    out: dict[str, str] = {}
    for e in problems:
        out.setdefault(e.field, e.message)
    return out


def instruments(keys: Sequence[str]) -> list[Instrument]:
    return [INSTRUMENTS[k] for k in keys if k in INSTRUMENTS]


def procedure_choices() -> list[tuple[str, str]]:
    return [(key, p.label) for key, p in PROCEDURES.items()]


def timepoint_choices() -> list[str]:
    """'baseline' and every follow-up any known procedure schedules, in time order."""
    found = {tp for key in PROCEDURES for tp in follow_ups_for(key)}
    return ["baseline", *(tp.label for tp in sorted(found))]


def next_timepoint(rows: Sequence[OutcomeResponse], procedure: str) -> str:
    """The first time point of the procedure's schedule the patient has not answered."""
    done = {r.timepoint for r in rows if r.procedure == procedure}
    if "baseline" not in done:
        return "baseline"
    for tp in follow_ups_for(procedure):
        if tp.label not in done:
            return tp.label
    return follow_ups_for(procedure)[-1].label


def parse_day(text: str, field: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(field, f"{text!r} is not a date; write YYYY-MM-DD") from None


def period_of(start: str, end: str) -> Period:
    return Period(parse_day(start, "from"), parse_day(end, "to"))


# --- statistics ------------------------------------------------------------------------------


STATISTICS_KEPT = 16  # (period, as of) answers each worker keeps


def clinic_statistics(
    state: Any, db: Session, period: Period, as_of: date
) -> tuple[ProcedureStatistics, ...]:
    """The clinic's statistics, counted in SQL from the summary every stored visit keeps up to
    date (issue 13), and kept by the worker (``state``) until an answer is stored: counting a
    full registry took 86 ms at 10,000 patients, on every dashboard view and statistics page.
    The key holds the newest stored response's id (one index lookup): responses are only ever
    added, and every change to the summary comes with one, so a kept answer is never stale."""
    newest = db.execute(select(func.max(OutcomeResponse.id))).scalar_one()
    key = (period, as_of, newest)
    kept: dict[Any, tuple[ProcedureStatistics, ...]] | None
    kept = getattr(state, "statistics_kept", None)
    if kept is None:
        kept = state.statistics_kept = {}
    found = kept.get(key)
    if found is None:
        found = outcomes_stats.clinic_statistics(db, period=period, as_of=as_of)
        if len(kept) >= STATISTICS_KEPT:
            kept.pop(next(iter(kept)))  # the oldest first
        kept[key] = found
    return found


def cohort_responses(responses: Sequence[Response], period: Period) -> list[Response]:
    """The responses of patients whose baseline for that procedure falls in ``period``."""
    if period.unbounded:
        return list(responses)
    inside = {
        (r.subject, r.procedure)
        for r in responses
        if r.timepoint == "baseline" and r.collected_on and period.contains(r.collected_on)
    }
    return [r for r in responses if (r.subject, r.procedure) in inside]


def share_text(share: ShareResult) -> dict[str, str]:
    """Both denominators of a share, as table cells."""

    def cell(p: Any) -> str:
        if p.estimate is None:
            return f"{p.successes}/{p.n}: no answers"
        return (
            f"{percent(p.estimate)} ({p.successes}/{p.n}; 95% CI {percent(p.low)} to "
            f"{percent(p.high)})"
        )

    if not share.asked:
        return {"completers": "not asked", "itt": "not asked", "no_baseline": "-"}
    return {
        "completers": cell(share.completers),
        "itt": cell(share.missing_as_not_improved),
        "no_baseline": str(share.no_baseline) if share.definition.baseline else "-",
    }


@dataclass(frozen=True)
class Card:
    headline: str
    detail: str
    warnings: tuple[str, ...]


def dashboard_card(state: Any, db: Session, today: date) -> Card | None:
    """'88% of pump patients who answered at 3 months report less pain (95% CI ..., n = ...)',
    with the missing-as-not-improved figure beside it; None before any 3-month answer."""
    stats = {s.procedure: s for s in clinic_statistics(state, db, Period(), today)}
    pump = stats.get(CARD_PROCEDURE)
    if pump is None:
        return None
    try:
        at = pump.at(CARD_TIMEPOINT)
    except KeyError:
        return None
    share = at.share(CARD_SHARE)
    c, m = share.completers, share.missing_as_not_improved
    if c.estimate is None or m.estimate is None:
        return None
    headline = (
        f"{percent(c.estimate)} of pump patients who answered at {CARD_TIMEPOINT} report "
        f"{share.definition.label} (95% CI {percent(c.low or 0)} to {percent(c.high or 0)}, "
        f"n = {c.n})"
    )
    detail = (
        f"{m.describe()} of the {at.due} patients due, when the {share.missing} who did not "
        f"answer are counted as not improved. Definition: {share.definition.definition}."
    )
    return Card(headline, detail, share.warnings)


# --- one patient's course ----------------------------------------------------------------------


def dose_history(db: Session, patient_id: int) -> list[DoseSeries]:
    """Each drug's mean daily dose from the patient's signed program versions."""
    changes: dict[date, dict[str, float]] = {}
    for version in programs.history(db, patient_id):
        changes[version.signed_at.date()] = json.loads(version.daily_doses_json)
    units = {d: _dose_unit(d) for day in changes.values() for d in day}
    return dose_series_from_changes(changes, units)


def _dose_unit(drug: str) -> str:
    try:
        return default_library().drug(drug).dose_unit.value
    except KeyError:
        return "mcg"


def trend_svg(db: Session, patient_id: int, procedure: str) -> bytes:
    """Pain and function over time (and the pump's doses for the pump procedure)."""
    course = store.course(db, patient_id, procedure)
    doses = dose_history(db, patient_id) if procedure == "intrathecal-pump" else []

    def series(key: str, label: str) -> Series | None:
        if course is None or not course.series(key):
            return None
        points = course.series(key)
        return Series(label, [(p.collected_on, p.value) for p in points if p.collected_on])

    trend = PatientTrend(
        title=procedure_label(procedure),
        pain=series("pain", "Pain, NRS 0-10 (lower is better)"),
        function=series("physical_function", "Everyday physical function, PROMIS Global06 (1-5)"),
        doses=doses,
    )
    return patient_trend_chart(trend, "svg")


def chart_section(db: Session, patient_id: int) -> dict[str, Any]:
    """What the chart page shows of the patient's questionnaires: one course per procedure."""
    rows = store.patient_rows(db, patient_id)
    procedures = store.procedures_of(rows)
    visits: dict[tuple[str, int, str], dict[str, Any]] = {}
    for r in rows:
        slot = visits.setdefault(
            (r.procedure, r.days_from_baseline, r.timepoint),
            {
                "procedure": procedure_label(r.procedure),
                "timepoint": r.timepoint,
                "days": r.days_from_baseline,
                "collected_on": r.collected_on,
                "entered_by": r.entered_by,
                "instruments": [],
            },
        )
        slot["instruments"].append(r.instrument)
    courses = []
    for procedure in procedures:
        course = store.course(db, patient_id, procedure)
        if course is None:
            continue
        changes = [
            f"{label} {change:+g} since baseline"
            for key, label in (
                ("pain", "pain (NRS 0-10)"),
                ("physical_function", "function (PROMIS Global06 1-5)"),
                ("quality_of_life", "quality of life (PROMIS Global02 1-5)"),
            )
            if (change := course.change(key)) is not None
        ]
        review = [f"{s.timepoint}: {flag}" for s in course.side_effects for flag in s.review]
        courses.append(
            {
                "procedure": procedure,
                "label": procedure_label(procedure),
                "changes": changes,
                "review": review,
            }
        )
    first = procedures[0] if procedures else CARD_PROCEDURE
    return {
        "courses": courses,
        "visits": [visits[k] for k in sorted(visits)],
        "all_procedures": procedure_choices(),
        "procedure": first,
        "timepoints": timepoint_choices(),
        "next_timepoint": next_timepoint(rows, first),
    }


def _pump_tables(db: Session, patient_id: int) -> tuple[Table, Table | None]:
    current = programs.in_force(db, patient_id)
    implant = programs.current_implant(db, patient_id)
    if current is None or implant is None:
        return Table(["setting", "value"], [["pump", "no program in force"]]), None
    program = programs.parse(current.program_toml)
    summary = summarize(program)
    rows = [
        ["device", f"{program.device.name}, serial {implant.serial}"],
        ["implanted", implant.implanted_at.strftime("%Y-%m-%d")],
        [
            "program in force",
            f"version {current.version}, signed by {current.signed_by} on "
            f"{current.signed_at:%Y-%m-%d %H:%M} UTC ({current.reason})",
        ],
        ["catheter volume", format_volume(program.catheter_volume_ml)],
        ["low-reservoir alarm", format_volume(program.low_reservoir_alarm_ml)],
        ["mean daily volume", format_volume_rate(summary.mean_volume_ml_per_day)],
    ]
    for step in program.basal:
        start = f"{step.start_s // 3600:02d}:{step.start_s % 3600 // 60:02d}"
        rows.append(
            [f"basal from {start} (pump time, UTC)", format_volume_rate(step.rate_ml_per_day)]
        )
    if program.demand is not None:
        d = program.demand
        rows.append(
            [
                "demand bolus",
                f"{format_volume(d.volume_ml)} over {format_duration(d.duration_s)}, lockout "
                f"{format_duration(d.lockout_s)} (start to start), at most {d.max_per_24h} "
                "per 24 h",
            ]
        )
    doses = []
    for i in program.ingredients:
        unit = i.drug.dose_unit.value
        doses.append(
            [
                i.drug.name,
                format_concentration(i.concentration_mcg_per_ml, unit),
                format_dose_rate(summary.doses_mcg_per_day.get(i.drug.key, 0.0), unit),
                format_dose_rate(summary.worst_case_doses_mcg_per_day.get(i.drug.key, 0.0), unit),
            ]
        )
    return Table(["setting", "value"], rows), Table(
        ["drug", "concentration", "mean daily dose", "most in a day (every demand bolus)"], doses
    )


def _refill_table(rows: Sequence[Refill]) -> Table:
    def ml(value: float | None) -> str:
        return format_volume(round(value, 2)) if value is not None else "-"

    body = [
        [
            r.performed_at.strftime("%Y-%m-%d"),
            ml(r.withdrawn_ml),
            ml(r.expected_residual_ml),
            (f"{r.discrepancy_ml:+.2f} mL" if r.discrepancy_ml is not None else "-")
            + (" investigate" if r.investigate else ""),
            ml(r.fill_ml),
            f"{r.next_due_at:%Y-%m-%d} ({r.limited_by})",
        ]
        for r in reversed(rows[-12:])
    ]
    return Table(
        ["date", "withdrawn", "expected", "discrepancy", "filled", "next due (limited by)"], body
    )


def patient_pdf(db: Session, patient: Patient, refills: Sequence[Refill], today: date) -> bytes:
    rows = store.patient_rows(db, patient.id)
    procedures = store.procedures_of(rows)
    primary = procedures[0] if procedures else ""
    settings, doses = _pump_tables(db, patient.id)
    notes = [
        "Times are UTC. The program in force is the last version sent to the pump and read "
        "back; doses are means over the program's cycle, without demand boluses unless stated.",
    ]
    if len(procedures) > 1:
        others = ", ".join(procedure_label(p) for p in procedures[1:])
        notes.append(f"Questionnaires for other procedures are on the chart: {others}.")
    report = PatientReport(
        patient_label=f"{patient.name} ({patient.mrn})",
        generated_on=today,
        pump_settings=settings,
        doses=doses,
        refills=_refill_table(refills) if refills else None,
        course=store.course(db, patient.id, primary) if primary else None,
        dose_history=dose_history(db, patient.id) if primary == "intrathecal-pump" else (),
        notes=notes,
    )
    return patient_report_pdf(report)


def response_dict(r: OutcomeResponse) -> dict[str, Any]:
    return {
        "id": r.id,
        "procedure": r.procedure,
        "timepoint": r.timepoint,
        "days_from_baseline": r.days_from_baseline,
        "instrument": r.instrument,
        "answers": json.loads(r.answers_json),
        "collected_on": r.collected_on.isoformat(),
        "entered_by": r.entered_by,
        "created_by": r.created_by,
        "created_at": r.created_at.isoformat().replace("+00:00", "Z"),
    }
