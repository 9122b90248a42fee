"""Headers and hosts (issue 10, item 11): a strict Content-Security-Policy and friends on every
answer, no inline script in any template, the Secure cookie by configuration, and links built on
the configured base URL, never on the Host header."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from intrathecal.web import settings
from intrathecal.web.app import create_app
from tests.store.conftest import NOW, fresh_url
from tests.web.conftest import PASSWORDS, Clinic, page_sign_in
from tests.web.test_api import implanted_id

TEMPLATES = Path(__file__).resolve().parents[2] / "src/intrathecal/web/templates"


def directives(policy: str) -> dict[str, str]:
    return {
        part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2]
        for part in policy.split(";")
        if part.strip()
    }


def test_pages_api_and_errors_carry_the_security_headers(clinic: Clinic) -> None:
    client = TestClient(clinic.client.app)
    page_sign_in(client, "nurse")
    pid = implanted_id(clinic)
    answers = [
        client.get("/sign-in"),
        client.get("/"),
        client.get(f"/patients/{pid}"),
        client.get("/patients/999999"),  # an error page
        clinic.client.get("/api/v1/dashboard", headers=clinic.headers("nurse")),
        clinic.client.get("/api/v1/dashboard"),  # 401
    ]
    for answer in answers:
        policy = directives(answer.headers["content-security-policy"])
        assert policy["frame-ancestors"] == "'none'"
        assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no other origin
        assert "unsafe" not in answer.headers["content-security-policy"]
        assert policy["object-src"] == "'none'"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"


def test_chart_svg_gets_a_policy_without_script(clinic: Clinic) -> None:
    client = TestClient(clinic.client.app)
    page_sign_in(client, "nurse")
    svg = client.get(f"/patients/{implanted_id(clinic)}/reservoir.svg")
    assert svg.status_code == 200
    policy = directives(svg.headers["content-security-policy"])
    assert policy["default-src"] == "'none'" and "script-src" not in policy
    assert svg.headers["x-content-type-options"] == "nosniff"


def test_no_template_has_inline_script_or_handlers() -> None:
    """The policy allows no inline script: a template with one would break in the browser."""
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert not re.search(r"\son[a-z]+\s*=", text), template.name
        assert "javascript:" not in text, template.name
        assert "<style" not in text and " style=" not in text, template.name


def sign_in_cookie(app: object, scheme: str = "http") -> str:
    client = TestClient(app, base_url=f"{scheme}://testserver")  # type: ignore[arg-type]
    answer = client.post(
        "/api/v1/auth/sign-in", json={"username": "nurse", "password": PASSWORDS["nurse"]}
    )
    assert answer.status_code == 200, answer.text
    return answer.headers["set-cookie"].lower()


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """An app behind a TLS proxy at https://clinic.example.org (seen as plain http)."""
    url = fresh_url("sqlite", tmp_path_factory.mktemp("configured"))
    app = create_app(
        url,
        clock=lambda: NOW,
        settings=settings.Settings(base_url="https://clinic.example.org", cookie_secure=True),
    )
    from intrathecal.store.seed import seed_demo

    with app.state.sessions.begin() as session:
        seed_demo(session, patients=3, now=NOW)
    return TestClient(app)


def test_secure_cookie_by_configuration(clinic: Clinic, configured: TestClient) -> None:
    assert "secure" not in sign_in_cookie(clinic.client.app)  # plain http, not configured
    assert "; secure" in sign_in_cookie(clinic.client.app, "https")
    assert "; secure" in sign_in_cookie(configured.app)  # http seen, but behind TLS


def test_patient_links_use_the_base_url_never_the_host_header(configured: TestClient) -> None:
    token = configured.post(
        "/api/v1/auth/sign-in", json={"username": "nurse", "password": PASSWORDS["nurse"]}
    ).json()["token"]
    configured.cookies.clear()
    answer = configured.post(
        "/api/v1/patients/1/outcomes/links",
        json={"procedure": "radiofrequency-ablation", "timepoint": "baseline"},
        headers={"Authorization": f"Bearer {token}", "Host": "evil.example"},
    )
    assert answer.status_code == 201, answer.text
    link = answer.json()["link"]
    assert link["url"] == f"https://clinic.example.org/q/{link['token']}"


def test_settings_from_the_environment() -> None:
    assert settings.from_env({}) == settings.Settings("http://127.0.0.1:8000", False)
    read = settings.from_env({"ITP_BASE_URL": "https://c.example/", "ITP_COOKIE_SECURE": "1"})
    assert read == settings.Settings("https://c.example", True)
    for bad in ({"ITP_BASE_URL": "c.example"}, {"ITP_COOKIE_SECURE": "maybe"}):
        with pytest.raises(settings.SettingsError, match="ITP_"):
            settings.from_env(bad)


def test_serve_defaults_the_base_url_to_the_address_served(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from intrathecal.web.serve import default_base_url

    monkeypatch.delenv("ITP_BASE_URL", raising=False)
    default_base_url("127.0.0.1", 9000)
    assert settings.from_env().base_url == "http://127.0.0.1:9000"
    default_base_url("10.0.0.5", 8000)  # a configured (here: earlier) value is kept
    assert settings.from_env().base_url == "http://127.0.0.1:9000"
    monkeypatch.delenv("ITP_BASE_URL")
    default_base_url("0.0.0.0", 8000)
    assert settings.from_env().base_url == settings.DEFAULT_BASE_URL
