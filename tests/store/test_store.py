"""Store rules: append-only program versions with optimistic concurrency, atomic refills, the
hash-chained audit log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.safety.review import Acknowledgement
from intrathecal.store import audit, programs, refills
from intrathecal.store.db import open_database
from intrathecal.store.errors import BlockedError, ConflictError
from intrathecal.store.models import AuditEntry, Patient, ProgramVersion, Refill, Stage
from intrathecal.store.seed import seed_demo
from tests.store.conftest import NOW, SEED_PATIENTS

ROOT = Path(__file__).resolve().parents[2]


def implanted(session: Session) -> Patient:
    return (
        session.execute(
            select(Patient).where(Patient.stage == Stage.IMPLANTED.value).order_by(Patient.id)
        )
        .scalars()
        .first()
    )  # type: ignore[return-value]


def count(session: Session, model: type) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_seed_puts_patients_at_every_stage_and_every_program_is_valid(
    seeded: sessionmaker[Session],
) -> None:
    with seeded() as session:
        stages = set(session.execute(select(Patient.stage)).scalars())
        assert stages == {s.value for s in Stage}
        assert count(session, Patient) == SEED_PATIENTS
        for version in session.execute(select(ProgramVersion)).scalars():
            programs.parse(version.program_toml)  # raises if any seeded program is invalid
        assert audit.verify(session).ok


def test_seed_is_deterministic(tmp_path: Path) -> None:
    names = []
    for run in ("a", "b"):
        engine, sessions = open_database(f"sqlite:///{tmp_path / run}.db")
        with sessions.begin() as session:
            seed_demo(session, patients=10, now=NOW)
        with sessions() as session:
            names.append(
                [
                    (p.name, p.stage, p.next_refill_due_at)
                    for p in session.execute(select(Patient).order_by(Patient.id)).scalars()
                ]
            )
        engine.dispose()
    assert names[0] == names[1]


def draft(
    session: Session, patient: Patient, program: str, reason: str, replaces: int | None, who: str
) -> programs.Draft:
    """A draft acknowledging every soft finding the review raises (with who and why)."""
    _, result = programs.review_for_patient(session, patient, program, (), NOW)
    acks = tuple(Acknowledgement(f.code, who, "reviewed") for f in result.unacknowledged)
    return programs.Draft(program, reason, replaces, acks)


def _next(session: Session, patient: Patient, dose: str) -> str:
    current = programs.latest(session, patient.id)
    assert current is not None
    return current.program_toml.replace(
        current.program_toml.split('dose = "', 1)[1].split('"', 1)[0], dose, 1
    )


def test_two_clinicians_change_the_same_version_one_wins_the_other_is_told_nothing_lost(
    seeded: sessionmaker[Session],
) -> None:
    with seeded() as session:
        patient = implanted(session)
        opened = programs.latest(session, patient.id)
        assert opened is not None
        seen = opened.version
        text_a = opened.program_toml
        pid = patient.id
    # Both opened version `seen`. A saves first.
    with seeded.begin() as session:
        patient = session.get(Patient, pid)
        assert patient is not None
        a = programs.save_version(
            session,
            patient,
            draft(session, patient, text_a, "A: alarm volume", seen, "dr.a"),
            "dr.a",
            NOW,
        )
        assert a.version == seen + 1
    # B saves a change of the same version: refused, told who changed it, nothing stored.
    with seeded() as session:
        patient = session.get(Patient, pid)
        assert patient is not None
        before = count(session, ProgramVersion)
        with pytest.raises(ConflictError) as refused:
            programs.save_version(
                session, patient, draft(session, patient, text_a, "B", seen, "dr.b"), "dr.b", NOW
            )
        session.rollback()
        assert "dr.a" in refused.value.message
        assert refused.value.current_version == seen + 1
        assert count(session, ProgramVersion) == before
    # B reloads and applies the change on top of A's: both versions are in the history.
    with seeded.begin() as session:
        patient = session.get(Patient, pid)
        assert patient is not None
        b = programs.save_version(
            session,
            patient,
            draft(session, patient, text_a, "B again", seen + 1, "dr.b"),
            "dr.b",
            NOW,
        )
    with seeded() as session:
        history = programs.history(session, pid)
        assert [v.signed_by for v in history[-2:]] == ["dr.a", "dr.b"]
        assert history[-1].replaces_version == a.version == b.version - 1


def test_racing_writers_past_the_check_are_stopped_by_the_unique_version(
    seeded: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with seeded.begin() as session:
        patient = implanted(session)
        stale = programs.latest(session, patient.id)
        assert stale is not None
        pid = patient.id
        programs.save_version(
            session,
            patient,
            draft(session, patient, stale.program_toml, "first writer", stale.version, "dr.a"),
            "dr.a",
            NOW,
        )
    # The second writer read `stale` before the first committed (as in a race): its check
    # passes, and the database's unique (patient, version) refuses the insert.
    monkeypatch.setattr(programs, "latest", lambda _s, _p: stale)
    with seeded() as session:
        patient = session.get(Patient, pid)
        assert patient is not None
        with pytest.raises(ConflictError):
            programs.save_version(
                session,
                patient,
                draft(session, patient, stale.program_toml, "second writer", stale.version, "dr.b"),
                "dr.b",
                NOW,
            )
        session.rollback()
        assert [v.signed_by for v in programs.history(session, pid)][-1] == "dr.a"


def test_hard_limit_blocks_saving_and_stores_nothing(seeded: sessionmaker[Session]) -> None:
    with seeded() as session:
        patient = implanted(session)
        current = programs.latest(session, patient.id)
        assert current is not None
        drug = programs.parse(current.program_toml).first.drug
        hard = drug.daily_dose_mcg_per_day.hard_max
        assert hard is not None
        too_much = f"{hard.value * 2:g} mcg/day"
        before = count(session, ProgramVersion)
        with pytest.raises(BlockedError) as blocked:
            programs.save_version(
                session,
                patient,
                programs.Draft(_next(session, patient, too_much), "x", current.version, ()),
                "dr.a",
                NOW,
            )
        session.rollback()
        assert any(f.severity.value == "hard" for f in blocked.value.findings)
        assert count(session, ProgramVersion) == before


def test_soft_limit_needs_an_acknowledgement_recorded_with_who_and_why(
    seeded: sessionmaker[Session],
) -> None:
    with seeded() as session:
        patient = implanted(session)
        current = programs.latest(session, patient.id)
        assert current is not None
        draft_text = current.program_toml.replace(
            'low_reservoir_alarm = "4 mL"', 'low_reservoir_alarm = "1.5 mL"'
        )
        with pytest.raises(BlockedError) as blocked:
            programs.save_version(
                session,
                patient,
                programs.Draft(draft_text, "x", current.version, ()),
                "dr.a",
                NOW,
            )
        session.rollback()
        codes = [f.code for f in blocked.value.unacknowledged]
        assert "LOW_RESERVOIR_ALARM_BELOW_SAFE" in codes
        ack = tuple(Acknowledgement(c, "dr.a", "patient cannot attend sooner") for c in codes)
        saved = programs.save_version(
            session, patient, programs.Draft(draft_text, "x", current.version, ack), "dr.a", NOW
        )
        session.commit()
        stored = json.loads(saved.acknowledgements_json)
        assert {
            "code": "LOW_RESERVOIR_ALARM_BELOW_SAFE",
            "who": "dr.a",
            "why": "patient cannot attend sooner",
        } in stored


def test_refill_reconciles_the_last_fill_and_sets_the_next_due_date(
    seeded: sessionmaker[Session],
) -> None:
    with seeded.begin() as session:
        patient = implanted(session)
        last = programs.last_refill(session, patient.id)
        assert last is not None
        at = max(NOW, last.performed_at + timedelta(days=7))
        prepared = refills.prepare(
            session,
            patient,
            refills.RefillRequest(fill_ml=last.fill_ml, performed_at=at, withdrawn_ml=0.0),
        )
        assert prepared.reconciliation is not None
        expected = prepared.reconciliation.expected_ml
        # Withdrawing exactly the expected residual is no discrepancy.
        row = refills.save(
            session,
            patient,
            refills.RefillRequest(
                fill_ml=last.fill_ml, performed_at=at, withdrawn_ml=round(expected, 3)
            ),
            "nurse",
        )
        assert row.investigate is False
        assert abs(row.expected_residual_ml - expected) < 1e-9  # type: ignore[operator]
        assert patient.next_refill_due_at == row.next_due_at > at


SAVE_SCRIPT = """
import os, sys, time
from datetime import timedelta
from intrathecal.store import programs, refills
from intrathecal.store.db import open_database
from intrathecal.store.models import Patient
engine, sessions = open_database(sys.argv[1])
def pause():
    print("FLUSHED", flush=True)
    time.sleep(float(sys.argv[3]))
