"""The telemetry server: every pump under a state directory, on a loopback socket.

One asyncio loop serves all pumps; each request names its pump by serial. Before a request
is handled the pump is advanced to the server's clock, and after it the pump is saved, so a
reply the client receives is never lost by a later kill. A background task advances and saves
every pump periodically.

Clock: ``speed`` pump seconds per wall second. Speed 1 runs on the wall clock (UTC); time goes
on while the server is down, as it would for an implanted pump. Any other speed is a simulation
whose time stands still while the server is down (it resumes from ``clock.json``); speed 0 is a
frozen clock that only the ``advance`` request moves (for tests and demonstrations).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from intrathecal.library import default_library
from intrathecal.library.records import Library
from intrathecal.pump.commands import Request, read_request
from intrathecal.pump.firmware import Firmware, errors_json, reused_id_body
from intrathecal.pump.frame import SEQ_MODULUS, Decoder, Frame, FrameError, encode
from intrathecal.pump.persistence import (
    PumpStore,
    PumpUnreadableError,
    atomic_write,
    pump_folders,
    remove_temporaries,
)
from intrathecal.pump.state import REPLY_CACHE_SIZE
from intrathecal.units import InputError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7474
CLOCK_FILE = "clock.json"
# A frame started must complete within this, counted from its first byte (not reset by each
# read: a byte every 2 s must not hold a frame open for ever), else it is truncated.
FRAME_DEADLINE_S = 5.0
IDLE_TIMEOUT_S = 300.0
MAX_CONNECTIONS = 32  # more are answered "busy" and closed, so a flood cannot starve the pumps


class SimClock:
    """Pump time as a function of the wall clock: base + elapsed wall time x speed."""

    def __init__(
        self, speed: float, start_s: float, wall: Callable[[], float] = time.monotonic
    ) -> None:
        if not speed >= 0:
            raise ValueError("speed must be zero or more")
        self.speed = speed
        self._wall = wall
        self._base_wall = wall()
        self._base_s = start_s

    def now(self) -> float:
        return self._base_s + (self._wall() - self._base_wall) * self.speed

    def advance(self, seconds: float) -> None:
        self._base_s += seconds


@dataclass
class Loaded:
    store: PumpStore
    firmware: Firmware


def reused_id_reply(request_id: str) -> dict[str, Any]:
    """A request id already used for a different request: refused, nothing applied."""
    return {**reused_id_body(), "request_id": request_id}


def error_reply(
    code: str, errors: list[InputError], request_id: object = None, **extra: Any
) -> dict[str, Any]:
    reply: dict[str, Any] = {"ok": False, "code": code, "errors": errors_json(errors), **extra}
    if isinstance(request_id, str) and len(request_id) <= 64:
        reply["request_id"] = request_id
    return reply


class PumpServer:
    def __init__(
        self,
        root: Path,
        *,
        speed: float = 1.0,
        start_s: float | None = None,
        library: Library | None = None,
        persist_every_s: float = 2.0,
    ) -> None:
        self.root = root
        self.library = library or default_library()
        self.persist_every_s = persist_every_s
        self.pumps: dict[str, Loaded] = {}
        # Replies to ``advance`` by request id, with the digest of what was asked: stored in
        # clock.json with the clock they produced, so a retry after a restart is not applied
        # twice.
        self._server_replies: dict[str, dict[str, Any]] = {}
        self.unavailable: dict[str, str] = {}
        self.connections = 0
        remove_temporaries(root)
        for folder in pump_folders(root):
            self._load(folder)
        self.clock = SimClock(speed, self._start_time(speed, start_s))

    # -- clock --------------------------------------------------------------------------------

    def _start_time(self, speed: float, start_s: float | None) -> float:
        latest = max((p.firmware.state.now_s for p in self.pumps.values()), default=-1e18)
        stored: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            stored = json.loads((self.root / CLOCK_FILE).read_text())
        if not isinstance(stored, dict):
            stored = {}
        replies = stored.get("replies")
        if isinstance(replies, dict):
            self._server_replies = {
                k: v
                for k, v in replies.items()
                if isinstance(v, dict) and isinstance(v.get("reply"), dict)
            }
        # A time once given to a client is a floor: the clock never goes backwards for it.
        with contextlib.suppress(TypeError, ValueError):
            latest = max(latest, float(stored.get("sim_s", latest)))
        if start_s is not None:
            return max(start_s, latest)
        if speed == 1:
            # Real time: the wall clock plus whatever was advanced by hand.
            offset = float(stored.get("sim_s", 0.0)) - float(stored.get("wall_s", 0.0))
            return max(time.time() + max(offset, 0.0), latest)
        # A simulation resumes where it stopped; a new one starts at its latest pump's time.
        fresh = latest if self.pumps else time.time()
        return max(float(stored.get("sim_s", fresh)), latest)

    def _save_clock(self) -> None:
        if self.root.is_dir():
            data = {
                "sim_s": self.clock.now(),
                "wall_s": time.time(),
                "speed": self.clock.speed,
                "replies": self._server_replies,
            }
            atomic_write(self.root / CLOCK_FILE, json.dumps(data).encode())

    # -- pumps --------------------------------------------------------------------------------

    def _load(self, folder: Path) -> Loaded | None:
        store = PumpStore(folder)
        try:
            firmware = store.load(self.library)
        except PumpUnreadableError as exc:
            self.unavailable[folder.name] = str(exc)
            return None
        loaded = Loaded(store, firmware)
        self.pumps[folder.name] = loaded
        self.unavailable.pop(folder.name, None)
        return loaded

    def _pump(self, serial: str) -> Loaded | None:
        if serial in self.pumps:
            return self.pumps[serial]
        folder = self.root / serial
        if folder.is_dir() and folder in pump_folders(self.root):
            return self._load(folder)  # created after the server started
        return None

    def persist_all(self) -> None:
        now = self.clock.now()
        for loaded in self.pumps.values():
            loaded.firmware.advance(now)
            loaded.store.save(loaded.firmware)
        self._save_clock()

    # -- requests -----------------------------------------------------------------------------

    def handle_frame(self, frame: Frame) -> dict[str, Any]:
        """Every frame gets an answer, whatever its payload (defect 1 of issue 12)."""
        try:
            payload = frame.json()
        except RecursionError:
            return error_reply("bad_json", [InputError("payload", "JSON nested too deeply")])
        except (ValueError, UnicodeDecodeError) as exc:
            return error_reply("bad_json", [InputError("payload", f"is not UTF-8 JSON: {exc}")])
        return self.handle_payload(payload)

    def handle_payload(self, payload: object) -> dict[str, Any]:
        request_id = payload.get("request_id") if isinstance(payload, dict) else None
        try:
            request = read_request(payload)
        except InputError as exc:
            return error_reply("bad_request", [exc], request_id)
        except (RecursionError, ValueError, TypeError, OverflowError) as exc:
            # read_request reports bad input as InputError; anything else is still bad input.
            what = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
            return error_reply("bad_request", [InputError("payload", what)], request_id)
        if request.serial is None:
            return self._server_request(request)
        loaded = self._pump(request.serial)
        if loaded is None:
            why = self.unavailable.get(request.serial, f"no pump {request.serial} is served here")
            return error_reply("unknown_pump", [InputError("serial", why)], request.request_id)
        command = request.command
        assert command is not None
        try:
            body = loaded.firmware.handle(request.request_id, command, self.clock.now())
            loaded.store.save(loaded.firmware)
        except Exception as exc:  # a defect: forget the in-memory state, keep the stored one
            print(f"internal error on {request.serial}: {exc!r}", file=sys.stderr)
            self.pumps.pop(request.serial, None)
            self._load(loaded.store.folder)
            return error_reply(
                "internal", [InputError("pump", f"internal error: {exc}")], request.request_id
            )
        return {
            "request_id": request.request_id,
            "type": request.type,
            "serial": request.serial,
            **body,
        }

    def _server_request(self, request: Request) -> dict[str, Any]:
        cached = self._server_replies.get(request.request_id)
        if cached is not None:  # a retried advance must not advance twice
            if cached.get("digest") != request.digest:
                return reused_id_reply(request.request_id)
            return {**cached["reply"], "replayed": True}
        result: dict[str, Any]
        if request.type == "advance":
            self.clock.advance(float(request.fields["seconds"]))
            result = {"now_s": self.clock.now()}
        elif request.type == "list_pumps":
            result = {
                "serials": sorted(self.pumps),
                "unavailable": dict(sorted(self.unavailable.items())),
            }
        else:  # clock
            result = {"now_s": self.clock.now(), "speed": self.clock.speed}
        reply = {
            "request_id": request.request_id,
            "type": request.type,
            "ok": True,
            "result": result,
        }
        if request.type == "advance":
            self._server_replies[request.request_id] = {"digest": request.digest, "reply": reply}
            while len(self._server_replies) > REPLY_CACHE_SIZE:
                del self._server_replies[next(iter(self._server_replies))]
            # The new clock and its reply are durable together before the pumps move, so a
            # kill at any point leaves either neither or both (defect 3).
            self._save_clock()
            self.persist_all()
        elif request.type == "clock":
            self._save_clock()  # a time once answered is never taken back (defect 6)
        return reply

    # -- sockets ------------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.connections >= MAX_CONNECTIONS:
            busy = error_reply(
                "busy", [InputError("connection", f"{MAX_CONNECTIONS} connections are open")]
            )
            with contextlib.suppress(ConnectionError, OSError):
                writer.write(encode(0, busy, reply=True))
                await writer.drain()
                writer.close()
            return
        self.connections += 1
        try:
            await self._serve_connection(reader, writer)
        finally:
            self.connections -= 1

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        decoder = Decoder()
        expected: int | None = None
        loop = asyncio.get_running_loop()
        frame_deadline: float | None = None  # when the frame under way must be complete
        try:
            while not decoder.broken:
                if decoder.pending:
                    if frame_deadline is None:
                        frame_deadline = loop.time() + FRAME_DEADLINE_S
                    timeout = frame_deadline - loop.time()
                else:
                    frame_deadline = None
                    timeout = IDLE_TIMEOUT_S
                try:
                    data = await asyncio.wait_for(reader.read(65_536), max(timeout, 0.0))
                except TimeoutError:
                    data = b""
                if not data:
                    leftover = decoder.finish()
                    if leftover is not None:
                        writer.write(self._frame_error(leftover))
                        await writer.drain()
                    return
                for item in decoder.feed(data):
                    if isinstance(item, FrameError):
                        writer.write(self._frame_error(item))
                        continue
                    if expected is not None and item.seq != expected:
                        reply = error_reply(
                            "bad_sequence",
                            [InputError("seq", f"expected {expected}, got {item.seq}")],
                        )
                    else:
                        expected = (item.seq + 1) % SEQ_MODULUS
                        reply = self._answer(item)
                    writer.write(encode(item.seq, reply, reply=True))
                    frame_deadline = None  # the next frame gets its own deadline
                await writer.drain()
        except (ConnectionError, OSError):
            return
        finally:
            with contextlib.suppress(ConnectionError, OSError):
                writer.close()

    def _answer(self, frame: Frame) -> dict[str, Any]:
        """handle_frame, and a last guard so that no frame ever goes unanswered."""
        try:
            reply = self.handle_frame(frame)
            encode(frame.seq, reply, reply=True)  # a reply that cannot be framed is a defect
            return reply
        except Exception as exc:
            print(f"internal error on a frame: {exc!r}", file=sys.stderr)
            return error_reply("internal", [InputError("frame", "internal error; nothing done")])

    @staticmethod
    def _frame_error(error: FrameError) -> bytes:
        reply = error_reply(error.code, [InputError("frame", error.message)])
        return encode(error.seq, reply, reply=True)

    async def _persist_loop(self) -> None:
        while True:
            await asyncio.sleep(self.persist_every_s)
            self.persist_all()

    async def start(self, host: str, port: int) -> asyncio.Server:
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the virtual pump listens on loopback only")
        server = await asyncio.start_server(self._connection, host, port)
        self._persister = asyncio.get_running_loop().create_task(self._persist_loop())
        return server


def bound_port(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


async def serve_until_signalled(
    pump_server: PumpServer, host: str, port: int, ready: Callable[[int], None]
) -> None:
    """Serve until SIGINT or SIGTERM, then save every pump and return."""
    server = await pump_server.start(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    ready(bound_port(server))
    try:
        async with server:
            await stop.wait()
    finally:
        pump_server.persist_all()


@dataclass(frozen=True)
class Running:
    host: str
    port: int
    server: PumpServer


@contextlib.contextmanager
def serve_in_background(
    root: Path,
    *,
    speed: float = 0.0,
    start_s: float | None = None,
    host: str = DEFAULT_HOST,
    port: int = 0,
    persist_every_s: float = 2.0,
) -> Iterator[Running]:
    """Run a server in a thread of this process on a free loopback port (for tests and for
    the clinic app). Speed 0 by default: time moves only by ``advance``."""
    pump_server = PumpServer(root, speed=speed, start_s=start_s, persist_every_s=persist_every_s)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        server = await pump_server.start(host, port)
        holder["server"] = server
        holder["port"] = bound_port(server)
        started.set()
        async with server:
            with contextlib.suppress(asyncio.CancelledError):
                await server.serve_forever()
        # Connections still open and the persister end here, inside the loop.
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def run() -> None:
        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # reported to the caller below
            holder["error"] = exc
            started.set()

    thread = threading.Thread(target=run, name="pump-server", daemon=True)
    thread.start()
    started.wait(30)
    if "error" in holder:
        raise RuntimeError(f"pump server did not start: {holder['error']}")
    try:
        yield Running(host, holder["port"], pump_server)
    finally:

        def stop() -> None:
            holder["server"].close()

        loop.call_soon_threadsafe(stop)
        thread.join(10)
        loop.close()
        pump_server.persist_all()
