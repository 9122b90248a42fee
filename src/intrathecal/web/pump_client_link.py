"""The refill wizard's link to virtual pumps over telemetry (``intrathecal.pump.client``).

One pump server (``itp pump serve``) holds every pump; the link addresses a pump by the
implant's serial. A new client (one connection) is opened for each wizard request and closed
after it, so web workers never share a connection or its sequence numbers.

Configured from the environment by :func:`links_from_env`: ``ITP_PUMP_PORT`` turns the link
on, ``ITP_PUMP_HOST`` (default 127.0.0.1) and ``ITP_PUMP_TIMEOUT_S`` (default 3) tune it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from intrathecal.pump.client import (
    PumpClient,
    PumpError,
    PumpRefusedError,
    PumpUnavailableError,
)
from intrathecal.pump.firmware import MAX_EVENTS_PER_REPLY
from intrathecal.pump.server import DEFAULT_HOST
from intrathecal.web.pump_link import (
    AlarmSweep,
    BolusStarted,
    Interrogation,
    ProgramReadBack,
    PumpAlarm,
    PumpEvent,
    PumpLink,
    PumpLinkError,
    PumpLinks,
    RefillReadBack,
    TypedLinks,
    request_id,
)

T = TypeVar("T")
EVENTS_SHOWN = 8
VIA = "virtual pump"
REQUESTS_PER_SEND = 6  # stage, refill, two read-backs, a bridge bolus, and one to spare
LOG_PAGES = 1000  # at most this many interrogations to read a log (a million events)


class NamingClient(PumpClient):
    """A client that sends chosen request types under ids the journal named beforehand.

    ``PumpClient`` draws a fresh id per request; a journalled refill must be findable in the
    pump's log after a crash, so its id is written in the journal before it is sent. The retry
    loop is ``PumpClient.request``'s, with the given id (the pump replays a retried id).
    """

    def __init__(self, *args: Any, names: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.names = dict(names)

    def request_id_for(self, request_type: str) -> str:
        return self.names.get(request_type) or super().request_id_for(request_type)


class ClientLinks:
    """Links to the pumps of one server at ``host:port``."""

    def __init__(self, host: str, port: int, timeout_s: float = 3.0, retries: int = 2) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.retries = retries

    def link(self, serial: str) -> PumpLink | None:
        return ClientLink(self, serial)

    def alarms(self, serials: list[str]) -> AlarmSweep | None:
        """One connection, one interrogation (without events) per pump the server holds."""
        found: dict[str, tuple[PumpAlarm, ...]] = {}
        if not serials:
            return AlarmSweep(found)
        try:
            with PumpClient(self.host, self.port, None, self.timeout_s, self.retries) as client:
                served = set(client.list_pumps())
                for serial in serials:
                    if serial not in served:
                        continue
                    # The serial goes as a field so every pump is asked on one connection.
                    reply = client.request("interrogate", to_pump=False, serial=serial, since=2**62)
                    if reply.get("ok") is True:
                        found[serial] = _alarms(reply["result"])
        except PumpError as exc:
            return AlarmSweep(found, f"the pump server at {self.host}:{self.port}: {_reasons(exc)}")
        return AlarmSweep(found)


class ClientLink:
    via = VIA

    def __init__(self, links: ClientLinks, serial: str) -> None:
        self.links = links
        self.serial = serial
        self.where = f"pump {serial} at {links.host}:{links.port}"
        # Each request waits at most the timeout per try (connect, then the reply).
        per_request = 2 * links.timeout_s * (links.retries + 1)
        self.in_flight_s = REQUESTS_PER_SEND * per_request + 60.0

    def _talk(
        self,
        action: Callable[[PumpClient], T],
        what: str,
        names: Mapping[str, str] | None = None,
    ) -> T:
        links = self.links
        client = NamingClient(
            links.host, links.port, self.serial, links.timeout_s, links.retries, names=names or {}
        )
        try:
            with client:
                return action(client)
        except PumpUnavailableError:
            raise PumpLinkError(
                f"no answer from {self.where} to the {what}", answered=False
            ) from None
        except PumpRefusedError as exc:
            raise PumpLinkError(
                f"{self.where} refused the {what}: {_reasons(exc)}", answered=True
            ) from None
        except PumpError as exc:
            if exc.code == "unknown_pump":
                message = f"the pump server at {links.host}:{links.port} has no pump {self.serial}"
            else:
                message = f"{self.where} answered the {what} with an error: {_reasons(exc)}"
            raise PumpLinkError(message, answered=True) from None

    def interrogate(self) -> Interrogation:
        return self._talk(_interrogation, "interrogation")

    def refill(
        self,
        volume_ml: float,
        drugs: list[tuple[str, float]],
        program_toml: str,
        withdrawn_ml: float | None,
        journal: str | None = None,
    ) -> RefillReadBack:
        def action(client: PumpClient) -> RefillReadBack:
            # The client stages the program, compares the pump's checksum with its own and
            # only then sends the refill naming that checksum.
            answer = client.refill(volume_ml, drugs, program_toml, withdrawn_ml)
            state = client.interrogate(since=_latest_seq(client))
            return _read_back(answer, state)

        names = _names(journal, stage_program="stage", refill="refill")
        return self._talk(action, "refill", names)

    def program(self, program_toml: str, journal: str | None = None) -> ProgramReadBack:
        def action(client: PumpClient) -> ProgramReadBack:
            checksum = client.program(program_toml)  # stage, compare the read-back, activate
            state = client.interrogate(since=_latest_seq(client))
            program = state["program"] or {}
            return ProgramReadBack(
                activated_at_s=float(program.get("activated_at_s") or state["clock"]["now_s"]),
                checksum=str(program.get("checksum") or checksum),
                program_toml=str(program.get("program_toml") or ""),
            )

        names = _names(journal, stage_program="stage", activate_program="activate")
        return self._talk(action, "program", names)

    def bolus(
        self, kind: str, volume_ml: float, duration_s: float, journal: str | None = None
    ) -> BolusStarted:
        def action(client: PumpClient) -> BolusStarted:
            answer = client.bolus(kind, volume_ml, duration_s)
            return BolusStarted(
                kind,
                volume_ml,
                float(answer["started_at_s"]),
                float(answer["ends_at_s"]),
            )

        return self._talk(action, f"{kind} bolus", _names(journal, bolus=kind))

    def log(self, since_seq: int) -> tuple[PumpEvent, ...]:
        def action(client: PumpClient) -> tuple[PumpEvent, ...]:
            found: list[PumpEvent] = []
            since = since_seq
            for _ in range(LOG_PAGES):
                state = client.interrogate(since=since)
                events = state["events"]
                found.extend(_event(e) for e in events)
                if not state.get("more_events") or len(events) < MAX_EVENTS_PER_REPLY:
                    return tuple(found)
                since = int(events[-1]["seq"])
            raise PumpError(
                "log_too_long",
                [{"field": "events", "message": f"more than {LOG_PAGES} pages after {since_seq}"}],
                None,
            )

        return self._talk(action, "reading of its log")

    def reply(self, request_id: str) -> dict[str, Any] | None:
        def action(client: PumpClient) -> dict[str, Any] | None:
            stored = client.result(request_id)
            reply = stored.get("reply")
            return reply if stored.get("found") and isinstance(reply, dict) else None

        return self._talk(action, "question about an earlier request")


def _names(journal: str | None, **steps: str) -> dict[str, str]:
    """Request type -> the id the journal named for it (none without a journal)."""
    if journal is None:
        return {}
    return {kind: request_id(journal, step) for kind, step in steps.items()}


def _event(raw: Mapping[str, Any]) -> PumpEvent:
    data = raw.get("data")
    return PumpEvent(
        int(raw["seq"]),
        float(raw["at_s"]),
        str(raw["kind"]),
        str(raw["message"]),
        dict(data) if isinstance(data, dict) else {},
    )


def _reasons(exc: PumpError) -> str:
    return "; ".join(f"{e.get('field')}: {e.get('message')}" for e in exc.errors) or exc.code


def _latest_seq(client: PumpClient) -> int:
    """An event number that leaves only the newest events in the next interrogation."""
    head = client.interrogate(since=2**62)
    return max(int(head["last_event_seq"]) - 1000, 0)


def _drugs(reservoir: Mapping[str, Any]) -> tuple[tuple[str, float], ...]:
    return tuple((str(d["name"]), float(d["concentration_mcg_per_ml"])) for d in reservoir["drugs"])


def _optional(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _alarms(state: Mapping[str, Any]) -> tuple[PumpAlarm, ...]:
    return tuple(
        PumpAlarm(
            str(a["code"]),
            str(a["priority"]),
            str(a["title"]),
            float(a["raised_at_s"]),
            str(a["detail"]),
            str(a["action"]),
        )
        for a in state["alarms"]
    )


def _interrogation(client: PumpClient) -> Interrogation:
    state = client.interrogate(since=_latest_seq(client))
    reservoir, program = state["reservoir"], state["program"] or {}
    filled_at = _optional(reservoir["filled_at_s"])
    events = state["events"]
    notes = []
    demand: int | None = None
    if filled_at is not None:
        demand = sum(
            1
            for e in events
            if e["kind"] == "bolus_started"
            and e["data"].get("kind") == "demand"
            and e["at_s"] >= filled_at
        )
        if events and events[0]["at_s"] > filled_at and events[0]["seq"] > 1:
            notes.append(
                "the pump's log since the fill is longer than one interrogation reads: the "
                "demand-bolus count is a lower bound; read the pump's log"
            )
    offset = float(state["clock"]["clock_offset_s"])
    if offset:
        notes.append(
            f"the pump's wall clock was set {offset:+.0f} s from true time: its basal schedule "
            "follows that clock"
        )
    delivery, predictions = state["delivery"], state["predictions"]
    return Interrogation(
        serial=str(state["serial"]),
        reservoir_ml=float(reservoir["remaining_ml"]),
        alarms=_alarms(state),
        program_toml=str(program.get("program_toml") or ""),
        pump_time_s=float(state["clock"]["now_s"]),
        notes=tuple(notes),
        checksum=str(program.get("checksum") or ""),
        program_name=str(program.get("name") or ""),
        device_key=str(state["device"]["key"]),
        drugs=_drugs(reservoir),
        filled_ml=_optional(reservoir["filled_ml"]),
        filled_at_s=filled_at,
        delivered_since_fill_ml=float(reservoir["delivered_since_fill_ml"]),
        demand_boluses_since_fill=demand,
        delivering=bool(delivery["running"]),
        why_not=tuple(str(w) for w in delivery["why_not"]),
        rate_ml_per_day=float(delivery["rate_ml_per_day"]),
        low_alarm_at_s=_optional(predictions["low_reservoir_alarm_at_s"]),
        empty_at_s=_optional(predictions["empty_at_s"]),
        events=tuple(_event(e) for e in events[-EVENTS_SHOWN:]),
    )


def _read_back(answer: Mapping[str, Any], state: Mapping[str, Any]) -> RefillReadBack:
    program, reservoir = state["program"] or {}, state["reservoir"]
    rec = answer.get("reconciliation") or {}
    return RefillReadBack(
        filled_ml=float(answer["filled_ml"]),
        filled_at_s=float(answer["filled_at_s"]),
        checksum=str(program.get("checksum") or ""),
        program_toml=str(program.get("program_toml") or ""),
        reservoir_ml=float(reservoir["remaining_ml"]),
        drugs=_drugs(reservoir),
        pump_expected_ml=_optional(rec.get("expected_ml")),
        pump_discrepancy_ml=_optional(rec.get("discrepancy_ml")),
        pump_investigate=bool(rec["investigate"]) if rec else None,
    )


def links_from_env(environ: Mapping[str, str] | None = None) -> PumpLinks:
    """``ClientLinks`` when ``ITP_PUMP_PORT`` is set, else typed-in values (``TypedLinks``).

    A malformed value is refused with the variable's name rather than silently ignored.
    """
    env = os.environ if environ is None else environ
    port_text = env.get("ITP_PUMP_PORT", "").strip()
    if not port_text:
        return TypedLinks()
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"ITP_PUMP_PORT: expected a port number, got {port_text!r}") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"ITP_PUMP_PORT: must be from 1 to 65535, got {port}")
    host = env.get("ITP_PUMP_HOST", "").strip() or DEFAULT_HOST
    timeout_text = env.get("ITP_PUMP_TIMEOUT_S", "").strip() or "3"
    try:
        timeout_s = float(timeout_text)
    except ValueError:
        raise ValueError(f"ITP_PUMP_TIMEOUT_S: expected seconds, got {timeout_text!r}") from None
    if not 0 < timeout_s <= 60:
        raise ValueError(f"ITP_PUMP_TIMEOUT_S: must be above 0 s and at most 60 s, got {timeout_s}")
    return ClientLinks(host, port, timeout_s)
