"""The outcomes registry in the JSON API: entering a visit (422 naming the item, nothing stored),
a patient's course, one-time links and the statistics, which must be exactly the registry's
``procedure_statistics`` on the stored responses. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from sqlalchemy import func, select

from intrathecal.outcomes import (
    Period,
    practice_statistics,
    procedure_statistics,
    statistics_to_dict,
)
from intrathecal.store import outcomes as store
from intrathecal.store.models import AuditEntry, OutcomeLink, OutcomeResponse
from tests.store.conftest import NOW
from tests.web.conftest import Clinic


def count(clinic: Clinic, model: type) -> int:
    with clinic.sessions() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def post(clinic: Clinic, pid: int, body: dict[str, Any], role: str = "nurse") -> Any:
    return clinic.client.post(
        f"/api/v1/patients/{pid}/outcomes", json=body, headers=clinic.headers(role)
    )


def test_a_visit_is_entered_then_listed_with_the_course(clinic: Clinic) -> None:
    pid = 3
    first = post(
        clinic,
        pid,
        {
            "procedure": "radiofrequency-ablation",
            "timepoint": "baseline",
            "collected_on": "2025-12-01",
            "answers": {"nrs-pain": {"pain": 8}},
        },
    )
    assert first.status_code == 201, first.text
    # 2025-12-01 to 2026-02-25: 30 days left in December + 31 + 25 = day 86 from baseline.
    later = post(
        clinic,
        pid,
        {
            "procedure": "radiofrequency-ablation",
            "timepoint": "3 Months",
            "collected_on": "2026-02-25",
            "answers": {"nrs-pain": {"pain": "3"}, "pgic": {"change": 2}},
        },
        role="physician",
    )
    assert later.status_code == 201, later.text
    saved = later.json()["responses"]
    assert {r["days_from_baseline"] for r in saved} == {86}
    assert {r["timepoint"] for r in saved} == {"3 months"}  # canonical label
    assert saved[0]["answers"] == {"pain": 3}  # text "3" stored as the code 3
    listed = clinic.client.get(f"/api/v1/patients/{pid}/outcomes", headers=clinic.headers("viewer"))
    assert listed.status_code == 200
    body = listed.json()
    assert body["subject"] == f"patient-{pid}"
    course = next(c for c in body["courses"] if c["procedure"] == "radiofrequency-ablation")
    assert course["measures"]["pain"]["change_from_baseline"] == -5  # 8 -> 3


def test_bad_answers_get_422_naming_every_item_and_nothing_is_stored(clinic: Clinic) -> None:
    pid = 4
    before = count(clinic, OutcomeResponse)
    cases = [
        (
            {"nrs-pain": {"pain": 12}, "pgic": {"change": "8"}},
            {"answers.nrs-pain.pain", "answers.pgic.change"},
        ),
        ({"nrs-pain": {"pain": True}}, {"answers.nrs-pain.pain"}),
        ({"nrs-pain": {"pain": 4.5}}, {"answers.nrs-pain.pain"}),
        ({"nrs-pain": {"pain": 4, "mood": 2}}, {"answers.nrs-pain.mood"}),
        ({"quality": {"x": 1}}, {"answers.quality"}),
        ({}, {"answers"}),
    ]
    for answers, fields in cases:
        answer = post(
            clinic,
            pid,
            {
                "procedure": "spinal-cord-stimulator",
                "timepoint": "3 months",
                "days_from_baseline": 92,
                "answers": answers,
            },
        )
        assert answer.status_code == 422, answers
        assert answer.json()["ok"] is False
        assert {e["field"] for e in answer.json()["errors"]} == fields, answers
    assert count(clinic, OutcomeResponse) == before


def test_duplicates_and_follow_ups_before_baseline_are_refused(clinic: Clinic) -> None:
    pid = 5
    base = {
        "procedure": "spinal-cord-stimulator",
        "timepoint": "baseline",
        "collected_on": "2026-02-01",
        "answers": {"nrs-pain": {"pain": 7}},
    }
    assert post(clinic, pid, base).status_code == 201
    before = count(clinic, OutcomeResponse)
    again = post(clinic, pid, {**base, "collected_on": "2026-02-02"})
    assert again.status_code == 422
    assert again.json()["errors"][0]["field"] == "answers.nrs-pain"
    assert "duplicate" in again.json()["errors"][0]["message"]
    early = post(
        clinic,
        pid,
        {
            "procedure": "spinal-cord-stimulator",
            "timepoint": "3 months",
            "collected_on": "2026-01-15",
            "days_from_baseline": 90,
            "answers": {"pgic": {"change": 1}},
        },
    )
    assert early.status_code == 422
    assert early.json()["errors"][0]["field"] == "collected_on"
    assert "follow-up before baseline" in early.json()["errors"][0]["message"]
    assert count(clinic, OutcomeResponse) == before


def test_reading_a_patients_outcomes_is_audited(clinic: Clinic) -> None:
    def reads() -> int:
        with clinic.sessions() as session:
            return session.execute(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "chart.read", AuditEntry.target == "patient:6")
            ).scalar_one()

    before = reads()
    answer = clinic.client.get("/api/v1/patients/6/outcomes", headers=clinic.headers("nurse"))
    assert answer.status_code == 200
    assert reads() == before + 1


def test_a_link_is_answered_with_its_token_once_and_only_the_hash_is_kept(
    clinic: Clinic,
) -> None:
    answer = clinic.client.post(
        "/api/v1/patients/7/outcomes/links",
        json={"procedure": "radiofrequency-ablation", "timepoint": "baseline", "valid_days": 3},
        headers=clinic.headers("physician"),
    )
    assert answer.status_code == 201, answer.text
    link = answer.json()["link"]
    assert link["url"].endswith(f"/q/{link['token']}")
    assert link["instruments"] == ["nrs-pain", "promis-global-10"]
    assert link["expires_at"] == "2026-03-05T09:00:00Z"  # NOW + 3 days
    with clinic.sessions() as session:
        row = session.get(OutcomeLink, link["id"])
        assert row is not None
        assert row.token_hash == hashlib.sha256(link["token"].encode()).hexdigest()
        assert link["token"] not in (row.token_hash, row.csrf_token, row.instruments_json)
    bad = clinic.client.post(
        "/api/v1/patients/7/outcomes/links",
        json={"procedure": "radiofrequency-ablation", "timepoint": "baseline", "valid_days": 0},
        headers=clinic.headers("physician"),
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "valid_days"


def test_statistics_are_procedure_statistics_on_the_stored_responses(clinic: Clinic) -> None:
    with clinic.sessions() as session:
        responses = store.all_responses(session)
    today = NOW.date()
    viewer = clinic.headers("viewer")
    one = clinic.client.get(
        "/api/v1/outcomes/statistics?procedure=intrathecal-pump", headers=viewer
    ).json()
    expected = procedure_statistics(responses, "intrathecal-pump", as_of=today)
    assert one["procedures"] == [statistics_to_dict(expected)]
    assert expected.at("3 months").responded > 0  # the demo data gives real numbers
    every = clinic.client.get("/api/v1/outcomes/statistics", headers=viewer).json()
    assert every["procedures"] == [
        statistics_to_dict(s) for s in practice_statistics(responses, as_of=today)
    ]
    period = Period(date(2024, 7, 1), date(2025, 6, 30))
    dated = clinic.client.get(
        "/api/v1/outcomes/statistics?from=2024-07-01&to=2025-06-30&as_of=2025-12-31",
        headers=viewer,
    ).json()
    assert dated["procedures"] == [
        statistics_to_dict(s)
        for s in practice_statistics(responses, period=period, as_of=date(2025, 12, 31))
    ]


def test_statistics_kept_by_a_worker_are_never_stale(clinic: Clinic) -> None:
    """The worker keeps the clinic's statistics (counting a full registry is slow) only until
    an answer is stored: the next view counts the new visit."""
    viewer = clinic.headers("viewer")
    before = clinic.client.get("/api/v1/outcomes/statistics", headers=viewer).json()
    visit = {
        "procedure": "radiofrequency-ablation",
        "timepoint": "baseline",
        "collected_on": "2026-01-05",
        "answers": {"nrs-pain": {"pain": 7}},
    }
    assert post(clinic, 5, visit).status_code == 201
    after = clinic.client.get("/api/v1/outcomes/statistics", headers=viewer).json()
    with clinic.sessions() as session:
        responses = store.all_responses(session)
    expected = [statistics_to_dict(s) for s in practice_statistics(responses, as_of=NOW.date())]
    assert after["procedures"] == expected != before["procedures"]


def test_statistics_refuse_a_bad_period(clinic: Clinic) -> None:
    viewer = clinic.headers("viewer")
    for query, field in (
        ("from=2026-13-01", "from"),
        ("from=2026-02-01&to=2026-01-01", "period"),
        ("as_of=yesterday", "as_of"),
    ):
        answer = clinic.client.get(f"/api/v1/outcomes/statistics?{query}", headers=viewer)
        assert answer.status_code == 422, query
        assert answer.json()["errors"][0]["field"] == field


def test_instruments_are_served_from_the_registry(clinic: Clinic) -> None:
    answer = clinic.client.get("/api/v1/outcomes/instruments", headers=clinic.headers("nurse"))
    keys = [i["key"] for i in answer.json()["instruments"]]
    assert keys == [
        "nrs-pain",
        "pgic",
        "percent-improvement",
        "promis-global-10",
        "side-effects",
        "modified-ashworth",
        "penn-spasm",
    ]
