"""Safety monitor: checks every delivery the firmware is about to run, separately from it.

Separate from the delivery logic (OPCA-40: "a safety architecture that separates normal
operation from fault detection and response"; design.md: the monitor "can only stop or reduce
delivery, never raise it"). It is given what the firmware proposes and answers with a subset of
it: deliver or not, and which of the proposed boluses may run. It re-checks, from the raw
history, the rules the firmware already enforced: no delivery while stopped or under a critical
alarm (OPCA-2, OPCA-52), demand-bolus lockout and rolling 24 h maximum (OPCA-24, OPCA-61), the
device's basal and bolus rate ceilings (OPCA-26).
"""

from __future__ import annotations

from dataclasses import dataclass

from intrathecal.engine.demand import decide
from intrathecal.library.records import Device
from intrathecal.pump.alarms import AlarmCode
from intrathecal.pump.state import BolusRun
from intrathecal.therapy.program import DemandBolus

RATE_TOLERANCE = 1e-9  # mL/day: float noise, not a clinical margin


@dataclass(frozen=True)
class Proposal:
    device: Device
    stopped: bool
    critical_alarms: tuple[AlarmCode, ...]
    basal_max_rate_ml_per_day: float  # highest basal step of the program
    peak_rate_ml_per_day: float  # highest basal + periodic-bolus rate of the program's cycle
    boluses: tuple[BolusRun, ...]
    demand: DemandBolus | None
    demand_history_s: tuple[float, ...]  # every accepted demand start still remembered


@dataclass(frozen=True)
class Verdict:
    deliver: bool
    boluses: tuple[BolusRun, ...]  # always a subset of the proposal's boluses
    reasons: tuple[str, ...]


def review(proposal: Proposal) -> Verdict:
    if proposal.stopped:
        return Verdict(False, (), ("delivery is stopped by the clinician",))
    if proposal.critical_alarms:
        codes = ", ".join(c.value for c in proposal.critical_alarms)
        return Verdict(False, (), (f"critical alarm active ({codes}): no delivery",))
    device = proposal.device
    reasons: list[str] = []
    replacing = [b for b in proposal.boluses if b.replaces_basal]
    basal = 0.0 if replacing else proposal.basal_max_rate_ml_per_day
    if basal > device.max_rate_ml_per_day.value + RATE_TOLERANCE:
        return Verdict(
            False,
            (),
            (
                f"basal rate {basal:g} mL/day is above the device maximum "
                f"{device.max_rate_ml_per_day.value:g} mL/day: stopped",
            ),
        )
    kept: list[BolusRun] = []
    for bolus in proposal.boluses:
        reason = _demand_problem(bolus, proposal)
        if reason is None and bolus.replaces_basal and any(b.replaces_basal for b in kept):
            reason = "a second bolus that replaces the basal rate"
        if reason is None:
            # Checked instant by instant: only boluses that run at the same time add up (a
            # clinician bolus suspended for a patient's bolus resumes after it, OPCA-64), and
            # the basal peak counts wherever no bolus replaces it.
            total = highest_total(proposal.peak_rate_ml_per_day, [*kept, bolus])
            ceiling = device.max_bolus_rate_ml_per_day.value
            if total > ceiling + RATE_TOLERANCE:
                reason = (
                    f"total rate {total:g} mL/day would exceed the device bolus maximum "
                    f"{ceiling:g} mL/day"
                )
        if reason is None:
            kept.append(bolus)
        else:
            reasons.append(f"{bolus.kind} bolus started {bolus.start_s:g} s dropped: {reason}")
    return Verdict(True, tuple(kept), tuple(reasons))


def highest_total(peak_ml_per_day: float, boluses: list[BolusRun]) -> float:
    """The highest total rate (basal peak + running boluses) over the boluses' intervals.
    Rates are piecewise constant, so the highest is at some bolus start."""
    worst = 0.0
    for at in {b.start_s for b in boluses}:
        running = [b for b in boluses if b.start_s <= at < b.end_s]
        base = 0.0 if any(b.replaces_basal for b in running) else peak_ml_per_day
        worst = max(worst, base + sum(b.rate_ml_per_day for b in running))
    return worst


def _demand_problem(bolus: BolusRun, proposal: Proposal) -> str | None:
    if bolus.kind != "demand":
        return None
    demand = proposal.demand
    if demand is None:
        return "the active program has no demand bolus"
    if abs(bolus.volume_ml - demand.volume_ml) > 1e-12 or bolus.duration_s != demand.duration_s:
        return "its volume or duration is not the program's demand bolus"
    before = sorted(t for t in proposal.demand_history_s if t < bolus.start_s)
    decision = decide(demand, bolus.start_s, before)
    return None if decision.accepted else decision.reason
