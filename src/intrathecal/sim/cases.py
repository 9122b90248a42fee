"""A patient's fill as the risk simulation takes it, from a program and the fill."""

from __future__ import annotations

import math

from intrathecal.clinical.refill import plan
from intrathecal.engine.delivery import program_profile
from intrathecal.sim.risk import RiskCase
from intrathecal.therapy.program import Program


def risk_case(
    program: Program,
    fill_ml: float,
    filled_at_s: float,
    *,
    label: str = "",
    presses_per_day: float = 0.0,
    limit_at_s: float | None = None,
    naive_pump: bool = False,
    now_running: Program | None = None,
    switched_at_s: float | None = None,
) -> RiskCase:
    """``limit_at_s``: the recorded due date with no margin; the refill plan's when not given.
    ``now_running``: a program applied at ``switched_at_s`` after the fill (same solution); its
    demand bolus is the one the presses meet."""
    if limit_at_s is None:
        limit_at_s = plan(program, fill_ml, filled_at_s, naive_pump=naive_pump).refill_due_at_s
    dead = program.device.non_retrievable_ml
    running = now_running or program
    switched = now_running is not None and switched_at_s is not None
    return RiskCase(
        label=label or program.name,
        profile=program_profile(program),
        filled_at_s=filled_at_s,
        usable_ml=fill_ml - program.low_reservoir_alarm_ml,
        empty_ml=fill_ml - (dead.value if dead is not None else 0.0),
        limit_at_s=limit_at_s,
        accuracy=program.device.accuracy_fraction.value,
        demand=running.demand,
        presses_per_day=presses_per_day if running.demand is not None else 0.0,
        after=program_profile(running) if switched else None,
        switched_at_s=switched_at_s if switched and switched_at_s is not None else math.inf,
    )
