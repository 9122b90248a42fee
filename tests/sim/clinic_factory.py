"""A small clinic with hand-chosen due dates and fills, written row by row (no seed), so the
forecasts' answers can be worked out by hand."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from intrathecal.store.db import open_database
from intrathecal.store.models import (
    Implant,
    Patient,
    ProgramApplication,
    ProgramVersion,
    Refill,
    Stage,
)

MORPHINE_20 = """device = "synchromed-ii-20"
catheter_volume = "0.19 mL"
low_reservoir_alarm = "2 mL"
[[drugs]]
name = "morphine"
concentration = "{conc}"
[[basal]]
start = "00:00"
dose = "3 mg/day"
"""


@dataclass
class Record:
    mrn: str
    due_at: datetime
    interval_days: float
    fill_ml: float = 20.0
    concentrations: dict[str, float] = field(default_factory=lambda: {"morphine": 10_000.0})
    recipe: dict[str, object] = field(default_factory=dict)
    replace_by: datetime = datetime(2032, 1, 1, tzinfo=UTC)
    program: str = MORPHINE_20.format(conc="10 mg/mL")
    # A program applied after the fill without a refill: (days after the fill, program text).
    applied: tuple[float, str] | None = None


def make_clinic(url: str, records: list[Record]) -> None:
    engine, sessions = open_database(url)
    at = datetime(2025, 12, 1, tzinfo=UTC)
    with sessions.begin() as session:
        for n, r in enumerate(records):
            patient = Patient(
                mrn=r.mrn,
                name=f"Patient {r.mrn}",
                birth_date=date(1960, 1, 1),
                sex="F",
                created_at=at,
                stage=Stage.IMPLANTED.value,
                next_refill_due_at=r.due_at,
            )
            session.add(patient)
            session.flush()
            implant = Implant(
                patient_id=patient.id,
                device_key="synchromed-ii-20",
                serial=f"SN{n:05d}",
                reservoir_ml=20.0,
                catheter_length_cm=50.0,
                catheter_volume_ml=0.19,
                tip_level="T10",
                setting="outpatient",
                implanted_at=at,
                replace_by=r.replace_by,
                recorded_by="test",
                recorded_at=at,
            )
            session.add(implant)
            session.flush()
            version = ProgramVersion(
                patient_id=patient.id,
                implant_id=implant.id,
                version=1,
                program_toml=r.program,
                reason="test",
                findings_json="[]",
                acknowledgements_json="[]",
                daily_doses_json="{}",
                signed_by="test",
                signed_at=at,
            )
            session.add(version)
            session.flush()
            filled = r.due_at - timedelta(days=r.interval_days)
            session.add(
                Refill(
                    patient_id=patient.id,
                    implant_id=implant.id,
                    program_version_id=version.id,
                    performed_at=filled,
                    performed_by="test",
                    via="typed in",
                    fill_ml=r.fill_ml,
                    concentrations_json=json.dumps(r.concentrations),
                    recipe_json=json.dumps(r.recipe),
                    next_due_at=r.due_at,
                    low_alarm_at=r.due_at,
                    limited_by="volume",
                    recorded_at=filled,
                )
            )
            if r.applied is not None:
                days, text = r.applied
                newer = ProgramVersion(
                    patient_id=patient.id,
                    implant_id=implant.id,
                    version=2,
                    replaces_version=1,
                    program_toml=text,
                    reason="dose raised",
                    findings_json="[]",
                    acknowledgements_json="[]",
                    daily_doses_json="{}",
                    signed_by="test",
                    signed_at=filled + timedelta(days=days),
                )
                session.add(newer)
                session.flush()
                session.add(
                    ProgramApplication(
                        patient_id=patient.id,
                        program_version_id=newer.id,
                        applied_by="test",
                        applied_at=filled + timedelta(days=days),
                        via="typed in",
                        readback_matches=True,
                    )
                )
    engine.dispose()
