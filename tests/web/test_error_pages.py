"""Errors as pages (issue 11, item 8): a browser is never shown the API's JSON, a Python or
pydantic message, or a broken sentence, and no input to a page gives a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intrathecal.web.error_pages import readable, sentence
from tests.web.conftest import Clinic, page_sign_in
from tests.web.test_api import implanted_id

P = "{patient}"
# What a person must never read on a page.
RAW = ('{"ok"', "Input should", "invalid literal", "Traceback", "not found.", "Value error")


@pytest.fixture(scope="module")
def browser(clinic: Clinic) -> TestClient:
    client = TestClient(clinic.client.app, raise_server_exceptions=False)
    page_sign_in(client, "physician")
    return client


def _readable_page(answer: object, status: int) -> str:
    assert answer.status_code == status, answer.text  # type: ignore[attr-defined]
    assert answer.headers["content-type"].startswith("text/html")  # type: ignore[attr-defined]
    text: str = answer.text  # type: ignore[attr-defined]
    for raw in RAW:
        assert raw not in text, (raw, text)
    return text


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/patients?offset=abc", 422, "Offset must be a whole number."),
        ("/patients?offset=-1", 422, "Offset must be 0 or more."),
        (f"/patients?offset={10**30}", 422, "Offset must be"),
        ("/patients?q=a%00b", 422, "must not contain a NUL character"),
        ("/patients/abc", 422, "Patient number must be a whole number."),
        ("/patients/%C2%B9", 422, "Patient number must be a whole number."),
        (f"/patients/{P}/refills/abc", 422, "Refill number must be a whole number."),
        (f"/patients/{P}/refills/99999", 404, f"There is no refill 99999 of patient {P}."),
        ("/patients/2147483000", 404, "There is no patient 2147483000."),
        ("/admin/audit?offset=zz", 403, "Not allowed"),
        ("/no-such-page", 404, "There is no such page."),
    ],
)
def test_bad_input_to_a_page_gives_a_readable_page(
    clinic: Clinic, browser: TestClient, path: str, status: int, says: str
) -> None:
    pid = str(implanted_id(clinic))
    text = _readable_page(browser.get(path.replace(P, pid)), status)
    assert says.replace(P, pid) in text


def test_a_wrong_method_on_a_page_is_a_page_with_allow(browser: TestClient) -> None:
    answer = browser.post("/patients")
    _readable_page(answer, 405)
    assert "GET" in answer.headers["allow"]


def test_a_form_without_its_token_is_a_page_saying_so(browser: TestClient) -> None:
    answer = browser.post("/admin/users/1/role", data={"role": "nurse"})
    assert "reload the page" in _readable_page(answer, 403)


def test_the_api_still_answers_json(clinic: Clinic) -> None:
    answer = clinic.client.get("/api/v1/patients?offset=abc", headers=clinic.headers("viewer"))
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "offset"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(["/patients", "/calendar", "/", "/outcomes", "/admin/audit", "/account"]),
    name=st.sampled_from(["q", "offset", "start", "days", "next", "version"]),
    value=st.text(max_size=300) | st.integers().map(str),
)
def test_no_query_parameter_gives_a_500_on_a_page(
    browser: TestClient, path: str, name: str, value: str
) -> None:
    """Any value of any parameter, on the daily pages: a page, never a server error."""
    answer = browser.get(path, params={name: value})
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        _readable_page(answer, answer.status_code)


def test_readable_words_for_pydantic_errors() -> None:
    error = {"type": "less_than_equal", "loc": ("query", "offset"), "ctx": {"le": 10_000}}
    assert sentence(readable(error)) == "Offset must be 10000 or less."
    assert readable({"type": "odd", "loc": ("body", "x"), "msg": "Value error, bad"}) == "x: bad"
