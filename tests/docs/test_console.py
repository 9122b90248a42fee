"""The example runner's own rules (tests/docs/console.py): what a console block may hold and
how its expected text is matched."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.console import examples, matches

PAGE = """# A page

```console
$ itp program check examples/x.toml --json   # exit code 2
{
  "ok": false,
…
}
$ itp pump serve --state pumps &
serving …
```
"""


def test_a_page_is_parsed_into_commands(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text(PAGE)
    [example] = examples(tmp_path / "docs")
    check, serve = example.commands
    assert example.source == "docs/page.md:3"
    assert check.argv == ["program", "check", "examples/x.toml", "--json"]
    assert (check.exit_code, check.background) == (2, False)
    assert check.expected == ["{", '  "ok": false,', "…", "}"]
    assert serve.background and serve.argv == ["pump", "serve", "--state", "pumps"]


@pytest.mark.parametrize(
    "body", ["$ curl -s localhost:8000/healthz", "output before any command\n$ itp --help"]
)
def test_a_console_block_holds_itp_commands_only(body: str, tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text(f"```console\n{body}\n```\n")
    with pytest.raises(ValueError, match=r"docs/page\.md:1"):
        examples(tmp_path / "docs")


def test_a_changed_output_does_not_match() -> None:
    assert matches(["volume: 0.28 mL"], "volume: 0.28 mL\n")
    assert not matches(["volume: 0.28 mL"], "volume: 0.29 mL\n")
    assert not matches(["volume: 0.28 mL"], "volume: 0.28 mL\nextra line\n")
    assert not matches(["a", "b"], "a\n")
    assert matches([], "")
