"""`make run`'s virtual pumps: one per implanted demo patient, agreeing with the records."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.library import default_library
from intrathecal.pump.alarms import AlarmCode
from intrathecal.pump.persistence import PumpStore, pump_folders
from intrathecal.store import programs, refills
from intrathecal.store.db import open_database
from intrathecal.store.demo_pumps import current_implants, ensure_demo_pumps
from intrathecal.store.seed import seed_demo
from tests.store.conftest import NOW, SEED_PATIENTS, fresh_url
from tests.store.pump_scenario import pump_patient


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sessionmaker[Session]]:
    """One demo clinic per backend for this module (each test makes its own pump folder)."""
    url = fresh_url(request.param, tmp_path_factory.mktemp("demo-pumps"))
    engine, sessions = open_database(url)
    with sessions.begin() as session:
        seed_demo(session, patients=SEED_PATIENTS, now=NOW)
    yield sessions
    engine.dispose()


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_every_implanted_patient_gets_a_pump_that_agrees_with_the_expected_residual(
    seeded: sessionmaker[Session], tmp_path: Path
) -> None:
    library = default_library()
    root = tmp_path / "pumps"
    later = NOW + timedelta(days=3)  # the pumps have run on since they were made
    with seeded() as session:
        made = ensure_demo_pumps(session, root, NOW, library)
        implants = current_implants(session)
        assert implants and made.problems == []
        assert sorted(made.created) == sorted(i.serial for i in implants)
        assert [p.name for p in pump_folders(root)] == sorted(made.created)
        checked = 0
        for implant in implants:
            firmware = PumpStore(root / implant.serial).load(library)
            assert firmware.state.device_key == implant.device_key
            firmware.advance(later.timestamp())
            state = firmware.interrogate()
            in_force = programs.in_force(session, implant.patient_id)
            assert in_force is not None
            assert state["program"]["checksum"] == firmware.state.program_checksum
            patient = programs.require_patient(session, implant.patient_id)
            left = state["reservoir"]["remaining_ml"]
            plan = refills.prepare(
                session,
                patient,
                refills.RefillRequest(
                    fill_ml=implant.reservoir_ml, performed_at=later, withdrawn_ml=left
                ),
            )
            assert plan.reconciliation is not None
            codes = {a["code"] for a in state["alarms"]}
            if firmware.delivering():
                # The same engine on both sides: the pump's count is the clinic's expected
                # residual, far inside the device accuracy x delivered volume.
                assert math.isclose(left, plan.reconciliation.expected_ml, abs_tol=1e-6)
                assert not plan.reconciliation.investigate
                checked += 1
            else:  # delivery stopped: the pump says why, and has delivered less than planned
                assert codes & {AlarmCode.EMPTY_RESERVOIR.value, AlarmCode.END_OF_SERVICE.value}
                assert left >= plan.reconciliation.expected_ml
        assert checked >= len(implants) - 2


def test_the_scenario_pump_holds_the_hand_worked_volume(
    seeded: sessionmaker[Session], tmp_path: Path
) -> None:
    with seeded.begin() as session:
        patient = pump_patient(session, None, "DP0001")
    with seeded() as session:
        ensure_demo_pumps(session, tmp_path, NOW, default_library())
    firmware = PumpStore(tmp_path / f"P{patient.mrn}").load(default_library())
    state = firmware.interrogate()
    # Filled with 20 mL 30 days ago at 1 mg/day of 10 mg/mL = 0.1 mL/day: 20 - 3 = 17 mL.
    assert state["reservoir"]["remaining_ml"] == 17.0
    assert state["reservoir"]["drugs"] == [{"name": "morphine", "concentration_mcg_per_ml": 1e4}]
    assert state["clock"]["now_s"] == NOW.timestamp()
    assert state["delivery"]["rate_ml_per_day"] == 0.1


def test_running_it_again_reuses_every_pump_and_rewrites_nothing(
    seeded: sessionmaker[Session], tmp_path: Path
) -> None:
    with seeded() as session:
        first = ensure_demo_pumps(session, tmp_path, NOW, default_library())
    before = _files(tmp_path)
    with seeded() as session:
        again = ensure_demo_pumps(session, tmp_path, NOW + timedelta(days=1), default_library())
    assert again.created == [] and sorted(again.reused) == sorted(first.created)
    assert again.problems == []
    assert _files(tmp_path) == before


def test_a_reused_pump_that_disagrees_with_the_records_is_reported(
    seeded: sessionmaker[Session], tmp_path: Path
) -> None:
    with seeded() as session:
        implant = current_implants(session)[0]
        serial, device = implant.serial, implant.device_key
    other = "synchromed-ii-40" if device != "synchromed-ii-40" else "synchromed-ii-20"
    PumpStore.create(tmp_path, serial, other, NOW.timestamp(), default_library())
    with seeded() as session:
        made = ensure_demo_pumps(session, tmp_path, NOW, default_library())
    assert serial in made.reused
    (why,) = [m for s, m in made.problems if s == serial]
    assert f"the pump is a {other}, the implant a {device}" in why


def test_seeded_pump_alarms_are_the_alarms_the_virtual_pumps_report(
    seeded: sessionmaker[Session], tmp_path: Path
) -> None:
    """One truth (issue 11, item 9): a patient has an open low-reservoir alarm from the pump on
    record exactly when that patient's virtual pump is in low-reservoir alarm."""
    from sqlalchemy import select

    from intrathecal.store.models import Alarm

    library = default_library()
    with seeded() as session:
        made = ensure_demo_pumps(session, tmp_path, NOW, library)
        assert made.problems == []
        recorded = set(
            session.execute(
                select(Alarm.patient_id).where(
                    Alarm.source == "pump",
                    Alarm.kind == "low reservoir",
                    Alarm.cleared_at.is_(None),
                )
            ).scalars()
        )
        in_alarm = set()
        for implant in current_implants(session):
            firmware = PumpStore(tmp_path / implant.serial).load(library)
            if firmware.state.alarm(AlarmCode.LOW_RESERVOIR) is not None:
                in_alarm.add(implant.patient_id)
    # (The old seed recorded a low-reservoir alarm "reported by the pump" for one patient in
    # five at random, whatever the pump said.)
    assert recorded == in_alarm
