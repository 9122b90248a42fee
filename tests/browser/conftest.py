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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.store.seed import DEMO_USERS, seed_demo
from intrathecal.web.app import create_app
from tests.store.conftest import NOW
from tests.store.pump_scenario import pump_patient
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


@dataclass(frozen=True)
class LiveClinic:
    url: str
    sessions: sessionmaker[Session]
    refill_patient: int  # version 2 (20 mg/mL) signed, not yet in the pump: the wizard's case
    hard_patient: int  # for the hard-limit test
    soft_patient: int  # for the soft-limit acknowledgement test


def _free_socket() -> socket.socket:
    # Bound here and handed to uvicorn, so no other process can take the port in between.
    # Protocol TCP, not 0: asyncio then sets TCP_NODELAY on its connections (no 40 ms stalls).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yield its URL."""
    sock = _free_socket()
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
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="session")
def live_clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveClinic]:
    if chromium_path() is None:
        pytest.skip("Debian's chromium is not installed (.ci/system-packages installs it)")
    database = tmp_path_factory.mktemp("browser") / "clinic.db"
    app = create_app(f"sqlite:///{database}", clock=lambda: NOW)
    with app.state.sessions.begin() as session:
        seed_demo(session, patients=50, now=NOW)
        # Implanted 30 days ago; version 1 (morphine 10 mg/mL, 1 mg/day) filled with 20 mL then.
        refill_patient = pump_patient(
            session, None, "SCEN0001", name="Sam Scenario", stronger_signed=True
        )
        hard = pump_patient(session, None, "SCEN0002", name="Harriet Hardlimit")
        soft = pump_patient(session, None, "SCEN0003", name="Sofia Softlimit")
        ids = (refill_patient.id, hard.id, soft.id)
    with serving(app) as url:
        yield LiveClinic(url, app.state.sessions, *ids)
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
