"""Outcomes pages: who may see them, the staff questionnaire form, the patient's one-time link
(works once, refuses reuse and expiry, shows nothing of the chart), the statistics page against
``procedure_statistics`` on the same data, the dashboard card, and the downloads."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from intrathecal.outcomes import INSTRUMENTS, Period, practice_statistics
from intrathecal.outcomes.statistics import percent
from intrathecal.store import outcomes as store
from intrathecal.store.models import AuditEntry, OutcomeResponse, Patient
from intrathecal.web import settings
from intrathecal.web.outcomes import share_text
from tests.store.conftest import NOW
from tests.web.conftest import Clinic
from tests.web.test_pages import signed_in

ROLES_READING = {"physician", "nurse", "viewer"}


def count(clinic: Clinic, model: type = OutcomeResponse) -> int:
    with clinic.sessions() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def patient_row(clinic: Clinic, pid: int) -> Patient:
    with clinic.sessions() as session:
        row = session.get(Patient, pid)
        assert row is not None
        return row


@pytest.mark.parametrize("role", ["physician", "nurse", "pharmacist", "viewer", "admin"])
def test_outcomes_pages_and_downloads_by_role(clinic: Clinic, role: str) -> None:
    """Physician, nurse, viewer read outcomes; the pharmacist (compounding needs no mood or
    function scores) and the admin (no clinical data at all) are refused."""
    for path in (
        "/outcomes",
        "/outcomes/export.csv",
        "/patients/2/report.pdf",
        "/patients/2/outcomes/trend.svg",
    ):
        answer = clinic.client.get(path, headers=clinic.headers(role))
        assert answer.status_code == (200 if role in ROLES_READING else 403), (role, path)
    entry = clinic.client.get("/patients/2/outcomes/new", headers=clinic.headers(role))
    assert entry.status_code == (200 if role in {"physician", "nurse"} else 403), role


def test_staff_form_renders_every_item_and_saves_a_visit(clinic: Clinic) -> None:
    client, csrf = signed_in(clinic, "nurse")
    pid = 8
    page = client.get(
        f"/patients/{pid}/outcomes/new?procedure=spinal-cord-stimulator&timepoint=baseline"
    )
    assert page.status_code == 200
    for key in ("nrs-pain", "promis-global-10"):
        for item in INSTRUMENTS[key].items:
            assert f'name="a.{key}.{item.key}"' in page.text
    assert 'name="a.pgic.change"' not in page.text  # change questions are not asked at baseline
    form = {
        "csrf_token": csrf,
        "procedure": "spinal-cord-stimulator",
        "timepoint": "baseline",
        "collected_on": "2026-02-20",
        "a.nrs-pain.pain": "7",
        **{f"a.promis-global-10.{i.key}": "3" for i in INSTRUMENTS["promis-global-10"].items},
    }
    before = count(clinic)
    assert (
        client.post(f"/patients/{pid}/outcomes", data={**form, "csrf_token": ""}).status_code == 403
    )
    bad = client.post(f"/patients/{pid}/outcomes", data={**form, "a.nrs-pain.pain": "11"})
    assert bad.status_code == 422
    assert "answers.nrs-pain.pain" in bad.text and "out of range" in html.unescape(bad.text)
    assert count(clinic) == before
    saved = client.post(f"/patients/{pid}/outcomes", data=form, follow_redirects=False)
    assert saved.status_code == 303
    assert count(clinic) == before + 2
    # a blank instrument is "not asked": a follow-up with the pain score only stores one row
    follow = {
        "csrf_token": csrf,
        "procedure": "spinal-cord-stimulator",
        "timepoint": "2 weeks",  # day 9: inside the 2-week window (issue 13)
        "collected_on": "2026-03-01",
        "a.nrs-pain.pain": "4",
        "a.pgic.change": "",
    }
    answer = client.post(f"/patients/{pid}/outcomes", data=follow, follow_redirects=False)
    assert answer.status_code == 303
    with clinic.sessions() as session:
        rows = store.patient_rows(session, pid)
        later = [
            r for r in rows if r.procedure == "spinal-cord-stimulator" and r.days_from_baseline
        ]
        assert [(r.instrument, r.days_from_baseline, r.created_by) for r in later] == [
            ("nrs-pain", 9, "nurse")  # 2026-02-20 -> 2026-03-01: 8 + 1 = 9 days
        ]


def link_url(clinic: Clinic, pid: int, procedure: str) -> str:
    client, csrf = signed_in(clinic, "nurse")
    page = client.post(
        f"/patients/{pid}/outcomes/link",
        data={"csrf_token": csrf, "procedure": procedure, "timepoint": "baseline"},
    )
    assert page.status_code == 200, page.text
    # The link starts with the configured base URL (ITP_BASE_URL), not the request's host.
    base = re.escape(settings.DEFAULT_BASE_URL)
    found = re.search(rf'id="patient-link"[^>]*value="{base}(/q/[^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def patient_answers(text: str) -> dict[str, str]:
    link_csrf = re.search(r'name="link_csrf" value="([^"]+)"', text)
    assert link_csrf is not None
    return {
        "link_csrf": link_csrf.group(1),
        "a.nrs-pain.pain": "6",
        **{f"a.promis-global-10.{i.key}": "2" for i in INSTRUMENTS["promis-global-10"].items},
    }


def test_patient_link_works_once_and_shows_nothing_of_the_chart(clinic: Clinic) -> None:
    pid = 9
    path = link_url(clinic, pid, "radiofrequency-ablation")
    patient = patient_row(clinic, pid)
    anonymous = TestClient(clinic.client.app)
    page = anonymous.get(path)
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    text = html.unescape(page.text)
    for secret in (patient.name, patient.mrn, patient.birth_date.isoformat(), "/patients/"):
        assert secret not in text
    assert 'name="a.nrs-pain.pain"' in page.text
    answers = patient_answers(page.text)
    before = count(clinic)
    forged = anonymous.post(path, data={**answers, "link_csrf": "guess"})
    assert forged.status_code == 403
    incomplete = anonymous.post(path, data={"link_csrf": answers["link_csrf"]})
    assert incomplete.status_code == 422
    assert count(clinic) == before
    done = anonymous.post(path, data=answers)
    assert done.status_code == 200 and 'id="done"' in done.text
    assert count(clinic) == before + 2
    with clinic.sessions() as session:
        rows = [
            r for r in store.patient_rows(session, pid) if r.procedure == "radiofrequency-ablation"
        ]
        assert {r.entered_by for r in rows} == {"patient"}
    assert anonymous.get(path).status_code == 410
    again = anonymous.post(path, data=answers)
    assert again.status_code == 410 and "used already" in again.text
    assert count(clinic) == before + 2


def test_expired_and_unknown_links_are_refused(clinic: Clinic) -> None:
    with clinic.sessions.begin() as session:
        patient = session.get(Patient, 10)
        assert patient is not None
        made = store.create_link(
            session,
            patient,
            "radiofrequency-ablation",
            "baseline",
            "nurse",
            NOW - timedelta(days=8),  # valid for the default 7 days: expired a day ago
        )
    anonymous = TestClient(clinic.client.app)
    expired = anonymous.get(f"/q/{made.token}")
    assert expired.status_code == 410 and "expired" in expired.text
    assert anonymous.get("/q/no-such-token").status_code == 404


def cells(page: str, procedure: str, timepoint: str, share: str) -> tuple[str, str]:
    section = page.split(f'id="tp-{procedure}-{timepoint.replace(" ", "-")}"', 1)[1]
    section = section.split('<div class="timepoint"', 1)[0]
    row = re.search(
        rf'data-share="{share}".*?<td class="completers">(.*?)</td><td class="itt">(.*?)</td>',
        section,
        re.S,
    )
    assert row is not None, (procedure, timepoint, share)
    return html.unescape(row.group(1)), html.unescape(row.group(2))


@pytest.mark.parametrize(
    ("query", "period", "as_of"),
    [
        ("", Period(), NOW.date()),
        (
            "?from=2024-07-01&to=2025-06-30&as_of=2025-12-31",
            Period(date(2024, 7, 1), date(2025, 6, 30)),
            date(2025, 12, 31),
        ),
    ],
)
def test_statistics_page_shows_procedure_statistics_of_the_same_data(
    clinic: Clinic, query: str, period: Period, as_of: date
) -> None:
    page = clinic.client.get(f"/outcomes{query}", headers=clinic.headers("viewer"))
    assert page.status_code == 200
    with clinic.sessions() as session:
        expected = practice_statistics(store.all_responses(session), period=period, as_of=as_of)
    assert expected and any(t.responded for s in expected for t in s.timepoints)
    for stats in expected:
        assert f"{stats.cohort} patient(s) with a baseline" in page.text
        for t in stats.timepoints:
            for share in t.shares:
                want = share_text(share)
                assert cells(page.text, stats.procedure, t.timepoint, share.key) == (
                    want["completers"],
                    want["itt"],
                )
    assert "small n" in page.text  # the demo's facet joint cohort is small
    chart = clinic.client.get(
        "/outcomes/shares.svg?procedure=intrathecal-pump&timepoint=3%20months",
        headers=clinic.headers("viewer"),
    )
    assert chart.headers["content-type"].startswith("image/svg+xml")


def test_dashboard_card_quotes_the_share_with_its_interval_and_n(clinic: Clinic) -> None:
    with clinic.sessions() as session:
        stats = practice_statistics(store.all_responses(session), as_of=NOW.date())
    pump = next(s for s in stats if s.procedure == "intrathecal-pump").at("3 months")
    less = pump.share("less_pain").completers
    assert less.estimate is not None and less.low is not None and less.high is not None
    headline = (
        f"{percent(less.estimate)} of pump patients who answered at 3 months report less pain "
        f"(95% CI {percent(less.low)} to {percent(less.high)}, n = {less.n})"
    )
    nurse, _ = signed_in(clinic, "nurse")
    assert headline in html.unescape(nurse.get("/").text)
    pharmacist, _ = signed_in(clinic, "pharmacist")
    assert 'id="outcomes-card"' not in pharmacist.get("/").text


def test_chart_shows_the_course_to_nurses_but_not_to_pharmacists(clinic: Clinic) -> None:
    nurse, _ = signed_in(clinic, "nurse")
    chart = nurse.get("/patients/5")
    assert 'id="outcomes"' in chart.text and "/patients/5/outcomes/trend.svg" in chart.text
    assert 'id="link-form"' in chart.text
    trend = nurse.get("/patients/5/outcomes/trend.svg?procedure=intrathecal-pump")
    assert trend.text.startswith("<?xml")
    pharmacist, _ = signed_in(clinic, "pharmacist")
    assert 'id="outcomes"' not in pharmacist.get("/patients/5").text


def test_downloads_are_pdf_and_a_csv_without_names_dates_or_ids(clinic: Clinic) -> None:
    headers = clinic.headers("physician")
    exports_before = count(clinic, AuditEntry)
    report = clinic.client.get("/outcomes/report.pdf", headers=headers)
    assert report.headers["content-type"] == "application/pdf"
    assert report.content.startswith(b"%PDF") and len(report.content) > 20_000
    patient_pdf = clinic.client.get("/patients/5/report.pdf", headers=headers)
    assert patient_pdf.headers["content-type"] == "application/pdf"
    assert patient_pdf.content.startswith(b"%PDF") and len(patient_pdf.content) > 20_000
    assert "attachment" in patient_pdf.headers["content-disposition"]
    export = clinic.client.get("/outcomes/export.csv", headers=headers)
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    with clinic.sessions() as session:
        patients = list(session.execute(select(Patient)).scalars())
        visits = {(r.subject, r.procedure, r.timepoint) for r in store.all_responses(session)}
    assert len(rows) == len(visits) > 50
    assert "collected_on" not in rows[0] and "side_effects_other" not in rows[0]
    assert all(re.fullmatch(r"S-[0-9a-f]{16}", r["subject"]) for r in rows)
    for p in patients:
        assert p.name not in export.text and p.mrn not in export.text
    assert "patient-" not in export.text
    assert re.search(r"\d{4}-\d{2}-\d{2}", export.text) is None
    again = clinic.client.get("/outcomes/export.csv", headers=headers)
    assert again.text == export.text  # the same clinic key: stable pseudonyms
    assert count(clinic, AuditEntry) >= exports_before + 4  # both reports, both exports


def test_a_bad_period_is_named_on_the_page_and_nothing_is_counted(clinic: Clinic) -> None:
    page = clinic.client.get("/outcomes?from=2026-02-30", headers=clinic.headers("viewer"))
    assert page.status_code == 422
    assert "from: '2026-02-30' is not a date" in html.unescape(page.text)
    assert 'class="card procedure"' not in page.text
