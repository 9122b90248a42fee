"""store/programs.parse keeps what it parsed: a stored version's text never changes and a
Program is immutable, so a refill's preview, its save, the chart and the wizard share one parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from intrathecal.library import default_library
from intrathecal.store import programs
from intrathecal.therapy.parse import parse_program

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_same_text_is_parsed_once_and_matches_a_fresh_parse() -> None:
    text = (EXAMPLES / "morphine-12.toml").read_text()
    first = programs.parse(text)
    assert programs.parse(text) is first
    assert first == parse_program(text, default_library(), name="program", check_limits=False)


def test_other_text_or_name_is_another_program() -> None:
    twelve = (EXAMPLES / "morphine-12.toml").read_text()
    twenty = (EXAMPLES / "morphine-20.toml").read_text()
    assert programs.parse(twelve) != programs.parse(twenty)
    assert programs.parse(twelve, name="version 3").name == "version 3"


def test_text_that_does_not_parse_raises_every_time() -> None:
    for _ in range(2):  # an error is not kept as an answer
        with pytest.raises(Exception, match=r"(?i)toml"):
            programs.parse("this is [not toml")
