"""Records no client can bend (issue 10, items 2, 3, 4 and 6), in the store, on SQLite and
PostgreSQL: refills follow one fill each, INVESTIGATE needs a physician's co-signature, a wrong
refill is voided (never edited), and the review's refill context comes from the records."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.safety.review import Acknowledgement
from intrathecal.store import programs, records, refills
from intrathecal.store.errors import ConflictError
from intrathecal.store.models import (
    Appointment,
    AuditEntry,
    Indication,
    Patient,
    Refill,
    RefillVoid,
    Stage,
)
from intrathecal.units import InputError
from tests.store.conftest import NOW

PHYSICIAN_PASSWORD = "amber-harbor-lantern-51"
COSIGN = {
    "investigate_reason": "needle position confirmed",
    "cosigner": "physician",
    "cosigner_password": PHYSICIAN_PASSWORD,
}


def implanted(session: Session, drug: str = "") -> Patient:
    """The first implanted patient (whose program holds ``drug``, if named)."""
    for patient in session.execute(
        select(Patient).where(Patient.stage == Stage.IMPLANTED.value).order_by(Patient.id)
    ).scalars():
        latest = programs.latest(session, patient.id)
        if (
            latest is not None
            and programs.last_refill(session, patient.id) is not None
            and (not drug or f'name = "{drug}"' in latest.program_toml)
        ):
            return patient
    raise AssertionError(f"no implanted patient with {drug or 'a program'}")


def request(last: Refill, **values: object) -> refills.RefillRequest:
    """A refill at NOW of the same volume, withdrawing nothing (INVESTIGATE unless it was
    nearly empty): co-signed unless ``values`` say otherwise."""
    fields: dict[str, object] = {
        "fill_ml": last.fill_ml,
        "performed_at": NOW,
        "withdrawn_ml": 0.0,
        "follows_refill_id": last.id,
        **COSIGN,
        **values,
    }
    return refills.RefillRequest(**fields)  # type: ignore[arg-type]


def investigating(session: Session) -> tuple[Patient, Refill]:
    """A patient whose refill at NOW, withdrawing 0 mL, reconciles to INVESTIGATE."""
    patient = implanted(session)
    last = programs.last_refill(session, patient.id)
    assert last is not None
    plan = refills.prepare(session, patient, request(last))
    assert plan.reconciliation is not None and plan.reconciliation.investigate
    return patient, last


# --- item 3: saved once -------------------------------------------------------------------


def test_refill_naming_a_stale_refill_is_refused_409_and_stores_nothing(
    seeded: sessionmaker[Session],
) -> None:
    with seeded() as session:
        patient = implanted(session)
        last = programs.last_refill(session, patient.id)
        assert last is not None
        assert last.follows_refill_id is not None  # the seed's refills are chained
        before = session.execute(select(func.count()).select_from(Refill)).scalar_one()
        for stale in (last.follows_refill_id, None, last.id + 10_000):
            with pytest.raises(ConflictError) as caught:
                refills.save(session, patient, request(last, follows_refill_id=stale), "nurse")
            assert caught.value.field == "follows_refill_id"
            assert caught.value.current_version == last.id
            session.rollback()
        assert session.execute(select(func.count()).select_from(Refill)).scalar_one() == before


def test_two_refills_racing_against_one_fill_store_one_the_other_conflicts(
    seeded: sessionmaker[Session],
) -> None:
    with seeded() as session:
        patient = implanted(session)
        last = programs.last_refill(session, patient.id)
        assert last is not None
        session.commit()
    barrier = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []

    def refill(nurse: str) -> None:
        with seeded() as session:
            mine = session.get(Patient, patient.id)
            assert mine is not None
            session.commit()  # end the read: both writers start together below
            barrier.wait()
            try:
                # The first holds its transaction open a moment after writing: the second
                # must wait for it and then see its refill.
                refills.save(
                    session, mine, request(last), nurse, on_flushed=lambda: time.sleep(0.3)
                )
                session.commit()
                outcomes.append("saved")
            except ConflictError:
                session.rollback()
                outcomes.append("conflict")

    threads = [threading.Thread(target=refill, args=(n,)) for n in ("nurse", "physician")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["conflict", "saved"]
    with seeded() as session:
        following = session.execute(
            select(func.count()).select_from(Refill).where(Refill.follows_refill_id == last.id)
        ).scalar_one()
        assert following == 1


# --- item 4: INVESTIGATE means stop -----------------------------------------------------------


REFUSED_COSIGNATURES = [
    ("nurse", {"investigate_reason": ""}, "investigate_reason"),
    ("nurse", {"cosigner": "", "cosigner_password": "quiet-meadow-compass-27"}, "cosigner"),
    ("nurse", {"cosigner": "nurse", "cosigner_password": "quiet-meadow-compass-27"}, "cosigner"),
    ("nurse", {"cosigner": "pharmacist", "cosigner_password": "silver-orchard-kettle-83"}, None),
    ("nurse", {"cosigner_password": "wrong-password"}, "cosigner_password"),
    ("nurse", {"cosigner": "nobody"}, "cosigner_password"),
    ("physician", {"cosigner": "", "cosigner_password": "wrong-password"}, "cosigner_password"),
]


def test_investigate_is_saved_only_with_a_reason_and_a_physicians_cosignature(
    seeded: sessionmaker[Session],
) -> None:
    with seeded() as session:
        patient, last = investigating(session)
        for saver, values, field in REFUSED_COSIGNATURES:
            with pytest.raises(InputError) as caught:
                refills.save(session, patient, request(last, **values), saver)
            if field is not None:
                assert caught.value.field == field, (saver, values)
            session.rollback()
            assert programs.last_refill(session, patient.id).id == last.id  # type: ignore[union-attr]


def test_investigate_cosigned_is_stored_with_who_why_and_the_servers_time(
    seeded: sessionmaker[Session],
) -> None:
    server_now = NOW + timedelta(seconds=42)
    with seeded() as session:
        patient, last = investigating(session)
        for saver, values in (
            ("nurse", {}),  # a second physician co-signs
            ("physician", {"cosigner": "", "cosigner_password": PHYSICIAN_PASSWORD}),  # re-entered
        ):
            row = refills.save(
                session, patient, request(last, **values), saver, recorded_at=server_now
            )
            assert row.investigate
            assert row.cosigned_by == "physician"
            assert row.investigate_reason == "needle position confirmed"
            assert row.cosigned_at == server_now and row.recorded_at == server_now
            entry = session.execute(
                select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)
            ).scalar_one()
            assert entry.action == "refill.save" and entry.at == server_now
            assert json.loads(entry.detail_json)["cosigned_by"] == "physician"
            session.rollback()


# --- item 6: mistakes are corrected, not edited -----------------------------------------------


def test_voided_refill_stays_but_due_dates_and_the_next_reconciliation_skip_it(
    seeded: sessionmaker[Session],
) -> None:
    with seeded.begin() as session:
        patient = implanted(session)
        before = programs.last_refill(session, patient.id)
        assert before is not None
        wrong = refills.save(session, patient, request(before, fill_ml=before.fill_ml), "nurse")
        assert patient.next_refill_due_at == wrong.next_due_at
        pid, wrong_id = patient.id, wrong.id
    later = NOW + timedelta(hours=1)
    with seeded.begin() as session:
        patient = session.get(Patient, pid)
        assert patient is not None
        correction = refills.void(
            session, patient, wrong_id, "typed into the wrong chart", "nurse", later
        )
        assert (correction.voided_by, correction.voided_at) == ("nurse", later)
    with seeded() as session:
        patient = session.get(Patient, pid)
        assert patient is not None
        assert session.get(Refill, wrong_id) is not None  # nothing deleted
        assert programs.last_refill(session, pid).id == before.id  # type: ignore[union-attr]
        assert patient.next_refill_due_at == before.next_due_at
        assert patient.low_alarm_at == before.low_alarm_at
        # The next refill follows, and reconciles against, the fill before the void.
        plan = refills.prepare(session, patient, request(before, performed_at=later))
        assert plan.previous is not None and plan.previous.id == before.id
        with pytest.raises(ConflictError):
            refills.save(session, patient, request(before, follows_refill_id=wrong_id), "nurse")
        session.rollback()
        with pytest.raises(ConflictError):  # voided once
            refills.void(session, patient, wrong_id, "again", "physician", later)
        session.rollback()
        with pytest.raises(InputError):
            refills.void(session, patient, before.id, "  ", "physician", later)
        session.rollback()
        entry = session.execute(
            select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)
        ).scalar_one()
        assert entry.action == "refill.void" and entry.actor == "nurse" and entry.at == later
        assert session.execute(select(func.count()).select_from(RefillVoid)).scalar_one() == 1


# --- item 2: hard findings cannot be switched off by an input ------------------------------


def thinned(text: str, factor: float) -> str:
    """The program at 1/factor of each concentration: same dose, factor times the volume."""

    def thin(match: re.Match[str]) -> str:
        return f'concentration = "{float(match.group(1)) / factor:g} {match.group(2)}"'

    return re.sub(r'concentration = "([\d.]+) ([^"]+)"', thin, text)


def test_empties_before_refill_cannot_be_switched_off_by_an_earlier_next_refill_at(
    seeded: sessionmaker[Session],
) -> None:
    with seeded() as session:
        patient = implanted(session)
        last = programs.last_refill(session, patient.id)
        assert last is not None
        fresh = refills.save(session, patient, request(last), "nurse", recorded_at=NOW)
        current = programs.latest(session, patient.id)
        assert current is not None
        text = thinned(current.program_toml, 10)  # the pump empties in a tenth of the time
        _, result, context = programs.review_with_context(session, patient, text, (), NOW)
        assert "EMPTIES_BEFORE_REFILL" in {f.code for f in result.hard}
        # The scheduled refill: the fresh fill's due date, or a refill booked before it.
        scheduled, source = programs.scheduled_refill(session, patient.id, fresh, NOW)
        assert scheduled <= fresh.next_due_at
        assert (context.next_refill_at, context.next_refill_source) == (
            scheduled.isoformat(),
            source,
        )
        early = NOW + timedelta(days=1)
        with pytest.raises(InputError) as caught:
            programs.review_with_context(session, patient, text, (), NOW, next_refill_at=early)
        assert caught.value.field == "next_refill_at"
        with pytest.raises(InputError):
            programs.save_version(
                session,
                patient,
                programs.Draft(text, "thinner", current.version, next_refill_at=early),
                "physician",
                NOW,
            )
        # A later date only tightens: the finding stays.
        _, later, _ = programs.review_with_context(
            session, patient, text, (), NOW, next_refill_at=scheduled + timedelta(days=9)
        )
        assert "EMPTIES_BEFORE_REFILL" in {f.code for f in later.hard}


def test_a_booked_earlier_refill_is_the_context_and_is_stored_with_the_version(
    seeded: sessionmaker[Session],
) -> None:
    with seeded() as session:
        patient = implanted(session)
        last = programs.last_refill(session, patient.id)
        assert last is not None
        refills.save(session, patient, request(last), "nurse", recorded_at=NOW)
        current = programs.latest(session, patient.id)
        assert current is not None
        booked = Appointment(
            patient_id=patient.id,
            kind="refill",
            starts_at=NOW + timedelta(hours=2),
            booked_by="nurse",
            booked_at=NOW,
        )
        session.add(booked)
        session.flush()
        text = thinned(current.program_toml, 10)
        _, result, context = programs.review_with_context(session, patient, text, (), NOW)
        assert "EMPTIES_BEFORE_REFILL" not in {f.code for f in result.findings}
        assert context.next_refill_source == f"refill appointment {booked.id}"
        acks = tuple(Acknowledgement(f.code, "physician", "test") for f in result.unacknowledged)
        if result.hard:
            pytest.skip("the thinner solution has another hard finding on this device")
        version = programs.save_version(
            session,
            patient,
            programs.Draft(text, "thinner", current.version, acks),
            "physician",
            NOW,
        )
        assert f'"refill appointment {booked.id}"' in version.review_context_json


def void_indications(session: Session, patient: Patient) -> None:
    """Every indication of the patient voided (the database refuses a DELETE, migration 0015)."""
    for row in session.execute(
        select(Indication).where(
            Indication.patient_id == patient.id, records.not_voided("indication", Indication)
        )
    ).scalars():
        records.void(session, patient, "indication", row.id, "test", "physician", NOW)


def test_change_profile_may_only_be_the_records_or_stricter(
    seeded: sessionmaker[Session],
) -> None:
    with seeded() as session:
        patient = implanted(session, "baclofen")
        current = programs.latest(session, patient.id)
        assert current is not None
        text = current.program_toml
        for condition in (
            *programs.SPINAL_INDICATIONS,
            *programs.CEREBRAL_INDICATIONS,
        ):
            void_indications(session, patient)
            session.add(Indication(patient_id=patient.id, condition=condition, recorded_at=NOW))
            session.flush()
            recorded = "spinal" if condition in programs.SPINAL_INDICATIONS else "cerebral"
            _, _, context = programs.review_with_context(session, patient, text, (), NOW)
            assert context.change_profile == recorded
            # The stricter profile is always accepted.
            programs.review_with_context(session, patient, text, (), NOW, "cerebral")
            if recorded == "cerebral":
                with pytest.raises(InputError) as caught:
                    programs.review_with_context(session, patient, text, (), NOW, "spinal")
                assert caught.value.field == "change_profile"
            else:
                _, _, chosen = programs.review_with_context(
                    session, patient, text, (), NOW, "spinal"
                )
                assert chosen.change_profile == "spinal"
        void_indications(session, patient)
        _, _, context = programs.review_with_context(session, patient, text, (), NOW)
        assert context.change_profile is None  # each drug's default limits
        with pytest.raises(InputError):
            programs.review_with_context(session, patient, text, (), NOW, "spinal")
        session.rollback()


# --- the migration on a clinic that has records -----------------------------------------------

TS = "'2026-01-01 10:00:00'"
ROWS_0003 = [
    "INSERT INTO patients (id, mrn, name, birth_date, sex, created_at, stage) "
    f"VALUES (1, 'M1', 'A', '1970-01-01', 'female', {TS}, 'implanted')",
    "INSERT INTO implants (id, patient_id, device_key, serial, reservoir_ml, catheter_length_cm, "
    "catheter_volume_ml, tip_level, setting, implanted_at, replace_by, recorded_by, recorded_at) "
    f"VALUES (1, 1, 'd', 'S', 20, 70, 0.2, 'T10', 'inpatient', {TS}, {TS}, 'x', {TS})",
    "INSERT INTO program_versions (id, patient_id, implant_id, version, program_toml, reason, "
    "findings_json, acknowledgements_json, daily_doses_json, signed_by, signed_at) "
    f"VALUES (1, 1, 1, 1, '', 'r', '[]', '[]', '{{}}', 'x', {TS})",
    *(
        "INSERT INTO refills (id, patient_id, implant_id, program_version_id, performed_at, "
        "performed_by, via, investigate, reconciliation_json, fill_ml, concentrations_json, "
        "recipe_json, bridge_json, next_due_at, low_alarm_at, limited_by, notes) "
        f"VALUES ({i}, 1, 1, 1, '2026-02-{day} 10:00:00', 'x', 'typed in', false, '{{}}', 20, "
        f"'{{}}', '{{}}', '{{}}', {TS}, {TS}, 'alarm', '')"
        for i, day in ((1, "01"), (2, "20"), (3, "10"))
    ),
]


def test_migration_0004_chains_a_clinics_refills_and_goes_down_and_up(database_url: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from intrathecal.store.db import alembic_config, make_engine

    engine = make_engine(database_url)
    config = alembic_config(database_url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0003")
            for statement in ROWS_0003:
                connection.execute(text(statement))
        with engine.begin() as connection:  # foreign keys on: SQLite copies no table
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        with engine.connect() as connection:
            chained = connection.execute(
                text("SELECT id, follows_refill_id FROM refills ORDER BY id")
            ).all()
        # By time: 1 (1 Feb), 3 (10 Feb), 2 (20 Feb).
        assert [tuple(row) for row in chained] == [(1, None), (2, 3), (3, 1)]
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0003")
            command.upgrade(config, "head")
    finally:
        engine.dispose()


def test_the_cosignature_is_checked_before_the_write_transaction(
    seeded: sessionmaker[Session],
) -> None:
    # The password check (argon2, ~0.1 s) runs on a read-only session before the refill's write
    # transaction, so it never holds SQLite's write lock; a wrong password gives None and the
    # save checks again (and records the failure) as it always did.
    with seeded() as session:
        patient = implanted(session)
        last = programs.last_refill(session, patient.id)
        assert last is not None
        good = request(last)
    assert refills.verify_cosignature(seeded, good, "nurse", NOW).result() == "physician"
    wrong = replace(good, cosigner_password="not-the-password-at-all")
    assert refills.verify_cosignature(seeded, wrong, "nurse", NOW).result() is None
    unreasoned = replace(good, investigate_reason="")
    assert refills.verify_cosignature(seeded, unreasoned, "nurse", NOW).result() is None
    with seeded() as session:
        patient = session.get(Patient, patient.id)
        assert patient is not None
        saved = refills.save(
            session, patient, good, "nurse", recorded_at=NOW, verified_cosigner="physician"
        )
        assert saved.investigate and saved.cosigned_by == "physician"
