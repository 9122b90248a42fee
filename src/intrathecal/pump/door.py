"""The pump door: a program sent straight to the pump meets the same review as in the clinic.

A limit holds at every door (design.md, "one home per limit"): the firmware runs
``safety.review.review`` itself, with what the pump knows (its running program, the doses of
the programs it ran, from its own log, and its own clock), and refuses any program with a hard
finding. Soft findings need a clinician's acknowledgement, which belongs to the clinic's
review; the pump cannot see it, so soft findings are not refused here, only reported.

What the pump does not know is never assumed in the looser direction: opioid tolerance is not
stated (the stricter opioid-naive range is used; its findings are soft), the change profile is
the library default, and the history is the pump's own.

One judgement the pump cannot make: whether a program on a pump that has never run one is the
patient's *first* dose. A replacement pump (after ERI) or a pump set up for a patient already
on therapy continues a titrated dose, and the starting-dose limits (STARTING_*) do not apply
to it; the clinic's review, which knows the patient's history, does. On such a pump the
starting findings are reported, not refused; every other hard finding is refused.

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
STARTING_PREFIX = "STARTING_"


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


def ever_programmed(events: Sequence[Event]) -> bool:
    return any(e.kind == ACTIVATED for e in events)


def refused_by_door(findings: Sequence[Finding], events: Sequence[Event]) -> tuple[Finding, ...]:
    """The hard findings the pump refuses (see the module note on starting doses)."""
    first_on_this_pump = not ever_programmed(events)
    return tuple(
        f
        for f in findings
        if f.severity is Severity.HARD
        and not (first_on_this_pump and f.code.startswith(STARTING_PREFIX))
    )
