"""The live pump on the chart and the pumps' alarms on the dashboard (when a pump link is set).

Both read the pumps at page time; nothing read here is stored. A pump that does not answer is
shown as such, never as "no alarms".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intrathecal.store import programs, records
from intrathecal.store.models import Implant, Patient, Stage
from intrathecal.web import refill_pump
from intrathecal.web.pump_link import PumpAlarm, PumpLinks

MAX_PUMPS_SWEPT = 200  # the dashboard reads at most this many pumps per view


def chart_context(
    session: Session, links: PumpLinks, patient_id: int, clinic_now: datetime
) -> dict[str, Any]:
    implant = programs.current_implant(session, patient_id)
    link = refill_pump.link_for(links, implant)
    if link is None:
        return {"pump": None}
    return refill_pump.context(session, refill_pump.interrogate(link), implant, clinic_now)


def dashboard_context(session: Session, links: PumpLinks) -> dict[str, Any]:
    """``pump_alarms``: [(patient, alarm)] critical first; ``None`` without a pump link."""
    if links.alarms([]) is None:  # typed-in values: no pumps to read, no query spent
        return {"pump_alarms": None}
    newest = (
        select(func.max(Implant.id))
        .where(records.not_voided("implant", Implant))  # a voided implant is no one's pump
        .group_by(Implant.patient_id)
    )
    rows = session.execute(
        select(Implant, Patient)
        .join(Patient, Patient.id == Implant.patient_id)
        .where(Patient.stage == Stage.IMPLANTED.value, Implant.id.in_(newest))
        .order_by(Patient.id)
        .limit(MAX_PUMPS_SWEPT)
    ).all()
    by_serial = {implant.serial: patient for implant, patient in rows}
    sweep = links.alarms(list(by_serial))
    if sweep is None:
        return {"pump_alarms": None}
    found: list[tuple[Patient, PumpAlarm]] = [
        (by_serial[serial], alarm) for serial, alarms in sweep.alarms.items() for alarm in alarms
    ]
    found.sort(key=lambda row: (row[1].priority != "critical", -row[1].raised_at_s))
    return {
        "pump_alarms": found,
        "pump_alarms_read": len(sweep.alarms),
        "pump_alarms_asked": len(by_serial),
        "pump_alarms_problem": sweep.problem,
    }
