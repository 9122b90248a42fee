"""The refill wizard with a pump on the link: interrogate, cross-check, refill with read-back.

All or nothing, in this order: the clinic's plan is computed and validated first (nothing is
sent if it fails); the refill and the program go to the pump, which stages the program, reads
its checksum back and activates it with the fill; the wizard reads the pump back and compares;
only then is the clinic's refill record written, at the pump's fill time. A refusal, an error
or no answer leaves the clinic record unsaved and says so.

Clock: with a pump on the link the refill's time is the pump's clock (the instant its
interrogation describes), so the clinic's expected residual (fill − delivered since the last
fill) is computed over the same interval the pump delivered. The demo pumps run faster than
the wall clock, so there the pump's time is ahead of the clinic's; the page shows both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from intrathecal.engine.demand import iso
from intrathecal.library import default_library
from intrathecal.pump.firmware import canonical_program
from intrathecal.store import programs, refills
from intrathecal.store.models import Implant, Patient, ProgramVersion, Refill
from intrathecal.store.refills import RefillPlan, RefillRequest
from intrathecal.store.types import utc_from_s
from intrathecal.therapy.errors import InvalidProgramError
from intrathecal.units import InputError
from intrathecal.web.pump_link import (
    Interrogation,
    PumpLink,
    PumpLinkError,
    PumpLinks,
    RefillReadBack,
)

READ_BACK = "pump read-back:"  # prefix of the refill-record lines written from the pump


class ReadBackMismatchError(PumpLinkError):
    """The pump took the refill but reads back something else: nothing saved in the clinic."""


@dataclass(frozen=True)
class PumpStatus:
    where: str
    interrogation: Interrogation | None
    problem: str = ""  # why there is no interrogation

    @property
    def answered(self) -> bool:
        return self.interrogation is not None


def interrogate(link: PumpLink) -> PumpStatus:
    try:
        return PumpStatus(link.where, link.interrogate())
    except PumpLinkError as exc:
        return PumpStatus(link.where, None, exc.message)


def checksum_of(program_toml: str) -> str:
    """The checksum the pump computes for this program (SHA-256 of its canonical text)."""
    return canonical_program(program_toml, default_library())[2]


def _checksum_or_blank(program_toml: str) -> str:
    try:
        return checksum_of(program_toml)
    except (InvalidProgramError, InputError, ValueError):
        return ""


def disagreements(
    found: Interrogation,
    implant: Implant,
    in_force: ProgramVersion | None,
    last: Refill | None,
) -> list[str]:
    """Where the pump and the clinic's records disagree, each said plainly."""
    out = []
    if found.device_key and found.device_key != implant.device_key:
        out.append(
            f"the pump is a {found.device_key}; the clinic records a {implant.device_key} "
            f"for serial {implant.serial}"
        )
    if in_force is not None and found.checksum != _checksum_or_blank(in_force.program_toml):
        shown = f"checksum {found.checksum[:12]}…" if found.checksum else "no program"
        out.append(
            f"the pump runs {shown}, not version {in_force.version} that the clinic has in force"
        )
    if last is not None and last.implant_id == implant.id:
        at = last.performed_at.timestamp()
        if found.filled_at_s is None or abs(found.filled_at_s - at) >= 1.0:
            pump_fill = iso(found.filled_at_s) if found.filled_at_s is not None else "never"
            out.append(
                f"the pump's last fill ({pump_fill}) is not the clinic's last refill "
                f"({iso(at)}): the expected residual comes from the clinic's records"
            )
    return out


def clock_gap(pump_time_s: float, clinic_now: datetime) -> str:
    """How far the pump's clock is from the clinic's, in words ("" within a minute)."""
    gap = pump_time_s - clinic_now.timestamp()
    if abs(gap) < 60:
        return ""
    side = "ahead of" if gap > 0 else "behind"
    size = abs(gap)
    if size >= 86_400:
        amount = f"{size / 86_400:.1f} days"
    elif size >= 3600:
        amount = f"{size / 3600:.1f} h"
    else:
        amount = f"{size / 60:.0f} min"
    return f"{amount} {side} the clinic's clock"


