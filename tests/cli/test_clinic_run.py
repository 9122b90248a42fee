"""`itp clinic run` as a real process (issue 11, item 9): when its pump server dies it says so
and starts it again, gives up and stops the clinic if it keeps dying, and leaves no pump server
behind when it is killed outright."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from intrathecal.library import default_library
from intrathecal.pump.client import PumpClient, PumpError
from intrathecal.pump.persistence import PumpStore
from tests.store.conftest import NOW

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _answers(port: int) -> bool:
    try:
        with PumpClient("127.0.0.1", port, timeout_s=1.0, retries=0) as client:
            client.clock()
        return True
    except PumpError:
        return False


def _until(condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    pump_port: int
    stderr: Path
    stdout: Path

    def pump_servers(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children()
        except psutil.NoSuchProcess:
            return []

    def said(self) -> str:
        return self.stderr.read_text(errors="replace")

    def serving(self) -> bool:
        return "clinic on http" in self.stdout.read_text(errors="replace")


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    pumps = tmp_path / "pumps"
    pumps.mkdir()
    PumpStore.create(pumps, "SN-RUN-1", "synchromed-ii-20", NOW.timestamp(), default_library())
    pump_port = _free_port()
    stderr, stdout = tmp_path / "stderr.txt", tmp_path / "stdout.txt"
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "ITP_AUDIT_KEY_FILE": str(tmp_path / "audit.key"),
    }
    command = [
        sys.executable,
        "-m",
        "intrathecal.cli.main",
        "clinic",
        "run",
        "--database",
        f"sqlite:///{tmp_path / 'clinic.db'}",
        "--pumps",
        str(pumps),
        "--port",
        str(_free_port()),
        "--pump-port",
        str(pump_port),
    ]
    with stderr.open("wb") as err, stdout.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
    started = Run(process, pump_port, stderr, stdout)
    try:
        # Serving: its pump server answered, and the watch on it has begun.
        _until(lambda: started.serving() or process.poll() is not None, 60, "the clinic")
        assert process.poll() is None, started.said()
        yield started
    finally:
        for child in started.pump_servers():
            child.kill()
        if process.poll() is None:
            process.kill()
            process.wait()


def test_clinic_run_restarts_a_dead_pump_server_then_stops_if_it_keeps_dying(run: Run) -> None:
    first = run.pump_servers()
    assert len(first) == 1
    first[0].kill()
    _until(
        lambda: (
            [p.pid for p in run.pump_servers()] not in ([], [first[0].pid])
            and _answers(run.pump_port)
        ),
        60,
        "a restarted pump server",
    )
    assert "the pump server stopped (exit code -9); restarting it" in run.said()
    assert run.process.poll() is None  # the clinic goes on
    # It keeps dying: after the third restart within a minute the clinic stops, and says why.
    for _ in range(3):
        _until(lambda: run.pump_servers() != [] or run.process.poll() is not None, 60, "a child")
        for child in run.pump_servers():
            child.kill()
        _until(lambda: _answers(run.pump_port) or run.process.poll() is not None, 60, "restart")
    assert run.process.wait(60) == 3
    assert "4 times within 60 s; stopping the clinic" in run.said()
    assert "Traceback" not in run.said()


def test_killing_clinic_run_leaves_no_pump_server_behind(run: Run) -> None:
    (child,) = run.pump_servers()
    run.process.send_signal(signal.SIGKILL)  # no clean-up code of ours runs
    run.process.wait()
    child.wait(20)  # told by the kernel (parent-death signal); psutil raises on a timeout
    _until(lambda: not _answers(run.pump_port), 10, "the pump port to close")


def test_clinic_run_and_serve_refuse_bad_clinic_settings_naming_them(tmp_path: Path) -> None:
    env = {**os.environ, "ITP_CLINIC_CAPACITY": "lots", "PYTHONPATH": f"{ROOT / 'src'}"}
    for command in ("run", "serve"):
        result = subprocess.run(
            [sys.executable, "-m", "intrathecal.cli.main", "clinic", command, "--port", "1"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert "ITP_CLINIC_CAPACITY" in result.stderr and "Traceback" not in result.stderr
