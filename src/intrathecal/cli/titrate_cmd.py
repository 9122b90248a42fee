"""``itp titrate``: a new program with the doses changed, within the limits that hold."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from intrathecal.cli.answer import AckOpt, acks, emit_answer
from intrathecal.cli.output import load_program, reported
from intrathecal.clinical.answer_review import review_titration
from intrathecal.clinical.titration import titrate
from intrathecal.therapy.serialize import to_toml
from intrathecal.units import Kind, format_dose_rate, parse_percent, parse_positive


def titrate_cmd(
    program_file: Annotated[Path, typer.Argument(metavar="PROGRAM.toml", help="Program file.")],
    by: Annotated[str | None, typer.Option("--by", help="Change, e.g. '+20%' or '-10%'.")] = None,
    to: Annotated[str | None, typer.Option("--to", help="New daily dose, e.g. '3 mg/day'.")] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="Change profile, e.g. baclofen 'cerebral'.")
    ] = None,
    write: Annotated[
        Path | None, typer.Option("--write", help="Write the new program to this file.")
    ] = None,
    ack: AckOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Scale the doses as asked (rounded down to the device step, said) and review the new
    program against this one; the largest change within the hard limits is suggested, never
    substituted. --write only writes an allowed program."""
    with reported(as_json):
        by_fraction = parse_percent(by, "--by") if by is not None else None
        to_dose = parse_positive(to, "--to", Kind.DOSE_RATE) if to is not None else None
        acknowledgements = acks(ack)
        program = load_program(program_file)
        result = titrate(
            program, by_fraction=by_fraction, to_mcg_per_day=to_dose, profile=profile, cap=False
        )
        capped = titrate(program, by_fraction=by_fraction, to_mcg_per_day=to_dose, profile=profile)
        reviewed = review_titration(program, result, capped, profile, acknowledgements)
        text = to_toml(result.program)
        if write is not None and reviewed.allowed:
            write.write_text(text, encoding="utf-8")
        units = {i.drug.key: i.drug.dose_unit.value for i in program.ingredients}
        payload = {
            "requested_factor": result.requested_factor,
            "applied_factor": result.applied_factor,
            "old_doses_mcg_per_day": result.old_doses_mcg_per_day,
            "new_doses_mcg_per_day": result.new_doses_mcg_per_day,
            "constraints": list(result.constraints),
            "program_toml": text,
            "written": str(write) if write is not None and reviewed.allowed else None,
        }
        lines = [
            *(
                f"{k}: {format_dose_rate(result.old_doses_mcg_per_day[k], units[k])} -> "
                f"{format_dose_rate(result.new_doses_mcg_per_day[k], units[k])}"
                for k in units
            ),
            *(f"  - {c}" for c in result.constraints),
        ]
        if write is None:
            lines += ["new program:", text]
        elif reviewed.allowed:
            lines.append(f"written to {write}")
        else:
            lines.append(f"not written to {write}: the new program is not allowed")
        emit_answer(as_json, reviewed, payload, lines)
