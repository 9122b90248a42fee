"""Migration 0013 fills outcome_summary from the answers a clinic already has (issue 13)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from alembic import command
from sqlalchemy import text

from intrathecal.outcomes import statistics_to_dict
from intrathecal.store import outcomes as store
from intrathecal.store import outcomes_stats
from intrathecal.store.db import alembic_config, make_engine, open_database
from intrathecal.store.models import OutcomeSummary

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_migration_0013_backfills_the_summary_the_visits_would_have_kept(
    database_url: str,
) -> None:
    engine, sessions = open_database(database_url)
    from intrathecal.store import records
    from intrathecal.store.models import Patient

    with sessions.begin() as session:
        p = Patient(
            mrn="M1", name="Ann Example", birth_date=date(1960, 1, 1), sex="female", created_at=NOW
        )
        records.add(session, p, "nurse", NOW, "patient.create")
        base = store.Visit(
            "facet-joint-injection", "baseline", date(2025, 11, 1), {"nrs-pain": {"pain": 8}}
        )
        store.add_visit(session, p, base, "nurse", NOW)
        follow = store.Visit(
            "facet-joint-injection",
            "3 months",
            date(2026, 2, 1),
            {"nrs-pain": {"pain": 3}, "pgic": {"change": 2}},
        )
        store.add_visit(session, p, follow, "nurse", NOW)
    with sessions() as session:
        kept = outcomes_stats.clinic_statistics(session, as_of=date(2026, 3, 1))
    engine.dispose()
    # Down to before the summary, then up again: the migration rebuilds it from the answers.
    engine = make_engine(database_url)
    config = alembic_config(database_url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")
        command.upgrade(config, "head")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM outcome_summary")).scalar_one() == 2
    engine.dispose()
    engine, sessions = open_database(database_url)
    with sessions() as session:
        again = outcomes_stats.clinic_statistics(session, as_of=date(2026, 3, 1))
        assert session.query(OutcomeSummary).count() == 2
    engine.dispose()
    assert [statistics_to_dict(s) for s in again] == [statistics_to_dict(s) for s in kept]
    assert kept[0].at("3 months").share("less_pain").completers.successes == 1
