"""Request plumbing: a database session per request, the signed-in user, role and CSRF checks.

Sign-in gives a random token. Browsers keep it in an HttpOnly, SameSite=Strict cookie and send
the session's CSRF token with every form (hidden field ``csrf_token``) or API call
(``X-CSRF-Token`` header). API clients may instead send ``Authorization: Bearer <token>``, which
a browser never adds by itself, so no CSRF token is needed there.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from intrathecal.store import users
from intrathecal.store.db import begin_read_only, begin_read_only_once, end_read_only, reading
from intrathecal.store.errors import NotFoundError
from intrathecal.store.models import SessionToken, User
from intrathecal.units import InputError
from intrathecal.web.api.schemas import MAX_ID
from intrathecal.web.permissions import allowed

COOKIE = "itp_session"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class NotSignedInError(Exception):
    pass


class ForbiddenError(Exception):
    def __init__(self, permission: str, role: str) -> None:
        super().__init__(f"the {role} role may not {permission}")
        self.permission = permission
        self.role = role


class CsrfError(Exception):
    pass


@dataclass
class Actor:
    user: User
    session: SessionToken
    bearer: bool

    @property
    def name(self) -> str:
        return self.user.username

    @property
    def role(self) -> str:
        return self.user.role

    def can(self, permission: str) -> bool:
        return allowed(self.user.role, permission)


F = TypeVar("F", bound=Callable[..., Any])


def read_only(endpoint: F) -> F:
    """Mark a route that never writes. Its transaction takes no write lock on SQLite, so such
    requests (the dashboard, lists, charts) run side by side with each other and with a writer;
    a route left unmarked is only slower, never wrong."""
    endpoint.read_only = True  # type: ignore[attr-defined]
    return endpoint


async def get_db(request: Request) -> AsyncIterator[Session]:
    # Async, so opening and closing the session (no I/O, and an end of transaction that never
    # waits for a lock) take no worker thread: a request never needs a second thread to finish.
    with request.app.state.sessions() as session:
        if getattr(request.scope.get("endpoint"), "read_only", False):
            begin_read_only(session)
        yield session
        end_read_only(session)  # a page that only read: COMMIT (PostgreSQL's plans kept)


async def checked_parameters(request: Request) -> None:
    """Every route, before its own parameters are read: 404 for a whole-number path parameter
    no row can have (``/patients/9999…``, more than MAX_ID), 422 for a NUL character in a path
    or query parameter or a form field. Handed to the database, either was a 500."""
    for name, value in request.path_params.items():
        # ASCII digits only: "¹" is a digit to str.isdigit, not to int().
        digits = isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value) is not None
        if digits and abs(int(value)) > MAX_ID:
            raise NotFoundError(f"{name.removesuffix('_id')} {value}")
    fields = [*request.path_params.items(), *request.query_params.multi_items()]
    if request.method in UNSAFE and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        fields += (await request.form()).multi_items()  # read once; the route reads it again
    for name, value in fields:
        if isinstance(value, str) and "\x00" in value:
            raise InputError(name, "must not contain a NUL character")


def now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _token(request: Request) -> tuple[str | None, bool]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), True
    return request.cookies.get(COOKIE), False


async def _csrf_ok(request: Request, expected: str) -> bool:
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    return sent is not None and secrets.compare_digest(sent, expected)


def require(permission: str) -> Callable[..., Coroutine[Any, Any, Actor]]:
    """Dependency: the signed-in user, who must hold ``permission`` (else 401/403)."""

    async def dependency(request: Request, db: Session = Depends(get_db)) -> Actor:  # noqa: B008 (FastAPI dependency)
        token, bearer = _token(request)
        # The database is read in a worker thread: a blocking query on the event loop would
        # stall every other request (and, on SQLite, the one holding the lock it waits for).
        found = await run_in_threadpool(_session_user, db, token, now(request))
        if found is None:
            raise NotSignedInError()
        user, session_row = found
        if (
            not bearer
            and request.method in UNSAFE
            and not await _csrf_ok(request, session_row.csrf_token)
        ):
            raise CsrfError()
        actor = Actor(user, session_row, bearer)
        if not actor.can(permission):
            raise ForbiddenError(permission, user.role)
        return actor

    return dependency


async def optional_actor(request: Request, db: Session = Depends(get_db)) -> Actor | None:  # noqa: B008 (FastAPI dependency)
    token, bearer = _token(request)
    found = await run_in_threadpool(_session_user, db, token, now(request))
    return Actor(found[0], found[1], bearer) if found else None


def _session_user(db: Session, token: str | None, at: datetime) -> tuple[User, SessionToken] | None:
    # The lookup only reads: on SQLite a plain BEGIN, so a request that writes queues for the
    # write lock once (its handler's transaction), not a first time just to sign in.
    begin_read_only_once(db)
    found = users.session_user(db, token, at) if token else None
    # End the lookup's transaction (nothing was written; the rows stay loaded): on SQLite a
    # route that writes takes the write lock when its handler starts, not across the wait
    # between this dependency and the handler.
    db.commit()
    return found


async def sign_in(request: Request, db: Session, username: str, password: str) -> users.SignIn:
    """Sign in through ``db``, committed. The password is checked first in a session that only
    reads, so no sign-in holds the database's write lock through its argon2 check, and awaited
    here, so none holds a worker thread through it either."""
    at, client = now(request), client_of(request)
    check = await run_in_threadpool(_check_credentials, request, username, password, client, at)
    checked = await asyncio.wrap_future(check)
    return await run_in_threadpool(_sign_in, db, username, password, client, at, checked)


def _check_credentials(
    request: Request, username: str, password: str, client: str, at: datetime
) -> Future[bool | None]:
    with reading(request.app.state.sessions) as reader:
        return users.check_credentials(reader, username, password, client, at)


def _sign_in(
    db: Session, username: str, password: str, client: str, at: datetime, checked: bool | None
) -> users.SignIn:
    result = users.sign_in(db, username, password, client, at, checked=checked)
    db.commit()
    return result
