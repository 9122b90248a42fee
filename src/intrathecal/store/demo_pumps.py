"""Virtual pumps for the demo clinic: one per implanted patient, agreeing with the records.

Each patient's current implant gets a pump folder under a state directory (serial and device of
the implant). The pump is created at the implant's time (so its battery model has the implant's
age), filled with the last refill's volume and drugs at that refill's time, programmed with the
version in force, and run forward in closed form to ``now``. Interrogated later, it reports what
the clinic's reconciliation expects (fill − delivered since the fill, from the same engine).

Idempotent: a pump folder that exists is the device's own state and is never rewritten; it is
only checked against the records and a mismatch is reported (delete the state directory to
start over after the clinic was re-seeded).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from intrathecal.library.records import Library
from intrathecal.pump import commands as cmd
from intrathecal.pump.firmware import Firmware
from intrathecal.pump.persistence import PumpStore, PumpUnreadableError
from intrathecal.store import programs
from intrathecal.store.models import Implant, Patient, Stage


@dataclass
class DemoPumps:
    created: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    # (serial, why): implants without a pump, and reused pumps that disagree with the records.
    problems: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"pumps: {len(self.created)} created, {len(self.reused)} reused"]
        lines += [f"  {serial}: {why}" for serial, why in self.problems]
        return "\n".join(lines)


def current_implants(session: Session) -> list[Implant]:
    """The implant each implanted patient carries now (the latest one), by patient."""
    rows = session.execute(
        select(Patient.id).where(Patient.stage == Stage.IMPLANTED.value).order_by(Patient.id)
    ).scalars()
    implants = [programs.current_implant(session, pid) for pid in rows]
    return [i for i in implants if i is not None]


def _check(firmware: Firmware, implant: Implant, fill_at: datetime | None) -> str:
    """Why a reused pump disagrees with the clinic's records ("" when it agrees)."""
    state = firmware.state
    if state.device_key != implant.device_key:
        return f"the pump is a {state.device_key}, the implant a {implant.device_key}"
    if fill_at is not None and (
        state.filled_at_s is None or abs(state.filled_at_s - fill_at.timestamp()) >= 1.0
    ):
        return (
            "the pump's last fill is not the clinic's last refill "
            f"({fill_at:%Y-%m-%d %H:%M} UTC): delete the state directory to recreate it"
        )
    return ""


def _result(reply: dict[str, object], what: str) -> dict[str, object]:
    if reply.get("ok") is not True:
        raise ValueError(f"{what} refused: {json.dumps(reply.get('errors'))}")
    result = reply.get("result")
    assert isinstance(result, dict)
    return result


def create_pump(
    root: Path, session: Session, implant: Implant, now: datetime, library: Library
) -> None:
    """Create, fill and program the pump of ``implant`` as the records say; run it to ``now``."""
    last = programs.last_refill(session, implant.patient_id)
    if last is None or last.implant_id != implant.id:
        raise ValueError("no refill of this implant is recorded")
    version = programs.in_force(session, implant.patient_id)
    if version is None:
        raise ValueError("no program was applied to this implant")
    fill_s = last.performed_at.timestamp()
    drugs = tuple(
        cmd.Drug(name, float(conc)) for name, conc in json.loads(last.concentrations_json).items()
    )
    store, firmware = PumpStore.create(
        root, implant.serial, implant.device_key, implant.implanted_at.timestamp(), library
    )
    try:
        serial = implant.serial
        staged = _result(
            firmware.handle(f"demo-{serial}-stage", cmd.StageProgram(version.program_toml), fill_s),
            "the program",
        )
        fill = cmd.Refill(last.fill_ml, drugs, str(staged["checksum"]))
        _result(firmware.handle(f"demo-{serial}-fill", fill, fill_s), "the fill")
        firmware.advance(max(now.timestamp(), fill_s))
    except ValueError:
        shutil.rmtree(store.folder)  # no half-made pump is left behind
        raise
    store.save(firmware)


def ensure_demo_pumps(session: Session, root: Path, now: datetime, library: Library) -> DemoPumps:
    """A pump under ``root`` for every implanted patient: created if missing, else reused."""
    root.mkdir(parents=True, exist_ok=True)
    outcome = DemoPumps()
    for implant in current_implants(session):
        folder = root / implant.serial
        last = programs.last_refill(session, implant.patient_id)
        fill_at = last.performed_at if last is not None and last.implant_id == implant.id else None
        if folder.exists():
            outcome.reused.append(implant.serial)
            try:
                why = _check(PumpStore(folder).load(library), implant, fill_at)
            except PumpUnreadableError as exc:
                why = str(exc)
            if why:
                outcome.problems.append((implant.serial, why))
            continue
        try:
            create_pump(root, session, implant, now, library)
        except ValueError as exc:
            outcome.problems.append((implant.serial, f"not created: {exc}"))
            continue
        outcome.created.append(implant.serial)
    return outcome
