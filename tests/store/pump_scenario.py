"""A scenario patient with a virtual pump that agrees with the records (numbers worked by hand).

Implanted and filled 30 days before ``NOW`` with 20 mL of morphine 10 mg/mL at 1 mg/day, i.e.
0.1 mL/day: at ``NOW`` 30 x 0.1 = 3 mL has been delivered and 17 mL is left.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from intrathecal.library import default_library
from intrathecal.safety.review import Acknowledgement
from intrathecal.store import programs, records, refills
from intrathecal.store.demo_pumps import create_pump
from intrathecal.store.models import Implant, Patient
from tests.store.conftest import NOW

FILLED_AT = NOW - timedelta(days=30)
RATE_ML_PER_DAY = 0.1  # 1 mg/day / 10 mg/mL


def morphine_program(
    concentration: str, device: str = "synchromed-ii-20", alarm: str = "4 mL"
) -> str:
    return f"""device = "{device}"
catheter_volume = "0.2 mL"
low_reservoir_alarm = "{alarm}"

[[drugs]]
name = "morphine"
concentration = "{concentration}"

[[basal]]
start = "00:00"
dose = "1 mg/day"
"""


def sign(session: Session, patient: Patient, text: str, reason: str) -> None:
    """Sign a version as the physician would, acknowledging any soft finding."""
    at = FILLED_AT if programs.latest(session, patient.id) is None else NOW - timedelta(days=2)
    _, result = programs.review_for_patient(session, patient, text, (), at)
    acks = tuple(Acknowledgement(f.code, "physician", "scenario") for f in result.unacknowledged)
    latest = programs.latest(session, patient.id)
    draft = programs.Draft(text, reason, latest.version if latest else None, acks)
    programs.save_version(session, patient, draft, "physician", at)


def pump_patient(
    session: Session,
    pumps: Path | None,
    mrn: str,
    *,
    stronger_signed: bool = False,
    name: str = "",
) -> Patient:
    """The scenario patient (serial ``P{mrn}``), and its pump under ``pumps`` if given.

    ``stronger_signed``: version 2 (20 mg/mL, the same dose) is signed, not yet in the pump.
    """
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
        device_key="synchromed-ii-20",
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
    text = morphine_program("10 mg/mL")
    sign(session, patient, text, "initial program after implant")
    first = refills.RefillRequest(
        fill_ml=20.0, performed_at=FILLED_AT, program_version=1, readback=text
    )
    refills.save(session, patient, first, "nurse")
    if pumps is not None:
        create_pump(pumps, session, implant, NOW, default_library())
    if stronger_signed:
        sign(session, patient, morphine_program("20 mg/mL"), "stronger solution, same dose")
    session.flush()
    return patient
