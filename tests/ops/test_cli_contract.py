"""The `itp` contract of docs/cli.md: `--json` on every command that prints a result, and the
four exit codes (0 done, 1 not allowed or a failed check, 2 bad input, 3 internal error)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from intrathecal.cli.main import app
from intrathecal.cli.output import guarded_main
from tests.conftest import EXAMPLES, ROOT

# Commands that print no result of their own (docs/cli.md, "JSON").
NO_RESULT = {
    "clinic serve": "a server",
    "clinic run": "a server",
    "outcomes fhir questionnaire": "prints a FHIR JSON document",
    "outcomes fhir export": "prints a FHIR JSON document",
}


def _commands(command: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _commands(sub, [*path, name])
    else:
        yield " ".join(path), command


COMMANDS = dict(_commands(typer.main.get_command(app), []))


def test_every_command_that_prints_a_result_takes_json() -> None:
    assert len(COMMANDS) > 40
    missing = [
        name
        for name, command in COMMANDS.items()
        if name not in NO_RESULT
        and "--json" not in {o for p in command.params for o in getattr(p, "opts", [])}
    ]
    assert not missing, f"add --json to: {missing}"
    assert set(NO_RESULT) <= set(COMMANDS)


def test_the_source_exits_only_with_the_documented_codes() -> None:
    codes: set[str] = set()
    for path in (ROOT / "src" / "intrathecal" / "cli").glob("*.py"):
        codes |= set(re.findall(r"Exit\((\d+)\)", path.read_text(encoding="utf-8")))
    assert codes <= {"0", "1", "2", "3"}


def _run(*args: str) -> int:
    return CliRunner().invoke(app, list(args)).exit_code


def test_exit_0_done() -> None:
    assert _run("program", "check", str(EXAMPLES / "morphine-20.toml")) == 0


def test_exit_1_not_allowed() -> None:
    blocked = _run(
        "refill",
        "concentration",
        str(EXAMPLES / "morphine-12.toml"),
        "--interval",
        "120 days",
        "--filled",
        "20 mL",
    )
    assert blocked == 1


def test_exit_2_bad_input(tmp_path: Path) -> None:
    assert _run("program", "check", str(tmp_path / "missing.toml")) == 2
    assert _run("refill", "plan", str(EXAMPLES / "morphine-20.toml"), "--filled", "20") == 2
    assert _run("program", "check", "--no-such-option") == 2


def test_exit_3_internal_error_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    broken = typer.Typer()

    @broken.command()
    def fails() -> None:
        raise RuntimeError("a bug")

    with pytest.raises(SystemExit) as ended:
        import sys

        argv, sys.argv = sys.argv, ["itp"]
        try:
            guarded_main(broken)
        finally:
            sys.argv = argv
    assert ended.value.code == 3
    err = capsys.readouterr().err
    assert err.startswith("internal error: RuntimeError: a bug")
    assert "Traceback" not in err


def test_every_command_is_in_the_command_reference() -> None:
    reference = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    missing = [name for name in COMMANDS if f"| `itp {name}` |" not in reference]
    assert not missing, f"add to docs/cli.md's command reference: {missing}"


@pytest.mark.parametrize(("value", "traceback"), [("0", False), ("", False), ("1", True)])
def test_itp_debug_shows_the_traceback_only_when_on(
    value: str, traceback: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ITP_DEBUG", value)
    broken = typer.Typer()

    @broken.command()
    def fails() -> None:
        raise RuntimeError("a bug")

    import sys

    monkeypatch.setattr(sys, "argv", ["itp"])
    if traceback:
        with pytest.raises(RuntimeError):
            guarded_main(broken)
    else:
        with pytest.raises(SystemExit):
            guarded_main(broken)
