"""The Forecast page: charts and tables for clinical roles, audited as a read of the patient
list, refused to the admin, and bad numbers shown in the form with their unit."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from intrathecal.store.models import AuditEntry
from tests.web.conftest import Clinic, clinic  # noqa: F401 (the fixture)

# The page's reader runs on both databases in test_forecast_cli.py; here SQLite is enough.
pytestmark = pytest.mark.parametrize("clinic", ["sqlite"], indirect=True)


def last_entry(c: Clinic) -> AuditEntry:
    with c.sessions() as session:
        entry = session.execute(
            select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)
        ).scalar_one()
        return entry


def test_forecast_page_shows_the_three_forecasts_and_audits_the_read(clinic: Clinic) -> None:  # noqa: F811
    page = clinic.client.get("/forecast?weeks=2&margin=3", headers=clinic.headers("pharmacist"))
    assert page.status_code == 200, page.text
    for heading in ("Refill visits per day", "Drug needs per month", "Risk of running dry"):
        assert heading in page.text
    # The charts are images of their own (inline, the page's style policy blacked them out)
    assert page.text.count('<img src="data:image/svg+xml;base64,') >= 2
    assert 'alt="refill visits per day"' in page.text
    entry = last_entry(clinic)
    assert (entry.actor, entry.action, entry.target) == ("pharmacist", "patients.search",
                                                          "patients")  # fmt: skip
    detail = json.loads(entry.detail_json)
    assert (detail["read"], detail["weeks"], detail["margin"]) == ("forecast", 2, 3)


def test_forecast_page_is_refused_without_the_dashboard_permission(clinic: Clinic) -> None:  # noqa: F811
    assert clinic.client.get("/forecast", headers=clinic.headers("admin")).status_code == 403


def test_bad_numbers_are_shown_in_the_form_with_their_unit_and_read_nothing(
    clinic: Clinic,  # noqa: F811
) -> None:
    before = last_entry(clinic).seq
    page = clinic.client.get("/forecast?weeks=0&margin=x", headers=clinic.headers("nurse"))
    assert page.status_code == 400
    assert "weeks: must be 1 to 26 weeks, got 0" in page.text
    assert "margin: &#39;x&#39; is not a whole number of days" in page.text
    assert "Refill visits per day" not in page.text
    assert last_entry(clinic).seq == before


def test_the_nav_links_to_the_forecast(clinic: Clinic) -> None:  # noqa: F811
    assert 'href="/forecast"' in clinic.client.get("/", headers=clinic.headers("viewer")).text
