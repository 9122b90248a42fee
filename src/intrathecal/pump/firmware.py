"""The virtual pump's firmware: a deterministic state machine over an injectable clock.

Pure: no I/O and no clock reading; every call takes ``now_s``. Time advances in closed form:
between two events the delivered volume is the engine's exact volume, and the next event
(low reservoir, empty reservoir, ERI, EOS, end of a bolus) is found with
``Delivery.time_at_volume`` or is a known instant, so a year is a handful of steps, not ticks.

A command either applies whole or changes nothing and says why (it is then logged as refused,
with the reason). Every accepted command, delivery change, bolus, alarm and monitor action is
in the event log. Requirement ids are from shared/reference/safety-requirements.md.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
from typing import Any

from intrathecal.clinical.bolus_limits import (
    bolus_findings,
)
from intrathecal.clinical.reconcile import (
    LARGE_RESERVOIR_THRESHOLD_ML,
    SMALL_RESERVOIR_THRESHOLD_ML,
)
from intrathecal.engine.delivery import Bolus, Boluses, Delivery, program_profile
from intrathecal.engine.demand import WINDOW_S, decide, iso
from intrathecal.engine.profile import RateProfile
from intrathecal.library.records import BolusMode, Device, DeviceKind, Library
from intrathecal.pump import commands as cmd
from intrathecal.pump import mri_handlers as mri
from intrathecal.pump.alarms import FAULT_ALARMS, KINDS, AlarmCode, is_critical
from intrathecal.pump.battery import (
    BOLUS_COST_DAYS,
    assumption,
    battery_for,
    drain_days,
    eri_to_eos_days,
    time_to_drain,
)
from intrathecal.pump.door import door_findings, dose_data, refused_by_door
from intrathecal.pump.monitor import Proposal, review
from intrathecal.pump.recovery import SafetyRecord
from intrathecal.pump.state import (
    ActiveAlarm,
    BolusRun,
    DrugLabel,
    Event,
    Json,
    PumpState,
)
from intrathecal.therapy.errors import InvalidProgramError
from intrathecal.therapy.findings import Severity
from intrathecal.therapy.parse import parse_program
from intrathecal.therapy.program import Program
from intrathecal.therapy.serialize import to_toml
from intrathecal.units import SECONDS_PER_DAY, InputError, format_volume

DAY = float(SECONDS_PER_DAY)
EPS_ML = 1e-9  # float noise in volumes, far below any clinical quantity
# The bolus bounds' one home is clinical/bolus_limits.py (the clinic's review uses them too).
MAX_EVENTS_PER_REPLY = 1000
MAX_STEPS_PER_ADVANCE = 1_000_000  # a guard against a logic error, never reached in use

COMMAND_NAMES: dict[type[Any], str] = {
    cmd.Interrogate: "interrogate",
    cmd.StageProgram: "stage_program",
    cmd.ActivateProgram: "activate_program",
    cmd.Refill: "refill",
    cmd.Bolus: "bolus",
    cmd.DemandBolus: "demand_bolus",
    cmd.Stop: "stop",
    cmd.Resume: "resume",
    cmd.ClearAlarm: "clear_alarm",
    cmd.AlarmTest: "alarm_test",
    cmd.SetClock: "set_clock",
    cmd.InjectFault: "inject_fault",
    cmd.ClearFault: "clear_fault",
    cmd.MriExposure: "mri_exposure",
    cmd.Result: "result",
}


class RefusalError(Exception):
    """A command that cannot be applied, with every reason (each naming its field)."""

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


def refuse(field: str, message: str) -> RefusalError:
    return RefusalError([InputError(field, message)])


def program_checksum(canonical_toml: str) -> str:
    """SHA-256 of the canonical program text (``to_toml`` of the parsed program)."""
    return hashlib.sha256(canonical_toml.encode("utf-8")).hexdigest()


def canonical_program(text: str, library: Library) -> tuple[Program, str, str]:
    """Parse and validate a program; return it with its canonical text and checksum."""
    program = parse_program(text, library)
    canonical = to_toml(program)
    return program, canonical, program_checksum(canonical)


def errors_json(errors: list[InputError]) -> list[dict[str, str]]:
    return [{"field": e.field, "message": e.message} for e in errors]


def reused_id_body() -> dict[str, Json]:
    """A request id already used for a different command: refused, nothing applied, and the
    earlier command's reply is not handed out as if it were this one's (defect 4)."""
    message = "was already used for a different request; nothing was done (use a new id)"
    return {
        "ok": False,
        "code": "id_reused",
        "errors": errors_json([InputError("request_id", message)]),
    }


class Firmware:
    """One pump. ``state`` and ``events`` are everything it knows; both are stored by the
    persistence module (outside this pure core)."""

    def __init__(self, state: PumpState, library: Library, events: list[Event] | None = None):
        self.state = state
        self.library = library
        self.device: Device = library.device(state.device_key)
        self.events: list[Event] = list(events or [])
        self._plans: dict[tuple[str, int], RateProfile] = {}
        self._programs: dict[str, Program] = {}
        self._plan: Delivery | None = None
        self._plan_valid = False

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        serial: str,
        device_key: str,
        now_s: float,
        library: Library,
        battery_remaining_s: float | None = None,
    ) -> Firmware:
        device = library.device(device_key)
        if device.kind is DeviceKind.FIXED_RATE:
            raise InputError(
                "device", f"{device.name} is a constant-flow pump: no firmware, no telemetry"
            )
        battery = battery_for(device, now_s, battery_remaining_s)
        state = PumpState(
            serial=serial,
            device_key=device_key,
            now_s=now_s,
            battery_eri_at_s=battery.eri_at_s,
            battery_eos_at_s=battery.eos_at_s,
            battery_charge_days=battery.charge_days,
        )
        pump = cls(state, library)
        pump._log("created", f"pump {serial} ({device.name}) created", device=device_key)
        pump._check_battery()
        return pump

    @classmethod
    def safe_state(
        cls,
        serial: str,
        device_key: str,
        now_s: float,
        library: Library,
        battery_eri_at_s: float,
        battery_eos_at_s: float,
        events: list[Event],
        detail: str,
        kept: SafetyRecord | None = None,
    ) -> Firmware:
        """The pump after its stored state failed its checksum: nothing it remembered about
        the reservoir or the program is trusted; no delivery until refilled and reprogrammed.
        What keeps the patient safe later (``kept``: demand history, total delivered, request
        ids already applied) is carried over, never reset."""
        state = PumpState(
            serial=serial,
            device_key=device_key,
            now_s=now_s,
            battery_eri_at_s=battery_eri_at_s,
            battery_eos_at_s=battery_eos_at_s,
            event_count=len(events),
        )
        if math.isfinite(battery_eos_at_s):
            state.battery_charge_days = max(0.0, (battery_eos_at_s - now_s) / DAY)
        if kept is not None and kept.battery_charge_days is not None:
            state.battery_charge_days = kept.battery_charge_days
        if kept is not None:
            state.demand_history_s = [t for t in kept.demand_history_s if t > now_s - WINDOW_S]
            state.delivered_total_ml = kept.delivered_total_ml
            state.spent_request_ids = dict(kept.spent_request_ids)
        pump = cls(state, library, events)
        pump._raise(AlarmCode.MEMORY_ERROR, detail)
        pump._check_battery()
        return pump

    # -- derived facts ------------------------------------------------------------------------

    @property
    def program(self) -> Program | None:
        return self._program_of(self.state.program_toml, self.state.program_checksum)

    def _program_of(self, text: str | None, checksum: str | None) -> Program | None:
        if text is None or checksum is None:
            return None
        if checksum not in self._programs:
            self._programs[checksum] = parse_program(text, self.library)
        return self._programs[checksum]

    @property
    def empty_level_ml(self) -> float:
        dead = self.device.non_retrievable_ml
        return dead.value if dead is not None else 0.0

    def inhibitions(self) -> list[str]:
        """Why nothing is delivered now (empty when the program runs)."""
        reasons = []
        if self.program is None:
            reasons.append("no program is active")
        if not self.state.drugs:
            reasons.append("the reservoir holds no labelled drug")
        if self.state.stopped:
            reasons.append("stopped")
        reasons.extend(
            f"critical alarm {a.code.value}" for a in self.state.alarms if is_critical(a.code)
        )
        if self.state.mri_telemetry_hold and self.state.mri_until_s is None:
            reasons.append("telemetry mode after the MRI (an alarm was sounding): interrogate")
        return reasons

    def delivering(self) -> bool:
        return not self.inhibitions()

    # -- time ---------------------------------------------------------------------------------

    def advance(self, now_s: float) -> None:
        """Run the pump up to ``now_s`` (never backwards), raising every alarm on its instant."""
        for _ in range(MAX_STEPS_PER_ADVANCE):
            t0 = self.state.now_s
            if now_s <= t0:
                return
            plan = self._current_plan()
            at, fire = self._next_event(plan, t0)
            t1 = min(now_s, at)
            volume = self._deliver(plan, t0, t1) if plan is not None and t1 > t0 else 0.0
            self._drain(max(0.0, t1 - t0), volume)
            self.state.now_s = max(t0, t1)
            if at <= now_s and fire is not None:
                before = self.delivering()
                fire()
                self._check_levels()
                self._note_delivery_change(before)
                self._invalidate()
        raise RuntimeError("the pump did not settle; this is a firmware defect")

    def _next_event(self, plan: Delivery | None, t0: float) -> tuple[float, Any]:
        s = self.state
        candidates: list[tuple[float, int, Any]] = []
        if s.mri_until_s is not None:  # the patient leaves the MRI field
            candidates.append((s.mri_until_s, 1, lambda: mri.leave_field(self)))
        charge = s.battery_charge_days
        if charge is not None:
            # ERI and EOS fall where the charge reaches its threshold under the running plan
            # (the drain depends on the volume pumped, pump/battery.py).
            pumped = plan.volume_between if plan is not None else None
            thresholds = (
                (eri_to_eos_days(self.device), AlarmCode.ELECTIVE_REPLACEMENT, 2),
                (0.0, AlarmCode.END_OF_SERVICE, 1),
            )
            for level, code, order in thresholds:
                if s.alarm(code) is None:
                    at = time_to_drain(t0, charge - level, pumped)
                    if code is AlarmCode.ELECTIVE_REPLACEMENT:
                        s.battery_eri_at_s = at
                    else:
                        s.battery_eos_at_s = at
                    candidates.append((at, order, lambda v=level: self._battery_reaches(v)))
        else:
            if s.alarm(AlarmCode.ELECTIVE_REPLACEMENT) is None and math.isfinite(
                s.battery_eri_at_s
            ):
                candidates.append((s.battery_eri_at_s, 2, self._check_battery))
            if s.alarm(AlarmCode.END_OF_SERVICE) is None and math.isfinite(s.battery_eos_at_s):
                candidates.append((s.battery_eos_at_s, 1, self._check_battery))
        for bolus in s.boluses:
            candidates.append((bolus.end_s, 3, lambda b=bolus: self._end_bolus(b)))
            if bolus.start_s > t0:  # a suspended clinician bolus resumes (OPCA-64)
                candidates.append((bolus.start_s, 2, lambda b=bolus: self._resume_bolus(b)))
        program = self.program
        if plan is not None and program is not None:
            empty = self.empty_level_ml
            if s.remaining_ml > empty + EPS_ML:
                at = plan.time_at_volume(t0, s.remaining_ml - empty)
                candidates.append((at, 0, lambda: self._snap_to(empty)))
            alarm = program.low_reservoir_alarm_ml
            if s.alarm(AlarmCode.LOW_RESERVOIR) is None and s.remaining_ml > alarm + EPS_ML:
                at = plan.time_at_volume(t0, s.remaining_ml - alarm)
                candidates.append((at, 0, lambda: self._snap_to(alarm)))
        if not candidates:
            return math.inf, None
        at, _, fire = min(candidates, key=lambda c: (c[0], c[1]))
        return max(at, t0), fire

    def _snap_to(self, level_ml: float) -> None:
        """At a volume event the reservoir is exactly at the level (removes float noise, so
        the level check below fires and the loop always moves on)."""
        s = self.state
        delta = s.remaining_ml - level_ml
        if delta > 0:
            s.remaining_ml -= delta
            s.delivered_since_fill_ml += delta
            s.delivered_total_ml += delta

    def _deliver(self, plan: Delivery, t0: float, t1: float) -> float:
        s = self.state
        volume = plan.volume_between(t0, t1)
        volume = max(0.0, min(volume, s.remaining_ml - self.empty_level_ml))
        s.remaining_ml -= volume
        s.delivered_since_fill_ml += volume
        s.delivered_total_ml += volume
        return volume

    def _drain(self, elapsed_s: float, volume_ml: float, boluses: int = 0) -> None:
        s = self.state
        if s.battery_charge_days is not None:
            used = drain_days(elapsed_s, volume_ml) + boluses * BOLUS_COST_DAYS
            s.battery_charge_days = max(0.0, s.battery_charge_days - used)

    def _battery_reaches(self, level_days: float) -> None:
        """At a predicted battery instant the charge is exactly at the level (float noise)."""
        s = self.state
        if s.battery_charge_days is not None:
            s.battery_charge_days = min(s.battery_charge_days, level_days)
        self._check_battery()

    def _invalidate(self) -> None:
        self._plan_valid = False
        self._plan = None

    def _current_plan(self) -> Delivery | None:
        if not self._plan_valid:
            self._plan = self._build_plan()
            self._plan_valid = True
        return self._plan

    def _base_profile(self, program: Program, checksum: str) -> RateProfile:
        key = (checksum, self.state.clock_offset_s)
        if key not in self._plans:
            profile = program_profile(program)
            # The program runs on the pump's wall clock; shifting the anchor expresses it in
            # the monotonic time every other instant uses.
            shifted = dataclasses.replace(
                profile, anchor_s=profile.anchor_s - self.state.clock_offset_s
            )
            self._plans = {key: shifted}
            return shifted
        return self._plans[key]

    def _build_plan(self) -> Delivery | None:
        program = self.program
        s = self.state
        if self.inhibitions() or program is None or s.program_checksum is None:
            return None
        profile = self._base_profile(program, s.program_checksum)
        verdict = review(
            Proposal(
                device=self.device,
                stopped=s.stopped,
                critical_alarms=tuple(a.code for a in s.alarms if is_critical(a.code)),
                basal_max_rate_ml_per_day=max(step.rate_ml_per_day for step in program.basal),
                peak_rate_ml_per_day=max(profile.rates_ml_per_day),
                boluses=tuple(s.boluses),
                demand=program.demand,
                demand_history_s=tuple(s.demand_history_s),
            )
        )
        if verdict.reasons:
            self._log("monitor", "safety monitor: " + "; ".join(verdict.reasons))
        if not verdict.deliver:
            # The monitor latches a stop; a clinician must look and resume.
            s.stopped = True
            self._cut_boluses("safety monitor stop")
            self._log("delivery_stopped", "delivery stopped by the safety monitor")
            return None
        s.boluses = [b for b in s.boluses if b in verdict.boluses]
        replacing = [b for b in s.boluses if b.replaces_basal]
        if replacing:
            profile = RateProfile(
                period_s=SECONDS_PER_DAY,
                anchor_s=0,
                starts_s=(0,),
                rates_ml_per_day=(replacing[0].rate_ml_per_day,),
            )
        extras = Boluses.of(
            Bolus(b.start_s, b.duration_s, b.volume_ml) for b in s.boluses if not b.replaces_basal
        )
        return Delivery(profile, extras)

    def _check_battery(self) -> None:
        s = self.state
        charge = s.battery_charge_days
        if charge is None:
            eri, eos = s.now_s >= s.battery_eri_at_s, s.now_s >= s.battery_eos_at_s
        else:
            eri = charge <= eri_to_eos_days(self.device) + 1e-9
            eos = charge <= 1e-9
        if eri and s.alarm(AlarmCode.ELECTIVE_REPLACEMENT) is None:
            left = "" if charge is None else f"; {charge:.0f} nominal days of charge left"
            self._raise(
                AlarmCode.ELECTIVE_REPLACEMENT,
                f"end of service expected about {iso(s.battery_eos_at_s)}{left}",
            )
        if eos and s.alarm(AlarmCode.END_OF_SERVICE) is None:
            self._raise(AlarmCode.END_OF_SERVICE, "battery at end of service")

    def _resume_bolus(self, bolus: BolusRun) -> None:
        self._log(
            "bolus_resumed",
            f"{bolus.kind} bolus resumed: {format_volume(bolus.volume_ml)} over "
            f"{bolus.duration_s / 60:.0f} min",
            kind=bolus.kind,
            volume_ml=bolus.volume_ml,
        )

    def _end_bolus(self, bolus: BolusRun) -> None:
        if bolus in self.state.boluses:
            self.state.boluses.remove(bolus)
            self._log(
                "bolus_ended",
                f"{bolus.kind} bolus of {format_volume(bolus.volume_ml)} completed",
                kind=bolus.kind,
                volume_ml=bolus.volume_ml,
            )

    def _cut_boluses(self, why: str) -> None:
        now = self.state.now_s
        for bolus in self.state.boluses:
            done = min(
                bolus.volume_ml, max(0.0, bolus.rate_ml_per_day * (now - bolus.start_s) / DAY)
            )
            self._log(
                "bolus_cut",
                f"{bolus.kind} bolus cut ({why}): {format_volume(done)} of "
                f"{format_volume(bolus.volume_ml)} delivered",
                kind=bolus.kind,
                delivered_ml=done,
                not_delivered_ml=bolus.volume_ml - done,
            )
        self.state.boluses = []
        self._invalidate()

    # -- alarms -------------------------------------------------------------------------------

    def _raise(self, code: AlarmCode, detail: str) -> None:
        if self.state.alarm(code) is not None:
            return
        self.state.alarms.append(ActiveAlarm(code, self.state.now_s, detail))
        kind = KINDS[code]
        self._log(
            "alarm_raised",
            f"{kind.priority.value} alarm: {kind.title} ({detail})",
            code=code.value,
            priority=kind.priority.value,
        )
        if is_critical(code):
            self._cut_boluses(f"critical alarm {code.value}")
        self._invalidate()

    def _clear(self, code: AlarmCode, why: str) -> None:
        alarm = self.state.alarm(code)
        if alarm is None:
            return
        self.state.alarms.remove(alarm)
        self._log("alarm_cleared", f"alarm {code.value} cleared: {why}", code=code.value)
        self._invalidate()

    def _check_levels(self) -> None:
        """Reservoir alarms follow the level: raised when it is reached, cleared by a refill
        above it (or a program with a lower alarm volume)."""
        s = self.state
        program = self.program
        if program is None or not s.drugs:
            return
        empty, alarm = self.empty_level_ml, program.low_reservoir_alarm_ml
        if s.remaining_ml <= empty + EPS_ML:
            self._raise(
                AlarmCode.EMPTY_RESERVOIR, f"{format_volume(s.remaining_ml)} left: delivery stopped"
            )
        elif s.alarm(AlarmCode.EMPTY_RESERVOIR) is not None:
            self._clear(AlarmCode.EMPTY_RESERVOIR, f"reservoir {format_volume(s.remaining_ml)}")
        if s.remaining_ml <= alarm + EPS_ML:
            self._raise(
                AlarmCode.LOW_RESERVOIR,
                f"{format_volume(s.remaining_ml)} left; alarm volume {format_volume(alarm)}",
            )
        elif s.alarm(AlarmCode.LOW_RESERVOIR) is not None:
            self._clear(
                AlarmCode.LOW_RESERVOIR,
                f"reservoir {format_volume(s.remaining_ml)} is above {format_volume(alarm)}",
            )

    # -- event log ----------------------------------------------------------------------------

    def _log(self, event_kind: str, message: str, /, **data: Json) -> None:
        self.state.event_count += 1
        self.events.append(
            Event(self.state.event_count, self.state.now_s, event_kind, message, data)
        )

    def _note_delivery_change(self, before: bool) -> None:
        after = self.delivering()
        if before and not after:
            self._log(
                "delivery_stopped",
                "delivery stopped: " + "; ".join(self.inhibitions()),
                reasons=self.inhibitions(),
            )
        elif after and not before:
            self._log("delivery_started", "delivery started")

    # -- commands -----------------------------------------------------------------------------

    def handle(self, request_id: str, command: cmd.Command, now_s: float) -> dict[str, Json]:
        """Apply one command at ``now_s``. Returns the reply body ({"ok": true, "result": …}
        or {"ok": false, "code": "refused", "errors": […]})."""
        self.advance(now_s)
        if isinstance(command, cmd.Interrogate):
            # After an MRI, the interrogation that finds the pump delivering is the check.
            before = self.delivering()
            mri.end_telemetry_hold(self)
            self._note_delivery_change(before)
            mri.confirm(self, "interrogated after the MRI: delivery confirmed")
            return {"ok": True, "result": self.interrogate(command.since)}
        if isinstance(command, cmd.Result):
            cached = self.state.replies.get(command.request_id)
            return {"ok": True, "result": {"found": cached is not None, "reply": cached}}
        digest = cmd.command_digest(command)
        cached = self.state.replies.get(request_id)
        if cached is not None:
            if self.state.reply_digests.get(request_id, digest) != digest:
                return reused_id_body()
            return {**cached, "replayed": True}
        if request_id in self.state.spent_request_ids:
            if self.state.spent_request_ids[request_id] not in ("", digest):
                return reused_id_body()
            return {
                "ok": False,
                "code": "reply_lost",
                "errors": errors_json(
                    [
                        InputError(
                            "request_id",
                            "was handled before the pump's memory error; its reply is lost and "
                            "it is not applied again: interrogate the pump",
                        )
                    ]
                ),
            }
        name = COMMAND_NAMES[type(command)]
        replies = self.state.replies
        self.state.replies = {}
        snapshot = copy.deepcopy(self.state)
        self.state.replies = replies
        logged = len(self.events)
        before = self.delivering()
        try:
            self._log(
                "command",
                f"{name} (request {request_id[:12]})",
                type=name,
                request_id=request_id,
                digest=digest,
            )
            result = self._dispatch(command)
            self._check_levels()
            self._note_delivery_change(before)
            reply: dict[str, Json] = {"ok": True, "result": result}
        except RefusalError as refusal:
            snapshot.replies = replies
            self.state = snapshot
            del self.events[logged:]
            self._invalidate()
            errors = errors_json(refusal.errors)
            self._log(
                "refused",
                f"{name} refused: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors),
                type=name,
                request_id=request_id,
                digest=digest,
                errors=errors,
            )
            reply = {"ok": False, "code": "refused", "errors": errors}
        self._invalidate()
        self.state.remember_reply(request_id, reply, digest)
        return reply

    def _dispatch(self, command: cmd.Command) -> dict[str, Json]:
        match command:
            case cmd.StageProgram():
                return self._stage(command.program_toml)
            case cmd.ActivateProgram():
                return self._activate(command.checksum)
            case cmd.Refill():
                return self._refill(command)
            case cmd.Bolus():
                return self._bolus(command)
            case cmd.DemandBolus():
                return self._demand_bolus()
            case cmd.Stop():
                return self._stop()
            case cmd.Resume():
                return self._resume()
            case cmd.ClearAlarm():
                return self._clear_alarm(command.code)
            case cmd.AlarmTest():
                if self.state.alarm(AlarmCode.ALARM_TEST) is not None:
                    raise refuse("alarm_test", "an alarm test is already sounding; clear it")
                self._raise(AlarmCode.ALARM_TEST, "requested by the programmer")
                return {"alarm": AlarmCode.ALARM_TEST.value}
            case cmd.SetClock():
                return self._set_clock(command.pump_time_s)
            case cmd.InjectFault():
                if command.fault in self.state.faults:
                    raise refuse("fault", f"{command.fault} is already injected")
                self.state.faults.append(command.fault)
                self._raise(FAULT_ALARMS[command.fault], "injected fault")
                if FAULT_ALARMS[command.fault] is AlarmCode.LOW_BATTERY_RESET:
                    self._reset_program()
                return {"faults": list(self.state.faults)}
            case cmd.ClearFault():
                if command.fault not in self.state.faults:
                    raise refuse("fault", f"{command.fault} is not injected")
                self.state.faults.remove(command.fault)
                self._log(
                    "fault_cleared", f"fault {command.fault} removed; alarm stays until cleared"
                )
                return {"faults": list(self.state.faults)}
            case cmd.MriExposure():
                try:
                    return mri.expose(self, command)
                except mri.MriRefusalError as exc:
                    raise refuse(exc.field, exc.message) from None
        raise refuse("type", f"{type(command).__name__} is not a pump command")

    # program: stage, read back, activate ------------------------------------------------------

    def _stage(self, text: str) -> dict[str, Json]:
        try:
            program, canonical, checksum = canonical_program(text, self.library)
        except InvalidProgramError as exc:
            raise RefusalError(exc.errors) from None
        except InputError as exc:
            raise RefusalError([exc]) from None
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            # Validation reports bad programs as InputError; anything else is still refused.
            raise refuse("program_toml", f"cannot be read as a program: {exc}") from None
        self._check_for_this_pump(program)
        findings = self._check_door(program)
        self.state.staged_toml = canonical
        self.state.staged_checksum = checksum
        self._programs[checksum] = program
        overrides = sorted(program.overridden)
        self._log(
            "program_staged",
            f"program {program.name!r} staged"
            + (f"; device overrides: {', '.join(overrides)}" if overrides else ""),
            checksum=checksum,
            device_overrides=overrides,
        )
        return {
            "checksum": checksum,
            "program_toml": canonical,
            "notices": [{"field": n.field, "message": n.message} for n in program.notices],
            "device_overrides": overrides,
            "findings": [
                {
                    "severity": f.severity.value,
                    "code": f.code,
                    "field": f.field,
                    "message": f.message,
                }
                for f in findings
            ],
        }

    def _check_door(self, program: Program) -> list[Any]:
        """The clinic's review, run by the pump itself: a hard finding refuses the program
        (pump/door.py); the other findings are returned for the programmer to show."""
        try:
            findings = door_findings(program, self.program, self.events, self.state.now_s)
        except InputError as exc:  # the review could not be run: nothing is accepted
            raise RefusalError([exc]) from None
        blocking = refused_by_door(findings, self.events)
        if blocking:
            raise RefusalError(
                [InputError(f.field, f"{f.code}: {f.message} (hard limit)") for f in blocking]
            )
        return list(findings)

    def _check_for_this_pump(self, program: Program) -> None:
        """The firmware re-validates what the programmer sent against its own device."""
        if program.device.key != self.device.key:
            raise refuse(
                "device",
                f"the program is for {program.device.key}; this pump is {self.device.key}",
            )
        # [device_overrides] are accepted (issue 12, item 8): the review runs on the
        # overridden device, and the overrides are logged and shown on interrogation.

    def _activate(self, checksum: str) -> dict[str, Json]:
        s = self.state
        if s.staged_checksum is None:
            raise refuse("checksum", "no program is staged; stage it first")
        if checksum != s.staged_checksum:
            raise refuse(
                "checksum",
                f"{checksum[:12]}… does not match the staged program ({s.staged_checksum[:12]}…);"
                " read the checksum back and stage again",
            )
        program = self._program_of(s.staged_toml, s.staged_checksum)
        assert program is not None
        self._check_for_this_pump(program)
        self._check_door(program)  # at the moment it takes effect (intervals depend on it)
        if s.alarm(AlarmCode.END_OF_SERVICE) is not None:
            raise refuse("program", "the pump is at end of service; replace it")
        if not s.drugs:
            raise refuse(
                "program",
                "the reservoir holds no labelled drug: refill first, or send the "
                "program with the refill",
            )
        self._check_drugs_match(program, s.drugs, "program")
        self._set_program(s.staged_toml, s.staged_checksum, program)
        return {"checksum": checksum, "activated_at_s": s.now_s}

    def _reset_program(self) -> None:
        """A low battery reset: the pump forgets its program (SynchroMed II may reset its flow
        "to a very low level"; this pump delivers nothing until it is reprogrammed)."""
        s = self.state
        s.program_toml = s.program_checksum = s.staged_toml = s.staged_checksum = None
        s.program_activated_at_s = None
        self._invalidate()
        self._log("program_reset", "low battery reset: program cleared; reprogram the pump")

    def _set_program(self, text: str | None, checksum: str | None, program: Program) -> None:
        s = self.state
        s.program_toml, s.program_checksum = text, checksum
        s.program_activated_at_s = s.now_s
        s.staged_toml = s.staged_checksum = None
        s.catheter_volume_ml = program.catheter_volume_ml
        self._invalidate()
        overrides = sorted(program.overridden)
        self._log(
            "program_activated",
            f"program {program.name!r} active (checksum {str(checksum)[:12]}…)"
            + (f"; device overrides: {', '.join(overrides)}" if overrides else ""),
            checksum=checksum,
            doses_mcg_per_day=dose_data(program),
            device_overrides=overrides,
        )

    @staticmethod
    def _check_drugs_match(program: Program, drugs: list[DrugLabel], field: str) -> None:
        wanted = {i.drug.key: i.concentration_mcg_per_ml for i in program.ingredients}
        have = {d.name: d.concentration_mcg_per_ml for d in drugs}
        same = wanted.keys() == have.keys() and all(
            math.isclose(wanted[k], have[k], rel_tol=1e-9) for k in wanted
        )
        if not same:
            shown = ", ".join(f"{k} {v:g} mcg/mL" for k, v in have.items()) or "nothing"
            program_drugs = ", ".join(f"{k} {v:g} mcg/mL" for k, v in wanted.items())
            raise refuse(
                field,
                f"the program is for {program_drugs} but the reservoir holds {shown}",
            )

    # refill --------------------------------------------------------------------------------

    def _refill(self, command: cmd.Refill) -> dict[str, Json]:
        s = self.state
        reservoir = self.device.reservoir_ml.value
        if command.volume_ml > reservoir + EPS_ML:
            raise refuse(
                "volume_ml",
                f"{format_volume(command.volume_ml)} is more than the reservoir holds "
                f"({format_volume(reservoir)})",
            )
        if command.volume_ml <= self.empty_level_ml + EPS_ML:
            raise refuse("volume_ml", "is not above the reservoir's non-retrievable volume")
        if command.withdrawn_ml is not None and command.withdrawn_ml > reservoir + EPS_ML:
            raise refuse("withdrawn_ml", f"is more than the reservoir holds ({reservoir:g} mL)")
        drugs = self._refill_drugs(command)
        new_program = None
        if command.program_checksum is not None:
            if command.program_checksum != s.staged_checksum:
                raise refuse(
                    "program_checksum", "does not match the staged program; stage it again"
                )
            new_program = self._program_of(s.staged_toml, s.staged_checksum)
            assert new_program is not None
            self._check_for_this_pump(new_program)
            self._check_door(new_program)
            self._check_drugs_match(new_program, drugs, "program_checksum")
        elif self.program is not None:
            self._check_drugs_match(self.program, drugs, "drugs")
        reconciliation = self._reconciliation(command.withdrawn_ml)
        expected = s.remaining_ml
        s.drugs = drugs
        s.filled_ml = s.remaining_ml = command.volume_ml
        s.filled_at_s = s.now_s
        s.delivered_since_fill_ml = 0.0
        self._invalidate()
        self._log(
            "refilled",
            f"refilled with {format_volume(command.volume_ml)} of "
            + ", ".join(f"{d.name} {d.concentration_mcg_per_ml:g} mcg/mL" for d in drugs)
            + f"; the pump expected {format_volume(expected)} left",
            volume_ml=command.volume_ml,
            expected_residual_ml=expected,
            withdrawn_ml=command.withdrawn_ml,
        )
        if new_program is not None:
            self._set_program(s.staged_toml, s.staged_checksum, new_program)
        return {
            "filled_ml": s.filled_ml,
            "filled_at_s": s.filled_at_s,
            "program_checksum": s.program_checksum,
            "reconciliation": reconciliation,
        }

    def _refill_drugs(self, command: cmd.Refill) -> list[DrugLabel]:
        if command.drugs is None:
            if not self.state.drugs:
                raise refuse("drugs", "first fill: say which drugs are in it")
            return [DrugLabel(d.name, d.concentration_mcg_per_ml) for d in self.state.drugs]
        labels: list[DrugLabel] = []
        for index, drug in enumerate(command.drugs):
            if drug.name not in self.library.drugs:
                raise refuse(
                    f"drugs[{index}].name",
                    f"unknown drug {drug.name!r}; known: {', '.join(sorted(self.library.drugs))}",
                )
            if drug.name in {d.name for d in labels}:
                raise refuse(f"drugs[{index}].name", f"{drug.name} is listed twice")
            labels.append(DrugLabel(drug.name, drug.concentration_mcg_per_ml))
        return labels

    def _reconciliation(self, withdrawn_ml: float | None) -> dict[str, Json] | None:
        """Expected residual (what the pump counted) against the volume withdrawn."""
        if withdrawn_ml is None or self.state.filled_at_s is None:
            return None
        s = self.state
        expected = s.remaining_ml
        discrepancy = withdrawn_ml - expected
        accuracy = self.device.accuracy_fraction.value * s.delivered_since_fill_ml
        reservoir = self.device.reservoir_ml.value
        limit = SMALL_RESERVOIR_THRESHOLD_ML if reservoir <= 20 else LARGE_RESERVOIR_THRESHOLD_ML
        investigate = abs(discrepancy) > accuracy or abs(discrepancy) > limit
        return {
            "expected_ml": expected,
            "withdrawn_ml": withdrawn_ml,
            "discrepancy_ml": discrepancy,
            "accuracy_threshold_ml": accuracy,
            "reservoir_threshold_ml": limit,
            "investigate": investigate,
            "basis": "expected = fill - volume the pump delivered since the fill (its own count)",
        }

    # boluses -------------------------------------------------------------------------------

    def _require_delivery(self, field: str) -> Program:
        program = self.program
        reasons = self.inhibitions()
        if program is None or reasons:
            raise refuse(field, "delivery is not running: " + "; ".join(reasons))
        return program

    def _bolus(self, command: cmd.Bolus) -> dict[str, Json]:
        mode = BolusMode(command.kind)
        if mode not in self.device.bolus_modes:
            raise refuse("kind", f"{self.device.name} has no {command.kind} bolus")
        program = self._require_delivery("bolus")
        s = self.state
        if s.boluses:
            running = s.boluses[0]
            raise refuse(
                "bolus",
                f"a {running.kind} bolus is running until {iso(running.end_s)}; wait or stop",
            )
        # The limits live in one place with the clinic's review (clinical/bolus_limits.py);
        # the pump refuses every hard finding (a soft one is the clinic's to acknowledge).
        findings = bolus_findings(
            program,
            command.kind,
            command.volume_ml,
            command.duration_s,
            catheter_ml=s.catheter_volume_ml or 0.0,
        )
        hard = [f for f in findings if f.severity is Severity.HARD]
        if hard:
            raise refuse(hard[0].field, hard[0].message)
        self._check_volume_left(command.volume_ml)
        s.boluses.append(BolusRun(command.kind, s.now_s, command.duration_s, command.volume_ml))
        self._drain(0.0, 0.0, boluses=1)
        self._check_battery()
        self._invalidate()
        self._log(
            "bolus_started",
            f"{command.kind} bolus {format_volume(command.volume_ml)} over "
            f"{command.duration_s / 60:g} min"
            + ("; basal suspended until it ends" if mode is not BolusMode.CLINICIAN else ""),
            kind=command.kind,
            volume_ml=command.volume_ml,
            duration_s=command.duration_s,
        )
        return {
            "kind": command.kind,
            "started_at_s": s.now_s,
            "ends_at_s": s.now_s + command.duration_s,
        }

    def _suspend_clinician_boluses(self, until_s: float) -> None:
        """OPCA-64: "A patient-requested bolus takes precedence over a clinician-requested
        bolus. The clinician-requested bolus shall be suspended while the patient-requested
        bolus dose is administered, and resumed afterward." The clinician bolus is split at
        now: what it delivered stays, the rest runs at the same rate from ``until_s``."""
        s = self.state
        for bolus in [b for b in s.boluses if b.kind == "clinician"]:
            s.boluses.remove(bolus)
            done_s = min(max(0.0, s.now_s - bolus.start_s), bolus.duration_s)
            done_ml = bolus.volume_ml * done_s / bolus.duration_s
            rest_s, rest_ml = bolus.duration_s - done_s, bolus.volume_ml - done_ml
            if rest_s > 0 and rest_ml > EPS_ML:
                start = max(until_s, bolus.start_s)
                s.boluses.append(BolusRun("clinician", start, rest_s, rest_ml))
            self._log(
                "bolus_suspended",
                f"clinician bolus suspended for the patient's bolus (OPCA-64): "
                f"{format_volume(done_ml)} given, {format_volume(rest_ml)} resumes at "
                f"{iso(max(until_s, bolus.start_s))}",
                kind="clinician",
                delivered_ml=done_ml,
                resumes_at_s=max(until_s, bolus.start_s),
                remaining_ml=rest_ml,
            )

    def _check_volume_left(self, volume_ml: float) -> None:
        left = self.state.remaining_ml - self.empty_level_ml
        if volume_ml > left + EPS_ML:
            raise refuse(
                "volume_ml",
                f"{format_volume(volume_ml)} is more than is left ({format_volume(left)})",
            )

    def _demand_bolus(self) -> dict[str, Json]:
        program = self.program
        if program is None or program.demand is None:
            raise refuse("demand_bolus", "the active program has no demand bolus")
        demand = program.demand
        self._require_delivery("demand_bolus")
        s = self.state
        other = [b for b in s.boluses if b.kind not in ("demand", "clinician")]
        if other:
            raise refuse(
                "demand_bolus", f"a {other[0].kind} bolus is running until {iso(other[0].end_s)}"
            )
        # OPCA-24 (lockout start to start) and OPCA-61 (maximum per rolling 24 h).
        decision = decide(demand, s.now_s, sorted(s.demand_history_s))
        if not decision.accepted:
            raise refuse("demand_bolus", decision.reason)
        self._check_volume_left(demand.volume_ml)
        s.demand_history_s = [t for t in s.demand_history_s if t > s.now_s - WINDOW_S]
        s.demand_history_s.append(s.now_s)
        s.boluses.append(BolusRun("demand", s.now_s, float(demand.duration_s), demand.volume_ml))
        self._suspend_clinician_boluses(s.now_s + float(demand.duration_s))
        self._drain(0.0, 0.0, boluses=1)
        self._check_battery()
        self._invalidate()
        self._log(
            "bolus_started",
            f"demand bolus {format_volume(demand.volume_ml)} accepted",
            kind="demand",
            volume_ml=demand.volume_ml,
            duration_s=demand.duration_s,
        )
        return {"accepted": True, "started_at_s": s.now_s, "volume_ml": demand.volume_ml}

    # stop, resume, alarms, clock --------------------------------------------------------------

    def _stop(self) -> dict[str, Json]:
        if self.state.stopped:
            raise refuse("stop", "the pump is already stopped")
        self.state.stopped = True
        self._cut_boluses("stopped by the clinician")
        return {"stopped": True}

    def _resume(self) -> dict[str, Json]:
        s = self.state
        if not s.stopped:
            raise refuse("resume", "the pump is not stopped")
        critical = [a.code.value for a in s.alarms if is_critical(a.code)]
        if critical:
            raise refuse("resume", f"clear the critical alarm first: {', '.join(critical)}")
        s.stopped = False
        self._invalidate()
        return {"stopped": False}

    def _clear_alarm(self, code: AlarmCode) -> dict[str, Json]:
        s = self.state
        alarm = s.alarm(code)
        if alarm is None:
            raise refuse("code", f"alarm {code.value} is not active")
        program = self.program
        why = None
        if code in (AlarmCode.ELECTIVE_REPLACEMENT, AlarmCode.END_OF_SERVICE):
            why = "the battery condition persists: " + KINDS[code].action
        elif code is AlarmCode.LOW_RESERVOIR and program is not None:
            why = f"{format_volume(s.remaining_ml)} left: refill above the alarm volume"
        elif code is AlarmCode.EMPTY_RESERVOIR:
            why = "the reservoir is empty: refill"
        elif code in (
            AlarmCode.MRI_MOTOR_STALL,
            AlarmCode.MRI_CHECK,
            AlarmCode.MRI_VALVE_CLOSED,
        ):
            why = mri.clear_refusal(self, code)
        elif code is AlarmCode.LOW_BATTERY_RESET:
            if "low_battery" in s.faults:
                why = "the low battery is still present"
            elif s.program_activated_at_s is None or s.program_activated_at_s < alarm.raised_at_s:
                why = "reprogram the pump first: " + KINDS[code].action
        elif code in (AlarmCode.MOTOR_STALL, AlarmCode.CATHETER_OCCLUSION):
            fault = code.value
            if fault in s.faults:
                why = f"the {fault.replace('_', ' ')} is still present"
        elif code is AlarmCode.MEMORY_ERROR and not (
            s.filled_at_s is not None
            and s.filled_at_s >= alarm.raised_at_s
            and s.program_activated_at_s is not None
            and s.program_activated_at_s >= alarm.raised_at_s
        ):
            why = "refill and reprogram the pump first: " + KINDS[code].action
        if why is not None:
            raise refuse("code", f"{code.value} cannot be cleared: {why}")
        if code is AlarmCode.MRI_VALVE_CLOSED:
            mri.reset_valve(self)
            self._clear(code, "flow-activated valve reset by the programmer")
        elif code is AlarmCode.MRI_CHECK:
            mri.confirm(self, "delivery confirmed by the programmer after the MRI")
        else:
            self._clear(code, "cleared by the programmer")
        return {"cleared": code.value}

    def _set_clock(self, pump_time_s: float) -> dict[str, Json]:
        s = self.state
        offset = round(pump_time_s - s.now_s)
        shift = offset - s.clock_offset_s
        s.clock_offset_s = offset
        self._invalidate()
        # A clock change moves the basal schedule; it is logged, never silent (design.md).
        self._log(
            "clock_set",
            f"pump clock set to {iso(s.pump_time(s.now_s))} (shift {shift:+d} s); basal steps "
            "follow the new clock; lockout and the 24 h window keep the pump's own time",
            shift_s=shift,
        )
        return {"pump_time_s": s.pump_time(s.now_s), "shift_s": shift}

    # interrogate ----------------------------------------------------------------------------

    def interrogate(self, since: int = 0) -> dict[str, Json]:
        s = self.state
        program = self.program
        plan = self._current_plan()
        events = [e for e in self.events if e.seq > since]
        shown = events[:MAX_EVENTS_PER_REPLY]
        rate = plan.rate_at(s.now_s) if plan is not None else 0.0
        return {
            "serial": s.serial,
            "device": {
                "key": self.device.key,
                "name": self.device.name,
                "reservoir_ml": self.device.reservoir_ml.value,
            },
            "clock": {
                "now_s": s.now_s,
                "now": iso(s.now_s),
                "pump_time_s": s.pump_time(s.now_s),
                "clock_offset_s": s.clock_offset_s,
            },
            "reservoir": {
                "drugs": [dataclasses.asdict(d) for d in s.drugs],
                "filled_ml": s.filled_ml,
                "filled_at_s": s.filled_at_s,
                "remaining_ml": s.remaining_ml,
                "delivered_since_fill_ml": s.delivered_since_fill_ml,
                "delivered_total_ml": s.delivered_total_ml,
                "doses_since_fill_mcg": {
                    d.name: d.concentration_mcg_per_ml * s.delivered_since_fill_ml for d in s.drugs
                },
                "low_reservoir_alarm_ml": program.low_reservoir_alarm_ml if program else None,
                "empty_level_ml": self.empty_level_ml,
            },
            "program": None
            if program is None
            else {
                "name": program.name,
                "checksum": s.program_checksum,
                "program_toml": s.program_toml,
                "activated_at_s": s.program_activated_at_s,
                "device_overrides": sorted(program.overridden),
            },
            "staged_checksum": s.staged_checksum,
            "catheter_volume_ml": s.catheter_volume_ml,
            "delivery": {
                "running": plan is not None,
                "stopped_by_clinician": s.stopped,
                "why_not": self.inhibitions(),
                "rate_ml_per_day": rate,
                "boluses": [
                    {**dataclasses.asdict(b), "end_s": b.end_s, "replaces_basal": b.replaces_basal}
                    for b in s.boluses
                ],
            },
            "demand": self._demand_status(program),
            "battery": {
                "charge_nominal_days": s.battery_charge_days,
                "eri_at_s": _finite(s.battery_eri_at_s),
                "eos_at_s": _finite(s.battery_eos_at_s),
                "prediction_basis": "the running program and boluses at the modelled drain",
                "assumption": assumption(self.device),
            },
            "alarms": [
                {
                    "code": a.code.value,
                    "priority": KINDS[a.code].priority.value,
                    "title": KINDS[a.code].title,
                    "raised_at_s": a.raised_at_s,
                    "detail": a.detail,
                    "action": KINDS[a.code].action,
                }
                for a in s.alarms
            ],
            "faults": list(s.faults),
            "predictions": mri.predictions(self) or self._predictions(plan, program),
            "mri": mri.status(self),
            "events": [e.to_json() for e in shown],
            "last_event_seq": s.event_count,
            "more_events": len(events) > len(shown),
        }

    def _demand_status(self, program: Program | None) -> dict[str, Json] | None:
        if program is None or program.demand is None:
            return None
        demand, s = program.demand, self.state
        history = sorted(s.demand_history_s)
        candidates = sorted(
            {s.now_s, *(t + demand.lockout_s for t in history), *(t + WINDOW_S for t in history)}
        )
        next_allowed = next(
            (t for t in candidates if t >= s.now_s and decide(demand, t, history).accepted), None
        )
        return {
            "volume_ml": demand.volume_ml,
            "duration_s": demand.duration_s,
            "lockout_s": demand.lockout_s,
            "max_per_24h": demand.max_per_24h,
            "accepted_in_last_24h": sum(1 for t in history if t > s.now_s - WINDOW_S),
            "history_s": history,
            "next_allowed_at_s": next_allowed,
        }

    def _predictions(self, plan: Delivery | None, program: Program | None) -> dict[str, Json]:
        s = self.state
        low = empty = None
        if plan is not None and program is not None:
            if s.remaining_ml > program.low_reservoir_alarm_ml:
                low = plan.time_at_volume(s.now_s, s.remaining_ml - program.low_reservoir_alarm_ml)
            empty = plan.time_at_volume(s.now_s, max(0.0, s.remaining_ml - self.empty_level_ml))
        return {
            "low_reservoir_alarm_at_s": low,
            "empty_at_s": empty,
            "basis": "the running program and boluses, without future demand boluses",
        }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
