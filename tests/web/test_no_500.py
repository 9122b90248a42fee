"""No 500s (issue 10, item 12): numbers no row can have, offsets past any list, times without a
zone or off the calendar, and a "$" in a chart label all get 404 or 422, never a server error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from intrathecal.charts.clinic import doses_svg
from tests.web.conftest import Clinic, page_sign_in
from tests.web.test_api import implanted_id

BIG = "99999999999999999999"  # > 2^63 - 1: overflowed SQLite's integer
P = "{patient}"

API_CASES = [
    # (method, path, body, status)
    ("GET", f"/api/v1/patients/{BIG}", None, 404),
    ("GET", f"/api/v1/patients/-{BIG}", None, 404),
    ("GET", "/api/v1/patients/%C2%B9", None, 422),  # "¹": a digit to str.isdigit, not to int()
    ("GET", f"/api/v1/patients/{BIG}/programs", None, 404),
    ("GET", f"/api/v1/patients/{BIG}/refills", None, 404),
    ("GET", f"/api/v1/patients/{P}/refills/{BIG}", None, 404),
    ("GET", f"/api/v1/patients/{BIG}/outcomes", None, 404),
    ("POST", f"/api/v1/patients/{P}/alarms/{BIG}/clear", {}, 404),
    ("POST", f"/api/v1/patients/{P}/programs/{BIG}/apply", {}, 404),
    ("POST", f"/api/v1/users/{BIG}/end-sessions", {}, 404),
    ("GET", f"/api/v1/patients?offset={10**30}", None, 422),
    ("GET", f"/api/v1/patients/{P}/refills?offset={10**30}", None, 422),
    ("GET", f"/api/v1/audit?offset={10**30}", None, 422),
    ("GET", "/api/v1/calendar?start=2026-01-01T00:00:00", None, 422),  # no zone
    ("GET", "/api/v1/calendar?start=9999-12-31T00:00:00Z", None, 422),  # + 28 days overflowed
    ("GET", "/api/v1/calendar?start=0001-01-01T00:00:00Z", None, 422),
    ("GET", "/api/v1/calendar?start=0.0", None, 422),  # was read as seconds since 1970
    (
        "POST",
        f"/api/v1/patients/{P}/refills/preview",
        {"fill": "20 mL", "withdrawn": "3 mL", "program_version": int(BIG)},
        422,
    ),
    (
        "POST",
        f"/api/v1/patients/{P}/appointments",
        {"kind": "refill", "starts_at": "9999-12-31T23:00:00Z"},
        422,
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), API_CASES)
def test_api_out_of_range_input_is_404_or_422(
    clinic: Clinic, method: str, path: str, body: dict[str, object] | None, status: int
) -> None:
    client = TestClient(clinic.client.app, raise_server_exceptions=False)
    role = "admin" if "/users/" in path or "/audit" in path else "physician"
    url = path.replace(P, str(implanted_id(clinic)))
    answer = client.request(method, url, json=body, headers=clinic.headers(role))
    assert answer.status_code == status, answer.text
    assert answer.json()["ok"] is False and answer.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/patients/{BIG}", 404),
        (f"/patients/{BIG}/reservoir.svg", 404),
        (f"/patients/{BIG}/doses.svg", 404),
        (f"/patients/{BIG}/program", 404),
        (f"/patients?offset={10**30}", 422),
    ],
)
def test_pages_out_of_range_input_is_404_or_422(clinic: Clinic, path: str, status: int) -> None:
    client = TestClient(clinic.client.app, raise_server_exceptions=False)
    page_sign_in(client, "physician")
    assert client.get(path).status_code == status


def test_dollar_signs_in_chart_labels_are_drawn_not_parsed() -> None:
    """A "$" pair is matplotlib mathtext; "$\\frac$" made the chart raise (a 500 on the page)."""
    name = r"m$^$x $\frac$"
    at = datetime(2026, 1, 1, tzinfo=UTC)
    svg = doses_svg({name: [(at, 1.0)]}, datetime(2026, 3, 2, tzinfo=UTC), {name: "mg"})
    assert svg.startswith(b"<?xml") and b"m$^$x $\\frac$" in svg


def test_calendar_answer_keeps_its_from_key(clinic: Clinic) -> None:
    answer = clinic.client.get(
        "/api/v1/calendar?start=2026-03-02T00:00:00Z&days=7", headers=clinic.headers("nurse")
    )
    assert answer.status_code == 200
    assert answer.json()["from"] == "2026-03-02T00:00:00Z" and answer.json()["days"] == 7


def test_a_body_that_is_not_json_is_422_in_the_error_shape(clinic: Clinic) -> None:
    answer = clinic.client.post(
        "/api/v1/compounding/recipe",
        content=b"\xff\xfe{not json",
        headers={**clinic.headers("physician"), "Content-Type": "application/json"},
    )
    assert answer.status_code == 422
    assert answer.json() == {
        "ok": False,
        "errors": [{"field": "body", "message": "not valid JSON (UTF-8)"}],
    }
    missing = clinic.client.get("/api/v1/no-such-thing", headers=clinic.headers("physician"))
    assert missing.status_code == 404 and missing.json()["ok"] is False


def test_nul_characters_are_refused_naming_the_field(clinic: Clinic) -> None:
    """PostgreSQL stores no NUL in text: sent on, it was a 500."""
    search = clinic.client.get("/api/v1/patients?q=a%00b", headers=clinic.headers("viewer"))
    assert search.status_code == 422 and search.json()["errors"][0]["field"] == "q"
    pid = implanted_id(clinic)
    body = {"kind": "low reservoir", "message": "x\u0000y"}
    answer = clinic.client.post(
        f"/api/v1/patients/{pid}/alarms", json=body, headers=clinic.headers("nurse")
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["message"] == "message must not contain a NUL character"


def test_ids_beyond_the_integer_column_are_404(clinic: Clinic) -> None:
    """Ids are INTEGER columns: 2^31 on PostgreSQL overflowed (a 500); 2^31 - 1 is just absent."""
    for pid, status in ((2**31, 404), (2**31 - 1, 404)):
        answer = clinic.client.get(f"/api/v1/patients/{pid}", headers=clinic.headers("viewer"))
        assert answer.status_code == status, answer.text


def test_nul_characters_in_a_form_are_refused(clinic: Clinic) -> None:
    client = TestClient(clinic.client.app, raise_server_exceptions=False)
    page_sign_in(client, "physician")
    pid = implanted_id(clinic)
    page = client.get(f"/patients/{pid}/program")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    answer = client.post(
        f"/patients/{pid}/program/toml",
        data={"csrf_token": token, "program_toml": "x\x00y", "reason": "r"},
    )
    assert answer.status_code == 422
