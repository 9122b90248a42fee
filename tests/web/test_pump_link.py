"""The refill wizard against a running virtual pump: interrogate, save with read-back, refusals.

Each test starts its own pump server (speed 0: the pump's clock moves only by ``advance``) on a
temporary state folder, with "now" at ``NOW`` for both the clinic and the pump until a test
advances the pump. Scenario patients come from tests/store/pump_scenario.py: 20 mL of morphine
10 mg/mL at 0.1 mL/day, filled 30 days before ``NOW``.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from itertools import count
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.library import default_library
from intrathecal.pump.client import PumpClient
from intrathecal.pump.persistence import PumpStore
from intrathecal.pump.server import Running, serve_in_background
from intrathecal.store.models import Patient, ProgramApplication, Refill
from intrathecal.store.seed import ensure_users
from intrathecal.web.app import create_app
from intrathecal.web.pump_client_link import ClientLinks, links_from_env
from intrathecal.web.pump_link import TypedLinks
from intrathecal.web.refill_pump import checksum_of
from tests.store.conftest import NOW, fresh_url
from tests.store.pump_scenario import morphine_program, pump_patient
from tests.web.conftest import page_sign_in
from tests.web.wizard_contents import contents

DAY_S = 86_400.0
_mrns = count(1)


@dataclass
class Rig:
    client: TestClient
    sessions: sessionmaker[Session]
    links: ClientLinks
    pumps: Path
    csrf: str


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def clinic_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, sessionmaker[Session], ClientLinks, str]]:
    url = fresh_url(request.param, Path(tmp_path_factory.mktemp("pumpclinic")))
    links = ClientLinks("127.0.0.1", 1, timeout_s=2.0, retries=1)  # port set by each test
    app = create_app(url, clock=lambda: NOW, pump_links=links)
    with app.state.sessions.begin() as session:
        ensure_users(session, NOW)
    client = TestClient(app)
    answer = page_sign_in(client, "nurse")
    assert answer.status_code == 303
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert csrf is not None
    yield client, app.state.sessions, links, csrf.group(1)
    app.state.engine.dispose()


@pytest.fixture
def rig(
    clinic_app: tuple[TestClient, sessionmaker[Session], ClientLinks, str], tmp_path: Path
) -> Iterator[Rig]:
    client, sessions, links, csrf = clinic_app
    pumps = tmp_path / "pumps"
    pumps.mkdir()
    yield Rig(client, sessions, links, pumps, csrf)


@pytest.fixture
def server(rig: Rig) -> Iterator[Running]:
    with serve_in_background(rig.pumps, speed=0.0, start_s=NOW.timestamp()) as running:
        rig.links.port = running.port
        yield running


def new_patient(rig: Rig, *, pump: bool = True, stronger: bool = False) -> Patient:
    with rig.sessions.begin() as session:
        patient = pump_patient(
            session, rig.pumps if pump else None, f"PL{next(_mrns):04d}", stronger_signed=stronger
        )
        session.expunge(patient)
    return patient


def pump(server: Running, serial: str) -> PumpClient:
    return PumpClient(server.host, server.port, serial)


def refills_of(rig: Rig, patient_id: int) -> list[Refill]:
    with rig.sessions() as session:
        return list(
            session.execute(
                select(Refill).where(Refill.patient_id == patient_id).order_by(Refill.id)
            ).scalars()
        )


def form(rig: Rig, text: str, **values: str) -> dict[str, str]:
    """The wizard's form as the page filled it, with ``values`` typed over it."""
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)" value="([^"]*)"', text))
    fields.pop("confirm", None)
    return {**fields, **contents(text), "csrf_token": rig.csrf, **values}


def test_wizard_interrogates_the_pump_and_computes_at_the_pumps_time(
    rig: Rig, server: Running
) -> None:
    patient = new_patient(rig)
    with pump(server, f"P{patient.mrn}") as client:
        client.advance(DAY_S)  # the pump is one day ahead of the clinic's clock
    page = rig.client.get(f"/patients/{patient.id}/refill")
    assert page.status_code == 200, page.text
    # 31 days at 0.1 mL/day since the 20 mL fill: 20 - 3.1 = 16.9 mL in the pump's count.
    assert re.search(r'id="pump-reservoir">the pump counts <strong>16.9 mL</strong>', page.text)
    assert 'id="pump-time">03 Mar 2026 09:00 UTC' in page.text
    assert "1.0 days ahead of the clinic&#39;s clock" in page.text
    assert checksum_of(morphine_program("10 mg/mL"))[:16] in page.text
    assert 'name="mode" value="pump"' in page.text
    assert 'name="withdrawn" value=""' in page.text  # measured, never copied from the pump
    preview = rig.client.post(
        f"/patients/{patient.id}/refill",
        data=form(rig, page.text, withdrawn="16.8 mL", step="preview"),
    )
    assert preview.status_code == 200, preview.text
    # At the pump's time the records expect 20 - 31 x 0.1 = 16.90 mL (at the clinic's clock it
    # would be 17.00 mL): withdrawn 16.8 mL is 0.10 mL short, within 14.5% x 3.1 mL = 0.45 mL.
    assert "Expected residual 16.90 mL" in preview.text
    assert "discrepancy -0.10 mL" in preview.text
    assert "the pump itself counts 16.9 mL left" in preview.text


def test_save_refills_and_programs_the_pump_then_records_the_read_back(
    rig: Rig, server: Running
) -> None:
    patient = new_patient(rig, stronger=True)
    serial = f"P{patient.mrn}"
    with pump(server, serial) as client:
        client.advance(DAY_S)
    page = rig.client.get(f"/patients/{patient.id}/refill")
    values = form(rig, page.text, withdrawn="16.8 mL", fill="20 mL", program_version="2")
    preview = rig.client.post(f"/patients/{patient.id}/refill", data={**values, "step": "preview"})
    assert 'id="bridge"' in preview.text and 'name="bridge_on_pump"' in preview.text
    saved = rig.client.post(
        f"/patients/{patient.id}/refill",
        data={**values, "step": "save", "confirm": "yes", "bridge_on_pump": "yes"},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    new = checksum_of(morphine_program("20 mg/mL"))
    with pump(server, serial) as client:
        state = client.interrogate()
    assert state["reservoir"]["filled_ml"] == 20.0 and state["reservoir"]["remaining_ml"] == 20.0
    assert state["reservoir"]["drugs"] == [
        {"name": "morphine", "concentration_mcg_per_ml": 20_000.0}
    ]
    assert state["program"]["checksum"] == new
    rows = refills_of(rig, patient.id)
    assert len(rows) == 2
    row = rows[-1]
    assert row.via == "virtual pump"
    assert row.performed_at == NOW + timedelta(days=1)  # the pump's clock, not the clinic's
    assert row.expected_residual_ml == pytest.approx(16.9)
    assert row.withdrawn_ml == 16.8
    assert f"checksum {new}" in row.notes
    # The pump's own count agreed: 16.90 mL left, withdrawn 16.8 mL.
    assert "the pump's own count before the fill: 16.90 mL left, discrepancy -0.10 mL" in row.notes
    # Bridge 0.46 mL at 0.1 mL/day takes 110.4 h (4.6 days): started on the pump, said on the
    # record with its end, 110.4 h after the pump's fill time.
    assert "bridge bolus 0.460 mL started" in row.notes
    assert "NOT started" not in row.notes
    with rig.sessions() as session:
        applied = (
            session.execute(
                select(ProgramApplication)
                .where(ProgramApplication.patient_id == patient.id)
                .order_by(ProgramApplication.id.desc())
            )
            .scalars()
            .first()
        )
        assert applied is not None and applied.via == "virtual pump"
        assert applied.readback_matches and applied.readback == state["program"]["program_toml"]
    record = rig.client.get(saved.headers["location"])
    assert 'id="pump-readback"' in record.text and new in record.text


def test_pump_refusal_leaves_the_clinic_record_unsaved(rig: Rig, server: Running) -> None:
    patient = new_patient(rig, pump=False)
    serial = f"P{patient.mrn}"
    # The pump on the wand is a 40 mL model: it refuses the 20 mL pump's program.
    PumpStore.create(rig.pumps, serial, "synchromed-ii-40", NOW.timestamp(), default_library())
    page = rig.client.get(f"/patients/{patient.id}/refill")
    assert "the pump is a synchromed-ii-40" in page.text
    values = form(rig, page.text, withdrawn="17 mL", step="save", confirm="yes")
    answer = rig.client.post(f"/patients/{patient.id}/refill", data=values)
    assert answer.status_code == 422
    assert f"pump {serial} at 127.0.0.1:{server.port} refused the refill" in answer.text
    assert "nothing was saved in the clinic record" in answer.text
    assert len(refills_of(rig, patient.id)) == 1
    with pump(server, serial) as client:
        state = client.interrogate()
    assert state["reservoir"]["filled_at_s"] is None and state["program"] is None
    assert state["events"][-1]["kind"] == "refused"


def test_no_pump_answers_so_the_wizard_takes_typed_in_values(rig: Rig) -> None:
    patient = new_patient(rig)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        rig.links.port = probe.getsockname()[1]
    page = rig.client.get(f"/patients/{patient.id}/refill")
    assert 'id="pump-unavailable"' in page.text and "No answer from pump" in page.text
    assert 'name="mode" value="typed"' in page.text
    values = form(rig, page.text, withdrawn="17 mL")
    preview = rig.client.post(f"/patients/{patient.id}/refill", data={**values, "step": "preview"})
    assert 'id="pump-typed"' in preview.text
    assert "Expected residual 17.00 mL" in preview.text  # at the clinic's clock: 20 - 30 x 0.1
    saved = rig.client.post(
        f"/patients/{patient.id}/refill",
        data={**values, "step": "save", "confirm": "yes"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert refills_of(rig, patient.id)[-1].via == "typed in"


def test_pump_mode_save_without_an_answer_saves_nothing(rig: Rig) -> None:
    patient = new_patient(rig)
    with serve_in_background(rig.pumps, speed=0.0, start_s=NOW.timestamp()) as running:
        rig.links.port = running.port
        page = rig.client.get(f"/patients/{patient.id}/refill")
    assert 'name="mode" value="pump"' in page.text
    # The server is gone when the nurse saves.
    values = form(rig, page.text, withdrawn="17 mL", step="save", confirm="yes")
    answer = rig.client.post(f"/patients/{patient.id}/refill", data=values)
    assert answer.status_code == 422
    assert "No answer from pump" in answer.text and "nothing saved" in answer.text
    assert len(refills_of(rig, patient.id)) == 1


def test_a_server_without_this_pump_falls_back_to_typed_in(rig: Rig, server: Running) -> None:
    patient = new_patient(rig, pump=False)
    page = rig.client.get(f"/patients/{patient.id}/refill")
    assert f"has no pump P{patient.mrn}" in page.text
    assert 'name="mode" value="typed"' in page.text


def test_pump_link_comes_from_the_environment() -> None:
    assert isinstance(links_from_env({}), TypedLinks)
    links = links_from_env({"ITP_PUMP_PORT": "7474"})
    assert isinstance(links, ClientLinks) and (links.host, links.port) == ("127.0.0.1", 7474)
    with pytest.raises(ValueError, match="ITP_PUMP_PORT"):
        links_from_env({"ITP_PUMP_PORT": "seventy"})
    with pytest.raises(ValueError, match="ITP_PUMP_TIMEOUT_S"):
        links_from_env({"ITP_PUMP_PORT": "7474", "ITP_PUMP_TIMEOUT_S": "0"})


def test_chart_and_dashboard_show_the_pumps_live_alarms(rig: Rig, server: Running) -> None:
    patient = new_patient(rig)
    with pump(server, f"P{patient.mrn}") as client:
        client.alarm_test()
        title = client.interrogate()["alarms"][0]["title"]
    chart = rig.client.get(f"/patients/{patient.id}")
    assert 'id="pump-panel"' in chart.text
    # 30 days at 0.1 mL/day since the 20 mL fill: 17 mL left.
    assert "the pump counts <strong>17 mL</strong>" in chart.text
    assert "alarm_test (non-critical)" in chart.text
    board = rig.client.get("/")
    card = board.text[board.text.index('id="pump-alarms-card"') :]
    card = card[: card.index("</section>")]
    row = re.search(
        rf'<a href="/patients/{patient.id}">[^<]+</a></td><td class="soft">([^<]+)<', card
    )
    assert row is not None and row.group(1) == f"{title} (non-critical)"


def test_chart_says_when_the_pump_does_not_answer(rig: Rig) -> None:
    patient = new_patient(rig)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        rig.links.port = probe.getsockname()[1]
    chart = rig.client.get(f"/patients/{patient.id}")
    assert 'id="pump-panel"' in chart.text and "No answer: no answer from pump" in chart.text
    board = rig.client.get("/")
    assert "not all could be read" in board.text
