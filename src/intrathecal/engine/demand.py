"""Demand (patient) bolus: which presses are accepted, and the worst case of every allowed one.

Rules (design.md; safety requirement OPCA-24 and CADD-1 for lockout, OPCA-61 for the window):
- lockout is measured start to start: a press is refused if the last accepted bolus started
  less than ``lockout_s`` before it;
- at most ``max_per_24h`` boluses may start in any rolling 24 hours: a press at p is refused if
  that many accepted boluses started in (p - 24 h, p).
Every refusal carries its reason.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from intrathecal.engine.profile import Pulse
from intrathecal.therapy.program import DemandBolus
from intrathecal.units import SECONDS_PER_DAY, format_duration

WINDOW_S = SECONDS_PER_DAY


@dataclass(frozen=True)
class PressDecision:
    at_s: float
    accepted: bool
    reason: str


def iso(t: float) -> str:
    """An instant as ISO 8601 UTC, e.g. 2026-01-05T10:00:00Z."""
    moment = datetime.fromtimestamp(t, tz=UTC)
    text = moment.isoformat(timespec="seconds" if moment.microsecond == 0 else "milliseconds")
    return text.replace("+00:00", "Z")


def decide(demand: DemandBolus, press_at_s: float, accepted_before: list[float]) -> PressDecision:
    """Decide one press given the start times of earlier accepted boluses (sorted)."""
    if accepted_before:
        last = accepted_before[-1]
        if press_at_s < last:
            return PressDecision(press_at_s, False, "press is earlier than the last bolus")
        if press_at_s - last < demand.lockout_s:
            return PressDecision(
                press_at_s,
                False,
                f"lockout: the last bolus started at {iso(last)}; lockout "
                f"{format_duration(demand.lockout_s)} start to start; next allowed at "
                f"{iso(last + demand.lockout_s)}",
            )
    in_window = len(accepted_before) - bisect_right(accepted_before, press_at_s - WINDOW_S)
    if in_window >= demand.max_per_24h:
        oldest = accepted_before[len(accepted_before) - in_window]
        return PressDecision(
            press_at_s,
            False,
            f"maximum {demand.max_per_24h} per rolling 24 h reached ({in_window} since "
            f"{iso(oldest)}); next allowed at {iso(oldest + WINDOW_S)}",
        )
    return PressDecision(press_at_s, True, "accepted")


def decide_presses(
    demand: DemandBolus, presses_s: Iterable[float], history_s: Iterable[float] = ()
) -> list[PressDecision]:
    """Decide every press in time order. ``history_s`` are earlier accepted bolus starts."""
    accepted = sorted(history_s)
    decisions = []
    for press in sorted(presses_s):
        decision = decide(demand, press, accepted)
        if decision.accepted:
            accepted.append(press)
        decisions.append(decision)
    return decisions


def worst_case_pulses(demand: DemandBolus) -> tuple[list[Pulse], int]:
    """Every allowed bolus taken as early as allowed, from the first at offset 0.

    The greedy earliest schedule delivers at least as much as any other by every instant. It
    repeats: if max_per_24h lockouts fit in 24 h, a burst of max_per_24h boluses one lockout
    apart every 24 h; otherwise one bolus every lockout. Returns the pulses of one period and
    the period.
    """
    rate = demand.volume_ml * SECONDS_PER_DAY / demand.duration_s
    if demand.max_per_24h * demand.lockout_s <= WINDOW_S:
        pulses = [
            Pulse(k * demand.lockout_s, demand.duration_s, rate) for k in range(demand.max_per_24h)
        ]
        return pulses, WINDOW_S
    return [Pulse(0, demand.duration_s, rate)], demand.lockout_s


def worst_case_presses(demand: DemandBolus, start_s: float, end_s: float) -> list[float]:
    """The same schedule as explicit press times in [start_s, end_s) (for oracles and logs)."""
    pulses, period = worst_case_pulses(demand)
    presses: list[float] = []
    cycle = 0
    while True:
        base = start_s + cycle * period
        for pulse in pulses:
            if base + pulse.start_s >= end_s:
                return presses
            presses.append(base + pulse.start_s)
        cycle += 1
