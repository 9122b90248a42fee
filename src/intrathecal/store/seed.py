"""A demo clinic (patients at every stage of the journey) and a large one for load tests.

Deterministic: a fixed random seed and times relative to ``now``. Every seeded program is parsed
and reviewed by the same code as a clinician's (``parse_program``, the program review); the demo
physician acknowledges its soft findings with the reason "demo data". The large clinic is
written with bulk inserts from a few precomputed programs so 10,000 patients and 300,000
refills take seconds, not hours.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from intrathecal.clinical.journey_limits import ASHWORTH_GRADES
from intrathecal.clinical.reconcile import reconcile
from intrathecal.clinical.refill import plan
from intrathecal.library import default_library
from intrathecal.safety.review import Acknowledgement
from intrathecal.store import audit, programs, records, refills, users
from intrathecal.store.models import (
    ADVERSE_EVENT_KINDS,
    INDICATIONS,
    AdverseEvent,
    Alarm,
    Appointment,
    Evaluation,
    Implant,
    Indication,
    Patient,
    PriorTreatment,
    ProgramApplication,
    ProgramVersion,
    Refill,
    Role,
    Stage,
    Trial,
    User,
)
from intrathecal.store.outcomes_demo import seed_outcomes
from intrathecal.store.types import utc_from_s
from intrathecal.therapy.program import Program
from intrathecal.therapy.summary import summarize

DEMO_SEED = 20260105
SEEDER = "seed"

# Demo accounts, one per role; printed by `make run`. Demo only: change them for real use.
DEMO_USERS: tuple[tuple[str, str, str, str], ...] = (
    ("physician", "Dr Ada Okafor", Role.PHYSICIAN.value, "amber-harbor-lantern-51"),
    ("nurse", "Nurse Ben Lindqvist", Role.NURSE.value, "quiet-meadow-compass-27"),
    ("pharmacist", "Pharm. Chloe Martin", Role.PHARMACIST.value, "silver-orchard-kettle-83"),
    ("viewer", "Dana Viewer", Role.VIEWER.value, "gentle-river-pebble-64"),
    ("admin", "Eli Admin", Role.ADMIN.value, "copper-window-falcon-19"),
)

INVESTIGATED = "needle position confirmed and residual re-aspirated; refill goes ahead"

FIRST = (
    "Alex",
    "Sam",
    "Jordan",
    "Maria",
    "Ahmed",
    "Li",
    "Priya",
    "John",
    "Olga",
    "Kofi",
    "Ines",
    "Tomasz",
    "Yuki",
    "Fatima",
    "Lars",
    "Grace",
    "Diego",
    "Hana",
    "Omar",
    "Ruth",
)
LAST = (
    "Smith",
    "Garcia",
    "Nguyen",
    "Müller",
    "Kowalski",
    "Okafor",
    "Rossi",
    "Haddad",
    "Andersen",
    "Tanaka",
    "Brown",
    "Silva",
    "Cohen",
    "Ivanova",
    "Mensah",
    "Dubois",
)
ORAL = (
    ("oral morphine", "60 mg/day"),
    ("oxycodone", "40 mg/day"),
    ("gabapentin", "1800 mg/day"),
    ("pregabalin", "300 mg/day"),
    ("duloxetine", "60 mg/day"),
    ("oral baclofen", "60 mg/day"),
    ("tizanidine", "24 mg/day"),
    ("amitriptyline", "50 mg/day"),
)
OUTCOMES = (
    "inadequate relief",
    "sedation",
    "constipation and nausea",
    "confusion",
    "inadequate relief at the highest tolerated dose",
)
SPASTIC = {i for i in INDICATIONS if i.startswith("spasticity")}
ASHWORTH = ASHWORTH_GRADES
TIP_LEVELS = ("T8", "T9", "T10", "T11", "T12", "C5", "C6")


@dataclass(frozen=True)
class Template:
    """A program family: device, admixture and a daily dose ladder (first drug) to titrate."""

    device: str
    drugs: tuple[tuple[str, str], ...]  # (drug, concentration)
    doses: tuple[str, ...]  # successive daily doses of the first drug
    demand: str = ""  # demand bolus dose of the first drug, or ""


PAIN_TEMPLATES = (
    Template(
        "synchromed-ii-20",
        (("morphine", "10 mg/mL"),),
        ("1 mg/day", "1.2 mg/day", "1.4 mg/day", "1.6 mg/day"),
        "0.1 mg",
    ),
    Template(
        "synchromed-ii-40",
        (("morphine", "10 mg/mL"), ("bupivacaine", "3 mg/mL")),
        ("2 mg/day", "2.4 mg/day", "2.8 mg/day"),
    ),
    Template(
        "synchromed-ii-20",
        (("hydromorphone", "2 mg/mL"),),
        ("0.15 mg/day", "0.18 mg/day", "0.2 mg/day"),
        "0.02 mg",
    ),
    Template(  # Prialt's labelling names the SynchroMed pumps
        "synchromed-ii-20",
        (("ziconotide", "25 mcg/mL"),),
        ("2.4 mcg/day", "3 mcg/day", "3.6 mcg/day"),
    ),
    Template(
        "prometra-ii-40",
        (("morphine", "10 mg/mL"), ("clonidine", "150 mcg/mL")),
        ("1 mg/day", "1.2 mg/day", "1.4 mg/day"),
    ),
)
SPASTICITY_TEMPLATES = (
    Template(
        "synchromed-ii-20",
        (("baclofen", "500 mcg/mL"),),
        ("100 mcg/day", "110 mcg/day", "120 mcg/day", "130 mcg/day"),
    ),
    Template(
        "synchromed-ii-40",
        (("baclofen", "1000 mcg/mL"),),
        ("200 mcg/day", "220 mcg/day", "240 mcg/day"),
    ),
)


def program_text(
    template: Template, dose: str, alarm: str = "4 mL", catheter: str = "0.2 mL"
) -> str:
    lines = [
        f'device = "{template.device}"',
        f'catheter_volume = "{catheter}"',
        f'low_reservoir_alarm = "{alarm}"',
        "",
    ]
    for name, concentration in template.drugs:
        lines += ["[[drugs]]", f'name = "{name}"', f'concentration = "{concentration}"', ""]
    lines += ["[[basal]]", 'start = "00:00"', f'dose = "{dose}"', ""]
    if template.demand:
        lines += [
            "[demand_bolus]",
            f'dose = "{template.demand}"',
            'duration = "10 min"',
            'lockout = "4 h"',
            "max_per_24h = 3",
            "",
        ]
    return "\n".join(lines)


def ensure_users(session: Session, now: datetime) -> list[tuple[str, str, str]]:
    """Create the demo users that do not exist yet; return (username, role, password)."""
    existing = set(session.execute(select(User.username)).scalars())
    for username, full_name, role, password in DEMO_USERS:
        if username not in existing:
            users.create_user(session, username, full_name, role, password, now, SEEDER)
    return [(u, r, p) for u, _, r, p in DEMO_USERS]


def is_empty(session: Session) -> bool:
    return session.execute(select(func.count()).select_from(Patient)).scalar_one() == 0


def _patient(rng: random.Random, index: int, now: datetime) -> Patient:
    return Patient(
        mrn=f"MRN{100000 + index}",
        name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        birth_date=date(rng.randint(1940, 2000), rng.randint(1, 12), rng.randint(1, 28)),
        sex=rng.choice(("female", "male")),
        created_at=now,
        stage=Stage.REFERRED.value,
    )


def seed_demo(
    session: Session, patients: int = 50, seed: int = DEMO_SEED, now: datetime | None = None
) -> dict[str, int]:
    """Seed a demo clinic of ``patients`` patients at every stage. The caller commits."""
    now = now or datetime.now().astimezone()
    rng = random.Random(seed)
    ensure_users(session, now)
    counts = {"patients": 0, "implanted": 0, "refills": 0, "program_versions": 0}
    for index in range(patients):
        # Stages in proportion: about half implanted, the rest along the way.
        bucket = index % 10
        patient = _patient(rng, index, now - timedelta(days=900))
        session.add(patient)
        session.flush()
        counts["patients"] += 1
        indication = rng.choice(INDICATIONS[:-1])
        session.add(
            Indication(
                patient_id=patient.id,
                condition=indication,
                detail="",
                recorded_at=patient.created_at,
            )
        )
        for medication, dose in rng.sample(ORAL, 2):
            session.add(
                PriorTreatment(
                    patient_id=patient.id,
                    medication=medication,
                    dose=dose,
                    outcome=rng.choice(OUTCOMES),
                    recorded_at=patient.created_at,
                )
            )
        if bucket == 0:
            continue  # referred: nothing else yet
        start = (
            now - timedelta(days=rng.randint(400, 800))
            if bucket >= 4
            else now - timedelta(days=rng.randint(5, 60))
        )
        for kind in rng.sample(
            ["MRI", "EMG/nerve testing", "X-ray", "bone scan", "diagnostic injection"], 2
        ):
            records.add_evaluation(
                session,
                patient,
                Evaluation(
                    patient_id=patient.id,
                    kind=kind,
                    performed_on=start.date(),
                    result=f"findings consistent with {indication}; no contraindication",
                    recorded_by="physician",
                    recorded_at=start,
                ),
                SEEDER,
                start,
            )
        if bucket == 1:
            continue  # evaluation under way
        spastic = indication in SPASTIC
        trial_at = start + timedelta(days=21)
        decision = "no implant" if bucket == 3 else "implant"
        before = rng.randint(6, 9)
        after = before - (1 if decision == "no implant" else rng.randint(3, 6))
        records.add_trial(
            session,
            patient,
            Trial(
                patient_id=patient.id,
                performed_on=trial_at.date(),
                drug="baclofen" if spastic else "morphine",
                dose_mcg=50.0 if spastic else 250.0,
                mode=rng.choice(("single bolus", "continuous")),
                # Baclofen trials are measured in spasticity (Ashworth grade, Penn spasms).
                pain_before=None if spastic else before,
                pain_after=None if spastic else max(after, 0),
                ashworth_before=ASHWORTH[min(before - 4, 5)] if spastic else None,
                ashworth_after=ASHWORTH[max(min(after - 4, 5), 0)] if spastic else None,
                spasms_before=min(before - 5, 4) if spastic else None,
                spasms_after=max(min(after - 5, 4), 0) if spastic else None,
                side_effects=rng.choice(("none", "mild nausea", "pruritus", "none")),
                decision=decision,
                recorded_by="physician",
                recorded_at=trial_at,
            ),
            SEEDER,
            trial_at,
        )
        if bucket in (2, 3):
            continue  # trial done, awaiting implant or not a candidate
        _implanted(session, rng, patient, spastic, trial_at + timedelta(days=30), now, counts)
        counts["implanted"] += 1
    counts["outcome_responses"] = seed_outcomes(session, now, seed)
    audit.record(session, now, SEEDER, "seed.demo", "clinic", counts)
    session.flush()
    return counts


def _ack_all(
    session: Session, patient: Patient, text: str, now: datetime, refill_at: datetime | None = None
) -> tuple[Acknowledgement, ...]:
    _, result = programs.review_for_patient(session, patient, text, (), now, None, refill_at)
    return tuple(Acknowledgement(f.code, "physician", "demo data") for f in result.unacknowledged)


def _aligned_fill(program: Program, fill: float, at: datetime, now: datetime) -> float:
    """A fill that runs to the low-reservoir alarm three days after ``now`` when a full one would
    last beyond this week (a partial fill, as clinics use to align visits); else ``fill``."""
    target_days = (now + timedelta(days=3) - at).total_seconds() / 86_400
    full = plan(program, fill, at.timestamp())
    if full.refill_due_at_s <= (now + timedelta(days=7)).timestamp() or target_days < 14:
        return fill
    rate = summarize(program).worst_case_volume_ml_per_day
    partial = round(program.low_reservoir_alarm_ml + rate * target_days, 1)
    return min(partial, fill)


def _implanted(
    session: Session,
    rng: random.Random,
    patient: Patient,
    spastic: bool,
    implanted_at: datetime,
    now: datetime,
    counts: dict[str, int],
) -> None:
    template = rng.choice(SPASTICITY_TEMPLATES if spastic else PAIN_TEMPLATES)
    device = default_library().device(template.device)
    # A few patients are on their second pump (the first reached its end of service).
    old_pump = rng.random() < 0.12
    if old_pump:
        first = Implant(
            patient_id=patient.id,
            device_key=template.device,
            serial=f"OLD{patient.id:06d}",
            reservoir_ml=0,
            catheter_length_cm=0,
            catheter_volume_ml=0,
            tip_level=rng.choice(TIP_LEVELS),
            setting="inpatient",
            implanted_at=implanted_at - timedelta(days=device.service_life_days.value),
            replace_by=implanted_at,
            recorded_by="physician",
            recorded_at=implanted_at,
        )
        first.catheter_length_cm = 75.0
        records.add_implant(session, patient, first, SEEDER, implanted_at)
    implant = Implant(
        patient_id=patient.id,
        device_key=template.device,
        serial=f"NGP{patient.id:06d}",
        reservoir_ml=0,
        catheter_length_cm=rng.choice((60.0, 70.0, 80.0)),
        catheter_volume_ml=0,
        tip_level=rng.choice(TIP_LEVELS),
        setting=rng.choice(("inpatient", "outpatient")),
        implanted_at=implanted_at,
        replace_by=implanted_at,
        recorded_by="physician",
        recorded_at=implanted_at,
    )
    # Near end of service for some: implanted long ago (their replacement is on the dashboard).
    if rng.random() < 0.1:
        implant.implanted_at = now - timedelta(days=device.service_life_days.value - 60)
        implanted_at = max(implanted_at, implant.implanted_at)
    records.add_implant(session, patient, implant, SEEDER, implanted_at)
    step = 0
    text = program_text(template, template.doses[0])
    version = programs.save_version(
        session,
        patient,
        programs.Draft(
            text,
            "initial program after implant",
            None,
            _ack_all(session, patient, text, implanted_at),
        ),
        "physician",
        implanted_at,
    )
    counts["program_versions"] += 1
    fill = device.reservoir_ml.value
    at = implanted_at
    refill = refills.save(
        session,
        patient,
        refills.RefillRequest(
            fill_ml=fill,
            performed_at=at,
            program_version=version.version,
            readback=text,
            via="typed in",
            notes="first fill at implant",
        ),
        "nurse",
    )
    counts["refills"] += 1
    overdue = rng.random() < 0.1
    # Every sixth implanted patient is due this week (a partial last fill aligns the date), so
    # the demo's "due this week" worklist is never empty whatever the other draws give.
    due_soon = not overdue and counts["implanted"] % 6 == 0
    while True:
        due = refill.next_due_at
        at = due - timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 6))
        if at > now or refill.fill_ml < fill:
            break  # the next visit is ahead, or the last fill was the aligning partial one
        # An overdue patient missed the visit that would have kept them in time.
        if overdue and at + (due - refill.performed_at) > now - timedelta(days=3):
            break
        # Titrate upward now and then, within the template's ladder.
        if step + 1 < len(template.doses) and rng.random() < 0.3:
            step += 1
            text = program_text(template, template.doses[step])
            # The refill comes forward to the day after the titration: booked, it is the
            # refill the review of the new program counts on (a record, not a typed date).
            session.add(
                Appointment(
                    patient_id=patient.id,
                    kind="refill",
                    starts_at=at,
                    note="refill brought forward with the titration",
                    booked_by="nurse",
                    booked_at=at - timedelta(days=1),
                )
            )
            version = programs.save_version(
                session,
                patient,
                programs.Draft(
                    text,
                    "titration: pain not controlled",
                    version.version,
                    _ack_all(session, patient, text, at - timedelta(days=1)),
                ),
                "physician",
                at - timedelta(days=1),
            )
            counts["program_versions"] += 1
        run = programs.parse(session.get(ProgramVersion, refill.program_version_id).program_toml)  # type: ignore[union-attr]
        expected = reconcile(
            run, refill.fill_ml, refill.performed_at.timestamp(), 0.0, at.timestamp()
        ).expected_ml
        withdrawn = max(expected + rng.gauss(0, 0.15), 0.0)
        if rng.random() < 0.04:
            withdrawn = max(expected - 2.5, 0.0)  # a discrepancy to investigate
        this_fill = _aligned_fill(programs.parse(text), fill, at, now) if due_soon else fill
        refill = refills.save(
            session,
            patient,
            refills.RefillRequest(
                fill_ml=this_fill,
                performed_at=at,
                withdrawn_ml=round(withdrawn, 1),
                program_version=version.version,
                readback=text,
                via="typed in",
                stocks_mcg_per_ml=dict(refills.TYPICAL_STOCK_MCG_PER_ML),
                # Used only when the reconciliation says INVESTIGATE (the demo's 4%).
                investigate_reason=INVESTIGATED,
                cosigner="physician",
                cosigner_password=DEMO_USERS[0][3],
            ),
            "nurse",
        )
        counts["refills"] += 1
    # One truth (issue 11, item 9): a pump alarm is on record only when the pump is in alarm,
    # i.e. its reservoir reached the alarm volume (its virtual pump, demo_pumps.py, says so
    # too), and it was raised then. The draw stays so the rest of the demo is unchanged.
    _ = overdue or rng.random() < 0.2
    if refill.low_alarm_at <= now:
        session.add(
            Alarm(
                patient_id=patient.id,
                kind="low reservoir",
                message="low-reservoir alarm reported by the pump",
                source="pump",
                raised_at=refill.low_alarm_at,
                cleared_at=None,
                cleared_by=None,
            )
        )
    if rng.random() < 0.25:
        kind = rng.choice(tuple(k for k in ADVERSE_EVENT_KINDS if k != "other"))
        session.add(
            AdverseEvent(
                patient_id=patient.id,
                kind=kind,
                occurred_on=(implanted_at + timedelta(days=40)).date(),
                serious=kind in {"granuloma", "overdose", "withdrawal"},
                description=f"{kind} after implant",
                action="managed per protocol",
                recorded_by="physician",
                recorded_at=implanted_at,
            )
        )
    session.add(
        Appointment(
            patient_id=patient.id,
            kind="refill",
            starts_at=refill.next_due_at - timedelta(days=2),
            note="refill visit",
            booked_by="nurse",
            booked_at=refill.performed_at,  # booked at the fill, for the next one
        )
    )


# --- the large clinic for the load benchmark ------------------------------------------------


def seed_bulk(  # noqa: PLR0915 (one flat loop building rows)
    session: Session,
    patients: int = 10_000,
    refills_total: int = 300_000,
    seed: int = DEMO_SEED,
    now: datetime | None = None,
    batch: int = 20_000,
) -> dict[str, int]:
    """Seed ``patients`` implanted patients with ``refills_total`` refills by bulk insert.

    Programs come from the demo templates, each parsed, reviewed and planned once; refill rows
    follow from the planned interval (expected residual = fill - mean daily volume x days, the
    withdrawn volume near it). The caller commits.
    """
    now = now or datetime.now().astimezone()
    rng = random.Random(seed)
    ensure_users(session, now)
    start_id = (session.execute(select(func.max(Patient.id))).scalar() or 0) + 1
    per_patient = max(refills_total // patients, 1)
    prepared = []
    for template in (*PAIN_TEMPLATES, *SPASTICITY_TEMPLATES):
        text = program_text(template, template.doses[0])
        program = programs.parse(text)
        summary = summarize(program)
        fill = program.device.reservoir_ml.value
        due = plan(program, fill, 0.0)
        prepared.append((template, text, program, summary, fill, due))
    patient_rows: list[dict[str, Any]] = []
    implant_rows: list[dict[str, Any]] = []
    version_rows: list[dict[str, Any]] = []
    application_rows: list[dict[str, Any]] = []
    refill_rows: list[dict[str, Any]] = []
    start_implant = (session.execute(select(func.max(Implant.id))).scalar() or 0) + 1
    start_version = (session.execute(select(func.max(ProgramVersion.id))).scalar() or 0) + 1
    # Explicit refill ids, so that each refill names the one it follows.
    next_refill = (session.execute(select(func.max(Refill.id))).scalar() or 0) + 1
    inserted = {"patients": 0, "program_versions": 0, "refills": 0}

    def flush() -> None:
        for model, rows in (
            (Patient, patient_rows),
            (Implant, implant_rows),
            (ProgramVersion, version_rows),
            (ProgramApplication, application_rows),
            (Refill, refill_rows),
        ):
            if rows:
                session.execute(insert(model), rows)
                rows.clear()

    for offset in range(patients):
        pid, iid, vid = start_id + offset, start_implant + offset, start_version + offset
        template, text, program, summary, fill, due = prepared[offset % len(prepared)]
        interval = (due.refill_due_at_s - due.filled_at_s) * rng.uniform(0.85, 0.98)
        first_at = (
            now - timedelta(seconds=interval * per_patient) + timedelta(days=rng.uniform(-10, 10))
        )
        patient = _patient(rng, pid, first_at)
        row = {c: getattr(patient, c) for c in ("mrn", "name", "birth_date", "sex", "created_at")}
        row["mrn"] = f"B{pid:07d}"
        last_at = first_at + timedelta(seconds=interval * (per_patient - 1))
        next_due = last_at + timedelta(seconds=due.refill_due_at_s - due.filled_at_s)
        low = last_at + timedelta(seconds=due.low_reservoir_alarm_at_s - due.filled_at_s)
        patient_rows.append(
            {
                **row,
                "id": pid,
                "stage": Stage.IMPLANTED.value,
                "next_refill_due_at": next_due,
                "low_alarm_at": low,
            }
        )
        implant_rows.append(
            {
                "id": iid,
                "patient_id": pid,
                "device_key": template.device,
                "serial": f"B{pid:08d}",
                "reservoir_ml": fill,
                "catheter_length_cm": 70.0,
                "catheter_volume_ml": program.catheter_volume_ml,
                "tip_level": "T10",
                "setting": "outpatient",
                "implanted_at": first_at,
                "replace_by": first_at + timedelta(days=program.device.service_life_days.value),
                "replaces_implant_id": None,
                "recorded_by": SEEDER,
                "recorded_at": first_at,
            }
        )
        version_rows.append(
            {
                "id": vid,
                "patient_id": pid,
                "implant_id": iid,
                "version": 1,
                "replaces_version": None,
                "program_toml": text,
                "reason": "initial program",
                "findings_json": "[]",
                "acknowledgements_json": "[]",
                "daily_doses_json": json.dumps(summary.doses_mcg_per_day),
                "signed_by": "physician",
                "signed_at": first_at,
            }
        )
        application_rows.append(
            {
                "patient_id": pid,
                "program_version_id": vid,
                "applied_by": "nurse",
                "applied_at": first_at,
                "via": "typed in",
                "readback_matches": True,
                "readback": "",
            }
        )
        concentrations = json.dumps(
            {i.drug.key: i.concentration_mcg_per_ml for i in program.ingredients}
        )
        for k in range(per_patient):
            refill_id, next_refill = next_refill, next_refill + 1
            at = first_at + timedelta(seconds=interval * k)
            expected = fill - summary.mean_volume_ml_per_day * interval / 86_400 if k else None
            withdrawn = round(expected + rng.gauss(0, 0.15), 2) if expected is not None else None
            refill_rows.append(
                {
                    "id": refill_id,
                    "follows_refill_id": refill_id - 1 if k else None,
                    "recorded_at": at,
                    "patient_id": pid,
                    "implant_id": iid,
                    "program_version_id": vid,
                    "performed_at": at,
                    "performed_by": "nurse",
                    "via": "typed in",
                    "previous_fill_ml": fill if k else None,
                    "expected_residual_ml": expected,
                    "withdrawn_ml": withdrawn,
                    "discrepancy_ml": (withdrawn - expected)
                    if expected is not None and withdrawn is not None
                    else None,
                    "investigate": False,
                    "reconciliation_json": "{}",
                    "fill_ml": fill,
                    "concentrations_json": concentrations,
                    "recipe_json": "{}",
                    "bridge_json": "{}",
                    "next_due_at": at + timedelta(seconds=due.refill_due_at_s - due.filled_at_s),
                    "low_alarm_at": at
                    + timedelta(seconds=due.low_reservoir_alarm_at_s - due.filled_at_s),
                    "limited_by": due.limited_by.value,
                    "notes": "",
                }
            )
        inserted["patients"] += 1
        inserted["program_versions"] += 1  # the audit log accounts for every version stored
        inserted["refills"] += per_patient
        if len(refill_rows) >= batch:
            flush()
    flush()
    if session.get_bind().dialect.name == "postgresql":
        # Explicit ids leave PostgreSQL's sequences behind; move them past the rows written.
        for table in ("patients", "implants", "program_versions", "refills"):
            session.execute(
                sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
    audit.record(session, now, SEEDER, "seed.bulk", "clinic", inserted)
    return inserted


def utc(seconds: float) -> datetime:
    return utc_from_s(seconds)
