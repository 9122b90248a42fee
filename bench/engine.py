"""Engine benchmarks, each answer timed side by side with its baseline in the same run.

1. One pump, 90 days: the closed-form volume (and the alarm instant) against the tick oracle
   stepping 1 minute at a time over the same program.
2. 100,000 pumps' next low-reservoir alarm: the vectorised fleet against a per-pump loop of the
   same closed form.

Results are ratios (baseline time / engine time), printed and written to
bench/results/engine.json. Absolute times depend on the machine; ratios are what to compare.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from intrathecal.engine.delivery import build_delivery
from intrathecal.engine.fleet import Fleet
from intrathecal.engine.profile import DAY, RateProfile
from intrathecal.engine.tick_oracle import tick_time_at_volume, tick_volume
from intrathecal.library import default_library
from intrathecal.therapy.parse import parse_program

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "engine.json"
EXAMPLE = ROOT / "examples" / "morphine-bupivacaine.toml"
T0 = datetime(2026, 1, 5, tzinfo=UTC).timestamp()
TICK_S = 60.0
FLEET = 100_000


def best_of(repeats: int, call: Callable[[], object]) -> float:
    """Best wall time of ``repeats`` calls (the least disturbed by other work)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def one_pump() -> dict[str, float]:
    program = parse_program(EXAMPLE.read_text(), default_library(), name=EXAMPLE.name)
    delivery, _ = build_delivery(program)
    t1 = T0 + 90 * DAY
    exact = delivery.volume_between(T0, t1)
    ticked = tick_volume(delivery.rate_at, T0, t1, TICK_S)
    engine_s = best_of(2000, lambda: delivery.volume_between(T0, t1))
    oracle_s = best_of(3, lambda: tick_volume(delivery.rate_at, T0, t1, TICK_S))
    alarm_ml = 18.0
    engine_alarm_s = best_of(2000, lambda: delivery.time_at_volume(T0, alarm_ml))
    oracle_alarm_s = best_of(
        3, lambda: tick_time_at_volume(delivery.rate_at, T0, alarm_ml, TICK_S, 120 * DAY)
    )
    return {
        "volume_90_days_ml": exact,
        "tick_volume_90_days_ml": ticked,
        "engine_volume_s": engine_s,
        "oracle_volume_s": oracle_s,
        "volume_ratio": oracle_s / engine_s,
        "engine_alarm_s": engine_alarm_s,
        "oracle_alarm_s": oracle_alarm_s,
        "alarm_ratio": oracle_alarm_s / engine_alarm_s,
    }


def random_profiles(count: int, seed: int = 2026) -> list[RateProfile]:
    """Daily flex programs of 1-13 steps at 0.048-2 mL/day, as a clinic's fleet might run."""
    rng = random.Random(seed)
    profiles = []
    for _ in range(count):
        steps = rng.randint(1, 13)
        starts = sorted({0, *(rng.randrange(1, 1440) * 60 for _ in range(steps - 1))})
        rates = tuple(round(rng.uniform(0.048, 2.0), 3) for _ in starts)
        profiles.append(RateProfile(86_400, int(T0), tuple(starts), rates))
    return profiles


def fleet_alarms() -> dict[str, float]:
    profiles = random_profiles(FLEET)
    rng = np.random.default_rng(7)
    fills = rng.uniform(2.5, 20.0, FLEET)
    t0 = T0 + rng.uniform(0, 30 * DAY, FLEET).round()
    to_alarm = fills - 2.0
    fleet = Fleet.of(profiles)

    def vectorised() -> np.ndarray:
        return fleet.time_at_volume(t0, to_alarm)

    def loop() -> list[float]:
        return [
            p.time_at_volume(float(a), float(v))
            for p, a, v in zip(profiles, t0, to_alarm, strict=True)
        ]

    agree = float(np.max(np.abs(vectorised() - np.array(loop()))))
    vector_s = best_of(20, vectorised)
    loop_s = best_of(3, loop)
    return {
        "pumps": FLEET,
        "vectorised_s": vector_s,
        "loop_s": loop_s,
        "ratio": loop_s / vector_s,
        "largest_disagreement_s": agree,
    }


def main() -> None:
    pump = one_pump()
    fleet = fleet_alarms()
    results = {"one_pump_90_days": pump, "fleet_next_alarm": fleet}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print("engine benchmarks (baseline time / engine time, same run)")
    print(
        f"  one pump, 90 days, volume:      closed form {pump['engine_volume_s'] * 1e6:8.1f} us"
        f"  tick oracle (1 min) {pump['oracle_volume_s'] * 1e3:8.1f} ms"
        f"  ratio {pump['volume_ratio']:,.0f}x"
    )
    print(
        f"  one pump, alarm instant:        closed form {pump['engine_alarm_s'] * 1e6:8.1f} us"
        f"  tick oracle (1 min) {pump['oracle_alarm_s'] * 1e3:8.1f} ms"
        f"  ratio {pump['alarm_ratio']:,.0f}x"
    )
    print(
        f"  {FLEET:,} pumps, next alarm:    vectorised {fleet['vectorised_s'] * 1e3:8.1f} ms"
        f"  per-pump loop {fleet['loop_s'] * 1e3:8.1f} ms  ratio {fleet['ratio']:,.1f}x"
        f"  (largest disagreement {fleet['largest_disagreement_s']:.2g} s)"
    )
    print(
        f"  90-day volume: closed form {pump['volume_90_days_ml']:.6f} mL,"
        f" tick oracle {pump['tick_volume_90_days_ml']:.6f} mL"
    )
    print(f"results written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
