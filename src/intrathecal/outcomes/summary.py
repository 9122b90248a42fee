"""Each patient's answers to one procedure as a few integers, so statistics are counted where
the data is (SQL sums over bit masks) instead of re-reading and re-scoring every answer.

One baseline row per patient and procedure (its date and, per share, whether the baseline
measure the share needs is there) and one row per follow-up time point and date (per share:
answered, and whether the answer meets the definition). ``statistics.from_counts`` turns the
sums into the same shares, intervals and warnings as ``procedure_statistics``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from intrathecal.outcomes.instruments import SIDE_EFFECT_LABELS
from intrathecal.outcomes.responders import SHARES
from intrathecal.outcomes.validation import Checked

# Bit k is SHARES[k] and side effect k: new shares and effects are appended, never reordered
# (the masks are stored).
SHARE_BITS = tuple(1 << k for k in range(len(SHARES)))
EFFECT_KEYS = tuple(SIDE_EFFECT_LABELS)


@dataclass(frozen=True)
class SummaryRow:
    timepoint: str  # "baseline" or a follow-up label
    nominal_days: int
    collected_on: date
    # Every row carries its patient's baseline (date, and per share bit k whether share k's
    # baseline measure is there), so a follow-up is counted without a join.
    baseline_on: date | None = None
    baseline_mask: int = 0
    first: int = 0  # follow-up row: 1 on the earliest-dated row of its time point
    answered_mask: int = 0  # follow-up row: bit k set when share k's question was answered
    success_mask: int = 0  # follow-up row: answered, baseline present and the definition met
    effects_answered: int = 0  # 1 when the side-effects checklist was answered
    effects_mask: int = 0  # bit k: side effect EFFECT_KEYS[k] answered 'yes'
    review: int = 0  # 1 when an answer is flagged for clinician review


def summary_rows(checked: Sequence[Checked]) -> list[SummaryRow]:
    """The rows of one patient's responses to one procedure (all dated, one episode)."""
    baseline: dict[tuple[str, str], int] = {}
    base_day: date | None = None
    visits: dict[tuple[str, date], list[Checked]] = {}
    nominal: dict[str, int] = {}
    for c in checked:
        r = c.response
        if r.collected_on is None:
            raise ValueError("summary rows need dated responses")
        if c.timepoint.is_baseline:
            base_day = r.collected_on if base_day is None else min(base_day, r.collected_on)
            for score, value in c.scored.scores.items():
                baseline[(r.instrument, score)] = int(value)
        else:
            visits.setdefault((c.timepoint.label, r.collected_on), []).append(c)
            nominal[c.timepoint.label] = c.timepoint.nominal_days
    rows: list[SummaryRow] = []
    mask = 0
    if base_day is not None:
        for d, bit in zip(SHARES, SHARE_BITS, strict=True):
            if d.baseline is None or d.baseline in baseline:
                mask |= bit
        rows.append(SummaryRow("baseline", 0, base_day, base_day, mask))
    seen: set[str] = set()
    for (label, day), group in sorted(visits.items()):
        scores = {
            (c.response.instrument, k): int(v) for c in group for k, v in c.scored.scores.items()
        }
        answered = success = 0
        for d, bit in zip(SHARES, SHARE_BITS, strict=True):
            if d.follow_up not in scores:
                continue
            answered |= bit
            before = baseline.get(d.baseline) if d.baseline is not None else None
            if (d.baseline is None or before is not None) and d.responds(
                before, scores[d.follow_up]
            ):
                success |= bit
        effects = [c for c in group if c.response.instrument == "side-effects"]
        effects_mask = 0
        for c in effects:
            for k, key in enumerate(EFFECT_KEYS):
                if c.response.answers.get(key) == 1:
                    effects_mask |= 1 << k
        rows.append(
            SummaryRow(
                label,
                nominal[label],
                day,
                baseline_on=base_day,
                baseline_mask=mask,
                first=int(label not in seen),
                answered_mask=answered,
                success_mask=success,
                effects_answered=int(bool(effects)),
                effects_mask=effects_mask,
                review=int(any(c.scored.review for c in effects)),
            )
        )
        seen.add(label)
    return rows
