"""The journey's bounds (clinical/journey_limits.py): one home for each, pure, the server's
clock a parameter. Scenario tests named after the rule; properties where it holds for all."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intrathecal.clinical import journey_limits as limits
from intrathecal.library import default_library
from intrathecal.units import InputError

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LIB = default_library()


def test_no_evaluation_in_2099_and_none_before_1980() -> None:
    with pytest.raises(InputError) as future:
        limits.check_day(date(2099, 1, 1), NOW, "performed_on")
    assert future.value.field == "performed_on"
    assert future.value.message == "2099-01-01 is in the future (today is 2026-03-02)"
    with pytest.raises(InputError, match="before 1980-01-01: check the year"):
        limits.check_day(date(1979, 12, 31), NOW, "performed_on")
    assert limits.check_day(date(1980, 1, 1), NOW, "x") == date(1980, 1, 1)


def test_today_is_the_latest_date_begun_anywhere() -> None:
    # 2 Mar 09:00 UTC is 2 Mar 23:00 at UTC+14: 3 Mar has not begun anywhere.
    assert limits.today(NOW) == date(2026, 3, 2)
    # 10:00 UTC + 14 h = 3 Mar 00:00 at Kiribati: 3 Mar has begun there.
    assert limits.today(NOW + timedelta(hours=1)) == date(2026, 3, 3)


def test_no_implant_in_2030() -> None:
    with pytest.raises(InputError, match="in the future"):
        limits.check_done_at(datetime(2030, 1, 1, tzinfo=UTC), NOW, timedelta(minutes=5), "at")
    # within the client clock's skew is fine
    soon = NOW + timedelta(minutes=4)
    assert limits.check_done_at(soon, NOW, timedelta(minutes=5), "at") == soon


def test_appointments_are_booked_up_to_two_years_ahead_and_one_year_late() -> None:
    limits.check_booking(NOW + timedelta(days=731), NOW)
    with pytest.raises(InputError, match="more than 731 days ahead"):
        limits.check_booking(NOW + timedelta(days=732), NOW)
    with pytest.raises(InputError, match="more than 366 days ago"):
        limits.check_booking(NOW - timedelta(days=367), NOW)


def test_no_5000_mg_trial() -> None:
    morphine = LIB.drug("morphine")
    with pytest.raises(InputError) as refused:
        limits.check_trial_dose(morphine, "single bolus", 5_000_000.0)
    # morphine's hard per-bolus limit: 1 mg = 1000 mcg (library, UNVERIFIED project default)
    assert refused.value.message == (
        "5000 mg is above morphine's hard per-bolus limit of 1 mg (UNVERIFIED): "
        "not a plausible trial dose"
    )
    assert limits.check_trial_dose(morphine, "single bolus", 250.0) == 250.0
    # a continuous trial is bounded by the daily hard limit (morphine 20 mg/day)
    assert limits.check_trial_dose(morphine, "continuous", 5000.0) == 5000.0
    with pytest.raises(InputError, match="over 24 h is above morphine's hard daily-dose limit"):
        limits.check_trial_dose(morphine, "continuous", 20_001.0)


@settings(max_examples=60, deadline=None)
@given(
    drug=st.sampled_from(sorted(LIB.drugs)),
    mode=st.sampled_from(["single bolus", "continuous"]),
    dose=st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
)
def test_a_trial_dose_is_kept_only_when_above_0_and_within_the_hard_limit(
    drug: str, mode: str, dose: float
) -> None:
    d = LIB.drug(drug)
    found = limits.trial_dose_limit(d, mode)
    assert found is not None
    ok = 0 < dose <= found.limit.value
    try:
        assert limits.check_trial_dose(d, mode, dose) == dose
        assert ok
    except InputError as error:
        assert not ok and error.field == "dose"


def test_a_baclofen_trial_is_measured_in_ashworth_and_spasms_not_pain() -> None:
    baclofen = LIB.drug("baclofen")
    assert limits.response_measure(baclofen) == "spasticity"
    assert limits.response_measure(LIB.drug("morphine")) == "pain"
    good = limits.TrialResponse(
        ashworth_before="3", ashworth_after="1+", spasms_before=3, spasms_after=1
    )
    assert limits.check_trial_response(baclofen, good) == good
    with pytest.raises(InputError) as pain:
        limits.check_trial_response(baclofen, limits.TrialResponse(9, 5, "3", "1+", 3, 1))
    assert pain.value.field == "pain_before"
    with pytest.raises(InputError) as missing:
        limits.check_trial_response(baclofen, limits.TrialResponse())
    assert missing.value.field == "ashworth_before"
    with pytest.raises(InputError) as spasticity_for_pain:
        limits.check_trial_response(
            LIB.drug("morphine"), limits.TrialResponse(8, 3, ashworth_before="2")
        )
    assert spasticity_for_pain.value.field == "ashworth_before"


@settings(max_examples=60, deadline=None)
@given(before=st.integers(-5, 15), after=st.integers(-5, 15))
def test_pain_scores_are_kept_only_from_0_to_10(before: int, after: int) -> None:
    response = limits.TrialResponse(before, after)
    ok = 0 <= before <= 10 and 0 <= after <= 10
    try:
        limits.check_trial_response(LIB.drug("morphine"), response)
        assert ok
    except InputError:
        assert not ok


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=60), most=st.integers(1, 40), required=st.booleans())
def test_text_is_kept_stripped_within_its_cap_never_cut(
    text: str, most: int, required: bool
) -> None:
    kept = text.strip()
    try:
        assert limits.check_text(text, "f", most, required) == kept
        assert len(kept) <= most and (kept or not required)
    except InputError:
        assert len(kept) > most or (required and not kept)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("40 mg/day", True),
        ("0.5 mg twice daily", True),
        ("-5 mg", False),
        ("abc", False),
        ("0 mg", False),
        ("40", False),
    ],
)
def test_a_prior_oral_dose_starts_with_a_dose_above_0_and_its_unit(text: str, ok: bool) -> None:
    if ok:
        assert limits.check_stated_dose(text) == text
    else:
        with pytest.raises(InputError):
            limits.check_stated_dose(text)


def test_catheter_length_is_plausible() -> None:
    assert limits.check_catheter_length(70.0) == 70.0
    with pytest.raises(InputError, match="500 cm is outside 5 to 150 cm"):
        limits.check_catheter_length(500.0)
