"""A printable report of one patient: pump settings, doses, refills and the outcomes trend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from intrathecal.charts.outcomes import DoseSeries, PatientTrend, Series, patient_trend_chart
from intrathecal.outcomes.course import MEASURE_BY_KEY, PatientCourse
from intrathecal.outcomes.instruments import PGIC_LABELS
from intrathecal.outcomes.timepoints import procedure_label
from intrathecal.reports.pdf import DISCLAIMER, Document, Table


@dataclass(frozen=True)
class PatientReport:
    """Plain data, already formatted by the caller (text with units), except the course.

    ``patient_label`` is what the clinic prints to identify the patient (its own report, kept in
    the clinic); the outcomes registry itself only knows the pseudonymous id in ``course``.
    """

    patient_label: str
    generated_on: date
    clinic: str = ""
    pump_settings: Table | None = None  # e.g. ("setting", "value") rows: device, drug, rates
    doses: Table | None = None  # e.g. drug, concentration, daily dose, max with demand boluses
    refills: Table | None = None  # e.g. date, volume in, volume out, expected, discrepancy
    course: PatientCourse | None = None
    dose_history: Sequence[DoseSeries] = field(default_factory=tuple)
    notes: Sequence[str] = field(default_factory=tuple)


def _fmt(value: float | None, unit: str = "") -> str:
    return "" if value is None else f"{value:g}{unit}"


def outcomes_table(course: PatientCourse) -> Table:
    """One row per time point: every measure the patient answered there."""
    keys = (
        "pain",
        "physical_function",
        "quality_of_life",
        "global_physical_health_raw",
        "global_mental_health_raw",
        "pgic",
        "percent_improvement",
    )
    rows: dict[tuple[int, str], dict[str, str]] = {}
    dates: dict[tuple[int, str], str] = {}
    for key in keys:
        for point in course.series(key):
            slot = (point.days_from_baseline, point.timepoint)
            value = point.value
            if key == "pgic":
                text = f"{value:g} {PGIC_LABELS[int(value) - 1].lower()}"
            elif key == "percent_improvement":
                text = _fmt(value, "%")
            else:
                text = _fmt(value)
            rows.setdefault(slot, {})[key] = text
            if point.collected_on:
                dates.setdefault(slot, point.collected_on.isoformat())
    for effect in course.side_effects:
        slot = (effect.days_from_baseline, effect.timepoint)
        rows.setdefault(slot, {})["side_effects"] = ", ".join(effect.effects) or "none"
    headers = [
        "time point",
        "date",
        "pain NRS",
        "function",
        "QoL",
        "GPH raw",
        "GMH raw",
        "PGIC",
        "% better",
        "side effects",
    ]
    body = [
        [
            f"{tp} (day {days})",
            dates.get((days, tp), ""),
            *(rows[(days, tp)].get(k, "") for k in keys),
            rows[(days, tp)].get("side_effects", ""),
        ]
        for days, tp in sorted(rows)
    ]
    return Table(headers, body)


def patient_report_pdf(report: PatientReport) -> bytes:
    doc = Document(f"Patient report: {report.patient_label}", report.generated_on)
    doc.heading(f"Patient report: {report.patient_label}", 15)
    doc.paragraph(
        " · ".join(x for x in (report.clinic, f"generated {report.generated_on.isoformat()}") if x)
    )
    doc.paragraph(DISCLAIMER, 7)
    doc.heading("Current pump settings")
    if report.pump_settings is None:
        doc.paragraph("No pump settings given.")
    else:
        doc.data_table(report.pump_settings)
    doc.heading("Doses")
    if report.doses is None:
        doc.paragraph("No doses given.")
    else:
        doc.data_table(report.doses)
    doc.heading("Refills")
    if report.refills is None:
        doc.paragraph("No refills given.")
    else:
        doc.data_table(report.refills)
    doc.heading("Patient-reported outcomes")
    course = report.course
    if course is None or not course.measures:
        doc.paragraph("No outcome questionnaires recorded.")
    else:
        doc.paragraph(f"{procedure_label(course.procedure)}; registry id {course.subject}.")
        doc.data_table(outcomes_table(course), size=7)
        doc.paragraph(
            "pain NRS 0-10 (lower is better); function = PROMIS Global06 and QoL = PROMIS "
            "Global02, 1-5 (higher is better); GPH/GMH = PROMIS Global Physical/Mental Health "
            "raw scores 4-20 (higher is better; T-scores not computed); PGIC 1 = very much "
            "improved to 7 = very much worse.",
            7,
        )
        changes = [
            f"{MEASURE_BY_KEY[k].label}: {course.change(k):+g} since baseline"
            for k in ("pain", "physical_function", "quality_of_life")
            if course.change(k) is not None
        ]
        doc.bullets(changes)
        review = [f"{s.timepoint}: {r}" for s in course.side_effects for r in s.review]
        if review:
            doc.paragraph("Answers flagged for clinician review:", 9, bold=True)
            doc.bullets(review)
        doc.picture(patient_trend_chart(_trend(report)))
    if report.notes:
        doc.heading("Notes")
        doc.bullets(report.notes, 9)
    return doc.to_bytes()


def _trend(report: PatientReport) -> PatientTrend:
    course = report.course
    assert course is not None
    dated = all(p.collected_on for points in course.measures.values() for p in points)

    def series(key: str, label: str) -> Series | None:
        points = course.series(key)
        if not points:
            return None
        return Series(
            label,
            [
                (p.collected_on if dated and p.collected_on else p.days_from_baseline, p.value)
                for p in points
            ],
        )

    return PatientTrend(
        title=f"{report.patient_label}: {procedure_label(course.procedure)}",
        pain=series("pain", "Pain, NRS 0-10"),
        function=series("physical_function", "Everyday physical function, PROMIS Global06 (1-5)"),
        doses=report.dose_history if dated else (),
    )
