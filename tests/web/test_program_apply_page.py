"""The apply-between-refills page without a pump link (typed in): a titration is recorded once
and audited; a version that changes the concentration is refused (it needs the refill wizard);
an older version than the one in force needs a reason; a stale page is a conflict."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from intrathecal.store import programs
from intrathecal.store.models import AuditEntry, ProgramApplication
from tests.store.pump_scenario import morphine_program, pump_patient, sign
from tests.web.conftest import Clinic, page_sign_in


def test_titration_typed_in_is_recorded_once_and_the_rules_hold(clinic: Clinic) -> None:
    with clinic.sessions.begin() as session:
        patient = pump_patient(session, None, "APPLY001", stronger_signed=True)  # v2: 20 mg/mL
        titrated = morphine_program("10 mg/mL").replace('dose = "1 mg/day"', 'dose = "1.1 mg/day"')
        sign(session, patient, titrated, "titration +10%")  # v3: same solution as v1
        pid = patient.id
    client = TestClient(clinic.client.app, raise_server_exceptions=False)
    page_sign_in(client, "nurse")
    page = client.get(f"/patients/{pid}/program/apply")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    # Version 2 changes the concentration: offered disabled, and refused if posted.
    assert "changes the drug or its concentration" in page.text
    base = {"csrf_token": csrf.group(1), "in_force_version": "1", "confirm": "yes", "typed": "yes"}
    refused = client.post(f"/patients/{pid}/program/apply", data={**base, "version": "2"})
    assert refused.status_code == 422 and "needs a refill" in refused.text
    # Version 3 (the default offer): recorded as typed in.
    assert re.search(r'<option value="3" selected', page.text)
    unticked = {**base, "version": "3", "typed": ""}
    assert client.post(f"/patients/{pid}/program/apply", data=unticked).status_code == 422
    done = client.post(f"/patients/{pid}/program/apply", data={**base, "version": "3"})
    assert done.status_code == 200 and "Version 3 is in force on the pump." in done.text
    # The same form again: nothing recorded a second time.
    again = client.post(f"/patients/{pid}/program/apply", data={**base, "version": "3"})
    assert again.status_code == 200 and "Version 3 is in force" in again.text
    with clinic.sessions() as session:
        current = programs.in_force(session, pid)
        assert current is not None and current.version == 3
        applied = (
            session.execute(
                select(ProgramApplication).where(
                    ProgramApplication.program_version_id == current.id
                )
            )
            .scalars()
            .all()
        )
        assert [(a.applied_by, a.via) for a in applied] == [("nurse", "typed in")]
    # A page opened before version 3 was applied is stale: a conflict, nothing recorded.
    stale = client.post(f"/patients/{pid}/program/apply", data={**base, "version": "1"})
    assert stale.status_code == 409
    # Back to version 1 from the page as it is now: needs a reason, then it is audited.
    now_form = {**base, "version": "1", "in_force_version": "3"}
    assert client.post(f"/patients/{pid}/program/apply", data=now_form).status_code == 422
    why = "sedation at 1.1 mg/day"
    back = client.post(
        f"/patients/{pid}/program/apply", data={**now_form, "older_version_reason": why}
    )
    assert back.status_code == 200 and "Version 1 is in force" in back.text
    with clinic.sessions() as session:
        entry = (
            session.execute(select(AuditEntry).where(AuditEntry.action == "program.apply.older"))
            .scalars()
            .one()
        )
        assert entry.actor == "nurse" and why in entry.detail_json


def test_the_api_door_holds_the_expiry_and_older_version_rules(clinic: Clinic) -> None:
    """The same rules as the wizard through the JSON API: a lot expired before the fill day and
    an older version than the one in force without a reason are 422, naming the field."""
    with clinic.sessions.begin() as session:
        patient = pump_patient(session, None, "APIL0001", stronger_signed=True)
        pid = patient.id
        last = programs.last_refill(session, pid)
        assert last is not None
        follows = last.id
    headers = clinic.headers("nurse")
    # NOW: 30 days at 0.1 mL/day since the 20 mL fill, 17 mL expected and withdrawn.
    body = {
        "fill": "20 mL",
        "withdrawn": "17 mL",
        "program_version": 2,
        "follows_refill_id": follows,
        "compounded_by": "Priya Pharmacist",
        "lots": [{"drug": "morphine", "lot": "M1", "expiry": "2026-03-01"}],
    }
    url = f"/api/v1/patients/{pid}/refills"
    expired = clinic.client.post(url, json=body, headers=headers)
    assert expired.status_code == 422
    assert expired.json()["errors"][0]["field"] == "expiry_morphine"
    body["lots"] = [{"drug": "morphine", "lot": "M1", "expiry": "2026-09-30"}]
    saved = clinic.client.post(url, json=body, headers=headers)
    assert saved.status_code == 201, saved.text
    refill = saved.json()["refill"]
    assert refill["lots"] == [{"drug": "morphine", "lot": "M1", "expiry": "2026-09-30"}]
    assert refill["compounded_by"] == "Priya Pharmacist"
    # Version 2 is in force now; filling version 1 again needs a reason.
    back = {**body, "program_version": 1, "withdrawn": "20 mL", "follows_refill_id": refill["id"]}
    refused = clinic.client.post(url, json=back, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "older_version_reason"
    back["older_version_reason"] = "nausea on 20 mg/mL"
    assert clinic.client.post(url, json=back, headers=headers).status_code == 201


def test_skipping_a_version_is_reviewed_again_against_the_one_in_force(clinic: Clinic) -> None:
    """In force 1 mg/day (version 1); version 2 (1.15 mg/day, +15%) and version 3 (1.3 mg/day,
    +13% on version 2) each passed the 20% per-step soft limit when signed. Applying version 3
    straight after version 1 is +30% in one step: the review run now finds it, it was never
    acknowledged, and nothing is sent; version 2 first is fine."""
    with clinic.sessions.begin() as session:
        patient = pump_patient(session, None, "SKIP0001")
        for dose in ("1.15", "1.3"):
            text = morphine_program("10 mg/mL").replace("1 mg/day", f"{dose} mg/day")
            sign(session, patient, text, f"titration to {dose} mg/day")
        pid = patient.id
    client = TestClient(clinic.client.app, raise_server_exceptions=False)
    page_sign_in(client, "nurse")
    page = client.get(f"/patients/{pid}/program/apply?version=3")
    assert 'id="blocking"' in page.text and "DOSE_INCREASE_PER_STEP_ABOVE_SOFT" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    base = {"csrf_token": csrf.group(1), "confirm": "yes", "typed": "yes"}
    skipped = client.post(
        f"/patients/{pid}/program/apply", data={**base, "version": "3", "in_force_version": "1"}
    )
    assert skipped.status_code == 422
    assert "DOSE_INCREASE_PER_STEP_ABOVE_SOFT was not acknowledged" in skipped.text
    with clinic.sessions() as session:
        running = programs.in_force(session, pid)
        assert running is not None and running.version == 1
    stepped = client.post(
        f"/patients/{pid}/program/apply", data={**base, "version": "2", "in_force_version": "1"}
    )
    assert stepped.status_code == 200
    assert "Version 2 is in force" in stepped.text
