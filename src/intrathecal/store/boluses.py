"""Clinician and bridge boluses given outside a refill: the append-only record and its audit.

Written by the bolus page (web/bolus_pages.py) after the pump confirmed the bolus started, or
by recovery from the pump's log (web/pump_recovery.py); typed in without a pump link. The
server's clock dates the record; the pump's clock says when the bolus started.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from intrathecal.store import audit
from intrathecal.store.models import ClinicBolus, Patient, ProgramVersion


@dataclass(frozen=True)
class BolusRequest:
    """What the clinician asked for, as reviewed; journalled before anything is sent."""

    form_key: str
    kind: str
    volume_ml: float
    duration_s: float
    doses_mcg: dict[str, float]
    reason: str
    acknowledgements: tuple[dict[str, str], ...]  # {"code", "who", "why"} of soft findings
    program_version: int

    def payload(self) -> dict[str, Any]:
        return {
            "form_key": self.form_key,
            "kind": self.kind,
            "volume_ml": self.volume_ml,
            "duration_s": self.duration_s,
            "doses_mcg": self.doses_mcg,
            "reason": self.reason,
            "acknowledgements": list(self.acknowledgements),
            "program_version": self.program_version,
        }

    @staticmethod
    def from_payload(data: dict[str, Any]) -> BolusRequest:
        return BolusRequest(
            form_key=str(data["form_key"]),
            kind=str(data["kind"]),
            volume_ml=float(data["volume_ml"]),
            duration_s=float(data["duration_s"]),
            doses_mcg={str(k): float(v) for k, v in data["doses_mcg"].items()},
            reason=str(data["reason"]),
            acknowledgements=tuple(dict(a) for a in data["acknowledgements"]),
            program_version=int(data["program_version"]),
        )


def by_key(session: Session, form_key: str) -> ClinicBolus | None:
    return session.execute(
        select(ClinicBolus).where(ClinicBolus.form_key == form_key)
    ).scalar_one_or_none()


def of_patient(session: Session, patient_id: int, limit: int = 20) -> Sequence[ClinicBolus]:
    """The patient's latest boluses, newest first."""
    return (
        session.execute(
            select(ClinicBolus)
            .where(ClinicBolus.patient_id == patient_id)
            .order_by(ClinicBolus.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )


def record(
    session: Session,
    patient: Patient,
    version: ProgramVersion,
    request: BolusRequest,
    given_by: str,
    now: datetime,
    *,
    started_at: datetime,
    via: str,
    readback: str,
    recovered: bool = False,
) -> ClinicBolus:
    """Store the bolus and its audit entry in the caller's transaction (the caller commits)."""
    row = ClinicBolus(
        form_key=request.form_key,
        patient_id=patient.id,
        program_version_id=version.id,
        kind=request.kind,
        volume_ml=request.volume_ml,
        duration_s=request.duration_s,
        doses_json=json.dumps(request.doses_mcg, sort_keys=True),
        reason=request.reason,
        acknowledgements_json=json.dumps(list(request.acknowledgements)),
        given_by=given_by,
        recorded_at=now,
        started_at=started_at,
        ends_at=started_at + timedelta(seconds=request.duration_s),
        via=via,
        readback=readback,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        now,
        given_by,
        "bolus.give",
        f"patient:{patient.id}",
        {
            "bolus": row.id,
            "kind": request.kind,
            "volume_ml": request.volume_ml,
            "duration_s": request.duration_s,
            "program_version": version.version,
            "via": via,
            "acknowledgements": list(request.acknowledgements),
        }
        | ({"completed_by_recovery": True} if recovered else {}),
    )
    return row
