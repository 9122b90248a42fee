"""``itp review [OLD.toml] NEW.toml``: every finding, the finish screen, and whether it may go."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from intrathecal.cli import quantities
from intrathecal.cli.output import (
    DISCLAIMER,
    emit,
    parse_instant,
    read_text,
    reported,
)
from intrathecal.engine.demand import iso
from intrathecal.library import default_library
from intrathecal.library.parse import load_toml
from intrathecal.library.records import Library
from intrathecal.safety.protocol import parse_protocol
from intrathecal.safety.review import (
    SAFE_ALARM_ML,
    Acknowledgement,
    DoseRecord,
    RefillContext,
    ReviewInput,
    review,
)
from intrathecal.therapy.findings import Finding
from intrathecal.therapy.parse import parse_program
from intrathecal.therapy.program import Program
from intrathecal.therapy.summary import summarize
from intrathecal.units import InputError, Kind, parse_non_negative


def findings_json(findings: Iterable[Finding]) -> list[dict[str, str]]:
    return [
        {
            "severity": f.severity.value,
            "code": f.code,
            "field": f.field,
            "message": f.message,
            "requirement": f.requirement,
        }
        for f in findings
    ]


def findings_text(findings: Iterable[Finding]) -> list[str]:
    return [f"{f.severity.value.upper():4} {f.code} [{f.field}]: {f.message}" for f in findings]


def parse_ack(text: str) -> Acknowledgement:
    parts = text.split(":", 2)
    if len(parts) != 3 or not all(p.strip() for p in parts):
        raise InputError("--ack", f"expected CODE:WHO:WHY, got {text!r}")
    return Acknowledgement(parts[0].strip(), parts[1].strip(), parts[2].strip())


def _program(path: Path, library: Library, field: str) -> Program:
    text = read_text(path, field)
    if not text.strip():
        raise InputError(str(path), "is empty")
    return parse_program(text, library, name=path.stem, check_limits=False)


def _instant(value: object, field: str) -> float:
    """An ISO 8601 time with its zone, as text or a TOML date-time."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InputError(field, "has no UTC offset; write e.g. 2026-01-05T10:00:00Z")
        return value.timestamp()
    if not isinstance(value, str):
        raise InputError(field, f"expected a time like 2026-01-05T10:00:00Z, got {value!r}")
    return parse_instant(value, field)


def parse_history(path: Path, library: Library) -> tuple[DoseRecord, ...]:
    """``--history FILE``: earlier versions, oldest first, each ``at`` (with its zone) and either
    ``program`` (a program file, relative to the history file) or ``doses`` (drug = dose)."""
    root = load_toml(read_text(path, "--history"), path.name)
    records = []
    for entry in root.tables("version"):
        at = _instant(entry.required("at"), entry.child_path("at"))
        if entry.has("program") == entry.has("doses"):
            raise InputError(entry.path, "give either program = FILE or doses = { drug = dose }")
        if entry.has("program"):
            name = entry.string("program")
            program = _program(path.parent / name, library, entry.child_path("program"))
            doses = summarize(program).doses_mcg_per_day
        else:
            table = entry.table("doses")
            doses = {}
            names = table.keys()
            for drug in names:
                if drug not in library.drugs:
                    known = ", ".join(sorted(library.drugs))
                    raise InputError(
                        table.child_path(drug), f"unknown drug {drug!r}; the library knows: {known}"
                    )
                doses[drug] = parse_non_negative(
                    table.required(drug), table.child_path(drug), Kind.DOSE_RATE
                )
            table.finish()
        entry.finish()
        records.append(DoseRecord(at, doses))
    root.finish()
    if not records:
        raise InputError("--history", "has no [[version]] entries")
    for index in range(1, len(records)):
        if records[index].at_s < records[index - 1].at_s:
            raise InputError(f"version[{index}].at", "versions must be oldest first")
    return tuple(records)


