"""Debian's chromium for Playwright (Playwright's own browser downloads are not used)."""

from __future__ import annotations

import shutil


def chromium_path() -> str | None:
    """Path of Debian's chromium, or None when it is not installed (.ci/run installs it)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


# Flags that let chromium run headless as root in a container without a user namespace sandbox.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
