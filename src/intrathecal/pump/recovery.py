"""What a pump must not forget when its stored state is lost (issue 12, defect 5).

After ``state.json`` fails its checksum the pump starts in its memory-error safe state, but the
facts that keep the patient safe later are rebuilt rather than reset: the demand-bolus starts
(OPCA-24 lockout and OPCA-61 rolling 24 h maximum), the total delivered, the latest instant the
pump reached (its clock never goes backwards) and the request ids it already applied (a retry
is never applied twice). Two independent witnesses hold them: the append-only event log and a
small checksummed safety record written before every state. Recovery takes the union of both,
the safe side: a bolus either of them remembers counts.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from intrathecal.pump.state import Event, Json, PumpState

SPENT_IDS_KEPT = 256  # request ids remembered from the log after a memory error


@dataclass(frozen=True)
class SafetyRecord:
    now_s: float
    delivered_total_ml: float
    demand_history_s: tuple[float, ...]
    spent_request_ids: dict[str, str] = field(default_factory=dict)  # id -> request digest
    battery_charge_days: float | None = None


def safety_of(state: PumpState) -> SafetyRecord:
    return SafetyRecord(
        now_s=state.now_s,
        delivered_total_ml=state.delivered_total_ml,
        demand_history_s=tuple(state.demand_history_s),
        battery_charge_days=state.battery_charge_days,
    )


def safety_to_json(record: SafetyRecord) -> dict[str, Json]:
    return {
        "now_s": record.now_s,
        "delivered_total_ml": record.delivered_total_ml,
        "demand_history_s": list(record.demand_history_s),
        "battery_charge_days": record.battery_charge_days,
    }


def safety_from_json(raw: dict[str, Json]) -> SafetyRecord:
    """Raises KeyError, TypeError or ValueError on anything malformed."""
    history = raw["demand_history_s"]
    if not isinstance(history, list):
        raise TypeError("demand_history_s is not a list")
    charge = raw.get("battery_charge_days")
    return SafetyRecord(
        now_s=float(raw["now_s"]),
        delivered_total_ml=float(raw["delivered_total_ml"]),
        demand_history_s=tuple(float(t) for t in history),
        battery_charge_days=None if charge is None else float(charge),
    )


def _delivered_by_fills(events: list[Event]) -> float:
    """Volume delivered over completed fills, from the refill entries: each refill says what
    was put in and what the pump expected to be left of the fill before it."""
    total, previous = 0.0, None
    for event in events:
        if event.kind != "refilled":
            continue
        volume = event.data.get("volume_ml")
        residual = event.data.get("expected_residual_ml")
        if previous is not None and isinstance(residual, int | float):
            total += max(0.0, previous - float(residual))
        previous = float(volume) if isinstance(volume, int | float) else None
    return total


def recovered_safety(events: list[Event], record: SafetyRecord | None) -> SafetyRecord:
    """The union of what the log and the safety record remember (either may be missing)."""
    starts = {
        e.at_s for e in events if e.kind == "bolus_started" and e.data.get("kind") == "demand"
    }
    if record is not None:
        starts.update(record.demand_history_s)
    spent: dict[str, str] = {}
    for event in events:
        request_id = event.data.get("request_id")
        if event.kind in ("command", "refused") and isinstance(request_id, str):
            spent[request_id] = str(event.data.get("digest", ""))
    while len(spent) > SPENT_IDS_KEPT:
        del spent[next(iter(spent))]
    return SafetyRecord(
        now_s=max([record.now_s if record else -1e18, *(e.at_s for e in events)]),
        delivered_total_ml=max(
            record.delivered_total_ml if record else 0.0, _delivered_by_fills(events)
        ),
        demand_history_s=tuple(sorted(starts)),
        spent_request_ids=spent,
        battery_charge_days=record.battery_charge_days if record else None,
    )
