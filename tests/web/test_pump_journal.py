"""Pump and record agree after any crash (issue 10 item 5): the pump journal and its recovery.

The refill wizard's steps run in a subprocess against a real virtual pump over its socket, and
the subprocess is SIGKILLed right after one step: the journal's intent, the program staged, its
checksum read back, the refill (which activates the program), the bridge bolus, the record's
commit. Recovery then runs as at the clinic's start, and the rule is checked:
pump refilled <=> exactly one new refill record; pump not refilled <=> no record and the journal
entry not done. Scenario patient (tests/store/pump_scenario.py): 20 mL of morphine 10 mg/mL
filled 30 days before NOW at 0.1 mL/day; version 2 (20 mg/mL, same dose) is signed, not sent.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import count
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.library import default_library
from intrathecal.pump.client import PumpClient
from intrathecal.pump.persistence import PumpStore
from intrathecal.pump.server import Running, serve_in_background
from intrathecal.store import audit, pump_journal, refills
from intrathecal.store.models import Patient, ProgramApplication, PumpJournalEntry, Refill
from intrathecal.store.seed import ensure_users
from intrathecal.web import pump_recovery, refill_pump
from intrathecal.web.app import create_app
from intrathecal.web.pump_client_link import ClientLink, ClientLinks
from intrathecal.web.pump_link import PumpEvent, PumpLinkError, RefillReadBack
from intrathecal.web.refill_pump import checksum_of
from tests.store.conftest import NOW, fresh_url
from tests.store.pump_scenario import FILLED_AT, morphine_program, pump_patient, sign
from tests.web.conftest import PASSWORDS, page_sign_in

ROOT = Path(__file__).resolve().parents[2]
_mrns = count(1)

# The wizard's steps as pages.py runs them on "save" in pump mode; argv: database URL, pump
# port, patient id, the step after which the process SIGKILLs itself ("" for none), now.
WIZARD = """
import os, signal, sys
from datetime import datetime
from intrathecal.library import default_library
from intrathecal.pump.client import PumpClient
from intrathecal.pump.persistence import PumpStore
from intrathecal.store import programs, pump_journal, records, refills
from intrathecal.store.db import open_database
from intrathecal.web import refill_pump
from intrathecal.web.pump_client_link import ClientLink, ClientLinks

url, port, patient_id, step, now_text = sys.argv[1:]
now = datetime.fromisoformat(now_text)

