"""State on disk: atomic saves, torn logs, and SIGKILL at random moments of a simulated month."""

from __future__ import annotations

import contextlib
import random
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from intrathecal.engine.delivery import build_delivery
from intrathecal.library import default_library
from intrathecal.pump import commands as c
from intrathecal.pump.client import PumpClient, PumpRefusedError, PumpUnavailableError
from intrathecal.pump.firmware import Firmware
from intrathecal.pump.persistence import EVENTS, IDENTITY, PumpStore
from intrathecal.pump.server import PumpServer
from intrathecal.pump.state import state_to_json
from intrathecal.therapy.parse import parse_program
from tests.conftest import DAY, MONDAY
from tests.pump.helpers import DEMAND, MORPHINE, SERIAL


def new_pump(root: Path) -> tuple[PumpStore, Firmware]:
    store, fw = PumpStore.create(root, SERIAL, "synchromed-ii-20", MONDAY, default_library())
    fw.handle("fill", c.Refill(20.0, (MORPHINE,)), MONDAY)
    staged = fw.handle("stage", c.StageProgram(DEMAND), MONDAY)["result"]
    fw.handle("go", c.ActivateProgram(staged["checksum"]), MONDAY)  # type: ignore[index]
    store.save(fw)
    return store, fw


def test_save_and_load_give_back_the_same_pump(tmp_path: Path) -> None:
    store, fw = new_pump(tmp_path)
    fw.handle("p", c.DemandBolus(), MONDAY + 3600)
    fw.advance(MONDAY + 2 * DAY)
    store.save(fw)
    loaded = PumpStore(tmp_path / SERIAL).load(default_library())
    assert state_to_json(loaded.state) == state_to_json(fw.state)
    assert [e.to_json() for e in loaded.events] == [e.to_json() for e in fw.events]


def test_a_killed_save_leaves_the_last_whole_state(tmp_path: Path) -> None:
    # A save killed after appending its events but before replacing state.json: the next load
    # keeps the state it finds and drops the extra lines, so the log and the state agree.
    _store, fw = new_pump(tmp_path)
    saved = state_to_json(fw.state)
    fw.handle("p", c.DemandBolus(), MONDAY + 3600)
    with (tmp_path / SERIAL / EVENTS).open("ab") as log:
        log.write(b'{"seq": 99, "torn')  # and a torn last line
    loaded = PumpStore(tmp_path / SERIAL).load(default_library())
    assert state_to_json(loaded.state) == saved
    assert len(loaded.events) == loaded.state.event_count
    # The log goes on from there without a gap.
    loaded.handle("q", c.DemandBolus(), MONDAY + 3600)
    store2 = PumpStore(tmp_path / SERIAL)
    again = store2.load(default_library())
    assert [e.seq for e in again.events] == list(range(1, again.state.event_count + 1))


def test_a_pump_without_identity_is_listed_as_unavailable(tmp_path: Path) -> None:
    new_pump(tmp_path)
    (tmp_path / SERIAL / IDENTITY).write_text("{}")
    server = PumpServer(tmp_path, speed=0.0, start_s=MONDAY)
    assert SERIAL in server.unavailable and SERIAL not in server.pumps
    reply = server.handle_payload({"type": "interrogate", "request_id": "x", "serial": SERIAL})
    assert reply["code"] == "unknown_pump" and "identity" in reply["errors"][0]["message"]


# -- SIGKILL at random moments ---------------------------------------------------------------

SPEED = 25 * DAY / 1.5  # about a simulated month over the ~1.5 s the servers run


def start_server(root: Path) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "intrathecal.cli.main",
            "pump",
            "serve",
            "--state",
            str(root),
            "--port",
            "0",
            "--speed",
            str(SPEED),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"127\.0\.0\.1:(\d+)", line)
    assert match, line
    return process, int(match.group(1))


def all_events(client: PumpClient) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    state = client.interrogate(0)
    events = list(state["events"])
    while state["more_events"]:
        state = client.interrogate(events[-1]["seq"])
        events += state["events"]
    return state, events


def check_consistent(
    state: dict[str, Any],
    events: list[dict[str, Any]],
    acked: set[float],
    last_total: float,
    last_now: float,
) -> None:
    reservoir = state["reservoir"]
    assert reservoir["delivered_since_fill_ml"] + reservoir["remaining_ml"] == pytest.approx(
        reservoir["filled_ml"], abs=1e-9
    )
    assert [e["seq"] for e in events] == list(range(1, state["last_event_seq"] + 1))
    starts = [
        e["at_s"]
        for e in events
        if e["kind"] == "bolus_started" and e["data"].get("kind") == "demand"
    ]
    assert acked <= set(starts)  # every acknowledged press survived the kill
    assert len(starts) == len(set(starts))  # and none was counted twice
    # Never lost beyond the last stored step: everything a reply reported is still there.
    assert reservoir["delivered_total_ml"] >= last_total - 1e-12
    assert state["clock"]["now_s"] >= last_now
    # Never counted twice: the total is the engine's exact volume for the logged presses.
    if not any(e["kind"] == "bolus_cut" for e in events):
        program = parse_program(DEMAND, default_library())
        delivery, _ = build_delivery(program, presses_s=starts)
        # An empty reservoir stops delivery: the pump cannot have given more than its fill.
        expected = min(delivery.volume_between(MONDAY, state["clock"]["now_s"]), 20.0)
        assert reservoir["delivered_since_fill_ml"] == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_sigkill_at_random_moments_of_a_simulated_month(tmp_path: Path) -> None:
    new_pump(tmp_path)
    rng = random.Random(20260105)  # fixed: a failure repeats
    acked: set[float] = set()
    last_total, last_now, kills = 0.0, MONDAY, 0
    for _ in range(4):
        process, port = start_server(tmp_path)
        client = PumpClient("127.0.0.1", port, SERIAL, timeout_s=2.0, retries=0)
        state, events = all_events(client)
        check_consistent(state, events, acked, last_total, last_now)
        killer = threading.Timer(rng.uniform(0.1, 0.6), process.send_signal, [signal.SIGKILL])
        killer.start()
        try:
            while True:
                with contextlib.suppress(PumpRefusedError):
                    acked.add(client.demand_bolus()["started_at_s"])
                reservoir = client.interrogate(10**9)
                last_total = reservoir["reservoir"]["delivered_total_ml"]
                last_now = reservoir["clock"]["now_s"]
        except PumpUnavailableError:
            kills += 1
        finally:
            killer.join()
            process.wait(10)
            client.close()
    process, port = start_server(tmp_path)
    try:
        with PumpClient("127.0.0.1", port, SERIAL, timeout_s=2.0) as client:
            state, events = all_events(client)
            check_consistent(state, events, acked, last_total, last_now)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)
    assert kills == 4 and len(acked) >= 4
    assert state["clock"]["now_s"] - MONDAY > 5 * DAY
