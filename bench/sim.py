"""Fleet simulation speed (issue 14): pump-years per second.

- vectorised (``sim.fleet.simulate``, one process) against a per-pump loop of the same model
  with the scalar engine (``sim.fleet.simulate_loop``): goal at least 50x;
- on a real Dask cluster on loopback (a scheduler and workers started here, as the tests do),
  one worker against two: goal at least 1.7x;
- a million pump-years on this machine's cores (local engine, one process per core): goal
  under 60 s.
Every run checks that its answer equals the in-process one (same seed, same counts). Results are
printed and written to bench/results/sim.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from intrathecal.sim import fleet
from intrathecal.sim.lateness import DEFAULT
from intrathecal.sim.runs import Where, run_fleet

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# SynchroMed II 20 mL with morphine, as `itp simulate fleet` takes it from the library.
SPEC = fleet.FleetSpec(
    pumps=1,
    years=1.0,
    seed=2026,
    reservoir_ml=20.0,
    alarm_ml=2.0,
    dead_ml=0.0,
    accuracy=0.145,
    stability_days=90.0,
    device_limit_days=None,
    service_life_days=2556.75,
    eri_to_eos_days=90.0,
    margin_days=3.0,
    lateness=DEFAULT,
)


def timed(work: object) -> tuple[float, object]:
    start = time.perf_counter()
    answer = work()  # type: ignore[operator]
    return time.perf_counter() - start, answer


@contextmanager
def cluster(workers: int) -> Iterator[str]:
    """A ``dask scheduler`` and ``workers`` single-threaded ``dask worker`` processes."""
    from distributed import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    logs = Path(tempfile.mkdtemp(prefix="itp-dask-"))
    procs = []

    def start(name: str, *args: str) -> None:
        out = (logs / f"{name}.log").open("wb")
        procs.append(subprocess.Popen([str(BIN / "dask"), *args], env=env, stdout=out,
                                      stderr=subprocess.STDOUT, cwd=logs))  # fmt: skip

    start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port),
          "--dashboard-address", ":0", "--no-show")  # fmt: skip
    for i in range(workers):
        start(f"worker{i}", "worker", address, "--nthreads", "1", "--host", "127.0.0.1",
              "--dashboard-address", ":0", "--no-nanny")  # fmt: skip
    try:
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(workers, timeout=60)
        yield address
    finally:
        for proc in procs[::-1]:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop-pumps", type=int, default=2_000)
    parser.add_argument("--vector-pumps", type=int, default=200_000)
    parser.add_argument("--dask-pumps", type=int, default=2_000_000)
    parser.add_argument("--million", type=int, default=1_000_000)
    args = parser.parse_args()
    results: dict[str, object] = {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0],
    }

    loop_spec = replace(SPEC, pumps=args.loop_pumps)
    loop_s, loop_counts = timed(lambda: fleet.simulate_loop(loop_spec, 0, loop_spec.pumps))
    assert loop_counts == fleet.simulate(loop_spec, 0, loop_spec.pumps)
    vector_spec = replace(SPEC, pumps=args.vector_pumps)
    fleet.simulate(replace(SPEC, pumps=1000), 0, 1000)  # warm up
    vector_s, _ = timed(lambda: run_fleet(vector_spec, Where(workers=1)))
    loop_rate = loop_spec.pumps / loop_s
    vector_rate = vector_spec.pumps / vector_s
    results["per_pump_loop_pump_years_per_s"] = round(loop_rate)
    results["vectorised_pump_years_per_s"] = round(vector_rate)
    results["vectorised_over_loop"] = round(vector_rate / loop_rate, 1)
    print(f"per-pump loop: {loop_rate:,.0f} pump-years/s ({loop_spec.pumps:,} pumps)")
    print(f"vectorised:    {vector_rate:,.0f} pump-years/s ({vector_spec.pumps:,} pumps)")
    print(f"vectorised / loop: {vector_rate / loop_rate:.1f}x (goal >= 50x)")

    dask_spec = replace(SPEC, pumps=args.dask_pumps)
    local = run_fleet(dask_spec, Where(workers=1))
    rates = {}
    for workers in (1, 2):
        with cluster(workers) as address:
            where = Where("dask", address)
            run_fleet(replace(SPEC, pumps=25_000), where, chunk_size=25_000)  # warm up
            seconds, counts = timed(lambda w=where: run_fleet(dask_spec, w, chunk_size=25_000))
            assert counts == local, "the Dask answer differs from the local one"
            rates[workers] = dask_spec.pumps / seconds
            print(f"dask, {workers} worker(s): {rates[workers]:,.0f} pump-years/s")
    results["dask_1_worker_pump_years_per_s"] = round(rates[1])
    results["dask_2_workers_pump_years_per_s"] = round(rates[2])
    results["dask_2_over_1"] = round(rates[2] / rates[1], 2)
    print(f"dask two workers / one: {rates[2] / rates[1]:.2f}x (goal >= 1.7x)")

    million = replace(SPEC, pumps=args.million)
    seconds, counts = timed(lambda: run_fleet(million, Where()))
    results["million_pump_years_s"] = round(seconds, 1)
    results["million_answer"] = fleet.answer(million, counts)  # type: ignore[arg-type]
    print(f"{args.million:,} pump-years on {os.cpu_count()} cores (local engine): {seconds:.1f} s "
          "(goal < 60 s)")  # fmt: skip
    out = ROOT / "bench" / "results" / "sim.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
