"""Workers kept evenly loaded (web/worker_balance.py): a worker with MARGIN or more requests in
flight than the least busy other closes the connection after its answer, so the client's next
request is handed out again by the kernel."""

from __future__ import annotations

import multiprocessing

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from intrathecal.web import worker_balance
from intrathecal.web.worker_balance import MARGIN, BalanceWorkers, busier


@given(st.lists(st.integers(0, 200), min_size=1, max_size=8), st.data())
def test_busier_only_at_margin_over_the_least_busy_other(loads: list[int], data) -> None:
    index = data.draw(st.integers(0, len(loads) - 1))
    others = loads[:index] + loads[index + 1 :]
    expected = bool(others) and loads[index] - min(others) >= MARGIN
    assert busier(loads, index) is expected


def test_busier_scenarios() -> None:
    assert busier([13, 7], 0)  # the split seen in the load benchmark
    assert not busier([7, 13], 0)
    assert not busier([10, 10], 0)
    assert not busier([10 + MARGIN - 1, 10], 0)  # within the margin: left alone
    assert not busier([50], 0)  # one worker has no one to hand over to


@pytest.fixture
def app() -> FastAPI:
    app = FastAPI()

    @app.get("/page")
    def page() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/fails")
    def fails() -> None:
        raise RuntimeError("boom")

    app.add_middleware(BalanceWorkers)
    return app


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch):
    shared = multiprocessing.get_context("spawn").RawArray("i", 2)
    monkeypatch.setattr(worker_balance.this_worker, "loads", None)
    worker_balance.join(shared, 0)
    return shared


def test_busier_worker_closes_the_connection_after_its_answer(app, loads) -> None:
    loads[0], loads[1] = MARGIN - 1, 0  # with this request: MARGIN more than the other
    answer = TestClient(app).get("/page")
    assert answer.status_code == 200
    assert answer.headers["connection"] == "close"
    assert loads[0] == MARGIN - 1  # the request is counted out again


def test_even_workers_keep_the_connection(app, loads) -> None:
    loads[0], loads[1] = 4, 4
    answer = TestClient(app).get("/page")
    assert "connection" not in answer.headers
    assert list(loads) == [4, 4]


def test_failed_request_is_counted_out(app, loads) -> None:
    answer = TestClient(app, raise_server_exceptions=False).get("/fails")
    assert answer.status_code == 500
    assert list(loads) == [0, 0]


def test_single_process_app_is_left_alone(app, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_balance.this_worker, "loads", None)
    answer = TestClient(app).get("/page")
    assert answer.status_code == 200 and "connection" not in answer.headers
