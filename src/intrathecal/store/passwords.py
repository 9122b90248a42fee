"""The password rule (NIST SP 800-63B-4, August 2025, §3.1.1.2, passwords as a single factor).

- at least 15 characters (rev. 4 asks 15 when the password is the only factor; rev. 3 said 8:
  a clinic's accounts open patient records, so we take rev. 4's number); up to 128 accepted
  (the standard asks at least 64);
- no composition rules (no "a digit and a symbol"): any printable Unicode, spaces included,
  normalised (NFKC) before hashing so the same password typed on another keyboard matches;
- refused when it is on a list of common and breached passwords shipped with the project
  (``data/common-passwords.txt.gz``, see ``data/README.md``; no network at run time) or when it
  contains a context word: the user name, the user's names, the service's own words;
- refused when it is one or two characters repeated ("aaaa…", "abab…").

Each refusal names the rule, so the user can choose another password; nothing is stored.
"""

from __future__ import annotations

import gzip
import unicodedata
from functools import cache
from pathlib import Path

from intrathecal.units import InputError

MIN_LENGTH = 15
MAX_LENGTH = 128
# Words of this service that a password must not contain (its name and what it is).
SERVICE_WORDS = ("intrathecal", "clinic")
COMMON_LIST = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"


def normalise(password: str) -> str:
    """The form that is hashed and checked (NFKC, as SP 800-63B-4 recommends)."""
    return unicodedata.normalize("NFKC", password)


@cache
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_LIST, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def context_words(username: str, full_name: str = "") -> tuple[str, ...]:
    """Words a password must not contain (lower case): the user name, each of the user's names
    of 4+ letters (shorter ones, "Ada", sit inside too many words), the service's words."""
    names = [n for n in full_name.replace(".", " ").split() if len(n) >= 4]
    return tuple(w.lower() for w in [username, *names, *SERVICE_WORDS] if len(w) >= 3)


def check(password: str, username: str, full_name: str = "", field: str = "password") -> str:
    """The normalised password, or InputError naming the rule it breaks."""
    text = normalise(password)
    if len(text) < MIN_LENGTH:
        raise InputError(
            field, f"must be at least {MIN_LENGTH} characters (a phrase of a few words is easy)"
        )
    if len(text) > MAX_LENGTH:
        raise InputError(field, f"must be at most {MAX_LENGTH} characters")
    if any(not ch.isprintable() for ch in text):
        raise InputError(field, "must not contain control characters")
    lowered = text.lower()
    if len(set(lowered)) <= 2:
        raise InputError(field, "is one or two characters repeated; choose a phrase")
    if lowered in common_passwords() or lowered.strip() in common_passwords():
        raise InputError(field, "is on the list of common or breached passwords; choose another")
    for word in context_words(username, full_name):
        if word in lowered:
            raise InputError(field, f"must not contain {word!r} (the user name or the service)")
    return text
