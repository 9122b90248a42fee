"""A clinician bolus between refills on the virtual pump, in a real browser.

A clinic of its own (uvicorn on a loopback port, "now" fixed at NOW) linked to a pump server
(speed 0) holding the scenario patient's pump (tests/store/pump_scenario.py): morphine 10 mg/mL
at 1 mg/day. Morphine's per-bolus limits (drug library): soft 0.5 mg, hard 1 mg. By hand:
0.2 mL x 10 mg/mL = 2 mg, above the hard limit (blocked); 0.04 mL = 0.4 mg over 30 min, within
every limit (sent; the pump answers it started at NOW and ends 30 min later).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.pump.client import PumpClient
from intrathecal.pump.server import serve_in_background
from intrathecal.store.models import ClinicBolus
from intrathecal.store.seed import ensure_users
from intrathecal.web.app import create_app
from intrathecal.web.pump_client_link import ClientLinks
from tests.browser.conftest import NOW, VIEWPORT, screenshot, serving, sign_in
from tests.store.pump_scenario import pump_patient


@dataclass(frozen=True)
class BolusClinic:
    url: str
    sessions: sessionmaker[Session]
    pump_port: int
    patient_id: int
    serial: str


@pytest.fixture(scope="module")
def bolus_clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BolusClinic]:
    folder = tmp_path_factory.mktemp("bolus-browser")
    pumps = folder / "pumps"
    pumps.mkdir()
    links = ClientLinks("127.0.0.1", 1)
    app = create_app(f"sqlite:///{folder / 'clinic.db'}", clock=lambda: NOW, pump_links=links)
    with app.state.sessions.begin() as session:
        ensure_users(session, NOW)
        patient = pump_patient(session, Path(pumps), "BRB0001")
        pid, serial = patient.id, f"P{patient.mrn}"
    with serve_in_background(pumps, speed=0.0, start_s=NOW.timestamp()) as running:
        links.port = running.port
        with serving(app) as url:
            yield BolusClinic(url, app.state.sessions, running.port, pid, serial)
    app.state.engine.dispose()


@pytest.fixture
def bolus_page(browser: Browser, bolus_clinic: BolusClinic) -> Iterator[Page]:
    context = browser.new_context(
        base_url=bolus_clinic.url, viewport=VIEWPORT, locale="en-GB", timezone_id="UTC"
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_a_clinician_bolus_is_reviewed_sent_to_the_virtual_pump_and_recorded_once(
    bolus_page: Page, bolus_clinic: BolusClinic
) -> None:
    page, pid = bolus_page, bolus_clinic.patient_id
    sign_in(page, "nurse", f"/patients/{pid}")
    page.get_by_role("link", name="Give a bolus").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("A bolus between refills")
    expect(page.locator("#interrogation")).to_be_visible()
    page.get_by_label("Kind").select_option("clinician")
    page.get_by_label("Volume").fill("0.2 mL")
    page.get_by_label("Duration").fill("30 min")
    page.get_by_label("Reason (recorded)").fill("breakthrough pain, 7/10")
    page.get_by_role("button", name="Review").click()
    expect(page.locator("#blocking")).to_contain_text(
        "2 mg of morphine is above its hard limit per bolus 1 mg"
    )
    expect(page.get_by_role("button", name="Send to the pump")).to_be_disabled()
    page.get_by_label("Volume").fill("0.04 mL")
    page.get_by_role("button", name="Review").click()
    expect(page.locator("#findings")).to_contain_text("No limit crossed.")
    expect(page.locator("#review-result")).to_contain_text("0.4 mg of morphine")
    page.get_by_label("I checked the bolus with the patient and the pump.").check()
    key = page.locator("#bolus-form input[name=form_key]").input_value()
    form = {
        name: page.locator(f"#bolus-form input[name={name}]").input_value()
        for name in ("csrf_token", "form_key", "in_force_version")
    }
    page.get_by_role("button", name="Send to the pump").click()
    expect(page.locator("#done")).to_contain_text("Clinician bolus given")
    expect(page.locator("#done")).to_contain_text("started 02 Mar 2026 09:00 UTC")
    expect(page.locator("#given")).to_contain_text("0.04 mL")
    screenshot(page, "bolus-virtual-pump", full_page=True)
    # The same form posted again (a double click, a reload): nothing is sent a second time.
    again = page.request.post(
        f"/patients/{pid}/bolus",
        form={
            **form,
            "kind": "clinician",
            "volume": "0.04 mL",
            "duration": "30 min",
            "reason": "breakthrough pain, 7/10",
            "confirm": "yes",
            "action": "give",
        },
    )
    assert again.ok and "Clinician bolus given" in again.text()
    with PumpClient("127.0.0.1", bolus_clinic.pump_port, bolus_clinic.serial) as client:
        events = client.interrogate(since=0)["events"]
    assert [e["kind"] for e in events].count("bolus_started") == 1
    with bolus_clinic.sessions() as session:
        rows = session.execute(select(ClinicBolus).where(ClinicBolus.form_key == key)).all()
        assert len(rows) == 1
