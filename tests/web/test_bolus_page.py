"""The bolus page without a pump link (typed in), on SQLite and PostgreSQL: every field's bad
input is an in-page error that saves nothing; a dose over the hard per-bolus limit is blocked; a
soft one needs a reason, recorded with who gave it; a form posted twice records one bolus.

Scenario patient (tests/store/pump_scenario.py): morphine 10 mg/mL at 1 mg/day (0.1 mL/day).
Per-bolus limits of morphine (drug library): soft 0.5 mg, hard 1 mg. So 0.04 mL = 0.4 mg passes,
0.06 mL = 0.6 mg is soft, 0.2 mL = 2 mg is hard.
"""

from __future__ import annotations

import json
import re
from itertools import count

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from intrathecal.store.models import AuditEntry, ClinicBolus
from tests.store.pump_scenario import pump_patient
from tests.web.conftest import Clinic, page_sign_in

_mrns = count(1)


def _open(clinic: Clinic) -> tuple[TestClient, int, dict[str, str]]:
    with clinic.sessions.begin() as session:
        patient = pump_patient(session, None, f"BOL{next(_mrns):05d}")
        pid = patient.id
    client = TestClient(clinic.client.app, raise_server_exceptions=False)
    page_sign_in(client, "nurse")
    page = client.get(f"/patients/{pid}/bolus")
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    base = {
        **fields,
        "kind": "clinician",
        "volume": "0.04 mL",
        "duration": "30 min",
        "reason": "breakthrough pain",
        "confirm": "yes",
        "typed": "yes",
        "action": "give",
    }
    return client, pid, base


def _count(clinic: Clinic, pid: int) -> int:
    with clinic.sessions() as session:
        query = select(func.count()).select_from(ClinicBolus)
        return int(session.execute(query.where(ClinicBolus.patient_id == pid)).scalar_one())


BAD = [
    ("kind", "", "kind: choose a clinician bolus or a bridge bolus"),
    ("kind", "priming", "kind: choose a clinician bolus or a bridge bolus"),
    ("volume", "", "volume:"),
    ("volume", "-0.1 mL", "volume: must be greater than zero"),
    ("volume", "lots", "volume: cannot read"),
    ("volume", "0.1 mg", "volume: expected a volume"),
    ("volume", "0.1", "volume:"),
    ("volume", "1" * 41, "volume: at most 40 characters"),
    ("duration", "", "duration:"),
    ("duration", "0 min", "duration: must be greater than zero"),
    ("duration", "ten", "duration: cannot read"),
    ("duration", "30 s", "duration: must be from 60 s to 24 h for a clinician bolus"),
    ("duration", "2 day", "duration: must be from 60 s to 24 h for a clinician bolus"),
    ("reason", "", "reason: say why the bolus is given"),
    ("reason", "x" * 501, "reason: at most 500 characters"),
    ("confirm", "", "confirm: tick that you checked"),
    ("typed", "", "typed: no pump link"),
    ("form_key", "not-a-key", "form_key: this form is not one the clinic drew"),
    ("in_force_version", "7", "was put in force after this page was opened"),
]


@pytest.mark.parametrize(("field", "value", "error"), BAD)
def test_every_bad_field_is_an_in_page_error_and_saves_nothing(
    clinic: Clinic, field: str, value: str, error: str
) -> None:
    client, pid, base = _open(clinic)
    answer = client.post(f"/patients/{pid}/bolus", data={**base, field: value})
    assert answer.status_code in (409, 422), answer.text
    assert 'id="errors"' in answer.text and "Nothing was sent" in answer.text
    assert error in answer.text.replace("&#39;", "'").replace("&#34;", '"')
    assert "Traceback" not in answer.text
    assert _count(clinic, pid) == 0


def test_bolus_dose_above_hard_limit_is_blocked_at_the_page(clinic: Clinic) -> None:
    """0.2 mL x 10 mg/mL = 2 mg of morphine, above its hard per-bolus limit of 1 mg."""
    client, pid, base = _open(clinic)
    reviewed = client.post(
        f"/patients/{pid}/bolus", data={**base, "volume": "0.2 mL", "action": "review"}
    )
    assert reviewed.status_code == 200
    assert "BOLUS_DOSE_ABOVE_HARD" in reviewed.text and 'id="blocking"' in reviewed.text
    assert re.search(r'<button name="action" value="give" id="give"\s+disabled', reviewed.text)
    given = client.post(f"/patients/{pid}/bolus", data={**base, "volume": "0.2 mL"})
    assert given.status_code == 422
    assert "volume: 2 mg of morphine is above its hard limit per bolus 1 mg" in given.text
    assert _count(clinic, pid) == 0


