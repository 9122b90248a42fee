"""Over a real loopback socket: serve, program, simulate, bolus, refill, interrogate."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from intrathecal.cli.main import app
from intrathecal.library import default_library
from intrathecal.pump.client import PumpClient, PumpProtocolError, PumpRefusedError
from intrathecal.pump.frame import Decoder, Frame, encode, encode_raw
from intrathecal.pump.persistence import PumpStore
from intrathecal.pump.server import Running, serve_in_background
from tests.conftest import DAY, HOUR, MONDAY
from tests.pump.helpers import DEMAND, SERIAL

HYDROMORPHONE = DEMAND.replace('name = "morphine"', 'name = "hydromorphone"').replace(
    "10 mg/mL", "2 mg/mL"
)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    PumpStore.create(tmp_path, SERIAL, "synchromed-ii-20", MONDAY, default_library())
    PumpStore.create(tmp_path, "SN-OTHER", "synchromed-ii-40", MONDAY, default_library())
    with serve_in_background(tmp_path, speed=0.0, start_s=MONDAY) as server:
        yield server


def exchange(port: int, raw: bytes, *, shut: bool = False) -> list[Frame]:
    """Send raw bytes on a fresh connection; return every reply frame until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        decoder, frames = Decoder(), []
        sock.settimeout(1.0)
        try:
            while data := sock.recv(65536):
                frames += [f for f in decoder.feed(data) if isinstance(f, Frame)]
        except TimeoutError:
            pass
    return frames


def interrogate_bytes(request_id: str = "look") -> dict[str, Any]:
    return {"type": "interrogate", "request_id": request_id, "serial": SERIAL}


def test_a_clinic_day_over_the_socket(running: Running) -> None:
    with PumpClient("127.0.0.1", running.port, SERIAL, timeout_s=10) as pump:
        assert pump.list_pumps() == ["SN-OTHER", SERIAL]
        # Implant day: fill 20 mL of morphine 10 mg/mL with its program (staged, read back,
        # activated with the refill).
        filled = pump.refill(20.0, drugs=[("morphine", 10_000.0)], program_toml=DEMAND)
        assert filled["program_checksum"] == pump.interrogate()["program"]["checksum"]
        # Ten days at 0.5 mL/day, then the patient presses (0.05 mL over 10 min).
        pump.advance(10 * DAY)
        pump.demand_bolus()
        with pytest.raises(PumpRefusedError, match="lockout"):
            pump.demand_bolus()
        pump.advance(HOUR)
        pump.bolus("clinician", 0.05, HOUR)
        pump.advance(DAY - HOUR)
        # 11 days x 0.5 + 0.05 demand + 0.05 clinician = 5.6 mL delivered; 14.4 mL left.
        state = pump.interrogate()
        assert state["reservoir"]["delivered_since_fill_ml"] == pytest.approx(5.6)
        assert state["reservoir"]["remaining_ml"] == pytest.approx(14.4)
        # Refill with a new drug: the programmer sends its program with it; 14.2 mL withdrawn
        # against 14.4 expected is within the 1 mL and 14.5% x 5.6 mL limits.
        result = pump.refill(
            18.0,
            drugs=[("hydromorphone", 2_000.0)],
            program_toml=HYDROMORPHONE,
            withdrawn_ml=14.2,
        )
        assert result["reconciliation"]["discrepancy_ml"] == pytest.approx(-0.2)
        assert result["reconciliation"]["investigate"] is False
        pump.advance(2 * DAY)
        state = pump.interrogate(since=0)
        assert state["reservoir"]["drugs"] == [
            {"name": "hydromorphone", "concentration_mcg_per_ml": 2000.0}
        ]
        assert state["reservoir"]["delivered_since_fill_ml"] == pytest.approx(1.0)
        kinds = [e["kind"] for e in state["events"]]
        assert kinds.count("refilled") == 2 and kinds.count("program_activated") == 2
        # The other pump is untouched and addressed by its own serial.
        other = pump.for_pump("SN-OTHER").interrogate()
        assert other["program"] is None and other["device"]["reservoir_ml"] == 40.0


def test_unknown_pump_and_bad_requests_are_answered(running: Running) -> None:
    with PumpClient("127.0.0.1", running.port, "NOPE", timeout_s=10) as pump:
        with pytest.raises(PumpProtocolError, match="unknown_pump"):
            pump.interrogate()
        with pytest.raises(PumpProtocolError, match="bad_request"):
            pump.for_pump(SERIAL).bolus("patient", 1.0, 60.0)
        reply = pump.for_pump(SERIAL).request("bolus", kind="clinician", volume_ml="1 mL")
        assert reply["code"] == "bad_request" and reply["errors"][0]["field"] == "volume_ml"


