"""A refill's co-signature checked without holding a request's worker thread.

Each web worker runs its blocking work on a couple of threads (``app.WORKER_THREADS``). A
co-signature's password check (argon2, at low priority on the hashing threads) took one of them
for about half a second under load, and every other page of that worker queued on the one left:
with 1 save in 25 co-signed, ordinary refill saves at 20 users went from a p95 of about 105 ms
to 145 ms. Here the records are read on a worker thread and the password check is awaited on
the event loop; the rule itself stays in :func:`intrathecal.store.refills.verify_cosignature`.
"""

from __future__ import annotations

import asyncio

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from intrathecal.store import refills
from intrathecal.web.deps import now


async def verified(request: Request, refill: refills.RefillRequest, actor: str) -> str | None:
    """The physician whose password checked out for ``refill``; None: none given, or it did
    not check out (the save then checks again under its lock and records a wrong password)."""
    if not refill.cosigner_password:
        return None
    sessions = request.app.state.sessions
    check = await run_in_threadpool(
        refills.verify_cosignature, sessions, refill, actor, now(request)
    )
    return await asyncio.wrap_future(check)
