"""Serving the app with uvicorn, in one process or several (``itp clinic serve --workers N``).

Several workers, each with its own listening socket on the same port (SO_REUSEPORT): the
kernel hands each new connection to one of them at random, and a worker far busier than the
others closes connections until the load is even (web/worker_balance.py). uvicorn's own
``--workers`` shares one socket between the workers instead, and two problems showed in the load
benchmark (bench/clinic.py):

- whichever worker wins the race to accept takes most kept-alive connections (15 of 20), so
  one core served the clinic while the other idled;
- uvicorn binds that shared socket as protocol 0, not TCP, and asyncio sets TCP_NODELAY only
  on connections from a TCP socket: every response on a kept-alive connection then waited for
  the client's delayed ACK, about 40 ms added to a 2 ms page.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
from collections.abc import MutableSequence
from types import FrameType

import uvicorn

from intrathecal.web import worker_balance

APP = "intrathecal.web.main:app"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def listening_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A TCP socket bound to ``host:port`` (protocol TCP, so its connections get NODELAY)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto or socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


def _die_with(supervisor: int) -> None:
    """Stop this worker (SIGTERM: uvicorn finishes what is in flight) when its supervisor dies
    without stopping it (SIGKILL, a crash): an orphan would go on holding the port and the
    database, unseen. Linux only (prctl); elsewhere a killed supervisor may leave workers."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != supervisor:  # it died before the line above took effect
        os._exit(1)


def _worker(
    host: str, port: int, log_level: str, supervisor: int, loads: MutableSequence[int], index: int
) -> None:
    _die_with(supervisor)
    worker_balance.join(loads, index)  # before the app serves (web/worker_balance.py)
    sock = listening_socket(host, port, reuse_port=True)
    config = uvicorn.Config(APP, log_level=log_level, access_log=False)
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])


def _stop(signum: int, _: FrameType | None) -> None:
    raise KeyboardInterrupt(signum)


def default_base_url(host: str, port: int) -> None:
    """Links the app builds start with ITP_BASE_URL; unset, with the address served here (the
    workers inherit it). A wildcard address names no host a patient can reach: set it then."""
    if host not in ("0.0.0.0", "::", ""):
        shown = f"[{host}]" if ":" in host else host
        os.environ.setdefault("ITP_BASE_URL", f"http://{shown}:{port}")


def serve(host: str, port: int, workers: int = 1, log_level: str = "warning") -> None:
    """Serve the clinic app on ``host:port`` until interrupted (SIGINT or SIGTERM)."""
    default_base_url(host, port)
    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        # asyncio binds host:port itself, as TCP; one process, one socket.
        uvicorn.run(APP, host=host, port=port, log_level=log_level, access_log=False)
        return
    # Fail here, not in every worker, if the port is taken.
    listening_socket(host, port, reuse_port=True).close()
    spawn = multiprocessing.get_context("spawn")
    loads = spawn.RawArray("i", workers)  # each worker's requests in flight
    processes = [
        spawn.Process(
            target=_worker, args=(host, port, log_level, os.getpid(), loads, index), daemon=False
        )
        for index in range(workers)
    ]
    signal.signal(signal.SIGTERM, _stop)
    for process in processes:
        process.start()
    code = 0
    try:
        # A worker that dies stops the service (loudly) rather than leaving fewer behind.
        multiprocessing.connection.wait([p.sentinel for p in processes])
        code = next(p.exitcode for p in processes if p.exitcode is not None) or 1
        print(f"a worker exited with {code}; stopping", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for process in processes:
            process.join(timeout=30)
    if code:
        sys.exit(code)
