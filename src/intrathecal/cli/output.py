"""Reading inputs and reporting results and errors, the same way for every command."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import typer

from intrathecal.library import default_library
from intrathecal.therapy.errors import InvalidProgramError
from intrathecal.therapy.parse import parse_program
from intrathecal.therapy.program import Program
from intrathecal.units import InputError

DISCLAIMER = (
    "Reference calculation for trained clinicians. Not a substitute for the device's labelling "
    "and clinical judgement; values marked UNVERIFIED were not confirmed in their source."
)
# Exit codes of every itp command: 0 done, 1 refused or a check failed, 2 bad input,
# 3 internal error.
EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


class UserError(Exception):
    """Bad input found by the CLI itself (files, options)."""

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


def fail(errors: list[InputError], as_json: bool) -> NoReturn:
    if as_json:
        payload = {
            "ok": False,
            "errors": [{"field": e.field, "message": e.message} for e in errors],
        }
        typer.echo(json.dumps(payload, indent=2))
    else:
        typer.echo("error:" if len(errors) == 1 else f"{len(errors)} errors:", err=True)
        for error in errors:
            typer.echo(f"  - {error}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


@contextmanager
def reported(as_json: bool) -> Iterator[None]:
    """Turn every expected kind of bad input into a clear message and a non-zero exit."""
    try:
        yield
    except InvalidProgramError as exc:
        fail(exc.errors, as_json)
    except InputError as exc:
        fail([exc], as_json)
    except UserError as exc:
        fail(exc.errors, as_json)


def read_text(path: Path, field: str) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(field, f"file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise InputError(field, f"{str(path)!r} is a directory, not a file") from None
    except OSError as exc:
        raise InputError(field, f"cannot read {str(path)!r}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(field, f"{str(path)!r} is not UTF-8 text") from None


def load_program(path: Path, field: str = "PROGRAM") -> Program:
    text = read_text(path, field)
    if not text.strip():
        raise InputError(str(path), "is empty; a program needs at least a device, drugs and basal")
    return parse_program(text, default_library(), name=path.stem)


def parse_instant(value: str, field: str) -> float:
    """ISO 8601 with a UTC offset (2026-01-05T10:00:00Z) -> seconds since 1970 UTC."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(
            field, f"{value!r} is not an ISO 8601 time like 2026-01-05T10:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise InputError(
            field, f"{value!r} has no UTC offset; pump time is UTC, write e.g. 2026-01-05T10:00:00Z"
        )
    return moment.timestamp()


def emit(as_json: bool, payload: dict[str, Any], text: str) -> None:
    if as_json:
        typer.echo(json.dumps({"ok": True, **payload}, indent=2))
    else:
        typer.echo(text)


def guarded_main(app: typer.Typer) -> None:
    """Run the app; an unexpected failure is reported in one line, never as a traceback."""
    try:
        app()
    except SystemExit:
        raise
    except Exception as exc:  # last resort: users never see a stack trace
        # Only a true value ("1", "true", "yes", "on"): ITP_DEBUG=0 used to show tracebacks.
        if os.environ.get("ITP_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}:
            raise
        sys.stderr.write(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "Nothing was changed. Set ITP_DEBUG=1 to see the details and please report it.\n"
        )
        sys.exit(EXIT_INTERNAL)
