"""A calculator's answer with its review: the verdict first, then the numbers; exit 1 if not
allowed (as ``itp review``), 2 for bad input (``output.reported``), 0 when allowed."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from intrathecal.cli.output import DISCLAIMER, emit
from intrathecal.cli.review_cmd import findings_json, findings_text, parse_ack
from intrathecal.clinical.answer_review import AnswerReview
from intrathecal.safety.review import Acknowledgement

AckOpt = Annotated[
    list[str] | None,
    typer.Option("--ack", help="Acknowledge a soft finding: CODE:WHO:WHY (repeatable)."),
]
OpioidStatusOpt = Annotated[
    bool | None,
    typer.Option(
        "--opioid-tolerant/--opioid-naive",
        help="Patient's opioid status (selects the starting range; default: not stated, the "
        "opioid-naive range is used).",
    ),
]
DeviceOpt = Annotated[
    str | None,
    typer.Option("--device", help="Device the answer is reviewed on (default: stated)."),
]


def acks(items: list[str] | None) -> list[Acknowledgement]:
    return [parse_ack(a) for a in items or []]


def review_payload(result: AnswerReview) -> dict[str, Any]:
    return {
        "allowed": result.allowed,
        "findings": findings_json(result.findings),
        "unacknowledged": [f.code for f in result.unacknowledged],
        "acknowledgements": [
            {"code": a.code, "who": a.who, "why": a.why} for a in result.acknowledgements
        ],
        "suggestions": [
            {"field": s.field, "value": s.value, "why": s.why} for s in result.suggestions
        ],
        "notes": list(result.notes),
    }


def verdict_lines(result: AnswerReview) -> list[str]:
    """Why first: the verdict, the findings, the safe alternatives and the assumptions."""
    if result.allowed:
        verdict = "ALLOWED"
    elif result.hard:
        verdict = "BLOCKED by hard limits: " + ", ".join(f.code for f in result.hard)
    else:
        codes = ", ".join(f.code for f in result.unacknowledged)
        verdict = f"NEEDS ACKNOWLEDGEMENT (--ack CODE:WHO:WHY) of: {codes}"
    lines = [verdict, *findings_text(result.findings)]
    lines += [f"acknowledged {a.code} by {a.who}: {a.why}" for a in result.acknowledgements]
    if result.suggestions:
        lines.append("suggested instead (not applied):")
        lines += [f"  {s.field}: {s.value} - {s.why}" for s in result.suggestions]
    lines += [f"note: {a}" for a in result.notes]
    return lines


def emit_answer(
    as_json: bool, result: AnswerReview, payload: dict[str, Any], lines: list[str]
) -> None:
    """Print the answer with its review (verdict first) and exit 1 when it is not allowed."""
    body = {**payload, **review_payload(result), "disclaimer": DISCLAIMER}
    text = [*verdict_lines(result), "answer:", *lines, DISCLAIMER]
    emit(as_json, body, "\n".join(text))
    if not result.allowed:
        raise typer.Exit(1)
