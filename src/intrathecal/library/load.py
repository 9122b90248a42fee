"""Load the library shipped in the package (``library/data/*.toml``)."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from intrathecal.library.parse import parse_library
from intrathecal.library.records import Library


def library_texts() -> tuple[str, str]:
    data = files("intrathecal.library") / "data"
    drugs = (data / "drugs.toml").read_text(encoding="utf-8")
    devices = (data / "devices.toml").read_text(encoding="utf-8")
    return drugs, devices


@lru_cache(maxsize=1)
def default_library() -> Library:
    """The bundled library, parsed and validated once per process."""
    return parse_library(*library_texts())
