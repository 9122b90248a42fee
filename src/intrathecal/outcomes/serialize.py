"""Plain-JSON views of instruments, statistics and a patient's course (keys state their unit)."""

from __future__ import annotations

from typing import Any

from intrathecal.outcomes.course import MEASURE_BY_KEY, PatientCourse
from intrathecal.outcomes.instruments import Instrument, ItemKind
from intrathecal.outcomes.statistics import (
    ProcedureStatistics,
    Proportion,
    ShareResult,
    TimepointStatistics,
)


def proportion_to_dict(p: Proportion) -> dict[str, Any]:
    """Fractions of 1 (0.8 is 80%); None when nobody answered."""
    return {
        "successes": p.successes,
        "n": p.n,
        "fraction": p.estimate,
        "ci95_low_fraction": p.low,
        "ci95_high_fraction": p.high,
    }


def share_to_dict(share: ShareResult, timepoint: str) -> dict[str, Any]:
    d = share.definition
    return {
        "key": d.key,
        "label": d.label,
        "definition": d.definition,
        "source": d.source,
        "completers_only": proportion_to_dict(share.completers),
        "missing_as_not_improved": proportion_to_dict(share.missing_as_not_improved),
        "missing": share.missing,
        "no_baseline": share.no_baseline,
        "small_n": share.small_n,
        "asked": share.asked,
        "statement": share.statement(timepoint),
        "warnings": list(share.warnings),
    }


def timepoint_to_dict(t: TimepointStatistics) -> dict[str, Any]:
    s = t.side_effects
    return {
        "timepoint": t.timepoint,
        "nominal_days": t.nominal_days,
        "due": t.due,
        "responded": t.responded,
        "not_yet_due": t.not_yet_due,
        "response_rate": proportion_to_dict(t.response_rate),
        "shares": [share_to_dict(share, t.timepoint) for share in t.shares],
        "side_effects": {
            "answered": s.answered,
            "any_effect": proportion_to_dict(s.any_effect),
            "counts": dict(s.counts),
            "needing_review": s.needing_review,
        },
        "warnings": list(t.warnings),
    }


def statistics_to_dict(stats: ProcedureStatistics) -> dict[str, Any]:
    return {
        "procedure": stats.procedure,
        "procedure_label": stats.procedure_label,
        "period": {
            "start": stats.period.start.isoformat() if stats.period.start else None,
            "end": stats.period.end.isoformat() if stats.period.end else None,
            "describes": stats.period.describe(),
        },
        "as_of": stats.as_of.isoformat() if stats.as_of else None,
        "cohort": stats.cohort,
        "method": stats.method,
        "notes": list(stats.notes),
        "timepoints": [timepoint_to_dict(t) for t in stats.timepoints],
    }


def instrument_to_dict(inst: Instrument) -> dict[str, Any]:
    """Everything a form needs to render the instrument, plus its licence and scoring rule."""
    items = []
    for item in inst.items:
        entry: dict[str, Any] = {
            "key": item.key,
            "text": item.text,
            "prefix": item.prefix,
            "kind": item.kind.value,
            "required": item.required,
        }
        if item.kind is ItemKind.CHOICE:
            entry["choices"] = [{"code": c.code, "label": c.label} for c in item.choices]
        elif item.kind is ItemKind.INTEGER:
            entry.update(
                minimum=item.minimum,
                maximum=item.maximum,
                min_label=item.min_label,
                max_label=item.max_label,
                unit=item.unit,
            )
        else:
            entry["max_length"] = item.max_length
        items.append(entry)
    return {
        "key": inst.key,
        "name": inst.name,
        "version": inst.version,
        "description": inst.description,
        "when": inst.when.value,
        "recall": inst.recall,
        "scoring": inst.scoring,
        "source": inst.source,
        "patient_notice": inst.patient_notice,
        "licence": {
            "name": inst.licence.name,
            "holder": inst.licence.holder,
            "terms": inst.licence.terms,
            "url": inst.licence.url,
            "clinic_must_check": inst.licence.clinic_must_check,
        },
        "items": items,
    }


def course_to_dict(course: PatientCourse) -> dict[str, Any]:
    return {
        "subject": course.subject,
        "procedure": course.procedure,
        "measures": {
            key: {
                "label": MEASURE_BY_KEY[key].label,
                "change_from_baseline": course.change(key),
                "points": [
                    {
                        "timepoint": p.timepoint,
                        "days_from_baseline": p.days_from_baseline,
                        "collected_on": p.collected_on.isoformat() if p.collected_on else None,
                        "value": p.value,
                    }
                    for p in points
                ],
            }
            for key, points in course.measures.items()
        },
        "side_effects": [
            {
                "timepoint": s.timepoint,
                "days_from_baseline": s.days_from_baseline,
                "effects": list(s.effects),
                "review": list(s.review),
            }
            for s in course.side_effects
        ],
    }
