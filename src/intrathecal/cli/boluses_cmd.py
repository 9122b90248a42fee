"""``itp bridge``, ``itp prime`` and ``itp tip-time``: boluses around a refill or an implant."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from intrathecal.cli.answer import AckOpt, acks, emit_answer
from intrathecal.cli.output import emit, load_program, reported
from intrathecal.clinical.answer_review import review_bridge, review_priming
from intrathecal.clinical.bridge import bridge, priming, time_to_tip_hours
from intrathecal.units import Kind, format_mass, format_volume, format_volume_rate, parse_positive

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def bridge_cmd(
    old_file: Annotated[Path, typer.Argument(metavar="OLD.toml", help="Program now in the pump.")],
    new_file: Annotated[Path, typer.Argument(metavar="NEW.toml", help="Program after refill.")],
    ack: AckOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Bridge bolus when the drug or concentration changes at a refill; the dose it delivers
    and the new program are reviewed."""
    with reported(as_json):
        acknowledgements = acks(ack)
        old = load_program(old_file, "OLD")
        new = load_program(new_file, "NEW")
        result = bridge(old, new)
        reviewed = review_bridge(old, new, result, acknowledgements)
        units = {i.drug.key: i.drug.dose_unit.value for i in old.ingredients}
        payload = {
            "volume_ml": result.volume_ml,
            "rate_ml_per_day": result.rate_ml_per_day,
            "duration_hours": result.duration_hours,
            "rate_rule": result.rate_rule,
            "old_solution_doses_mcg": result.old_solution_doses_mcg,
            "reasons": list(result.reasons),
        }
        lines = [
            f"bridge bolus: {format_volume(result.volume_ml)} at "
            f"{format_volume_rate(result.rate_ml_per_day)} for {result.duration_hours:.2f} h",
            *(
                f"  old solution delivered: {format_mass(v, units[k])} {k}"
                for k, v in result.old_solution_doses_mcg.items()
            ),
            "the new drug reaches the catheter tip when it ends; then the new program starts",
            *(f"  - {r}" for r in result.reasons),
        ]
        emit_answer(as_json, reviewed, payload, lines)


def prime_cmd(
    program_file: Annotated[Path, typer.Argument(metavar="PROGRAM.toml", help="Program file.")],
    rate: Annotated[
        str | None, typer.Option("--rate", help="Priming rate; default the device maximum.")
    ] = None,
    ack: AckOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Priming bolus for an empty pump pathway and catheter, checked against the device, with
    its mixing hazard as a finding to acknowledge (--ack PRIMING_MIXING_HAZARD:WHO:WHY)."""
    with reported(as_json):
        rate_ml = parse_positive(rate, "--rate", Kind.VOLUME_RATE) if rate is not None else None
        acknowledgements = acks(ack)
        program = load_program(program_file)
        result = priming(program, rate_ml)
        reviewed = review_priming(program, result, acknowledgements)
        units = {i.drug.key: i.drug.dose_unit.value for i in program.ingredients}
        payload = {
            "volume_ml": result.volume_ml,
            "rate_ml_per_day": result.rate_ml_per_day,
            "duration_hours": result.duration_hours,
            "drug_in_priming_volume_mcg": result.drug_in_priming_volume_mcg,
            "hazard": result.hazard,
            "reasons": list(result.reasons),
        }
        lines = [
            f"priming bolus: {format_volume(result.volume_ml)} at "
            f"{format_volume_rate(result.rate_ml_per_day)} for {result.duration_hours:.2f} h",
            *(
                f"  drug in that volume: {format_mass(v, units[k])} {k}"
                for k, v in result.drug_in_priming_volume_mcg.items()
            ),
            f"HAZARD: {result.hazard}",
            *(f"  - {r}" for r in result.reasons),
        ]
        emit_answer(as_json, reviewed, payload, lines)


def tip_time_cmd(
    program_file: Annotated[Path, typer.Argument(metavar="PROGRAM.toml", help="Program file.")],
    rate: Annotated[str, typer.Option("--rate", help="Rate, e.g. '0.5 mL/day'.")],
    as_json: JsonOpt = False,
) -> None:
    """Time for a new solution to reach the catheter tip at a given rate."""
    with reported(as_json):
        rate_ml = parse_positive(rate, "--rate", Kind.VOLUME_RATE)
        program = load_program(program_file)
        hours = time_to_tip_hours(program, rate_ml)
        volume = program.device.pathway_volume_ml.value + program.catheter_volume_ml
        payload = {"volume_ml": volume, "rate_ml_per_day": rate_ml, "hours": hours}
        emit(
            as_json,
            payload,
            f"{format_volume(volume)} at {format_volume_rate(rate_ml)}: {hours:.2f} h to the tip",
        )
