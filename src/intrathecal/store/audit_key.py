"""The audit chain's HMAC key: a secret that never lives in the database.

Taken from ``ITP_AUDIT_KEY`` (hex or base64, at least 32 bytes) or from a key file:
``ITP_AUDIT_KEY_FILE``, else ``audit.key`` next to a SQLite database file, else
``out/audit.key`` (the folder of the default database). Someone who can write the database but
cannot read this key can no longer rewrite the chain so that it verifies.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from intrathecal.units import InputError

ENV_KEY = "ITP_AUDIT_KEY"
ENV_FILE = "ITP_AUDIT_KEY_FILE"
MIN_BYTES = 32
_HEX = re.compile(r"[0-9a-fA-F]+")


@dataclass(frozen=True)
class AuditKey:
    secret: bytes
    source: str  # where it came from, for messages (never the key itself)


def key_path(database_url: str) -> Path:
    """The key file for ``database_url`` when no key is given in the environment."""
    explicit = os.environ.get(ENV_FILE, "").strip()
    if explicit:
        return Path(explicit)
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent / "audit.key"
    return Path("out") / "audit.key"


def decode(text: str, field: str) -> bytes:
    text = text.strip()
    if len(text) % 2 == 0 and _HEX.fullmatch(text):
        secret = bytes.fromhex(text)
    else:
        try:
            secret = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InputError(field, "the audit key must be hex or base64") from None
    if len(secret) < MIN_BYTES:
        raise InputError(field, f"the audit key must be at least {MIN_BYTES} bytes (64 hex digits)")
    return secret


def load(database_url: str, *, create: bool) -> AuditKey | None:
    """The key for ``database_url``: from the environment, else its key file. With ``create``
    an absent key file is made (mode 0600, 32 random bytes as hex); without, None."""
    from_env = os.environ.get(ENV_KEY, "").strip()
    if from_env:
        return AuditKey(decode(from_env, ENV_KEY), ENV_KEY)
    path = key_path(database_url)
    if not path.exists():
        if not create:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return load(database_url, create=False)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(MIN_BYTES) + "\n")
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise InputError(
            ENV_FILE, f"{path} is readable by others; make it private (chmod 600 {path})"
        )
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(ENV_FILE, f"cannot read the audit key {path}: {exc}") from None
    return AuditKey(decode(text, f"{ENV_FILE} ({path})"), str(path))
