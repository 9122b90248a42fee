"""What a refill puts in, checked in the store (every door: wizard, API, pump recovery).

Scenario (tests/store/pump_scenario.py): morphine 10 mg/mL at 1 mg/day filled with 20 mL 30 days
before NOW (version 1); version 2 (20 mg/mL, same dose) signed. The first refill here, at NOW,
fills version 2: 30 x 0.1 = 3 mL delivered, 17 mL expected and withdrawn. Version 2 is then in
force; a refill one day later that fills version 1 goes back on a later prescription.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from intrathecal.store import programs, refills
from intrathecal.store.db import open_database
from intrathecal.store.models import Patient
from intrathecal.store.seed import ensure_users
from intrathecal.units import InputError
from tests.store.conftest import NOW
from tests.store.pump_scenario import morphine_program, pump_patient

LOT = refills.DrugLot("morphine", "M2406-11", date(2026, 9, 30))


@pytest.fixture
def patient_session(database_url: str) -> Iterator[tuple[Session, Patient]]:
    engine, sessions = open_database(database_url)
    with sessions() as session:
        ensure_users(session, NOW)
        patient = pump_patient(session, None, "LOT0001", stronger_signed=True)
        session.commit()
        yield session, patient
    engine.dispose()


def _refill(
    at_days: float, version: int, withdrawn: float, **extra: object
) -> refills.RefillRequest:
    return refills.RefillRequest(
        fill_ml=20.0,
        performed_at=NOW + timedelta(days=at_days),
        withdrawn_ml=withdrawn,
        program_version=version,
        **extra,  # type: ignore[arg-type]
    )


def test_expiry_before_the_fill_date_is_refused_and_nothing_saved(
    patient_session: tuple[Session, Patient],
) -> None:
    session, patient = patient_session
    # NOW is 2026-03-02 (tests/store/conftest.py); a lot that expired the day before.
    expired = refills.DrugLot("morphine", "M2406-11", NOW.date() - timedelta(days=1))
    with pytest.raises(InputError) as raised:
        refills.save(session, patient, _refill(0, 2, 17.0, lots=(expired,)), "nurse")
    assert raised.value.field == "expiry_morphine"
    assert "before the fill date" in raised.value.message
    session.rollback()
    assert len(programs.history(session, patient.id)) == 2
    last = programs.last_refill(session, patient.id)
    assert last is not None and last.performed_at < NOW


def test_expiry_on_the_fill_day_is_accepted_and_recorded_with_the_compounder(
    patient_session: tuple[Session, Patient],
) -> None:
    session, patient = patient_session
    today = refills.DrugLot("morphine", "M2406-11", NOW.date())
    row = refills.save(
        session,
        patient,
        _refill(0, 2, 17.0, lots=(today,), compounded_by="Priya Pharmacist"),
        "nurse",
    )
    session.commit()
    assert json.loads(row.drug_lots_json) == [
        {"drug": "morphine", "lot": "M2406-11", "expiry": NOW.date().isoformat()}
    ]
    assert row.compounded_by == "Priya Pharmacist"


def test_a_lot_of_a_drug_not_in_the_program_is_refused(
    patient_session: tuple[Session, Patient],
) -> None:
    session, patient = patient_session
    other = refills.DrugLot("baclofen", "B1", date(2027, 1, 1))
    with pytest.raises(InputError) as raised:
        refills.save(session, patient, _refill(0, 2, 17.0, lots=(LOT, other)), "nurse")
    assert raised.value.field == "lot_baclofen"


def test_filling_an_older_version_than_the_one_in_force_needs_a_reason(
    patient_session: tuple[Session, Patient],
) -> None:
    session, patient = patient_session
    refills.save(session, patient, _refill(0, 2, 17.0, lots=(LOT,)), "nurse")
    session.commit()
    in_force = programs.in_force(session, patient.id)
    assert in_force is not None and in_force.version == 2
    # One day at 1 mg/day of 20 mg/mL = 0.05 mL: 19.95 mL expected.
    back = _refill(1, 1, 19.95, lots=(LOT,))
    with pytest.raises(InputError) as raised:
        refills.save(session, patient, back, "nurse")
    assert raised.value.field == "older_version_reason"
    assert "version 1 is older than version 2, in force" in raised.value.message
    session.rollback()
    why = "nausea on the stronger solution; back to 10 mg/mL as agreed with Dr Okafor"
    row = refills.save(
        session, patient, _refill(1, 1, 19.95, lots=(LOT,), older_version_reason=why), "nurse"
    )
    session.commit()
    assert f"version 1 filled, older than version 2 in force: {why}" in row.notes


@settings(max_examples=60, deadline=None)
@given(
    fill_day=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    offset=st.integers(min_value=-400, max_value=400),
)
def test_expiry_rule_holds_for_every_date(fill_day: date, offset: int) -> None:
    """A lot is accepted exactly when it expires on or after the day of the fill."""
    program = programs.parse(morphine_program("10 mg/mL"))
    plan = refills.RefillPlan(
        old_version=None,
        new_version=SimpleNamespace(version=1),  # type: ignore[arg-type]
        new_program=program,
        previous=None,
        reconciliation=None,
        recipe=None,
        bridge=None,
        due=None,  # type: ignore[arg-type]
        notes=(),
    )
    expiry = fill_day + timedelta(days=offset)
    request = refills.RefillRequest(
        fill_ml=20.0,
        performed_at=datetime(fill_day.year, fill_day.month, fill_day.day, 23, 59, tzinfo=UTC),
        lots=(refills.DrugLot("morphine", "L1", expiry),),
    )
    if offset >= 0:
        refills.check_contents(plan, request)
    else:
        with pytest.raises(InputError) as raised:
            refills.check_contents(plan, request)
        assert raised.value.field == "expiry_morphine"
