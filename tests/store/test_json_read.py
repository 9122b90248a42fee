"""A chart read in one round trip on PostgreSQL (store/json_read.py) gives the objects the ORM
gives, attribute for attribute and type for type: for every kind of record in the demo clinic,
and for any instant, date, number and text a record may hold (hypothesis)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import LargeBinary, select
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.store import dashboard, json_read, records
from intrathecal.store.db import open_database
from intrathecal.store.models import AdverseEvent, Alarm, Appointment, Patient, Trial
from intrathecal.store.seed import seed_demo
from tests.store.conftest import NOW, fresh_url

KINDS = [(model, order) for _, model, order in records.CHART_KINDS]


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """The demo clinic on PostgreSQL (the one-statement read is PostgreSQL's)."""
    engine, sessions = open_database(fresh_url("postgresql", tmp_path_factory.mktemp("pg")))
    with sessions.begin() as session:
        seed_demo(session, patients=20, now=NOW)
        # The demo raises no alarm at NOW; one open and one cleared, so every kind is compared.
        first = session.execute(select(Patient.id).order_by(Patient.id)).scalars().first()
        for cleared in (None, NOW):
            session.add(
                Alarm(
                    patient_id=first,
                    kind="low reservoir",
                    message="2.0 mL left",
                    source="pump",
                    raised_at=NOW - timedelta(days=1),
                    cleared_at=cleared,
                    cleared_by=cleared and "nurse",
                )
            )
    yield sessions
    engine.dispose()


def _columns(row: Any) -> dict[str, tuple[type, Any]]:
    return {c.key: (type(getattr(row, c.key)), getattr(row, c.key)) for c in row.__table__.columns}


def _same_as_the_orm(session: Session, patient_id: int) -> list[int]:
    """Both reads of every kind, compared; how many rows each kind had."""
    one_trip = json_read.read(session, patient_id, KINDS)
    apart = json_read.read_apart(session, patient_id, KINDS)
    counts = []
    for (model, _), rows, orm in zip(KINDS, one_trip, apart, strict=True):
        assert [_columns(r) for r in rows] == [_columns(r) for r in orm], model.__name__
        assert all(type(r) is model for r in rows)
        counts.append(len(rows))
    return counts


def test_every_kind_of_every_demo_patient_reads_as_the_orm_reads_it(clinic):
    with clinic() as session:
        patients = session.execute(select(Patient.id)).scalars().all()
        totals = [0] * len(KINDS)
        for patient_id in patients:
            counts = _same_as_the_orm(session, patient_id)
            totals = [t + n for t, n in zip(totals, counts, strict=True)]
    # The comparison saw rows of every kind (a kind the demo never records would prove nothing).
    assert [m.__name__ for (m, _), n in zip(KINDS, totals, strict=True) if n == 0] == []


def test_a_patient_with_no_records_reads_as_empty_lists(clinic):
    with clinic.begin() as session:
        patient = Patient(
            mrn="EMPTY-1", name="No Records", birth_date=date(1970, 1, 1), sex="F", created_at=NOW
        )
        session.add(patient)
        session.flush()
        assert json_read.read(session, patient.id, KINDS) == [[] for _ in KINDS]
        session.rollback()


def test_the_chart_on_postgresql_is_the_chart_the_orm_reads(clinic):
    with clinic() as session:
        patient_id = session.execute(
            select(Patient.id).where(Patient.stage == "implanted").limit(1)
        ).scalar_one()
        chart = records.read_chart(session, records.require_patient(session, patient_id))
        apart = json_read.read_apart(session, patient_id, KINDS)
        for (name, _, _), orm in zip(records.CHART_KINDS, apart, strict=True):
            assert [_columns(r) for r in getattr(chart, name)] == [_columns(r) for r in orm]


instants = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
texts = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=60)
doses = st.floats(min_value=1e-9, max_value=1e9, allow_nan=False, allow_infinity=False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    at=instants,
    on=st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 1, 1)),
    text=texts,
    dose=doses,
    serious=st.booleans(),
    pain=st.one_of(st.none(), st.integers(0, 10)),
)
def test_any_value_a_record_holds_reads_back_as_the_orm_reads_it(
    clinic, at, on, text, dose, serious, pain
):
    with clinic() as session:
        patient = Patient(mrn="PROP-1", name=text or "x", birth_date=on, sex="M", created_at=at)
        session.add(patient)
        session.flush()
        common = {"patient_id": patient.id, "recorded_by": text, "recorded_at": at}
        session.add_all(
            [
                Appointment(
                    patient_id=patient.id,
                    kind="refill",
                    starts_at=at,
                    note=text,
                    booked_by=text,
                    booked_at=at + timedelta(microseconds=1),
                ),
                AdverseEvent(
                    kind="other",
                    occurred_on=on,
                    serious=serious,
                    description=text,
                    action=text,
                    **common,
                ),
                Trial(
                    performed_on=on,
                    drug="morphine",
                    dose_mcg=dose,
                    mode="bolus",
                    pain_before=pain,
                    pain_after=pain,
                    side_effects=text,
                    decision="implant",
                    **common,
                ),
            ]
        )
        session.flush()
        session.expunge_all()  # the ORM reads them back from the database, not the session
        _same_as_the_orm(session, patient.id)
        session.rollback()


def test_a_column_type_it_cannot_read_is_refused_when_the_statement_is_built():
    with pytest.raises(TypeError, match="no JSON reading"):
        json_read._converter(LargeBinary())


def test_the_statement_is_built_once_for_the_same_kinds():
    assert json_read._statement(tuple(KINDS)) is json_read._statement(tuple(KINDS))


def test_the_dashboard_lists_read_in_one_statement_as_each_would_alone(clinic):
    """Counts and worklists at several instants (none due, some, every device to replace)."""
    counts, lists = dashboard._worklists(limit=25)
    seen = [0] * len(lists)
    for days in (-400, 0, 30, 4000):
        at = NOW + timedelta(days=days)
        week, before = at + timedelta(days=7), at + timedelta(days=max(days, 180))
        params = {"now": at, "week": week, "replace_before": before}
        with clinic() as session:
            values, found = json_read.listings(session, counts, lists, params)
            alone = [[tuple(row) for row in session.execute(x.select, params)] for x in lists]
            assert values == list(session.execute(select(*counts), params).one())
        typed = [[[(type(v), v) for v in row] for row in rows] for rows in found]
        assert typed == [[[(type(v), v) for v in row] for row in rows] for rows in alone]
        seen = [n + len(rows) for n, rows in zip(seen, found, strict=True)]
    assert 0 not in seen, seen  # every list was compared with rows in it
