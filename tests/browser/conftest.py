"""The real clinic app under uvicorn on a loopback port, driven by Debian's chromium.

One server per session: a fresh SQLite file holding the demo clinic (50 patients, the seed's
fixed random numbers, "now" fixed at ``NOW``) plus three scenario patients whose numbers are
worked by hand in the tests. Each test gets its own browser context (its own cookies) at a fixed
1280x900 viewport; screenshots go to docs/screenshots/ (overwritten every run).
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.safety.review import Acknowledgement
from intrathecal.store import programs, records, refills
from intrathecal.store.models import Implant, Patient
from intrathecal.store.seed import DEMO_USERS, seed_demo
from intrathecal.web.app import create_app
from tests.store.conftest import NOW
from tests.support.browser import CHROMIUM_ARGS, chromium_path

ROOT = Path(__file__).resolve().parents[2]
# The README's screenshots are refreshed by `make screenshots` (ITP_SCREENSHOTS=docs/screenshots);
# an ordinary test run writes them to a temporary folder and leaves the work tree clean.
SCREENSHOTS = Path(
    os.environ.get("ITP_SCREENSHOTS") or Path(tempfile.gettempdir()) / "itp-screenshots"
).resolve()
VIEWPORT = {"width": 1280, "height": 900}
PASSWORDS = {username: password for username, _, _, password in DEMO_USERS}
# Scenario patients are filled 30 days before NOW with 20 mL of morphine 10 mg/mL at 1 mg/day.
FILLED_AT = NOW - timedelta(days=30)


def morphine_program(concentration: str, alarm: str = "4 mL") -> str:
    return f"""device = "synchromed-ii-20"
catheter_volume = "0.2 mL"
low_reservoir_alarm = "{alarm}"

[[drugs]]
name = "morphine"
concentration = "{concentration}"

[[basal]]
start = "00:00"
dose = "1 mg/day"
"""


@dataclass(frozen=True)
class LiveClinic:
    url: str
    sessions: sessionmaker[Session]
    refill_patient: int  # version 2 (20 mg/mL) signed, not yet in the pump: the wizard's case
    hard_patient: int  # for the hard-limit test
    soft_patient: int  # for the soft-limit acknowledgement test


def _sign(session: Session, patient: Patient, text: str, reason: str, at: datetime) -> None:
    """Sign a version as the physician would, acknowledging any soft finding."""
    _, result = programs.review_for_patient(session, patient, text, (), at)
    acks = tuple(Acknowledgement(f.code, "physician", "scenario") for f in result.unacknowledged)
    latest = programs.latest(session, patient.id)
    draft = programs.Draft(text, reason, latest.version if latest else None, acks)
    programs.save_version(session, patient, draft, "physician", at)


def scenario_patient(session: Session, mrn: str, name: str) -> Patient:
    """Implanted 30 days ago; version 1 (morphine 10 mg/mL, 1 mg/day) filled with 20 mL then."""
    patient = Patient(
        mrn=mrn,
        name=name,
        birth_date=date(1968, 5, 17),
        sex="female",
        created_at=FILLED_AT - timedelta(days=60),
    )
    records.add(session, patient, "physician", patient.created_at, "patient.create")
    implant = Implant(
        patient_id=patient.id,
        device_key="synchromed-ii-20",
        serial=f"S{mrn}",
        reservoir_ml=0,
        catheter_length_cm=70.0,
        catheter_volume_ml=0,
        tip_level="T10",
        setting="outpatient",
        implanted_at=FILLED_AT,
        replace_by=FILLED_AT,
        recorded_by="physician",
        recorded_at=FILLED_AT,
    )
    records.add_implant(session, patient, implant, "physician", FILLED_AT)
    text = morphine_program("10 mg/mL")
    _sign(session, patient, text, "initial program after implant", FILLED_AT)
    first = refills.RefillRequest(
        fill_ml=20.0, performed_at=FILLED_AT, program_version=1, readback=text
    )
    refills.save(session, patient, first, "nurse")
    return patient


def _free_socket() -> socket.socket:
    # Bound here and handed to uvicorn, so no other process can take the port in between.
    # Protocol TCP, not 0: asyncio then sets TCP_NODELAY on its connections (no 40 ms stalls).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="session")
def live_clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveClinic]:
    if chromium_path() is None:
        pytest.skip("Debian's chromium is not installed (.ci/system-packages installs it)")
    database = tmp_path_factory.mktemp("browser") / "clinic.db"
    app = create_app(f"sqlite:///{database}", clock=lambda: NOW)
    with app.state.sessions.begin() as session:
        seed_demo(session, patients=50, now=NOW)
        refill_patient = scenario_patient(session, "SCEN0001", "Sam Scenario")
        _sign(
            session,
            refill_patient,
            morphine_program("20 mg/mL"),
            "stronger solution, same dose: longer refill interval",
            NOW - timedelta(days=2),
        )
        hard = scenario_patient(session, "SCEN0002", "Harriet Hardlimit")
        soft = scenario_patient(session, "SCEN0003", "Sofia Softlimit")
        ids = (refill_patient.id, hard.id, soft.id)
    sock = _free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    yield LiveClinic(f"http://127.0.0.1:{port}", app.state.sessions, *ids)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    app.state.engine.dispose()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright, live_clinic: LiveClinic) -> Iterator[Browser]:
    path = chromium_path()
    assert path is not None  # live_clinic skipped otherwise
    browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser, live_clinic: LiveClinic) -> Iterator[BrowserContext]:
    context = browser.new_context(
        base_url=live_clinic.url, viewport=VIEWPORT, locale="en-GB", timezone_id="UTC"
    )
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def sign_in(page: Page, username: str, next_path: str = "/") -> None:
    page.goto(f"/sign-in?next={next_path}")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORDS[username])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{next_path}")


def screenshot(page: Page, name: str, *, full_page: bool = False, height: int = 0) -> None:
    """Save SCREENSHOTS/NAME.png: the viewport, the whole page, or its top ``height`` px."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if height:
        clip = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height}
        page.screenshot(path=path, full_page=True, clip=clip, animations="disabled")  # type: ignore[arg-type]
    else:
        page.screenshot(path=path, full_page=full_page, animations="disabled")
