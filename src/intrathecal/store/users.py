"""Users, password hashes (argon2id), sessions, the sign-in slow-down and the admin's actions
on accounts (deactivate, reset a password, change a role, end sessions), each audited."""

from __future__ import annotations

import hashlib
import secrets
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Select, bindparam, delete, func, select
from sqlalchemy.orm import Session

from intrathecal.store import audit, hashing, passwords
from intrathecal.store.errors import NotFoundError
from intrathecal.store.models import Role, SessionToken, SignInFailure, User
from intrathecal.units import InputError

HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
SESSION_LIFETIME = timedelta(hours=12)
# Slow-down: after FREE_FAILURES failed sign-ins in WINDOW for one user name from one source
# address (or 4x as many from one address over all user names: password spraying), each further
# attempt from that address waits 2^(n - FREE_FAILURES) s after the last failure, capped. Keyed
# by (address, user), never by user alone: an attacker elsewhere cannot keep a known user out.
FREE_FAILURES = 3
WINDOW = timedelta(minutes=15)
MAX_WAIT = timedelta(minutes=15)
ROLES = tuple(r.value for r in Role)


def hash_password(password: str) -> str:
    return hashing.run(lambda: _hash(password))


def _hash(password: str) -> str:
    """The argon2 hash itself, on the caller's thread (see :func:`password_matches`)."""
    return HASHER.hash(passwords.normalise(password))


def password_matches(stored_hash: str, password: str) -> bool:
    """The argon2 check itself, on the caller's thread: for work already on the hashing
    threads (:mod:`intrathecal.store.hashing`); everyone else calls :func:`check_password`."""
    try:
        return HASHER.verify(stored_hash, passwords.normalise(password))
    except (VerificationError, InvalidHashError):
        return False


def check_password(stored_hash: str, password: str) -> bool:
    return hashing.run(lambda: password_matches(stored_hash, password))


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InputError("role", f"{role!r} is not a role; one of {list(ROLES)}")


