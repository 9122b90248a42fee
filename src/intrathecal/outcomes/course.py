"""One patient's course through a procedure: each measure over time, for a clinician to follow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from intrathecal.outcomes.instruments import SIDE_EFFECT_LABELS
from intrathecal.outcomes.records import Response
from intrathecal.outcomes.timepoints import procedure_key
from intrathecal.outcomes.validation import check_subject, validate_responses
from intrathecal.units import InputError


@dataclass(frozen=True)
class Measure:
    key: str
    instrument: str
    score: str
    label: str
    low: int
    high: int
    higher_is_better: bool


MEASURES: tuple[Measure, ...] = (
    Measure("pain", "nrs-pain", "pain", "Pain, NRS 0-10 (lower is better)", 0, 10, False),
    Measure(
        "physical_function",
        "promis-global-10",
        "physical_function",
        "Everyday physical function, PROMIS Global06 1-5 (higher is better)",
        1,
        5,
        True,
    ),
    Measure(
        "quality_of_life",
        "promis-global-10",
        "quality_of_life",
        "Quality of life, PROMIS Global02 1-5 (higher is better)",
        1,
        5,
        True,
    ),
    Measure(
        "global_physical_health_raw",
        "promis-global-10",
        "global_physical_health_raw",
        "PROMIS Global Physical Health, raw 4-20 (higher is better)",
        4,
        20,
        True,
    ),
    Measure(
        "global_mental_health_raw",
        "promis-global-10",
        "global_mental_health_raw",
        "PROMIS Global Mental Health, raw 4-20 (higher is better)",
        4,
        20,
        True,
    ),
    Measure("pgic", "pgic", "pgic", "PGIC 1-7 (1 = very much improved)", 1, 7, False),
    Measure(
        "percent_improvement",
        "percent-improvement",
        "percent_improvement",
        "Percent improvement 0-100% (higher is better)",
        0,
        100,
        True,
    ),
    Measure(
        "mas",
        "modified-ashworth",
        "mas",
        "Modified Ashworth, code 0-5 for grades 0, 1, 1+, 2, 3, 4 (lower is better)",
        0,
        5,
        False,
    ),
    Measure(
        "psfs_frequency",
        "penn-spasm",
        "psfs_frequency",
        "Penn Spasm Frequency 0-4 (lower is better)",
        0,
        4,
        False,
    ),
)
MEASURE_BY_KEY = {m.key: m for m in MEASURES}


@dataclass(frozen=True)
class CoursePoint:
    timepoint: str
    days_from_baseline: int
    collected_on: date | None
    value: float


@dataclass(frozen=True)
class SideEffectPoint:
    timepoint: str
    days_from_baseline: int
    collected_on: date | None
    effects: tuple[str, ...]  # labels of the effects answered 'Yes'
    review: tuple[str, ...]  # answers flagged for clinician review


@dataclass(frozen=True)
class PatientCourse:
    subject: str
    procedure: str
    measures: Mapping[str, tuple[CoursePoint, ...]]  # measure key -> points, earliest first
    side_effects: tuple[SideEffectPoint, ...]

    def series(self, key: str) -> tuple[CoursePoint, ...]:
        return self.measures.get(key, ())

    def change(self, key: str) -> float | None:
        """Latest value minus the baseline value, or None without both."""
        points = self.series(key)
        baseline = [p for p in points if p.days_from_baseline == 0]
        later = [p for p in points if p.days_from_baseline > 0]
        if not baseline or not later:
            return None
        return later[-1].value - baseline[0].value


def patient_course(
    responses: Sequence[Response], subject: str, procedure: str, episode: int | None = None
) -> PatientCourse:
    """The measures of one patient's responses to one procedure, in time order.

    Only that patient's responses to that procedure are read (and validated). A repeated
    procedure has episodes, each with its own baseline: name one when there are several.
    """
    subject = check_subject(subject, "subject")
    procedure = procedure_key(procedure)
    mine = [
        r for r in responses if (r.subject.strip(), r.procedure.strip()) == (subject, procedure)
    ]
    if not mine:
        raise InputError("subject", f"no responses for {subject} and {procedure}")
    episodes = sorted({r.episode for r in mine})
    if episode is None and len(episodes) > 1:
        raise InputError(
            "episode",
            f"{subject} has {len(episodes)} episodes of {procedure} "
            f"({', '.join(map(str, episodes))}): choose one",
        )
    if episode is not None:
        mine = [r for r in mine if r.episode == episode]
        if not mine:
            raise InputError(
                "episode",
                f"{subject} has no episode {episode} of {procedure}; "
                f"episodes: {', '.join(map(str, episodes))}",
            )
    checked = sorted(
        validate_responses(mine),
        key=lambda c: (c.response.days_from_baseline, c.timepoint),
    )
    measures: dict[str, list[CoursePoint]] = {m.key: [] for m in MEASURES}
    effects: list[SideEffectPoint] = []
    for c in checked:
        r = c.response
        for m in MEASURES:
            if m.instrument == r.instrument and m.score in c.scored.scores:
                measures[m.key].append(
                    CoursePoint(
                        c.timepoint.label,
                        r.days_from_baseline,
                        r.collected_on,
                        float(c.scored.scores[m.score]),
                    )
                )
        if r.instrument == "side-effects":
            effects.append(
                SideEffectPoint(
                    c.timepoint.label,
                    r.days_from_baseline,
                    r.collected_on,
                    tuple(
                        label
                        for key, label in SIDE_EFFECT_LABELS.items()
                        if r.answers.get(key) == 1
                    ),
                    c.scored.review,
                )
            )
    return PatientCourse(
        subject=subject,
        procedure=procedure,
        measures={k: tuple(v) for k, v in measures.items() if v},
        side_effects=tuple(effects),
    )
