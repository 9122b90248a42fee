"""What the store refuses, each with enough to tell the user what happened."""

from __future__ import annotations

from intrathecal.therapy.findings import Finding
from intrathecal.units import InputError


class NotFoundError(LookupError):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")
        self.what = what


class ConflictError(Exception):
    """Someone else changed the record first; nothing of this change was stored."""

    def __init__(
        self,
        message: str,
        current_version: int | None,
        *,
        field: str = "replaces_version",
        current_key: str = "current_version",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.current_version = current_version  # what the record is now (version, refill id)
        self.field = field  # the request field that was out of date
        self.current_key = current_key  # the key the 409 answer gives the current value under


class BlockedError(Exception):
    """The program review does not allow saving: hard findings, or soft ones unacknowledged."""

    def __init__(self, findings: tuple[Finding, ...], unacknowledged: tuple[Finding, ...]) -> None:
        hard = [f for f in findings if f.severity.value == "hard"]
        parts = [f"{len(hard)} hard limit(s)"] if hard else []
        if unacknowledged:
            parts.append(f"{len(unacknowledged)} soft limit(s) without an acknowledgement")
        super().__init__("program not saved: " + ", ".join(parts))
        self.findings = findings
        self.unacknowledged = unacknowledged


__all__ = ["BlockedError", "ConflictError", "InputError", "NotFoundError"]
