"""Issue 10 item 6 over HTTP, on SQLite and PostgreSQL: any clinical record of a patient is
voided by a correction record (who, when by the server's clock, why) through
``POST /api/v1/patients/{id}/<collection>/{record_id}/void`` or the chart's Void form; the record
stays, marked, and the dashboard, the current implant and the chart follow the void."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from intrathecal.store import programs, records
from intrathecal.store.models import AuditEntry, RecordVoid
from intrathecal.web.api.routes import VOIDS
from tests.store.conftest import NOW
from tests.web.conftest import Clinic
from tests.web.test_pages import signed_in
from tests.web.test_record_integrity import implanted

# A valid body for adding one record of each kind, and who may add (and so void) it.
ADD: dict[str, tuple[dict[str, Any], str]] = {
    "indication": ({"condition": "other", "detail": "typed in the wrong chart"}, "physician"),
    "prior-treatment": (
        {"medication": "oxycodone", "dose": "40 mg/day", "outcome": "sedation"},
        "physician",
    ),
    "evaluation": (
        {"kind": "MRI", "performed_on": "2026-02-01", "result": "no contraindication"},
        "physician",
    ),
    "trial": (
        {
            "performed_on": "2026-02-01",
            "drug": "morphine",
            "dose": "0.25 mg",
            "mode": "single bolus",
            "pain_before": 8,
            "pain_after": 3,
            "decision": "implant",
        },
        "physician",
    ),
    "implant": (
        {
            "device": "synchromed-ii-20",
            "serial": "VOID-{pid}",
            "catheter_length": "70 cm",
            "tip_level": "T10",
            "setting": "inpatient",
            "implanted_at": "2026-02-01T10:00:00Z",
        },
        "physician",
    ),
    "alarm": ({"kind": "other", "message": "typed for the wrong patient"}, "nurse"),
    "appointment": ({"kind": "follow-up", "starts_at": "2026-03-10T09:00:00Z"}, "nurse"),
    "adverse-event": (
        {
            "kind": "CSF leak",
            "occurred_on": "2026-02-01",
            "serious": False,
            "description": "headache",
        },
        "nurse",
    ),
}
ANSWER_KEY = {"prior-treatment": "prior_treatment", "adverse-event": "adverse_event"}
CHART_KEY = {
    "indication": "indications",
    "prior-treatment": "prior_treatments",
    "evaluation": "evaluations",
    "trial": "trials",
    "implant": "implants",
    "alarm": "alarms",
    "appointment": "appointments",
    "adverse-event": "adverse_events",
}


def add(clinic: Clinic, pid: int, kind: str) -> int:
    body, role = ADD[kind]
    body = {k: (v.format(pid=pid) if isinstance(v, str) else v) for k, v in body.items()}
    url = f"/api/v1/patients/{pid}/{VOIDS[kind][0]}"
    answer = clinic.client.post(url, json=body, headers=clinic.headers(role))
    assert answer.status_code == 201, answer.text
    return int(answer.json()[ANSWER_KEY.get(kind, kind)]["id"])


def void_url(pid: int, kind: str, record_id: int) -> str:
    return f"/api/v1/patients/{pid}/{VOIDS[kind][0]}/{record_id}/void"


def count(clinic: Clinic, model: type) -> int:
    with clinic.sessions() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_the_api_and_the_store_void_the_same_kinds() -> None:
    assert set(VOIDS) == set(records.VOIDABLE) == set(ADD)


@pytest.mark.parametrize("kind", list(ADD))
def test_each_kind_is_voided_once_and_stays_on_the_chart_marked(clinic: Clinic, kind: str) -> None:
    pid = implanted(clinic, 5)
    record_id = add(clinic, pid, kind)
    role = ADD[kind][1]
    url = void_url(pid, kind, record_id)
    answer = clinic.client.post(url, json={"reason": " wrong chart "}, headers=clinic.headers(role))
    assert answer.status_code == 201, answer.text
    done = answer.json()
    stamp = {"by": role, "at": NOW.isoformat().replace("+00:00", "Z"), "reason": "wrong chart"}
    assert done["kind"] == kind and done["voided"] == stamp  # the server's clock dates it
    assert done["record"]["id"] == record_id and done["record"]["voided"] == stamp
    again = clinic.client.post(url, json={"reason": "again"}, headers=clinic.headers(role))
    assert again.status_code == 409, again.text
    assert f"voided by {role}" in again.json()["errors"][0]["message"]
    chart = clinic.client.get(f"/api/v1/patients/{pid}", headers=clinic.headers("viewer")).json()
    shown = {r["id"]: r["voided"] for r in chart[CHART_KEY[kind]]}
    assert shown[record_id] == stamp  # kept, marked
    assert all(v is None for i, v in shown.items() if i != record_id)
    with clinic.sessions() as session:
        assert session.get(records.VOIDABLE[kind], record_id) is not None  # nothing deleted
        entries = session.execute(
            select(AuditEntry).where(AuditEntry.action == f"{kind}.void")
        ).scalars()
        written = [
            (e.actor, e.target, e.at)
            for e in entries
            if json.loads(e.detail_json)["id"] == record_id
        ]
    assert written == [(role, f"patient:{pid}", NOW)]
    verify = clinic.client.get("/api/v1/audit/verify", headers=clinic.headers("admin")).json()
    assert verify["intact"], verify


def test_another_patients_record_is_not_found_and_bad_reasons_are_refused(
    clinic: Clinic,
) -> None:
    pid, other = implanted(clinic, 6), implanted(clinic, 7)
    before = count(clinic, RecordVoid)
    for kind in ADD:
        theirs = add(clinic, other, kind)
        role = ADD[kind][1]
        answer = clinic.client.post(
            void_url(pid, kind, theirs), json={"reason": "x"}, headers=clinic.headers(role)
        )
        assert answer.status_code == 404, answer.text
    mine = add(clinic, pid, "alarm")
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}, {"why": "x"}):
        answer = clinic.client.post(
            void_url(pid, "alarm", mine), json=body, headers=clinic.headers("nurse")
        )
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["errors"][0]["field"] in ("reason", "why")
    assert count(clinic, RecordVoid) == before  # nothing changed


def test_the_permission_that_adds_a_record_voids_it(clinic: Clinic) -> None:
    pid = implanted(clinic, 6)
    indication = add(clinic, pid, "indication")
    refused = clinic.client.post(
        void_url(pid, "indication", indication),
        json={"reason": "x"},
        headers=clinic.headers("nurse"),
    )
    assert refused.status_code == 403  # nurses do not add indications, nor void them


def test_a_void_sent_twice_with_one_idempotency_key_is_done_once(clinic: Clinic) -> None:
    pid = implanted(clinic, 6)
    alarm = add(clinic, pid, "alarm")
    headers = {**clinic.headers("nurse"), "Idempotency-Key": "void-alarm-1"}
    url = void_url(pid, "alarm", alarm)
    first = clinic.client.post(url, json={"reason": "duplicate"}, headers=headers)
    replay = clinic.client.post(url, json={"reason": "duplicate"}, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert first.json() == replay.json()
    other = clinic.client.post(url, json={"reason": "another reason"}, headers=headers)
    assert other.status_code == 422
    with clinic.sessions() as session:
        rows = session.execute(
            select(RecordVoid).where(RecordVoid.kind == "alarm", RecordVoid.record_id == alarm)
        ).scalars()
        assert [r.reason for r in rows] == ["duplicate"]


def test_a_voided_alarm_leaves_the_dashboard_and_a_voided_implant_is_not_current(
    clinic: Clinic,
) -> None:
    pid = implanted(clinic, 8)
    alarm = add(clinic, pid, "alarm")

    def open_alarms() -> set[int]:
        board = clinic.client.get("/api/v1/dashboard?limit=200", headers=clinic.headers("nurse"))
        return {a["id"] for a in board.json()["open_alarms"]}

    assert alarm in open_alarms()
    clinic.client.post(
        void_url(pid, "alarm", alarm), json={"reason": "wrong"}, headers=clinic.headers("nurse")
    )
    assert alarm not in open_alarms()
    with clinic.sessions() as session:
        real = programs.current_implant(session, pid)
        assert real is not None
    wrong = add(clinic, pid, "implant")
    with clinic.sessions() as session:
        assert programs.current_implant(session, pid).id == wrong  # type: ignore[union-attr]
    answer = clinic.client.post(
        void_url(pid, "implant", wrong),
        json={"reason": "wrong"},
        headers=clinic.headers("physician"),
    )
    assert answer.status_code == 201
    with clinic.sessions() as session:
        assert programs.current_implant(session, pid).id == real.id  # type: ignore[union-attr]


def test_void_forms_on_the_chart_page_strike_the_record_through(clinic: Clinic) -> None:
    pid = implanted(clinic, 9)
    appointment = add(clinic, pid, "appointment")
    client, csrf = signed_in(clinic, "nurse")
    chart = client.get(f"/patients/{pid}")
    form = f'action="/patients/{pid}/appointments/{appointment}/void"'
    assert form in chart.text and 'class="void-form' in chart.text
    viewer, _ = signed_in(clinic, "viewer")
    assert 'class="void-form' not in viewer.get(f"/patients/{pid}").text
    url = f"/patients/{pid}/appointments/{appointment}/void"
    no_csrf = client.post(url, data={"reason": "x"}, follow_redirects=False)
    assert no_csrf.status_code == 403
    empty = client.post(url, data={"csrf_token": csrf, "reason": " "}, follow_redirects=False)
    assert empty.status_code == 422 and "Nothing was changed" in empty.text
    done = client.post(
        url, data={"csrf_token": csrf, "reason": "booked twice"}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == f"/patients/{pid}#records"
    chart = client.get(f"/patients/{pid}").text
    row = chart[chart.index(f'id="appointment-{appointment}"') :]
    row = row[: row.index("</tr>")]
    assert 'class="voided"' in row and "VOID</strong> by nurse" in row and "booked twice" in row
    assert form not in chart
    twice = client.post(url, data={"csrf_token": csrf, "reason": "again"}, follow_redirects=False)
    assert twice.status_code == 409
    # A nurse has no form for, and may not void, a physician's kind of record.
    indication = add(clinic, pid, "indication")
    assert f"/indications/{indication}/void" not in chart
    refused = client.post(
        f"/patients/{pid}/indications/{indication}/void",
        data={"csrf_token": csrf, "reason": "x"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
