"""Shared fixtures and the hypothesis profiles (CI runs derandomized so a red run repeats)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from intrathecal.library import Library, default_library
from intrathecal.therapy.parse import parse_program
from intrathecal.therapy.program import Program

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# A fixed audit key for every test database (child processes inherit it), so no test writes a
# key file into the working folder; tests of the key file itself clear it.
TEST_AUDIT_KEY = "5e" * 32
os.environ["ITP_AUDIT_KEY"] = TEST_AUDIT_KEY

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# Monday 2026-01-05 00:00 UTC: a convenient pump-time origin for hand-worked scenarios.
MONDAY = datetime(2026, 1, 5, tzinfo=UTC).timestamp()
HOUR = 3600.0
DAY = 86400.0


@pytest.fixture(scope="session")
def library() -> Library:
    return default_library()


def program_from(text: str) -> Program:
    return parse_program(text, default_library())


def example(name: str) -> Program:
    return parse_program((EXAMPLES / name).read_text(), default_library(), name=name)
