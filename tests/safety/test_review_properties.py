"""Properties of the review over random programs and random histories of edits.

An edit is accepted when review finds nothing hard (every soft finding can be acknowledged).
Over any accepted sequence, an independent brute-force oracle checks that no rolling 24 h or
7-day rise, no single step and no interval between increases breaks a hard limit; and no
program above a hard limit is ever allowed.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from intrathecal.library import default_library
from intrathecal.library.records import ChangeLimit, Drug
from intrathecal.safety.change import allowed_increase_mcg_per_day
from intrathecal.safety.history import DoseRecord
from intrathecal.safety.review import Acknowledgement, ReviewInput, review
from intrathecal.therapy.checks import max_daily_doses_mcg
from intrathecal.therapy.parse import parse_program
from intrathecal.therapy.program import Program
from intrathecal.therapy.summary import summarize
from tests.conftest import HOUR, MONDAY

DAY = 24 * HOUR
CASES = {
    # drug: (concentration, first dose, dose unit)
    "morphine": ("10 mg/mL", 2000.0),
    "ziconotide": ("25 mcg/mL", 1.2),
    "baclofen": ("500 mcg/mL", 200.0),
}


def program(drug: str, dose_mcg_per_day: float) -> Program:
    concentration, _ = CASES[drug]
    text = (
        'device = "synchromed-ii-20"\ncatheter_volume = "0.19 mL"\nlow_reservoir_alarm = "3 mL"\n'
        f'[[drugs]]\nname = "{drug}"\nconcentration = "{concentration}"\n'
        f'[[basal]]\nstart = "00:00"\ndose = "{dose_mcg_per_day:.6f} mcg/day"\n'
    )
    return parse_program(text, default_library(), check_limits=False)


def within(limit: ChangeLimit | None, base: float, new: float) -> bool:
    if limit is None or base <= 0:
        return True
    return new - base <= allowed_increase_mcg_per_day(limit, base) * (1 + 1e-9)


def oracle(drug: Drug, doses: list[tuple[float, float]]) -> None:
    """Every accepted (time, dose) keeps the hard change limits, checked by brute force."""
    change = drug.change
    for i, (t, dose) in enumerate(doses):
        if i == 0:
            continue
        assert within(
            change.per_step_hard.value if change.per_step_hard else None, doses[i - 1][1], dose
        )
        for window, hard in ((DAY, change.per_day_hard), (7 * DAY, change.per_week_hard)):
            # Doses in force at any time in (t - window, t): the one in force at the window's
            # start and every later one before t.
            before = [d for s, d in doses[:i] if s <= t - window]
            inside = [d for s, d in doses[:i] if s > t - window]
            in_force = ([before[-1]] if before else []) + inside
            assert within(hard.value if hard else None, min(in_force), dose), (window, doses)
        interval = change.min_increase_interval_hard_s
        if interval is not None and dose > doses[i - 1][1]:
            rises = [s for j, (s, d) in enumerate(doses[:i]) if j == 0 or d > doses[j - 1][1]]
            assert t - rises[-1] >= interval.value - 1e-6


edits = st.lists(st.tuples(st.floats(1.0, 80.0), st.floats(0.5, 2.2)), min_size=1, max_size=7)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(CASES)), edits)
def test_no_accepted_sequence_of_edits_breaks_a_hard_rolling_limit(
    key: str, steps: list[tuple[float, float]]
) -> None:
    drug = default_library().drug(key)
    t = MONDAY
    current = program(key, CASES[key][1])
    history = [DoseRecord(t, dict(summarize(current).doses_mcg_per_day))]
    accepted = [(t, history[0].doses_mcg_per_day[key])]
    for hours, factor in steps:
        t += hours * HOUR
        new = program(key, accepted[-1][1] * factor)
        result = review(ReviewInput(new, current, history=tuple(history), now_s=t))
        if result.hard:
            continue
        dose = summarize(new).doses_mcg_per_day[key]
        current = new
        history.append(DoseRecord(t, {key: dose}))
        accepted.append((t, dose))
    oracle(drug, accepted)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(CASES)), st.floats(0.05, 30.0))
def test_no_program_above_a_hard_limit_is_ever_allowed(key: str, scale: float) -> None:
    drug = default_library().drug(key)
    hard = drug.daily_dose_mcg_per_day.hard_max
    assert hard is not None
    new = program(key, hard.value * scale / 10)
    result = review(ReviewInput(new, opioid_tolerant=True))
    # Every soft finding acknowledged: only hard findings can still block.
    acks = [Acknowledgement(f.code, "Dr A", "property test") for f in result.unacknowledged]
    acked = review(ReviewInput(new, opioid_tolerant=True), acks)
    over_daily = max_daily_doses_mcg(new)[key] > hard.value * (1 + 1e-9)
    start = drug.starting_daily_dose_hard_max_mcg_per_day
    over_start = start is not None and max_daily_doses_mcg(new)[key] > start.value * (1 + 1e-9)
    if over_daily or over_start:
        assert not acked.allowed
    else:
        assert acked.allowed == (not result.hard)
