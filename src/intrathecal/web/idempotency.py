"""``Idempotency-Key`` for API writes: a repeated request gets the first answer, nothing more.

A client that sends a write and loses the answer (a timeout, a dropped connection) sends it again
with the same key. The key, the user, the route and a hash of the body are stored with the
answer in the same transaction as the record, so the key exists exactly when the write was
committed, on every worker and after a restart. A repeat with the same body gets the stored
status and body; the same key with another body is refused (422) and changes nothing. Errors are
not stored: nothing was written, so a retry is simply tried again. Two requests racing with one
key: the unique (user, route, key) lets one commit; the other is rolled back and gets its answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intrathecal.store.models import IdempotencyKey
from intrathecal.units import InputError
from intrathecal.web.deps import now

HEADER = "Idempotency-Key"
MAX_KEY = 200


@dataclass(frozen=True)
class Idempotency:
    key: str | None
    route: str
    body_sha256: str
    at: datetime  # the server's clock when the request came

    def run(
        self, db: Session, actor: str, status: int, work: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        """Do ``work`` (which writes through ``db`` without committing) once per key, commit,
        and answer; a repeat raises :class:`ReplayedError`, which answers what the first did."""
        if self.key is None:
            done = work()
            db.commit()
            return done
        first = self._first(db, actor)
        if first is not None:
            raise ReplayedError(first)
        try:
            result: dict[str, Any] = jsonable_encoder(work())
        except Exception:
            # A request with the same key may have committed while this one waited (a refill
            # then fails its follows check): answer as that one did, else report the error.
            db.rollback()
            first = self._first(db, actor)
            if first is not None:
                raise ReplayedError(first) from None
            raise
        db.add(
            IdempotencyKey(
                actor=actor,
                route=self.route,
                key=self.key,
                body_sha256=self.body_sha256,
                status=status,
                response_json=json.dumps(result),
                created_at=self.at,
            )
        )
        try:
            db.commit()
        except IntegrityError:
            db.rollback()  # a request with the same key committed first: answer as it did
            first = self._first(db, actor)
            if first is None:
                raise
            raise ReplayedError(first) from None
        return result

    def _first(self, db: Session, actor: str) -> JSONResponse | None:
        row = db.execute(
            select(IdempotencyKey).where(
                IdempotencyKey.actor == actor,
                IdempotencyKey.route == self.route,
                IdempotencyKey.key == self.key,
            )
        ).scalar_one_or_none()
        if row is None:
            return None
        if row.body_sha256 != self.body_sha256:
            raise InputError(
                HEADER,
                f"key {self.key!r} was used at {row.created_at:%Y-%m-%d %H:%M} UTC for a "
                "different request body; use a new key for a new request",
            )
        return JSONResponse(
            json.loads(row.response_json),
            status_code=row.status,
            headers={"Idempotent-Replayed": "true"},
        )


class ReplayedError(Exception):
    """A repeated request: answered with the first answer (the route returns nothing new)."""

    def __init__(self, response: JSONResponse) -> None:
        super().__init__("replayed")
        self.response = response


def install(app: FastAPI) -> None:
    """Answer a replayed request with its stored response."""

    @app.exception_handler(ReplayedError)
    async def replayed(_: Request, exc: ReplayedError) -> Response:
        return exc.response


async def idempotency(
    request: Request,
    key: str | None = Header(
        default=None,
        alias=HEADER,
        description="a key of your choosing (1-200 printable characters): a repeated request "
        "with the same key and body gets the first answer and writes nothing again",
    ),
) -> Idempotency:
    """Dependency: the request's key (None without the header), route and body hash."""
    if key is not None and (
        not 1 <= len(key) <= MAX_KEY or not key.isascii() or not key.isprintable()
    ):
        raise InputError(HEADER, f"must be 1 to {MAX_KEY} printable ASCII characters")
    body = await request.body()
    return Idempotency(
        key=key,
        route=f"{request.method} {request.url.path}",
        body_sha256=hashlib.sha256(body).hexdigest(),
        at=now(request),
    )
