"""Alarm codes of the virtual pump, their priority and what each one does to delivery.

Priority follows the IEC 60601-1-8 idea of high (critical) and lower (non-critical) alarms, as
SynchroMed II sounds them (domain-facts.md §1.1): a critical alarm stops delivery, a
non-critical one keeps it. Empty reservoir and memory error as critical alarms are a commonly
quoted SynchroMed II set that the reference notes could not confirm [U]; catheter occlusion as
critical is this project's decision (pumping against an occlusion delivers nothing and a bolus
may follow its release, FDA TPLC Table 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class AlarmCode(Enum):
    LOW_RESERVOIR = "low_reservoir"
    EMPTY_RESERVOIR = "empty_reservoir"
    ELECTIVE_REPLACEMENT = "elective_replacement"
    END_OF_SERVICE = "end_of_service"
    MOTOR_STALL = "motor_stall"
    CATHETER_OCCLUSION = "catheter_occlusion"
    MEMORY_ERROR = "memory_error"
    LOW_BATTERY_RESET = "low_battery_reset"
    MRI_MOTOR_STALL = "mri_motor_stall"
    MRI_CHECK = "mri_check"
    MRI_VALVE_CLOSED = "mri_valve_closed"
    ALARM_TEST = "alarm_test"


class Priority(Enum):
    CRITICAL = "critical"
    NON_CRITICAL = "non-critical"


@dataclass(frozen=True)
class AlarmKind:
    code: AlarmCode
    priority: Priority
    title: str
    action: str  # what the clinician must do before the alarm can be cleared


KINDS: dict[AlarmCode, AlarmKind] = {
    kind.code: kind
    for kind in (
        AlarmKind(
            AlarmCode.LOW_RESERVOIR,
            Priority.NON_CRITICAL,
            "low reservoir",
            "refill the pump; the alarm clears when the reservoir is above the alarm volume",
        ),
        AlarmKind(
            AlarmCode.EMPTY_RESERVOIR,
            Priority.CRITICAL,
            "empty reservoir: delivery stopped",
            "refill the pump now (withdrawal risk); the alarm clears with the refill",
        ),
        AlarmKind(
            AlarmCode.ELECTIVE_REPLACEMENT,
            Priority.NON_CRITICAL,
            "elective replacement indicator: battery near end of service",
            "schedule the pump replacement before end of service; it cannot be cleared",
        ),
        AlarmKind(
            AlarmCode.END_OF_SERVICE,
            Priority.CRITICAL,
            "end of service: delivery stopped for good",
            "replace the pump; it cannot be cleared",
        ),
        AlarmKind(
            AlarmCode.MOTOR_STALL,
            Priority.CRITICAL,
            "motor stall: delivery stopped",
            "assess the patient for withdrawal; investigate the pump (rotor study); the alarm "
            "can be cleared once the stall is gone",
        ),
        AlarmKind(
            AlarmCode.CATHETER_OCCLUSION,
            Priority.CRITICAL,
            "catheter occlusion: delivery stopped",
            "investigate the catheter (access port aspiration, imaging); the alarm can be "
            "cleared once the occlusion is gone",
        ),
        AlarmKind(
            AlarmCode.MEMORY_ERROR,
            Priority.CRITICAL,
            "memory error: stored state failed its checksum; safe state, no delivery",
            "empty the reservoir, refill and reprogram the pump; then clear the alarm",
        ),
        AlarmKind(
            AlarmCode.LOW_BATTERY_RESET,
            Priority.CRITICAL,
            "low battery reset: the pump reset and forgot its program; no delivery",
            "assess the patient for withdrawal; reprogram the pump and plan its replacement "
            "(HSA notice on SynchroMed II battery performance); clear once the fault is gone",
        ),
        AlarmKind(
            AlarmCode.MRI_MOTOR_STALL,
            Priority.CRITICAL,
            "MRI: the magnetic field stalls the motor; no delivery during the scan",
            "it ends when the patient leaves the field; then interrogate the pump",
        ),
        AlarmKind(
            AlarmCode.MRI_CHECK,
            Priority.NON_CRITICAL,
            "after MRI: interrogate to confirm that delivery resumed",
            "interrogate the pump (recovery can take 2 to 24 h; interrogate again if the log "
            "shows no stall recovery); the alarm clears when an interrogation shows delivery",
        ),
        AlarmKind(
            AlarmCode.MRI_VALVE_CLOSED,
            Priority.CRITICAL,
            "MRI: the flow-activated valve closed; no delivery until it is reset",
            "after the scan, reset the valve (clear this alarm) and confirm delivery; the "
            "patient gets no drug until then",
        ),
        AlarmKind(
            AlarmCode.ALARM_TEST,
            Priority.NON_CRITICAL,
            "alarm test",
            "clear it when the patient has heard the tones",
        ),
    )
}

# Faults that a test or a trainer can inject; each raises its alarm while present.
FAULT_ALARMS: dict[str, AlarmCode] = {
    "motor_stall": AlarmCode.MOTOR_STALL,
    "catheter_occlusion": AlarmCode.CATHETER_OCCLUSION,
    "low_battery": AlarmCode.LOW_BATTERY_RESET,
}


def is_critical(code: AlarmCode) -> bool:
    return KINDS[code].priority is Priority.CRITICAL


def parse_code(text: str) -> AlarmCode | None:
    try:
        return AlarmCode(text)
    except ValueError:
        return None
