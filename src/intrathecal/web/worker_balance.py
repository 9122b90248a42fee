"""An even load over the workers of ``itp clinic serve --workers N``, kept-alive connections too.

The kernel hands each new connection to a worker at random (SO_REUSEPORT hashes its address,
web/serve.py), and a browser then sends every click over the connection it has. With twenty busy
users one worker may hold thirteen connections and the other seven, for as long as they click.
A worker runs Python on one core at most, so the first worker's users wait about twice as long
as the second's: on this 2-core machine the chart's p95 with 20 users moved between runs with
that split (185-215 ms at 13 to 7).

Each worker counts its requests in flight in a small array shared with the others. A worker with
MARGIN or more in flight than the least busy one answers with ``Connection: close``: the client's
next request opens a new connection (a fraction of a millisecond), which the kernel hands out
again, until the split is even (measured: 10 to 10, and the chart's p95 at 20 users 134-144 ms).
Nothing changes for a single worker, nor between workers within the margin: a user between two
clicks is briefly out of the count, and closing on that would only reshuffle.
"""

from __future__ import annotations

from collections.abc import MutableSequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MARGIN = 3  # requests in flight over the least busy worker's before a connection is closed


@dataclass
class Membership:
    """This process's place among the workers: every worker's count, and its own slot."""

    loads: MutableSequence[int] | None = None
    index: int = 0


this_worker = Membership()  # no loads: a single process, nothing to balance


def join(loads: MutableSequence[int], index: int) -> None:
    """Make this process worker ``index`` of ``loads`` (a shared array, one slot per worker);
    called in the worker before the app serves."""
    this_worker.loads, this_worker.index = loads, index


def busier(loads: MutableSequence[int], index: int) -> bool:
    """Whether worker ``index`` has MARGIN or more requests in flight than the least busy other."""
    others = [n for i, n in enumerate(loads) if i != index]
    return bool(others) and loads[index] >= min(others) + MARGIN


class BalanceWorkers:
    """ASGI middleware: count this worker's requests in flight; close a connection of a worker
    that is busier than the others once its answer is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        loads, index = this_worker.loads, this_worker.index
        if scope["type"] != "http" or loads is None:
            await self.app(scope, receive, send)
            return
        # Only this worker's event loop writes its slot (no lock); the others' are read as
        # they stand, which is all a balance needs.
        loads[index] += 1

        async def send_balanced(message: Message) -> None:
            if message["type"] == "http.response.start" and busier(loads, index):
                headers = list(message.get("headers", []))
                if all(name.lower() != b"connection" for name, _ in headers):
                    message["headers"] = [*headers, (b"connection", b"close")]
            await send(message)

        try:
            await self.app(scope, receive, send_balanced)
        finally:
            loads[index] -= 1
