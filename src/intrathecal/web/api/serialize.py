"""Records as JSON: keys carry their unit (``_ml``, ``_mcg``, ``_mcg_per_ml``); instants are ISO
8601 UTC."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from intrathecal.store.dashboard import PatientRow
from intrathecal.store.models import (
    AdverseEvent,
    Alarm,
    AlarmEvent,
    Appointment,
    AuditEntry,
    Evaluation,
    Implant,
    Indication,
    Patient,
    PriorTreatment,
    ProgramApplication,
    ProgramVersion,
    RecordVoid,
    Refill,
    RefillVoid,
    Trial,
    User,
)


def iso(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value.isoformat()


def patient(p: Patient | PatientRow) -> dict[str, Any]:
    own = {"opioid_status": p.opioid_status} if isinstance(p, Patient) else {}
    return own | {
        "id": p.id,
        "mrn": p.mrn,
        "name": p.name,
        "birth_date": iso(p.birth_date),
        "sex": p.sex,
        "stage": p.stage,
        "next_refill_due_at": iso(p.next_refill_due_at),
        "low_reservoir_alarm_at": iso(p.low_alarm_at),
    }


def indication(r: Indication) -> dict[str, Any]:
    return {"id": r.id, "condition": r.condition, "detail": r.detail}


def prior_treatment(r: PriorTreatment) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "medication": r.medication,
        "dose": r.dose,
        "outcome": r.outcome,
    }


def evaluation(r: Evaluation) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "performed_on": iso(r.performed_on),
        "result": r.result,
        "recorded_by": r.recorded_by,
    }


def trial(r: Trial) -> dict[str, Any]:
    return {
        "id": r.id,
        "performed_on": iso(r.performed_on),
        "drug": r.drug,
        "dose_mcg": r.dose_mcg,
        "mode": r.mode,
        "pain_before": r.pain_before,
        "pain_after": r.pain_after,
        "relief_percent": round(r.relief_percent, 1) if r.pain_before is not None else None,
        "ashworth_before": r.ashworth_before,
        "ashworth_after": r.ashworth_after,
        "spasms_before": r.spasms_before,
        "spasms_after": r.spasms_after,
        "side_effects": r.side_effects,
        "decision": r.decision,
    }


def implant(r: Implant) -> dict[str, Any]:
    return {
        "id": r.id,
        "device": r.device_key,
        "serial": r.serial,
        "reservoir_ml": r.reservoir_ml,
        "catheter_length_cm": r.catheter_length_cm,
        "catheter_volume_ml": r.catheter_volume_ml,
        "tip_level": r.tip_level,
        "setting": r.setting,
        "implanted_at": iso(r.implanted_at),
        "replace_by": iso(r.replace_by),
        "replaces_implant_id": r.replaces_implant_id,
    }


def program_version(r: ProgramVersion) -> dict[str, Any]:
    return {
        "id": r.id,
        "version": r.version,
        "replaces_version": r.replaces_version,
        "program_toml": r.program_toml,
        "reason": r.reason,
        "findings": json.loads(r.findings_json),
        "acknowledgements": json.loads(r.acknowledgements_json),
        "daily_doses_mcg_per_day": json.loads(r.daily_doses_json),
        "signed_by": r.signed_by,
        "signed_at": iso(r.signed_at),
        "review_context": json.loads(r.review_context_json or "{}"),
    }


def application(r: ProgramApplication) -> dict[str, Any]:
    return {
        "id": r.id,
        "program_version_id": r.program_version_id,
        "applied_by": r.applied_by,
        "applied_at": iso(r.applied_at),
        "via": r.via,
        "readback_matches": r.readback_matches,
    }


def refill(r: Refill, voided: Mapping[int, RefillVoid] | None = None) -> dict[str, Any]:
    """A refill; ``voided`` (refill id -> correction) marks it void when it is in there."""
    return {
        "id": r.id,
        "implant_id": r.implant_id,
        "program_version_id": r.program_version_id,
        "performed_at": iso(r.performed_at),
        "performed_by": r.performed_by,
        "via": r.via,
        "previous_fill_ml": r.previous_fill_ml,
        "expected_residual_ml": r.expected_residual_ml,
        "withdrawn_ml": r.withdrawn_ml,
        "discrepancy_ml": r.discrepancy_ml,
        "investigate": r.investigate,
        "reconciliation": json.loads(r.reconciliation_json),
        "fill_ml": r.fill_ml,
        "concentrations_mcg_per_ml": json.loads(r.concentrations_json),
        "recipe": json.loads(r.recipe_json),
        "bridge": json.loads(r.bridge_json),
        "next_due_at": iso(r.next_due_at),
        "low_reservoir_alarm_at": iso(r.low_alarm_at),
        "limited_by": r.limited_by,
        "notes": r.notes,
        "follows_refill_id": r.follows_refill_id,
        "recorded_at": iso(r.recorded_at),
        "investigate_reason": r.investigate_reason,
        "cosigned_by": r.cosigned_by,
        "cosigned_at": iso(r.cosigned_at),
        "lots": json.loads(r.drug_lots_json or "[]"),  # [{drug, lot, expiry}] (0009)
        "compounded_by": r.compounded_by,
        "voided": refill_void(voided[r.id]) if voided and r.id in voided else None,
    }


def refill_void(v: RefillVoid | RecordVoid) -> dict[str, Any]:
    return {"by": v.voided_by, "at": iso(v.voided_at), "reason": v.reason}


def marked(
    kind: str, record: dict[str, Any], voided: Mapping[tuple[str, int], RecordVoid]
) -> dict[str, Any]:
    """A serialized record with ``voided``: its correction (who, when, why) or None."""
    found = voided.get((kind, record["id"]))
    return record | {"voided": refill_void(found) if found else None}


def alarm(r: Alarm) -> dict[str, Any]:
    return {
        "id": r.id,
        "patient_id": r.patient_id,
        "kind": r.kind,
        "message": r.message,
        "source": r.source,
        "raised_at": iso(r.raised_at),
        "cleared_at": iso(r.cleared_at),
        "cleared_by": r.cleared_by,
    }


def alarm_event(r: AlarmEvent) -> dict[str, Any]:
    return {
        "id": r.id,
        "alarm_id": r.alarm_id,
        "action": r.action,
        "note": r.note,
        "by": r.by,
        "at": iso(r.at),
    }


def appointment(r: Appointment) -> dict[str, Any]:
    return {
        "id": r.id,
        "patient_id": r.patient_id,
        "kind": r.kind,
        "starts_at": iso(r.starts_at),
        "note": r.note,
        "booked_by": r.booked_by,
    }


def adverse_event(r: AdverseEvent) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "occurred_on": iso(r.occurred_on),
        "serious": r.serious,
        "description": r.description,
        "action": r.action,
        "recorded_by": r.recorded_by,
    }


def user(r: User) -> dict[str, Any]:
    return {
        "id": r.id,
        "username": r.username,
        "full_name": r.full_name,
        "role": r.role,
        "active": r.active,
    }


def audit_entry(r: AuditEntry) -> dict[str, Any]:
    return {
        "seq": r.seq,
        "at": iso(r.at),
        "actor": r.actor,
        "action": r.action,
        "target": r.target,
        "detail": json.loads(r.detail_json),
        "prev_hash": r.prev_hash,
        "hash": r.hash,
    }
