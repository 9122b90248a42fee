"""The API door of a clinician or bridge bolus between refills: the same review as the page
(web/bolus_review.py), the same journalled send (web/bolus_pump.py), the same record.

Idempotent by the body's ``key`` (32 hex characters, made by the client once per bolus): the
same key again answers with the bolus already given and sends nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from sqlalchemy.orm import Session

from intrathecal.store import boluses, programs, pump_journal, records
from intrathecal.store.models import ClinicBolus
from intrathecal.units import InputError
from intrathecal.web.api.answers import signed_in
from intrathecal.web.api.schemas import OkAnswer, Record, Strict
from intrathecal.web.bolus_pump import give_through_link
from intrathecal.web.bolus_review import review
from intrathecal.web.deps import Actor, get_db, now, require

router = APIRouter(prefix="/api/v1")


class BolusBody(Strict):
    key: str = Field(description="32 hex characters, one per bolus: a repeat sends nothing")
    kind: Literal["clinician", "bridge"]
    volume: str = Field(description='the volume, with its unit, e.g. "0.04 mL"')
    duration: str = Field(description='how long it runs, with its unit, e.g. "30 min"')
    reason: str = Field(description="why it is given (recorded); at most 500 characters")
    in_force_version: int = Field(description="the program version the bolus was reviewed on")
    acknowledgements: dict[str, str] = Field(
        default_factory=dict, description="a reason for each soft finding, by its code"
    )
    send_to_pump: bool = Field(
        default=False,
        description="send it over the patient's pump link, journalled; else record it as "
        "given with the pump's own programmer (typed in)",
    )


class BolusAnswer(OkAnswer):
    bolus: Record


def _answer(row: ClinicBolus) -> dict[str, Any]:
    return {
        "ok": True,
        "bolus": {
            "id": row.id,
            "kind": row.kind,
            "volume_ml": row.volume_ml,
            "duration_s": row.duration_s,
            "started_at": row.started_at.isoformat(),
            "ends_at": row.ends_at.isoformat(),
            "given_by": row.given_by,
            "via": row.via,
            "readback": row.readback,
        },
    }


@router.post(
    "/patients/{patient_id}/boluses",
    tags=["programs"],
    response_model=BolusAnswer,
    responses=signed_in(404),
)
def give_bolus(
    patient_id: int,
    body: BolusBody,
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008 (FastAPI dependency)
    actor: Actor = Depends(require("program.apply")),  # noqa: B008 (FastAPI dependency)
) -> dict[str, Any]:
    """Give a clinician or bridge bolus: reviewed against the program in force (a hard finding
    is refused, a soft one needs its acknowledgement), then sent or recorded."""
    patient = records.require_patient(db, patient_id)
    already = boluses.by_key(db, body.key)
    if already is not None:
        if already.patient_id != patient_id:
            raise InputError("key", "belongs to another patient's bolus")
        return _answer(already)
    if pump_journal.by_token(db, body.key) is not None:
        raise InputError("key", "this bolus was already sent; see the pump's journal")
    running = programs.in_force(db, patient_id)
    raw = {
        "form_key": body.key,
        "kind": body.kind,
        "volume": body.volume,
        "duration": body.duration,
        "reason": body.reason,
        **{f"ack_{code}": why for code, why in body.acknowledgements.items()},
    }
    reviewed = review(raw, running, actor.name)
    if reviewed.blocking:
        field, _, message = reviewed.blocking[0].partition(": ")
        if field.startswith("ack_"):
            field = "acknowledgements." + field.removeprefix("ack_")
        raise InputError(field, message)
    if not reviewed.request.reason:
        raise InputError("reason", "say why the bolus is given")
    assert running is not None
    if body.in_force_version != running.version:
        raise InputError(
            "in_force_version",
            f"version {running.version} is in force now, not {body.in_force_version}: "
            "review the bolus again",
        )
    if body.send_to_pump:
        links = request.app.state.pump_links
        row = give_through_link(
            db, links, patient, running, reviewed.request, actor.name, now(request)
        )
    else:
        at = now(request)
        row = boluses.record(
            db,
            patient,
            running,
            reviewed.request,
            actor.name,
            at,
            started_at=at,
            via="typed in",
            readback="",
        )
    answer = _answer(row)
    db.commit()
    return answer
