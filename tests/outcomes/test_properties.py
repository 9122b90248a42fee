"""Properties for every input: shares in [0, 1], intervals hold the estimate, monotonicity."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from intrathecal.outcomes import Proportion, Response, procedure_statistics, wilson_interval
from tests.outcomes.builders import PROCEDURE, FollowUp, patient

follow_ups = st.builds(
    FollowUp,
    pain=st.integers(0, 10),
    pgic=st.integers(1, 7),
    percent=st.integers(0, 100),
    quality_of_life=st.integers(1, 5),
    function=st.integers(1, 5),
)
patients = st.tuples(
    st.integers(0, 10), st.integers(1, 5), st.integers(1, 5), st.none() | follow_ups
)
cohorts = st.lists(patients, min_size=0, max_size=12)
Cohort = list[tuple[int, int, int, FollowUp | None]]
BEST = FollowUp(pain=0, pgic=1, percent=100, quality_of_life=5, function=5)


def responses(cohort: Cohort) -> list[Response]:
    out = []
    for i, (pain, qol, fn, follow_up) in enumerate(cohort):
        out += patient(f"S{i}", pain, qol, fn, follow_up)
    return out


@given(st.integers(0, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_lies_in_0_1_and_holds_the_estimate(pair: tuple[int, int]) -> None:
    successes, n = pair
    if n == 0:
        assert Proportion(0, 0).estimate is None
        return
    low, high = wilson_interval(successes, n)
    assert 0.0 <= low <= successes / n <= high <= 1.0
    assert high - low > 0  # never a zero-width interval: some uncertainty always remains


@given(cohorts)
def test_every_share_and_interval_is_a_fraction_holding_its_estimate(cohort: Cohort) -> None:
    stats = procedure_statistics(responses(cohort), PROCEDURE)
    for t in stats.timepoints:
        for share in t.shares:
            c, m = share.completers, share.missing_as_not_improved
            for p in (c, m):
                if p.n:
                    assert p.low is not None and p.high is not None and p.estimate is not None
                    assert 0.0 <= p.low <= p.estimate <= p.high <= 1.0
            # Counting non-answers as not improved can only lower the share.
            assert m.successes == c.successes and m.n >= c.n
            if c.n:
                assert m.estimate is not None and c.estimate is not None
                assert m.estimate <= c.estimate


@given(cohorts, st.integers(0, 10).filter(lambda p: p >= 2), st.integers(1, 4), st.integers(1, 4))
def test_adding_an_improved_patient_never_lowers_a_share(
    cohort: Cohort,
    pain: int,
    qol: int,
    fn: int,
) -> None:
    # The added patient improves on every definition: pain to 0 from >= 2, PGIC 1, 100%,
    # quality of life and function up to 5 from at most 4.
    before = procedure_statistics(responses(cohort), PROCEDURE, timepoints=["3 months"])
    bigger = [*cohort, (pain, qol, fn, BEST)]
    after = procedure_statistics(responses(bigger), PROCEDURE, timepoints=["3 months"])
    for old, new in zip(before.timepoints[0].shares, after.timepoints[0].shares, strict=True):
        if not new.asked:  # the spasticity scales are not in these cohorts
            continue
        assert new.completers.successes == old.completers.successes + 1
        for o, n in (
            (old.completers, new.completers),
            (old.missing_as_not_improved, new.missing_as_not_improved),
        ):
            assert n.estimate is not None
            assert o.estimate is None or n.estimate >= o.estimate


@given(cohorts)
def test_a_missing_follow_up_lowers_only_the_missing_as_not_improved_share(
    cohort: Cohort,
) -> None:
    before = procedure_statistics(responses(cohort), PROCEDURE, timepoints=["3 months"])
    after = procedure_statistics(
        responses([*cohort, (8, 2, 2, None)]), PROCEDURE, timepoints=["3 months"]
    )
    for old, new in zip(before.timepoints[0].shares, after.timepoints[0].shares, strict=True):
        assert new.completers == old.completers
        if not new.asked:  # nobody answered at 3 months: "not asked", never "0 of n"
            assert new.missing_as_not_improved.n == 0
            continue
        assert new.missing_as_not_improved.n == old.missing_as_not_improved.n + 1
        assert new.missing == old.missing + 1
