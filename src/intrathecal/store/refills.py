"""Refills: reconcile the old fill, prepare and record the new one, all in one transaction.

The maths is the clinician programmer's (``clinical.reconcile``, ``clinical.refill.plan``,
``clinical.bridge``, ``clinical.compounding``); this module gathers its inputs from the records
and stores the result. A refill row is never changed afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from intrathecal.clinical.bridge import Bridge, bridge
from intrathecal.clinical.compounding import Recipe, recipe
from intrathecal.clinical.reconcile import Reconciliation, reconcile
from intrathecal.clinical.refill import RefillDue, plan
from intrathecal.library import default_library
from intrathecal.store import audit, programs
from intrathecal.store.errors import NotFoundError
from intrathecal.store.models import Alarm, Patient, ProgramVersion, Refill, Stage
from intrathecal.store.programs import last_refill  # one query, shared with programs.py
from intrathecal.store.types import utc_from_s
from intrathecal.therapy.program import Program
from intrathecal.units import InputError

# Stock solutions a pharmacy commonly holds, used only to pre-fill the compounding form: the
# pharmacist confirms or corrects them (they are not library values and carry no source).
TYPICAL_STOCK_MCG_PER_ML = {
    "morphine": 25_000.0,
    "hydromorphone": 10_000.0,
    "fentanyl": 50.0,
    "sufentanil": 50.0,
    "bupivacaine": 7_500.0,
    "clonidine": 500.0,
    "ziconotide": 100.0,
    "baclofen": 2_000.0,
}


@dataclass(frozen=True)
class RefillRequest:
    fill_ml: float
    performed_at: datetime
    withdrawn_ml: float | None = None  # None only on the first fill of an implant
    demand_boluses: int = 0
    program_version: int | None = None  # version to run after the refill; default the latest
    stocks_mcg_per_ml: dict[str, float] = field(default_factory=dict)
    overage_ml: float = 0.0
    via: str = "typed in"
    readback: str = ""  # program text the pump read back after it was sent (virtual pump)
    notes: str = ""


@dataclass(frozen=True)
class RefillPlan:
    old_version: ProgramVersion | None  # the version run since the last fill
    new_version: ProgramVersion
    new_program: Program
    previous: Refill | None
    reconciliation: Reconciliation | None
    recipe: Recipe | None
    bridge: Bridge | None
    due: RefillDue
    notes: tuple[str, ...]

    @property
    def program_changes(self) -> bool:
        return self.old_version is None or self.old_version.id != self.new_version.id


def whole_seconds(request: RefillRequest) -> RefillRequest:
    """Pump time has whole seconds: a refill time is truncated to the second it falls in."""
    return replace(request, performed_at=request.performed_at.replace(microsecond=0))


def prepare(session: Session, patient: Patient, request: RefillRequest) -> RefillPlan:
    """Everything the refill wizard shows, computed from the records; nothing is stored."""
    request = whole_seconds(request)
    implant = programs.current_implant(session, patient.id)
    if implant is None:
        raise InputError("patient", "has no implant to refill")
    if request.program_version is not None:
        new_version = programs.by_version(session, patient.id, request.program_version)
    else:
        latest = programs.latest(session, patient.id)
        if latest is None:
            raise InputError("program_version", "the patient has no signed program")
        new_version = latest
    new_program = programs.parse(new_version.program_toml)
    reservoir = new_program.device.reservoir_ml.value
    if not 0 < request.fill_ml <= reservoir:
        raise InputError("fill", f"must be above 0 mL and at most the reservoir {reservoir:g} mL")
    old_version = programs.in_force(session, patient.id)
    previous = last_refill(session, patient.id)
    if previous is not None and previous.implant_id != implant.id:
        previous = None  # a new implant starts a new fill history
    notes: list[str] = []
    reconciliation = None
    if previous is not None:
        if request.withdrawn_ml is None:
            raise InputError("withdrawn", "give the volume withdrawn from the reservoir")
        if request.performed_at < previous.performed_at:
            raise InputError("performed_at", "is before the last refill")
        run_version = session.get(ProgramVersion, previous.program_version_id)
        assert run_version is not None
        if old_version is not None and old_version.id != run_version.id:
            notes.append(
                f"the program changed since the last fill (version {run_version.version} -> "
                f"{old_version.version}); the expected residual is computed with version "
                f"{run_version.version}, the one filled: check the change's date"
            )
        reconciliation = reconcile(
            programs.parse(run_version.program_toml),
            previous.fill_ml,
            previous.performed_at.timestamp(),
            request.withdrawn_ml,
            request.performed_at.timestamp(),
            request.demand_boluses,
        )
    elif request.withdrawn_ml not in (None, 0.0):
        notes.append("first fill of this implant: nothing to reconcile")
    wanted = {i.drug.key: i.concentration_mcg_per_ml for i in new_program.ingredients}
    made = None
    if request.stocks_mcg_per_ml:
        made = recipe(
            default_library(),
            wanted,
            request.stocks_mcg_per_ml,
            request.fill_ml,
            request.overage_ml,
        )
    bridged = None
    if old_version is not None and old_version.id != new_version.id:
        old_program = programs.parse(old_version.program_toml)
        if [(i.drug.key, i.concentration_mcg_per_ml) for i in old_program.ingredients] != [
            (i.drug.key, i.concentration_mcg_per_ml) for i in new_program.ingredients
        ]:
            bridged = bridge(old_program, new_program)
    naive = previous is None
    due = plan(new_program, request.fill_ml, request.performed_at.timestamp(), naive_pump=naive)
    return RefillPlan(
        old_version=old_version,
        new_version=new_version,
        new_program=new_program,
        previous=previous,
        reconciliation=reconciliation,
        recipe=made,
        bridge=bridged,
        due=due,
        notes=tuple(notes),
    )


def save(
    session: Session,
    patient: Patient,
    request: RefillRequest,
    performed_by: str,
    *,
    on_flushed: Callable[[], None] | None = None,
) -> Refill:
    """Prepare and store a refill with its program application and the patient's next due date.

    Everything is flushed inside the caller's transaction; the caller commits once, so a crash
    at any point leaves the whole refill or none of it. ``on_flushed`` runs after every row is
    written and before the commit (tests use it to kill the process there).
    """
    request = whole_seconds(request)
    prepared = prepare(session, patient, request)
    rec = prepared.reconciliation
    refill = Refill(
        patient_id=patient.id,
        implant_id=prepared.new_version.implant_id,
        program_version_id=prepared.new_version.id,
        performed_at=request.performed_at,
        performed_by=performed_by,
        via=request.via,
        previous_fill_ml=rec.filled_ml if rec else None,
        expected_residual_ml=rec.expected_ml if rec else None,
        withdrawn_ml=rec.withdrawn_ml if rec else None,
        discrepancy_ml=rec.discrepancy_ml if rec else None,
        investigate=rec.investigate if rec else False,
        reconciliation_json=json.dumps(asdict(rec)) if rec else "{}",
        fill_ml=request.fill_ml,
        concentrations_json=json.dumps(
            {i.drug.key: i.concentration_mcg_per_ml for i in prepared.new_program.ingredients}
        ),
        recipe_json=json.dumps(_recipe_dict(prepared.recipe)) if prepared.recipe else "{}",
        bridge_json=json.dumps(asdict(prepared.bridge)) if prepared.bridge else "{}",
        next_due_at=utc_from_s(prepared.due.refill_due_at_s),
        low_alarm_at=utc_from_s(prepared.due.low_reservoir_alarm_at_s),
        limited_by=prepared.due.limited_by.value,
        notes="\n".join([*prepared.notes, request.notes]).strip(),
    )
    session.add(refill)
    if prepared.program_changes:
        programs.apply_version(
            session,
            patient,
            prepared.new_version,
            performed_by,
            request.performed_at,
            request.via,
            request.readback,
        )
    patient.next_refill_due_at = refill.next_due_at
    patient.low_alarm_at = refill.low_alarm_at
    patient.stage = Stage.IMPLANTED.value
    # The refill answers any open low-reservoir alarm of this patient.
    session.execute(
        update(Alarm)
        .where(
            Alarm.patient_id == patient.id,
            Alarm.cleared_at.is_(None),
            Alarm.kind == "low reservoir",
        )
        .values(cleared_at=request.performed_at, cleared_by=performed_by)
    )
    session.flush()
    audit.record(
        session,
        request.performed_at,
        performed_by,
        "refill.save",
        f"patient:{patient.id}",
        {
            "refill": refill.id,
            "fill_ml": request.fill_ml,
            "withdrawn_ml": request.withdrawn_ml,
            "investigate": refill.investigate,
            "program_version": prepared.new_version.version,
        },
    )
    if on_flushed is not None:
        on_flushed()
    return refill


def _recipe_dict(made: Recipe) -> dict[str, object]:
    data = asdict(made)
    data["findings"] = [programs.finding_dict(f) for f in made.findings]
    return data


def require(session: Session, patient_id: int, refill_id: int) -> Refill:
    refill = session.get(Refill, refill_id)
    if refill is None or refill.patient_id != patient_id:
        raise NotFoundError(f"refill {refill_id} of patient {patient_id}")
    return refill
