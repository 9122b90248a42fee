"""Deployment settings of the clinic app, read once from the environment at start.

- ``ITP_BASE_URL``: the address patients and staff reach the app at, e.g.
  ``https://clinic.example.org``. Links the app builds (one-time questionnaire links) start with
  it, never with the request's Host header (which a client chooses). Unset: the links start
  with ``http://127.0.0.1:8000`` (the address ``make run`` serves on).
- ``ITP_COOKIE_SECURE``: ``1`` when the app runs behind a TLS proxy: the session cookie gets the
  Secure flag although the app itself sees plain http. Unset: the flag is set only when the
  request itself came over https.
- ``ITP_CLINIC_TZ`` (read by ``web/display.py``): the clinic's time zone; the refill calendar's
  days are its days.
- ``ITP_CLINIC_DAYS``: the weekdays the clinic does refills, e.g. ``Mon-Fri`` (the default) or
  ``Mon,Wed,Fri``. A refill due on another day is booked on the opening day before it.
- ``ITP_CLINIC_CAPACITY``: refills the clinic does in one day (default 40, 1 to 10,000). A day
  with more due passes its earliest-due patients to the opening day before it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from fastapi import Request

from intrathecal.clinical.clinic_days import DEFAULT_CAPACITY, DEFAULT_DAYS, ClinicDays, parse_days
from intrathecal.units import InputError

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
TRUE = {"1", "true", "yes", "on"}
FALSE = {"", "0", "false", "no", "off"}


class SettingsError(ValueError):
    """A setting that cannot be used: named, with what it should look like."""


@dataclass(frozen=True)
class Settings:
    base_url: str = DEFAULT_BASE_URL
    cookie_secure: bool = False
    clinic_days: ClinicDays = field(
        default_factory=lambda: ClinicDays(parse_days(DEFAULT_DAYS), DEFAULT_CAPACITY)
    )

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


def clinic_days(days: str, capacity: str) -> ClinicDays:
    text = capacity.strip() or str(DEFAULT_CAPACITY)
    if not text.isascii() or not text.isdigit():
        raise SettingsError(
            f"ITP_CLINIC_CAPACITY must be a whole number of refills, not {capacity!r}"
        )
    try:
        return ClinicDays(parse_days(days.strip() or DEFAULT_DAYS), int(text))
    except InputError as exc:
        name = "ITP_CLINIC_DAYS" if exc.field == "open days" else "ITP_CLINIC_CAPACITY"
        raise SettingsError(f"{name}: {exc.message}") from None


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    values = os.environ if env is None else env
    secure = values.get("ITP_COOKIE_SECURE", "").strip().lower()
    if secure not in TRUE | FALSE:
        raise SettingsError(f"ITP_COOKIE_SECURE must be 1 or 0, not {secure!r}")
    raw_url = values.get("ITP_BASE_URL", "")
    return Settings(
        base_url=_base_url(raw_url) if raw_url.strip() else DEFAULT_BASE_URL,
        cookie_secure=secure in TRUE,
        clinic_days=clinic_days(
            values.get("ITP_CLINIC_DAYS", ""), values.get("ITP_CLINIC_CAPACITY", "")
        ),
    )


def of(request: Request) -> Settings:
    found: Settings = request.app.state.settings
    return found
