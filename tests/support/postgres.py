"""A throwaway PostgreSQL server for the test session, from Debian's package.

The first call starts one server (initdb in a temporary folder, trust authentication, loopback
only, a free port) and every call returns the URL of a new, empty database on it. The server is
stopped when the test process exits. Returns None when Debian's PostgreSQL binaries are absent,
so a caller can skip with a clear reason (.ci/run installs them).
"""

from __future__ import annotations

import atexit
import functools
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

_counter = itertools.count()


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_postgres(args: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; Debian's package creates the postgres user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@functools.cache
def _start() -> tuple[str, int] | None:
    bin_dir = _bin_dir()
    if bin_dir is None:
        return None
    root = Path(tempfile.mkdtemp(prefix="itp-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (root, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
    subprocess.run(
        _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]),
        check=True,
        capture_output=True,
    )
    port = _free_port()
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-w",
                "-l",
                str(root / "log"),
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )

    def stop() -> None:
        subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)
    return "127.0.0.1", port


def postgres_url() -> str | None:
    """URL (SQLAlchemy, psycopg 3) of a new empty database, or None without PostgreSQL."""
    server = _start()
    if server is None:
        return None
    host, port = server
    name = f"itp_test_{os.getpid()}_{next(_counter)}"
    import psycopg

    with psycopg.connect(f"host={host} port={port} user=postgres dbname=postgres") as conn:
        conn.autocommit = True
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@{host}:{port}/{name}"
