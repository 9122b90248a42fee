"""``itp program modes | pulses | fixed-rate-plan``: each pump as its labelling describes it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from intrathecal.cli.output import DISCLAIMER, emit, load_program, parse_instant, reported
from intrathecal.clinical.refill import fixed_rate_plan
from intrathecal.engine.delivery import build_delivery
from intrathecal.engine.demand import iso
from intrathecal.engine.pulses import actuation_times, pulse_summary
from intrathecal.library import default_library
from intrathecal.library.records import Device, Sourced
from intrathecal.therapy.modes import device_modes
from intrathecal.units import (
    InputError,
    Kind,
    format_concentration,
    format_dose_rate,
    format_mass,
    format_volume,
    format_volume_rate,
    parse,
    parse_positive,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _seconds(seconds: float) -> str:
    """A time between actuations: whole seconds below 2 min, else minutes or hours."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _status(value: Sourced[Any]) -> str:
    return f"[{value.provenance}]"


def modes_payload(device: Device) -> dict[str, Any]:
    return {
        "device": device.key,
        "name": device.name,
        "modes": [
            {
                "mode": spec.mode.value,
                "label": spec.label,
                "max_steps_per_day": spec.max_steps_per_day,
                "fields": [
                    {"key": f.key, "required": f.required, "note": f.note} for f in spec.fields
                ],
            }
            for spec in device_modes(device)
        ],
        "modes_verified": device.modes.verified if device.modes else False,
        "modes_source": device.modes.source.citation if device.modes else "device kind",
        "actuation_volume_ml": device.actuation_volume_ml.value
        if device.actuation_volume_ml
        else None,
    }


def modes_text(device: Device) -> str:
    where = _status(device.modes) if device.modes else "[from the device kind]"
    lines = [f"{device.key}: {device.name}", f"modes {where}:"]
    for spec in device_modes(device):
        lines.append(f"  {spec.mode.value}: {spec.label}")
        for field in spec.fields:
            need = "required" if field.required else "optional"
            lines.append(f"    [{field.key}] ({need}): {field.note}")
    stroke = device.actuation_volume_ml
    if stroke is not None:
        lines.append(f"actuation volume: {format_volume(stroke.value)} {_status(stroke)}")
    else:
        lines.append("actuation volume: none (not a valve-gated pump)")
    lines.append(DISCLAIMER)
    return "\n".join(lines)


def modes(
    device: Annotated[
        str, typer.Argument(metavar="DEVICE", help="Device key, e.g. prometra-ii-20.")
    ],
    as_json: JsonOpt = False,
) -> None:
    """List the delivery modes a device offers and what a program in each holds."""
    with reported(as_json):
        try:
            found = default_library().device(device)
        except KeyError as exc:
            raise InputError("DEVICE", str(exc.args[0])) from None
        emit(as_json, modes_payload(found), modes_text(found))


def pulses(
    program_file: Annotated[Path, typer.Argument(metavar="PROGRAM.toml", help="Program file.")],
    start: Annotated[
        str | None,
        typer.Option("--from", help="List actuations from this instant (ISO 8601 with offset)."),
    ] = None,
    span: Annotated[str, typer.Option("--for", help="How long to list, e.g. '1 h'.")] = "1 h",
    as_json: JsonOpt = False,
) -> None:
    """Valve actuations of a pulsed pump: per day, time between them, dose in each."""
    with reported(as_json):
        program = load_program(program_file)
        stroke = program.device.actuation_volume_ml
        if stroke is None:
            raise InputError(
                "PROGRAM",
                f"{program.device.name} is not a valve-gated pump: its delivery is a continuous "
                "flow (no actuation volume in the library)",
            )
        summary = pulse_summary(program, stroke.value)
        unit = {i.drug.key: i.drug.dose_unit.value for i in program.ingredients}
        listed: list[float] = []
        if start is not None:
            t0 = parse_instant(start, "--from")
            seconds = parse_positive(span, "--for", Kind.DURATION)
            if seconds > 7 * 86_400:
                raise InputError("--for", "list at most 7 days; the summary covers the rest")
            listed = actuation_times(build_delivery(program)[0], t0, t0 + seconds, stroke.value)
        payload = {
            "program": program.name,
            "device": program.device.key,
            "mode": program.mode.value,
            "actuation_volume_ml": stroke.value,
            "actuation_volume_verified": stroke.verified,
            "daily_volume_ml": summary.daily_volume_ml,
            "actuations_per_day": summary.actuations_per_day,
            "heaviest_day_actuations": summary.heaviest_day_actuations,
            "mean_interval_s": summary.mean_interval_s,
            "intervals": [
                {"rate_ml_per_day": i.rate_ml_per_day, "interval_s": i.interval_s}
                for i in summary.intervals
            ],
            "dose_per_actuation_mcg": summary.dose_per_actuation_mcg,
            "actuations": [iso(t) for t in listed],
        }
        lines = [
            f"{program_file}: {program.device.name}, mode {program.mode.value}",
            f"actuation volume: {format_volume(stroke.value)} {_status(stroke)}",
            f"daily volume: {format_volume_rate(summary.daily_volume_ml)} (exact)",
            f"actuations per day: {summary.actuations_per_day:.1f}",
        ]
        if summary.mean_interval_s is not None:
            lines.append(f"mean time between actuations: {_seconds(summary.mean_interval_s)}")
        for interval in summary.intervals:
            lines.append(
                f"  at {format_volume_rate(interval.rate_ml_per_day)}: every "
                f"{_seconds(interval.interval_s)}"
            )
        for key, mcg in summary.dose_per_actuation_mcg.items():
            lines.append(f"dose per actuation: {format_mass(mcg, unit[key])} {key}")
        if start is not None:
            lines.append(f"actuations listed: {len(listed)}")
            lines += [f"  {iso(t)}" for t in listed]
        lines.append(
            "The pulse view is never ahead of the exact curve and less than one actuation behind."
        )
        lines.append(DISCLAIMER)
        emit(as_json, payload, "\n".join(lines))


