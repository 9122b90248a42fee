"""Where chunks of a simulation run: in this process, on this machine's cores, or on a Dask
cluster. Every chunk is a pure function of its inputs and its pump range; the answer is the
chunks' integer counts added up, so it is the same whatever the engine or the chunking."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

ENGINES = ("local", "dask")


@dataclass(frozen=True)
class Chunk:
    start: int
    count: int


def chunks(total: int, size: int) -> list[Chunk]:
    return [Chunk(a, min(size, total - a)) for a in range(0, total, size)]


def run(
    work: Callable[[Chunk], T],
    parts: Sequence[Chunk],
    *,
    engine: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
) -> Iterator[tuple[int, T]]:
    """Run ``work`` on every chunk; yield (chunk index, result) as each finishes."""
    if engine == "dask":
        if not scheduler:
            raise ValueError("the dask engine needs a scheduler address")
        yield from _dask(work, parts, scheduler)
        return
    if engine != "local":
        raise ValueError(f"unknown engine {engine!r}")
    n = workers if workers is not None else (os.cpu_count() or 1)
    if n <= 1 or len(parts) <= 1:
        for i, part in enumerate(parts):
            yield i, work(part)
        return
    with ProcessPoolExecutor(max_workers=min(n, len(parts))) as pool:
        futures = {pool.submit(work, part): i for i, part in enumerate(parts)}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _dask(
    work: Callable[[Chunk], T], parts: Sequence[Chunk], scheduler: str
) -> Iterator[tuple[int, T]]:
    from distributed import Client
    from distributed import as_completed as dask_completed

    with Client(scheduler, timeout="10s") as client:  # type: ignore[no-untyped-call]
        futures: list[Any] = client.map(work, list(parts), pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        for future in dask_completed(futures):  # type: ignore[no-untyped-call]
            yield index[future.key], future.result()
