"""Clinic statistics on a hand-worked cohort: counts, both denominators, Wilson intervals."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import pytest

from intrathecal.outcomes import (
    Period,
    Proportion,
    Response,
    procedure_statistics,
    wilson_interval,
)
from intrathecal.outcomes.statistics import Z95
from intrathecal.units import InputError
from tests.outcomes.builders import DAY0, PROCEDURE, FollowUp, patient

# The cohort (facet joint injection, 3-month follow-up, baseline 2025-01-06 unless said):
#   subject  baseline NRS, QoL, fn   follow-up NRS, PGIC, %,  QoL, fn
#   A        8, 2, 2                 3, 1, 80, 3, 3   drop 5 (62%): every share
#   B        6, 3, 2                 4, 2, 50, 3, 3   drop 2 (33%); 50% is not "more than 50%"
#   C        10, 1, 1                7, 3, 30, 1, 1   drop 3 = 30%: less pain, not halved
#   D        4, 3, 3                 3, 4, 10, 3, 2   drop 1 = 25%: none; function worse
#   E        0, 4, 4                 0, 4, 0, 4, 4    baseline 0 cannot improve
#   F        7                       no follow-up (missing)
#   G        5                       no follow-up (missing)
#   H        6, baseline 2025-03-31  not yet due on the as-of date 2025-05-01
AS_OF = date(2025, 5, 1)


def cohort() -> list[Response]:
    return [
        *patient("A", 8, 2, 2, FollowUp(3, 1, 80, 3, 3)),
        *patient("B", 6, 3, 2, FollowUp(4, 2, 50, 3, 3, ("nausea",))),
        *patient("C", 10, 1, 1, FollowUp(7, 3, 30, 1, 1)),
        *patient("D", 4, 3, 3, FollowUp(3, 4, 10, 3, 2, ("fever",))),
        *patient("E", 0, 4, 4, FollowUp(0, 4, 0, 4, 4)),
        *patient("F", 7),
        *patient("G", 5),
        *patient("H", 6, start=date(2025, 3, 31)),
    ]


def test_wilson_interval_hand_worked_8_of_10() -> None:
    # p = 0.8, n = 10, z = 1.959964, z² = 3.841459, z²/n = 0.3841459, 1 + z²/n = 1.3841459.
    # centre = (0.8 + 3.841459/20) / 1.3841459 = 0.9920729 / 1.3841459 = 0.716740
    # half = 1.959964 / 1.3841459 x sqrt(0.8 x 0.2 / 10 + 3.841459 / 400)
    #      = 1.416010 x sqrt(0.016 + 0.0096036) = 1.416010 x 0.1600114 = 0.226578
    # interval = (0.490162, 0.943318)
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.490162, abs=1e-6)
    assert high == pytest.approx(0.943318, abs=1e-6)


def test_wilson_interval_at_the_ends() -> None:
    # 0 of 10: centre = half = (z²/2n)/(1 + z²/n) = 0.1920729/1.3841459 = 0.138767;
    # high = 2 x 0.138767 = 0.277533, low exactly 0. 10 of 10 mirrors it.
    assert wilson_interval(0, 10) == (0.0, pytest.approx(0.277533, abs=1e-6))
    assert wilson_interval(10, 10) == (pytest.approx(0.722467, abs=1e-6), 1.0)
    assert abs(Z95 - 1.959964) < 1e-6
    assert Proportion(0, 0).estimate is None and Proportion(0, 0).low is None


def test_shares_with_both_denominators_hand_counted() -> None:
    stats = procedure_statistics(cohort(), PROCEDURE, as_of=AS_OF)
    assert stats.cohort == 8
    t = stats.at("3 months")
    # Due by 2025-05-01: A-G (baseline 2025-01-06 + 90 days = 2025-04-06); H (2025-06-29) is not.
    assert (t.due, t.responded, t.not_yet_due) == (7, 5, 1)
    expected = {
        # key: (improved, answered, due)
        "improved": (2, 5, 7),  # A (PGIC 1), B (PGIC 2)
        "any_improvement": (3, 5, 7),  # + C (PGIC 3)
        "improved_over_50_percent": (1, 5, 7),  # A (80); B's 50 is not more than 50
        "less_pain": (3, 5, 7),  # A (-5), B (-2 points), C (-3 = 30%); D -1 = 25% is not
        "pain_halved": (1, 5, 7),  # A (-62%); C's 30% is not
        "better_quality_of_life": (1, 5, 7),  # A 2 -> 3
        "better_function": (2, 5, 7),  # A 2 -> 3, B 2 -> 3
    }
    for key, (improved, answered, due) in expected.items():
        share = t.share(key)
        assert (share.completers.successes, share.completers.n) == (improved, answered), key
        assert share.missing_as_not_improved.successes == improved, key
        assert share.missing_as_not_improved.n == due, key
        assert share.missing == 2, key  # F and G
        assert share.small_n, key


def test_intervals_of_the_cohort_hand_worked() -> None:
    # less pain, completers 3 of 5: p = 0.6, z²/n = 0.768292, 1 + z²/n = 1.768292;
    # centre = (0.6 + 0.384146)/1.768292 = 0.556553;
    # half = 1.959964/1.768292 x sqrt(0.048 + 0.0384146) = 1.108393 x 0.293963 = 0.325826;
    # (0.230727, 0.882379).
    # improved, missing as not improved, 2 of 7: p = 0.285714, z²/n = 0.548780;
    # centre = (0.285714 + 0.274390)/1.548780 = 0.361642;
    # half = 1.265489 x sqrt(0.029155 + 0.019599) = 1.265489 x 0.220803 = 0.279424;
    # (0.082218, 0.641066).
    t = procedure_statistics(cohort(), PROCEDURE, as_of=AS_OF).at("3 months")
    less = t.share("less_pain").completers
    assert (less.low, less.high) == (
        pytest.approx(0.230727, abs=1e-5),
        pytest.approx(0.882379, abs=1e-5),
    )
    improved = t.share("improved").missing_as_not_improved
    assert improved.estimate == pytest.approx(2 / 7)
    assert (improved.low, improved.high) == (
        pytest.approx(0.082218, abs=1e-5),
        pytest.approx(0.641066, abs=1e-5),
    )


def test_response_rate_and_warnings() -> None:
    t = procedure_statistics(cohort(), PROCEDURE, as_of=AS_OF).at("3 months")
    assert (t.response_rate.successes, t.response_rate.n) == (5, 7)  # 71% < 80%: warned
    text = " ".join(t.warnings)
    assert "only 5 of 7" in text and "may overstate" in text
    assert "1 patient(s) not yet due" in text
    share = t.share("less_pain")
    assert any("fewer than 20" in w and "23% to 88%" in w for w in share.warnings)


def test_side_effects_are_tallied_and_flagged() -> None:
    t = procedure_statistics(cohort(), PROCEDURE, as_of=AS_OF).at("3 months")
    s = t.side_effects
    assert (s.answered, s.any_effect.successes) == (5, 2)  # B nausea, D fever
    assert s.counts["nausea"] == 1 and s.counts["fever"] == 1
    assert s.needing_review == 1  # fever needs review; nausea does not


def test_without_an_as_of_date_everyone_counts_as_due_and_it_is_said() -> None:
    stats = procedure_statistics(cohort(), PROCEDURE)
    t = stats.at("3 months")
    assert t.due == 8  # H too
    assert t.share("improved").missing_as_not_improved.n == 8
    assert any("no as-of date" in n for n in stats.notes)


def test_a_patient_who_answered_early_counts_even_if_not_yet_due() -> None:
    # H answers on day 61 (2025-05-31, inside the 3-month window of days 60-135): counted
    # although 2025-03-31 + 90 days (2025-06-29) is after the as-of date 2025-06-01.
    h_follow_up = patient(
        "H", 6, follow_up=FollowUp(2, 1, 90, 4, 4), start=date(2025, 3, 31), days=61
    )[2:]
    early = cohort() + h_follow_up
    t = procedure_statistics(early, PROCEDURE, as_of=date(2025, 6, 1)).at("3 months")
    assert (t.due, t.responded) == (8, 6)
    assert t.share("improved").completers.successes == 3


def test_period_selects_patients_by_baseline_date() -> None:
    stats = procedure_statistics(
        cohort(), PROCEDURE, period=Period(date(2025, 3, 1), date(2025, 3, 31)), as_of=AS_OF
    )
    assert stats.cohort == 1  # only H
    t = stats.at("3 months")
    assert (t.due, t.responded) == (0, 0)
    assert any("nothing to report" in w for w in t.warnings)
    assert t.share("improved").completers.estimate is None


def test_period_needs_dates() -> None:
    undated = [replace(r, collected_on=None) for r in cohort()]
    with pytest.raises(InputError, match="no dated baseline"):
        procedure_statistics(undated, PROCEDURE, period=Period(DAY0, None))
    # Without a period the same data is fine: the statistics only need days from baseline.
    assert procedure_statistics(undated, PROCEDURE).cohort == 8


def test_a_period_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(InputError, match="ends"):
        Period(date(2025, 2, 1), date(2025, 1, 1))


def test_a_share_needing_a_baseline_leaves_out_patients_without_it() -> None:
    # I has only a PROMIS baseline (no NRS): in the PGIC shares, not in the NRS shares.
    full = patient("I", 5, follow_up=FollowUp(2, 1, 70, 4, 4))
    extra = [r for r in full if (r.timepoint, r.instrument) != ("baseline", "nrs-pain")]
    t = procedure_statistics(cohort() + extra, PROCEDURE, as_of=AS_OF).at("3 months")
    assert t.share("improved").completers.n == 6
    assert t.share("less_pain").completers.n == 5
    assert t.share("less_pain").no_baseline == 1


def test_follow_ups_without_a_baseline_are_left_out_and_named() -> None:
    orphan = patient("Z", 5, follow_up=FollowUp(2, 1, 70, 4, 4))[2:]
    stats = procedure_statistics(cohort() + orphan, PROCEDURE, as_of=AS_OF)
    assert stats.cohort == 8
    assert any("no baseline" in n and "Z" in n for n in stats.notes)


def test_only_the_requested_procedure_counts() -> None:
    other = patient("X", 8, follow_up=FollowUp(1, 1, 90, 5, 5), procedure="epidural-injection")
    stats = procedure_statistics(cohort() + other, PROCEDURE, as_of=AS_OF)
    assert stats.at("3 months").share("improved").completers.n == 5
    epidural = procedure_statistics(cohort() + other, "epidural-injection", as_of=AS_OF)
    assert epidural.cohort == 1 and epidural.procedure_label == "Epidural injection"


def test_statement_gives_both_denominators() -> None:
    t = procedure_statistics(cohort(), PROCEDURE, as_of=AS_OF).at("3 months")
    text = t.share("improved").statement("3 months")
    assert "2 of 5 (40%" in text and "2 of 7 (29%" in text and "the 2 who did not answer" in text
    assert "much improved" in text


def test_a_procedure_without_follow_ups_reports_its_schedule() -> None:
    stats = procedure_statistics(patient("A", 8), "intrathecal-pump")
    assert [t.timepoint for t in stats.timepoints] == [
        "1 month",
        "3 months",
        "6 months",
        "12 months",
    ]
    assert all(t.responded == 0 for t in stats.timepoints)


def test_statistics_refuse_baseline_as_a_follow_up() -> None:
    with pytest.raises(InputError, match="not for 'baseline'"):
        procedure_statistics(cohort(), PROCEDURE, timepoints=["baseline"])


def test_no_nan_anywhere() -> None:
    t = procedure_statistics(cohort(), PROCEDURE, as_of=AS_OF).at("3 months")
    for share in t.shares:
        if not share.asked:  # the spasticity scales: "not asked", no number at all
            assert share.missing_as_not_improved.estimate is None
            continue
        for p in (share.completers, share.missing_as_not_improved):
            assert p.estimate is not None and not math.isnan(p.estimate)
