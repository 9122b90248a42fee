"""The settings object (intrathecal/settings.py) and the configuration reference
(docs/configuration.md): every setting the code reads is in the table, and a bad value is
refused at start with a message naming it."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from intrathecal.cli.main import app
from intrathecal.settings import Settings, SettingsError, load
from tests.conftest import ROOT

TABLE = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
DOCUMENTED = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", TABLE, flags=re.MULTILINE))


def _named_in(paths: list[str], pattern: str) -> set[str]:
    found: set[str] = set()
    for folder in paths:
        for path in (ROOT / folder).rglob("*.py"):
            found |= set(re.findall(pattern, path.read_text(encoding="utf-8")))
    return found


def test_every_variable_the_code_reads_is_in_the_table() -> None:
    # Every environment variable the code or the tests name, and every os.environ / getenv read.
    named = _named_in(["src", "tests"], r"\b(ITP_[A-Z0-9_]+|DATABASE_URL|HYPOTHESIS_PROFILE)\b")
    read = _named_in(["src"], r"(?:environ\.get|getenv|environ\[)\(?\s*[\"']([A-Z0-9_]+)[\"']")
    named.discard("ITP_")  # a prefix in a comment, not a variable
    missing = sorted((named | read) - DOCUMENTED)
    assert not missing, f"add these to docs/configuration.md: {missing}"


def test_every_make_variable_is_in_the_table() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    variables = set(re.findall(r"^([A-Z_]+) \?=", makefile, flags=re.MULTILINE))
    assert variables and variables <= DOCUMENTED


def test_every_setting_of_the_object_is_documented() -> None:
    aliases = {str(f.validation_alias) for f in Settings.model_fields.values()}
    assert aliases <= DOCUMENTED


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("ITP_PUMP_PORT", "abc", "port number from 1 to 65535"),
        ("ITP_PUMP_PORT", "70000", "port number from 1 to 65535"),
        ("ITP_PUMP_TIMEOUT_S", "0", "above 0 and at most 60"),
        ("ITP_PUMP_HOST", "pumps:7474", "no port"),
        ("ITP_CLIENT_CLOCK_SKEW_S", "-5", "from 0 to 86400"),
        ("ITP_COOKIE_SECURE", "maybe", "must be 1 or 0"),
        ("ITP_DEBUG", "verbose", "must be 1 or 0"),
        ("ITP_BASE_URL", "clinic.example.org", "http(s) address"),
        ("DATABASE_URL", "mysql://u:pw@db/clinic", "postgresql+psycopg://"),
        ("ITP_AUDIT_KEY", "ab" * 8, "at least 32 bytes"),
        ("ITP_AUDIT_KEY", "not a key!", "hex or base64"),
        ("ITP_CLINIC_TZ", "Europe/Atlantis", "IANA time zone"),
        ("ITP_CLINIC_DAYS", "Funday", "weekdays like 'Mon-Fri'"),
        ("ITP_CLINIC_CAPACITY", "lots", "whole number of refills"),
        ("ITP_CLINIC_CAPACITY", "0", "1 to 10000"),
    ],
)
def test_a_bad_setting_is_refused_naming_it(name: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load({name: value})
    assert refused.value.problems[0].startswith(f"{name}: ")
    assert says in str(refused.value)


def test_secrets_never_appear_in_a_message() -> None:
    with pytest.raises(SettingsError) as refused:
        load({"DATABASE_URL": "mysql://u:hunter2@db/clinic", "ITP_AUDIT_KEY": "hunter2hunter2"})
    assert "hunter2" not in str(refused.value)


def test_good_settings_load() -> None:
    done = load(
        {
            "DATABASE_URL": "postgres://u:pw@db/clinic",
            "ITP_AUDIT_KEY": "5e" * 32,
            "ITP_BASE_URL": "https://clinic.example.org/",
            "ITP_COOKIE_SECURE": "yes",
            "ITP_PUMP_HOST": "::1",
            "ITP_PUMP_PORT": "7474",
            "ITP_PUMP_TIMEOUT_S": "2.5",
            "ITP_CLIENT_CLOCK_SKEW_S": "60",
        }
    )
    assert done.base_url == "https://clinic.example.org"
    assert done.cookie_secure_on and not done.debug_on
    assert load({}).database_url == ""


def test_a_clinic_command_refuses_to_start_on_a_bad_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ITP_PUMP_PORT", "abc")
    result = CliRunner().invoke(app, ["clinic", "migrate", "--database", "sqlite:///nowhere.db"])
    assert result.exit_code == 2
    assert "ITP_PUMP_PORT: must be a port number" in result.output
    assert not (ROOT / "nowhere.db").exists()


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_a_driverless_postgres_url_is_rewritten_in_both_places(
    scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from intrathecal.store.db import database_url

    expected = "postgresql+psycopg://u:pw@db/clinic"
    assert database_url(f"{scheme}://u:pw@db/clinic") == expected
    monkeypatch.setenv("DATABASE_URL", f"{scheme}://u:pw@db/clinic")
    assert database_url() == expected
