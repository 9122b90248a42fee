"""One real Dask cluster per test session: a ``dask scheduler`` and two ``dask worker``
processes on loopback, started from the venv's executables with this checkout on the path."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def dask_scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    dask = BIN / "dask"
    if not dask.exists():
        pytest.skip("dask is not installed in this environment")
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("dask")
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, *args: str) -> None:
        log = (logs / f"{name}.log").open("wb")
        procs.append(
            subprocess.Popen(
                [str(dask), *args], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=logs
            )
        )

    start(
        "scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port),
        "--dashboard-address", ":0", "--no-show",
    )  # fmt: skip
    for i in range(2):
        start(
            f"worker{i}", "worker", address, "--nthreads", "1", "--nworkers", "1",
            "--host", "127.0.0.1", "--dashboard-address", ":0", "--no-nanny",
        )  # fmt: skip
    try:
        from distributed import Client

        deadline = time.monotonic() + 60
        with Client(address, timeout="30s") as client:
            while len(client.scheduler_info()["workers"]) < 2:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the Dask workers did not start; see {logs}")
                time.sleep(0.2)
        yield address
    finally:
        for proc in procs[::-1]:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
