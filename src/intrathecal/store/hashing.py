"""Password hashing (argon2id) on threads of lower CPU priority.

One check takes about 0.16 s of CPU within 0.1 s (its four lanes run on threads of their own):
at the web workers' priority, every sign-in and every co-signed refill took both cores of a
small server from the pages in flight. On threads at nice ``NICE`` (on Linux a thread has its
own priority, and the threads argon2 starts inherit it) a busy server serves its pages first; an
idle one hashes as fast as before. Where a thread's priority cannot be set, hashing runs as
before, at the process's priority.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

NICE = 10  # a CPU share of about a tenth against a busy page thread (Linux CFS weights)
THREADS = 2  # checks at once per process; more would only share the same cores

T = TypeVar("T")
_pools: dict[int, ThreadPoolExecutor] = {}
_made = threading.Lock()


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not Linux, or not allowed: as before
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)


def _pool() -> ThreadPoolExecutor:
    # One per process: a forked child does not inherit its parent's threads.
    pid = os.getpid()
    with _made:
        if pid not in _pools:
            _pools[pid] = ThreadPoolExecutor(
                THREADS, thread_name_prefix="argon2", initializer=_lower_priority
            )
        return _pools[pid]


def submit(work: Callable[[], T]) -> Future[T]:
    """``work`` (a hash or a check) started on a low-priority thread; the caller need not wait
    for it on a thread of its own (the web layer awaits it on its event loop)."""
    return _pool().submit(work)


def answered(value: T) -> Future[T]:
    """A future that already holds ``value``: an answer found without hashing."""
    future: Future[T] = Future()
    future.set_result(value)
    return future


def run(work: Callable[[], T]) -> T:
    """``work`` (a hash or a check) on a low-priority thread; its answer or its exception."""
    return submit(work).result()
