"""A practice report for a period: every procedure's shares, definitions, intervals and charts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from intrathecal.charts.outcomes import shares_chart
from intrathecal.outcomes.instruments import INSTRUMENTS, SIDE_EFFECT_LABELS
from intrathecal.outcomes.responders import SHARES
from intrathecal.outcomes.statistics import ProcedureStatistics, Proportion, percent
from intrathecal.reports.pdf import DISCLAIMER, Document, Table


def _cell(p: Proportion) -> str:
    if p.estimate is None or p.low is None or p.high is None:
        return f"{p.successes}/{p.n} (no answers)"
    return f"{p.successes}/{p.n} = {percent(p.estimate)} ({percent(p.low)}–{percent(p.high)})"


def practice_report_pdf(
    statistics: Sequence[ProcedureStatistics],
    *,
    generated_on: date,
    clinic: str = "",
    title: str = "Outcomes report",
) -> bytes:
    doc = Document(title, generated_on)
    doc.heading(title, 16)
    first = statistics[0] if statistics else None
    period = first.period.describe() if first else "no data"
    as_of = first.as_of.isoformat() if first and first.as_of else "not given"
    doc.paragraph(
        " · ".join(
            x
            for x in (
                clinic,
                f"patients with {period}",
                f"follow-ups due by {as_of}",
                f"generated {generated_on.isoformat()}",
            )
            if x
        )
    )
    doc.paragraph(DISCLAIMER, 7)
    doc.heading("How to read this report", 11)
    doc.paragraph(first.method if first else "")
    doc.paragraph(
        "Each share is given twice: 'answered' counts only the patients who answered that "
        "question at that follow-up; 'missing = not improved' divides the same number of "
        "improved patients by every patient whose follow-up was due, counting those who did not "
        "answer as not improved. The truth for the whole cohort usually lies between the two. "
        "Cells read: improved/n = share (95% interval)."
    )
    if not statistics:
        doc.paragraph("No responses in this period.")
    for stats in statistics:
        doc.add_page()
        doc.heading(f"{stats.procedure_label}: {stats.cohort} patient(s) with a baseline")
        doc.bullets(list(stats.notes))
        for t in stats.timepoints:
            doc.heading(f"{stats.procedure_label} at {t.timepoint}", 11)
            doc.paragraph(
                f"Due: {t.due}; answered: {t.responded}; response rate {_cell(t.response_rate)}; "
                f"not yet due: {t.not_yet_due}."
            )
            rows = [
                [
                    s.definition.label,
                    _cell(s.completers),
                    _cell(s.missing_as_not_improved),
                    str(s.missing),
                ]
                for s in t.shares
            ]
            doc.data_table(
                Table(["share", "answered", "missing = not improved", "missing"], rows),
                widths=(45, 55, 55, 20),
            )
            warnings = [*t.warnings, *(w for s in t.shares for w in s.warnings)]
            if warnings:
                doc.paragraph("Warnings", 9, bold=True)
                doc.bullets(warnings, 7)
            se = t.side_effects
            effects = ", ".join(
                f"{SIDE_EFFECT_LABELS[k].lower()} {n}" for k, n in se.counts.items() if n
            )
            doc.paragraph(
                f"Side effects: {se.answered} answered the checklist; any side effect "
                f"{_cell(se.any_effect)}; {effects or 'none reported'}; "
                f"{se.needing_review} with answers flagged for clinician review."
            )
            doc.picture(shares_chart(t, f"{stats.procedure_label} at {t.timepoint}"), width=160)
    doc.add_page()
    doc.heading("Definitions")
    doc.data_table(
        Table(
            ["share", "definition", "source"], [[s.label, s.definition, s.source] for s in SHARES]
        ),
        widths=(30, 85, 65),
        size=7,
    )
    doc.heading("Instruments and licences")
    doc.bullets(
        [
            f"{i.name} (v{i.version}): {i.licence.name}."
            + (
                " The clinic must check the licence terms itself."
                if i.licence.clinic_must_check
                else ""
            )
            for i in INSTRUMENTS.values()
        ]
    )
    return doc.to_bytes()
