"""A refill prepared before the write lock (refills.prepare_apart) is saved only on the records it
was computed from: the rule "a plan made apart is used only on an unchanged basis", on SQLite
and PostgreSQL. Each scenario changes one record the refill is computed from between the plan
and the save, and shows that the save answers as if it had been prepared under the lock; a check
in each shows the stale plan would have answered differently (so the test can fail)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.safety.review import Acknowledgement
from intrathecal.store import programs, records, refills
from intrathecal.store.db import open_database
from intrathecal.store.errors import ConflictError
from intrathecal.store.models import Patient, ProgramVersion, Refill, Stage
from intrathecal.store.seed import seed_demo
from intrathecal.units import InputError
from tests.store.conftest import NOW, SEED_PATIENTS
from tests.store.test_refill_integrity import implanted, request

Change = Callable[[Session, Patient, Refill], None]


def _implanted(session: Session, nth: int) -> Patient:
    """The ``nth`` implanted patient with a program and a refill (the first is implanted())."""
    found = []
    for patient in session.execute(
        select(Patient).where(Patient.stage == Stage.IMPLANTED.value).order_by(Patient.id)
    ).scalars():
        if programs.latest(session, patient.id) and programs.last_refill(session, patient.id):
            found.append(patient)
    assert found and found[0].id == implanted(session).id
    return found[nth % len(found)]


def _planned(
    seeded: sessionmaker[Session], nth: int = 0, **values: object
) -> tuple[int, Refill, refills.RefillRequest, refills.RefillPlan]:
    with seeded() as session:
        patient = _implanted(session, nth)
        last = programs.last_refill(session, patient.id)
        assert last is not None
        asked = refills.whole_seconds(request(last, **values))
        session.expunge_all()
    plan = refills.prepare_apart(seeded, patient.id, asked)
    assert plan is not None
    return patient.id, last, asked, plan


def _change(seeded: sessionmaker[Session], patient_id: int, last: Refill, change: Change) -> None:
    """Another user's write, committed between the plan and the save."""
    with seeded() as other:
        patient = other.get(Patient, patient_id)
        assert patient is not None
        change(other, patient, last)
        other.commit()


def _save(
    seeded: sessionmaker[Session],
    patient_id: int,
    asked: refills.RefillRequest,
    plan: refills.RefillPlan | None,
) -> Refill:
    with seeded() as session:
        patient = session.get(Patient, patient_id)
        assert patient is not None
        row = refills.save(session, patient, asked, "nurse", recorded_at=NOW, prepared_apart=plan)
        session.commit()
        session.refresh(row)
        session.expunge(row)
        return row


def _new_version(session: Session, patient: Patient) -> ProgramVersion:
    """The same program signed again as a new version (a clinician's re-sign)."""
    current = programs.latest(session, patient.id)
    assert current is not None
    text = current.program_toml
    _, result, _ = programs.review_with_context(session, patient, text, (), NOW)
    assert not result.hard
    acks = tuple(Acknowledgement(f.code, "physician", "test") for f in result.unacknowledged)
    draft = programs.Draft(text, "re-signed", current.version, acks)
    return programs.save_version(session, patient, draft, "physician", NOW)


# --- another user's write between the plan and the save ---------------------------------------


def refilled(session: Session, patient: Patient, last: Refill) -> None:
    refills.save(session, patient, request(last), "nurse 2", recorded_at=NOW)


def voided(session: Session, patient: Patient, last: Refill) -> None:
    refills.void(session, patient, last.id, "wrong volume typed", "physician", NOW)


def resigned(session: Session, patient: Patient, _: Refill) -> None:
    _new_version(session, patient)


def applied(session: Session, patient: Patient, _: Refill) -> None:
    """A newer version signed and sent to the pump."""
    version = _new_version(session, patient)
    programs.apply_version(session, patient, version, "physician", NOW, "typed in", "")


def explanted(session: Session, patient: Patient, _: Refill) -> None:
    """The implant record voided (entered twice): the patient has no implant on file."""
    implant = programs.current_implant(session, patient.id)
    assert implant is not None
    records.void(session, patient, "implant", implant.id, "entered twice", "physician", NOW)


