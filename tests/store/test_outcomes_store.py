"""Outcome responses in the clinic database: validated before storing (nothing stored on bad
input), append-only and audited, one-time patient links, and the demo clinic's questionnaires.
Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.outcomes import (
    InvalidOutcomesError,
    Period,
    parse_timepoint,
    procedure_statistics,
    validate_responses,
)
from intrathecal.store import audit, records
from intrathecal.store import outcomes as store
from intrathecal.store.db import open_database
from intrathecal.store.models import AuditEntry, OutcomeLink, OutcomeResponse, Patient
from tests.store.conftest import NOW

TODAY = NOW.date()  # 2026-03-02
PROMIS_BASE = {
    "global01": 2,
    "global02": 2,
    "global03": 2,
    "global04": 3,
    "global05": 2,
    "global09r": 2,
    "global06": 2,
    "global10r": 3,
    "global08r": 2,
    "global07r": 7,
}


@pytest.fixture
def db(database_url: str) -> Iterator[sessionmaker[Session]]:
    """A migrated clinic with two patients and no questionnaires (no demo seed: fast)."""
    engine, sessions = open_database(database_url)
    with sessions.begin() as session:
        for mrn, name in (("T1", "Ann Example"), ("T2", "Bob Example")):
            # Created as the clinic does, with their audit entry (verify accounts for them).
            row = Patient(
                mrn=mrn, name=name, birth_date=date(1960, 1, 1), sex="female", created_at=NOW
            )
            records.add(session, row, "nurse", NOW, "patient.create")
    yield sessions
    engine.dispose()


def patient(session: Session, mrn: str = "T1") -> Patient:
    return session.execute(select(Patient).where(Patient.mrn == mrn)).scalar_one()


def count(session: Session, model: type) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def baseline(on: date = date(2026, 1, 1), pain: int = 7) -> store.Visit:
    return store.Visit(
        "facet-joint-injection",
        "baseline",
        on,
        {"nrs-pain": {"pain": pain}, "promis-global-10": dict(PROMIS_BASE)},
    )


def test_a_visit_is_validated_stored_with_clean_answers_and_audited(
    db: sessionmaker[Session],
) -> None:
    with db.begin() as session:
        p = patient(session)
        rows = store.add_visit(session, p, baseline(), "nurse", NOW)
        assert [r.instrument for r in rows] == ["nrs-pain", "promis-global-10"]
    with db() as session:
        stored = store.patient_rows(session, patient(session).id)
        assert {r.days_from_baseline for r in stored} == {0}
        assert json.loads(stored[0].answers_json) == {"pain": 7}
        assert stored[0].entered_by == "staff" and stored[0].created_by == "nurse"
        entry = session.execute(
            select(AuditEntry).where(AuditEntry.action == "outcomes.add")
        ).scalar_one()
        assert entry.actor == "nurse" and entry.target == f"patient:{stored[0].patient_id}"
        assert audit.verify(session).ok


def test_out_of_range_answer_names_the_item_and_stores_nothing_of_the_visit(
    db: sessionmaker[Session],
) -> None:
    visit = store.Visit(
        "facet-joint-injection",
        "baseline",
        date(2026, 1, 1),
        # the PROMIS form is valid; the pain answer is not: nothing of the visit may be stored
        {"nrs-pain": {"pain": 11}, "promis-global-10": dict(PROMIS_BASE)},
    )
    with db() as session:
        with pytest.raises(InvalidOutcomesError) as caught:
            store.add_visit(session, patient(session), visit, "nurse", NOW)
        session.rollback()
        assert [e.field for e in caught.value.errors] == ["answers.nrs-pain.pain"]
        assert "11 is out of range; allowed 0 to 10" in caught.value.errors[0].message
        assert count(session, OutcomeResponse) == 0
        # Only the two patients' creation: nothing of the refused visit.
        assert session.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == 2


def test_every_bad_item_is_named_at_once(db: sessionmaker[Session]) -> None:
    promis = dict(PROMIS_BASE, global02=9)
    del promis["global06"]
    visit = store.Visit(
        "facet-joint-injection",
        "baseline",
        date(2026, 1, 1),
        {"nrs-pain": {"pain": "seven"}, "promis-global-10": promis, "pgic": {"change": 2}},
    )
    with db() as session, pytest.raises(InvalidOutcomesError) as caught:
        store.add_visit(session, patient(session), visit, "nurse", NOW)
    fields = {e.field for e in caught.value.errors}
    assert {
        "answers.nrs-pain.pain",
        "answers.promis-global-10.global02",
        "answers.promis-global-10.global06",
        "answers.pgic",  # a change question has no baseline
    } <= fields


def test_duplicate_response_is_refused_naming_the_instrument(db: sessionmaker[Session]) -> None:
    with db.begin() as session:
        store.add_visit(session, patient(session), baseline(), "nurse", NOW)
    with db() as session:
        again = store.Visit(
            "facet-joint-injection", "baseline", date(2026, 1, 2), {"nrs-pain": {"pain": 6}}
        )
        with pytest.raises(InvalidOutcomesError) as caught:
            store.add_visit(session, patient(session), again, "physician", NOW)
        session.rollback()
        assert caught.value.errors[0].field == "answers.nrs-pain"
        assert "duplicate response" in caught.value.errors[0].message
        assert count(session, OutcomeResponse) == 2


def test_a_duplicate_racing_past_the_check_is_stopped_by_the_unique_key(
    db: sessionmaker[Session],
) -> None:
    with db.begin() as session:
        (row,) = store.add_visit(
            session,
            patient(session),
            store.Visit("epidural-injection", "baseline", TODAY, {"nrs-pain": {"pain": 5}}),
            "nurse",
            NOW,
        )
        twin = {c.name: getattr(row, c.name) for c in OutcomeResponse.__table__.columns}
    with db() as session:
        twin.pop("id")
        session.add(OutcomeResponse(**twin))
        with pytest.raises(IntegrityError):
            session.flush()


def test_follow_up_days_count_from_the_stored_baseline(db: sessionmaker[Session]) -> None:
    # Baseline 2026-01-01, follow-up answered 2026-02-15: 31 days of January - 1 + 15 = 45 days.
    with db.begin() as session:
        p = patient(session)
        store.add_visit(session, p, baseline(date(2026, 1, 1)), "nurse", NOW)
        rows = store.add_visit(
            session,
            p,
            store.Visit(
                "facet-joint-injection", "1 month", date(2026, 2, 15), {"pgic": {"change": 2}}
            ),
            "nurse",
            NOW,
        )
        assert rows[0].days_from_baseline == 45


def test_follow_up_before_baseline_is_refused(db: sessionmaker[Session]) -> None:
    with db.begin() as session:
        store.add_visit(session, patient(session), baseline(date(2026, 2, 1)), "nurse", NOW)
    with db() as session:
        early = store.Visit(
            "facet-joint-injection",
            "3 months",
            date(2026, 1, 20),
            {"nrs-pain": {"pain": 3}},
            days_from_baseline=90,  # even with a plausible day count, the date gives it away
        )
        with pytest.raises(InvalidOutcomesError) as caught:
            store.add_visit(session, patient(session), early, "nurse", NOW)
        session.rollback()
        assert caught.value.errors[0].field == "collected_on"
        assert "follow-up before baseline" in caught.value.errors[0].message
        computed = store.Visit(
            "facet-joint-injection", "3 months", date(2026, 1, 20), {"pgic": {"change": 1}}
        )
        with pytest.raises(InvalidOutcomesError) as caught:
            store.add_visit(session, patient(session), computed, "nurse", NOW)
        assert caught.value.errors[0].field == "days_from_baseline"  # -12 days
        session.rollback()
        assert count(session, OutcomeResponse) == 2


def test_follow_up_without_a_baseline_needs_the_days_and_a_future_date_is_refused(
    db: sessionmaker[Session],
) -> None:
    with db() as session:
        p = patient(session)
        orphan = store.Visit("epidural-injection", "2 weeks", TODAY, {"pgic": {"change": 2}})
        with pytest.raises(InvalidOutcomesError) as caught:
            store.add_visit(session, p, orphan, "nurse", NOW)
        assert caught.value.errors[0].field == "days_from_baseline"
        future = store.Visit(
            "epidural-injection", "baseline", TODAY + timedelta(days=1), {"nrs-pain": {"pain": 5}}
        )
        with pytest.raises(InvalidOutcomesError) as caught:
            store.add_visit(session, p, future, "nurse", NOW)
        assert caught.value.errors[0].field == "collected_on"
        session.rollback()
        assert count(session, OutcomeResponse) == 0


# --- one-time links ---------------------------------------------------------------------------

ANSWERS = {
    "nrs-pain": {"pain": "6"},
    "promis-global-10": {k: str(v) for k, v in PROMIS_BASE.items()},
}


def test_link_stores_only_the_token_hash_and_works_once(db: sessionmaker[Session]) -> None:
    with db.begin() as session:
        made = store.create_link(
            session, patient(session), "facet-joint-injection", "baseline", "nurse", NOW
        )
        assert made.link.token_hash == store.token_hash(made.token) != made.token
        assert store.link_instruments(made.link) == ["nrs-pain", "promis-global-10"]
        assert made.link.expires_at == NOW + timedelta(days=7)
    with db.begin() as session:
        rows = store.submit_link(session, made.token, ANSWERS, NOW + timedelta(hours=1))
        assert {r.entered_by for r in rows} == {"patient"}
        assert {r.created_by for r in rows} == {f"patient link {made.link.id}"}
    with db() as session:
        with pytest.raises(store.LinkRefusedError) as caught:
            store.submit_link(session, made.token, ANSWERS, NOW + timedelta(hours=2))
        assert caught.value.reason == "used"
        session.rollback()
        assert count(session, OutcomeResponse) == 2
        used = session.get(OutcomeLink, made.link.id)
        assert used is not None and used.used_at is not None


def test_a_submission_racing_past_the_check_stores_nothing(
    db: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two submissions on one link both read it unused; the claim (an UPDATE matching only an
    unused link) lets the first through and refuses the second."""
    with db.begin() as session:
        made = store.create_link(
            session, patient(session), "facet-joint-injection", "baseline", "nurse", NOW
        )
    with db.begin() as session:
        store.submit_link(session, made.token, ANSWERS, NOW)
    # The second request read the link before the first committed: its check saw it unused.
    monkeypatch.setattr(store, "open_link", lambda s, _t, _n: s.get(OutcomeLink, made.link.id))
    with db() as session:
        with pytest.raises(store.LinkRefusedError) as caught:
            store.submit_link(session, made.token, ANSWERS, NOW)
        assert caught.value.reason == "used"
        session.rollback()
        assert count(session, OutcomeResponse) == 2


