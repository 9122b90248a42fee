"""A pump's state on disk, surviving a process kill at any moment.

Layout under the state directory: one folder per pump, named by its serial:

    DIR/S/identity.json  serial, device and battery; written once when the pump is created
    DIR/S/state.json     the firmware state with its SHA-256; replaced atomically
    DIR/S/events.jsonl   the event log, one JSON event a line, append-only
    DIR/S/safety.json    the safety history (demand-bolus starts, total delivered, clock) with
                         its SHA-256, in its own file so a corrupt state.json cannot take it

Order of a save: new events are appended (and flushed to disk) first, then state.json is
replaced atomically (temporary file, fsync, rename). state.json names how many events belong
to it, so lines appended by a save that was killed before its rename are dropped at the next
load. A state that fails its checksum loads as the memory-error safe state (critical alarm, no
delivery) rather than as a guess; what keeps the patient safe afterwards is not forgotten: the
demand-bolus starts (from safety.json and from the log, whichever remembers more), the total
delivered, the latest time and the request ids already applied (issue 12, defect 5).
Temporary files of writes interrupted by a kill are removed when a pump is loaded.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from intrathecal.library.records import Library
from intrathecal.pump.firmware import Firmware
from intrathecal.pump.recovery import (
    SafetyRecord,
    recovered_safety,
    safety_from_json,
    safety_of,
    safety_to_json,
)
from intrathecal.pump.state import (
    STATE_FORMAT,
    Event,
    canonical_json,
    digest,
    state_from_json,
    state_to_json,
)

IDENTITY = "identity.json"
STATE = "state.json"
EVENTS = "events.jsonl"
SAFETY = "safety.json"
KNOWN = (IDENTITY, STATE, EVENTS, SAFETY, "clock.json")


def remove_temporaries(folder: Path) -> list[str]:
    """Delete the temporary files that writes killed before their rename left behind."""
    removed: list[str] = []
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        if path.is_file() and any(path.name.startswith(f".{name}.") for name in KNOWN):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path.name)
    return removed


class PumpUnreadableError(Exception):
    """The pump's identity cannot be read: it cannot even be put in its safe state."""


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` holds either its old or its new content, never a mix."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _sealed(body: dict[str, Any]) -> bytes:
    return (canonical_json({"format": STATE_FORMAT, "body": body, "sha256": digest(body)})).encode()


def _unseal(data: bytes) -> dict[str, Any]:
    raw = json.loads(data.decode("utf-8"))
    if not isinstance(raw, dict) or raw.get("format") != STATE_FORMAT:
        raise ValueError("unknown format")
    body = raw["body"]
    if not isinstance(body, dict) or digest(body) != raw.get("sha256"):
        raise ValueError("checksum mismatch")
    return body


class PumpStore:
    """Load and save one pump's folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.saved_events = 0

    @property
    def serial(self) -> str:
        return self.folder.name

    @staticmethod
    def create(
        root: Path,
        serial: str,
        device_key: str,
        now_s: float,
        library: Library,
        battery_remaining_s: float | None = None,
    ) -> tuple[PumpStore, Firmware]:
        """A new pump under ``root/serial``; refuses to overwrite an existing one."""
        firmware = Firmware.create(serial, device_key, now_s, library, battery_remaining_s)
        folder = root / serial
        folder.mkdir(parents=True, exist_ok=False)
        identity = {
            "serial": serial,
            "device_key": device_key,
            "created_at_s": now_s,
            "battery_eri_at_s": firmware.state.battery_eri_at_s,
            "battery_eos_at_s": firmware.state.battery_eos_at_s,
        }
        atomic_write(folder / IDENTITY, _sealed(identity))
        store = PumpStore(folder)
        store.save(firmware)
        return store, firmware

    def identity(self) -> dict[str, Any]:
        try:
            body = _unseal((self.folder / IDENTITY).read_bytes())
        except (OSError, ValueError, KeyError) as exc:
            raise PumpUnreadableError(f"pump {self.serial}: identity unreadable ({exc})") from None
        if body.get("serial") != self.serial:
            raise PumpUnreadableError(f"pump {self.serial}: identity names another serial")
        return body

    def _read_events(self) -> tuple[list[Event], bool]:
        """The readable prefix of the log, and whether the file held anything beyond it."""
        path = self.folder / EVENTS
        events: list[Event] = []
        try:
            lines = path.read_bytes().split(b"\n")
        except FileNotFoundError:
            return events, False
        extra = False
        for line in lines:
            if not line:
                continue
            try:
                event = Event.from_json(json.loads(line.decode("utf-8")))
            except (ValueError, KeyError, TypeError):
                extra = True
                break
            if event.seq != len(events) + 1:
                extra = True
                break
            events.append(event)
        return events, extra

    def _read_safety(self) -> SafetyRecord | None:
        try:
            return safety_from_json(_unseal((self.folder / SAFETY).read_bytes()))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def load(self, library: Library) -> Firmware:
        identity = self.identity()
        remove_temporaries(self.folder)
        events, extra = self._read_events()
        try:
            body = _unseal((self.folder / STATE).read_bytes())
            state = state_from_json(body)
            if state.serial != identity["serial"] or state.device_key != identity["device_key"]:
                raise ValueError("state names another pump")
            if len(events) < state.event_count:
                raise ValueError(f"event log has {len(events)} of {state.event_count} events")
            if len(events) > state.event_count:
                extra = True
            firmware = Firmware(state, library, events[: state.event_count])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            kept = recovered_safety(events, self._read_safety())
            now = max([float(identity["created_at_s"]), kept.now_s, *(e.at_s for e in events)])
            eri, eos = identity["battery_eri_at_s"], identity["battery_eos_at_s"]
            firmware = Firmware.safe_state(
                self.serial,
                str(identity["device_key"]),
                now,
                library,
                float("inf") if eri is None else float(eri),
                float("inf") if eos is None else float(eos),
                events,
                f"stored state unreadable: {exc}",
                kept,
            )
            extra = True
        if extra:
            # Drop lines a killed save left behind, so the next append continues the log.
            self._rewrite_events(firmware.events[: firmware.state.event_count])
        self.saved_events = len(firmware.events)
        return firmware

    def _rewrite_events(self, events: list[Event]) -> None:
        data = b"".join(canonical_json(e.to_json()).encode() + b"\n" for e in events)
        atomic_write(self.folder / EVENTS, data)
        self.saved_events = len(events)

    def save(self, firmware: Firmware) -> None:
        new = firmware.events[self.saved_events :]
        if new:
            with (self.folder / EVENTS).open("ab") as out:
                out.write(b"".join(canonical_json(e.to_json()).encode() + b"\n" for e in new))
                out.flush()
                os.fsync(out.fileno())
        # The safety history first: a kill between the two leaves it at least as new as state.
        atomic_write(self.folder / SAFETY, _sealed(safety_to_json(safety_of(firmware.state))))
        atomic_write(self.folder / STATE, _sealed(state_to_json(firmware.state)))
        self.saved_events = len(firmware.events)


def pump_folders(root: Path) -> list[Path]:
    """Every pump folder under ``root`` (those with an identity file), sorted by serial."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / IDENTITY).is_file())
