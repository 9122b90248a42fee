"""The firmware's MRI handlers (issue 12, item 10), apart from the rest by concern.

What each device does in the field is clinical/mri.py's (one home for the MRI facts):

- SynchroMed II: ``mri_motor_stall`` (critical) while in the field, so nothing is delivered;
  when the patient leaves it the stall recovers on its own, the missed volume is logged and
  ``mri_check`` (non-critical) asks for an interrogation; the first interrogation that finds
  the pump delivering clears it. A pump that entered the field while sounding an alarm stays
  in telemetry mode, delivering nothing, until it is interrogated (TGA hazard alert).
- Prometra II: the flow-activated valve closes, delivering at most 10 microlitres; the pump
  logs a warning if the reservoir was not emptied (the Prometra MRI rule), and at 3 T that the
  scan was outside the 1.5 T conditions. ``mri_valve_closed`` (critical) stays after the scan
  until the valve is reset (``clear_alarm``), which logs the missed volume.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from intrathecal.clinical.mri import FAV_DISCHARGE_ML, PROMETRA_FIELD_T, MriResponse, response_of
from intrathecal.engine.demand import iso
from intrathecal.engine.missed import interruption, time_at_volume_after
from intrathecal.pump import commands as cmd
from intrathecal.pump.alarms import AlarmCode
from intrathecal.pump.state import Json
from intrathecal.units import format_volume

if TYPE_CHECKING:
    from intrathecal.pump.firmware import Firmware

EPS_ML = 1e-9


class MriRefusalError(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(message)


def expose(fw: Firmware, command: cmd.MriExposure) -> dict[str, Json]:
    s = fw.state
    if s.mri_until_s is not None:
        raise MriRefusalError("mri_exposure", f"already in the field until {iso(s.mri_until_s)}")
    response = response_of(fw.device)
    s.mri_started_at_s = s.now_s
    s.mri_until_s = s.now_s + command.duration_s
    fw._log(
        "mri_exposure",
        f"MRI: in a {command.field_t:g} T field for {command.duration_s / 60:.0f} min "
        f"({fw.device.name}: {response.value})",
        duration_s=command.duration_s,
        field_t=command.field_t,
        response=response.value,
    )
    discharged = 0.0
    if response is MriResponse.MOTOR_STALL:
        sounding = [a.code.value for a in s.alarms]
        if sounding:
            s.mri_telemetry_hold = True
            fw._log(
                "mri_warning",
                f"entered the field while sounding {', '.join(sounding)}: telemetry mode, no "
                "infusion after the scan until the pump is interrogated (TGA hazard alert)",
            )
        fw._raise(AlarmCode.MRI_MOTOR_STALL, f"in the field until {iso(s.mri_until_s)}")
    elif response is MriResponse.VALVE_CLOSES:
        left = s.remaining_ml - fw.empty_level_ml
        if left > EPS_ML:
            fw._log(
                "mri_warning",
                f"the reservoir was not emptied before the MRI ({format_volume(left)} in it): "
                "a Prometra must be emptied before an MRI (overdose risk)",
                left_ml=left,
            )
        if command.field_t != PROMETRA_FIELD_T.value:
            fw._log(
                "mri_warning",
                f"{command.field_t:g} T is outside the Prometra MRI conditions (1.5 T only)",
            )
        if fw.delivering():
            discharged = max(0.0, min(FAV_DISCHARGE_ML.value, left))
            s.remaining_ml -= discharged
            s.delivered_since_fill_ml += discharged
            s.delivered_total_ml += discharged
        fw._raise(
            AlarmCode.MRI_VALVE_CLOSED,
            f"flow-activated valve closed ({format_volume(discharged)} delivered as it closed)",
        )
    return {
        "response": response.value,
        "in_field_until_s": s.mri_until_s,
        "discharged_ml": discharged,
    }


def missed_ml(fw: Firmware, end_s: float) -> float | None:
    """What the running program would have delivered from the start of the MRI to ``end_s``."""
    s = fw.state
    program = fw.program
    if s.mri_started_at_s is None or program is None or s.program_checksum is None:
        return None
    profile = fw._base_profile(program, s.program_checksum)
    return interruption(profile, s.mri_started_at_s, max(end_s, s.mri_started_at_s)).missed_ml


def leave_field(fw: Firmware) -> None:
    """The scan is over (fired by the firmware's clock at ``mri_until_s``)."""
    s = fw.state
    s.mri_until_s = None
    if s.alarm(AlarmCode.MRI_MOTOR_STALL) is not None:
        missed = missed_ml(fw, s.now_s)
        fw._clear(AlarmCode.MRI_MOTOR_STALL, "stall recovery: the patient left the field")
        fw._log(
            "mri_missed",
            "no delivery during the MRI: "
            + (format_volume(missed) if missed is not None else "nothing (no program)")
            + " missed",
            missed_ml=missed,
        )
        fw._raise(AlarmCode.MRI_CHECK, "interrogate to confirm that delivery resumed")
    elif s.alarm(AlarmCode.MRI_VALVE_CLOSED) is not None:
        fw._log(
            "mri_field_left",
            "the patient left the field; the flow-activated valve stays closed until reset",
        )
    else:
        s.mri_started_at_s = None


def end_telemetry_hold(fw: Firmware) -> None:
    """An interrogation after the scan ends the telemetry mode; infusion resumes."""
    s = fw.state
    if s.mri_telemetry_hold and s.mri_until_s is None:
        s.mri_telemetry_hold = False
        fw._invalidate()
        fw._log("mri_telemetry_ended", "interrogated after the MRI: telemetry mode ended")


def confirm(fw: Firmware, why: str) -> bool:
    """Clear ``mri_check`` when the pump is delivering again (interrogation or programmer)."""
    s = fw.state
    if s.alarm(AlarmCode.MRI_CHECK) is None or s.mri_until_s is not None or not fw.delivering():
        return False
    fw._clear(AlarmCode.MRI_CHECK, why)
    s.mri_started_at_s = None
    return True


def clear_refusal(fw: Firmware, code: AlarmCode) -> str | None:
    """Why an MRI alarm cannot be cleared now (None: it can)."""
    s = fw.state
    if code in (AlarmCode.MRI_MOTOR_STALL, AlarmCode.MRI_VALVE_CLOSED) and s.mri_until_s:
        return f"the patient is in the field until {iso(s.mri_until_s)}"
    if code is AlarmCode.MRI_MOTOR_STALL:
        return "it clears by itself when the patient leaves the field"
    if code is AlarmCode.MRI_CHECK and not confirmable(fw):
        return "delivery is not running: " + "; ".join(fw.inhibitions())
    return None


def confirmable(fw: Firmware) -> bool:
    inhibitions = [r for r in fw.inhibitions() if "mri_check" not in r]
    return not inhibitions and fw.state.mri_until_s is None


def reset_valve(fw: Firmware) -> None:
    """The valve reset (clearing ``mri_valve_closed``): the missed volume goes in the log."""
    missed = missed_ml(fw, fw.state.now_s)
    fw._log(
        "mri_missed",
        "flow-activated valve reset; missed since the MRI: "
        + (format_volume(missed) if missed is not None else "nothing (no program)"),
        missed_ml=missed,
    )
    fw.state.mri_started_at_s = None


def status(fw: Firmware) -> dict[str, Json] | None:
    s = fw.state
    if s.mri_started_at_s is None:
        return None
    return {
        "started_at_s": s.mri_started_at_s,
        "in_field_until_s": s.mri_until_s,
        "response": response_of(fw.device).value,
        "missed_so_far_ml": missed_ml(fw, s.mri_until_s or s.now_s),
    }


def predictions(fw: Firmware) -> dict[str, Json] | None:
    """Reservoir predictions while a stalled pump waits to leave the field: the program
    resumes at ``mri_until_s``, so each instant moves later by the missed delivery."""
    s = fw.state
    program = fw.program
    if (
        s.mri_until_s is None
        or program is None
        or s.program_checksum is None
        or s.alarm(AlarmCode.MRI_MOTOR_STALL) is None
        or [r for r in fw.inhibitions() if "mri_motor_stall" not in r]
    ):
        return None
    profile = fw._base_profile(program, s.program_checksum)
    alarm, empty = program.low_reservoir_alarm_ml, fw.empty_level_ml
    low = (
        time_at_volume_after(profile, s.mri_until_s, s.remaining_ml - alarm)
        if s.remaining_ml > alarm
        else None
    )
    return {
        "low_reservoir_alarm_at_s": low,
        "empty_at_s": time_at_volume_after(
            profile, s.mri_until_s, max(0.0, s.remaining_ml - empty)
        ),
        "basis": "the running program resuming when the patient leaves the MRI field "
        f"({iso(s.mri_until_s)}), without future demand boluses",
    }
