"""``itp delivery``: exact volume and dose of each drug delivered between two instants."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from intrathecal.cli.output import (
    DISCLAIMER,
    UserError,
    emit,
    load_program,
    parse_instant,
    read_text,
    reported,
)
from intrathecal.engine.delivery import build_delivery, delivered
from intrathecal.engine.demand import iso
from intrathecal.units import InputError, format_mass, format_volume


def read_presses(path: Path) -> list[float]:
    """One ISO 8601 instant per line; blank lines and lines starting with # are ignored."""
    presses = []
    errors = []
    for number, line in enumerate(read_text(path, "--presses").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            presses.append(parse_instant(text, f"--presses {path.name} line {number}"))
        except InputError as error:
            errors.append(error)
    if errors:
        raise UserError(errors)
    return presses


def delivery(
    program_file: Annotated[Path, typer.Argument(metavar="PROGRAM.toml", help="Program file.")],
    start: Annotated[
        str, typer.Option("--from", help="Start, ISO 8601 with offset, e.g. 2026-01-05T10:00:00Z.")
    ],
    end: Annotated[str, typer.Option("--to", help="End, ISO 8601 with offset.")],
    presses: Annotated[
        Path | None,
        typer.Option("--presses", help="File of demand-bolus presses, one ISO 8601 time a line."),
    ] = None,
    worst_case: Annotated[
        bool,
        typer.Option("--worst-case", help="Every allowed demand bolus taken, from --from on."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Volume and dose of each drug delivered between --from and --to (closed form)."""
    with reported(as_json):
        t0 = parse_instant(start, "--from")
        t1 = parse_instant(end, "--to")
        if t1 < t0:
            raise InputError("--to", f"{end} is before --from {start}")
        if presses is not None and worst_case:
            raise InputError("--presses", "give --presses or --worst-case, not both")
        program = load_program(program_file)
        press_times = read_presses(presses) if presses is not None else None
        if program.demand is None and (press_times or worst_case):
            raise InputError(
                "--presses" if press_times else "--worst-case", "this program has no [demand_bolus]"
            )
        if worst_case and t0 != int(t0):
            raise InputError("--from", "the worst case starts at a whole second")
        plan, outcome = build_delivery(
            program,
            presses_s=press_times,
            worst_case_from_s=t0 if worst_case else None,
        )
        result = delivered(program, plan, t0, t1)
        decisions = [
            {"at": iso(d.at_s), "accepted": d.accepted, "reason": d.reason}
            for d in outcome.decisions
        ]
        payload: dict[str, Any] = {
            "from": iso(t0),
            "to": iso(t1),
            "volume_ml": result.volume_ml,
            "doses_mcg": result.doses_mcg,
            "demand": {
                "mode": outcome.mode,
                "accepted": sum(1 for d in outcome.decisions if d.accepted),
                "refused": sum(1 for d in outcome.decisions if not d.accepted),
                "presses": decisions,
            },
            "notices": [{"field": n.field, "message": n.message} for n in program.notices],
            "disclaimer": DISCLAIMER,
        }
        lines = [
            f"{program_file}: from {iso(t0)} to {iso(t1)}",
            f"volume: {format_volume(result.volume_ml)}",
        ]
        for ingredient in program.ingredients:
            key = ingredient.drug.key
            lines.append(
                f"{key}: {format_mass(result.doses_mcg[key], ingredient.drug.dose_unit.value)}"
            )
        demand_line = {
            "none": "demand boluses: not included (use --presses FILE or --worst-case)",
            "worst_case": "demand boluses: worst case, every allowed bolus taken from --from",
            "presses": f"demand boluses: {payload['demand']['accepted']} accepted, "
            f"{payload['demand']['refused']} refused",
        }[outcome.mode]
        lines.append(demand_line)
        for d in outcome.decisions:
            if not d.accepted:
                lines.append(f"  refused {iso(d.at_s)}: {d.reason}")
        lines.extend(f"notice: {n.field}: {n.message}" for n in program.notices)
        lines.append(DISCLAIMER)
        emit(as_json, payload, "\n".join(lines))
