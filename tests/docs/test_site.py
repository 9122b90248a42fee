"""The manual builds: `mkdocs build --strict` with every link, anchor and nav entry checked
(mkdocs.yml's validation turns each into a warning, strict mode into a failure), and the short
README's links point at pages that exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    config = ["--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")]
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", *config],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert (tmp_path / "site" / "index.html").exists()


def test_every_readme_link_to_the_manual_exists() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert targets, "the README points at the manual"
    missing = [t for t in targets if not (ROOT / t).is_file()]
    assert not missing


def test_the_readme_stays_short_and_carries_the_disclaimer() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 60
    assert "not a medical device" in readme
    assert "make run" in readme and "make test" in readme
