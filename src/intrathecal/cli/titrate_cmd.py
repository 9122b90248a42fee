"""``itp titrate``: a new program with the doses changed, within the limits that hold."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from intrathecal.cli.output import DISCLAIMER, emit, load_program, reported
from intrathecal.cli.review_cmd import findings_json, findings_text
from intrathecal.clinical.titration import titrate
from intrathecal.therapy.findings import Severity
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
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Scale the doses; capped by hard change and dose limits and rounded down to the device step,
    each said."""
    with reported(as_json):
        by_fraction = parse_percent(by, "--by") if by is not None else None
        to_dose = parse_positive(to, "--to", Kind.DOSE_RATE) if to is not None else None
        program = load_program(program_file)
        result = titrate(program, by_fraction=by_fraction, to_mcg_per_day=to_dose, profile=profile)
        text = to_toml(result.program)
        hard = [f for f in result.findings if f.severity is Severity.HARD]
        if write is not None and not hard:
            write.write_text(text, encoding="utf-8")
        units = {i.drug.key: i.drug.dose_unit.value for i in program.ingredients}
        payload = {
            "requested_factor": result.requested_factor,
            "applied_factor": result.applied_factor,
            "old_doses_mcg_per_day": result.old_doses_mcg_per_day,
            "new_doses_mcg_per_day": result.new_doses_mcg_per_day,
            "constraints": list(result.constraints),
            "findings": findings_json(result.findings),
            "allowed": not hard,
            "program_toml": text,
            "written": str(write) if write is not None and not hard else None,
            "disclaimer": DISCLAIMER,
        }
        lines = [
            *(
                f"{k}: {format_dose_rate(result.old_doses_mcg_per_day[k], units[k])} -> "
                f"{format_dose_rate(result.new_doses_mcg_per_day[k], units[k])}"
                for k in units
            ),
            *(f"  - {c}" for c in result.constraints),
            *findings_text(result.findings),
            "new program:" if write is None else f"written to {write}" if not hard else "",
            text if write is None else "",
            DISCLAIMER,
        ]
        emit(as_json, payload, "\n".join(line for line in lines if line))
