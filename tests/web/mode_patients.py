"""A patient with an implant of a chosen device and, if given, a signed first program: for the
editor's mode tests (web and browser), without seeding a clinic."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from intrathecal.store import records
from intrathecal.store.models import Implant, Patient
from tests.store.pump_scenario import FILLED_AT, sign

# Prometra II, periodic flow: 0.5 mg morphine at 08:00 and 20:00 over 30 min, 10 mg/mL.
PROMETRA_PERIODIC = """name = "periodic flow"
device = "prometra-ii-20"
mode = "periodic-flow"
catheter_volume = "0.2 mL"
low_reservoir_alarm = "3 mL"

[[drugs]]
name = "morphine"
concentration = "10 mg/mL"

[[periodic_bolus]]
start = "08:00"
dose = "0.5 mg"
duration = "30 min"

[[periodic_bolus]]
start = "20:00"
dose = "0.5 mg"
duration = "30 min"
"""


def device_patient(
    session: Session, mrn: str, device_key: str, program: str | None, name: str = ""
) -> Patient:
    """Patient ``mrn`` implanted with ``device_key`` (serial ``P{mrn}``); ``program`` signed as
    version 1 when given."""
    patient = Patient(
        mrn=mrn,
        name=name or f"Pat {mrn}",
        birth_date=date(1968, 5, 17),
        sex="female",
        created_at=FILLED_AT - timedelta(days=60),
    )
    records.add(session, patient, "physician", patient.created_at, "patient.create")
    implant = Implant(
        patient_id=patient.id,
        device_key=device_key,
        serial=f"P{mrn}",
        reservoir_ml=0,
        catheter_length_cm=70.0,
        catheter_volume_ml=0,
        tip_level="T10",
        setting="outpatient",
        implanted_at=FILLED_AT,
        replace_by=FILLED_AT,
        recorded_by="physician",
        recorded_at=FILLED_AT,
    )
    records.add_implant(session, patient, implant, "physician", FILLED_AT)
    if program is not None:
        sign(session, patient, program, "initial program after implant")
    session.flush()
    return patient
