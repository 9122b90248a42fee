"""``itp refill plan|concentration|volume|reconcile``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from intrathecal.cli import quantities
from intrathecal.cli.answer import AckOpt, acks, emit_answer
from intrathecal.cli.output import DISCLAIMER, emit, load_program, parse_instant, reported
from intrathecal.clinical.answer_review import review_refill_concentration, review_refill_volume
from intrathecal.clinical.reconcile import reconcile
from intrathecal.clinical.refill import concentration_for, fill_for, plan
from intrathecal.engine.demand import iso
from intrathecal.units import (
    SECONDS_PER_DAY,
    format_concentration,
    format_mass,
    format_volume,
    format_volume_rate,
)

app = typer.Typer(help="Refill planning and reconciliation.", no_args_is_help=True)

ProgramArg = Annotated[Path, typer.Argument(metavar="PROGRAM.toml", help="Program file.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command("plan")
def plan_cmd(
    program_file: ProgramArg,
    filled: Annotated[str, typer.Option("--filled", help="Volume put in, e.g. '20 mL'.")],
    at: Annotated[str, typer.Option("--at", help="Fill time, ISO 8601 with offset.")],
    margin: Annotated[str, typer.Option("--margin", help="Scheduling margin, e.g. '3 days'.")] = (
        "0 day"
    ),
    naive_pump: Annotated[
        bool, typer.Option("--naive-pump", help="First fill of a new pump (ziconotide: 14 days).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Low-reservoir alarm, empty and refill-due times, and what limited the interval."""
    with reported(as_json):
        fill_ml = quantities.volume(filled, "--filled")
        t0 = parse_instant(at, "--at")
        margin_days = quantities.duration_days(margin, "--margin", allow_zero=True)
        program = load_program(program_file)
        due = plan(program, fill_ml, t0, margin_days * SECONDS_PER_DAY, naive_pump=naive_pump)
        payload: dict[str, Any] = {
            "filled_ml": fill_ml,
            "filled_at": iso(t0),
            "low_reservoir_alarm_at": iso(due.low_reservoir_alarm_at_s),
            "empty_at": iso(due.empty_at_s),
            "stability_until": iso(due.stability_until_s),
            "device_limit_until": iso(due.device_until_s) if due.device_until_s else None,
            "refill_due_at": iso(due.refill_due_at_s),
            "limited_by": due.limited_by.value,
            "margin_days": margin_days,
            "worst_case_volume_ml_per_day": due.worst_case_volume_ml_per_day,
            "reasons": list(due.reasons),
            "disclaimer": DISCLAIMER,
        }
        days = (due.refill_due_at_s - t0) / SECONDS_PER_DAY
        text = "\n".join(
            [
                f"fill {format_volume(fill_ml)} at {iso(t0)}",
                f"worst-case daily volume: {format_volume_rate(due.worst_case_volume_ml_per_day)}",
                f"low-reservoir alarm ({format_volume(program.low_reservoir_alarm_ml)}): "
                f"{iso(due.low_reservoir_alarm_at_s)}",
                f"empty: {iso(due.empty_at_s)}",
                f"stability ({due.stability_drug}): {iso(due.stability_until_s)}",
                f"refill due: {iso(due.refill_due_at_s)} ({days:.1f} days), limited by "
                f"{due.limited_by.value}",
                *(f"  - {r}" for r in due.reasons),
                DISCLAIMER,
            ]
        )
        emit(as_json, payload, text)


