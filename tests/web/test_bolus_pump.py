"""A clinician or bridge bolus between refills on a real virtual pump over its socket, on SQLite
and PostgreSQL: journalled, sent once, recorded at the pump's start time, audited; the pump's
own door refuses a dose over the hard per-bolus limit; a refusal is shown in words; a crash
between the pump and the record is completed by recovery from the pump's log, once.

Scenario (tests/store/pump_scenario.py): morphine 10 mg/mL at 1 mg/day; per-bolus limits of
morphine soft 0.5 mg, hard 1 mg. 0.04 mL = 0.4 mg over 30 min is within every limit.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from intrathecal.store import boluses, programs, pump_journal
from intrathecal.store.boluses import BolusRequest
from intrathecal.store.models import AuditEntry, ClinicBolus, Patient
from intrathecal.units import InputError
from intrathecal.web.bolus_pump import give_through_link
from intrathecal.web.pump_link import PumpLinkError
from tests.web import test_pump_journal as journal
from tests.web.conftest import PASSWORDS
from tests.web.test_pump_journal import Rig, journal_of, new_patient, recover_now

# The pump journal's fixtures: a clinic app over a real virtual pump server, on both databases.
journal_app = journal.journal_app
rig = journal.rig


def _form(rig: Rig, pid: int) -> dict[str, str]:
    page = rig.client.get(f"/patients/{pid}/bolus")
    assert page.status_code == 200 and 'id="interrogation"' in page.text
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    return {
        **fields,
        "kind": "clinician",
        "volume": "0.04 mL",
        "duration": "30 min",
        "reason": "breakthrough pain",
        "confirm": "yes",
        "action": "give",
    }


def _boluses(rig: Rig, pid: int) -> list[ClinicBolus]:
    with rig.sessions() as session:
        query = select(ClinicBolus).where(ClinicBolus.patient_id == pid).order_by(ClinicBolus.id)
        return list(session.execute(query).scalars())


def _started_on_pump(rig: Rig, serial: str) -> int:
    link = rig.links.link(serial)
    assert link is not None
    return sum(1 for e in link.log(0) if e.kind == "bolus_started")


def _request(key: str, volume_ml: float = 0.04) -> BolusRequest:
    return BolusRequest(
        form_key=key,
        kind="clinician",
        volume_ml=volume_ml,
        duration_s=1800.0,
        doses_mcg={"morphine": volume_ml * 10_000},
        reason="test",
        acknowledgements=(),
        program_version=1,
    )


def test_clinician_bolus_through_the_pump_is_sent_once_recorded_and_audited(rig: Rig) -> None:
    patient = new_patient(rig)
    form = _form(rig, patient.id)
    done = rig.client.post(f"/patients/{patient.id}/bolus", data=form)
    assert done.status_code == 200, done.text
    # The pump's answer, shown: its start and end in the pump's time (the clinic's NOW).
    assert "Clinician bolus given" in done.text and "started 02 Mar 2026 09:00 UTC" in done.text
    assert "ends 02 Mar 2026 09:30 UTC" in done.text
    again = rig.client.post(f"/patients/{patient.id}/bolus", data=form)
    assert again.status_code == 200 and "Clinician bolus given" in again.text
    assert _started_on_pump(rig, f"P{patient.mrn}") == 1  # sent once
    (row,) = _boluses(rig, patient.id)
    assert row.via == "virtual pump" and row.volume_ml == pytest.approx(0.04)
    assert (row.ends_at - row.started_at).total_seconds() == 1800
    (entry,) = journal_of(rig, patient.id)
    assert entry.status == pump_journal.RECORDED and entry.token == form["form_key"]
    with rig.sessions() as session:
        actions = set(
            session.execute(
                select(AuditEntry.action).where(AuditEntry.target == f"patient:{patient.id}")
            ).scalars()
        )
    assert {"bolus.give", "pump_journal.intent", "pump_journal.recorded"} <= actions


def test_bolus_dose_above_hard_limit_is_refused_by_the_pump_door(rig: Rig) -> None:
    """The clinic's review bypassed: 0.2 mL = 2 mg > 1 mg hard. The pump refuses it itself;
    the journal entry ends not done, nothing is recorded, and the refusal reads in words."""
    patient = new_patient(rig)
    link = rig.links.link(f"P{patient.mrn}")
    assert link is not None
    with pytest.raises(PumpLinkError) as refused:
        link.bolus("clinician", 0.2, 1800.0)
    assert refused.value.answered
    assert "2 mg of morphine is above its hard limit per bolus 1 mg" in refused.value.message
    with rig.sessions() as session:
        found = session.get(Patient, patient.id)
        assert found is not None
        version = programs.in_force(session, patient.id)
        assert version is not None
        with pytest.raises(InputError) as error:
            give_through_link(
                session, rig.links, found, version, _request("a" * 32, 0.2), "nurse", rig.clock.now
            )
    assert "the pump refused the bolus" in str(error.value)
    (entry,) = journal_of(rig, patient.id)
    assert entry.status == pump_journal.NOT_DONE
    assert _boluses(rig, patient.id) == [] and _started_on_pump(rig, f"P{patient.mrn}") == 0


def test_a_refusal_by_the_pump_is_shown_in_the_page(rig: Rig) -> None:
    """A second bolus while the first runs: the pump refuses it, and the page says why."""
    patient = new_patient(rig)
    assert rig.client.post(f"/patients/{patient.id}/bolus", data=_form(rig, patient.id)).is_success
    second = rig.client.post(f"/patients/{patient.id}/bolus", data=_form(rig, patient.id))
    assert second.status_code == 422
    assert "the pump refused the bolus: " in second.text
    assert "a clinician bolus is running until 2026-03-02T09:30:00Z" in second.text
    assert len(_boluses(rig, patient.id)) == 1


@pytest.mark.parametrize("crash", ["after_intent", "after_send"])
def test_crash_during_a_bolus_then_recovery_agrees_with_the_pump(rig: Rig, crash: str) -> None:
    """Killed after the journal's intent (nothing sent: not done, nothing recorded) or after the
    pump started the bolus (recorded once by recovery, at the pump's start time); recovery
    twice changes nothing more, and the bolus is never sent again."""
    patient = new_patient(rig)
    serial = f"P{patient.mrn}"
    link = rig.links.link(serial)
    assert link is not None
    request = _request("b" * 31 + crash[-1])
    with rig.sessions() as session:
        entry = pump_journal.write_intent(
            session,
            patient_id=patient.id,
            serial=serial,
            kind="bolus",
            payload=request.payload() | {"via": link.via, "where": link.where},
            since_seq=max((e.seq for e in link.log(0)), default=0),
            who="nurse",
            now=rig.clock.now,
            token=request.form_key,
        )
        token = entry.token
    if crash == "after_send":
        link.bolus("clinician", request.volume_ml, request.duration_s, token)
    recover_now(rig)
    recover_now(rig)
    (entry,) = journal_of(rig, patient.id)
    rows = _boluses(rig, patient.id)
    if crash == "after_send":
        assert entry.status == pump_journal.RECORDED and entry.by_recovery
        (row,) = rows
        assert row.started_at == rig.clock.now and "recovery: completed" in row.readback
    else:
        assert entry.status == pump_journal.NOT_DONE and rows == []
        assert "the clinician bolus was not started on the pump" in entry.outcome
    assert _started_on_pump(rig, serial) == (1 if crash == "after_send" else 0)
    # The same form posted after the crash sends nothing.
    with rig.sessions() as session:
        assert boluses.by_key(session, request.form_key) is not None or crash == "after_intent"


def test_the_api_gives_a_bolus_through_the_pump_once(rig: Rig) -> None:
    patient = new_patient(rig)
    token = rig.client.post(
        "/api/v1/auth/sign-in", json={"username": "nurse", "password": PASSWORDS["nurse"]}
    ).json()["token"]
    body = {
        "key": "d" * 32,
        "kind": "clinician",
        "volume": "0.04 mL",
        "duration": "30 min",
        "reason": "breakthrough pain",
        "in_force_version": 1,
        "send_to_pump": True,
    }
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/patients/{patient.id}/boluses"
    first = rig.client.post(url, json=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["bolus"]["via"] == "virtual pump"
    assert "started 02 Mar 2026 09:00 UTC" in first.json()["bolus"]["readback"]
    assert rig.client.post(url, json=body, headers=headers).status_code == 200
    assert _started_on_pump(rig, f"P{patient.mrn}") == 1
