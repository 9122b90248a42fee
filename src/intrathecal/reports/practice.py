"""A practice report for a period: every procedure's shares, definitions, intervals and charts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from intrathecal.charts.outcomes import shares_chart
from intrathecal.outcomes.instruments import INSTRUMENTS, SIDE_EFFECT_LABELS
from intrathecal.outcomes.responders import SHARES
from intrathecal.outcomes.statistics import (
    SMALL_N,
    ProcedureStatistics,
    Proportion,
    ShareResult,
    TimepointStatistics,
    percent,
)
from intrathecal.reports.pdf import DISCLAIMER, Document, Table

HEADLINE = ("improved", "less_pain", "better_function", "less_spasticity", "fewer_spasms")


def _cell(p: Proportion) -> str:
    if p.estimate is None or p.low is None or p.high is None:
        return f"{p.successes}/{p.n} (no answers)"
    return f"{p.successes}/{p.n} = {percent(p.estimate)} ({percent(p.low)}–{percent(p.high)})"


def headline(share: ShareResult, t: TimepointStatistics) -> str | None:
    """'56% of patients report improvement at 3 months (95% CI 27-81%, 9 answered of 11 due);
    45% (21-72%) if the 2 who did not answer are counted as not improved.'"""
    c, m = share.completers, share.missing_as_not_improved
    if not share.asked or c.estimate is None or c.low is None or c.high is None:
        return None
    text = (
        f"{percent(c.estimate)} of patients report {share.definition.label} at {t.timepoint} "
        f"(95% CI {percent(c.low)}–{percent(c.high)}, n {c.n} answered of {m.n} due)"
    )
    if m.estimate is not None and m.low is not None and m.high is not None and share.missing:
        who = (
            "the 1 who did not answer is"
            if share.missing == 1
            else (f"the {share.missing} who did not answer are")
        )
        text += (
            f"; {percent(m.estimate)} ({percent(m.low)}–{percent(m.high)}) if {who} counted as "
            "not improved"
        )
    if share.small_n:
        text += " [small n]"
    return text + "."


def _summary(doc: Document, statistics: Sequence[ProcedureStatistics]) -> None:
    doc.heading("Summary", 13)
    doc.paragraph(
        "Headline results, each with its 95% interval and both ways of counting patients who "
        "did not answer. [small n]: fewer than 20 answers; quote only with the interval. "
        "Every share's definition and source is on the last page."
    )
    for stats in statistics:
        lines = []
        for t in stats.timepoints:
            lines += [line for key in HEADLINE if (line := headline(t.share(key), t)) is not None]
        with doc.unbreakable() as block:
            block.heading(f"{stats.procedure_label}: {stats.cohort} patient(s) with a baseline", 11)
            block.bullets(lines or ["No answers at any follow-up yet."], 8)


def practice_report_pdf(
    statistics: Sequence[ProcedureStatistics],
    *,
    generated_on: date,
    clinic: str = "",
    title: str = "Outcomes report",
) -> bytes:
    """A summary page a clinic could publish, one section per procedure, then definitions.

    No table is split across pages; small n is said once per table.
    """
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
    if not statistics:
        doc.paragraph("No responses in this period.")
    else:
        _summary(doc, statistics)
    doc.heading("How to read this report", 10)
    doc.paragraph(first.method if first else "", 8)
    doc.paragraph(
        "Each share is given twice: 'answered' counts only the patients who answered that "
        "question at that follow-up; 'missing = not improved' divides the same number of "
        "improved patients by every patient whose follow-up was due, counting those who did not "
        "answer as not improved. The truth for the whole cohort usually lies between the two. "
        "'No baseline': patients due but left out of a share because the baseline measure it "
        "compares with is missing. 'Not asked': no patient answered that question at that "
        "follow-up. Cells read: improved/n = share (95% interval).",
        8,
    )
    doc.paragraph(DISCLAIMER, 7)
    for stats in statistics:
        doc.add_page()
        doc.heading(f"{stats.procedure_label}: {stats.cohort} patient(s) with a baseline")
        doc.bullets(list(stats.notes))
        for t in stats.timepoints:
            _timepoint(doc, stats, t)
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


def _timepoint(doc: Document, stats: ProcedureStatistics, t: TimepointStatistics) -> None:
    rows = []
    for s in t.shares:
        if not s.asked:
            rows.append([s.definition.label, "not asked", "not asked", "-", "-"])
            continue
        rows.append(
            [
                s.definition.label + (" *" if s.small_n else ""),
                _cell(s.completers),
                _cell(s.missing_as_not_improved),
                str(s.missing),
                str(s.no_baseline) if s.definition.baseline is not None else "-",
            ]
        )
    small = [s.definition.label for s in t.shares if s.small_n]
    # One line per table for small n; the per-share interval warnings say the same thing.
    warnings = [
        *t.warnings,
        *(w for s in t.shares if s.asked and not s.small_n for w in s.warnings),
    ]
    if small:
        warnings.append(
            f"* fewer than {SMALL_N} answers for {', '.join(small)}: quote these only with "
            "their interval"
        )
    se = t.side_effects
    effects = ", ".join(f"{SIDE_EFFECT_LABELS[k].lower()} {n}" for k, n in se.counts.items() if n)
    with doc.unbreakable() as block:  # a table and its notes never split across pages
        block.heading(f"{stats.procedure_label} at {t.timepoint}", 11)
        block.paragraph(
            f"Due: {t.due}; answered: {t.responded}; response rate {_cell(t.response_rate)}; "
            f"not yet due: {t.not_yet_due}."
        )
        block.data_table(
            Table(["share", "answered", "missing = not improved", "missing", "no baseline"], rows),
            widths=(42, 50, 50, 16, 18),
        )
        if warnings:
            block.bullets(warnings, 7)
        block.paragraph(
            f"Side effects: {se.answered} answered the checklist; any side effect "
            f"{_cell(se.any_effect)}; {effects or 'none reported'}; "
            f"{se.needing_review} with answers flagged for clinician review.",
            8,
        )
    doc.picture(shares_chart(t, f"{stats.procedure_label} at {t.timepoint}"), width=150)
