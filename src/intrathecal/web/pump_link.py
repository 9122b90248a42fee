"""How the refill wizard talks to a pump: a small protocol with two implementations.

``TypedLinks``: the clinician reads the pump's own programmer and types the values in; nothing
is sent anywhere. ``ClientLinks`` (``web/pump_client_link.py``): the virtual pump's telemetry
client, found by the implant's serial on one pump server (``ITP_PUMP_HOST``/``ITP_PUMP_PORT``).

Times are seconds since 1970 UTC, volumes mL, concentrations mcg/mL (the names say so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class PumpAlarm:
    code: str
    priority: str  # "critical" or "non-critical"
    title: str
    raised_at_s: float
    detail: str
    action: str


@dataclass(frozen=True)
class PumpEvent:
    seq: int
    at_s: float
    kind: str
    message: str
    data: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def request_id(token: str, step: str) -> str:
    """The id a journalled request carries ("stage", "refill", "activate", "bridge"), so the
    pump's event log can be searched for it after a crash (see store/pump_journal.py)."""
    return f"{token}.{step}"


@dataclass(frozen=True)
class Interrogation:
    """What the pump reports about itself, read at ``pump_time_s`` (the pump's clock)."""

    serial: str
    reservoir_ml: float | None  # what the pump counts is left; None if not reported
    alarms: tuple[PumpAlarm, ...] = ()
    program_toml: str = ""  # the active program as the pump holds it (canonical text)
    pump_time_s: float | None = None
    notes: tuple[str, ...] = ()
    checksum: str = ""  # SHA-256 of the active program's canonical text
    program_name: str = ""
    device_key: str = ""
    drugs: tuple[tuple[str, float], ...] = ()  # (drug, mcg/mL) labelled in the reservoir
    filled_ml: float | None = None
    filled_at_s: float | None = None
    delivered_since_fill_ml: float | None = None
    demand_boluses_since_fill: int | None = None  # from the pump's log
    delivering: bool = False
    why_not: tuple[str, ...] = ()  # why nothing is delivered, when it is not
    rate_ml_per_day: float = 0.0
    low_alarm_at_s: float | None = None  # predicted, without future demand boluses
    empty_at_s: float | None = None
    events: tuple[PumpEvent, ...] = ()  # the latest few, oldest first


@dataclass(frozen=True)
class RefillReadBack:
    """The pump's answer to a refill, and what it reads back afterwards."""

    filled_ml: float
    filled_at_s: float  # the pump's clock at the fill: the refill's time
    checksum: str  # of the program active after the refill, read back
    program_toml: str  # that program's canonical text, read back
    reservoir_ml: float  # what the pump counts is in the reservoir after the fill
    drugs: tuple[tuple[str, float], ...]
    # The pump's own reconciliation of the old fill (None on a first fill or no withdrawn volume).
    pump_expected_ml: float | None = None
    pump_discrepancy_ml: float | None = None
    pump_investigate: bool | None = None


@dataclass(frozen=True)
class ProgramReadBack:
    """The pump's answer to a program applied outside a refill, and what it reads back."""

    activated_at_s: float  # the pump's clock at activation
    checksum: str
    program_toml: str


@dataclass(frozen=True)
class BolusStarted:
    kind: str
    volume_ml: float
    started_at_s: float
    ends_at_s: float


class PumpLinkError(Exception):
    """The pump did not do what was asked. ``answered``: False when no answer came at all (the
    command may or may not have reached the pump), True when it answered with a refusal or an
    error (nothing was changed by that command)."""

    def __init__(self, message: str, *, answered: bool) -> None:
        super().__init__(message)
        self.message = message
        self.answered = answered


class PumpLink(Protocol):
    via: str  # recorded on the refill and the program application (at most 20 characters)
    where: str  # for messages, e.g. "pump NGP000012 at 127.0.0.1:7474"
    serial: str
    # The longest a journalled send can take before it has surely ended (every request's
    # timeouts and retries): recovery leaves younger journal entries alone, still in flight.
    in_flight_s: float

    def interrogate(self) -> Interrogation: ...

    def refill(
        self,
        volume_ml: float,
        drugs: list[tuple[str, float]],
        program_toml: str,
        withdrawn_ml: float | None,
        journal: str | None = None,
    ) -> RefillReadBack:
        """Fill the reservoir and activate ``program_toml`` with the fill (staged, its checksum
        read back and compared, then activated); return what the pump reads back. ``journal``:
        the journal token that names the requests (:func:`request_id`)."""
        ...

    def program(self, program_toml: str, journal: str | None = None) -> ProgramReadBack:
        """Stage ``program_toml``, compare the checksum read back, activate it; read back."""
        ...

    def bolus(
        self, kind: str, volume_ml: float, duration_s: float, journal: str | None = None
    ) -> BolusStarted: ...

    def log(self, since_seq: int) -> tuple[PumpEvent, ...]:
        """Every event of the pump's log after ``since_seq``, oldest first, with its data."""
        ...

    def reply(self, request_id: str) -> dict[str, Any] | None:
        """The pump's stored reply to an earlier request (``None`` if it no longer holds it)."""
        ...


@dataclass(frozen=True)
class AlarmSweep:
    """The alarms standing on many pumps, read one after another (for the dashboard)."""

    alarms: dict[str, tuple[PumpAlarm, ...]]  # by serial, for every pump that answered
    problem: str = ""  # why some or all could not be read


class PumpLinks(Protocol):
    """Finds the link to a patient's pump by serial; ``None`` when there is no pump link."""

    def link(self, serial: str) -> PumpLink | None: ...

    def alarms(self, serials: list[str]) -> AlarmSweep | None:
        """The alarms on these pumps now; ``None`` when there is no pump link."""
        ...


class TypedLinks:
    def link(self, serial: str) -> PumpLink | None:
        return None

    def alarms(self, serials: list[str]) -> AlarmSweep | None:
        return None