def review_cmd(
    programs: Annotated[
        list[Path], typer.Argument(metavar="[OLD.toml] NEW.toml", help="One or two programs.")
    ],
    protocol: Annotated[
        Path | None, typer.Option("--protocol", help="Clinic protocol (TOML) tightening limits.")
    ] = None,
    ack: Annotated[
        list[str] | None,
        typer.Option("--ack", help="Acknowledge a soft finding: CODE:WHO:WHY (repeatable)."),
    ] = None,
    filled: Annotated[str | None, typer.Option("--filled", help="Volume filled, '20 mL'.")] = None,
    filled_at: Annotated[str | None, typer.Option("--filled-at", help="Fill time.")] = None,
    next_refill: Annotated[
        str | None, typer.Option("--next-refill", help="Scheduled next refill, ISO 8601.")
    ] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="Change profile, e.g. baclofen 'spinal'.")
    ] = None,
    opioid_tolerant: Annotated[
        bool | None,
        typer.Option(
            "--opioid-tolerant/--opioid-naive",
            help="Patient's opioid status (selects the starting range; default: not stated, "
            "the opioid-naive range is used).",
        ),
    ] = None,
    bridge_planned: Annotated[
        bool,
        typer.Option("--bridge-planned", help="A bridge bolus is planned for this change."),
    ] = False,
    at: Annotated[
        str | None,
        typer.Option("--at", help="When the new program takes effect, ISO 8601 with zone."),
    ] = None,
    history: Annotated[
        Path | None,
        typer.Option("--history", help="Earlier versions with their times (TOML)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Review a new program (against the old one): findings with severity, code and numbers."""
    with reported(as_json):
        if not 1 <= len(programs) <= 2:
            raise InputError("PROGRAMS", "give NEW.toml, or OLD.toml NEW.toml")
        library = default_library()
        min_alarm = SAFE_ALARM_ML
        protocol_name = None
        if protocol is not None:
            parsed = parse_protocol(read_text(protocol, "--protocol"), library, protocol.name)
            library, protocol_name = parsed.library, parsed.name
            min_alarm = parsed.min_low_reservoir_alarm or min_alarm
        old = _program(programs[0], library, "OLD") if len(programs) == 2 else None
        new = _program(programs[-1], library, "NEW")
        refill = None
        if (filled is None) != (filled_at is None):
            raise InputError("--filled", "give --filled and --filled-at together")
        if filled is not None and filled_at is not None:
            t0 = parse_instant(filled_at, "--filled-at")
            t1 = parse_instant(next_refill, "--next-refill") if next_refill else None
            if t1 is not None and t1 <= t0:
                raise InputError("--next-refill", "must be after --filled-at")
            refill = RefillContext(quantities.volume(filled, "--filled"), t0, t1)
        elif next_refill is not None:
            raise InputError("--next-refill", "needs --filled and --filled-at")
        acknowledgements = [parse_ack(a) for a in ack or []]
        records = parse_history(history, library) if history is not None else ()
        now_s = parse_instant(at, "--at") if at is not None else None
        if now_s is not None and not math.isfinite(now_s):
            raise InputError("--at", "is not a finite time")
        result = review(
            ReviewInput(
                new,
                old,
                profile,
                refill=refill,
                min_alarm_ml=min_alarm,
                opioid_tolerant=opioid_tolerant,
                bridge_planned=bridge_planned,
                history=records,
                now_s=now_s,
            ),
            acknowledgements,
        )
        payload: dict[str, Any] = {
            "allowed": result.allowed,
            "findings": findings_json(result.findings),
            "unacknowledged": [f.code for f in result.unacknowledged],
            "acknowledgements": [
                {"code": a.code, "who": a.who, "why": a.why} for a in result.acknowledgements
            ],
            "comparison": [
                {"setting": r.setting, "old": r.old, "new": r.new, "change": r.change}
                for r in result.comparison
            ],
            "protocol": protocol_name,
            "opioid_tolerant": opioid_tolerant,
            "bridge_planned": bridge_planned,
            "at": iso(now_s) if now_s is not None else None,
            "history": [
                {"at": iso(r.at_s), "doses_mcg_per_day": r.doses_mcg_per_day} for r in records
            ],
            "refill": (
                {
                    "filled_ml": refill.filled_ml,
                    "filled_at": iso(refill.filled_at_s),
                    "next_refill_at": iso(refill.next_refill_at_s)
                    if refill.next_refill_at_s
                    else None,
                }
                if refill
                else None
            ),
            "disclaimer": DISCLAIMER,
        }
        width = max(len(r.setting) for r in result.comparison)
        lines = [f"{'setting':{width}}  {'old':>16}  {'new':>16}  change"]
        lines += [
            f"{r.setting:{width}}  {r.old:>16}  {r.new:>16}  {r.change}" for r in result.comparison
        ]
        lines += findings_text(result.findings) or ["no findings"]
        lines += [f"acknowledged {a.code} by {a.who}: {a.why}" for a in result.acknowledgements]
        if result.allowed:
            lines.append("ALLOWED")
        elif result.hard:
            lines.append("BLOCKED by hard limits")
        else:
            codes = ", ".join(f.code for f in result.unacknowledged)
            lines.append(f"NEEDS ACKNOWLEDGEMENT (--ack CODE:WHO:WHY) of: {codes}")
        lines.append(DISCLAIMER)
        emit(as_json, payload, "\n".join(lines))
        if not result.allowed:
            raise typer.Exit(1)
