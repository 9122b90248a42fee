"""The store's one way to add a journey record (store/records.py ``add_record``) and the demo
clinic fitting each patient's indication (issue 11, items 5 and 6). SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.store import records
from intrathecal.store.models import AuditEntry, Evaluation, Indication, Patient, Trial
from intrathecal.units import InputError
from tests.store.conftest import NOW


def test_the_demo_clinics_baclofen_trials_are_measured_in_spasticity_not_pain(
    seeded: sessionmaker[Session],
) -> None:
    with seeded() as db:
        trials = list(db.execute(select(Trial)).scalars())
        baclofen = [t for t in trials if t.drug == "baclofen"]
        others = [t for t in trials if t.drug != "baclofen"]
        assert baclofen and others
        for t in baclofen:
            assert t.pain_before is None and t.pain_after is None
            assert t.ashworth_before in ("1+", "2", "3", "4") and t.spasms_before is not None
            assert "pain" not in t.response
        for t in others:
            assert t.pain_before is not None and t.ashworth_before is None
        # each baclofen trial belongs to a patient whose indication is spasticity
        for t in baclofen:
            conditions = db.execute(
                select(Indication.condition).where(Indication.patient_id == t.patient_id)
            ).scalars()
            assert any(c.startswith("spasticity") for c in conditions)


def test_a_refused_record_writes_nothing_and_a_good_one_is_dated_by_the_server(
    seeded: sessionmaker[Session],
) -> None:
    with seeded() as db:
        pid = db.execute(select(Patient.id).order_by(Patient.id)).scalars().first()
        assert pid is not None
        audits = db.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
        row = Evaluation(patient_id=pid, kind="MRI", performed_on=date(2099, 1, 1), result="fine")
        with pytest.raises(InputError) as refused:
            records.add_record(db, "evaluation", row, "physician", NOW)
        assert refused.value.field == "performed_on"
        db.rollback()
        assert db.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == audits
        good = Evaluation(
            patient_id=pid,
            kind="MRI",
            performed_on=NOW.date() - timedelta(days=3),
            result="fine",
            recorded_by="someone else",  # the store names the actor, not the client
        )
        records.add_record(db, "evaluation", good, "physician", NOW)
        assert (good.recorded_by, good.recorded_at) == ("physician", NOW)
        db.commit()
