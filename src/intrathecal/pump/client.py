"""Programmer client of the virtual pump: a blocking Python API over the telemetry protocol.

Quick use (a server from ``itp pump serve --state DIR`` or ``serve_in_background``)::

    from intrathecal.pump.client import PumpClient, PumpRefusedError
    from intrathecal.pump.server import serve_in_background

    with serve_in_background(state_dir, speed=0) as running:       # tests: frozen clock
        with PumpClient("127.0.0.1", running.port, "S1", timeout_s=5) as pump:
            pump.refill(20.0, drugs=[("morphine", 10_000.0)])        # mL, mcg/mL
            checksum = pump.program(toml_text)                       # stage, read back, activate
            pump.advance(3600)                                       # the server's clock, s
            try:
                pump.demand_bolus()
            except PumpRefusedError as refusal:                      # lockout, maximum, alarm…
                print(refusal.errors)                                # [{"field", "message"}]
            state = pump.interrogate(since=0)                        # dict, keys carry units

Pumps are created before (or while) a server runs: ``itp pump create`` or, in Python,
``PumpStore.create(state_dir, serial, device_key, now_s, default_library(),
battery_remaining_s=None)`` from ``intrathecal.pump.persistence``; a running server picks up a
new pump folder on the first request that names it.

API (every method returns the reply's ``result`` dict unless said otherwise):

- ``PumpClient(host="127.0.0.1", port=7474, serial=None, timeout_s=5.0, retries=2)``;
  ``client.for_pump(serial)`` gives a client for another pump of the same server.
- ``interrogate(since=0)``: state, program, alarms, predictions, events with seq > since.
- ``stage_program(toml) -> str`` (checksum read back), ``activate_program(checksum)``,
  ``program(toml) -> str``: both phases; raises :class:`PumpProtocolError` if the pump's
  checksum differs from the one computed here from the same text.
- ``refill(volume_ml, drugs=None, program_toml=None, withdrawn_ml=None)``: ``drugs`` is a list
  of (name, concentration in mcg/mL); with ``program_toml`` the program is staged, read back and
  activated with the refill (a new drug needs its program).
- ``bolus(kind, volume_ml, duration_s)`` with kind "clinician", "bridge" or "priming";
  ``demand_bolus()`` (the patient's press).
- ``stop()``, ``resume()``, ``clear_alarm(code)``, ``alarm_test()``,
  ``set_clock(pump_time_s)``, ``inject_fault(name)``, ``clear_fault(name)``.
- ``result(request_id)``: the stored reply of an earlier request (after a lost reply).
- Server requests: ``advance(seconds)``, ``clock()``, ``list_pumps() -> list[str]``.
- ``request(request_type, **fields) -> dict``: the raw reply, for anything else.

Errors: :class:`PumpRefusedError` (the pump refused by a rule; nothing changed),
:class:`PumpProtocolError` (bad request, unknown pump, frame errors), :class:`PumpUnavailableError`
(no answer after the retries). All are :class:`PumpError` with ``code`` and ``errors``.

Retries are safe: each request carries a fresh ``request_id``; a retry after a lost reply
resends the same id and the pump answers from its reply cache instead of applying it twice
(no double bolus).
"""

from __future__ import annotations

import socket
import uuid
from types import TracebackType
from typing import Any

from intrathecal.library import default_library
from intrathecal.pump.firmware import canonical_program
from intrathecal.pump.frame import SEQ_MODULUS, Decoder, Frame, FrameError, encode
from intrathecal.pump.server import DEFAULT_HOST, DEFAULT_PORT


class PumpError(Exception):
    def __init__(self, code: str, errors: list[dict[str, str]], reply: dict[str, Any] | None):
        self.code = code
        self.errors = errors
        self.reply = reply
        text = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors) or code
        super().__init__(f"{code}: {text}")


class PumpRefusedError(PumpError):
    """The pump could not apply the command and changed nothing; ``errors`` say why."""


class PumpProtocolError(PumpError):
    """The request or its framing was bad, the pump is unknown, or a reply made no sense."""


class PumpUnavailableError(PumpError):
    """No reply from the server after every retry."""


