"""``itp clinic serve --workers N``: each worker's own TCP socket on one port."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from intrathecal.web.serve import listening_socket


def test_workers_bind_their_own_sockets_on_one_port() -> None:
    first = listening_socket("127.0.0.1", 0, reuse_port=True)
    port = first.getsockname()[1]
    second = listening_socket("127.0.0.1", port, reuse_port=True)  # no "address in use"
    try:
        assert second.getsockname()[1] == port
    finally:
        first.close()
        second.close()


def test_connections_accepted_from_it_get_tcp_nodelay() -> None:
    # asyncio sets TCP_NODELAY only when the listening socket says it is TCP; without it every
    # response on a kept-alive connection waits for the client's delayed ACK (~40 ms).
    async def accepted_nodelay() -> int:
        sock = listening_socket("127.0.0.1", 0, reuse_port=True)
        sock.listen()
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                conn = transport.get_extra_info("socket")
                accepted.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", sock.getsockname()[1])
            result = await asyncio.wait_for(accepted, 5)
            writer.close()
        return result

    with listening_socket("127.0.0.1", 0, reuse_port=False) as plain:
        assert plain.proto == socket.IPPROTO_TCP
    # A loop of its own in a thread of its own (a browser test's loop may run in this one).
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, accepted_nodelay()).result(timeout=10) != 0


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")  # exited (a zombie waits for init to reap it)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    """``itp clinic serve --workers 2`` killed with SIGKILL (no chance to stop its workers):
    the workers stop too, leaving no orphan holding the port."""
    with listening_socket("127.0.0.1", 0, reuse_port=False) as probe:
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "intrathecal.cli.main", "clinic", "serve"]
    command += ["--database", f"sqlite:///{tmp_path / 'clinic.db'}", "--port", str(port)]
    server = subprocess.Popen([*command, "--workers", "2"], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        children: list[int] = []
        while len(children) < 2 or not _answers(port):
            assert server.poll() is None and time.monotonic() < deadline
            task = Path(f"/proc/{server.pid}/task/{server.pid}/children")
            children = [int(pid) for pid in task.read_text().split()]
            time.sleep(0.2)
        server.send_signal(signal.SIGKILL)
        server.wait()
        deadline = time.monotonic() + 30
        while not all(_gone(pid) for pid in children):
            assert time.monotonic() < deadline, "a worker outlived its supervisor"
            time.sleep(0.2)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return conn.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        return False