with sessions.begin() as session:
    patient = session.get(Patient, int(sys.argv[2]))
    last = programs.last_refill(session, patient.id)
    at = last.performed_at + timedelta(days=10)
    refills.save(session, patient, refills.RefillRequest(
        fill_ml=last.fill_ml, performed_at=at, withdrawn_ml=5.0, investigate_reason="checked",
        cosigner="physician", cosigner_password="amber-harbor-lantern-51"),
    "nurse", on_flushed=pause)
print("COMMITTED", flush=True)
"""


def _run_save(url: str, patient_id: int, kill: bool) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SAVE_SCRIPT, url, str(patient_id), "30" if kill else "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "FLUSHED"
    if kill:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    else:
        assert process.stdout.readline().strip() == "COMMITTED"
        assert process.wait(timeout=30) == 0


def _state(sessions: sessionmaker[Session], patient_id: int) -> tuple[int, int, object, bool]:
    with sessions() as session:
        patient = session.get(Patient, patient_id)
        assert patient is not None
        refills_n = session.execute(
            select(func.count()).select_from(Refill).where(Refill.patient_id == patient_id)
        ).scalar_one()
        return (
            refills_n,
            count(session, AuditEntry),
            patient.next_refill_due_at,
            audit.verify(session).ok,
        )


def test_a_kill_during_refill_save_leaves_the_whole_refill_or_none(
    seeded: sessionmaker[Session], database_url: str
) -> None:
    with seeded() as session:
        patient_id = implanted(session).id
    before = _state(seeded, patient_id)
    _run_save(database_url, patient_id, kill=True)
    # Killed after every row was written but before the commit: none of it is there.
    assert _state(seeded, patient_id) == before
    _run_save(database_url, patient_id, kill=False)
    after = _state(seeded, patient_id)
    # Committed: the refill, its audit entry and the new due date all landed together.
    assert after[0] == before[0] + 1
    assert after[1] == before[1] + 1
    assert after[2] != before[2]
    assert after[3]


# The audit chain's tamper tests are in test_audit_chain.py.