class PumpClient:
    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        serial: str | None = None,
        timeout_s: float = 5.0,
        retries: int = 2,
    ) -> None:
        self.host = host
        self.port = port
        self.serial = serial
        self.timeout_s = timeout_s
        self.retries = retries
        self._socket: socket.socket | None = None
        self._decoder = Decoder()
        self._seq = 0
        self.last_request_id: str | None = None

    def for_pump(self, serial: str) -> PumpClient:
        return PumpClient(self.host, self.port, serial, self.timeout_s, self.retries)

    # -- connection ---------------------------------------------------------------------------

    def __enter__(self) -> PumpClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _connect(self) -> socket.socket:
        if self._socket is None:
            self._socket = socket.create_connection((self.host, self.port), self.timeout_s)
            self._socket.settimeout(self.timeout_s)
            self._decoder = Decoder()
            self._seq = 1
        return self._socket

    def _exchange(self, payload: dict[str, Any]) -> dict[str, Any]:
        sock = self._connect()
        seq = self._seq
        self._seq = (self._seq + 1) % SEQ_MODULUS
        sock.sendall(encode(seq, payload))
        while True:
            data = sock.recv(65_536)
            if not data:
                raise ConnectionError("the server closed the connection")
            items = self._decoder.feed(data)
            if not items:
                continue
            item = items[0]
            if isinstance(item, FrameError) or not isinstance(item, Frame):
                raise ConnectionError(f"bad reply frame: {item}")
            reply = item.json()
            if not item.reply or item.seq != seq or not isinstance(reply, dict):
                raise ConnectionError("a reply that does not belong to the request")
            return reply

    # -- requests -----------------------------------------------------------------------------

    def request_id_for(self, request_type: str) -> str:
        """A fresh id for each request (a caller that must find its requests in the pump's log
        later names them instead)."""
        return uuid.uuid4().hex

    def request(
        self, request_type: str, /, *, to_pump: bool = True, **fields: Any
    ) -> dict[str, Any]:
        """Send one request (retrying with the same request id) and return the raw reply."""
        request_id = self.request_id_for(request_type)
        self.last_request_id = request_id
        payload: dict[str, Any] = {"type": request_type, "request_id": request_id, **fields}
        if to_pump:
            if self.serial is None:
                raise ValueError("this client has no pump serial")
            payload["serial"] = self.serial
        last: Exception | None = None
        for _ in range(self.retries + 1):
            try:
                reply = self._exchange(payload)
            except (OSError, ConnectionError, ValueError) as exc:
                last = exc
                self.close()
                continue
            if reply.get("request_id") not in (None, request_id):
                last = ConnectionError("the reply names another request")
                self.close()
                continue
            return reply
        raise PumpUnavailableError(
            "unavailable",
            [{"field": "server", "message": f"no reply from {self.host}:{self.port}: {last}"}],
            None,
        )

    def _call(self, request_type: str, /, *, to_pump: bool = True, **fields: Any) -> dict[str, Any]:
        reply = self.request(request_type, to_pump=to_pump, **fields)
        if reply.get("ok") is True:
            result = reply.get("result")
            return result if isinstance(result, dict) else {}
        code = str(reply.get("code", "error"))
        errors = reply.get("errors") or []
        error = PumpRefusedError if code == "refused" else PumpProtocolError
        raise error(code, errors, reply)

    def interrogate(self, since: int = 0) -> dict[str, Any]:
        return self._call("interrogate", since=since)

    def stage_program(self, toml: str) -> str:
        return str(self._call("stage_program", program_toml=toml)["checksum"])

    def activate_program(self, checksum: str) -> dict[str, Any]:
        return self._call("activate_program", checksum=checksum)

    def _staged_and_checked(self, toml: str) -> str:
        """Stage, then compare the pump's read-back checksum with this side's own."""
        _, _, expected = canonical_program(toml, default_library())
        checksum = self.stage_program(toml)
        if checksum != expected:
            raise PumpProtocolError(
                "checksum_mismatch",
                [
                    {
                        "field": "checksum",
                        "message": f"the pump read back {checksum[:12]}…, the programmer "
                        f"computed {expected[:12]}…; not activated",
                    }
                ],
                None,
            )
        return checksum

    def program(self, toml: str) -> str:
        checksum = self._staged_and_checked(toml)
        self.activate_program(checksum)
        return checksum

    def refill(
        self,
        volume_ml: float,
        drugs: list[tuple[str, float]] | None = None,
        program_toml: str | None = None,
        withdrawn_ml: float | None = None,
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {"volume_ml": volume_ml}
        if drugs is not None:
            fields["drugs"] = [{"name": n, "concentration_mcg_per_ml": c} for n, c in drugs]
        if program_toml is not None:
            fields["program_checksum"] = self._staged_and_checked(program_toml)
        if withdrawn_ml is not None:
            fields["withdrawn_ml"] = withdrawn_ml
        return self._call("refill", **fields)

    def bolus(self, kind: str, volume_ml: float, duration_s: float) -> dict[str, Any]:
        return self._call("bolus", kind=kind, volume_ml=volume_ml, duration_s=duration_s)

    def demand_bolus(self) -> dict[str, Any]:
        return self._call("demand_bolus")

    def stop(self) -> dict[str, Any]:
        return self._call("stop")

    def resume(self) -> dict[str, Any]:
        return self._call("resume")

    def clear_alarm(self, code: str) -> dict[str, Any]:
        return self._call("clear_alarm", code=code)

    def alarm_test(self) -> dict[str, Any]:
        return self._call("alarm_test")

    def set_clock(self, pump_time_s: float) -> dict[str, Any]:
        return self._call("set_clock", pump_time_s=pump_time_s)

    def inject_fault(self, fault: str) -> dict[str, Any]:
        return self._call("inject_fault", fault=fault)

    def clear_fault(self, fault: str) -> dict[str, Any]:
        return self._call("clear_fault", fault=fault)

    def mri_exposure(self, duration_s: float, field_t: float = 1.5) -> dict[str, Any]:
        return self._call("mri_exposure", duration_s=duration_s, field_t=field_t)

    def result(self, request_id: str) -> dict[str, Any]:
        return self._call("result", of_request_id=request_id)

    # -- the server ---------------------------------------------------------------------------

    def advance(self, seconds: float) -> dict[str, Any]:
        return self._call("advance", to_pump=False, seconds=seconds)

    def clock(self) -> dict[str, Any]:
        return self._call("clock", to_pump=False)

    def list_pumps(self) -> list[str]:
        return [str(s) for s in self._call("list_pumps", to_pump=False)["serials"]]
