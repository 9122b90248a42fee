"""What the pump firmware remembers, as plain records, and their JSON form for storage.

Times are the pump's own monotonic time (seconds since 1970 UTC, as the injectable clock gives
it). The pump's wall clock is that time plus ``clock_offset_s`` (set by ``set_clock``); the
program's basal steps follow the wall clock, while lockout, the rolling 24 h window and every
logged instant use the monotonic time, so setting the clock can neither shorten a lockout nor
hide a bolus from the window.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from intrathecal.pump.alarms import AlarmCode

STATE_FORMAT = 1
REPLY_CACHE_SIZE = 64

Json = Any  # a JSON value (dict, list, str, number, bool or None)


@dataclass
class DrugLabel:
    """A drug in the reservoir, as labelled at the refill."""

    name: str
    concentration_mcg_per_ml: float


@dataclass
class BolusRun:
    """A one-off bolus under way: ``volume_ml`` spread evenly over [start_s, start_s + duration_s).

    Bridge and priming boluses replace the basal rate while they run; clinician and demand
    boluses add to it.
    """

    kind: str  # "demand", "clinician", "bridge" or "priming"
    start_s: float
    duration_s: float
    volume_ml: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    @property
    def replaces_basal(self) -> bool:
        return self.kind in ("bridge", "priming")

    @property
    def rate_ml_per_day(self) -> float:
        return self.volume_ml * 86_400.0 / self.duration_s


@dataclass
class ActiveAlarm:
    code: AlarmCode
    raised_at_s: float
    detail: str


@dataclass
class Event:
    seq: int
    at_s: float
    kind: str
    message: str
    data: dict[str, Json] = field(default_factory=dict)

    def to_json(self) -> dict[str, Json]:
        return {
            "seq": self.seq,
            "at_s": self.at_s,
            "kind": self.kind,
            "message": self.message,
            "data": self.data,
        }

    @staticmethod
    def from_json(raw: dict[str, Json]) -> Event:
        return Event(
            seq=int(raw["seq"]),
            at_s=float(raw["at_s"]),
            kind=str(raw["kind"]),
            message=str(raw["message"]),
            data=dict(raw.get("data", {})),
        )


@dataclass
class PumpState:
    serial: str
    device_key: str
    now_s: float
    clock_offset_s: int = 0
    battery_eri_at_s: float = math.inf
    battery_eos_at_s: float = math.inf
    # Nominal days of charge left (pump/battery.py); None in a state saved before issue 12.
    battery_charge_days: float | None = None
    # Reservoir: what was put in at the last refill and what has left it since.
    drugs: list[DrugLabel] = field(default_factory=list)
    filled_ml: float = 0.0
    filled_at_s: float | None = None
    remaining_ml: float = 0.0
    delivered_since_fill_ml: float = 0.0
    delivered_total_ml: float = 0.0
    # Programs as canonical program TOML text, with their SHA-256 checksum.
    program_toml: str | None = None
    program_checksum: str | None = None
    program_activated_at_s: float | None = None
    staged_toml: str | None = None
    staged_checksum: str | None = None
    catheter_volume_ml: float | None = None
    stopped: bool = False  # stopped by the clinician
    boluses: list[BolusRun] = field(default_factory=list)
    demand_history_s: list[float] = field(default_factory=list)  # accepted demand starts
    alarms: list[ActiveAlarm] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    event_count: int = 0
    # An MRI exposure: when it began and when the patient leaves the field (None: no MRI).
    mri_started_at_s: float | None = None
    mri_until_s: float | None = None
    # SynchroMed II entered the field while sounding an alarm: no infusion after the scan
    # until it is interrogated (TGA hazard alert).
    mri_telemetry_hold: bool = False
    # Replies to recent mutating requests by request id: a retry is answered from here.
    replies: dict[str, dict[str, Json]] = field(default_factory=dict)
    # The digest of each cached reply's request: a reused id with another body is refused.
    reply_digests: dict[str, str] = field(default_factory=dict)
    # Request ids applied before a memory error (from the log), whose replies are lost.
    spent_request_ids: dict[str, str] = field(default_factory=dict)

    def alarm(self, code: AlarmCode) -> ActiveAlarm | None:
        return next((a for a in self.alarms if a.code is code), None)

    def pump_time(self, t: float) -> float:
        return t + self.clock_offset_s

    def remember_reply(self, request_id: str, reply: dict[str, Json], digest: str = "") -> None:
        self.replies[request_id] = reply
        self.reply_digests[request_id] = digest
        while len(self.replies) > REPLY_CACHE_SIZE:
            oldest = next(iter(self.replies))
            del self.replies[oldest]
            self.reply_digests.pop(oldest, None)


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def state_to_json(state: PumpState) -> dict[str, Json]:
    raw = asdict(state)
    raw["battery_eri_at_s"] = _finite_or_none(state.battery_eri_at_s)
    raw["battery_eos_at_s"] = _finite_or_none(state.battery_eos_at_s)
    raw["alarms"] = [
        {"code": a.code.value, "raised_at_s": a.raised_at_s, "detail": a.detail}
        for a in state.alarms
    ]
    return raw


def state_from_json(raw: dict[str, Json]) -> PumpState:
    """Rebuild a state; raises KeyError, TypeError or ValueError on anything malformed."""
    data = dict(raw)
    for key in ("battery_eri_at_s", "battery_eos_at_s"):
        data[key] = math.inf if data[key] is None else float(data[key])
    data["drugs"] = [DrugLabel(**d) for d in data["drugs"]]
    data["boluses"] = [BolusRun(**b) for b in data["boluses"]]
    data["alarms"] = [
        ActiveAlarm(AlarmCode(a["code"]), float(a["raised_at_s"]), str(a["detail"]))
        for a in data["alarms"]
    ]
    data["demand_history_s"] = [float(t) for t in data["demand_history_s"]]
    data["faults"] = [str(f) for f in data["faults"]]
    return PumpState(**data)


def canonical_json(value: Json) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def digest(value: Json) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
