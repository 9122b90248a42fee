"""The clinic database as the forecasts read it (the only I/O of the forecasts; read only)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, make_url, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, aliased

from intrathecal.store.db import database_url, make_engine, session_factory
from intrathecal.store.db import reading as read_only
from intrathecal.store.models import (
    Implant,
    Patient,
    ProgramApplication,
    ProgramVersion,
    Refill,
    Stage,
)
from intrathecal.store.programs import not_voided as refill_not_voided
from intrathecal.store.records import not_voided
from intrathecal.units import InputError


@contextmanager
def reading(database: str | None) -> Iterator[Session]:
    """A read-only session on the clinic database (an explicit URL, else DATABASE_URL, else
    the default file). Nothing is created or migrated: a missing SQLite file is an error."""
    url = database_url(database)
    parsed = make_url(url)
    path = parsed.database
    local = parsed.get_backend_name() == "sqlite" and path and path != ":memory:"
    if local and not Path(path or "").is_file():
        raise InputError(
            "--database", f"no clinic database at {path}; make one with itp clinic migrate"
        )
    engine = make_engine(url)
    try:
        with read_only(session_factory(engine)) as session, session.begin():
            yield session
    except DBAPIError as exc:
        first = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
        raise InputError(
            "--database",
            f"cannot read the clinic database ({first}); is it an itp clinic database brought "
            "up to date with itp clinic migrate?",
        ) from None
    finally:
        engine.dispose()


@dataclass(frozen=True)
class PatientFill:
    """An implanted patient's last refill (not voided) and what it set."""

    patient_id: int
    mrn: str
    name: str
    filled_at: datetime
    fill_ml: float
    due_at: datetime  # the refill plan's due date, no margin
    low_alarm_at: datetime
    concentrations: dict[str, float]
    recipe: dict[str, object]
    program_toml: str
    device_key: str
    first_fill: bool  # the implant's first fill (naive pump)
    # A program applied after the fill without a refill (same solution, new rates), and when.
    in_force_toml: str | None = None
    switched_at: datetime | None = None

    @property
    def interval_days(self) -> float:
        return (self.due_at - self.filled_at).total_seconds() / 86400.0


@dataclass(frozen=True)
class Replacement:
    patient_id: int
    mrn: str
    serial: str
    device_key: str
    replace_by: datetime


def implanted(session: Session) -> list[PatientFill]:
    """Every implanted patient with a refill on record, by patient id."""
    last = (
        select(Refill.patient_id, func.max(Refill.performed_at).label("at"))
        .where(refill_not_voided())
        .group_by(Refill.patient_id)
        .subquery()
    )
    rows = session.execute(
        select(Refill, Patient.mrn, Patient.name, ProgramVersion.program_toml, Implant.device_key)
        .join(last, (last.c.patient_id == Refill.patient_id) & (last.c.at == Refill.performed_at))
        .join(Patient, Patient.id == Refill.patient_id)
        .join(ProgramVersion, ProgramVersion.id == Refill.program_version_id)
        .join(Implant, Implant.id == Refill.implant_id)
        .where(Patient.stage == Stage.IMPLANTED.value, refill_not_voided())
        .order_by(Refill.patient_id, Refill.id)
    ).all()
    found: dict[int, PatientFill] = {}
    for refill, mrn, name, toml, device in rows:
        found[refill.patient_id] = PatientFill(  # the later id wins a tie
            patient_id=refill.patient_id,
            mrn=mrn,
            name=name,
            filled_at=refill.performed_at,
            fill_ml=refill.fill_ml,
            due_at=refill.next_due_at,
            low_alarm_at=refill.low_alarm_at,
            concentrations=json.loads(refill.concentrations_json),
            recipe=json.loads(refill.recipe_json or "{}"),
            program_toml=toml,
            device_key=device,
            first_fill=refill.previous_fill_ml is None,
        )
    _since_fill(session, found)
    return [found[k] for k in sorted(found)]


def _since_fill(session: Session, found: dict[int, PatientFill]) -> None:
    """Put on each fill the program applied after it without a refill, if any (the last one
    applied is the one the pump runs)."""
    last = (
        select(ProgramApplication.patient_id, func.max(ProgramApplication.id).label("id"))
        .group_by(ProgramApplication.patient_id)
        .subquery()
    )
    rows = session.execute(
        select(ProgramApplication, ProgramVersion.program_toml)
        .join(last, last.c.id == ProgramApplication.id)
        .join(ProgramVersion, ProgramVersion.id == ProgramApplication.program_version_id)
    ).all()
    for application, toml in rows:
        fill = found.get(application.patient_id)
        if fill is None or application.applied_at <= fill.filled_at:
            continue
        if toml == fill.program_toml:
            continue
        found[application.patient_id] = replace(
            fill, in_force_toml=toml, switched_at=application.applied_at
        )


def lateness_days(session: Session) -> list[float]:
    """Each refill's performed time minus the due date of the refill it follows, in days."""
    before = aliased(Refill)
    rows = session.execute(
        select(Refill.performed_at, before.next_due_at)
        .join(before, before.id == Refill.follows_refill_id)
        .where(refill_not_voided(), Refill.implant_id == before.implant_id)
    ).all()
    return [(at - due).total_seconds() / 86400.0 for at, due in rows]


def replacements(session: Session, end: datetime) -> list[Replacement]:
    """Current implants (not voided, not replaced) whose replacement date is before ``end``."""
    newer = aliased(Implant)
    current = ~(
        select(newer.id)
        .where(newer.replaces_implant_id == Implant.id, not_voided("implant", newer))
        .exists()
    )
    rows = session.execute(
        select(Implant, Patient.mrn)
        .join(Patient, Patient.id == Implant.patient_id)
        .where(
            current,
            not_voided("implant", Implant),
            Patient.stage == Stage.IMPLANTED.value,
            Implant.replace_by < end,
        )
        .order_by(Implant.replace_by)
    ).all()
    return [Replacement(i.patient_id, mrn, i.serial, i.device_key, i.replace_by) for i, mrn in rows]
