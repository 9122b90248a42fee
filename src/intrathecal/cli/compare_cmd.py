"""``itp program compare``: schedules side by side, with what each means for the patient.

The same daily total can be given as a constant flow, as timed steps or as periodic doses with
no flow between. The daily dose is the same; the peak and trough rates, and how long the drug
does not flow at all, are not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from intrathecal.cli.output import DISCLAIMER, emit, load_program, reported
from intrathecal.engine.pulses import pulse_summary
from intrathecal.engine.shape import delivery_shape
from intrathecal.therapy.modes import mode_label
from intrathecal.therapy.program import Program
from intrathecal.therapy.summary import summarize
from intrathecal.units import InputError, format_dose_rate, format_volume_rate

# Daily totals within this relative difference count as the same (float noise, rounding).
SAME_TOTAL = 1e-6


def _row(path: Path, program: Program) -> dict[str, Any]:
    shape = delivery_shape(program)
    first = program.first
    stroke = program.device.actuation_volume_ml
    pulses = pulse_summary(program, stroke.value) if stroke is not None else None
    return {
        "file": str(path),
        "device": program.device.key,
        "mode": program.mode.value,
        "label": mode_label(program.device, program.mode),
        "drug": first.drug.key,
        "unit": first.drug.dose_unit.value,
        "daily_volume_ml": shape.daily_volume_ml,
        "daily_dose_mcg": summarize(program).doses_mcg_per_day[first.drug.key],
        "peak_rate_ml_per_day": shape.peak_rate_ml_per_day,
        "trough_rate_ml_per_day": shape.trough_rate_ml_per_day,
        "peak_to_mean": shape.peak_to_mean,
        "longest_pause_h": shape.longest_pause_s / 3600,
        "hours_flowing_per_day": shape.share_of_day_flowing * 24,
        "actuations_per_day": pulses.actuations_per_day if pulses else None,
    }


def _meaning(row: dict[str, Any]) -> str:
    if row["longest_pause_h"] > 0:
        return (
            f"doses run at up to {row['peak_to_mean']:.1f} x the mean rate, then nothing for up "
            f"to {row['longest_pause_h']:.1f} h"
        )
    if row["peak_to_mean"] > 1 + SAME_TOTAL:
        return (
            f"never stops; peak {row['peak_to_mean']:.2f} x the mean, trough "
            f"{format_volume_rate(row['trough_rate_ml_per_day'])}"
        )
    return "the same rate all day: no peak, no trough"


def compare(
    program_files: Annotated[
        list[Path], typer.Argument(metavar="PROGRAM.toml...", help="Two or more program files.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compare schedules: daily total, peak and trough rate, pauses and actuations."""
    with reported(as_json):
        if len(program_files) < 2:
            raise InputError("PROGRAM.toml", "give at least two program files to compare")
        rows = [_row(path, load_program(path)) for path in program_files]
        drugs = {(r["drug"], r["unit"]) for r in rows}
        if len(drugs) > 1:
            raise InputError("PROGRAM.toml", "compare schedules of the same first drug")
        doses = [r["daily_dose_mcg"] for r in rows]
        same = max(doses) - min(doses) <= SAME_TOTAL * max(doses)
        lines = []
        for r in rows:
            unit = r["unit"]
            lines += [
                f"{r['file']}: {r['label']} ({r['mode']}) on {r['device']}",
                f"  daily: {format_volume_rate(r['daily_volume_ml'])} = "
                f"{format_dose_rate(r['daily_dose_mcg'], unit)} {r['drug']}",
                f"  peak rate: {format_volume_rate(r['peak_rate_ml_per_day'])}; trough rate: "
                f"{format_volume_rate(r['trough_rate_ml_per_day'])}",
                f"  flowing {r['hours_flowing_per_day']:.1f} h a day; longest pause "
                f"{r['longest_pause_h']:.1f} h",
            ]
            if r["actuations_per_day"] is not None:
                lines.append(f"  valve actuations: {r['actuations_per_day']:.1f} a day")
            lines.append(f"  for the patient: {_meaning(r)}")
        if same:
            lines.append("daily totals: the same")
        else:
            unit = rows[0]["unit"]
            totals = ", ".join(format_dose_rate(d, unit) for d in doses)
            lines.append(f"daily totals DIFFER: {totals}")
        lines.append(DISCLAIMER)
        emit(as_json, {"same_daily_total": same, "schedules": rows}, "\n".join(lines))


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
