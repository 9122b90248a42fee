"""Findings: one checked rule, its severity, a stable code and a message with the numbers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(Enum):
    HARD = "hard"  # blocks: no acknowledgement can pass it
    SOFT = "soft"  # needs an acknowledgement (who, why) that is recorded
    INFO = "info"  # shown, nothing to do


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    field: str
    message: str
    # Requirement implemented, from shared/reference/safety-requirements.md, where one exists.
    requirement: str = ""