def _check_read_back(
    back: RefillReadBack, fill_ml: float, expected: str, wanted: dict[str, float]
) -> list[str]:
    problems = []
    if back.checksum != expected:
        problems.append(f"program checksum {back.checksum[:12] or 'none'}…, sent {expected[:12]}…")
    if not math.isclose(back.filled_ml, fill_ml, abs_tol=1e-9):
        problems.append(f"filled {back.filled_ml:g} mL, sent {fill_ml:g} mL")
    have = dict(back.drugs)
    if have.keys() != wanted.keys() or any(
        not math.isclose(have[k], wanted[k], rel_tol=1e-9) for k in wanted
    ):
        problems.append(f"drugs {have}, sent {wanted}")
    return problems


def send(
    link: PumpLink,
    prepared: RefillPlan,
    request: RefillRequest,
    clinic_now: datetime,
    bridge_on_pump: bool,
) -> RefillRequest:
    """Refill and program the pump, read it back, and return the request to record.

    Raises :class:`PumpLinkError` (nothing changed on the pump, or no answer) or
    :class:`ReadBackMismatchError` (the pump changed but reads back something else).
    """
    version = prepared.new_version
    try:
        expected = checksum_of(version.program_toml)
    except (InvalidProgramError, InputError, ValueError) as exc:
        raise PumpLinkError(
            f"version {version.version} cannot be sent to the pump: {exc}", answered=True
        ) from None
    wanted = {i.drug.key: i.concentration_mcg_per_ml for i in prepared.new_program.ingredients}
    back = link.refill(
        request.fill_ml, list(wanted.items()), version.program_toml, request.withdrawn_ml
    )
    problems = _check_read_back(back, request.fill_ml, expected, wanted)
    if problems:
        raise ReadBackMismatchError(
            f"{link.where} took the refill at {iso(back.filled_at_s)} but reads back "
            + "; ".join(problems)
            + ": interrogate it and correct the pump before recording this refill",
            answered=True,
        )
    lines = [
        f"{READ_BACK} {link.where}: filled {back.filled_ml:g} mL at {iso(back.filled_at_s)}; "
        f"program version {version.version} active, checksum {back.checksum}",
    ]
    if back.pump_expected_ml is not None and back.pump_discrepancy_ml is not None:
        lines.append(
            f"{READ_BACK} the pump's own count before the fill: {back.pump_expected_ml:.2f} mL "
            f"left, discrepancy {back.pump_discrepancy_ml:+.2f} mL "
            f"({'INVESTIGATE' if back.pump_investigate else 'within limits'})"
        )
    gap = clock_gap(back.filled_at_s, clinic_now)
    if gap:
        lines.append(f"{READ_BACK} the refill's time is the pump's clock, {gap}")
    if prepared.bridge is not None:
        lines.append(_bridge(link, prepared, bridge_on_pump))
    notes = "\n".join([request.notes.strip(), *lines]).strip()
    return replace(
        request,
        performed_at=utc_from_s(back.filled_at_s),
        via=link.via,
        readback=back.program_toml,
        notes=notes,
    )


def _bridge(link: PumpLink, prepared: RefillPlan, on_pump: bool) -> str:
    bridge = prepared.bridge
    assert bridge is not None
    if not on_pump:
        return f"{READ_BACK} bridge bolus not sent to the pump (not chosen): give it by hand"
    try:
        started = link.bolus("bridge", bridge.volume_ml, bridge.duration_hours * 3600)
    except PumpLinkError as exc:
        return (
            f"{READ_BACK} bridge bolus NOT started on the pump ({exc.message}); the refill "
            "and program stand: give the bridge bolus with the pump's programmer"
        )
    return (
        f"{READ_BACK} bridge bolus {started.volume_ml:.3f} mL started {iso(started.started_at_s)},"
        f" ends {iso(started.ends_at_s)}"
    )


# --- the wizard's page ---------------------------------------------------------------------


def link_for(links: PumpLinks, implant: Implant | None) -> PumpLink | None:
    return links.link(implant.serial) if implant is not None else None


