"""Requests to a pump: typed commands, and their strict reading from a JSON object.

Every field is checked (type, range, unit in the key name); unknown keys are refused, so a
typo never passes silently. A request that fails here is answered ``bad_request`` and changes
nothing, not even the event log.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from intrathecal.pump.alarms import FAULT_ALARMS, AlarmCode, parse_code
from intrathecal.units import InputError

MAX_PROGRAM_CHARS = 65_536
MAX_DRUGS = 8
BOLUS_KINDS = ("clinician", "bridge", "priming")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
SERIAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
CHECKSUM = re.compile(r"^[0-9a-f]{64}$")
# Instants the pump accepts: 1970 to 2200, seconds since 1970 UTC.
LATEST_INSTANT_S = 7_258_118_400.0


@dataclass(frozen=True)
class Interrogate:
    since: int = 0


@dataclass(frozen=True)
class StageProgram:
    program_toml: str


@dataclass(frozen=True)
class ActivateProgram:
    checksum: str


@dataclass(frozen=True)
class Drug:
    name: str
    concentration_mcg_per_ml: float


@dataclass(frozen=True)
class Refill:
    volume_ml: float
    drugs: tuple[Drug, ...] | None = None  # None: the same drugs as before
    program_checksum: str | None = None  # a staged program to activate with the refill
    withdrawn_ml: float | None = None  # residual withdrawn, for the reconciliation


@dataclass(frozen=True)
class Bolus:
    kind: str  # one of BOLUS_KINDS
    volume_ml: float
    duration_s: float


@dataclass(frozen=True)
class DemandBolus:
    pass


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class ClearAlarm:
    code: AlarmCode


@dataclass(frozen=True)
class AlarmTest:
    pass


@dataclass(frozen=True)
class SetClock:
    pump_time_s: float


@dataclass(frozen=True)
class InjectFault:
    fault: str


@dataclass(frozen=True)
class ClearFault:
    fault: str


@dataclass(frozen=True)
class MriExposure:
    """The patient is in an MRI scanner's field from now for ``duration_s`` (a scenario
    fault: what the device does in the field is clinical/mri.py's)."""

    duration_s: float
    field_t: float = 1.5


@dataclass(frozen=True)
class Result:
    """What became of an earlier request (its cached reply), for a client whose reply was lost."""

    request_id: str


Command = (
    Interrogate
    | StageProgram
    | ActivateProgram
    | Refill
    | Bolus
    | DemandBolus
    | Stop
    | Resume
    | ClearAlarm
    | AlarmTest
    | SetClock
    | InjectFault
    | ClearFault
    | MriExposure
    | Result
)

# Commands that never change the pump: answered afresh on a retry, never cached.
READ_ONLY = (Interrogate, Result)


@dataclass(frozen=True)
class Request:
    request_id: str
    serial: str | None
    type: str
    command: Command | None  # None for server-level requests
    fields: dict[str, Any]  # the validated fields (server-level requests read them)

    @property
    def digest(self) -> str:
        """What the request asks, without its id: a retry must ask the same thing."""
        body = command_body(self.command) if self.command is not None else self.fields
        return _sha256({"type": self.type, "serial": self.serial, "body": body})


def command_body(command: Command) -> dict[str, Any]:
    return {"command": type(command).__name__, **dataclasses.asdict(command)}


def command_digest(command: Command) -> str:
    """SHA-256 of a command's content: a reused request id must carry the same content."""
    return _sha256(command_body(command))


