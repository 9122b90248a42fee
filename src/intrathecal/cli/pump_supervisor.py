"""The virtual pump server that ``itp clinic run`` starts beside the clinic, watched.

If the pump server dies while the clinic runs, the clinic says so on stderr and starts it again
(its pumps are saved on disk and keep their time); after ``MAX_RESTARTS`` deaths within
``WINDOW_S`` it gives up and stops the clinic too, rather than serve a refill wizard whose pumps
never answer. The child is also told to stop when its parent dies, however it dies (SIGKILL
included: Linux's parent-death signal), so no pump server is left behind holding the port.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence

from intrathecal.pump.client import PumpClient, PumpError

MAX_RESTARTS = 3  # deaths within WINDOW_S that are restarted; one more stops the clinic
WINDOW_S = 60.0
ANSWER_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
SIGTERM = 15


class PumpServerError(RuntimeError):
    """The pump server did not start or did not answer; the message says which."""


def _parent_death_signal() -> Callable[[], None] | None:
    """A pre-exec hook making the child receive SIGTERM when this process dies (Linux only).
    libc is loaded here, before the fork: the hook itself only makes one system call."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0)

    return hook


def spawn(command: Sequence[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(list(command), preexec_fn=_parent_death_signal())  # noqa: PLW1509 (one prctl call)


def wait_until_answering(child: subprocess.Popen[bytes], port: int, timeout_s: float) -> None:
    """Return once the server on ``port`` answers; PumpServerError if the child exits first
    (it printed why: port taken, …) or nothing answers within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        if child.poll() is not None:
            raise PumpServerError(f"the pump server exited with code {child.returncode}")
        try:
            with PumpClient("127.0.0.1", port, timeout_s=1.0, retries=0) as client:
                client.clock()
            return
        except PumpError:
            if time.monotonic() > deadline:
                raise PumpServerError(
                    f"the pump server did not answer within {timeout_s:.0f} s"
                ) from None
            time.sleep(0.2)


def stop_child(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the server saves every pump), then SIGKILL if it has not gone in 15 s."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


class Supervisor:
    """Runs ``command()`` (a fresh command line for each start), restarts it when it dies, and
    calls ``on_give_up`` once it has died more than ``max_restarts`` times in ``window_s``."""

    def __init__(
        self,
        command: Callable[[], Sequence[str]],
        port: int,
        *,
        on_give_up: Callable[[], None] = lambda: None,
        say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
        max_restarts: int = MAX_RESTARTS,
        window_s: float = WINDOW_S,
    ) -> None:
        self._command = command
        self._port = port
        self._on_give_up = on_give_up
        self._say = say
        self._max_restarts = max_restarts
        self._window_s = window_s
        self._lock = threading.Lock()
        self._stopping = False
        self._deaths: list[float] = []
        self.gave_up = False
        self.child: subprocess.Popen[bytes] | None = None
        self._watcher: threading.Thread | None = None

    def poll(self) -> int | None:
        """None while a pump server runs; its exit code once it has stopped."""
        return None if self.child is None else self.child.poll()

    def start(self) -> None:
        """Start the server and wait for it to answer (PumpServerError if it does not)."""
        self.child = spawn(self._command())
        try:
            wait_until_answering(self.child, self._port, ANSWER_TIMEOUT_S)
        except PumpServerError:
            stop_child(self.child)
            raise
        self._watcher = threading.Thread(target=self._watch, name="pump-server-watch", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while True:
            child = self.child
            assert child is not None
            code = child.wait()
            with self._lock:
                if self._stopping:
                    return
                now = time.monotonic()
                self._deaths = [t for t in self._deaths if now - t < self._window_s] + [now]
                if len(self._deaths) > self._max_restarts:
                    self.gave_up = True
                    self._say(
                        f"the pump server stopped (exit code {code}) {len(self._deaths)} times "
                        f"within {self._window_s:.0f} s; stopping the clinic"
                    )
                    break
                self._say(f"the pump server stopped (exit code {code}); restarting it")
                # Spawned under the lock: stop() either sees this child or prevents it.
                self.child = spawn(self._command())
            try:
                wait_until_answering(self.child, self._port, ANSWER_TIMEOUT_S)
                self._say(f"the pump server is answering again on 127.0.0.1:{self._port}")
            except PumpServerError as exc:
                if not self._stopping:  # (stopped on purpose meanwhile: nothing to tell)
                    self._say(str(exc))  # counted as a death on the next turn
        self._on_give_up()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            child = self.child
        if child is not None:
            stop_child(child)
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(STOP_TIMEOUT_S)
