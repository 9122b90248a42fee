"""The same answer on a real Dask cluster (a scheduler and two workers) as in-process."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from intrathecal.sim.cases import risk_case
from intrathecal.sim.lateness import DEFAULT
from intrathecal.sim.risk import RiskSettings
from intrathecal.sim.runs import Where, run_fleet, run_risk
from tests.conftest import MONDAY, example
from tests.sim.test_fleet import SPEC


def test_fleet_on_dask_equals_local_bit_for_bit(dask_scheduler: str) -> None:
    spec = replace(SPEC, pumps=5000)
    local = run_fleet(spec, Where(workers=1), chunk_size=5000)
    done: list[int] = []
    remote = run_fleet(spec, Where("dask", dask_scheduler), chunk_size=700, progress=done.append)
    assert remote == local
    assert sum(done) == 5000


def test_risk_on_dask_equals_local_bit_for_bit(dask_scheduler: str) -> None:
    program = example("morphine-bupivacaine.toml")
    cases = [risk_case(program, f, MONDAY, presses_per_day=3.0) for f in (10.0, 15.0, 20.0)]
    config = RiskSettings(500, 8, (0.0, 2.0, 5.0), DEFAULT)
    local = run_risk(cases, config, Where(workers=1), chunk_size=3)
    remote = run_risk(cases, config, Where("dask", dask_scheduler), chunk_size=1)
    assert np.array_equal(local.alarm, remote.alarm)
    assert np.array_equal(local.empty, remote.empty)
