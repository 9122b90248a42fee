"""requirements.lock pins every dependency pyproject.toml names, each with a hash (issue 10.13).

`make` installs from the lock with --require-hashes; a dependency added to pyproject.toml without
`make lock` would otherwise be missing on a fresh machine.
"""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement

from tests.conftest import ROOT


def _pins() -> dict[str, tuple[str, list[str]]]:
    text = (ROOT / "requirements.lock").read_text()
    pins: dict[str, tuple[str, list[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", block)
        if match:
            name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
            pins[name] = (match.group(2), re.findall(r"--hash=sha256:[0-9a-f]{64}", block))
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    names = project["project"]["dependencies"] + project["project"]["optional-dependencies"]["dev"]
    names += project["build-system"]["requires"]
    return [Requirement(n) for n in names]


def test_every_declared_dependency_is_pinned_with_a_hash_in_the_lock() -> None:
    pins = _pins()
    for requirement in _declared():
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"
        version, hashes = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {name}=={version}, outside {requirement.specifier}"
        )
        assert hashes, f"{name} has no hash in requirements.lock"


def test_the_lock_names_no_machine_specific_index() -> None:
    text = (ROOT / "requirements.lock").read_text()
    assert "--extra-index-url" not in text
    assert "--find-links" not in text
