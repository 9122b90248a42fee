"""Deployment settings of the clinic app, read once from the environment at start.

- ``ITP_BASE_URL``: the address patients and staff reach the app at, e.g.
  ``https://clinic.example.org``. Links the app builds (one-time questionnaire links) start with
  it, never with the request's Host header (which a client chooses). Unset: the links start
  with ``http://127.0.0.1:8000`` (the address ``make run`` serves on).
- ``ITP_COOKIE_SECURE``: ``1`` when the app runs behind a TLS proxy: the session cookie gets the
  Secure flag although the app itself sees plain http. Unset: the flag is set only when the
  request itself came over https.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
TRUE = {"1", "true", "yes", "on"}
FALSE = {"", "0", "false", "no", "off"}


class SettingsError(ValueError):
    """A setting that cannot be used: named, with what it should look like."""


@dataclass(frozen=True)
class Settings:
    base_url: str = DEFAULT_BASE_URL
    cookie_secure: bool = False

    def link(self, path: str) -> str:
        """An absolute link to ``path`` ("/q/…") on the configured base URL."""
        return f"{self.base_url}{path}"


def _base_url(raw: str) -> str:
    url = raw.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingsError(
            f"ITP_BASE_URL must be an http(s) address like https://clinic.example.org, not {raw!r}"
        )
    return url


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    values = os.environ if env is None else env
    secure = values.get("ITP_COOKIE_SECURE", "").strip().lower()
    if secure not in TRUE | FALSE:
        raise SettingsError(f"ITP_COOKIE_SECURE must be 1 or 0, not {secure!r}")
    raw_url = values.get("ITP_BASE_URL", "")
    return Settings(
        base_url=_base_url(raw_url) if raw_url.strip() else DEFAULT_BASE_URL,
        cookie_secure=secure in TRUE,
    )


def of(request: Request) -> Settings:
    found: Settings = request.app.state.settings
    return found
