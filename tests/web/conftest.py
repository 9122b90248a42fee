"""An app on a seeded clinic, on SQLite and PostgreSQL, with a signed-in client per role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.store.seed import DEMO_USERS, seed_demo
from intrathecal.web.app import create_app
from tests.store.conftest import NOW, fresh_url

PASSWORDS = {username: password for username, _, _, password in DEMO_USERS}


def form_token(page: str) -> str:
    """The sign-in form's CSRF token (its cookie came with the page)."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)


def page_sign_in(
    client: TestClient, username: str, password: str | None = None, next: str = "/"
) -> httpx.Response:
    """Sign in through the form, as a browser does: fetch the form, post it with its token."""
    token = form_token(client.get("/sign-in").text)
    return client.post(
        "/sign-in",
        data={
            "username": username,
            "password": PASSWORDS[username] if password is None else password,
            "next": next,
            "csrf_token": token,
        },
        follow_redirects=False,
    )


@dataclass
class Clinic:
    client: TestClient
    sessions: sessionmaker[Session]
    tokens: dict[str, str]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def clinic(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Clinic]:
    url = fresh_url(request.param, Path(tmp_path_factory.mktemp("clinic")))
    app = create_app(url, clock=lambda: NOW)
    with app.state.sessions.begin() as session:
        seed_demo(session, patients=20, now=NOW)
    client = TestClient(app)
    tokens = {}
    for username, password in PASSWORDS.items():
        answer = client.post(
            "/api/v1/auth/sign-in", json={"username": username, "password": password}
        )
        assert answer.status_code == 200, answer.text
        tokens[username] = answer.json()["token"]
    client.cookies.clear()
    yield Clinic(client, app.state.sessions, tokens)
    app.state.engine.dispose()