def create_user(
    session: Session,
    username: str,
    full_name: str,
    role: str,
    password: str,
    now: datetime,
    by: str,
) -> User:
    _check_role(role)
    if not username.strip() or len(username) > 64:
        raise InputError("username", "must be 1 to 64 characters")
    passwords.check(password, username, full_name)
    if session.execute(select(User.id).where(User.username == username)).first():
        raise InputError("username", f"{username!r} is taken")
    user = User(
        username=username,
        full_name=full_name,
        role=role,
        password_hash=hash_password(password),
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    audit.record(session, now, by, "user.create", f"user:{username}", {"role": role})
    return user


@dataclass(frozen=True)
class SignIn:
    user: User | None
    wait_s: float  # > 0: refused without checking the password; try again after this long
    token: str = ""
    csrf_token: str = ""


def _wait(failures: int, last: datetime | None, now: datetime) -> float:
    if failures < FREE_FAILURES or last is None:
        return 0.0
    wait = min(timedelta(seconds=2 ** (failures - FREE_FAILURES)), MAX_WAIT)
    return max((last + wait - now).total_seconds(), 0.0)


def _sign_in_wait(session: Session, username: str, client: str, now: datetime) -> float:
    """Seconds this user name at this address must still wait after failed sign-ins."""
    since = now - WINDOW
    by_user = session.execute(
        select(func.count(), func.max(SignInFailure.at)).where(
            SignInFailure.username == username,
            SignInFailure.client == client,
            SignInFailure.at >= since,
        )
    ).one()
    by_client = session.execute(
        select(func.count(), func.max(SignInFailure.at)).where(
            SignInFailure.client == client, SignInFailure.at >= since
        )
    ).one()
    return max(_wait(by_user[0], by_user[1], now), _wait(by_client[0] // 4, by_client[1], now))


def check_credentials(
    session: Session, username: str, password: str, client: str, now: datetime
) -> Future[bool | None]:
    """Whether ``password`` is the active user's, checked in a session that only reads, before
    the sign-in's write transaction: the check (argon2, about 0.1 s) inside SQLite's write lock
    would hold up every write of the clinic, read audits included. The records are read here;
    the password is checked on the hashing threads and the answer is a future, so that a web
    request waits for it without holding one of its worker threads. None while the address
    must wait (nothing is hashed then); ``sign_in`` decides and records either way."""
    username, client = username[:64], client[:64]
    if _sign_in_wait(session, username, client, now) > 0:
        return hashing.answered(None)
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    return _password_check(user, password)


def _password_check(user: User | None, password: str) -> Future[bool | None]:
    """Whether ``password`` is ``user``'s (an active one), on the hashing threads. No such
    user costs a hash all the same: no user-name probing by timing."""
    if user is None:
        return hashing.submit(lambda: _no_such_user(password))
    if not user.active:
        return hashing.answered(False)
    stored = user.password_hash
    return hashing.submit(lambda: password_matches(stored, password))


def _no_such_user(password: str) -> bool:
    _hash(password)
    return False


def sign_in(
    session: Session,
    username: str,
    password: str,
    client: str,
    now: datetime,
    *,
    checked: bool | None = None,
) -> SignIn:
    """Sign in (slowed down after failures), in the caller's transaction. ``checked``: the
    password's verdict from ``check_credentials`` (the server's own, never a client's); without
    it the password is checked here."""
    username, client = username[:64], client[:64]
    wait = _sign_in_wait(session, username, client, now)
    if wait > 0:
        return SignIn(None, wait)
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if checked is None:
        checked = _password_check(user, password).result()
    if user is None or not user.active or not checked:
        session.add(SignInFailure(username=username, client=client, at=now))
        audit.record(session, now, username or "-", "sign-in.failed", f"client:{client}")
        return SignIn(None, 0.0)
    session.execute(
        delete(SignInFailure).where(
            SignInFailure.username == username, SignInFailure.client == client
        )
    )
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(
        SessionToken(
            token_hash=token_hash(token),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    audit.record(session, now, user.username, "sign-in", f"client:{client}")
    return SignIn(user, 0.0, token, csrf)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_user(session: Session, token: str, now: datetime) -> tuple[User, SessionToken] | None:
    """The signed-in user of ``token`` and its session row: one query (every request asks)."""
    found = session.execute(_session_user(), {"token_hash": token_hash(token)}).one_or_none()
    if found is None:
        return None
    user, row = found
    if row.expires_at <= now or not user.active:
        return None
    return user, row


@cache
def _session_user() -> Select[User, SessionToken]:
    return (
        select(User, SessionToken)
        .join(SessionToken, SessionToken.user_id == User.id)
        .where(SessionToken.token_hash == bindparam("token_hash"))
    )


def sign_out(session: Session, token: str, now: datetime, actor: str) -> None:
    session.execute(delete(SessionToken).where(SessionToken.token_hash == token_hash(token)))
    audit.record(session, now, actor, "sign-out", f"user:{actor}")


# --- the admin's actions on accounts ---------------------------------------------------------


def require_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id}")
    return user


def _other_active_admins(session: Session, user: User) -> int:
    return session.execute(
        select(func.count()).where(
            User.role == Role.ADMIN.value, User.active.is_(True), User.id != user.id
        )
    ).scalar_one()


def _keep_an_admin(session: Session, user: User, field: str) -> None:
    """Refuse to leave the clinic without an active admin (no one could manage users)."""
    if user.role == Role.ADMIN.value and user.active and _other_active_admins(session, user) == 0:
        raise InputError(field, f"{user.username} is the last active admin; add another first")


def end_sessions(session: Session, user: User, now: datetime, by: str, why: str = "") -> int:
    """End every session of ``user`` (the next request with their token gets 401)."""
    ended = session.execute(delete(SessionToken).where(SessionToken.user_id == user.id))
    count = int(getattr(ended, "rowcount", 0) or 0)
    audit.record(
        session,
        now,
        by,
        "user.sessions-ended",
        f"user:{user.username}",
        {"count": count, "why": why},
    )
    return count


def set_active(session: Session, user: User, active: bool, now: datetime, by: str) -> int:
    """Deactivate (the user cannot sign in; their sessions end) or reactivate an account.
    Returns how many sessions ended."""
    if not active:
        if user.username == by:
            raise InputError("active", "you cannot deactivate your own account")
        _keep_an_admin(session, user, "active")
    if user.active != active:
        user.active = active
        action = "user.activate" if active else "user.deactivate"
        audit.record(session, now, by, action, f"user:{user.username}")
    ended = end_sessions(session, user, now, by, "deactivated") if not active else 0
    session.flush()
    return ended


def set_role(session: Session, user: User, role: str, now: datetime, by: str) -> User:
    _check_role(role)
    if role != user.role:
        if user.role == Role.ADMIN.value:
            _keep_an_admin(session, user, "role")
        audit.record(
            session, now, by, "user.role", f"user:{user.username}", {"from": user.role, "to": role}
        )
        user.role = role
        session.flush()
    return user


def reset_password(session: Session, user: User, password: str, now: datetime, by: str) -> int:
    """A new password under the same rule as a new account; the user's sessions end (returns
    how many)."""
    text = passwords.check(password, user.username, user.full_name)
    user.password_hash = hash_password(text)
    audit.record(session, now, by, "user.password-reset", f"user:{user.username}")
    ended = end_sessions(session, user, now, by, "password reset")
    session.flush()
    return ended


@dataclass(frozen=True)
class ActiveSession:
    username: str
    role: str
    created_at: datetime
    expires_at: datetime


def active_sessions(session: Session, now: datetime) -> list[ActiveSession]:
    """Sessions not yet expired, newest first (no token: only its hash is stored anyway)."""
    rows = session.execute(
        select(User.username, User.role, SessionToken.created_at, SessionToken.expires_at)
        .join(User, User.id == SessionToken.user_id)
        .where(SessionToken.expires_at > now, User.active.is_(True))
        .order_by(SessionToken.created_at.desc())
    ).all()
    return [ActiveSession(*row) for row in rows]
