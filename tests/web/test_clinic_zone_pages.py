"""Times on the pages are the clinic's (issue 11, item 7): in ITP_CLINIC_TZ, one format, with the
zone's abbreviation, never raw ISO or an unlabelled UTC."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from intrathecal.web import display
from tests.web.conftest import Clinic, page_sign_in
from tests.web.test_api import implanted_id


@pytest.fixture
def chicago(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ITP_CLINIC_TZ", "America/Chicago")
    display.clinic_zone.cache_clear()
    yield
    monkeypatch.delenv("ITP_CLINIC_TZ")
    display.clinic_zone.cache_clear()


def test_dashboard_and_chart_show_times_in_the_clinic_zone(clinic: Clinic, chicago: None) -> None:
    client = TestClient(clinic.client.app)
    page_sign_in(client, "physician")
    dashboard = client.get("/").text
    # NOW is 2 March 2026 09:00 UTC: 03:00 in Chicago (CST, UTC-6).
    assert "02 Mar 2026 03:00 CST" in dashboard
    assert " UTC" not in re.sub(r"<[^>]+>", " ", dashboard)
    chart = client.get(f"/patients/{implanted_id(clinic)}").text
    assert re.search(r"\d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d C[SD]T", chart)
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", chart)  # no raw ISO times
    assert not re.search(r"\d\.\d{4,} mL(?!/)", chart)  # "11.31 mL", never "5.0074 mL"