def test_bad_answers_on_a_link_store_nothing_and_leave_it_usable(
    db: sessionmaker[Session],
) -> None:
    with db.begin() as session:
        made = store.create_link(
            session, patient(session), "facet-joint-injection", "baseline", "nurse", NOW
        )
    with db() as session:
        with pytest.raises(InvalidOutcomesError) as caught:
            # the patient left the PROMIS form blank: each of its ten items is named
            store.submit_link(session, made.token, {"nrs-pain": {"pain": "6"}}, NOW)
        assert len(caught.value.errors) == 10
        session.rollback()
    with db.begin() as session:
        assert len(store.submit_link(session, made.token, ANSWERS, NOW)) == 2


def test_expired_and_unknown_links_are_refused(db: sessionmaker[Session]) -> None:
    with db.begin() as session:
        made = store.create_link(
            session,
            patient(session),
            "facet-joint-injection",
            "baseline",
            "nurse",
            NOW,
            valid_days=1,
        )
    with db() as session:
        assert store.open_link(session, made.token, NOW + timedelta(hours=23)).id == made.link.id
        for token, at, reason in (
            (made.token, NOW + timedelta(days=1), "expired"),
            ("not-a-token", NOW, "unknown"),
        ):
            with pytest.raises(store.LinkRefusedError) as caught:
                store.submit_link(session, token, ANSWERS, at)
            assert caught.value.reason == reason
        session.rollback()
        assert count(session, OutcomeResponse) == 0