def _sha256(value: object) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Fields:
    """Reads the fields of one request, recording which were used; unknown keys are refused."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.used: set[str] = {"type", "request_id", "serial"}

    def get(self, key: str) -> Any:
        self.used.add(key)
        return self.raw.get(key)

    def finish(self) -> None:
        unknown = sorted(set(self.raw) - self.used)
        if unknown:
            raise InputError(unknown[0], "is not a field of this request")

    def string(self, key: str, *, max_chars: int = 256, optional: bool = False) -> str | None:
        value = self.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise InputError(key, f"expected text, got {_shown(value)}")
        if len(value) > max_chars:
            raise InputError(key, f"is longer than {max_chars} characters")
        return value

    def number(
        self,
        key: str,
        unit: str,
        *,
        minimum: float = 0.0,
        strict: bool = True,
        optional: bool = False,
    ) -> float | None:
        value = self.get(key)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(key, f"expected a number of {unit}, got {_shown(value)}")
        try:
            number = float(value)
        except OverflowError:  # an integer of hundreds of digits
            raise InputError(key, f"must be a finite number of {unit}") from None
        if not math.isfinite(number):
            raise InputError(key, f"must be a finite number of {unit}")
        if number < minimum or (strict and number == minimum):
            relation = "greater than" if strict else "at least"
            raise InputError(key, f"must be {relation} {minimum:g} {unit}, got {number:g}")
        return number


def _shown(value: object) -> str:
    if isinstance(value, list | dict):  # never repr a deep structure (RecursionError)
        return f"a JSON {'list' if isinstance(value, list) else 'object'}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
        return "an integer too large"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _required_string(fields: Fields, key: str, **kwargs: Any) -> str:
    value = fields.string(key, **kwargs)
    assert value is not None
    return value


def _required_number(fields: Fields, key: str, unit: str, **kwargs: Any) -> float:
    value = fields.number(key, unit, **kwargs)
    assert value is not None
    return value


def _checksum(fields: Fields, key: str, *, optional: bool = False) -> str | None:
    value = fields.string(key, max_chars=64, optional=optional)
    if value is not None and not CHECKSUM.match(value):
        raise InputError(key, "expected a SHA-256 checksum: 64 lower-case hexadecimal digits")
    return value


def _drugs(fields: Fields) -> tuple[Drug, ...] | None:
    value = fields.get("drugs")
    if value is None:
        return None
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_DRUGS:
        raise InputError("drugs", f"expected a list of 1 to {MAX_DRUGS} drugs")
    drugs = []
    for index, entry in enumerate(value):
        where = f"drugs[{index}]"
        if not isinstance(entry, dict):
            raise InputError(where, "expected {name, concentration_mcg_per_ml}")
        inner = Fields(entry)
        inner.used = set()
        name = _required_string(inner, "name", max_chars=64)
        conc = _required_number(inner, "concentration_mcg_per_ml", "mcg/mL")
        try:
            inner.finish()
        except InputError as error:
            raise InputError(f"{where}.{error.field}", error.message) from None
        drugs.append(Drug(name, conc))
    return tuple(drugs)


def _fault(fields: Fields) -> str:
    fault = _required_string(fields, "fault", max_chars=64)
    if fault not in FAULT_ALARMS:
        raise InputError("fault", f"unknown fault {fault!r}; known: {', '.join(FAULT_ALARMS)}")
    return fault


def _alarm(fields: Fields) -> AlarmCode:
    text = _required_string(fields, "code", max_chars=64)
    code = parse_code(text)
    if code is None:
        known = ", ".join(c.value for c in AlarmCode)
        raise InputError("code", f"unknown alarm {text!r}; known: {known}")
    return code


def _bolus(fields: Fields) -> Bolus:
    kind = _required_string(fields, "kind", max_chars=32)
    if kind not in BOLUS_KINDS:
        raise InputError(
            "kind",
            f"unknown bolus kind {kind!r}; known: {', '.join(BOLUS_KINDS)} "
            "(a patient's bolus is the demand_bolus request)",
        )
    return Bolus(
        kind,
        _required_number(fields, "volume_ml", "mL"),
        _required_number(fields, "duration_s", "s"),
    )


def _set_clock(fields: Fields) -> SetClock:
    value = _required_number(fields, "pump_time_s", "s since 1970 UTC", strict=False)
    if value > LATEST_INSTANT_S:
        raise InputError("pump_time_s", "is after the year 2200")
    return SetClock(value)


def _interrogate(fields: Fields) -> Interrogate:
    since = fields.get("since")
    if since is None:
        return Interrogate(0)
    if isinstance(since, bool) or not isinstance(since, int) or not 0 <= since < 2**63:
        raise InputError("since", f"expected an event number (0 or more), got {_shown(since)}")
    return Interrogate(since)


MAX_MRI_S = 12 * 3600.0


def _mri(fields: Fields) -> MriExposure:
    duration = _required_number(fields, "duration_s", "s")
    if not 60 <= duration <= MAX_MRI_S:
        raise InputError("duration_s", "must be from 60 s to 12 h (43200 s)")
    field_t = fields.number("field_t", "T", optional=True)
    if field_t is not None and field_t not in (1.5, 3.0):
        raise InputError("field_t", f"must be 1.5 or 3 T, got {field_t:g}")
    return MriExposure(duration, 1.5 if field_t is None else field_t)


def _result(fields: Fields) -> Result:
    request_id = _required_string(fields, "of_request_id", max_chars=64)
    if not REQUEST_ID.match(request_id):
        raise InputError("of_request_id", "is not a valid request id")
    return Result(request_id)


PUMP_COMMANDS: dict[str, Callable[[Fields], Command]] = {
    "interrogate": _interrogate,
    "stage_program": lambda f: StageProgram(
        _required_string(f, "program_toml", max_chars=MAX_PROGRAM_CHARS)
    ),
    "activate_program": lambda f: ActivateProgram(_checksum(f, "checksum") or ""),
    "refill": lambda f: Refill(
        _required_number(f, "volume_ml", "mL"),
        _drugs(f),
        _checksum(f, "program_checksum", optional=True),
        f.number("withdrawn_ml", "mL", strict=False, optional=True),
    ),
    "bolus": _bolus,
    "demand_bolus": lambda f: DemandBolus(),
    "stop": lambda f: Stop(),
    "resume": lambda f: Resume(),
    "clear_alarm": lambda f: ClearAlarm(_alarm(f)),
    "alarm_test": lambda f: AlarmTest(),
    "set_clock": _set_clock,
    "inject_fault": lambda f: InjectFault(_fault(f)),
    "clear_fault": lambda f: ClearFault(_fault(f)),
    "mri_exposure": _mri,
    "result": _result,
}


def _advance(fields: Fields) -> dict[str, Any]:
    seconds = _required_number(fields, "seconds", "s")
    if seconds > 100 * 366 * 86_400:
        raise InputError("seconds", "is more than 100 years")
    return {"seconds": seconds}


# Requests to the server itself, not to one pump.
SERVER_REQUESTS: dict[str, Callable[[Fields], dict[str, Any]]] = {
    "list_pumps": lambda f: {},
    "advance": _advance,
    "clock": lambda f: {},
}


def read_request(raw: object) -> Request:
    """Validate a decoded JSON payload. Raises :class:`InputError` naming the field."""
    if not isinstance(raw, dict):
        raise InputError("payload", "expected a JSON object")
    fields = Fields(raw)
    request_id = fields.string("request_id", max_chars=64)
    assert request_id is not None
    if not REQUEST_ID.match(request_id):
        raise InputError("request_id", "expected 1 to 64 characters of A-Z a-z 0-9 . _ : -")
    kind = fields.string("type", max_chars=32)
    assert kind is not None
    if kind in SERVER_REQUESTS:
        if raw.get("serial") is not None:
            raise InputError("serial", f"a {kind} request is for the server, not one pump")
        server_fields = SERVER_REQUESTS[kind](fields)
        fields.finish()
        return Request(request_id, None, kind, None, server_fields)
    if kind not in PUMP_COMMANDS:
        known = ", ".join([*PUMP_COMMANDS, *SERVER_REQUESTS])
        raise InputError("type", f"unknown request type {kind!r}; known: {known}")
    serial = fields.string("serial", max_chars=64)
    assert serial is not None
    if not SERIAL.match(serial):
        raise InputError("serial", "expected 1 to 64 characters of A-Z a-z 0-9 . _ -")
    command = PUMP_COMMANDS[kind](fields)
    fields.finish()
    return Request(request_id, serial, kind, command, {})
