"""Issue 11 item 5: an alarm is acknowledged and cleared by records (who, when by the server's
clock, a note), never by an edit that loses its history; audited; from the API and the page
alike. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from intrathecal.store.models import AlarmEvent, AuditEntry, Patient
from tests.web.conftest import Clinic
from tests.web.test_pages import signed_in


@pytest.fixture(scope="module")
def pid(clinic: Clinic) -> int:
    with clinic.sessions() as db:
        return int(db.execute(select(Patient.id).order_by(Patient.id.desc())).scalars().first())


def _alarm(clinic: Clinic, pid: int, message: str) -> int:
    answer = clinic.client.post(
        f"/api/v1/patients/{pid}/alarms",
        json={"kind": "low reservoir", "message": message},
        headers=clinic.headers("nurse"),
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["alarm"]["id"])


def _audits(clinic: Clinic, action: str) -> int:
    with clinic.sessions() as db:
        return db.execute(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        ).scalar_one()


def test_acknowledge_then_clear_keeps_the_alarms_whole_history(clinic: Clinic, pid: int) -> None:
    alarm = _alarm(clinic, pid, "reservoir at 2 mL")
    base = f"/api/v1/patients/{pid}/alarms/{alarm}"
    acks = _audits(clinic, "alarm.acknowledge")
    seen = clinic.client.post(
        f"{base}/acknowledge", json={"note": "called the patient"}, headers=clinic.headers("nurse")
    )
    assert seen.status_code == 200, seen.text
    assert seen.json()["alarm"]["cleared_at"] is None  # still open
    assert [e["action"] for e in seen.json()["history"]] == ["acknowledged"]
    assert seen.json()["history"][0]["by"] == "nurse"
    assert seen.json()["history"][0]["at"] == "2026-03-02T09:00:00Z"  # the server's clock
    assert _audits(clinic, "alarm.acknowledge") == acks + 1
    # the same person acknowledging twice is refused; nothing is added
    again = clinic.client.post(f"{base}/acknowledge", headers=clinic.headers("nurse"))
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "alarm"
    cleared = clinic.client.post(
        f"{base}/clear", json={"note": "refilled"}, headers=clinic.headers("physician")
    )
    assert cleared.status_code == 200, cleared.text
    body = cleared.json()
    assert body["alarm"]["cleared_by"] == "physician"
    assert [(e["action"], e["by"], e["note"]) for e in body["history"]] == [
        ("acknowledged", "nurse", "called the patient"),
        ("cleared", "physician", "refilled"),
    ]
    # a cleared alarm is neither cleared nor acknowledged again; its history stays as it was
    for action in ("clear", "acknowledge"):
        late = clinic.client.post(f"{base}/{action}", headers=clinic.headers("nurse"))
        assert late.status_code == 422
        assert "was cleared by physician" in late.json()["errors"][0]["message"]
    with clinic.sessions() as db:
        rows = db.execute(select(AlarmEvent).where(AlarmEvent.alarm_id == alarm)).scalars()
        assert [r.action for r in rows] == ["acknowledged", "cleared"]


def test_a_void_alarm_is_not_acknowledged(clinic: Clinic, pid: int) -> None:
    alarm = _alarm(clinic, pid, "typed in the wrong chart")
    voided = clinic.client.post(
        f"/api/v1/patients/{pid}/alarms/{alarm}/void",
        json={"reason": "wrong patient"},
        headers=clinic.headers("nurse"),
    )
    assert voided.status_code == 201
    answer = clinic.client.post(
        f"/api/v1/patients/{pid}/alarms/{alarm}/acknowledge", headers=clinic.headers("nurse")
    )
    assert answer.status_code == 422
    assert "void" in answer.json()["errors"][0]["message"]


def test_the_alarm_page_acknowledges_and_clears_with_who_and_when(clinic: Clinic, pid: int) -> None:
    alarm = _alarm(clinic, pid, "page alarm")
    client, csrf = signed_in(clinic, "nurse")
    page = client.get(f"/patients/{pid}/alarms")
    assert page.status_code == 200 and f'id="alarm-{alarm}"' in page.text
    done = client.post(
        f"/patients/{pid}/alarms/{alarm}/acknowledge",
        data={"csrf_token": csrf, "note": "seen"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    done = client.post(
        f"/patients/{pid}/alarms/{alarm}/clear",
        data={"csrf_token": csrf, "note": "refilled"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    page = client.get(f"/patients/{pid}/alarms").text
    assert "acknowledged by nurse at 02 Mar 2026 09:00 UTC: seen" in page
    assert "cleared by nurse at 02 Mar 2026 09:00 UTC: refilled" in page
    # clearing again: an error on the page beside the alarm, not a stack trace or JSON
    again = client.post(
        f"/patients/{pid}/alarms/{alarm}/clear",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert again.status_code == 422
    assert "Nothing was changed." in again.text and '"ok"' not in again.text
    # a note of 10 kB is refused, nothing recorded
    other = _alarm(clinic, pid, "another")
    long = client.post(
        f"/patients/{pid}/alarms/{other}/acknowledge",
        data={"csrf_token": csrf, "note": "x" * 10_000},
        follow_redirects=False,
    )
    assert long.status_code == 422 and "at most 500" in long.text
    with clinic.sessions() as db:
        assert not list(db.execute(select(AlarmEvent).where(AlarmEvent.alarm_id == other)))
