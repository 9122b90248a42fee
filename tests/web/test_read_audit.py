"""Every read of patient data is audited (issue 10, item 7): each GET route of the app that takes
a patient_id writes a "chart.read" entry naming the reader and the patient, found by walking
the app's routes so that a new route cannot forget; searches are audited with their query."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from intrathecal.store import audit, records, users
from intrathecal.store.models import AuditEntry, Patient, Refill, Stage
from intrathecal.web.app import create_app
from tests.store.audit_attacker import tamper
from tests.store.conftest import NOW
from tests.web.conftest import Clinic


def get_routes_with_a_patient(app: FastAPI) -> list[str]:
    paths = set()
    for route in iter_route_contexts(app.routes):
        methods = getattr(route, "methods", None) or set()
        path = str(getattr(route, "path", ""))
        if "GET" in methods and "{patient_id}" in path:
            paths.add(path)
    return sorted(paths)


def entries_for(clinic: Clinic, patient_id: int) -> list[AuditEntry]:
    with clinic.sessions() as session:
        return list(
            session.execute(
                select(AuditEntry)
                .where(AuditEntry.target == f"patient:{patient_id}")
                .order_by(AuditEntry.seq)
            ).scalars()
        )


def a_patient_with_refills(clinic: Clinic) -> tuple[int, int]:
    with clinic.sessions() as session:
        row = session.execute(
            select(Refill.patient_id, func.max(Refill.id))
            .join(Patient, Patient.id == Refill.patient_id)
            .where(Patient.stage == Stage.IMPLANTED.value)
            .group_by(Refill.patient_id)
            .order_by(Refill.patient_id)
        ).first()
        assert row is not None
        return int(row[0]), int(row[1])


def test_every_get_route_with_a_patient_audits_the_read(clinic: Clinic) -> None:
    app = clinic.client.app
    assert isinstance(app, FastAPI)
    routes = get_routes_with_a_patient(app)
    # The walk finds the routes this issue named (so it is not vacuously empty).
    assert {
        "/api/v1/patients/{patient_id}/programs",
        "/api/v1/patients/{patient_id}/refills",
        "/patients/{patient_id}/reservoir.svg",
        "/patients/{patient_id}/program",
        "/patients/{patient_id}/refill",
        "/patients/{patient_id}/report.pdf",
    } <= set(routes)
    patient_id, refill_id = a_patient_with_refills(clinic)
    for path in routes:
        url = path.format(patient_id=patient_id, refill_id=refill_id)
        before = len(entries_for(clinic, patient_id))
        answer = clinic.client.get(url, headers=clinic.headers("physician"))
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        new = entries_for(clinic, patient_id)[before:]
        assert new, f"GET {path} read patient data without an audit entry"
        assert all(e.actor == "physician" and e.action == "chart.read" for e in new), path


def test_read_audit_names_what_was_read(clinic: Clinic) -> None:
    patient_id, refill_id = a_patient_with_refills(clinic)
    clinic.client.get(
        f"/api/v1/patients/{patient_id}/refills/{refill_id}", headers=clinic.headers("nurse")
    )
    last = entries_for(clinic, patient_id)[-1]
    assert (last.actor, json.loads(last.detail_json)) == (
        "nurse",
        {"read": "refill", "refill": refill_id},
    )


def test_read_audit_of_a_missing_patient_is_404_and_writes_nothing(clinic: Clinic) -> None:
    with clinic.sessions() as session:
        before = session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    for url in ("/api/v1/patients/99999/programs", "/patients/99999/doses.svg"):
        answer = clinic.client.get(url, headers=clinic.headers("physician"))
        assert answer.status_code == 404
    with clinic.sessions() as session:
        after = session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    assert after == before


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/api/v1/patients?q=MRN1&limit=5", {"read": "patients", "q": "MRN1", "stage": ""}),
        ("/patients?q=Okafor", {"read": "patient list", "q": "Okafor"}),
        # The worklists and the calendar show patients' names and due dates: reads too.
        ("/api/v1/dashboard", {"read": "dashboard worklists"}),
        ("/", {"read": "dashboard worklists"}),
        ("/api/v1/calendar?days=7", {"read": "refill calendar", "days": 7}),
        ("/calendar", {"read": "refill calendar"}),
    ],
)
def test_read_audit_of_a_search_keeps_its_query(
    clinic: Clinic, url: str, expected: dict[str, Any]
) -> None:
    answer = clinic.client.get(url, headers=clinic.headers("viewer"))
    assert answer.status_code == 200
    with clinic.sessions() as session:
        last = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc())).scalars().first()
    assert last is not None
    assert (last.actor, last.action, last.target) == ("viewer", "patients.search", "patients")
    assert expected.items() <= json.loads(last.detail_json).items()


def test_read_audit_leaves_the_chain_intact(clinic: Clinic) -> None:
    with clinic.sessions() as session:
        assert audit.verify(session).ok


def test_a_broken_audit_head_stops_reads_with_503_not_500(tmp_path: Path) -> None:
    app = create_app(f"sqlite:///{tmp_path / 'clinic.db'}", clock=lambda: NOW)
    with app.state.sessions.begin() as session:
        users.create_user(session, "doc", "Dr Doc", "physician", "a-long-passphrase-1", NOW, "t")
        row = Patient(mrn="Z1", name="Zed", birth_date=date(1970, 1, 1), sex="male")
        row.created_at = NOW
        records.add(session, row, "t", NOW, "patient.create")
    client = TestClient(app)
    token = client.post(
        "/api/v1/auth/sign-in", json={"username": "doc", "password": "a-long-passphrase-1"}
    ).json()["token"]
    with app.state.sessions.begin() as session:
        tamper(session, "UPDATE audit_head SET seq = seq - 1")
        assert session.execute(text("SELECT seq FROM audit_head")).scalar_one() >= 1
    answer = client.get("/api/v1/patients/1/programs", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 503
    assert answer.json()["errors"][0]["field"] == "audit"
    app.state.engine.dispose()
