"""Write a program back as a program file (TOML) that parses to the same program.

Basal steps are written as rates (exact, already on the device step); boluses as volumes. Each
line carries the dose of the first drug as a comment for the reader.
"""

from __future__ import annotations

import json

from intrathecal.library.records import DeliveryMode, Origin
from intrathecal.therapy.program import ALL_DAYS, WEEKDAY_NAMES, Program
from intrathecal.therapy.summary import device_value_text, device_values
from intrathecal.units import format_duration


def _q(text: str) -> str:
    return json.dumps(text)  # a TOML basic string is a JSON string for these characters


def _clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


def _days(days: frozenset[int]) -> list[str]:
    if days == ALL_DAYS:
        return []
    return [f"days = [{', '.join(_q(WEEKDAY_NAMES[d]) for d in sorted(days))}]"]


def _num(value: float) -> str:
    return repr(round(value, 12)).rstrip("0").rstrip(".") if "." in repr(value) else repr(value)


def to_toml(program: Program) -> str:
    first = program.first
    per_ml = first.concentration_mcg_per_ml
    lines = [
        f"name = {_q(program.name)}",
        f"device = {_q(program.device.key)}",
        f"mode = {_q(program.mode.value)}",
        f'catheter_volume = "{_num(program.catheter_volume_ml)} mL"',
        f'low_reservoir_alarm = "{_num(program.low_reservoir_alarm_ml)} mL"',
    ]
    for ingredient in program.ingredients:
        lines += [
            "",
            "[[drugs]]",
            f"name = {_q(ingredient.drug.key)}",
            f'concentration = "{_num(ingredient.concentration_mcg_per_ml)} mcg/mL"',
        ]
    # Periodic flow has no basal: its zero step is implied by the mode.
    basal = () if program.mode is DeliveryMode.PERIODIC_FLOW else program.basal
    for step in basal:
        lines += [
            "",
            "[[basal]]",
            f'start = "{_clock(step.start_s)}"',
            *_days(step.days),
            f'rate = "{_num(step.rate_ml_per_day)} mL/day"  '
            f"# {_num(step.rate_ml_per_day * per_ml)} mcg/day {first.drug.key}",
        ]
    for bolus in program.periodic:
        lines += [
            "",
            "[[periodic_bolus]]",
            f'start = "{_clock(bolus.start_s)}"',
            *_days(bolus.days),
            f'volume = "{_num(bolus.volume_ml)} mL"  '
            f"# {_num(bolus.volume_ml * per_ml)} mcg {first.drug.key}",
            f'duration = "{format_duration(bolus.duration_s)}"',
        ]
    if program.demand is not None:
        demand = program.demand
        lines += [
            "",
            "[demand_bolus]",
            f'volume = "{_num(demand.volume_ml)} mL"  '
            f"# {_num(demand.volume_ml * per_ml)} mcg {first.drug.key}",
            f'duration = "{format_duration(demand.duration_s)}"',
            f'lockout = "{format_duration(demand.lockout_s)}"',
            f"max_per_24h = {demand.max_per_24h}",
        ]
    overrides = {
        key: value
        for key, value in device_values(program).items()
        if value.origin is Origin.PROGRAM_OVERRIDE
    }
    if overrides:
        lines += ["", "[device_overrides]"]
        for key, value in overrides.items():
            text = device_value_text(key, value)
            raw = (
                f"[{', '.join(_q(t) for t in text.split(', '))}]"
                if key == "fixed_rates"
                else _q(text)
            )
            lines.append(
                f"{key} = {{ value = {raw}, source = {_q(value.source.citation)}, "
                f"verified = {str(value.verified).lower()} }}"
            )
    return "\n".join(lines) + "\n"
