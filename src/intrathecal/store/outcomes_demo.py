"""Demo questionnaires for the demo clinic: baseline and follow-ups, some never answered.

Deterministic (its own random stream, so the rest of the demo stays as it was) and invented:
pump patients answer at baseline (a week before their trial) and 1, 3, 6 and 12 months later;
patients not on the pump journey had a facet joint or epidural injection with 2-week and
3-month follow-ups. Patients doing badly skip follow-ups more often, as in real registries,
so the two denominators of every share differ. Every visit goes through ``add_visit``
(validated and audited like a clinician's entry).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intrathecal.outcomes.instruments import REVIEW_SIDE_EFFECTS, SIDE_EFFECT_LABELS
from intrathecal.outcomes.records import Answer
from intrathecal.store.models import OutcomeResponse, Patient, Stage, Trial
from intrathecal.store.outcomes import Visit, add_visit

# (time point, days after the procedure it follows) per procedure.
PUMP_FOLLOW_UPS = (("1 month", 30), ("3 months", 90), ("6 months", 180), ("12 months", 365))
INJECTION_FOLLOW_UPS = (("2 weeks", 14), ("3 months", 90))
SKIP = {"good": 0.1, "partial": 0.2, "poor": 0.45}  # chance of not answering a follow-up


def _clip(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _promis(
    rng: random.Random, base: dict[str, int] | None, shift: int, pain: int
) -> dict[str, int]:
    keys = [f"global0{n}" for n in (1, 2, 3, 4, 5, 6)] + ["global08r", "global09r", "global10r"]
    if base is None:
        answers = {k: rng.choice((1, 2, 2, 3, 3)) for k in keys}
    else:
        answers = {k: _clip(base[k] + shift + rng.choice((-1, 0, 0, 0)), 1, 5) for k in keys}
    answers["global07r"] = pain
    return answers


def _side_effects(rng: random.Random) -> dict[str, Answer]:
    answers: dict[str, Answer] = {
        key: int(rng.random() < (0.03 if key in REVIEW_SIDE_EFFECTS else 0.12))
        for key in SIDE_EFFECT_LABELS
    }
    answers["other"] = ""
    return answers


def _course(
    session: Session,
    rng: random.Random,
    patient: Patient,
    procedure: str,
    baseline_on: date,
    follow_ups: tuple[tuple[str, int], ...],
    offset_days: int,
    today: date,
) -> int:
    """Baseline and every follow-up due by ``today`` (some skipped); returns responses stored."""
    profile = rng.choices(("good", "partial", "poor"), weights=(60, 25, 15))[0]
    pain0 = rng.randint(6, 9)
    promis0 = _promis(rng, None, 0, pain0)
    visits = [
        Visit(
            procedure,
            "baseline",
            baseline_on,
            {"nrs-pain": {"pain": pain0}, "promis-global-10": promis0},
        )
    ]
    for label, days in follow_ups:
        on = baseline_on + timedelta(days=offset_days + days + rng.randint(0, min(10, days // 3)))
        if on > today or rng.random() < SKIP[profile]:
            continue
        if profile == "good":
            drop, pgic, percent, shift = rng.randint(3, 6), rng.choice((1, 2, 2, 3)), 60, 1
        elif profile == "partial":
            drop, pgic, percent, shift = rng.randint(1, 3), rng.choice((2, 3, 3, 4)), 30, 0
        else:
            drop, pgic, percent, shift = rng.randint(-1, 1), rng.choice((3, 4, 4, 5, 6)), 5, 0
        pain = _clip(pain0 - drop, 0, 10)
        visits.append(
            Visit(
                procedure,
                label,
                on,
                {
                    "nrs-pain": {"pain": pain},
                    "pgic": {"change": pgic},
                    "percent-improvement": {
                        "percent": _clip(percent + rng.randint(-15, 25), 0, 100)
                    },
                    "promis-global-10": _promis(rng, promis0, shift, pain),
                    "side-effects": _side_effects(rng),
                },
            )
        )
    stored = 0
    for visit in visits:
        at = datetime.combine(visit.collected_on, time(11, 0), UTC)
        entered_by = "patient" if rng.random() < 0.4 else "staff"
        actor = "nurse" if entered_by == "staff" else "patient link (demo)"
        stored += len(add_visit(session, patient, visit, actor, at, entered_by=entered_by))
    return stored


def seed_outcomes(session: Session, now: datetime, seed: int) -> int:
    """Questionnaires for the seeded patients; returns the number of responses stored."""
    rng = random.Random(seed + 6)  # issue 6: a stream of its own
    today = now.date()
    first_trials = select(Trial.patient_id, func.min(Trial.performed_on)).group_by(Trial.patient_id)
    trials: dict[int, date] = {pid: on for pid, on in session.execute(first_trials)}
    stored = 0
    injections = 0
    # The demo patients (MRN1000xx), not a bulk load-test clinic's (B...), none answered yet.
    answered = select(OutcomeResponse.id).where(OutcomeResponse.patient_id == Patient.id)
    demo = select(Patient).where(Patient.mrn.like("MRN%"), ~answered.exists())
    for patient in session.execute(demo.order_by(Patient.id)).scalars():
        trial_on = trials.get(patient.id)
        if patient.stage in (Stage.IMPLANTED.value, Stage.TRIAL.value) and trial_on:
            baseline_on = min(trial_on - timedelta(days=rng.randint(3, 10)), today)
            # Time points count from the baseline (issue 13: each has a window of days).
            offset = 0
            stored += _course(
                session,
                rng,
                patient,
                "intrathecal-pump",
                baseline_on,
                PUMP_FOLLOW_UPS,
                offset,
                today,
            )
        else:
            procedure = ("facet-joint-injection", "epidural-injection")[injections % 2]
            injections += 1
            baseline_on = today - timedelta(days=rng.randint(60, 420))
            stored += _course(
                session, rng, patient, procedure, baseline_on, INJECTION_FOLLOW_UPS, 0, today
            )
    return stored
