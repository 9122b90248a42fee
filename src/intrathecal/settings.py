"""Every setting the clinic service reads from its environment, in one object, checked at start.

``load()`` reads them all (pydantic-settings) and refuses a bad value with a message naming the
variable, what it must look like and what it got; ``itp clinic ...`` commands and the web app
call it before they start, so a typo stops the start instead of a request hours later. The
modules that use a setting keep reading it where it is used (``store.db``, ``store.audit_key``,
``web.settings``, ``web.client_time``, ``web.pump_client_link``, ``cli.output``); this object
is their one description and their one check. docs/configuration.md lists them, and a test
fails when the code reads a variable the table does not name.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"", "0", "false", "no", "off"})
AUDIT_KEY_MIN_BYTES = 32


class SettingsError(ValueError):
    """One or more settings cannot be used; ``problems`` names each ("NAME: why")."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def _flag(name: str, value: Any) -> bool:
    text = str(value).strip().lower()
    if text not in TRUE | FALSE:
        raise ValueError(f"must be 1 or 0 (or true/false, yes/no, on/off), not {value!r}")
    return text in TRUE


class Settings(BaseSettings):
    """The environment of the clinic service (names as the variables are spelt)."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", populate_by_name=False)

    database_url: str = Field("", validation_alias="DATABASE_URL")
    audit_key: str = Field("", validation_alias="ITP_AUDIT_KEY", repr=False)
    audit_key_file: str = Field("", validation_alias="ITP_AUDIT_KEY_FILE")
    base_url: str = Field("", validation_alias="ITP_BASE_URL")
    cookie_secure: str = Field("", validation_alias="ITP_COOKIE_SECURE")
    client_clock_skew_s: str = Field("", validation_alias="ITP_CLIENT_CLOCK_SKEW_S")
    pump_host: str = Field("", validation_alias="ITP_PUMP_HOST")
    pump_port: str = Field("", validation_alias="ITP_PUMP_PORT")
    pump_timeout_s: str = Field("", validation_alias="ITP_PUMP_TIMEOUT_S")
    debug: str = Field("", validation_alias="ITP_DEBUG")
    clinic_tz: str = Field("", validation_alias="ITP_CLINIC_TZ")
    clinic_days: str = Field("", validation_alias="ITP_CLINIC_DAYS")
    clinic_capacity: str = Field("", validation_alias="ITP_CLINIC_CAPACITY")

    @field_validator("clinic_tz")
    @classmethod
    def _clinic_tz(cls, value: str) -> str:
        from intrathecal.web.display import ZoneError, zone_named

        if value.strip():
            try:
                zone_named(value)
            except ZoneError:
                raise ValueError(
                    f"must be an IANA time zone name such as Europe/London, not {value!r}"
                ) from None
        return value.strip()

    @field_validator("clinic_days")
    @classmethod
    def _clinic_days(cls, value: str) -> str:
        return _clinic_setting(value, "")

    @field_validator("clinic_capacity")
    @classmethod
    def _clinic_capacity(cls, value: str) -> str:
        return _clinic_setting("", value)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if not scheme.startswith(("sqlite", "postgres")):
            raise ValueError(
                "must be a URL like postgresql+psycopg://user:pass@host/clinic or "
                f"sqlite:///path/clinic.db, not {_shown(value)!r}"
            )
        return value

    @field_validator("audit_key")
    @classmethod
    def _audit_key(cls, value: str) -> str:
        text = value.strip()
        if not text:
            return text
        try:
            secret = (
                bytes.fromhex(text)
                if len(text) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in text)
                else base64.b64decode(text, validate=True)
            )
        except (binascii.Error, ValueError):
            raise ValueError("must be hex or base64 (the value is not shown)") from None
        if len(secret) < AUDIT_KEY_MIN_BYTES:
            raise ValueError(f"must be at least {AUDIT_KEY_MIN_BYTES} bytes (64 hex digits)")
        return text

    @field_validator("audit_key_file")
    @classmethod
    def _audit_key_file(cls, value: str) -> str:
        if value.strip() and Path(value.strip()).is_dir():
            raise ValueError(f"{value!r} is a directory; name the key file itself")
        return value.strip()

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        if not url:
            return url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ValueError(
                f"must be an http(s) address like https://clinic.example.org, not {value!r}"
            )
        return url

    @field_validator("cookie_secure", "debug")
    @classmethod
    def _flags(cls, value: str) -> str:
        _flag("", value)
        return value.strip()

    @field_validator("client_clock_skew_s")
    @classmethod
    def _skew(cls, value: str) -> str:
        return _number(value, 0, 86_400, "seconds from 0 to 86400", low_open=False)

    @field_validator("pump_timeout_s")
    @classmethod
    def _timeout(cls, value: str) -> str:
        return _number(value, 0, 60, "seconds above 0 and at most 60", low_open=True)

    @field_validator("pump_port")
    @classmethod
    def _port(cls, value: str) -> str:
        text = value.strip()
        if text and not (text.isdigit() and 1 <= int(text) <= 65535):
            raise ValueError(f"must be a port number from 1 to 65535, not {value!r}")
        return text

    @field_validator("pump_host")
    @classmethod
    def _host(cls, value: str) -> str:
        text = value.strip()
        if ":" in text:  # only an IPv6 address has colons here (the port is ITP_PUMP_PORT)
            try:
                ipaddress.IPv6Address(text)
            except ValueError:
                raise ValueError(
                    f"must be a host name or address like 127.0.0.1 (no port), not {value!r}"
                ) from None
        elif any(c in text for c in " /@"):
            raise ValueError(f"must be a host name or address like 127.0.0.1, not {value!r}")
        return text

    # -- what the values mean -------------------------------------------------------------

    @property
    def debug_on(self) -> bool:
        return _flag("ITP_DEBUG", self.debug)

    @property
    def cookie_secure_on(self) -> bool:
        return _flag("ITP_COOKIE_SECURE", self.cookie_secure)


def _number(value: str, low: float, high: float, what: str, *, low_open: bool) -> str:
    text = value.strip()
    if not text:
        return text
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"must be {what}, not {value!r}") from None
    if not (low < number if low_open else low <= number) or number > high:
        raise ValueError(f"must be {what}, not {value!r}")
    return text


def _shown(url: str) -> str:
    """A URL with any password hidden."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
    return url


def _clinic_setting(days: str, capacity: str) -> str:
    """One check of the clinic's opening days and capacity: the web app's own parser."""
    from intrathecal.web.settings import SettingsError as WebSettingsError
    from intrathecal.web.settings import clinic_days

    try:
        clinic_days(days, capacity)
    except WebSettingsError as exc:
        raise ValueError(str(exc).split(": ", 1)[-1].removeprefix("ITP_CLINIC_CAPACITY ")) from None
    return (days or capacity).strip()


def load(env: Mapping[str, str] | None = None) -> Settings:
    """The settings of ``env`` (default: the process environment), every one checked."""
    try:
        if env is None:
            return Settings()  # type: ignore[call-arg]  # every field has a default
        return Settings.model_validate(dict(env))
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"{name}: {message}")
        raise SettingsError(lines) from None