def fixed_rate(
    program_file: Annotated[Path, typer.Argument(metavar="PROGRAM.toml", help="Program now.")],
    dose: Annotated[str, typer.Option("--dose", help="New daily dose, e.g. '8 mg/day'.")],
    fill: Annotated[str, typer.Option("--fill", help="Volume to fill, e.g. '30 mL'.")],
    filled_at: Annotated[
        str, typer.Option("--filled-at", help="Refill time, ISO 8601 with offset.")
    ],
    stock: Annotated[
        str | None, typer.Option("--stock", help="Stock concentration to dilute, e.g. '25 mg/mL'.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Refill plan of a constant-flow pump: concentration, refill date and recipe."""
    with reported(as_json):
        program = load_program(program_file)
        daily = parse_positive(dose, "--dose", Kind.DOSE_RATE)
        fill_ml = parse_positive(fill, "--fill", Kind.VOLUME)
        at = parse_instant(filled_at, "--filled-at")
        stock_c = parse(stock, "--stock", Kind.CONCENTRATION) if stock is not None else None
        answer = fixed_rate_plan(program, daily, fill_ml, at, stock_c)
        drug = program.first.drug
        unit = drug.dose_unit.value
        payload = {
            "device": program.device.key,
            "drug": drug.key,
            "rate_ml_per_day": answer.rate_ml_per_day,
            "daily_dose_mcg": answer.daily_dose_mcg,
            "concentration_mcg_per_ml": answer.concentration_mcg_per_ml,
            "fill_ml": answer.fill_ml,
            "refill_due_at": iso(answer.due.refill_due_at_s),
            "limited_by": answer.due.limited_by.value,
            "drug_amount_mcg": answer.drug_amount_mcg,
            "stock_ml": answer.stock_ml,
            "diluent_ml": answer.diluent_ml,
            "findings": [
                {"severity": f.severity.value, "code": f.code, "message": f.message}
                for f in answer.findings
            ],
            "reasons": list(answer.reasons),
        }
        days = (answer.due.refill_due_at_s - at) / 86_400
        lines = [
            f"{program.device.name}: one rate, {format_volume_rate(answer.rate_ml_per_day)}",
            f"new dose: {format_dose_rate(daily, unit)} {drug.key}",
            f"concentration: {format_concentration(answer.concentration_mcg_per_ml, unit)}",
            f"fill: {format_volume(fill_ml)}, "
            f"drug in it: {format_mass(answer.drug_amount_mcg, unit)}",
            f"refill due: {iso(answer.due.refill_due_at_s)} ({days:.1f} days, limited by "
            f"{answer.due.limited_by.value})",
        ]
        if answer.stock_ml is not None and answer.diluent_ml is not None:
            lines.append(
                f"recipe: {format_volume(round(answer.stock_ml, 2))} of "
                f"{format_concentration(stock_c or 0.0, unit)} + "
                f"{format_volume(round(answer.diluent_ml, 2))} diluent"
            )
        lines += [f"finding: {f.severity.value} {f.code}: {f.message}" for f in answer.findings]
        lines += [f"why: {r}" for r in answer.reasons]
        lines.append(DISCLAIMER)
        emit(as_json, payload, "\n".join(lines))


def register(app: typer.Typer) -> None:
    app.command("modes")(modes)
    app.command("pulses")(pulses)
    app.command("fixed-rate-plan")(fixed_rate)
