"""How the refill wizard talks to a pump: a small protocol with two implementations.

``TypedLink``: the clinician reads the pump's own programmer and types the values in; nothing
is sent anywhere and the read-back is what was typed. A virtual-pump implementation (issue 4's
telemetry client) plugs in through the same protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Interrogation:
    serial: str
    reservoir_ml: float | None  # what the pump reports is left; None if not reported
    alarms: tuple[str, ...] = ()
    program_toml: str = ""
    pump_time_s: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


class PumpLink(Protocol):
    via: str

    def interrogate(self) -> Interrogation: ...

    def send_program(self, program_toml: str) -> str:
        """Send a program; return what the pump reads back."""
        ...

    def refill(self, volume_ml: float) -> float:
        """Tell the pump its reservoir was filled; return the volume it now reports."""
        ...


class PumpLinks(Protocol):
    """Finds the link to a patient's pump by serial; ``None`` when none can be reached."""

    def link(self, serial: str) -> PumpLink | None: ...


class TypedLinks:
    def link(self, serial: str) -> PumpLink | None:
        return None
