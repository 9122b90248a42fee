"""Whole simulations: a population cut into chunks, run on an engine, counts added up.

The chunk functions are module-level so a process pool or a Dask worker can import them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from intrathecal.sim import engines, fleet, risk
from intrathecal.sim.engines import Chunk

FLEET_CHUNK = 65_536  # pumps per chunk: a few MB of arrays, a second or so of work
RISK_CHUNK = 8  # patients per chunk

Progress = Callable[[int], None]  # called with the pumps (or patients) just finished


def fleet_chunk(spec: fleet.FleetSpec, chunk: Chunk) -> fleet.FleetCounts:
    return fleet.simulate(spec, chunk.start, chunk.count)


def risk_chunk(
    cases: Sequence[risk.RiskCase], settings: risk.RiskSettings, chunk: Chunk
) -> risk.RiskCounts:
    return risk.simulate(cases[chunk.start : chunk.start + chunk.count], chunk.start, settings)


@dataclass(frozen=True)
class Where:
    engine: str = "local"
    scheduler: str | None = None
    workers: int | None = None


LOCAL = Where()


def run_fleet(
    spec: fleet.FleetSpec,
    where: Where = LOCAL,
    chunk_size: int = FLEET_CHUNK,
    progress: Progress | None = None,
) -> fleet.FleetCounts:
    parts = engines.chunks(spec.pumps, chunk_size)
    total = fleet.ZERO
    work = partial(fleet_chunk, spec)
    for i, counts in engines.run(
        work, parts, engine=where.engine, scheduler=where.scheduler, workers=where.workers
    ):
        total = total + counts
        if progress is not None:
            progress(parts[i].count)
    return total


def run_risk(
    cases: Sequence[risk.RiskCase],
    settings: risk.RiskSettings,
    where: Where = LOCAL,
    chunk_size: int = RISK_CHUNK,
    progress: Progress | None = None,
) -> risk.RiskCounts:
    m = len(settings.margins_days)
    alarm = np.zeros((len(cases), m), dtype=np.int64)
    empty = np.zeros((len(cases), m), dtype=np.int64)
    parts = engines.chunks(len(cases), chunk_size)
    work = partial(risk_chunk, list(cases), settings)
    for i, counts in engines.run(
        work, parts, engine=where.engine, scheduler=where.scheduler, workers=where.workers
    ):
        part = parts[i]
        alarm[part.start : part.start + part.count] = counts.alarm
        empty[part.start : part.start + part.count] = counts.empty
        if progress is not None:
            progress(part.count)
    return risk.RiskCounts(alarm, empty)
