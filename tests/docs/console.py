"""The manual's console examples: parsing the ```console blocks and matching their output.

A block is a run of ``$ itp ...`` commands, each followed by the exact text the CLI prints
(stdout and stderr together). In the expected text a line that is only "…" stands for any number
of lines (none included), and "…" inside a line for any text on that line. A comment after a
command is a comment (``# exit code 2`` also says which exit code the command ends with; without
one it must end with 0 or 1, the codes of an answer). A command ending in ``&`` is started in
the background (a server) and stopped at the end of its block; its first line is matched.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ELLIPSIS = "…"
EXIT_COMMENT = re.compile(r"exit code (\d)")


@dataclass
class Command:
    line: str  # as written, for messages
    argv: list[str]  # without the leading "itp"
    expected: list[str] = field(default_factory=list)
    exit_code: int | None = None
    background: bool = False


@dataclass
class Example:
    source: str  # file:line
    commands: list[Command]


def examples(folder: Path, *extra: Path) -> list[Example]:
    found: list[Example] = []
    for path in [*sorted(folder.rglob("*.md")), *extra]:
        found += _blocks(path, path.relative_to(folder.parent).as_posix())
    return found


def _blocks(path: Path, name: str) -> list[Example]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Example] = []
    index = 0
    while index < len(lines):
        if lines[index].strip() != "```console":
            index += 1
            continue
        start, index = index + 1, index + 1
        body: list[str] = []
        while index < len(lines) and lines[index].strip() != "```":
            body.append(lines[index])
            index += 1
        found.append(Example(f"{name}:{start}", _commands(body, f"{name}:{start}")))
        index += 1
    return found


def _commands(body: list[str], where: str) -> list[Command]:
    commands: list[Command] = []
    for line in body:
        if line.startswith("$ "):
            words = shlex.split(line[2:], comments=True)
            comment = line[2:].split(" #", 1)[1] if " #" in line[2:] else ""
            if not words or words[0] != "itp":
                raise ValueError(
                    f"{where}: {line!r}: a console block runs `itp` commands only "
                    "(show other commands in a ```sh block)"
                )
            background = words[-1] == "&"
            code = EXIT_COMMENT.search(comment)
            commands.append(
                Command(
                    line=line,
                    argv=words[1:-1] if background else words[1:],
                    exit_code=int(code.group(1)) if code else None,
                    background=background,
                )
            )
        elif not commands:
            raise ValueError(f"{where}: output before the first `$ itp` command: {line!r}")
        else:
            commands[-1].expected.append(line)
    return commands


def pattern(expected: list[str]) -> re.Pattern[str]:
    """The expected lines as a regular expression over the whole output."""
    parts: list[str] = []
    for line in expected:
        if line.strip() == ELLIPSIS:
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            pieces = [re.escape(p) for p in line.rstrip().split(ELLIPSIS)]
            parts.append(r"[^\n]*?".join(pieces) + r"[ \t]*\n")
    return re.compile("".join(parts))


def matches(expected: list[str], output: str) -> bool:
    text = "\n".join(line.rstrip() for line in output.rstrip("\n").splitlines()) + "\n"
    if not output.strip():
        text = ""
    return pattern(expected).fullmatch(text) is not None
