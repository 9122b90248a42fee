"""SQLite writers queue on an OS file lock instead of SQLite's busy handler.

SQLite lets one writer in at a time; a writer that finds the lock taken is put to sleep by the
busy handler for 1, 2, 5, ... up to 100 ms between tries, whether or not the lock came free
meanwhile. Every page read writes an audit entry (issue 10), so with twenty users a page could
sleep tens of milliseconds after the lock was free (the refill wizard's p95 was four times its
median). Here a write transaction first takes a lock of the worker process (threads wake as soon
as it is released), then an exclusive ``flock`` on ``<database>-writer.lock`` shared by every
process on the file (the web workers, the CLI). The lock is released when the transaction ends
(commit, rollback or close). SQLite's own lock still guards the data: a process that does not
take this lock (an old version, the ``sqlite3`` shell) is only slower, never unsafe.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time

WRITER_LOCK = "-writer.lock"  # after the database file's name
WAIT_S = 30.0  # as long as SQLite's own busy timeout (store/db.py); then the write fails
POLL_S = 0.0005  # between tries for another process's lock (one thread per process tries)


class WriterBusyError(sqlite3.OperationalError):
    """Another writer held the database for longer than ``WAIT_S``."""


class WriterLock:
    """The database file's writer lock: one per engine (process) and file."""

    def __init__(self, database_path: str) -> None:
        self.path = f"{database_path}{WRITER_LOCK}"
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = os.getpid()

    def acquire(self) -> None:
        deadline = time.monotonic() + WAIT_S
        if not self._threads.acquire(timeout=WAIT_S):
            raise WriterBusyError(f"database is locked (no write for {WAIT_S:g} s)")
        try:
            if self._fd is None or self._pid != os.getpid():
                # Opened on first write (a read-only process never creates it), and again in a
                # forked child: a flock is shared by every process holding the same open file.
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                self._pid = os.getpid()
            while True:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise WriterBusyError(
                            f"database is locked (no write for {WAIT_S:g} s)"
                        ) from None
                    time.sleep(POLL_S)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()


class LockingConnection(sqlite3.Connection):
    """A sqlite3 connection that takes its file's writer lock for ``BEGIN IMMEDIATE`` and gives
    it back when the transaction ends (``commit``, ``rollback``, ``close``: the pool resets a
    connection returned to it with ``rollback``)."""

    writer_lock: WriterLock
    holding = False

    def begin_write(self) -> None:
        self.writer_lock.acquire()
        self.holding = True
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._let_go()
            raise

    def _let_go(self) -> None:
        if self.holding:
            self.holding = False
            self.writer_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            if not self.in_transaction:
                self._let_go()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._let_go()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._let_go()


def factory_for(database_path: str) -> type[LockingConnection]:
    """The connection class for one database file (``sqlite3.connect(..., factory=...)``)."""
    return type(
        "LockingConnection", (LockingConnection,), {"writer_lock": WriterLock(database_path)}
    )
