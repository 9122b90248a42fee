"""The firmware core stays pure: no I/O, no clock, no sockets (design guidance for issue 4)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import intrathecal.pump

CORE = [
    "alarms",
    "battery",
    "commands",
    "door",
    "firmware",
    "frame",
    "monitor",
    "mri_handlers",
    "recovery",
    "state",
]
FORBIDDEN = {
    "asyncio",
    "os",
    "pathlib",
    "selectors",
    "socket",
    "subprocess",
    "tempfile",
    "threading",
    "time",
    "intrathecal.pump.persistence",
    "intrathecal.pump.server",
    "intrathecal.pump.client",
}


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_nothing_impure(module: str) -> None:
    path = Path(intrathecal.pump.__file__).parent / f"{module}.py"
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert not {name for name in imported if name.split(".")[0] in FORBIDDEN or name in FORBIDDEN}
