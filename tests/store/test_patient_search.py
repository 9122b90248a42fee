"""Patient search through indexes (issue 11, item 10): an exact MRN by its unique index, any part
of a name by FTS5 (SQLite) or a trigram index (PostgreSQL); same answers on both."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import text, update
from sqlalchemy.orm import Session

from intrathecal.store.db import open_database
from intrathecal.store.models import Patient
from intrathecal.store.patient_search import search

AT = datetime(2026, 3, 2, tzinfo=UTC)
NAMES = ["Ruth Müller", "Kofi Okafor", "Lars Okafor", "Ana O'Neil", "Percy 100%_Sure", "Yuki Rossi"]


def _patients(session: Session) -> None:
    for i, name in enumerate(NAMES):
        session.add(
            Patient(
                mrn=f"MRN{200000 + i}",
                name=name,
                birth_date=date(1970, 1, 1),
                sex="female",
                created_at=AT,
            )
        )
    session.flush()


def test_search_by_mrn_and_any_part_of_a_name(database_url: str) -> None:
    engine, sessions = open_database(database_url)
    with sessions.begin() as session:
        _patients(session)
    with sessions() as session:
        exact = search(session, "mrn200001")
        assert (exact.by, [p.name for p in exact.patients]) == ("mrn", ["Kofi Okafor"])
        assert [p.name for p in search(session, "okaf").patients] == ["Kofi Okafor", "Lars Okafor"]
        assert [p.name for p in search(session, "KAFO").patients] == ["Kofi Okafor", "Lars Okafor"]
        assert [p.name for p in search(session, "ler").patients] == ["Ruth Müller"]
        assert [p.name for p in search(session, "O'Ne").patients] == ["Ana O'Neil"]
        assert [p.name for p in search(session, "0%_S").patients] == ["Percy 100%_Sure"]
        assert search(session, "%").total == 1  # a wildcard is a character, not "anything"
        assert search(session, "Ro").total == 1  # under three letters: read, not indexed
        assert search(session, "nobody").total == 0
        assert search(session, "2000").total == 0  # the middle of an MRN is not a search
        # The start of an MRN, as typed or in capitals: every MRN that begins so, by the index.
        start = search(session, "mrn20000")
        assert (start.by, start.total) == ("mrn", len(NAMES))
        assert [p.mrn for p in search(session, "MRN20000", offset=4).patients] == [
            "MRN200004",
            "MRN200005",
        ]
        assert search(session, "MRN2000%").total == 0  # a wildcard is a character here too
        every = search(session, "  ", offset=2, limit=2)
        assert (every.by, every.total, len(every.patients)) == ("all", len(NAMES), 2)
        paged = search(session, "okafor", offset=1, limit=1)
        assert paged.total == 2 and [p.name for p in paged.patients] == ["Lars Okafor"]
    with sessions.begin() as session:  # a renamed patient is found by the new name only
        session.execute(update(Patient).where(Patient.name == "Yuki Rossi").values(name="Yuki Tan"))
    with sessions() as session:
        assert search(session, "Rossi").total == 0 and search(session, "Yuki Tan").total == 1
    engine.dispose()


def test_name_search_uses_the_index(database_url: str) -> None:
    engine, sessions = open_database(database_url)
    with sessions() as session:
        if engine.dialect.name == "sqlite":
            names = session.execute(text("SELECT name FROM sqlite_master")).scalars().all()
            assert "patients_fts" in names
        else:
            index = session.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_patients_name_trgm'")
            ).scalar_one()
            assert "gin_trgm_ops" in index
    engine.dispose()
