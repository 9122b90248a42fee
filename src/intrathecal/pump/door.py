"""The pump door: a program sent straight to the pump meets the same review as in the clinic.

A limit holds at every door (design.md, "one home per limit"): the firmware runs
``safety.review.review`` itself, with what the pump knows (its running program, the doses of
the programs it ran, from its own log, and its own clock), and refuses any program with a hard
finding. Soft findings need a clinician's acknowledgement, which belongs to the clinic's
review; the pump cannot see it, so soft findings are not refused here, only reported.

What the pump does not know is never assumed in the looser direction: opioid tolerance is not
stated (the stricter opioid-naive range is used; its findings are soft), the change profile is
the library default, and the history is the pump's own.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence

from intrathecal.pump.state import Event
from intrathecal.safety.history import WEEK_S, DoseRecord
from intrathecal.safety.review import ReviewInput, review
from intrathecal.therapy.findings import Finding, Severity
from intrathecal.therapy.program import Program
from intrathecal.therapy.summary import summarize

ACTIVATED = "program_activated"


def dose_data(program: Program) -> dict[str, float]:
    """The doses a program gives (mcg/day by drug), logged with its activation."""
    return dict(summarize(program).doses_mcg_per_day)


def history_from_log(events: Sequence[Event], now_s: float) -> tuple[DoseRecord, ...]:
    """The doses in force over the last 7 days, oldest first, from the activation entries."""
    records = [
        DoseRecord(event.at_s, {str(k): float(v) for k, v in doses.items()})
        for event in events
        if event.kind == ACTIVATED
        and event.at_s <= now_s
        and isinstance(doses := event.data.get("doses_mcg_per_day"), dict)
    ]
    # The newest activation before the week still says what was in force at its start.
    older = [r for r in records if r.at_s < now_s - WEEK_S]
    return tuple(older[-1:] + [r for r in records if r.at_s >= now_s - WEEK_S])


def door_findings(
    new: Program, running: Program | None, events: Sequence[Event], now_s: float
) -> tuple[Finding, ...]:
    """Every finding of the clinic's review of ``new`` as the pump can run it."""
    result = review(
        ReviewInput(new=new, old=running, history=history_from_log(events, now_s), now_s=now_s)
    )
    return result.findings


def hard(findings: Sequence[Finding]) -> tuple[Finding, ...]:
    return tuple(f for f in findings if f.severity is Severity.HARD)