def after(owner, name, when=lambda *args, **kwargs: True):
    original = getattr(owner, name)
    def wrapped(*args, **kwargs):
        result = original(*args, **kwargs)
        if when(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    setattr(owner, name, wrapped)

if step == "intent":
    after(pump_journal, "write_intent")
elif step == "stage":
    after(PumpClient, "stage_program")
elif step == "read-back":
    after(PumpClient, "_staged_and_checked")
elif step == "activate":  # the refill command activates the staged program with the fill
    after(PumpClient, "_call", lambda self, kind, *a, **k: kind == "refill")
elif step == "bridge":
    after(PumpClient, "bolus")

engine, sessions = open_database(url)
links = ClientLinks("127.0.0.1", int(port), timeout_s=5.0, retries=1)
with sessions() as session:
    patient = records.require_patient(session, int(patient_id))
    link = refill_pump.link_for(links, programs.current_implant(session, patient.id))
    pump = refill_pump.interrogate(link)
    request = refills.RefillRequest(
        fill_ml=20.0,
        performed_at=refill_pump.time_of(pump, now),
        withdrawn_ml=16.8,
        program_version=2,
        notes="refilled in clinic",
    )
    prepared = refills.prepare(session, patient, request)
    row, errors = refill_pump.save_through(
        link, pump, session, patient, prepared, request, "nurse", now, {"bridge_on_pump": "yes"}
    )
    assert row is not None, errors
    session.commit()
if step == "commit":
    os.kill(os.getpid(), signal.SIGKILL)
print("SAVED", flush=True)
"""

STEPS = ["intent", "stage", "read-back", "activate", "bridge", "commit"]
REFILLED = {"activate", "bridge", "commit"}  # the pump took the refill before the kill


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Rig:
    url: str
    client: TestClient
    sessions: sessionmaker[Session]
    links: ClientLinks
    pumps: Path
    clock: Clock
    server: Running


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def journal_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, TestClient, sessionmaker[Session], ClientLinks, Clock]]:
    url = fresh_url(request.param, Path(tmp_path_factory.mktemp("journal")))
    links = ClientLinks("127.0.0.1", 1, timeout_s=2.0, retries=1)
    clock = Clock()
    app = create_app(url, clock=clock, pump_links=links)
    with app.state.sessions.begin() as session:
        ensure_users(session, NOW)
    client = TestClient(app)
    answer = page_sign_in(client, "nurse")
    assert answer.status_code == 303
    yield url, client, app.state.sessions, links, clock
    app.state.engine.dispose()


@pytest.fixture
def rig(
    journal_app: tuple[str, TestClient, sessionmaker[Session], ClientLinks, Clock],
    tmp_path: Path,
) -> Iterator[Rig]:
    url, client, sessions, links, clock = journal_app
    clock.now = NOW
    pumps = tmp_path / "pumps"
    pumps.mkdir()
    with serve_in_background(pumps, speed=0.0, start_s=NOW.timestamp()) as running:
        links.port = running.port
        yield Rig(url, client, sessions, links, pumps, clock, running)


def new_patient(rig: Rig, *, pump: bool = True) -> Patient:
    with rig.sessions.begin() as session:
        pumps = rig.pumps if pump else None
        patient = pump_patient(session, pumps, f"PJ{next(_mrns):04d}", stronger_signed=True)
        session.expunge(patient)
    return patient


def run_wizard(rig: Rig, patient_id: int, crash_after: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            WIZARD,
            rig.url,
            str(rig.server.port),
            str(patient_id),
            crash_after,
            rig.clock.now.isoformat(),
        ],
        check=False,  # the kill is the point: its return code is asserted
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"},
        timeout=120,
    )


def pump_state(rig: Rig, serial: str) -> dict[str, object]:
    with PumpClient(rig.server.host, rig.server.port, serial) as client:
        return client.interrogate(since=2**62)


def refills_of(rig: Rig, patient_id: int) -> list[Refill]:
    with rig.sessions() as session:
        query = select(Refill).where(Refill.patient_id == patient_id).order_by(Refill.id)
        return list(session.execute(query).scalars())


def journal_of(rig: Rig, patient_id: int) -> list[PumpJournalEntry]:
    with rig.sessions() as session:
        query = select(PumpJournalEntry).where(PumpJournalEntry.patient_id == patient_id)
        return list(session.execute(query.order_by(PumpJournalEntry.id)).scalars())


def recover_now(rig: Rig) -> list[pump_recovery.Resolution]:
    with rig.sessions() as session:
        return pump_recovery.recover_all(session, rig.links, rig.clock.now)


def refilled(state: dict[str, object]) -> bool:
    reservoir = state["reservoir"]
    assert isinstance(reservoir, dict)
    return bool(reservoir["filled_at_s"] != FILLED_AT.timestamp())


@pytest.mark.parametrize("step", STEPS)
def test_kill_at_each_step_then_recovery_leaves_pump_and_record_agreeing(
    rig: Rig, step: str
) -> None:
    patient = new_patient(rig)
    serial = f"P{patient.mrn}"
    done = run_wizard(rig, patient.id, step)
    assert done.returncode == -signal.SIGKILL, done.stderr
    lines = pump_recovery.recover_at_start(rig.url, rig.links)  # as `itp clinic run` starts
    assert len(lines) == (0 if step == "commit" else 1), lines
    assert recover_now(rig) == []  # idempotent: a second start changes nothing
    state = pump_state(rig, serial)
    rows = refills_of(rig, patient.id)
    entries = journal_of(rig, patient.id)
    assert len(entries) == 1
    entry = entries[0]
    # The rule: pump refilled <=> exactly one new record; not refilled <=> none, and not done.
    assert refilled(state) == (step in REFILLED)
    if step in REFILLED:
        assert len(rows) == 2
        assert entry.status == pump_journal.RECORDED and entry.refill_id == rows[-1].id
        assert entry.by_recovery == (step != "commit")
        program = state["program"]
        assert isinstance(program, dict)
        assert program["checksum"] == checksum_of(morphine_program("20 mg/mL"))
    else:
        assert len(rows) == 1
        assert entry.status == pump_journal.NOT_DONE and entry.by_recovery
        assert "the pump was not refilled" in entry.outcome
    with rig.sessions() as session:
        assert audit.verify(session).ok


def test_a_recovered_record_is_the_one_the_wizard_would_have_saved(rig: Rig) -> None:
    twin, crashed = new_patient(rig), new_patient(rig)
    assert "SAVED" in run_wizard(rig, twin.id, "").stdout  # no crash: the wizard's own record
    assert run_wizard(rig, crashed.id, "bridge").returncode == -signal.SIGKILL
    (resolution,) = recover_now(rig)
    assert resolution.status == pump_journal.RECORDED
    wizard, recovered = refills_of(rig, twin.id)[-1], refills_of(rig, crashed.id)[-1]
    # Same pump time (speed 0): 20 mL filled at NOW; expected residual 20 - 30 x 0.1 = 17.00 mL,
    # withdrawn 16.8 mL: discrepancy -0.20 mL, within 14.5% x 3 mL = 0.435 mL.
    for row in (wizard, recovered):
        assert row.performed_at == NOW and row.via == "virtual pump" and row.fill_ml == 20.0
        assert row.expected_residual_ml == pytest.approx(17.0)
        assert row.discrepancy_ml == pytest.approx(-0.2) and not row.investigate
    assert (recovered.next_due_at, recovered.limited_by) == (wizard.next_due_at, wizard.limited_by)
    lines = recovered.notes.replace(f"P{crashed.mrn}", f"P{twin.mrn}").splitlines()
    assert lines[-1].startswith("recovery: completed at 02 Mar 2026 09:00 UTC from the pump's")
    assert lines[:-1] == wizard.notes.splitlines()
    assert "bridge bolus 0.460 mL started 02 Mar 2026 09:00 UTC" in recovered.notes
    assert "the pump's own count before the fill: 17.00 mL left, discrepancy -0.20 mL" in (
        recovered.notes
    )
    with rig.sessions() as session:
        applied = session.execute(
            select(ProgramApplication).where(ProgramApplication.patient_id == crashed.id)
        ).scalars()
        last = list(applied)[-1]
        assert last.readback_matches and last.applied_by == "nurse"


def test_killed_before_the_bridge_says_the_bridge_was_not_started(rig: Rig) -> None:
    patient = new_patient(rig)
    assert run_wizard(rig, patient.id, "activate").returncode == -signal.SIGKILL
    recover_now(rig)
    notes = refills_of(rig, patient.id)[-1].notes
    assert "bridge bolus NOT started on the pump (the clinic stopped before sending it)" in notes


def test_the_next_interrogation_reconciles_once_the_send_is_no_longer_in_flight(
    rig: Rig,
) -> None:
    patient = new_patient(rig)
    assert run_wizard(rig, patient.id, "activate").returncode == -signal.SIGKILL
    chart = rig.client.get(f"/patients/{patient.id}")
    # Still within the link's longest send (6 requests x 2 x 2 s x 2 tries + 60 s = 108 s):
    # shown as open, not touched.
    assert 'data-status="intent"' in chart.text
    assert "not reconciled with the pump yet" in chart.text
    assert "02 Mar 2026 09:01 UTC" in chart.text
    assert len(refills_of(rig, patient.id)) == 1
    page = rig.client.get(f"/patients/{patient.id}/refill")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    follows = re.search(r'name="follows_refill_id" value="([^"]*)"', page.text)
    assert csrf is not None and follows is not None
    again = rig.client.post(
        f"/patients/{patient.id}/refill",
        data={
            "csrf_token": csrf.group(1),
            "follows_refill_id": follows.group(1),
            "mode": "pump",
            "step": "save",
            "confirm": "yes",
            "fill": "20 mL",
            "withdrawn": "16.8 mL",
            "program_version": "2",
        },
    )
    assert again.status_code == 422 and "is not reconciled with the pump yet" in again.text
    rig.clock.now = NOW + timedelta(minutes=2)
    chart = rig.client.get(f"/patients/{patient.id}")
    assert 'data-status="recorded"' in chart.text and "Completed by recovery" in chart.text
    rows = refills_of(rig, patient.id)
    assert len(rows) == 2 and "recovery: completed at 02 Mar 2026 09:02 UTC" in rows[-1].notes


def test_not_done_is_shown_on_the_pump_panel(rig: Rig) -> None:
    patient = new_patient(rig)
    assert run_wizard(rig, patient.id, "read-back").returncode == -signal.SIGKILL
    rig.clock.now = NOW + timedelta(minutes=5)
    chart = rig.client.get(f"/patients/{patient.id}")
    assert 'data-status="not_done"' in chart.text
    assert "Not done: The refill sent to this pump at 02 Mar 2026 09:00 UTC by nurse" in chart.text
    assert "never reached the pump" in chart.text
    assert len(refills_of(rig, patient.id)) == 1


def test_a_refusal_closes_the_journal_entry_at_once(rig: Rig) -> None:
    patient = new_patient(rig, pump=False)
    # The pump on the wand is a 40 mL model: it refuses the 20 mL pump's program when staged.
    PumpStore.create(
        rig.pumps, f"P{patient.mrn}", "synchromed-ii-40", NOW.timestamp(), default_library()
    )
    done = run_wizard(rig, patient.id, "")
    assert done.returncode != 0 and "refused the refill" in done.stderr
    (entry,) = journal_of(rig, patient.id)
    assert entry.status == pump_journal.NOT_DONE and not entry.by_recovery
    assert "refused the refill" in entry.outcome
    assert recover_now(rig) == [] and len(refills_of(rig, patient.id)) == 1


# --- the log reader ------------------------------------------------------------------------


def _event(seq: int, kind: str, **data: object) -> PumpEvent:
    return PumpEvent(seq, 0.0, kind, kind, dict(data))


def test_find_takes_the_events_the_named_command_logged() -> None:
    log = [
        _event(1, "command", request_id="other"),
        _event(2, "refilled", volume_ml=10.0),
        _event(3, "command", request_id="t.refill"),
        _event(4, "refilled", volume_ml=20.0),
        _event(5, "program_activated", checksum="c"),
        _event(6, "command", request_id="later"),
        _event(7, "refilled", volume_ml=30.0),
    ]
    found = pump_recovery.find(log, "t.refill")
    assert found.state == "applied" and [e.seq for e in found.events] == [4, 5]
    assert pump_recovery.find(log, "t.bridge").state == "absent"
    refused = [_event(1, "refused", request_id="t.refill")]
    assert pump_recovery.find(refused, "t.refill").state == "refused"


# --- programs applied to a pump outside a refill ---------------------------------------------

# argv: database URL, pump port, patient id, version, the step to die after ("" for none), now.
APPLY = """
import os, signal, sys
from datetime import datetime
from intrathecal.pump.client import PumpClient
from intrathecal.store import programs, records
from intrathecal.store.db import open_database
from intrathecal.web.program_pump import apply_through_link
from intrathecal.web.pump_client_link import ClientLink, ClientLinks

url, port, patient_id, version, step, now_text = sys.argv[1:]

def after(owner, name, when):
    original = getattr(owner, name)
    def wrapped(*args, **kwargs):
        result = original(*args, **kwargs)
        if when(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    setattr(owner, name, wrapped)

if step:
    after(PumpClient, "_call", lambda self, kind, *a, **k: kind == step)
engine, sessions = open_database(url)
links = ClientLinks("127.0.0.1", int(port), timeout_s=5.0, retries=1)
with sessions() as session:
    patient = records.require_patient(session, int(patient_id))
    row = programs.by_version(session, patient.id, int(version))
    apply_through_link(session, links, patient, row, "nurse", datetime.fromisoformat(now_text))
    session.commit()
print("APPLIED", flush=True)
"""

# The same drug and strength, 1.1 mg/day instead of 1 mg/day: the pump takes it without a refill.
MORE = morphine_program("10 mg/mL").replace('dose = "1 mg/day"', 'dose = "1.1 mg/day"')


def patient_with_new_dose(rig: Rig) -> Patient:
    with rig.sessions.begin() as session:
        patient = pump_patient(session, rig.pumps, f"PJ{next(_mrns):04d}")
        sign(session, patient, MORE, "a little more")
        session.expunge(patient)
    return patient


def applications_of(rig: Rig, patient_id: int) -> list[ProgramApplication]:
    with rig.sessions() as session:
        query = select(ProgramApplication).where(ProgramApplication.patient_id == patient_id)
        return list(session.execute(query.order_by(ProgramApplication.id)).scalars())


def run_apply(rig: Rig, patient_id: int, step: str) -> subprocess.CompletedProcess[str]:
    args = [rig.url, str(rig.server.port), str(patient_id), "2", step, rig.clock.now.isoformat()]
    return subprocess.run(
        [sys.executable, "-c", APPLY, *args],
        check=False,  # the kill is the point: its return code is asserted
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"},
        timeout=120,
    )


@pytest.mark.parametrize("step", ["stage_program", "activate_program"])
def test_kill_while_applying_a_program_then_recovery_agrees_with_the_pump(
    rig: Rig, step: str
) -> None:
    patient = patient_with_new_dose(rig)
    before = len(applications_of(rig, patient.id))
    assert run_apply(rig, patient.id, step).returncode == -signal.SIGKILL
    recover_now(rig)
    recover_now(rig)
    program = pump_state(rig, f"P{patient.mrn}")["program"]
    assert isinstance(program, dict)
    active = program["checksum"] == checksum_of(MORE)
    (entry,) = journal_of(rig, patient.id)
    rows = applications_of(rig, patient.id)
    # Program active on the pump <=> exactly one new application; else none, and not done.
    assert active == (step == "activate_program")
    if active:
        assert len(rows) == before + 1 and entry.application_id == rows[-1].id
        assert rows[-1].readback_matches and rows[-1].via == "virtual pump"
        assert entry.status == pump_journal.RECORDED and entry.by_recovery
    else:
        assert len(rows) == before
        assert entry.status == pump_journal.NOT_DONE
        assert "the program was not activated on the pump" in entry.outcome


def test_the_api_applies_a_program_through_the_pump_link(rig: Rig) -> None:
    patient = patient_with_new_dose(rig)
    token = rig.client.post(
        "/api/v1/auth/sign-in", json={"username": "nurse", "password": PASSWORDS["nurse"]}
    ).json()["token"]
    answer = rig.client.post(
        f"/api/v1/patients/{patient.id}/programs/2/apply",
        json={"send_to_pump": True},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    applied = answer.json()["application"]
    assert applied["via"] == "virtual pump" and applied["readback_matches"] is True
    program = pump_state(rig, f"P{patient.mrn}")["program"]
    assert isinstance(program, dict) and program["checksum"] == checksum_of(MORE)
    (entry,) = journal_of(rig, patient.id)
    assert entry.status == pump_journal.RECORDED and not entry.by_recovery
    # A version for 20 mg/mL while the reservoir holds 10 mg/mL: the clinic refuses it before
    # anything is sent (a new solution needs a refill, with its bridge); nothing is journalled
    # or recorded. (The pump would stage it and refuse to activate it too.)
    rows = len(applications_of(rig, patient.id))
    entries = len(journal_of(rig, patient.id))
    with rig.sessions.begin() as session:
        found = session.get(Patient, patient.id)
        assert found is not None
        sign(session, found, morphine_program("20 mg/mL"), "stronger solution")
    refused = rig.client.post(
        f"/api/v1/patients/{patient.id}/programs/3/apply",
        json={"send_to_pump": True},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "version"
    assert "needs a refill" in refused.text
    assert len(applications_of(rig, patient.id)) == rows
    assert len(journal_of(rig, patient.id)) == entries


# --- the journal's one rule: an entry closes once -------------------------------------------

ALL_MOVES = [*pump_journal.OPEN, pump_journal.RECORDED, pump_journal.NOT_DONE]


def _intent(sessions: sessionmaker[Session], patient_id: int) -> int:
    with sessions() as session:
        entry = pump_journal.write_intent(
            session,
            patient_id=patient_id,
            serial="PX",
            kind="refill",
            payload={},
            since_seq=0,
            who="nurse",
            now=NOW,
        )
        return entry.id


@pytest.fixture(scope="module")
def plain_patient(
    journal_app: tuple[str, TestClient, sessionmaker[Session], ClientLinks, Clock],
) -> tuple[sessionmaker[Session], int]:
    sessions = journal_app[2]
    with sessions.begin() as session:
        patient = pump_patient(session, None, f"PJ{next(_mrns):04d}")
        return sessions, patient.id


@settings(max_examples=15, deadline=None)
@given(moves=st.lists(st.sampled_from(ALL_MOVES), min_size=1, max_size=6))
def test_journal_entry_closes_once_and_stays_closed(
    plain_patient: tuple[sessionmaker[Session], int], moves: list[str]
) -> None:
    sessions, patient_id = plain_patient
    entry_id = _intent(sessions, patient_id)
    status, closed_moves = pump_journal.INTENT, 0
    for to in moves:
        with sessions() as session:
            moved = pump_journal.move(session, entry_id, to, NOW, "nurse")
            session.commit()
        # An open entry takes any move; a closed one (recorded, not done) takes none.
        assert moved == (status in pump_journal.OPEN)
        if moved:
            status = to
            closed_moves += to not in pump_journal.OPEN
    assert closed_moves <= 1
    with sessions() as session:
        entry = session.get(PumpJournalEntry, entry_id)
        assert entry is not None and entry.status == status
        # Left open, recovery at the "start" of a later test would try this pump "PX".
        pump_journal.move(session, entry_id, pump_journal.NOT_DONE, NOW, "nurse")
        session.commit()


def test_of_two_workers_recording_one_entry_only_the_first_does(
    plain_patient: tuple[sessionmaker[Session], int],
) -> None:
    sessions, patient_id = plain_patient
    entry_id = _intent(sessions, patient_id)
    second: list[bool] = []

    def other_worker() -> None:
        with sessions() as session:  # waits for the first one's lock, then finds it closed
            second.append(pump_journal.move(session, entry_id, pump_journal.RECORDED, NOW, "b"))
            session.commit()

    with sessions() as first:
        assert pump_journal.move(first, entry_id, pump_journal.RECORDED, NOW, "a")
        worker = threading.Thread(target=other_worker)
        worker.start()
        worker.join(0.5)  # still waiting for the first transaction
        first.commit()
    worker.join(30)
    assert second == [False]


class LostReply(ClientLink):
    """The pump takes the refill but its answer is lost on the way back."""

    def refill(
        self,
        volume_ml: float,
        drugs: list[tuple[str, float]],
        program_toml: str,
        withdrawn_ml: float | None,
        journal: str | None = None,
    ) -> RefillReadBack:
        super().refill(volume_ml, drugs, program_toml, withdrawn_ml, journal)
        raise PumpLinkError(f"no answer from {self.where} to the refill", answered=False)


def test_a_lost_reply_leaves_the_entry_sent_until_the_log_confirms_it(rig: Rig) -> None:
    patient = new_patient(rig)
    with rig.sessions() as session:
        found = session.get(Patient, patient.id)
        assert found is not None
        link = LostReply(rig.links, f"P{patient.mrn}")
        pump = refill_pump.interrogate(link)
        request = refills.RefillRequest(
            fill_ml=20.0, performed_at=NOW, withdrawn_ml=16.8, program_version=2
        )
        prepared = refills.prepare(session, found, request)
        row, errors = refill_pump.save_through(
            link, pump, session, found, prepared, request, "nurse", NOW, {}
        )
        assert row is None and "may or may not have taken the refill" in errors[0]
    (entry,) = journal_of(rig, patient.id)
    assert entry.status == pump_journal.SENT and len(refills_of(rig, patient.id)) == 1
    (resolution,) = recover_now(rig)
    assert resolution.status == pump_journal.RECORDED
    rows = refills_of(rig, patient.id)
    assert len(rows) == 2 and rows[-1].performed_at == NOW
    # The bridge was chosen off (no form field): said on the record as in the wizard.
    assert "bridge bolus not sent to the pump (not chosen)" in rows[-1].notes


def test_a_refill_typed_in_after_the_crash_is_not_recorded_twice_by_recovery(rig: Rig) -> None:
    # The wizard dies after the pump confirmed the refill; a nurse then records the same refill
    # by hand (typed in) before recovery runs. Recovery finds the pump refilled, but the refill
    # the journal follows is no longer the last: it records nothing more and names the record.
    patient = new_patient(rig)
    assert run_wizard(rig, patient.id, "activate").returncode == -signal.SIGKILL
    last = refills_of(rig, patient.id)[-1]
    with rig.sessions.begin() as session:
        found = session.get(Patient, patient.id)
        assert found is not None
        typed = refills.save(
            session,
            found,
            refills.RefillRequest(
                fill_ml=20.0,
                performed_at=NOW,
                withdrawn_ml=16.8,
                program_version=2,
                follows_refill_id=last.id,
            ),
            "nurse",
            recorded_at=NOW,
        )
        typed_id = typed.id
    (resolution,) = recover_now(rig)
    assert resolution.status == pump_journal.RECORDED
    rows = refills_of(rig, patient.id)
    assert [r.id for r in rows][-1] == typed_id and len(rows) == 2  # one record, not two
    (entry,) = journal_of(rig, patient.id)
    assert entry.refill_id == typed_id and "not recorded twice" in entry.outcome
    with rig.sessions() as session:
        assert audit.verify(session).ok