def test_link_creation_refuses_what_could_not_be_stored(db: sessionmaker[Session]) -> None:
    with db.begin() as session:
        store.add_visit(session, patient(session), baseline(), "nurse", NOW)
    with db() as session:
        p = patient(session)
        cases = [
            (("facet-joint-injection", "baseline"), {}, "instruments"),  # answered already
            (("epidural-injection", "3 months"), {}, "days_from_baseline"),  # no baseline
            (("epidural-injection", "baseline"), {"instruments": ["pgic"]}, "instruments"),
            (("epidural-injection", "baseline"), {"valid_days": 31}, "valid_days"),
            (("Epidural Injection", "baseline"), {}, "procedure"),
        ]
        for (procedure, timepoint), extra, field in cases:
            with pytest.raises(InvalidOutcomesError) as caught:
                store.create_link(session, p, procedure, timepoint, "nurse", NOW, **extra)  # type: ignore[arg-type]
            assert caught.value.errors[0].field == field, (procedure, timepoint, extra)
        session.rollback()
        assert count(session, OutcomeLink) == 0


# --- the demo clinic --------------------------------------------------------------------------


def test_demo_seed_has_baselines_follow_ups_and_missing_answers(
    seeded: sessionmaker[Session],
) -> None:
    with seeded() as session:
        responses = store.all_responses(session)
        validate_responses(responses)  # every seeded response passes the registry's checks
        procedures = {r.procedure for r in responses}
        assert procedures == {"intrathecal-pump", "facet-joint-injection", "epidural-injection"}
        assert {r.entered_by for r in responses} == {"staff", "patient"}
        assert all(r.subject.startswith("patient-") for r in responses)  # never a name
        pump = procedure_statistics(responses, "intrathecal-pump", period=Period(), as_of=TODAY).at(
            "3 months"
        )
        assert pump.responded > 0
        assert pump.due > pump.responded  # some follow-ups were never answered
        assert audit.verify(session).ok


def test_rule_a_patient_link_never_asks_the_clinician_rated_ashworth_scale(
    db: sessionmaker[Session],
) -> None:
    with db() as session:
        with pytest.raises(InvalidOutcomesError, match="rated by a clinician"):
            store.create_link(
                session,
                patient(session),
                "intrathecal-pump",
                "baseline",
                "nurse",
                NOW,
                instruments=["modified-ashworth"],
            )
        assert "modified-ashworth" not in store.instruments_at(parse_timepoint("baseline"))
        assert "modified-ashworth" in store.instruments_at(parse_timepoint("baseline"), staff=True)