def prefill(form: dict[str, str], pump: PumpStatus | None) -> None:
    """Set the wizard's mode from the interrogation, and what the pump's log counts.

    The withdrawn volume is never pre-filled from the pump: it is measured with the syringe,
    and the reconciliation exists to compare the measurement with the count.
    """
    found = pump.interrogation if pump is not None else None
    form["mode"] = "pump" if found is not None else "typed"
    if found is not None and found.demand_boluses_since_fill is not None:
        form["demand_boluses"] = str(found.demand_boluses_since_fill)


def reading(link: PumpLink | None, form: dict[str, str]) -> PumpStatus | None:
    """The pump's state for a posted wizard step.

    In pump mode (and on "Interrogate the pump") the pump is read again, since its clock has
    moved on; in typed-in mode it is not contacted, and the page keeps saying why.
    """
    if link is None:
        return None
    step = form.get("step", "preview")
    if step != "interrogate" and form.get("mode") != "pump":
        return PumpStatus(link.where, None, "it did not answer when interrogated")
    pump = interrogate(link)
    if step == "interrogate":
        prefill(form, pump)
    return pump


def time_of(pump: PumpStatus | None, clinic_now: datetime) -> datetime:
    """The refill's time: the pump's clock when a pump answered, else the clinic's."""
    found = pump.interrogation if pump is not None else None
    if found is not None and found.pump_time_s is not None:
        return utc_from_s(found.pump_time_s)
    return clinic_now


def context(
    session: Session,
    pump: PumpStatus | None,
    implant: Implant | None,
    clinic_now: datetime,
    prepared: RefillPlan | None = None,
) -> dict[str, Any]:
    """What the wizard's template shows about the pump."""
    found = pump.interrogation if pump is not None else None
    checks: list[str] = []
    gap = ""
    if found is not None and implant is not None:
        checks = disagreements(
            found,
            implant,
            programs.in_force(session, implant.patient_id),
            programs.last_refill(session, implant.patient_id),
        )
        gap = clock_gap(found.pump_time_s or clinic_now.timestamp(), clinic_now)
    return {
        "pump": pump,
        "pump_checks": checks,
        "pump_clock_gap": gap,
        "pump_time": iso(found.pump_time_s) if found and found.pump_time_s else "",
        "clinic_time": iso(clinic_now.timestamp()),
        "bridge_on_pump_offered": prepared is not None and prepared.bridge is not None,
        "iso": iso,
    }


def save_through(
    link: PumpLink | None,
    pump: PumpStatus | None,
    session: Session,
    patient: Patient,
    prepared: RefillPlan,
    request: RefillRequest,
    performed_by: str,
    clinic_now: datetime,
    form: dict[str, str],
) -> tuple[Refill | None, list[str]]:
    """Send the refill to the pump, then record it; (None, why) when anything failed."""
    if link is None:
        return None, [
            "No pump link is configured any more: nothing was sent and nothing saved. "
            "Interrogate again to continue with typed-in values."
        ]
    if pump is None or pump.interrogation is None:
        why = pump.problem if pump is not None else "not interrogated"
        return None, [
            f"No answer from {link.where} ({why}): nothing was sent and nothing saved. "
            "Interrogate the pump again; if it still does not answer, the wizard switches to "
            "typed-in values (refill the pump with its own programmer)."
        ]
    try:
        record = send(link, prepared, request, clinic_now, form.get("bridge_on_pump") == "yes")
    except ReadBackMismatchError as exc:
        return None, [f"{exc.message}. Nothing was saved in the clinic record."]
    except PumpLinkError as exc:
        if exc.answered:
            return None, [
                f"{exc.message}. The pump's reservoir and program are unchanged and nothing "
                "was saved in the clinic record."
            ]
        return None, [
            f"{exc.message}. Nothing was saved in the clinic record. The pump may or may not "
            "have taken the refill: interrogate it before trying again."
        ]
    try:
        row = refills.save(session, patient, record, performed_by)
    except (InputError, ValueError) as exc:
        session.rollback()
        return None, [
            f"The pump was refilled at {iso(record.performed_at.timestamp())} but the clinic "
            f"record could not be saved ({exc}): record this refill again with typed-in values."
        ]
    return row, []
