"""Every console example of the manual (docs/*.md, README.md) runs against the real CLI, and its
output must match what the page shows (tests/docs/console.py says how "…" elides). A changed
output fails here, so the manual cannot drift from the program."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from intrathecal.cli.main import app
from tests.conftest import ROOT
from tests.docs.console import Command, Example, examples, matches

EXAMPLES = examples(ROOT / "docs", ROOT / "README.md")
DEFAULT_PUMP_PORT = 7474  # what the pages show; the test serves on a free port instead


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh folder with the examples where the pages expect them (examples/...), and the
    environment of a user's shell (no test audit key: the clinic makes its key file)."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.delenv("ITP_AUDIT_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def _takes_port(argv: list[str]) -> bool:
    return argv[:1] == ["pump"] and "--port" not in argv and argv[1:2] != ["create"]


def _on_port(argv: list[str], port: int) -> list[str]:
    return [*argv, "--port", str(port)] if _takes_port(argv) else argv


def _shown(expected: list[str], port: int) -> list[str]:
    return [line.replace(f":{DEFAULT_PUMP_PORT}", f":{port}") for line in expected]


def _start(command: Command, port: int, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    child = subprocess.Popen(
        [sys.executable, "-m", "intrathecal.cli.main", *_on_port(command.argv, port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
        env=env,
    )
    first = child.stdout.readline() if child.stdout else ""
    assert matches(_shown(command.expected, port), first), (
        f"{command.line}\nexpected:\n" + "\n".join(command.expected) + f"\ngot:\n{first}"
    )
    time.sleep(0.1)
    return child


PAGES: dict[str, list[Example]] = {}
for found in EXAMPLES:
    PAGES.setdefault(found.source.split(":")[0], []).append(found)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_console_examples(page: str, workdir: Path) -> None:
    """A page's examples run in order in one folder, as a reader types them in one shell."""
    for example in PAGES[page]:
        _run_example(example, workdir)


def _run_example(example: Example, workdir: Path) -> None:
    runner = CliRunner()
    port = _free_port()
    background: list[subprocess.Popen[str]] = []
    try:
        for command in example.commands:
            if command.background:
                background.append(_start(command, port, workdir))
                continue
            result = runner.invoke(app, _on_port(command.argv, port))
            output = result.output
            expected = _shown(command.expected, port)
            assert matches(expected, output), (
                f"{example.source}: {command.line}\n--- the page shows:\n"
                + "\n".join(command.expected)
                + f"\n--- the CLI printed (exit {result.exit_code}):\n{output}"
            )
            allowed = {command.exit_code} if command.exit_code is not None else {0, 1}
            assert result.exit_code in allowed, (
                f"{example.source}: {command.line} exited {result.exit_code}: {output}"
            )
    finally:
        for child in background:
            child.terminate()
            child.wait(10)


def test_the_runner_elides_as_documented() -> None:
    assert matches(["a", "…", "d"], "a\nb\nc\nd\n")
    assert matches(["a", "…", "b"], "a\nb\n")
    assert matches(["x = 0.28…,"], "x = 0.2866,\n")
    assert not matches(["a", "b"], "a\nb\nc\n")  # an extra line is a change
    assert not matches(["a", "…"], "b\n")
    assert re.escape("…") == "…"
