"""``itp program check``: is a program valid, and what does it deliver per day."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from intrathecal.cli.output import DISCLAIMER, emit, load_program, reported
from intrathecal.library.parse import DEVICE_FIELDS
from intrathecal.library.records import DeliveryMode, Sourced
from intrathecal.therapy.modes import mode_label
from intrathecal.therapy.program import ALL_DAYS, WEEKDAY_NAMES, Ingredient, Program
from intrathecal.therapy.summary import device_value_text, device_values, summarize
from intrathecal.units import (
    format_concentration,
    format_dose_rate,
    format_duration,
    format_mass,
    format_volume,
    format_volume_rate,
)

app = typer.Typer(help="Check infusion programs.", no_args_is_help=True)


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _days(days: frozenset[int]) -> str:
    return "" if days == ALL_DAYS else " (" + ",".join(WEEKDAY_NAMES[d] for d in sorted(days)) + ")"


def _sourced_json(key: str, value: Sourced[object]) -> dict[str, Any]:
    return {
        "value": [getattr(v, "value", v) for v in value.value]
        if isinstance(value.value, tuple)
        else value.value,
        "unit": DEVICE_FIELDS[key][3],
        "verified": value.verified,
        "origin": value.origin.value,
        "source": value.source.citation,
    }


def check_payload(program: Program) -> dict[str, Any]:
    summary = summarize(program)
    doses = {i.drug.key: i.concentration_mcg_per_ml for i in program.ingredients}
    return {
        "valid": True,
        "program": program.name,
        "device": program.device.key,
        "mode": program.mode.value,
        "drugs": [
            {
                "name": i.drug.key,
                "concentration_mcg_per_ml": i.concentration_mcg_per_ml,
                "approved_for_pump": i.drug.approved_for_pump.value,
            }
            for i in program.ingredients
        ],
        "cycle": "week" if program.weekly else "day",
        "basal": [
            {
                "start": _clock(s.start_s),
                "days": sorted(s.days),
                "rate_ml_per_day": s.rate_ml_per_day,
                "doses_mcg_per_day": {k: s.rate_ml_per_day * c for k, c in doses.items()},
            }
            for s in program.basal
        ],
        "daily_volume_ml": summary.mean_volume_ml_per_day,
        "daily_volume_ml_by_day": summary.volume_ml_by_day,
        "daily_doses_mcg": summary.doses_mcg_per_day,
        "demand_max_volume_ml_per_day": summary.demand_max_volume_ml_per_day,
        "worst_case_daily_volume_ml": summary.worst_case_volume_ml_per_day,
        "worst_case_daily_doses_mcg": summary.worst_case_doses_mcg_per_day,
        "low_reservoir_alarm_ml": program.low_reservoir_alarm_ml,
        "catheter_volume_ml": program.catheter_volume_ml,
        "notices": [{"field": n.field, "message": n.message} for n in program.notices],
        "device_overrides": sorted(program.overridden),
        "device_values": {k: _sourced_json(k, v) for k, v in device_values(program).items()},
        "disclaimer": DISCLAIMER,
    }


def _unit(ingredient: Ingredient) -> str:
    return ingredient.drug.dose_unit.value


def _rate(ingredient: Ingredient, mcg_per_day: float) -> str:
    return format_dose_rate(mcg_per_day, _unit(ingredient))


def check_text(program: Program, path: Path) -> str:
    summary = summarize(program)
    lines = [f"{path}: valid", f"device: {program.device.name} ({program.device.key})"]
    for i in program.ingredients:
        unit = i.drug.dose_unit.value
        approval = "" if i.drug.approved_for_pump.value else "  [not approved for pumps]"
        lines.append(
            f"drug: {i.drug.key} {format_concentration(i.concentration_mcg_per_ml, unit)}{approval}"
        )
    periodic_flow = program.mode is DeliveryMode.PERIODIC_FLOW
    lines.append(
        "basal: none (periodic flow: no flow between doses)" if periodic_flow else "basal:"
    )
    for s in () if periodic_flow else program.basal:
        doses = ", ".join(
            f"{_rate(i, s.rate_ml_per_day * i.concentration_mcg_per_ml)} {i.drug.key}"
            for i in program.ingredients
        )
        lines.append(
            f"  from {_clock(s.start_s)}{_days(s.days)}: {format_volume_rate(s.rate_ml_per_day)}"
            f" ({doses})"
        )
    for b in program.periodic:
        lines.append(
            f"periodic bolus: {_clock(b.start_s)}{_days(b.days)} {format_volume(b.volume_ml)} over "
            f"{format_duration(b.duration_s)}"
        )
    if program.demand is not None:
        d = program.demand
        lines.append(
            f"demand bolus: {format_volume(d.volume_ml)} over {format_duration(d.duration_s)}, "
            f"lockout {format_duration(d.lockout_s)} start to start, at most {d.max_per_24h} "
            "per rolling 24 h"
        )
    for day, volume in summary.volume_ml_by_day.items():
        lines.append(f"volume {day}: {format_volume(volume)}")
    lines.append(f"daily volume (mean): {format_volume_rate(summary.mean_volume_ml_per_day)}")
    for i in program.ingredients:
        unit = i.drug.dose_unit.value
        lines.append(
            f"daily dose {i.drug.key}: "
            f"{format_dose_rate(summary.doses_mcg_per_day[i.drug.key], unit)}"
            + (
                f" (up to {_rate(i, summary.worst_case_doses_mcg_per_day[i.drug.key])}"
                " with every allowed demand bolus)"
                if program.demand
                else ""
            )
        )
    if program.demand is not None:
        lines.append(
            f"worst-case daily volume: {format_volume_rate(summary.worst_case_volume_ml_per_day)}"
        )
        for i in program.ingredients:
            lines.append(
                f"demand bolus {i.drug.key}: "
                f"{format_mass(program.demand.volume_ml * i.concentration_mcg_per_ml, _unit(i))}"
            )
    lines.append(f"mode: {mode_label(program.device, program.mode)} ({program.mode.value})")
    lines.append(f"low-reservoir alarm: {format_volume(program.low_reservoir_alarm_ml)}")
    lines.append(f"catheter volume: {format_volume(program.catheter_volume_ml)}")
    for notice in program.notices:
        lines.append(f"notice: {notice.field}: {notice.message}")
    lines.append("device values used:")
    for key, value in device_values(program).items():
        lines.append(f"  {key} = {device_value_text(key, value)}  [{value.provenance}]")
    lines.append(DISCLAIMER)
    return "\n".join(lines)


@app.command("check")
def check(
    program_file: Annotated[Path, typer.Argument(metavar="PROGRAM.toml", help="Program file.")],
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write the rate over a day or week as PNG.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Validate a program; print its daily volume and the daily dose of each drug."""
    with reported(as_json):
        program = load_program(program_file)
        payload = check_payload(program)
        if plot is not None:
            from intrathecal.charts.rate import plot_rate

            plot_rate(program, plot)
            payload["plot"] = str(plot)
        emit(as_json, payload, check_text(program, program_file))


def _register_more() -> None:
    # Modes, pulses, the fixed-rate plan and the schedule comparison live in their own modules.
    from intrathecal.cli import compare_cmd, modes_cmd

    modes_cmd.register(app)
    compare_cmd.register(app)


_register_more()
