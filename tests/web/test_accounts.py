"""Accounts (issue 10, items 9 and 10): the admin's own page and actions, sign-out for every
role, the password rule, the sign-in form's CSRF token and the slow-down per (address, user)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from intrathecal.store import passwords, users
from intrathecal.store.db import open_database
from intrathecal.store.models import AuditEntry, SignInFailure, User
from intrathecal.store.seed import DEMO_USERS
from intrathecal.units import InputError
from intrathecal.web.permissions import PERMISSIONS
from tests.store.conftest import NOW, fresh_url
from tests.web.conftest import PASSWORDS, Clinic, form_token, page_sign_in

GOOD = "lilac-tunnel-brisket-44"  # 23 characters, on no list, no context word
NAMES = (f"temp{n}" for n in itertools.count())


def make_user(clinic: Clinic, role: str = "nurse") -> tuple[int, str]:
    """A fresh user (so the actions below never touch the demo accounts other tests use)."""
    name = next(NAMES)
    answer = clinic.client.post(
        "/api/v1/users",
        json={"username": name, "full_name": "Temp Person", "role": role, "password": GOOD},
        headers=clinic.headers("admin"),
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["user"]["id"], name


def api_sign_in(client: TestClient, username: str, password: str = GOOD) -> int | str:
    answer = client.post("/api/v1/auth/sign-in", json={"username": username, "password": password})
    client.cookies.clear()
    return answer.json()["token"] if answer.status_code == 200 else answer.status_code


def bearer(token: int | str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def audited(clinic: Clinic, action: str, target: str) -> bool:
    with clinic.sessions() as session:
        return (
            session.execute(
                select(AuditEntry.seq).where(
                    AuditEntry.action == action, AuditEntry.target == target
                )
            ).first()
            is not None
        )


# --- the password rule (NIST SP 800-63B-4 §3.1.1.2) ------------------------------------------


def test_password_rule_examples() -> None:
    assert passwords.check(GOOD, "nurse") == GOOD
    assert passwords.check("correct horse battery staple", "nurse")  # spaces: no composition rule
    for bad, why in [
        ("short-phrase-1", "at least 15"),  # 14 characters
        ("x" * 129, "at most 128"),
        ("1q2w3e4r5t6y7u8i9o0p", "common or breached"),  # on the shipped list
        ("123456789987654321", "common or breached"),
        ("abababababababababab", "repeated"),
        ("nurse-likes-long-walks", "'nurse'"),  # the user name
        ("okafor-likes-long-walks", "'okafor'"),  # a name of the user
        ("my-intrathecal-password", "'intrathecal'"),
    ]:
        with pytest.raises(InputError, match=why) as refused:
            passwords.check(bad, "nurse", "Dr Ada Okafor")
        assert refused.value.field == "password"
    assert len(passwords.common_passwords()) == 19640  # the list as shipped (data/README.md)


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=0, max_size=14))
def test_password_rule_refuses_every_password_under_15_characters(text: str) -> None:
    with pytest.raises(InputError):
        passwords.check(text, "someone")


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(passwords.common_passwords())), st.booleans())
def test_password_rule_refuses_every_listed_password(common: str, upper: bool) -> None:
    with pytest.raises(InputError):
        passwords.check(common.upper() if upper else common, "someone")


def test_demo_passwords_satisfy_the_rule() -> None:
    for username, full_name, _, password in DEMO_USERS:
        assert passwords.check(password, username, full_name) == password


def test_new_user_with_a_weak_password_is_refused_naming_the_field(clinic: Clinic) -> None:
    for weak in ("long-enough-1", "1q2w3e4r5t6y7u8i9o0p", "my-intrathecal-pass"):
        answer = clinic.client.post(
            "/api/v1/users",
            json={"username": "zz", "full_name": "Z Z", "role": "viewer", "password": weak},
            headers=clinic.headers("admin"),
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"] == "password"
    with clinic.sessions() as session:
        assert session.execute(select(User).where(User.username == "zz")).first() is None


# --- sign-out for every role, the admin's home ----------------------------------------------


@pytest.mark.parametrize("role", sorted(PASSWORDS))
def test_every_role_can_sign_out(clinic: Clinic, role: str) -> None:
    token = api_sign_in(clinic.client, role, PASSWORDS[role])
    assert clinic.client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    out = clinic.client.post("/api/v1/auth/sign-out", headers=bearer(token))
    assert out.status_code == 200, out.text
    assert clinic.client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    # and through the page, with the form the page shows
    client = TestClient(clinic.client.app)
    assert page_sign_in(client, role).status_code == 303
    page = client.get("/account")
    assert page.status_code == 200 and 'action="/sign-out"' in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    gone = client.post("/sign-out", data={"csrf_token": csrf.group(1)}, follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/sign-in"
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_sign_out_is_behind_no_clinical_permission() -> None:
    assert PERMISSIONS["account.self"] >= {r for roles in PERMISSIONS.values() for r in roles}


def test_admin_lands_on_a_page_of_their_own(clinic: Clinic) -> None:
    client = TestClient(clinic.client.app)
    signed = page_sign_in(client, "admin")
    assert signed.status_code == 303 and signed.headers["location"] == "/admin"
    page = client.get("/admin")
    assert page.status_code == 200
    for text in ("Users and sessions", "Active sessions", "Recent audit entries", "Eli Admin"):
        assert text in page.text
    assert "sign-in" in page.text  # the recent audit shows this very sign-in
    viewer = TestClient(clinic.client.app)
    page_sign_in(viewer, "viewer")
    assert viewer.get("/admin").status_code == 403


# --- the admin's actions ------------------------------------------------------------------------


def test_deactivated_user_cannot_sign_in_and_their_sessions_end(clinic: Clinic) -> None:
    user_id, name = make_user(clinic)
    token = api_sign_in(clinic.client, name)
    assert clinic.client.get("/api/v1/dashboard", headers=bearer(token)).status_code == 200
    answer = clinic.client.post(
        f"/api/v1/users/{user_id}/deactivate", headers=clinic.headers("admin")
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["user"]["active"] is False
    assert answer.json()["sessions_ended"] == 1
    assert clinic.client.get("/api/v1/dashboard", headers=bearer(token)).status_code == 401
    assert api_sign_in(clinic.client, name) == 401
    assert audited(clinic, "user.deactivate", f"user:{name}")
    assert audited(clinic, "user.sessions-ended", f"user:{name}")
    back = clinic.client.post(f"/api/v1/users/{user_id}/activate", headers=clinic.headers("admin"))
    assert back.status_code == 200 and back.json()["user"]["active"] is True
    assert isinstance(api_sign_in(clinic.client, name), str)


def test_password_reset_ends_sessions_and_follows_the_rule(clinic: Clinic) -> None:
    user_id, name = make_user(clinic)
    token = api_sign_in(clinic.client, name)
    weak = clinic.client.post(
        f"/api/v1/users/{user_id}/password",
        json={"password": "too-short-1"},
        headers=clinic.headers("admin"),
    )
    assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "password"
    assert clinic.client.get("/api/v1/me", headers=bearer(token)).status_code == 200  # unchanged
    new = "marble-gravel-sunrise-90"
    reset = clinic.client.post(
        f"/api/v1/users/{user_id}/password", json={"password": new}, headers=clinic.headers("admin")
    )
    assert reset.status_code == 200, reset.text
    assert clinic.client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert api_sign_in(clinic.client, name) == 401  # the old password
    assert isinstance(api_sign_in(clinic.client, name, new), str)
    assert audited(clinic, "user.password-reset", f"user:{name}")
    with clinic.sessions() as session:
        details = session.execute(select(AuditEntry.detail_json)).scalars().all()
    assert not any(new in d for d in details)  # the password is never in the audit


def test_role_change_takes_effect_on_the_next_request(clinic: Clinic) -> None:
    user_id, name = make_user(clinic, "viewer")
    token = api_sign_in(clinic.client, name)
    assert (
        clinic.client.post("/api/v1/compounding/recipe", json={}, headers=bearer(token)).status_code
        == 403
    )
    changed = clinic.client.post(
        f"/api/v1/users/{user_id}/role",
        json={"role": "pharmacist"},
        headers=clinic.headers("admin"),
    )
    assert changed.status_code == 200 and changed.json()["user"]["role"] == "pharmacist"
    # Now allowed past the role check (422: the empty body is invalid, not 403).
    assert (
        clinic.client.post("/api/v1/compounding/recipe", json={}, headers=bearer(token)).status_code
        == 422
    )
    assert audited(clinic, "user.role", f"user:{name}")
    bad = clinic.client.post(
        f"/api/v1/users/{user_id}/role", json={"role": "superuser"}, headers=clinic.headers("admin")
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "role"


def test_end_sessions(clinic: Clinic) -> None:
    user_id, name = make_user(clinic)
    tokens = [api_sign_in(clinic.client, name) for _ in range(2)]
    listed = clinic.client.get("/api/v1/sessions", headers=clinic.headers("admin")).json()
    assert sum(s["username"] == name for s in listed["sessions"]) == 2
    ended = clinic.client.post(
        f"/api/v1/users/{user_id}/end-sessions", headers=clinic.headers("admin")
    )
    assert ended.status_code == 200 and ended.json()["sessions_ended"] == 2
    for token in tokens:
        assert clinic.client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert isinstance(api_sign_in(clinic.client, name), str)  # still active: may sign in again


def test_the_last_active_admin_cannot_be_removed(clinic: Clinic) -> None:
    with clinic.sessions() as session:
        admin_id = session.execute(select(User.id).where(User.username == "admin")).scalar_one()
    other_id, other = make_user(clinic, "admin")
    other_token = api_sign_in(clinic.client, other)
    # Not yourself; and with the other admin gone, not the last one.
    self_off = clinic.client.post(
        f"/api/v1/users/{other_id}/deactivate", headers=bearer(other_token)
    )
    assert self_off.status_code == 422
    off = clinic.client.post(
        f"/api/v1/users/{other_id}/deactivate", headers=clinic.headers("admin")
    )
    assert off.status_code == 200
    last = clinic.client.post(
        f"/api/v1/users/{admin_id}/role", json={"role": "viewer"}, headers=clinic.headers("admin")
    )
    assert last.status_code == 422 and "last active admin" in last.json()["errors"][0]["message"]
    assert clinic.client.get("/api/v1/users", headers=clinic.headers("admin")).status_code == 200


def test_unknown_user_is_404(clinic: Clinic) -> None:
    answer = clinic.client.post("/api/v1/users/999999/deactivate", headers=clinic.headers("admin"))
    assert answer.status_code == 404


def test_admin_page_actions_need_the_csrf_token_and_are_audited(clinic: Clinic) -> None:
    user_id, name = make_user(clinic)
    client = TestClient(clinic.client.app)
    page_sign_in(client, "admin")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin").text)
    assert csrf is not None
    refused = client.post(f"/admin/users/{user_id}/deactivate", data={})
    assert refused.status_code == 403
    nurse = TestClient(clinic.client.app)
    page_sign_in(nurse, "nurse")
    nurse_csrf = re.search(r'name="csrf_token" value="([^"]+)"', nurse.get("/account").text)
    assert nurse_csrf is not None
    not_admin = nurse.post(
        f"/admin/users/{user_id}/deactivate", data={"csrf_token": nurse_csrf.group(1)}
    )
    assert not_admin.status_code == 403
    with clinic.sessions() as session:
        assert session.get(User, user_id).active  # type: ignore[union-attr]
    done = client.post(
        f"/admin/users/{user_id}/deactivate",
        data={"csrf_token": csrf.group(1)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with clinic.sessions() as session:
        assert not session.get(User, user_id).active  # type: ignore[union-attr]
    weak = client.post(
        f"/admin/users/{user_id}/password", data={"csrf_token": csrf.group(1), "password": "short"}
    )
    assert weak.status_code == 422 and "at least 15 characters" in weak.text
    added = client.post(
        "/admin/users",
        data={
            "csrf_token": csrf.group(1),
            "username": "paged",
            "full_name": "Paged Person",
            "role": "viewer",
            "password": GOOD,
        },
        follow_redirects=False,
    )
    assert added.status_code == 303
    assert audited(clinic, "user.deactivate", f"user:{name}")
    assert audited(clinic, "user.create", "user:paged")


# --- the sign-in form and the slow-down ----------------------------------------------------


def test_sign_in_form_needs_its_csrf_token(clinic: Clinic) -> None:
    client = TestClient(clinic.client.app)
    forged = client.post(
        "/sign-in",
        data={"username": "nurse", "password": PASSWORDS["nurse"]},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert "itp_session" not in forged.cookies
    # A token from another browser (its own cookie not sent) is refused too.
    other = TestClient(clinic.client.app)
    token = form_token(other.get("/sign-in").text)
    stolen = client.post(
        "/sign-in",
        data={"username": "nurse", "password": PASSWORDS["nurse"], "csrf_token": token},
        follow_redirects=False,
    )
    assert stolen.status_code == 403
    assert page_sign_in(client, "nurse").status_code == 303


def test_api_sign_in_takes_only_json(clinic: Clinic) -> None:
    """A page elsewhere can post a form (text/plain) but not JSON without CORS: no login CSRF."""
    answer = clinic.client.post(
        "/api/v1/auth/sign-in",
        content=f'{{"username": "nurse", "password": "{PASSWORDS["nurse"]}"}}',
        headers={"Content-Type": "text/plain"},
    )
    assert answer.status_code == 422
    assert "itp_session" not in answer.cookies


def test_failed_sign_ins_from_another_address_do_not_keep_the_user_out(clinic: Clinic) -> None:
    _, name = make_user(clinic)
    attacker = TestClient(clinic.client.app, client=("203.0.113.9", 4000))
    codes = [api_sign_in(attacker, name, "wrong-guess-000000") for _ in range(6)]
    assert codes[:3] == [401, 401, 401] and 429 in codes[3:]  # the attacker is slowed down
    user = TestClient(clinic.client.app, client=("198.51.100.7", 5000))
    assert isinstance(api_sign_in(user, name), str)  # the user, elsewhere, is not
    assert api_sign_in(attacker, name) == 429  # the attacker still waits, right password or not


# --- the slow-down rule, for every pattern of attack -----------------------------------------


@pytest.fixture(scope="module")
def store_sessions(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[sessionmaker[Session]]:
    engine, sessions = open_database(fresh_url("sqlite", tmp_path_factory.mktemp("slowdown")))
    with sessions.begin() as session:
        users.create_user(session, "target", "Target Person", "nurse", GOOD, NOW, "test")
    yield sessions
    engine.dispose()


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    attacks=st.lists(
        st.tuples(st.sampled_from(["203.0.113.1", "203.0.113.2", "198.51.100.7"]), st.booleans()),
        max_size=10,
    ),
    minutes=st.integers(min_value=0, max_value=30),
)
def test_slow_down_never_keeps_the_user_out_from_their_own_address(
    store_sessions: sessionmaker[Session], attacks: list[tuple[str, bool]], minutes: int
) -> None:
    """Rule: failed sign-ins from other addresses (for this user or for others) never make the
    user wait at their own address, whatever their number, order or timing."""
    from sqlalchemy import delete

    at = NOW + timedelta(hours=1)
    with store_sessions.begin() as session:
        session.execute(delete(SignInFailure))
        for i, (address, same_user) in enumerate(attacks):
            name = "target" if same_user else f"other{i % 3}"
            result = users.sign_in(session, name, "wrong-guess-0000", address, at)
            assert result.user is None
            at += timedelta(seconds=minutes)
        own = users.sign_in(session, "target", GOOD, "192.0.2.10", at)
        assert own.wait_s == 0 and own.user is not None
