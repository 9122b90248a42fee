"""The patient's opioid status is a record (issue 9): set when the patient is added or by a
recorded, audited change, shown on the patient, and read by the program review to select the
starting range; never a field sent with the program."""

from __future__ import annotations

from sqlalchemy import select

from intrathecal.store.models import AuditEntry
from tests.web.conftest import Clinic


def test_opioid_status_is_recorded_audited_and_shown(clinic: Clinic) -> None:
    created = clinic.client.post(
        "/api/v1/patients",
        json={"mrn": "OS-1", "name": "Opioid Status", "birth_date": "1960-01-02", "sex": "other"},
        headers=clinic.headers("physician"),
    )
    assert created.status_code == 201, created.text
    patient = created.json()["patient"]
    assert patient["opioid_status"] is None  # not stated: the review uses the naive range
    changed = clinic.client.post(
        f"/api/v1/patients/{patient['id']}/opioid-status",
        json={"opioid_status": "tolerant", "reason": "oral morphine 90 mg/day for 4 weeks"},
        headers=clinic.headers("physician"),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["patient"]["opioid_status"] == "tolerant"
    shown = clinic.client.get(
        f"/api/v1/patients/{patient['id']}", headers=clinic.headers("nurse")
    ).json()
    assert shown["patient"]["opioid_status"] == "tolerant"
    with clinic.sessions() as session:
        entry = session.execute(
            select(AuditEntry)
            .where(AuditEntry.action == "patient.opioid_status")
            .where(AuditEntry.target == f"patient:{patient['id']}")
        ).scalar_one()
    assert '"from":null' in entry.detail_json and '"to":"tolerant"' in entry.detail_json


def test_opioid_status_refuses_anything_but_naive_or_tolerant(clinic: Clinic) -> None:
    answer = clinic.client.post(
        "/api/v1/patients/1/opioid-status",
        json={"opioid_status": "very tolerant", "reason": "x"},
        headers=clinic.headers("physician"),
    )
    assert answer.status_code == 422
    assert "opioid_status" in answer.text
    without_reason = clinic.client.post(
        "/api/v1/patients/1/opioid-status",
        json={"opioid_status": "naive"},
        headers=clinic.headers("physician"),
    )
    assert without_reason.status_code == 422 and "reason" in without_reason.text
