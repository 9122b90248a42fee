"""The refill wizard against a running virtual pump, in a real browser.

A clinic of its own (uvicorn on a loopback port, "now" fixed at NOW) linked to a pump server
(speed 0) holding the scenario patient's pump (tests/store/pump_scenario.py): 20 mL of morphine
10 mg/mL at 0.1 mL/day filled 30 days before NOW; version 2 (20 mg/mL, same dose) signed, not yet
in the pump. The pump is advanced one day before the nurse opens the wizard. By hand:

- the pump counts 20 - 31 x 0.1 = 16.9 mL; the clinic computes at the pump's time, so it
  expects 16.90 mL too (at its own clock it would say 17.00 mL)
- withdrawn 16.8 mL: discrepancy -0.10 mL, within 14.5% x 3.1 mL = 0.45 mL and 1 mL
- saved: the pump holds 20 mL of morphine 20 mg/mL and version 2's checksum, read back on the
  record; the refill is dated at the pump's time, NOW + 1 day
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
from intrathecal.store import programs
from intrathecal.store.models import ProgramApplication, Refill
from intrathecal.store.seed import ensure_users
from intrathecal.web.app import create_app
from intrathecal.web.pump_client_link import ClientLinks
from intrathecal.web.refill_pump import checksum_of
from tests.browser.conftest import NOW, VIEWPORT, screenshot, serving, sign_in
from tests.store.pump_scenario import morphine_program, pump_patient, sign


@dataclass(frozen=True)
class PumpClinic:
    url: str
    sessions: sessionmaker[Session]
    pump_port: int
    patient_id: int
    serial: str


@pytest.fixture(scope="module")
def pump_clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PumpClinic]:
    folder = tmp_path_factory.mktemp("pump-browser")
    pumps = folder / "pumps"
    pumps.mkdir()
    links = ClientLinks("127.0.0.1", 1)
    app = create_app(f"sqlite:///{folder / 'clinic.db'}", clock=lambda: NOW, pump_links=links)
    with app.state.sessions.begin() as session:
        ensure_users(session, NOW)
        patient = pump_patient(session, Path(pumps), "BRW0001", stronger_signed=True)
        pid, serial = patient.id, f"P{patient.mrn}"
    with serve_in_background(pumps, speed=0.0, start_s=NOW.timestamp()) as running:
        links.port = running.port
        with PumpClient("127.0.0.1", running.port, serial) as client:
            client.advance(86_400)
        with serving(app) as url:
            yield PumpClinic(url, app.state.sessions, running.port, pid, serial)
    app.state.engine.dispose()


@pytest.fixture
def pump_page(browser: Browser, pump_clinic: PumpClinic) -> Iterator[Page]:
    context = browser.new_context(
        base_url=pump_clinic.url, viewport=VIEWPORT, locale="en-GB", timezone_id="UTC"
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_refill_wizard_interrogates_refills_and_reads_back_the_virtual_pump(
    pump_page: Page, pump_clinic: PumpClinic
) -> None:
    page, pid = pump_page, pump_clinic.patient_id
    sign_in(page, "nurse", f"/patients/{pid}")
    expect(page.locator("#pump-panel")).to_contain_text("16.9 mL")  # the chart's live panel
    page.get_by_role("link", name="Refill wizard").click()
    expect(page.locator("#pump-time")).to_have_text("03 Mar 2026 09:00 UTC")
    expect(page.locator("#interrogation")).to_contain_text("1.0 days ahead of the clinic's clock")
    expect(page.locator("#pump-reservoir")).to_contain_text("the pump counts 16.9 mL left")
    expect(page.locator("#pump-alarms")).to_have_text("none")
    expect(page.locator(".pump-check")).to_have_count(0)  # pump and records agree
    expect(page.get_by_label("Volume withdrawn")).to_have_value("")  # measured, not copied

    page.get_by_role("button", name="Interrogate the pump again").click()
    expect(page.locator("#pump-time")).to_have_text("03 Mar 2026 09:00 UTC")  # speed 0

    page.get_by_label("Volume withdrawn").fill("16.8 mL")
    page.get_by_label("Program after the refill").select_option("2")
    page.get_by_role("button", name="Compute reconciliation, recipe and due date").click()
    plan = page.locator("#plan")
    expect(plan).to_contain_text(
        "Expected residual 16.90 mL (filled 20.0 mL − delivered 3.10 mL); withdrawn 16.8 mL; "
        "discrepancy -0.10 mL."
    )
    expect(page.locator("#reconciliation")).to_contain_text("Within limits")
    expect(page.locator("#pump-save")).to_contain_text("only after the pump confirmed")
    screenshot(page, "refill-wizard-virtual-pump", full_page=True)

    page.get_by_label("morphine lot").fill("M2406-11")
    page.get_by_label("morphine expiry").fill("2026-09-30")
    page.get_by_label("Compounded by (full name)").fill("Priya Pharmacist")
    page.get_by_label("I checked the withdrawn volume").check()
    page.get_by_role("button", name="Save refill").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Refill record")
    checksum = checksum_of(morphine_program("20 mg/mL"))
    readback = page.locator("#pump-readback")
    expect(readback).to_contain_text(f"program version 2 active, checksum {checksum}")
    expect(readback).to_contain_text("bridge bolus 0.460 mL started")
    screenshot(page, "refill-record-virtual-pump")

    with PumpClient("127.0.0.1", pump_clinic.pump_port, pump_clinic.serial) as client:
        state = client.interrogate()
    assert state["program"]["checksum"] == checksum
    assert state["reservoir"]["remaining_ml"] == 20.0
    with pump_clinic.sessions() as session:
        rows = session.execute(select(Refill).where(Refill.patient_id == pid)).scalars().all()
        assert [r.via for r in rows] == ["typed in", "virtual pump"]
        assert rows[-1].expected_residual_ml == pytest.approx(16.9)


def test_a_titration_between_refills_is_sent_read_back_and_recorded_once(
    pump_page: Page, pump_clinic: PumpClinic
) -> None:
    """A new version with the solution in force (10 or 20 mg/mL morphine, whichever the pump
    holds) and 1.1 mg/day instead of 1 mg/day (+10%, below the 20% soft limit): applied on the
    pump without a refill, through the journal, read back by checksum, recorded and audited."""
    page, pid = pump_page, pump_clinic.patient_id
    with pump_clinic.sessions.begin() as session:
        running = programs.in_force(session, pid)
        assert running is not None
        concentration = programs.parse(running.program_toml).first.concentration_mcg_per_ml
        text = morphine_program(f"{concentration / 1000:g} mg/mL").replace(
            'dose = "1 mg/day"', 'dose = "1.1 mg/day"'
        )
        patient = programs.require_patient(session, pid)
        sign(session, patient, text, "titration: 10% more")
        new = programs.latest(session, pid)
        assert new is not None
        number = new.version
    sign_in(page, "nurse", f"/patients/{pid}/program/apply")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Apply a program")
    expect(page.get_by_label("Version to apply")).to_have_value(str(number))
    expect(page.locator("#interrogation")).to_be_visible()
    row = page.locator("#comparison tr", has_text="morphine daily dose")
    expect(row).to_contain_text("+10.0%")
    send = page.get_by_role("button", name="Send to the pump")
    send.click()
    expect(page.locator("#errors")).to_contain_text("tick the confirmation")
    page.get_by_label("I checked the change with the patient and the pump.").check()
    csrf = page.locator("#apply-form input[name=csrf_token]").input_value()
    in_force = page.locator("#apply-form input[name=in_force_version]").input_value()
    page.get_by_role("button", name="Send to the pump").click()
    expect(page.locator("#done")).to_have_text(f"Version {number} is in force on the pump.")
    screenshot(page, "program-apply-virtual-pump", full_page=True)

    with PumpClient("127.0.0.1", pump_clinic.pump_port, pump_clinic.serial) as client:
        assert client.interrogate()["program"]["checksum"] == checksum_of(text)
    # The same form posted again (a double click, a reload): nothing is sent a second time.
    again = page.request.post(
        f"/patients/{pid}/program/apply",
        form={
            "csrf_token": csrf,
            "version": str(number),
            "in_force_version": in_force,
            "confirm": "yes",
        },
    )
    assert again.ok and "is in force on the pump" in again.text()
    with pump_clinic.sessions() as session:
        current = programs.in_force(session, pid)
        assert current is not None and current.version == number
        applied = (
            session.execute(
                select(ProgramApplication).where(
                    ProgramApplication.program_version_id == current.id
                )
            )
            .scalars()
            .all()
        )
        assert [(a.applied_by, a.readback_matches) for a in applied] == [("nurse", True)]
