"""Issue 13, item 12: the clinic's statistics counted in SQL equal the registry's own."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.outcomes import Period, practice_statistics, statistics_to_dict
from intrathecal.store import outcomes as store
from intrathecal.store import outcomes_stats, records
from intrathecal.store.db import open_database
from intrathecal.store.models import Patient

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine, sessions = open_database(database_url)
    yield sessions
    engine.dispose()


def _patients(session: Session, n: int) -> list[Patient]:
    rows = []
    for i in range(n):
        row = Patient(
            mrn=f"S{i}",
            name="Test Patient",
            birth_date=date(1960, 1, 1),
            sex="female",
            created_at=NOW,
        )
        records.add(session, row, "nurse", NOW, "patient.create")
        rows.append(row)
    return rows


def _seed(session: Session, rng: random.Random, n: int) -> None:
    for p in _patients(session, n):
        procedure = rng.choice(("facet-joint-injection", "intrathecal-pump"))
        base = date(2025, 1, 1) + timedelta(days=rng.randint(0, 300))
        if rng.random() < 0.9:  # some follow-ups have no baseline
            answers: dict[str, dict[str, int]] = {}
            if rng.random() < 0.8:
                answers["nrs-pain"] = {"pain": rng.randint(0, 10)}
            if rng.random() < 0.4:
                answers["modified-ashworth"] = {"grade": rng.randint(0, 5)}
            answers = answers or {"nrs-pain": {"pain": 5}}
            store.add_visit(session, p, store.Visit(procedure, "baseline", base, answers), "n", NOW)
        for label, days in (("2 weeks", 14), ("3 months", 90)):
            if rng.random() < 0.35:
                continue
            day = base + timedelta(days=days + rng.randint(0, 5))
            if day > NOW.date():
                continue
            follow: dict[str, dict[str, int]] = {"nrs-pain": {"pain": rng.randint(0, 10)}}
            if rng.random() < 0.7:
                follow["pgic"] = {"change": rng.randint(1, 7)}
            if rng.random() < 0.5:
                follow["modified-ashworth"] = {"grade": rng.randint(0, 5)}
            if rng.random() < 0.5:
                effects = {k: int(rng.random() < 0.2) for k in ("nausea", "fever", "itching")}
                follow["side-effects"] = {
                    **{k: 0 for k in ("constipation", "urinary", "swelling", "drowsiness")},
                    **{k: 0 for k in ("headache", "numbness_weakness", "wound")},
                    **effects,
                }
            store.add_visit(
                session,
                p,
                store.Visit(procedure, label, day, follow, days_from_baseline=None)
                if any(r.timepoint == "baseline" for r in store.patient_rows(session, p.id))
                else store.Visit(procedure, label, day, follow, days_from_baseline=days),
                "n",
                NOW,
            )


@pytest.mark.parametrize(
    ("period", "as_of"),
    [
        (Period(), None),
        (Period(), date(2025, 6, 1)),
        (Period(date(2025, 3, 1), date(2025, 8, 31)), date(2025, 12, 1)),
    ],
)
def test_rule_sql_statistics_equal_the_registry_computed_from_every_answer(
    db: sessionmaker[Session], period: Period, as_of: date | None
) -> None:
    with db.begin() as session:
        _seed(session, random.Random(13), 40)
    with db() as session:
        expected = practice_statistics(store.all_responses(session), period=period, as_of=as_of)
        got = outcomes_stats.clinic_statistics(session, period=period, as_of=as_of)
        assert [statistics_to_dict(s) for s in got] == [statistics_to_dict(s) for s in expected]
        assert any(t.responded for s in got for t in s.timepoints)


def test_rebuild_gives_the_rows_every_visit_kept(db: sessionmaker[Session]) -> None:
    with db.begin() as session:
        _seed(session, random.Random(7), 15)
    with db() as session:
        before = outcomes_stats.clinic_statistics(session, as_of=date(2026, 1, 1))
        outcomes_stats.rebuild(session)
        after = outcomes_stats.clinic_statistics(session, as_of=date(2026, 1, 1))
        assert [statistics_to_dict(s) for s in after] == [statistics_to_dict(s) for s in before]
