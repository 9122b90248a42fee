"""Databases of both kinds for the operations tests (as tests/store does)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.postgres import postgres_url


def fresh_url(backend: str, tmp: Path, name: str = "clinic") -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / name / 'clinic.db'}"
    url = postgres_url()
    if url is None:
        pytest.skip("Debian's PostgreSQL binaries are not installed")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
