"""Doses in force over time: the history a review measures rolling windows and intervals on.

A history is the earlier program versions in force, oldest first, each with the instant it took
effect (pump/UTC epoch seconds) and its mean daily dose of each drug. A drug absent from a
record was not in the pump then (dose 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from intrathecal.units import InputError

DAY_S = 86_400.0
WEEK_S = 7 * DAY_S


@dataclass(frozen=True)
class DoseRecord:
    at_s: float
    doses_mcg_per_day: dict[str, float]


@dataclass(frozen=True)
class DoseTimeline:
    """Records oldest first, the instant the new program takes effect, and the doses in force
    just before it (the old program)."""

    records: tuple[DoseRecord, ...]
    now_s: float
    current_mcg_per_day: dict[str, float]
    # The versions actually given (not the single 24 h-ago point): where increases are seen.
    versions: tuple[DoseRecord, ...] = ()

    def dose_at(self, drug: str, at_s: float) -> float | None:
        """Dose in force at ``at_s``; None when no record is that old (unknown)."""
        dose = None
        for record in self.records:
            if record.at_s > at_s:
                break
            dose = record.doses_mcg_per_day.get(drug, 0.0)
        return dose

    def lowest_in_window(self, drug: str, window_s: float) -> float | None:
        """Lowest positive dose in force at any time in the window before ``now_s``.

        A rise is measured from it, so a cut followed by re-escalation inside the window counts
        as a rise (stricter than the dose at the window's start). Zero doses (drug not yet
        started) are skipped: a rise from the starting dose is then measured.
        """
        start = self.now_s - window_s
        candidates = [self.dose_at(drug, start)]
        candidates += [
            r.doses_mcg_per_day.get(drug, 0.0) for r in self.records if start < r.at_s <= self.now_s
        ]
        candidates.append(self.current_mcg_per_day.get(drug))
        positive = [c for c in candidates if c is not None and c > 0]
        return min(positive) if positive else None

    def last_increase_s(self, drug: str) -> float | None:
        """When the dose of ``drug`` last rose, from the versions given; the first version that
        holds the drug counts as its start (conservative: earlier doses are not known)."""
        last, previous = None, 0.0
        for record in self.versions:
            dose = record.doses_mcg_per_day.get(drug, 0.0)
            if dose > previous * (1 + 1e-9):
                last = record.at_s
            previous = dose
        return last


def timeline(
    history: Sequence[DoseRecord],
    now_s: float | None,
    current_mcg_per_day: dict[str, float],
    dose_24h_ago_mcg_per_day: dict[str, float],
) -> tuple[DoseTimeline, list[str]]:
    """The timeline of a review and notes on what was assumed (shown as INFO findings)."""
    notes: list[str] = []
    for index, record in enumerate(history):
        if not math.isfinite(record.at_s):
            raise InputError(f"history[{index}].at", "is not a finite time")
        for drug, dose in record.doses_mcg_per_day.items():
            if not math.isfinite(dose) or dose < 0:
                raise InputError(
                    f"history[{index}].{drug}", f"dose must be zero or more, got {dose!r}"
                )
        if index and record.at_s < history[index - 1].at_s:
            raise InputError(f"history[{index}].at", "history must be oldest first")
    if now_s is None:
        if history:
            now_s = history[-1].at_s
            notes.append(
                "the time the new program takes effect was not given: the last history "
                "record's time is used (so any increase counts as immediate)"
            )
        else:
            now_s = 0.0
    elif not math.isfinite(now_s):
        raise InputError("now", "is not a finite time")
    if history and history[-1].at_s > now_s:
        raise InputError(
            f"history[{len(history) - 1}].at",
            "is after the time the new program takes effect",
        )
    records = list(history)
    if dose_24h_ago_mcg_per_day:
        # The older single-point form: the dose in force 24 h before the change.
        at = now_s - DAY_S
        point = DoseRecord(at, dict(dose_24h_ago_mcg_per_day))
        records.append(point)
        records.sort(key=lambda r: r.at_s)
    return DoseTimeline(tuple(records), now_s, dict(current_mcg_per_day), tuple(history)), notes
