"""A refill prepared before the write lock (refills.prepare_apart) is saved only on the records it
was computed from: the rule "a plan made apart is used only on an unchanged basis", on SQLite
and PostgreSQL. Each scenario changes one record the refill is computed from between the plan
and the save, and shows that the save answers as if it had been prepared under the lock; a check
in each shows the stale plan would have answered differently (so the test can fail)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.safety.review import Acknowledgement
from intrathecal.store import programs, records, refills
from intrathecal.store.errors import ConflictError
from intrathecal.store.models import Patient, ProgramVersion, Refill
from intrathecal.units import InputError
from tests.store.conftest import NOW
from tests.store.test_refill_integrity import implanted, request

Change = Callable[[Session, Patient, Refill], None]


def _planned(
    seeded: sessionmaker[Session], **values: object
) -> tuple[int, Refill, refills.RefillRequest, refills.RefillPlan]:
    with seeded() as session:
        patient = implanted(session)
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
    plan: refills.RefillPlan,
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


def test_plan_made_apart_is_not_saved_over_a_refill_saved_meanwhile(
    seeded: sessionmaker[Session],
) -> None:
    patient_id, last, asked, plan = _planned(seeded)

    def refilled(session: Session, patient: Patient, last: Refill) -> None:
        refills.save(session, patient, request(last), "nurse 2", recorded_at=NOW)

    _change(seeded, patient_id, last, refilled)
    refills.check_follows(asked, plan.previous_any)  # the stale plan would let it through
    with pytest.raises(ConflictError) as caught:
        _save(seeded, patient_id, asked, plan)
    assert caught.value.field == "follows_refill_id"


def test_plan_made_apart_is_not_saved_over_a_void_of_the_refill_it_follows(
    seeded: sessionmaker[Session],
) -> None:
    patient_id, last, asked, plan = _planned(seeded)

    def voided(session: Session, patient: Patient, last: Refill) -> None:
        refills.void(session, patient, last.id, "wrong volume typed", "physician", NOW)

    _change(seeded, patient_id, last, voided)
    refills.check_follows(asked, plan.previous_any)
    with pytest.raises(ConflictError):
        _save(seeded, patient_id, asked, plan)


def test_plan_made_apart_fills_the_version_signed_meanwhile(
    seeded: sessionmaker[Session],
) -> None:
    patient_id, last, asked, plan = _planned(seeded)  # no version named: the latest is filled
    signed: list[int] = []

    def resigned(session: Session, patient: Patient, _: Refill) -> None:
        signed.append(_new_version(session, patient).id)

    _change(seeded, patient_id, last, resigned)
    assert plan.new_version.id != signed[0]
    row = _save(seeded, patient_id, asked, plan)
    assert row.program_version_id == signed[0]


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

    def applied(session: Session, patient: Patient, _: Refill) -> None:
        version = _new_version(session, patient)
        programs.apply_version(session, patient, version, "physician", NOW, "typed in", "")

    _change(seeded, patient_id, last, applied)
    refills.check_contents(plan, asked)  # the stale plan: nothing to say
    with pytest.raises(InputError) as caught:
        _save(seeded, patient_id, asked, plan)
    assert caught.value.field == "older_version_reason"


def test_plan_made_apart_is_not_saved_on_an_implant_voided_meanwhile(
    seeded: sessionmaker[Session],
) -> None:
    patient_id, last, asked, plan = _planned(seeded)

    def explanted(session: Session, patient: Patient, _: Refill) -> None:
        implant = programs.current_implant(session, patient.id)
        assert implant is not None
        records.void(session, patient, "implant", implant.id, "entered twice", "physician", NOW)

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