def test_bolus_dose_above_soft_limit_needs_a_reason_recorded_with_who(clinic: Clinic) -> None:
    """0.06 mL x 10 mg/mL = 0.6 mg, above the soft 0.5 mg: refused without a reason, given
    with one, and the reason is stored with the nurse's name and audited."""
    client, pid, base = _open(clinic)
    form = {**base, "volume": "0.06 mL"}
    refused = client.post(f"/patients/{pid}/bolus", data=form)
    assert refused.status_code == 422 and "ack_BOLUS_DOSE_ABOVE_SOFT" in refused.text
    assert _count(clinic, pid) == 0
    why = "pain 8/10 after 0.4 mg an hour ago"
    done = client.post(f"/patients/{pid}/bolus", data={**form, "ack_BOLUS_DOSE_ABOVE_SOFT": why})
    assert done.status_code == 200 and 'id="done"' in done.text
    with clinic.sessions() as session:
        row = session.execute(select(ClinicBolus).where(ClinicBolus.patient_id == pid)).scalar_one()
        assert json.loads(row.acknowledgements_json) == [
            {"code": "BOLUS_DOSE_ABOVE_SOFT", "who": "nurse", "why": why}
        ]
        assert row.via == "typed in" and row.given_by == "nurse"
        assert json.loads(row.doses_json) == {"morphine": pytest.approx(600.0)}
        entry = session.execute(
            select(AuditEntry).where(
                AuditEntry.action == "bolus.give", AuditEntry.target == f"patient:{pid}"
            )
        ).scalar_one()
        assert why in entry.detail_json


def test_a_form_posted_twice_records_one_bolus(clinic: Clinic) -> None:
    client, pid, base = _open(clinic)
    first = client.post(f"/patients/{pid}/bolus", data=base)
    second = client.post(f"/patients/{pid}/bolus", data=base)
    assert first.status_code == second.status_code == 200
    assert "Clinician bolus given" in second.text
    assert _count(clinic, pid) == 1


def test_a_bridge_bolus_above_the_dead_space_is_blocked(clinic: Clinic) -> None:
    """Dead space = pump pathway 0.26 mL + catheter 0.2 mL = 0.46 mL: 0.5 mL is refused; 0.46 mL
    over 12 h (0.92 mL/day, within 0.048..24 mL/day) is given."""
    client, pid, base = _open(clinic)
    bridge = {**base, "kind": "bridge", "duration": "12 h"}
    over = client.post(f"/patients/{pid}/bolus", data={**bridge, "volume": "0.5 mL"})
    assert over.status_code == 422 and "BRIDGE_VOLUME_ABOVE_DEAD_SPACE" in over.text
    assert "moves the pathway and catheter volume (0.46 mL)" in over.text
    ok = client.post(f"/patients/{pid}/bolus", data={**bridge, "volume": "0.46 mL"})
    assert ok.status_code == 200 and "Bridge bolus given" in ok.text
    assert _count(clinic, pid) == 1


def test_a_too_long_acknowledgement_is_an_in_page_error(clinic: Clinic) -> None:
    client, pid, base = _open(clinic)
    form = {**base, "volume": "0.06 mL", "ack_BOLUS_DOSE_ABOVE_SOFT": "x" * 501}
    answer = client.post(f"/patients/{pid}/bolus", data=form)
    assert answer.status_code == 422
    assert "ack_BOLUS_DOSE_ABOVE_SOFT: at most 500 characters" in answer.text
    assert _count(clinic, pid) == 0


def _api_body(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "key": "c" * 32,
        "kind": "clinician",
        "volume": "0.04 mL",
        "duration": "30 min",
        "reason": "breakthrough pain",
        "in_force_version": 1,
    }
    return body | changes


def test_the_api_door_holds_the_same_limits(clinic: Clinic) -> None:
    """The API: 2 mg (0.2 mL) above the hard 1 mg is 422 naming the volume; 0.6 mg needs its
    acknowledgement; a bad field is 422 naming it; nothing saved until a good body, once."""
    with clinic.sessions.begin() as session:
        pid = pump_patient(session, None, f"BOL{next(_mrns):05d}").id
    url, headers = f"/api/v1/patients/{pid}/boluses", clinic.headers("nurse")
    key = f"{pid:032x}"
    hard = clinic.client.post(url, json=_api_body(key=key, volume="0.2 mL"), headers=headers)
    assert hard.status_code == 422
    assert hard.json()["errors"][0]["field"] == "volume"
    assert "2 mg of morphine is above its hard limit per bolus 1 mg" in hard.text
    soft = clinic.client.post(url, json=_api_body(key=key, volume="0.06 mL"), headers=headers)
    assert soft.status_code == 422
    assert soft.json()["errors"][0]["field"] == "acknowledgements.BOLUS_DOSE_ABOVE_SOFT"
    for field, value in (("volume", "lots"), ("duration", "2 day"), ("reason", "")):
        bad = clinic.client.post(url, json=_api_body(key=key, **{field: value}), headers=headers)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == field
    assert _count(clinic, pid) == 0
    acks = {"BOLUS_DOSE_ABOVE_SOFT": "pain 8/10"}
    body = _api_body(key=key, volume="0.06 mL", acknowledgements=acks)
    first = clinic.client.post(url, json=body, headers=headers)
    again = clinic.client.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["bolus"]["id"] == again.json()["bolus"]["id"]
    assert _count(clinic, pid) == 1
