"""The refill calendar (issue 11, items 7 and 10): counts per clinic day in the clinic's zone,
refills booked on opening days within capacity and never after they are due, and a day's list
fetched on its own page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from intrathecal.clinical.clinic_days import ClinicDays
from intrathecal.store.models import Patient, Stage
from intrathecal.store.seed import ensure_users
from intrathecal.web import display
from intrathecal.web.app import create_app
from intrathecal.web.settings import Settings, SettingsError, from_env
from tests.store.conftest import NOW, fresh_url
from tests.web.conftest import page_sign_in

# NOW is Monday 2 March 2026 09:00 UTC.
THU, FRI, SAT = (datetime(2026, 3, d, 10, 0, tzinfo=UTC) for d in (5, 6, 7))


def _app(url: str, due: list[datetime], capacity: int) -> FastAPI:
    days = ClinicDays(frozenset(range(5)), capacity)
    app = create_app(url, clock=lambda: NOW, settings=Settings(clinic_days=days))
    with app.state.sessions.begin() as session:
        ensure_users(session, NOW)
        for i, at in enumerate(due):
            session.add(
                Patient(
                    mrn=f"CAL{i:04d}",
                    name=f"Patient {i:04d}",
                    birth_date=date(1960, 1, 1),
                    sex="female",
                    created_at=NOW,
                    stage=Stage.IMPLANTED.value,
                    next_refill_due_at=at,
                )
            )
    return app


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_url(request.param, tmp_path)


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    display.clinic_zone.cache_clear()
    yield
    display.clinic_zone.cache_clear()


def _client(app: FastAPI) -> TestClient:
    client = TestClient(app, raise_server_exceptions=False)
    page_sign_in(client, "nurse")
    return client


def _counts(page: str) -> dict[str, str]:
    """Day link -> its text on the month view."""
    return dict(re.findall(r'href="/calendar/(\d{4}-\d\d-\d\d)" class="count">([^<]+)<', page))


def test_calendar_books_weekend_refills_on_friday_and_a_full_day_early(
    url: str, zone: None
) -> None:
    """Mon-Fri, 2 a day. Due Thu 1, Fri 2, Sat 1: Sat's goes to Fri (3 on Fri); Fri keeps its
    latest 2 and its earliest goes to Thu: Thu 2, Fri 2 (clinical/clinic_days.py)."""
    app = _app(url, [THU, FRI, FRI + timedelta(hours=1), SAT], capacity=2)
    client = _client(app)
    month = client.get("/calendar")
    assert month.status_code == 200
    assert _counts(month.text) == {"2026-03-05": "2 refills", "2026-03-06": "2 refills"}
    assert "closed: 1 due, booked earlier" in month.text  # Saturday
    assert "Mon-Fri, 2 refills a day" in month.text and "in UTC" in month.text
    thursday = client.get("/calendar/2026-03-05")
    names = re.findall(r"Patient \d{4}", thursday.text)
    assert names == ["Patient 0000", "Patient 0001"]  # Thu's own, then Fri's earliest
    assert "booked early (due Fri 06 Mar)" in thursday.text
    friday = re.findall(r"Patient \d{4}", client.get("/calendar/2026-03-06").text)
    assert friday == ["Patient 0002", "Patient 0003"]  # Fri's latest and Saturday's
    app.state.engine.dispose()


def test_calendar_days_are_the_clinic_zones_days(
    url: str, zone: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thu 5 Mar 20:00 UTC is Fri 6 Mar 09:00 in Auckland (NZDT, UTC+13): a Friday refill."""
    monkeypatch.setenv("ITP_CLINIC_TZ", "Pacific/Auckland")
    app = _app(url, [datetime(2026, 3, 5, 20, 0, tzinfo=UTC)], capacity=40)
    client = _client(app)
    month = client.get("/calendar")
    assert _counts(month.text) == {"2026-03-06": "1 refill"}
    assert "Pacific/Auckland" in month.text
    day = client.get("/calendar/2026-03-06")
    assert "06 Mar 2026 09:00 NZDT" in day.text  # the due time, in the clinic's zone
    app.state.engine.dispose()


def test_the_month_view_sends_counts_not_patients(url: str, zone: None) -> None:
    app = _app(url, [THU + timedelta(minutes=i) for i in range(60)], capacity=100)
    client = _client(app)
    month = client.get("/calendar")
    assert _counts(month.text) == {"2026-03-05": "60 refills"}
    assert "Patient 00" not in month.text
    day = client.get("/calendar/2026-03-05")
    assert len(re.findall(r"Patient \d{4}", day.text)) == 60
    app.state.engine.dispose()


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/calendar/2020-01-01", 404, "There is no refill booked on 01 Jan 2020"),
        ("/calendar/2026-03-07", 404, "There is no refill booked on 07 Mar 2026"),  # closed
        ("/calendar/03-05-2026", 422, "Day: give a date like 2026-03-02."),
        ("/calendar/" + "9" * 500, 404, "There is no day 999"),  # beyond any id: checked_parameters
    ],
)
def test_a_day_the_calendar_does_not_book_is_a_readable_page(
    tmp_path: Path, zone: None, path: str, status: int, says: str
) -> None:
    app = _app(fresh_url("sqlite", tmp_path), [THU], capacity=40)
    answer = _client(app).get(path)
    assert answer.status_code == status and says in answer.text
    app.state.engine.dispose()


def test_clinic_settings_are_validated_naming_the_variable() -> None:
    read = from_env({"ITP_CLINIC_DAYS": "Mon,Wed,Fri", "ITP_CLINIC_CAPACITY": "12"})
    assert read.clinic_days == ClinicDays(frozenset({0, 2, 4}), 12)
    assert from_env({}).clinic_days.describe() == "Mon-Fri, 12 refills a day"
    for env, name in (
        ({"ITP_CLINIC_DAYS": "weekdays"}, "ITP_CLINIC_DAYS"),
        ({"ITP_CLINIC_CAPACITY": "0"}, "ITP_CLINIC_CAPACITY"),
        ({"ITP_CLINIC_CAPACITY": "ten"}, "ITP_CLINIC_CAPACITY"),
        ({"ITP_CLINIC_CAPACITY": "-3"}, "ITP_CLINIC_CAPACITY"),
    ):
        with pytest.raises(SettingsError, match=name):
            from_env(env)