def test_bad_frames_are_answered_and_change_nothing(running: Running) -> None:
    port = running.port
    with PumpClient("127.0.0.1", port, SERIAL) as pump:
        before = pump.interrogate()["last_event_seq"]
    good = encode(5, interrogate_bytes())
    bad_crc = bytearray(good)
    bad_crc[-1] ^= 0xFF
    cases = {
        "bad_crc": bytes(bad_crc),
        "bad_magic": b"XX" + good[2:],
        "bad_version": encode_raw(5, good[12:-4], version=9),
        "truncated": good[: len(good) // 2],
    }
    for code, raw in cases.items():
        frames = exchange(port, raw, shut=True)
        assert [f.json()["code"] for f in frames] == [code]
    # Out of sequence: 5, then 7 -> answered bad_sequence; 6 is still expected and works.
    stream = encode(5, interrogate_bytes("a")) + encode(7, interrogate_bytes("b"))
    stream += encode(6, interrogate_bytes("c"))
    replies = [f.json() for f in exchange(port, stream, shut=True)]
    assert [r.get("code") for r in replies] == [None, "bad_sequence", None]
    assert [f.seq for f in exchange(port, stream, shut=True)] == [5, 7, 6]  # replies tie to seq
    bad_json = encode_raw(1, b"{not json")
    assert exchange(port, bad_json, shut=True)[0].json()["code"] == "bad_json"
    with PumpClient("127.0.0.1", port, SERIAL) as pump:
        assert pump.interrogate()["last_event_seq"] == before


def test_a_lost_reply_is_retried_without_a_double_bolus(running: Running) -> None:
    with PumpClient("127.0.0.1", running.port, SERIAL, timeout_s=10) as pump:
        pump.refill(20.0, drugs=[("morphine", 10_000.0)], program_toml=DEMAND)
    press = {"type": "demand_bolus", "request_id": "press-42", "serial": SERIAL}
    # The press arrives but the programmer never reads the reply (connection dropped).
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as sock:
        sock.sendall(encode(1, press))
        sock.recv(65536)  # the server has answered; the answer is thrown away
    # The programmer asks what happened, then retries with the same request id.
    with PumpClient("127.0.0.1", running.port, SERIAL, timeout_s=10) as pump:
        found = pump.result("press-42")
        assert found["found"] and found["reply"]["ok"]
        again = exchange(running.port, encode(1, press), shut=True)[0].json()
        assert again["ok"] and again["replayed"] is True
        state = pump.interrogate()
        assert len(state["demand"]["history_s"]) == 1


def test_cli_talks_to_the_server(running: Running, tmp_path: Path) -> None:
    runner = CliRunner()
    program = tmp_path / "program.toml"
    program.write_text(DEMAND)
    port = ["--port", str(running.port), "--serial", SERIAL]
    fill = runner.invoke(
        app,
        [
            "pump",
            "refill",
            *port,
            "--volume",
            "20 mL",
            "--drug",
            "morphine 10 mg/mL",
            "--program",
            str(program),
        ],
    )
    assert fill.exit_code == 0, fill.output
    runner.invoke(app, ["pump", "advance", "1 day", "--port", str(running.port)])
    out = runner.invoke(app, ["pump", "interrogate", *port, "--json"])
    assert out.exit_code == 0
    reply = json.loads(out.stdout)
    assert reply["ok"] and reply["result"]["reservoir"]["remaining_ml"] == pytest.approx(19.5)
    first = runner.invoke(app, ["pump", "demand-bolus", *port])
    second = runner.invoke(app, ["pump", "demand-bolus", *port, "--json"])
    assert first.exit_code == 0 and second.exit_code == 1  # refused: not allowed (docs/cli.md)
    refusal = json.loads(second.stdout)
    assert refusal["ok"] is False and refusal["code"] == "refused"
    assert refusal["errors"][0]["field"] == "demand_bolus"
    bad = runner.invoke(
        app,
        ["pump", "bolus", *port, "--kind", "clinician", "--volume", "0.05", "--duration", "1 h"],
    )
    assert bad.exit_code == 2 and "--volume" in bad.stderr and "Traceback" not in bad.output


def test_cli_mri_over_the_socket(running: Running, tmp_path: Path) -> None:
    # SynchroMed II, 0.5 mL/day: 45 min in the field misses 0.5 x 0.75 / 24 = 0.015625 mL.
    runner = CliRunner()
    program = tmp_path / "program.toml"
    program.write_text(DEMAND)
    port = ["--port", str(running.port), "--serial", SERIAL]
    fill = ["--volume", "20 mL", "--drug", "morphine 10 mg/mL", "--program", str(program)]
    assert runner.invoke(app, ["pump", "refill", *port, *fill]).exit_code == 0
    scan = runner.invoke(app, ["pump", "mri", "45 min", *port])
    assert scan.exit_code == 0 and "motor stall" in scan.stdout, scan.output
    bad = runner.invoke(app, ["pump", "mri", "45 min", *port, "--field", "7", "--json"])
    assert bad.exit_code == 2 and json.loads(bad.stdout)["errors"][0]["field"] == "field_t"
    shown = runner.invoke(app, ["pump", "interrogate", *port])
    assert "MRI since" in shown.stdout and "in the field until" in shown.stdout, shown.output
    runner.invoke(app, ["pump", "advance", "1 h", "--port", str(running.port)])
    with PumpClient("127.0.0.1", running.port, SERIAL, timeout_s=10) as pump:
        state = pump.interrogate()  # this interrogation confirms delivery resumed
        missed = [e for e in state["events"] if e["kind"] == "mri_missed"]
        assert missed[0]["data"]["missed_ml"] == pytest.approx(0.015625)
        assert "mri_check" not in {a["code"] for a in state["alarms"]}
