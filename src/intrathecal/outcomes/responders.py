"""Responder definitions: who counts as 'improved', 'less pain', 'better function', and why.

Each definition names the score it reads at follow-up (and at baseline when it measures change),
the rule in words, and the source of the threshold. Scores are whole numbers, so thresholds
are compared in integer arithmetic (no 0.3 * 10 rounding surprises).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

ScoreRef = tuple[str, str]  # (instrument key, score key from scoring.Scored.scores)

NRS = ("nrs-pain", "pain")
PGIC_SCORE = ("pgic", "pgic")
PERCENT = ("percent-improvement", "percent_improvement")
QOL = ("promis-global-10", "quality_of_life")
FUNCTION = ("promis-global-10", "physical_function")

FARRAR = "Farrar JT et al., Pain 2001;94:149-158"
IMMPACT = "Dworkin RH et al. (IMMPACT), J Pain 2008;9:105-121"


@dataclass(frozen=True)
class ShareDefinition:
    key: str
    label: str  # short, for tables: "less pain"
    definition: str  # the rule, stated in full
    source: str
    follow_up: ScoreRef
    baseline: ScoreRef | None  # None: the question itself asks about change
    responds: Callable[[int | None, int], bool]  # (baseline score, follow-up score)


def _pgic_at_most(code: int) -> Callable[[int | None, int], bool]:
    return lambda _baseline, follow_up: follow_up <= code


def _less_pain(baseline: int | None, follow_up: int) -> bool:
    # >= 2 points or >= 30 %: 10 x drop >= 3 x baseline. From a baseline of 0 nothing can drop.
    assert baseline is not None
    drop = baseline - follow_up
    return baseline > 0 and (drop >= 2 or 10 * drop >= 3 * baseline)


def _pain_halved(baseline: int | None, follow_up: int) -> bool:
    assert baseline is not None
    return baseline > 0 and 2 * (baseline - follow_up) >= baseline


def _category_better(baseline: int | None, follow_up: int) -> bool:
    assert baseline is not None
    return follow_up >= baseline + 1


MAS = ("modified-ashworth", "mas")
PSFS = ("penn-spasm", "psfs_frequency")


def _lower_by_one(baseline: int | None, follow_up: int) -> bool:
    # From the best grade (0) nothing can drop: counted as not improved, like an NRS of 0.
    assert baseline is not None
    return baseline > 0 and follow_up <= baseline - 1


SHARES: tuple[ShareDefinition, ...] = (
    ShareDefinition(
        key="improved",
        label="improved",
        definition=(
            "PGIC 'much improved' or 'very much improved' (codes 1-2 of 7) at the follow-up"
        ),
        source=f"{FARRAR} (clinically important change); {IMMPACT}: moderately important or more",
        follow_up=PGIC_SCORE,
        baseline=None,
        responds=_pgic_at_most(2),
    ),
    ShareDefinition(
        key="any_improvement",
        label="any improvement",
        definition="PGIC 'minimally', 'much' or 'very much improved' (codes 1-3 of 7)",
        source=f"{IMMPACT}: 'minimally improved' is minimally important",
        follow_up=PGIC_SCORE,
        baseline=None,
        responds=_pgic_at_most(3),
    ),
    ShareDefinition(
        key="improved_over_50_percent",
        label="improved by more than 50%",
        definition=(
            "percent improvement greater than 50% at the follow-up (exactly 50% does not count)"
        ),
        source="single-item percent improvement rating (this project's wording)",
        follow_up=PERCENT,
        baseline=None,
        responds=lambda _baseline, follow_up: follow_up > 50,
    ),
    ShareDefinition(
        key="less_pain",
        label="less pain",
        definition=(
            "NRS pain (0-10, average over 7 days) reduced from baseline by at least 2 points or "
            "by at least 30%; a baseline of 0 cannot improve and counts as not improved"
        ),
        source=f"{FARRAR}: about 2 points or 30% matched 'much improved'; {IMMPACT}: >= 30% "
        "moderately important",
        follow_up=NRS,
        baseline=NRS,
        responds=_less_pain,
    ),
    ShareDefinition(
        key="pain_halved",
        label="pain halved",
        definition=(
            "NRS pain reduced from baseline by at least 50% (a baseline of 0 does not count)"
        ),
        source=f"{IMMPACT}: >= 50% is a substantial improvement",
        follow_up=NRS,
        baseline=NRS,
        responds=_pain_halved,
    ),
    ShareDefinition(
        key="better_quality_of_life",
        label="better quality of life",
        definition=(
            "PROMIS Global02 ('In general, would you say your quality of life is') at least one "
            "category better than at baseline (e.g. 'fair' to 'good')"
        ),
        source=(
            "PROMIS Global Health v1.2 item Global02; the one-category threshold is this "
            "project's choice (no published minimal important change for the single item)"
        ),
        follow_up=QOL,
        baseline=QOL,
        responds=_category_better,
    ),
    ShareDefinition(
        key="better_function",
        label="better function",
        definition=(
            "PROMIS Global06 (ability to carry out everyday physical activities) at least one "
            "category better than at baseline (e.g. 'a little' to 'moderately')"
        ),
        source=(
            "PROMIS Global Health v1.2 item Global06; the one-category threshold is this "
            "project's choice (no published minimal important change for the single item)"
        ),
        follow_up=FUNCTION,
        baseline=FUNCTION,
        responds=_category_better,
    ),
    ShareDefinition(
        key="less_spasticity",
        label="less spasticity",
        definition=(
            "Modified Ashworth grade of the same muscle group at least one grade lower than at "
            "baseline (grades 0, 1, 1+, 2, 3, 4; 1+ to 1 counts); a baseline of 0 counts as not "
            "improved"
        ),
        source=(
            "Bohannon & Smith, Phys Ther 1987;67:206-207 (the scale); a one-grade drop is the "
            "usual criterion in intrathecal baclofen studies, this project's choice (no minimal "
            "important change is established)"
        ),
        follow_up=MAS,
        baseline=MAS,
        responds=_lower_by_one,
    ),
    ShareDefinition(
        key="fewer_spasms",
        label="fewer spasms",
        definition=(
            "Penn Spasm Frequency Scale at least one category lower than at baseline (e.g. more "
            "than once an hour to less than once an hour); a baseline of 0 counts as not improved"
        ),
        source=(
            "Penn RD et al., N Engl J Med 1989;320:1517-1521 (the scale); the one-category "
            "threshold is this project's choice (no minimal important change is established)"
        ),
        follow_up=PSFS,
        baseline=PSFS,
        responds=_lower_by_one,
    ),
)

SHARE_KEYS = tuple(s.key for s in SHARES)


def share_definition(key: str) -> ShareDefinition:
    for share in SHARES:
        if share.key == key:
            return share
    raise KeyError(key)
