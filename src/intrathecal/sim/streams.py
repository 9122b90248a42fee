"""Counter-based random streams: every draw is a function of (seed, kind, lane, pump) alone.

A draw for pump i of kind k on lane (a, b) is output i % 4 of the Philox-4x64 block at counter
(i // 4, a, b, 0) under key (seed, k). Nothing depends on which pumps share a chunk, how many
workers there are or in what order chunks run, so a result is bit-identical whatever the
chunking or the engine. Uniforms are made from the raw 64-bit words here (top 53 bits), not by
a Generator method, so they do not change with NumPy's sampling algorithms.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

MAX_SEED = 2**63 - 1


class Kind(IntEnum):
    """What a stream is for; each kind is an independent key."""

    DELIVERY_ERROR = 1
    LATENESS = 2
    PRESS_GAP = 3
    BATTERY_AGE = 4
    RATE = 5
    TEMPLATE = 6


def uniforms(
    seed: int, kind: Kind, start: int, count: int, lane: tuple[int, int] = (0, 0)
) -> FloatArray:
    """Uniform draws in [0, 1) for pumps ``start .. start + count - 1``."""
    if not 0 <= seed <= MAX_SEED:
        raise ValueError("seed must be between 0 and 2**63 - 1")
    first, skip = divmod(start, 4)
    generator = np.random.Philox(key=[seed, int(kind)], counter=[first, lane[0], lane[1], 0])
    raw = generator.random_raw(skip + count)[skip:]
    values: FloatArray = (raw >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)
    return values


def open_uniforms(
    seed: int, kind: Kind, start: int, count: int, lane: tuple[int, int] = (0, 0)
) -> FloatArray:
    """Uniform draws in (0, 1] (for logarithms)."""
    values: FloatArray = 1.0 - uniforms(seed, kind, start, count, lane)
    return values