def test_plan_made_apart_is_saved_when_no_record_changed(
    seeded: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    patient_id, last, asked, plan = _planned(seeded)

    def not_again(*_: object) -> refills.RefillPlan:
        raise AssertionError("prepared again under the lock on an unchanged basis")

    monkeypatch.setattr(refills, "prepare", not_again)
    row = _save(seeded, patient_id, asked, plan)
    assert plan.reconciliation is not None
    assert row.follows_refill_id == last.id
    assert row.expected_residual_ml == plan.reconciliation.expected_ml
    assert row.program_version_id == plan.new_version.id
    assert row.next_due_at.timestamp() == plan.due.refill_due_at_s


@pytest.mark.parametrize("change", [refilled, voided], ids=["refill saved", "refill voided"])
def test_plan_made_apart_is_not_saved_when_the_refill_it_follows_is_no_longer_the_last(
    seeded: sessionmaker[Session], change: Change
) -> None:
    patient_id, last, asked, plan = _planned(seeded)
    _change(seeded, patient_id, last, change)
    refills.check_follows(asked, plan.previous_any)  # the stale plan would let it through
    with pytest.raises(ConflictError) as caught:
        _save(seeded, patient_id, asked, plan)
    assert caught.value.field == "follows_refill_id"


def test_plan_made_apart_fills_the_version_signed_meanwhile(
    seeded: sessionmaker[Session],
) -> None:
    patient_id, last, asked, plan = _planned(seeded)  # no version named: the latest is filled
    _change(seeded, patient_id, last, resigned)
    row = _save(seeded, patient_id, asked, plan)
    assert row.program_version_id != plan.new_version.id
    with seeded() as session:
        signed = programs.latest(session, patient_id)
        assert signed is not None and row.program_version_id == signed.id


def test_plan_made_apart_sees_a_newer_version_put_in_force_meanwhile(
    seeded: sessionmaker[Session],
) -> None:
    # The refill fills the version named; meanwhile a newer one is signed and sent to the pump:
    # filling the older one now needs a reason, which the stale plan did not ask for.
    with seeded() as session:
        current = programs.latest(session, implanted(session).id)
        assert current is not None
        named = current.version
    patient_id, last, asked, plan = _planned(seeded, program_version=named)

    _change(seeded, patient_id, last, applied)
    refills.check_contents(plan, asked)  # the stale plan: nothing to say
    with pytest.raises(InputError) as caught:
        _save(seeded, patient_id, asked, plan)
    assert caught.value.field == "older_version_reason"


def test_plan_made_apart_is_not_saved_on_an_implant_voided_meanwhile(
    seeded: sessionmaker[Session],
) -> None:
    patient_id, last, asked, plan = _planned(seeded)

    _change(seeded, patient_id, last, explanted)
    with pytest.raises(InputError) as caught:
        _save(seeded, patient_id, asked, plan)
    assert caught.value.field == "patient"


def test_plan_made_apart_for_another_request_is_not_used(
    seeded: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    patient_id, _, asked, plan = _planned(seeded)
    calls: list[refills.RefillRequest] = []
    prepare = refills.prepare

    def counted(session: Session, patient: Patient, wanted: refills.RefillRequest) -> object:
        calls.append(wanted)
        return prepare(session, patient, wanted)

    monkeypatch.setattr(refills, "prepare", counted)
    other = replace(asked, fill_ml=asked.fill_ml - 1.0)
    row = _save(seeded, patient_id, other, plan)
    assert calls == [other]
    assert row.fill_ml == other.fill_ml


# --- for all requests and changes: the save with a plan made apart is the save without one ----

CHANGES: dict[str, Change] = {
    "nothing": lambda *_: None,
    "refilled": refilled,
    "voided": voided,
    "re-signed": resigned,
    "applied": applied,
    "explanted": explanted,
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo clinic on SQLite, copied whole for each side of each example."""
    path = tmp_path_factory.mktemp("apart") / "template.db"
    engine, sessions = open_database(f"sqlite:///{path}")
    with sessions.begin() as session:
        seed_demo(session, patients=SEED_PATIENTS, now=NOW)
    engine.dispose()  # the last connection closed: the log is checkpointed into the file
    return path


def _outcome(
    path: Path, patient_index: int, values: dict[str, object], change: str, apart: bool
) -> object:
    """What saving answers on a copy of the template after ``change``: the stored refill's
    clinical fields, or the refusal."""
    engine, sessions = open_database(f"sqlite:///{path}")
    try:
        patient_id, last, asked, plan = _planned(sessions, patient_index, **values)
        _change(sessions, patient_id, last, CHANGES[change])
        try:
            row = _save(sessions, patient_id, asked, plan if apart else None)
        except (ConflictError, InputError) as refused:
            return type(refused).__name__, str(refused)
        return (
            row.follows_refill_id,
            row.program_version_id,
            row.fill_ml,
            row.expected_residual_ml,
            row.discrepancy_ml,
            row.investigate,
            row.next_due_at,
            row.low_alarm_at,
            row.limited_by,
            row.notes,
            row.concentrations_json,
            row.bridge_json,
        )
    finally:
        engine.dispose()


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    patient_index=st.integers(0, 5),
    fill=st.integers(50, 200).map(lambda tenths: tenths / 10),
    withdrawn=st.integers(0, 200).map(lambda tenths: tenths / 10),
    change=st.sampled_from(sorted(CHANGES)),
)
def test_plan_made_apart_saves_what_a_plan_made_under_the_lock_saves(
    template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    patient_index: int,
    fill: float,
    withdrawn: float,
    change: str,
) -> None:
    folder = tmp_path_factory.mktemp("example")
    values = {"fill_ml": fill, "withdrawn_ml": withdrawn}
    answers = []
    for apart in (True, False):
        copy = folder / f"{apart}.db"
        shutil.copy(template, copy)
        answers.append(_outcome(copy, patient_index, values, change, apart))
    assert answers[0] == answers[1]
