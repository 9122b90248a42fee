"""The dashboard's outcomes card does not count every answer on each view (issue 11, item 10)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from intrathecal.store import outcomes as store
from intrathecal.web import outcomes as views


def test_the_outcomes_version_is_counted_only_when_the_data_may_have_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counted: list[int] = []
    top = [7]
    monkeypatch.setattr(store, "highest_id", lambda _db: top[0])
    monkeypatch.setattr(store, "version", lambda _db: counted.append(1) or (5, top[0]))
    clock = [1000.0]
    monkeypatch.setattr(views.time, "monotonic", lambda: clock[0])
    state: Any = SimpleNamespace()
    for _ in range(20):  # twenty dashboard views
        assert views.data_version(state, None) == (5, 7)  # type: ignore[arg-type]
    assert len(counted) == 1
    top[0] = 8  # an answer was added: counted again at once
    assert views.data_version(state, None) == (5, 8)  # type: ignore[arg-type]
    assert len(counted) == 2
    clock[0] += views.VERSION_RECHECK_S  # and now and then, for a late commit of a lower id
    views.data_version(state, None)  # type: ignore[arg-type]
    assert len(counted) == 3
