"""The JSON API: every endpoint against every role, bad input, conflicts, sign-in rules."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from intrathecal.store.models import (
    AdverseEvent,
    Implant,
    Patient,
    ProgramVersion,
    Refill,
    Stage,
    Trial,
)
from intrathecal.web.permissions import PERMISSIONS
from tests.web.conftest import Clinic

ROLES = ("physician", "nurse", "pharmacist", "viewer", "admin")
P = "{patient}"  # an implanted patient's id is put in at run time
T = "{trial}"  # a patient after a trial, before an implant

# Every endpoint with a valid body and the permission it needs.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("GET", "/api/v1/me", None, "account.self"),
    ("GET", "/api/v1/sessions", None, "users.manage"),
    ("GET", "/api/v1/dashboard", None, "dashboard.read"),
    ("GET", "/api/v1/calendar", None, "dashboard.read"),
    ("GET", "/api/v1/patients", None, "chart.read"),
    (
        "POST",
        "/api/v1/patients",
        {"mrn": "X{n}", "name": "New Patient", "birth_date": "1970-01-01", "sex": "female"},
        "patient.write",
    ),
    ("GET", f"/api/v1/patients/{P}", None, "chart.read"),
    ("POST", f"/api/v1/patients/{P}/indications", {"condition": "cancer pain"}, "patient.write"),
    (
        "POST",
        f"/api/v1/patients/{P}/opioid-status",
        {"opioid_status": "tolerant", "reason": "oral morphine 90 mg/day for a month"},
        "patient.write",
    ),
    (
        "POST",
        f"/api/v1/patients/{P}/prior-treatments",
        {"medication": "oxycodone", "dose": "40 mg/day", "outcome": "sedation"},
        "patient.write",
    ),
    (
        "POST",
        f"/api/v1/patients/{P}/evaluations",
        {"kind": "MRI", "performed_on": "2026-02-01", "result": "no contraindication"},
        "patient.write",
    ),
    (
        "POST",
        f"/api/v1/patients/{P}/trials",
        {
            "performed_on": "2026-02-01",
            "drug": "morphine",
            "dose": "0.25 mg",
            "mode": "single bolus",
            "pain_before": 8,
            "pain_after": 3,
            "decision": "implant",
        },
        "patient.write",
    ),
    (
        "POST",
        f"/api/v1/patients/{T}/implants",
        {
            "device": "synchromed-ii-20",
            "serial": "SN{n}",
            "catheter_length": "70 cm",
            "tip_level": "T10",
            "setting": "inpatient",
            "implanted_at": "2026-02-01T10:00:00Z",
        },
        "patient.write",
    ),
    (
        "POST",
        f"/api/v1/patients/{P}/adverse-events",
        {
            "kind": "CSF leak",
            "occurred_on": "2026-02-01",
            "serious": False,
            "description": "headache",
        },
        "adverse_event.write",
    ),
    (
        "POST",
        f"/api/v1/patients/{P}/appointments",
        {"kind": "refill", "starts_at": "2026-03-10T09:00:00Z"},
        "appointment.write",
    ),
    (
        "POST",
        f"/api/v1/patients/{P}/alarms",
        {"kind": "low reservoir", "message": "beep"},
        "alarm.write",
    ),
    ("GET", f"/api/v1/patients/{P}/programs", None, "chart.read"),
    ("POST", f"/api/v1/patients/{P}/programs/review", {"program_toml": "{toml}"}, "program.review"),
    ("POST", f"/api/v1/patients/{P}/programs/1/apply", {}, "program.apply"),
    ("GET", f"/api/v1/patients/{P}/refills", None, "chart.read"),
    (
        "POST",
        f"/api/v1/patients/{P}/refills/preview",
        {"fill": "20 mL", "withdrawn": "5 mL"},
        "refill.perform",
    ),
    (
        "POST",
        "/api/v1/compounding/recipe",
        {
            "concentrations": {"morphine": "10 mg/mL"},
            "stocks": {"morphine": "25 mg/mL"},
            "fill": "20 mL",
        },
        "compounding.calculate",
    ),
    ("GET", "/api/v1/users", None, "users.manage"),
    ("GET", "/api/v1/audit", None, "audit.read"),
    ("GET", "/api/v1/audit/verify", None, "audit.read"),
    ("GET", "/api/v1/outcomes/instruments", None, "outcomes.read"),
    ("GET", "/api/v1/outcomes/statistics", None, "outcomes.read"),
    ("GET", f"/api/v1/patients/{P}/outcomes", None, "outcomes.read"),
    (
        "POST",
        f"/api/v1/patients/{P}/outcomes/links",
        {"procedure": "spinal-cord-stimulator", "timepoint": "baseline"},
        "outcomes.write",
    ),
]
# Saving endpoints (sign a program, save a refill, create a user) have their own tests below;
# here each is checked for refusal by role only.
DENY_ONLY: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "POST",
        f"/api/v1/patients/{P}/programs",
        {"program_toml": "x", "reason": "x", "replaces_version": 1},
        "program.sign",
    ),
    (
        "POST",
        f"/api/v1/patients/{P}/refills",
        {"fill": "20 mL", "follows_refill_id": None},
        "refill.perform",
    ),
    ("POST", f"/api/v1/patients/{P}/refills/1/void", {"reason": "x"}, "refill.void"),
    # Voids of the other records (their own tests: tests/web/test_record_voids.py).
    ("POST", f"/api/v1/patients/{P}/indications/1/void", {"reason": "x"}, "patient.write"),
    ("POST", f"/api/v1/patients/{P}/prior-treatments/1/void", {"reason": "x"}, "patient.write"),
    ("POST", f"/api/v1/patients/{P}/evaluations/1/void", {"reason": "x"}, "patient.write"),
    ("POST", f"/api/v1/patients/{P}/trials/1/void", {"reason": "x"}, "patient.write"),
    ("POST", f"/api/v1/patients/{P}/implants/1/void", {"reason": "x"}, "patient.write"),
    ("POST", f"/api/v1/patients/{P}/alarms/1/void", {"reason": "x"}, "alarm.write"),
    ("POST", f"/api/v1/patients/{P}/appointments/1/void", {"reason": "x"}, "appointment.write"),
    (
        "POST",
        f"/api/v1/patients/{P}/adverse-events/1/void",
        {"reason": "x"},
        "adverse_event.write",
    ),
    (
        "POST",
        "/api/v1/users",
        {"username": "zz", "full_name": "Z", "role": "viewer", "password": "long-enough-1"},
        "users.manage",
    ),
    ("POST", f"/api/v1/patients/{P}/alarms/1/clear", {}, "alarm.write"),
    ("POST", f"/api/v1/patients/{P}/alarms/1/acknowledge", {}, "alarm.write"),
    ("POST", "/api/v1/users/1/deactivate", {}, "users.manage"),
    ("POST", "/api/v1/users/1/activate", {}, "users.manage"),
    ("POST", "/api/v1/users/1/role", {"role": "viewer"}, "users.manage"),
    ("POST", "/api/v1/users/1/password", {"password": "x"}, "users.manage"),
    ("POST", "/api/v1/users/1/end-sessions", {}, "users.manage"),
    (
        "POST",
        f"/api/v1/patients/{P}/outcomes",
        {"procedure": "spinal-cord-stimulator", "timepoint": "baseline", "answers": {}},
        "outcomes.write",
    ),
    # A bolus between refills (its own tests: tests/web/test_bolus_page.py).
    (
        "POST",
        f"/api/v1/patients/{P}/boluses",
        {
            "key": "e" * 32,
            "kind": "clinician",
            "volume": "0.04 mL",
            "duration": "30 min",
            "reason": "x",
            "in_force_version": 1,
        },
        "program.apply",
    ),
]


def implanted_id(clinic: Clinic) -> int:
    """The first patient with a program (implanted in the seed)."""
    with clinic.sessions() as session:
        return session.execute(select(func.min(ProgramVersion.patient_id))).scalar_one()


def stage_id(clinic: Clinic, stage: Stage) -> int:
    with clinic.sessions() as session:
        return (
            session.execute(
                select(Patient.id).where(Patient.stage == stage.value).order_by(Patient.id)
            )
            .scalars()
            .first()
        )  # type: ignore[return-value]


def current_toml(clinic: Clinic, patient_id: int) -> tuple[str, int]:
    with clinic.sessions() as session:
        row = (
            session.execute(
                select(ProgramVersion)
                .where(ProgramVersion.patient_id == patient_id)
                .order_by(ProgramVersion.version.desc())
            )
            .scalars()
            .first()
        )
        assert row is not None
        return row.program_toml, row.version


def fill_in(clinic: Clinic, path: str, body: dict[str, Any] | None, n: int) -> tuple[str, Any]:
    pid = implanted_id(clinic)
    path = path.replace(P, str(pid)).replace(T, str(stage_id(clinic, Stage.TRIAL)))
    if body is not None:
        body = {k: (v.replace("{n}", str(n)) if isinstance(v, str) else v) for k, v in body.items()}
        if body.get("program_toml") == "{toml}":
            body["program_toml"] = current_toml(clinic, pid)[0]
    return path, body


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "path", "body", "permission"),
    ENDPOINTS,
    ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS],
)
def test_role_by_endpoint(
    clinic: Clinic,
    role: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    permission: str,
) -> None:
    url, payload = fill_in(clinic, path, body, hash((role, path)) % 10**6)
    answer = clinic.client.request(method, url, json=payload, headers=clinic.headers(role))
    if role in PERMISSIONS[permission]:
        assert answer.status_code < 300, answer.text
    else:
        assert answer.status_code == 403, answer.text
        assert answer.json()["errors"][0]["field"] == "role"


# Only the roles each saving endpoint must refuse: the allowed roles save through the
# endpoint's own tests, with data that makes sense for them.
DENIED_SAVES = [
    (role, *endpoint)
    for endpoint in DENY_ONLY
    for role in ROLES
    if role not in PERMISSIONS[endpoint[3]]
]


@pytest.mark.parametrize(
    ("role", "method", "path", "body", "permission"),
    DENIED_SAVES,
    ids=[f"{m} {p}-{r}" for r, m, p, _, _ in DENIED_SAVES],
)
def test_role_denied_on_saving_endpoints(
    clinic: Clinic, role: str, method: str, path: str, body: dict[str, Any], permission: str
) -> None:
    assert role not in PERMISSIONS[permission]
    url, payload = fill_in(clinic, path, body, 0)
    answer = clinic.client.request(method, url, json=payload, headers=clinic.headers(role))
    assert answer.status_code == 403


def test_every_api_route_is_in_the_role_table(clinic: Clinic) -> None:
    schema = clinic.client.get("/api/v1/openapi.json").json()
    listed = {
        (m, p.replace(P, "{patient_id}").replace(T, "{patient_id}"))
        for m, p, _, _ in ENDPOINTS + DENY_ONLY
    }
    listed = {
        (
            m,
            p.replace("/refills/1/void", "/refills/{refill_id}/void")
            .replace("/1/void", "/{record_id}/void")
            .replace("/programs/1/", "/programs/{version}/")
            .replace("/alarms/1/", "/alarms/{alarm_id}/")
            .replace("/refills/1/", "/refills/{refill_id}/")
            .replace("/users/1/", "/users/{user_id}/"),
        )
        for m, p in listed
    }
    listed |= {
        ("POST", "/api/v1/auth/sign-in"),
        ("POST", "/api/v1/auth/sign-out"),
        ("GET", "/api/v1/patients/{patient_id}/refills/{refill_id}"),
    }
    routes = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert routes <= listed, routes - listed


def test_unauthenticated_api_calls_get_401(clinic: Clinic) -> None:
    assert clinic.client.get("/api/v1/dashboard").status_code == 401


def count(clinic: Clinic, model: type) -> int:
    with clinic.sessions() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


BAD_INPUT = [
    # (path, body, field named, model that must not grow)
    (f"/api/v1/patients/{P}/refills", {"fill": "20 mg", "withdrawn": "3 mL"}, "fill", Refill),
    (f"/api/v1/patients/{P}/refills", {"fill": 20, "withdrawn": "3 mL"}, "fill", Refill),
    (f"/api/v1/patients/{P}/refills", {"fill": "-2 mL", "withdrawn": "3 mL"}, "fill", Refill),
    (f"/api/v1/patients/{P}/refills", {"fill": "90 mL", "withdrawn": "3 mL"}, "fill", Refill),
    (f"/api/v1/patients/{P}/refills", {"withdrawn": "3 mL"}, "fill", Refill),
    (f"/api/v1/patients/{P}/refills", {"fill": "20 mL"}, "withdrawn", Refill),
    (
        f"/api/v1/patients/{P}/refills",
        {"fill": "20 mL", "withdrawn": "3 mL", "stocks": {"morphine": "25 mg"}},
        "stocks.morphine",
        Refill,
    ),
    (
        "/api/v1/patients",
        {"mrn": "Q1", "birth_date": "1970-01-01", "sex": "female"},
        "name",
        Patient,
    ),
    (
        "/api/v1/patients",
        {"mrn": "Q1", "name": "x", "birth_date": "2999-01-01", "sex": "female"},
        "birth_date",
        Patient,
    ),
    (
        f"/api/v1/patients/{P}/trials",
        {
            "performed_on": "2026-02-01",
            "drug": "morphine",
            "dose": "0.25 mL",
            "mode": "single bolus",
            "pain_before": 8,
            "pain_after": 3,
            "decision": "implant",
        },
        "dose",
        Trial,
    ),
    (
        f"/api/v1/patients/{P}/trials",
        {
            "performed_on": "2026-02-01",
            "drug": "morphine",
            "dose": "0.25 mg",
            "mode": "single bolus",
            "pain_before": 11,
            "pain_after": 3,
            "decision": "implant",
        },
        "pain_before",
        Trial,
    ),
    (
        f"/api/v1/patients/{P}/trials",
        {
            "performed_on": "2026-02-01",
            "drug": "aspirin",
            "dose": "0.25 mg",
            "mode": "single bolus",
            "pain_before": 8,
            "pain_after": 3,
            "decision": "implant",
        },
        "drug",
        Trial,
    ),
    (
        f"/api/v1/patients/{P}/implants",
        {
            "device": "synchromed-ii-20",
            "serial": "S1",
            "catheter_length": "70 mL",
            "tip_level": "T10",
            "setting": "inpatient",
            "implanted_at": "2026-02-01T10:00:00Z",
        },
        "catheter_length",
        Implant,
    ),
    (
        f"/api/v1/patients/{P}/implants",
        {
            "device": "no-such-pump",
            "serial": "S1",
            "catheter_length": "70 cm",
            "tip_level": "T10",
            "setting": "inpatient",
            "implanted_at": "2026-02-01T10:00:00Z",
        },
        "device",
        Implant,
    ),
    (
        f"/api/v1/patients/{P}/adverse-events",
        {"kind": "sunburn", "occurred_on": "2026-02-01", "serious": False, "description": "x"},
        "kind",
        AdverseEvent,
    ),
    (
        f"/api/v1/patients/{P}/programs",
        {
            "program_toml": "device = 'synchromed-ii-20'",
            "reason": "x",
            "replaces_version": None,
            "extra": 1,
        },
        "extra",
        ProgramVersion,
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "field", "model"), BAD_INPUT, ids=[f"{b}-{f}" for _, b, f, _ in BAD_INPUT]
)
def test_bad_input_is_422_naming_the_field_and_nothing_is_stored(
    clinic: Clinic, path: str, body: dict[str, Any], field: str, model: type
) -> None:
    url, _ = fill_in(clinic, path, None, 0)
    if url.endswith("/refills"):  # the refill it follows, so that the field tested is the one
        last = clinic.client.get(f"{url}?limit=1", headers=clinic.headers("physician"))
        body = {"follows_refill_id": last.json()["items"][0]["id"], **body}
    before = count(clinic, model)
    answer = clinic.client.post(url, json=body, headers=clinic.headers("physician"))
    assert answer.status_code == 422, answer.text
    fields = [e["field"] for e in answer.json()["errors"]]
    assert field in fields, fields
    assert count(clinic, model) == before


def test_program_sign_conflict_over_http_tells_the_second_writer(clinic: Clinic) -> None:
    pid = implanted_id(clinic)
    text, version = current_toml(clinic, pid)
    review = clinic.client.post(
        f"/api/v1/patients/{pid}/programs/review",
        json={"program_toml": text},
        headers=clinic.headers("physician"),
    ).json()
    acks = [{"code": c, "why": "reviewed"} for c in review["unacknowledged"]]
    body = {
        "program_toml": text,
        "reason": "r",
        "replaces_version": version,
        "acknowledgements": acks,
    }
    first = clinic.client.post(
        f"/api/v1/patients/{pid}/programs", json=body, headers=clinic.headers("physician")
    )
    assert first.status_code == 201, first.text
    second = clinic.client.post(
        f"/api/v1/patients/{pid}/programs", json=body, headers=clinic.headers("physician")
    )
    assert second.status_code == 409
    assert second.json()["current_version"] == version + 1
    assert current_toml(clinic, pid)[1] == version + 1


def test_hard_limit_over_http_is_422_and_names_the_finding(clinic: Clinic) -> None:
    pid = implanted_id(clinic)
    text, version = current_toml(clinic, pid)
    heavy = text.replace('dose = "', 'dose = "9', 1)  # e.g. 1 mg/day -> 91 mg/day
    answer = clinic.client.post(
        f"/api/v1/patients/{pid}/programs",
        json={"program_toml": heavy, "reason": "r", "replaces_version": version},
        headers=clinic.headers("physician"),
    )
    assert answer.status_code == 422, answer.text
    assert any(f["severity"] == "hard" for f in answer.json()["findings"])
    assert current_toml(clinic, pid)[1] == version


def test_refill_over_http_is_stored_with_reconciliation(clinic: Clinic) -> None:
    pid = implanted_id(clinic)
    before = count(clinic, Refill)
    last = clinic.client.get(
        f"/api/v1/patients/{pid}/refills?limit=1", headers=clinic.headers("nurse")
    ).json()["items"][0]["id"]
    cosign = {
        "follows_refill_id": last,
        "investigate_reason": "residual re-aspirated",
        "cosigner": "physician",
        "cosigner_password": "amber-harbor-lantern-51",
    }
    answer = clinic.client.post(
        f"/api/v1/patients/{pid}/refills",
        json={
            **cosign,
            "fill": "20 mL",
            "withdrawn": "6 mL",
            "stocks": {
                "morphine": "25 mg/mL",
                "baclofen": "2000 mcg/mL",
                "hydromorphone": "10 mg/mL",
                "ziconotide": "100 mcg/mL",
                "bupivacaine": "7.5 mg/mL",
                "clonidine": "500 mcg/mL",
            },
        },
        headers=clinic.headers("nurse"),
    )
    if answer.status_code == 422:  # a 40 mL pump: refill to its own volume
        answer = clinic.client.post(
            f"/api/v1/patients/{pid}/refills",
            json={**cosign, "fill": "40 mL", "withdrawn": "6 mL"},
            headers=clinic.headers("nurse"),
        )
    assert answer.status_code == 201, answer.text
    refill = answer.json()["refill"]
    assert refill["withdrawn_ml"] == 6.0
    assert refill["expected_residual_ml"] is not None
    assert count(clinic, Refill) == before + 1


def test_cookie_session_needs_the_csrf_token(clinic: Clinic) -> None:
    client = clinic.client
    signed = client.post(
        "/api/v1/auth/sign-in", json={"username": "nurse", "password": "quiet-meadow-compass-27"}
    )
    csrf = signed.json()["csrf_token"]
    assert "httponly" in signed.headers["set-cookie"].lower()
    assert "samesite=strict" in signed.headers["set-cookie"].lower()
    pid = implanted_id(clinic)
    body = {"kind": "low reservoir", "message": "x"}
    try:
        assert client.post(f"/api/v1/patients/{pid}/alarms", json=body).status_code == 403
        ok = client.post(
            f"/api/v1/patients/{pid}/alarms", json=body, headers={"X-CSRF-Token": csrf}
        )
        assert ok.status_code == 201
    finally:
        client.cookies.clear()


def test_repeated_failed_sign_ins_slow_down(clinic: Clinic) -> None:
    codes = [
        clinic.client.post(
            "/api/v1/auth/sign-in", json={"username": "viewer", "password": "wrong-password"}
        ).status_code
        for _ in range(5)
    ]
    # Three free failures, then each further attempt must wait (429 with Retry-After).
    assert codes[:3] == [401, 401, 401]
    assert 429 in codes[3:]
    refused = clinic.client.post(
        "/api/v1/auth/sign-in", json={"username": "viewer", "password": "gentle-river-pebble-64"}
    )
    assert refused.status_code == 429  # even the right password waits: no guessing race
    assert int(refused.headers["retry-after"]) >= 1


def test_pagination(clinic: Clinic) -> None:
    first = clinic.client.get("/api/v1/patients?limit=5", headers=clinic.headers("viewer")).json()
    second = clinic.client.get(
        "/api/v1/patients?limit=5&offset=5", headers=clinic.headers("viewer")
    ).json()
    assert first["total"] == 20 + count(clinic, Patient) - 20
    assert first["next_offset"] == 5
    assert {p["id"] for p in first["items"]}.isdisjoint({p["id"] for p in second["items"]})
    assert (
        clinic.client.get(
            "/api/v1/patients?limit=1000", headers=clinic.headers("viewer")
        ).status_code
        == 422
    )


def test_chart_reads_are_audited(clinic: Clinic) -> None:
    pid = implanted_id(clinic)
    clinic.client.get(f"/api/v1/patients/{pid}", headers=clinic.headers("viewer"))
    entries = clinic.client.get("/api/v1/audit?limit=5", headers=clinic.headers("admin")).json()
    assert any(
        e["action"] == "chart.read" and e["actor"] == "viewer" and e["target"] == f"patient:{pid}"
        for e in entries["items"]
    )
    assert clinic.client.get("/api/v1/audit/verify", headers=clinic.headers("admin")).json()[
        "intact"
    ]


def test_readme_role_table_is_the_generated_one() -> None:
    from pathlib import Path

    from intrathecal.web.permissions import role_table

    manual = (Path(__file__).resolve().parents[2] / "docs" / "clinic.md").read_text()
    assert role_table() in manual


def test_every_api_route_declares_its_answer_and_its_errors(clinic: Clinic) -> None:
    schema = clinic.client.get("/api/v1/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            answers = operation["responses"]
            ok = next(code for code in answers if code.startswith("2"))
            declared = answers[ok]["content"]["application/json"]["schema"]
            assert "$ref" in declared, where  # a named response model, not "any object"
            signed_in = path != "/api/v1/auth/sign-in"
            expected = {"422"} | ({"401", "403"} if signed_in else {"401", "429"})
            if "{" in path:
                expected.add("404")
            assert expected <= set(answers), (where, expected - set(answers))
            for code in expected:
                error = answers[code]["content"]["application/json"]["schema"]
                assert error == {"$ref": "#/components/schemas/ErrorAnswer"}, where
