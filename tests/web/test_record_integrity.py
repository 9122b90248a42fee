"""Records no client can bend, over HTTP (issue 10, items 1-4 and 6), on SQLite and PostgreSQL:
the server's clock dates records, no client field relaxes a hard finding, writes are saved once,
INVESTIGATE needs a co-signature, and a wrong refill is voided, never edited."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from intrathecal.store.models import Alarm, AuditEntry, Patient, Refill, Stage
from tests.store.conftest import NOW
from tests.store.test_refill_integrity import thinned
from tests.web.conftest import Clinic, form_token, page_sign_in
from tests.web.test_pages import signed_in
from tests.web.wizard_contents import contents

COSIGN = {
    "investigate_reason": "needle position confirmed",
    "cosigner": "physician",
    "cosigner_password": "amber-harbor-lantern-51",
}


def implanted(clinic: Clinic, index: int) -> int:
    """The ``index``-th implanted patient with a refill (tests take different ones)."""
    with clinic.sessions() as session:
        ids = list(
            session.execute(
                select(Patient.id)
                .where(Patient.stage == Stage.IMPLANTED.value)
                .where(select(Refill.id).where(Refill.patient_id == Patient.id).exists())
                .order_by(Patient.id)
            ).scalars()
        )
    return ids[index]


def last_refill(clinic: Clinic, pid: int) -> dict[str, Any]:
    answer = clinic.client.get(
        f"/api/v1/patients/{pid}/refills?limit=20", headers=clinic.headers("nurse")
    )
    return next(r for r in answer.json()["items"] if r["voided"] is None)


def refill_body(clinic: Clinic, pid: int, **values: Any) -> dict[str, Any]:
    last = last_refill(clinic, pid)
    return {
        "fill": f"{last['fill_ml']:g} mL",
        "withdrawn": "0 mL",
        "follows_refill_id": last["id"],
        **COSIGN,
        **values,
    }


def count(clinic: Clinic, model: type) -> int:
    with clinic.sessions() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def due_of(clinic: Clinic, pid: int) -> Any:
    with clinic.sessions() as session:
        patient = session.get(Patient, pid)
        assert patient is not None
        return patient.next_refill_due_at


def post_refill(clinic: Clinic, pid: int, body: dict[str, Any], **headers: str) -> Any:
    return clinic.client.post(
        f"/api/v1/patients/{pid}/refills",
        json=body,
        headers={**clinic.headers("nurse"), **headers},
    )


def fields(answer: Any) -> list[str]:
    return [e["field"] for e in answer.json()["errors"]]


# --- item 1: the server's clock dates records -----------------------------------------------


def test_refill_dated_outside_the_skew_is_refused_and_changes_nothing(clinic: Clinic) -> None:
    pid = implanted(clinic, 0)
    due, refills_before = due_of(clinic, pid), count(clinic, Refill)
    for when in (
        "2031-01-01T00:00:00Z",  # hides a pump running dry
        (NOW - timedelta(days=1)).isoformat(),
        (NOW + timedelta(minutes=6)).isoformat(),  # 5 minutes is the default skew
    ):
        answer = post_refill(clinic, pid, refill_body(clinic, pid, performed_at=when))
        assert answer.status_code == 422, answer.text
        assert fields(answer) == ["performed_at"]
        assert "server's clock" in answer.json()["errors"][0]["message"]
    assert (due_of(clinic, pid), count(clinic, Refill)) == (due, refills_before)


def test_refill_within_the_skew_keeps_its_time_and_the_server_dates_the_record(
    clinic: Clinic,
) -> None:
    pid = implanted(clinic, 1)
    when = NOW - timedelta(minutes=4)
    answer = post_refill(clinic, pid, refill_body(clinic, pid, performed_at=when.isoformat()))
    assert answer.status_code == 201, answer.text
    refill = answer.json()["refill"]
    assert refill["performed_at"] == when.isoformat().replace("+00:00", "Z")
    assert refill["recorded_at"] == NOW.isoformat().replace("+00:00", "Z")
    with clinic.sessions() as session:
        entry = (
            session.execute(
                select(AuditEntry)
                .where(AuditEntry.action == "refill.save")
                .order_by(AuditEntry.seq.desc())
            )
            .scalars()
            .first()
        )
        assert entry is not None and entry.at == NOW
    # Never before the last refill, even within the skew.
    earlier = (NOW - timedelta(minutes=5)).isoformat()
    answer = post_refill(clinic, pid, refill_body(clinic, pid, performed_at=earlier))
    assert answer.status_code == 422, answer.text
    assert fields(answer) == ["performed_at"]


def test_the_skew_is_configurable(clinic: Clinic) -> None:
    pid = implanted(clinic, 2)
    app: Any = clinic.client.app
    app.state.client_clock_skew_s = 3600
    try:
        when = (NOW - timedelta(minutes=30)).isoformat()
        answer = post_refill(clinic, pid, refill_body(clinic, pid, performed_at=when))
        assert answer.status_code == 201, answer.text
    finally:
        del app.state.client_clock_skew_s


def test_other_records_cannot_be_dated_in_the_future(clinic: Clinic) -> None:
    pid = implanted(clinic, 3)
    headers = clinic.headers("physician")
    future = [
        (
            f"/api/v1/patients/{pid}/adverse-events",
            {"kind": "infection", "occurred_on": "2031-01-01", "serious": True, "description": "x"},
            "occurred_on",
        ),
        (
            f"/api/v1/patients/{pid}/evaluations",
            {"kind": "MRI", "performed_on": "2031-01-01", "result": "x"},
            "performed_on",
        ),
        (
            f"/api/v1/patients/{pid}/implants",
            {
                "device": "synchromed-ii-20",
                "serial": "FUTURE-1",
                "catheter_length": "70 cm",
                "tip_level": "T10",
                "setting": "inpatient",
                "implanted_at": "2031-01-01T10:00:00Z",
            },
            "implanted_at",
        ),
    ]
    audit_before = count(clinic, AuditEntry)
    for path, body, field in future:
        answer = clinic.client.post(path, json=body, headers=headers)
        assert answer.status_code == 422, answer.text
        assert fields(answer) == [field]
    assert count(clinic, AuditEntry) == audit_before


# --- item 2: hard findings cannot be switched off by an input ------------------------------


def test_an_earlier_next_refill_at_cannot_switch_off_empties_before_refill(clinic: Clinic) -> None:
    pid = implanted(clinic, 4)
    saved = post_refill(clinic, pid, refill_body(clinic, pid))
    assert saved.status_code == 201, saved.text
    programs = clinic.client.get(
        f"/api/v1/patients/{pid}/programs", headers=clinic.headers("physician")
    ).json()["versions"]
    text = thinned(programs[-1]["program_toml"], 10)
    body = {"program_toml": text, "reason": "thinner", "replaces_version": programs[-1]["version"]}
    url = f"/api/v1/patients/{pid}/programs"
    review = clinic.client.post(
        f"{url}/review", json={"program_toml": text}, headers=clinic.headers("physician")
    )
    assert review.status_code == 200, review.text
    assert "EMPTIES_BEFORE_REFILL" in {f["code"] for f in review.json()["findings"]}
    early = (NOW + timedelta(days=1)).isoformat()
    for path, sent in ((f"{url}/review", {"program_toml": text}), (url, body)):
        answer = clinic.client.post(
            path, json={**sent, "next_refill_at": early}, headers=clinic.headers("physician")
        )
        assert answer.status_code == 422, answer.text
        assert fields(answer) == ["next_refill_at"]
    versions = clinic.client.get(url, headers=clinic.headers("physician")).json()["versions"]
    assert len(versions) == len(programs)


# --- item 3: saved once ----------------------------------------------------------------------


def test_a_refill_naming_a_stale_refill_gets_409(clinic: Clinic) -> None:
    pid = implanted(clinic, 5)
    body = refill_body(clinic, pid)
    assert post_refill(clinic, pid, body).status_code == 201
    again = post_refill(clinic, pid, body)  # the same refill posted twice: stored once
    assert again.status_code == 409, again.text
    assert fields(again) == ["follows_refill_id"]
    assert again.json()["current_refill"] == last_refill(clinic, pid)["id"]


def test_idempotency_key_returns_the_first_answer_and_writes_once(clinic: Clinic) -> None:
    pid = implanted(clinic, 6)
    alarm = {"kind": "low reservoir", "message": "beeping"}
    url = f"/api/v1/patients/{pid}/alarms"
    key = {"Idempotency-Key": "alarm-7f3c"}
    before = count(clinic, Alarm)
    first = clinic.client.post(url, json=alarm, headers={**clinic.headers("nurse"), **key})
    second = clinic.client.post(url, json=alarm, headers={**clinic.headers("nurse"), **key})
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert count(clinic, Alarm) == before + 1
    other = clinic.client.post(
        url, json={**alarm, "message": "other"}, headers={**clinic.headers("nurse"), **key}
    )
    assert other.status_code == 422 and fields(other) == ["Idempotency-Key"]
    assert count(clinic, Alarm) == before + 1
    # Keys are per user: the physician's same key is a new request.
    mine = clinic.client.post(url, json=alarm, headers={**clinic.headers("physician"), **key})
    assert mine.status_code == 201 and count(clinic, Alarm) == before + 2
    bad = clinic.client.post(
        url, json=alarm, headers={**clinic.headers("nurse"), "Idempotency-Key": "x" * 201}
    )
    assert bad.status_code == 422 and fields(bad) == ["Idempotency-Key"]
    # A refill sent twice with one key (the answer was lost): one refill, the same answer.
    body = refill_body(clinic, pid)
    refills_before = count(clinic, Refill)
    answers = [post_refill(clinic, pid, body, **{"Idempotency-Key": "refill-1"}) for _ in "ab"]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json()["refill"]["id"] == answers[1].json()["refill"]["id"]
    assert count(clinic, Refill) == refills_before + 1


# --- item 4: INVESTIGATE means stop ------------------------------------------------------------


def test_investigate_needs_a_reason_and_a_physicians_cosignature(clinic: Clinic) -> None:
    pid = implanted(clinic, 7)
    preview = clinic.client.post(
        f"/api/v1/patients/{pid}/refills/preview",
        json={"fill": refill_body(clinic, pid)["fill"], "withdrawn": "0 mL"},
        headers=clinic.headers("nurse"),
    )
    assert preview.json()["reconciliation"]["investigate"] is True
    before = count(clinic, Refill)
    bare = {k: v for k, v in refill_body(clinic, pid).items() if k not in COSIGN}
    assert fields(post_refill(clinic, pid, bare)) == ["investigate_reason"]
    wrong = refill_body(clinic, pid, cosigner_password="guess-1234")
    assert fields(post_refill(clinic, pid, wrong)) == ["cosigner_password"]
    assert count(clinic, Refill) == before
    saved = post_refill(clinic, pid, refill_body(clinic, pid))
    assert saved.status_code == 201, saved.text
    refill = saved.json()["refill"]
    assert (refill["investigate"], refill["cosigned_by"]) == (True, "physician")
    assert refill["investigate_reason"] == "needle position confirmed"
    assert refill["cosigned_at"] == NOW.isoformat().replace("+00:00", "Z")
    assert "cosigner_password" not in saved.text and "amber-harbor-lantern-51" not in saved.text
    page_client, _ = signed_in(clinic, "viewer")
    page = page_client.get(f"/patients/{pid}/refills/{refill['id']}")
    assert 'id="cosigned"' in page.text and "needle position confirmed" in page.text


# --- item 6: mistakes are corrected, not edited -------------------------------------------------


def test_void_over_the_api_keeps_the_row_and_the_due_date_follows_the_refill_before(
    clinic: Clinic,
) -> None:
    pid = implanted(clinic, 8)
    before = last_refill(clinic, pid)
    wrong = post_refill(clinic, pid, refill_body(clinic, pid)).json()["refill"]
    url = f"/api/v1/patients/{pid}/refills/{wrong['id']}/void"
    assert (
        clinic.client.post(url, json={"reason": "x"}, headers=clinic.headers("viewer")).status_code
        == 403
    )
    assert (
        clinic.client.post(url, json={"reason": ""}, headers=clinic.headers("nurse")).status_code
        == 422
    )
    voided = clinic.client.post(
        url, json={"reason": "wrong patient"}, headers=clinic.headers("nurse")
    )
    assert voided.status_code == 201, voided.text
    assert voided.json()["refill"]["voided"] == {
        "by": "nurse",
        "at": NOW.isoformat().replace("+00:00", "Z"),
        "reason": "wrong patient",
    }
    again = clinic.client.post(url, json={"reason": "again"}, headers=clinic.headers("nurse"))
    assert again.status_code == 409
    assert last_refill(clinic, pid)["id"] == before["id"]
    assert due_of(clinic, pid).isoformat().replace("+00:00", "Z") == before["next_due_at"]
    one = clinic.client.get(
        f"/api/v1/patients/{pid}/refills/{wrong['id']}", headers=clinic.headers("viewer")
    )
    assert one.json()["refill"]["voided"]["reason"] == "wrong patient"  # kept, marked
    # The next refill follows the one before the void.
    assert refill_body(clinic, pid)["follows_refill_id"] == before["id"]
    chart = clinic.client.get(f"/api/v1/patients/{pid}", headers=clinic.headers("viewer")).json()
    marked = {r["id"]: r["voided"] for r in chart["refills"]}
    assert marked[wrong["id"]]["reason"] == "wrong patient" and marked[before["id"]] is None


# --- the pages --------------------------------------------------------------------------------


def wizard_form(client: Any, csrf: str, pid: int) -> dict[str, str]:
    page = client.get(f"/patients/{pid}/refill")
    values = dict(re.findall(r'<input[^>]*name="([^"]+)" value="([^"]*)"', page.text))
    values.pop("confirm", None)
    return {
        **values,
        **contents(page.text),
        "csrf_token": csrf,
        "withdrawn": "0 mL",
        "mode": "typed",
        "step": "save",
        "confirm": "yes",
        **COSIGN,
    }


def test_two_browser_tabs_cannot_save_the_same_refill_twice(clinic: Clinic) -> None:
    client, csrf = signed_in(clinic, "nurse")
    pid = implanted(clinic, 9)
    tab_a, tab_b = wizard_form(client, csrf, pid), wizard_form(client, csrf, pid)
    assert tab_a["follows_refill_id"] == str(last_refill(clinic, pid)["id"])
    before = count(clinic, Refill)
    saved = client.post(f"/patients/{pid}/refill", data=tab_a, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    second = client.post(f"/patients/{pid}/refill", data=tab_b, follow_redirects=False)
    assert second.status_code == 409
    assert "another refill or a void was saved" in second.text
    assert "amber-harbor-lantern-51" not in second.text  # a password is never sent back
    assert count(clinic, Refill) == before + 1


def test_investigate_in_the_wizard_needs_the_cosignature(clinic: Clinic) -> None:
    client, csrf = signed_in(clinic, "nurse")
    pid = implanted(clinic, 10)
    form = wizard_form(client, csrf, pid)
    preview = client.post(f"/patients/{pid}/refill", data={**form, "step": "preview"})
    assert 'id="cosign"' in preview.text and 'name="cosigner_password"' in preview.text
    before = count(clinic, Refill)
    unsigned = {**form, "cosigner_password": ""}
    refused = client.post(f"/patients/{pid}/refill", data=unsigned, follow_redirects=False)
    assert refused.status_code == 422 and "cosigner_password" in refused.text
    assert count(clinic, Refill) == before


def test_void_button_on_the_refill_record_and_struck_through_on_the_chart(clinic: Clinic) -> None:
    client, csrf = signed_in(clinic, "nurse")
    pid = implanted(clinic, 11)
    wrong = post_refill(clinic, pid, refill_body(clinic, pid)).json()["refill"]
    record = client.get(f"/patients/{pid}/refills/{wrong['id']}")
    assert 'id="void-form"' in record.text
    empty = client.post(
        f"/patients/{pid}/refills/{wrong['id']}/void", data={"csrf_token": csrf, "reason": ""}
    )
    assert empty.status_code == 422
    done = client.post(
        f"/patients/{pid}/refills/{wrong['id']}/void",
        data={"csrf_token": csrf, "reason": "duplicate entry"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    record = client.get(f"/patients/{pid}/refills/{wrong['id']}")
    assert 'id="voided"' in record.text and "duplicate entry" in record.text
    assert 'id="void-form"' not in record.text
    chart = client.get(f"/patients/{pid}")
    assert 'class="voided"' in chart.text and "duplicate entry" in chart.text
    viewer, _ = signed_in(clinic, "viewer")
    assert 'id="void-form"' not in viewer.get(f"/patients/{pid}/refills/{wrong['id']}").text


def test_one_idempotency_key_sent_twice_at_once_writes_one_refill(clinic: Clinic) -> None:
    pid = implanted(clinic, 3)  # its records were refused, never its refills
    body = refill_body(clinic, pid)
    before = count(clinic, Refill)
    answers: list[Any] = []

    def send() -> None:
        answers.append(post_refill(clinic, pid, body, **{"Idempotency-Key": "race-1"}))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    assert answers[0].json() == answers[1].json()
    assert count(clinic, Refill) == before + 1


def test_wrong_cosignature_passwords_are_kept_and_slow_down_guessing(clinic: Clinic) -> None:
    pid = implanted(clinic, 11)
    # The guesser names a physician account of their own making, so other tests' physician is
    # not locked out: the slow-down counts per co-signing physician.
    created = clinic.client.post(
        "/api/v1/users",
        json={
            "username": "dr.guess",
            "full_name": "Dr Guess",
            "role": "physician",
            "password": "tidal-granite-window-harbor-58",
        },
        headers=clinic.headers("admin"),
    )
    assert created.status_code == 201, created.text
    tries = [
        post_refill(
            clinic,
            pid,
            refill_body(clinic, pid, cosigner="dr.guess", cosigner_password=f"guess-{n}"),
        )
        for n in range(4)
    ]
    assert [t.status_code for t in tries] == [422] * 4
    assert "too many wrong co-signature passwords" in tries[3].json()["errors"][0]["message"]
    with clinic.sessions() as session:
        kept = session.execute(
            select(AuditEntry.detail_json).where(AuditEntry.action == "refill.cosign-failed")
        ).scalars()
        guesses = [d for d in kept if '"dr.guess"' in d]
    assert len(guesses) == 3  # the refused refills left nothing else, the failures are on record
    # Even the right password waits now.
    right = refill_body(clinic, pid, cosigner="dr.guess", cosigner_password="guess-me-not-1")
    assert post_refill(clinic, pid, right).status_code == 422


def checking_holds_no_worker_thread(
    clinic: Clinic, monkeypatch: Any, ready: Callable[[TestClient], Callable[[], Any]]
) -> list[bool]:
    """While a password is checked (a co-signature's, a sign-in's), can another request of the
    same worker run? On a server of one worker thread (the web app's own limit, set to 1 here),
    a check that held its request's thread would leave the other request waiting until it
    ended.
    ``ready`` makes the client ready (signs in: that check is not the one probed) and gives the
    save to send."""
    from intrathecal.store import users
    from intrathecal.web import app as web_app

    monkeypatch.setattr(web_app, "WORKER_THREADS", 1)
    checked = users.password_matches
    served: list[bool] = []
    others: list[threading.Thread] = []
    with TestClient(clinic.client.app) as client:  # its own event loop, its limit set to 1
        send = ready(client)

        def matches(stored: str, given: str) -> bool:
            other = threading.Thread(
                target=lambda: client.get("/api/v1/patients", headers=clinic.headers("nurse"))
            )
            others.append(other)
            other.start()
            other.join(timeout=10)
            served.append(not other.is_alive())
            return checked(stored, given)

        monkeypatch.setattr(users, "password_matches", matches)
        answer = send()
        for other in others:  # let it finish before its event loop closes
            other.join(timeout=60)
        assert answer.status_code in (200, 201, 303), answer.text
    return served


def test_a_cosignature_check_holds_no_worker_thread(clinic: Clinic, monkeypatch: Any) -> None:
    pid = implanted(clinic, 9)  # saved once by the two tabs; this save follows it
    body = refill_body(clinic, pid)
    url = f"/api/v1/patients/{pid}/refills"

    def ready(client: TestClient) -> Callable[[], Any]:
        return lambda: client.post(url, json=body, headers=clinic.headers("nurse"))

    assert checking_holds_no_worker_thread(clinic, monkeypatch, ready) == [True]


def test_a_cosignature_check_in_the_wizard_holds_no_worker_thread(
    clinic: Clinic, monkeypatch: Any
) -> None:
    pid = implanted(clinic, 10)  # its wizard save was refused above

    def ready(client: TestClient) -> Callable[[], Any]:
        assert page_sign_in(client, "nurse").status_code == 303
        form = wizard_form(client, form_token(client.get("/").text), pid)
        return lambda: client.post(f"/patients/{pid}/refill", data=form, follow_redirects=False)

    assert checking_holds_no_worker_thread(clinic, monkeypatch, ready) == [True]


def test_a_sign_in_password_check_holds_no_worker_thread(clinic: Clinic, monkeypatch: Any) -> None:
    body = {"username": "physician", "password": COSIGN["cosigner_password"]}

    def api(client: TestClient) -> Callable[[], Any]:
        return lambda: client.post("/api/v1/auth/sign-in", json=body)

    def page(client: TestClient) -> Callable[[], Any]:
        return lambda: page_sign_in(client, "nurse")

    assert checking_holds_no_worker_thread(clinic, monkeypatch, api) == [True]
    assert checking_holds_no_worker_thread(clinic, monkeypatch, page) == [True]
