"""Users, password hashes (argon2id), sessions and the sign-in slow-down."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from intrathecal.store import audit
from intrathecal.store.models import Role, SessionToken, SignInFailure, User
from intrathecal.units import InputError

HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
SESSION_LIFETIME = timedelta(hours=12)
# Slow-down: after FREE_FAILURES failed sign-ins in WINDOW for one user name (or 4x as many from
# one client), each further attempt waits 2^(n - FREE_FAILURES) s after the last failure, capped.
FREE_FAILURES = 3
WINDOW = timedelta(minutes=15)
MAX_WAIT = timedelta(minutes=15)
MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def check_password(stored_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(
    session: Session,
    username: str,
    full_name: str,
    role: str,
    password: str,
    now: datetime,
    by: str,
) -> User:
    if role not in {r.value for r in Role}:
        raise InputError("role", f"{role!r} is not a role; one of {[r.value for r in Role]}")
    if len(password) < MIN_PASSWORD:
        raise InputError("password", f"must be at least {MIN_PASSWORD} characters")
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


def sign_in(session: Session, username: str, password: str, client: str, now: datetime) -> SignIn:
    since = now - WINDOW
    by_user = session.execute(
        select(func.count(), func.max(SignInFailure.at)).where(
            SignInFailure.username == username, SignInFailure.at >= since
        )
    ).one()
    by_client = session.execute(
        select(func.count(), func.max(SignInFailure.at)).where(
            SignInFailure.client == client, SignInFailure.at >= since
        )
    ).one()
    wait = max(_wait(by_user[0], by_user[1], now), _wait(by_client[0] // 4, by_client[1], now))
    if wait > 0:
        return SignIn(None, wait)
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.active or not check_password(user.password_hash, password):
        if user is None:
            HASHER.hash(password)  # same cost as a real check: no user-name probing by timing
        session.add(SignInFailure(username=username[:64], client=client[:64], at=now))
        audit.record(session, now, username[:64] or "-", "sign-in.failed", f"client:{client}")
        return SignIn(None, 0.0)
    session.execute(delete(SignInFailure).where(SignInFailure.username == username))
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
    row = session.get(SessionToken, token_hash(token))
    if row is None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return user, row


def sign_out(session: Session, token: str, now: datetime, actor: str) -> None:
    session.execute(delete(SessionToken).where(SessionToken.token_hash == token_hash(token)))
    audit.record(session, now, actor, "sign-out", f"user:{actor}")