@app.command("concentration")
def concentration_cmd(
    program_file: ProgramArg,
    interval: Annotated[str, typer.Option("--interval", help="Target interval, e.g. '30 days'.")],
    filled: Annotated[str, typer.Option("--filled", help="Fill volume, e.g. '20 mL'.")],
    bridge_planned: Annotated[
        bool,
        typer.Option(
            "--bridge-planned",
            help="A bridge bolus will push the old solution through (itp bridge); without it "
            "the review shows the transient of the old solution at the new rate.",
        ),
    ] = False,
    ack: AckOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Concentrations that keep today's doses and last the target interval, reviewed as the
    program after the refill; safe alternatives are suggested, never substituted."""
    with reported(as_json):
        days = quantities.duration_days(interval, "--interval")
        fill_ml = quantities.volume(filled, "--filled")
        acknowledgements = acks(ack)
        program = load_program(program_file)
        result = concentration_for(program, days, fill_ml)
        reviewed, _ = review_refill_concentration(
            program, result, acknowledgements, bridge_planned=bridge_planned
        )
        units = {i.drug.key: i.drug.dose_unit.value for i in program.ingredients}
        payload = {
            "interval_days": days,
            "filled_ml": fill_ml,
            "usable_ml": result.usable_ml,
            "worst_case_daily_dose_mcg": result.worst_case_daily_dose_mcg,
            "concentrations_mcg_per_ml": result.admixture_mcg_per_ml,
            "rate_ml_per_day": result.rate_ml_per_day,
            "reasons": list(result.reasons),
        }
        lines = [
            f"for {days:g} days on {format_volume(fill_ml)} "
            f"(usable {format_volume(result.usable_ml)} above the alarm):",
            *(
                f"  {key}: {format_concentration(c, units[key])}"
                for key, c in result.admixture_mcg_per_ml.items()
            ),
            f"mean rate: {format_volume_rate(result.rate_ml_per_day)}",
            *(f"  - {r}" for r in result.reasons),
        ]
        emit_answer(as_json, reviewed, payload, lines)


@app.command("volume")
def volume_cmd(
    program_file: ProgramArg,
    interval: Annotated[str, typer.Option("--interval", help="Target interval, e.g. '30 days'.")],
    ack: AckOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The fill volume for a target interval (worst case + alarm volume), capped and said so,
    reviewed as that fill with the refill after the interval."""
    with reported(as_json):
        days = quantities.duration_days(interval, "--interval")
        acknowledgements = acks(ack)
        program = load_program(program_file)
        result = fill_for(program, days)
        reviewed = review_refill_volume(program, result, acknowledgements)
        payload = {
            "interval_days": days,
            "needed_ml": result.needed_ml,
            "fill_ml": result.fill_ml,
            "capped_at_reservoir": result.capped,
            "achievable_days": result.achievable_days,
            "doses_in_fill_mcg": program.doses_mcg(result.fill_ml),
            "reasons": list(result.reasons),
        }
        units = {i.drug.key: i.drug.dose_unit.value for i in program.ingredients}
        lines = [
            f"fill {format_volume(result.fill_ml)} for {result.achievable_days:.1f} days"
            + (" (capped at the reservoir)" if result.capped else ""),
            *(
                f"  {k}: {format_mass(v, units[k])} in the fill"
                for k, v in program.doses_mcg(result.fill_ml).items()
            ),
            *(f"  - {r}" for r in result.reasons),
        ]
        emit_answer(as_json, reviewed, payload, lines)


@app.command("reconcile")
def reconcile_cmd(
    program_file: ProgramArg,
    filled: Annotated[str, typer.Option("--filled", help="Volume put in at the last fill.")],
    at: Annotated[str, typer.Option("--at", help="Time of the last fill, ISO 8601.")],
    withdrawn: Annotated[str, typer.Option("--withdrawn", help="Volume withdrawn now.")],
    withdrawn_at: Annotated[str, typer.Option("--withdrawn-at", help="Time withdrawn, ISO 8601.")],
    boluses: Annotated[
        int, typer.Option("--boluses", help="Demand boluses the pump logged since the fill.")
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Expected residual against the volume withdrawn; whether to investigate and why."""
    with reported(as_json):
        fill_ml = quantities.volume(filled, "--filled")
        t0 = parse_instant(at, "--at")
        out_ml = quantities.non_negative_volume(withdrawn, "--withdrawn")
        t1 = parse_instant(withdrawn_at, "--withdrawn-at")
        program = load_program(program_file)
        result = reconcile(program, fill_ml, t0, out_ml, t1, boluses)
        payload: dict[str, Any] = {
            "filled_ml": result.filled_ml,
            "delivered_ml": result.delivered_ml,
            "expected_ml": result.expected_ml,
            "withdrawn_ml": result.withdrawn_ml,
            "discrepancy_ml": result.discrepancy_ml,
            "accuracy_threshold_ml": result.accuracy_threshold_ml,
            "reservoir_threshold_ml": result.reservoir_threshold_ml,
            "investigate": result.investigate,
            "reasons": list(result.reasons),
            "possible_causes": list(result.possible_causes),
            "actions": list(result.actions),
            "disclaimer": DISCLAIMER,
        }
        lines = [
            f"delivered since the fill: {format_volume(result.delivered_ml)}",
            f"expected residual: {format_volume(result.expected_ml)}",
            f"withdrawn: {format_volume(result.withdrawn_ml)}",
            f"discrepancy: {result.discrepancy_ml:+.3f} mL",
            "INVESTIGATE" if result.investigate else "within limits",
            *(f"  - {r}" for r in result.reasons),
        ]
        if result.investigate:
            lines.append("possible causes:")
            lines.extend(f"  - {c}" for c in result.possible_causes)
            lines.append("what to do:")
            lines.extend(f"  - {a}" for a in result.actions)
        lines.append(DISCLAIMER)
        emit(as_json, payload, "\n".join(lines))
