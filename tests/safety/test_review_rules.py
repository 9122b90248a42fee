"""Review rules of issue 9, one scenario test per rule, named after it; numbers worked by hand.

Pump pathway (SynchroMed II, library) 0.26 mL + catheter 0.19 mL = 0.45 mL of old solution.
"""

from __future__ import annotations

import pytest

from intrathecal.library import default_library
from intrathecal.safety.history import DoseRecord
from intrathecal.safety.review import Acknowledgement, ReviewInput, ReviewResult, review
from intrathecal.therapy.findings import Severity
from intrathecal.therapy.parse import parse_program
from intrathecal.therapy.program import Program
from tests.conftest import HOUR, MONDAY

DAY = 24 * HOUR


def prog(
    drugs: dict[str, str],
    dose: str,
    device: str = "synchromed-ii-20",
    demand: str | None = None,
) -> Program:
    text = f'device = "{device}"\ncatheter_volume = "0.19 mL"\nlow_reservoir_alarm = "3 mL"\n'
    for name, concentration in drugs.items():
        text += f'[[drugs]]\nname = "{name}"\nconcentration = "{concentration}"\n'
    text += f'[[basal]]\nstart = "00:00"\ndose = "{dose}"\n'
    if demand is not None:
        text += (
            f'[demand_bolus]\ndose = "{demand}"\nduration = "10 min"\nlockout = "4 h"\n'
            "max_per_24h = 2\n"
        )
    return parse_program(text, default_library(), check_limits=False)


def found(result: ReviewResult, code: str) -> list[Severity]:
    return [f.severity for f in result.findings if f.code == code]


def message(result: ReviewResult, code: str) -> str:
    return next(f.message for f in result.findings if f.code == code)


# --- 1. starting dose --------------------------------------------------------------------------


def test_starting_dose_above_labelled_max_is_hard_ziconotide_7_2_fresh() -> None:
    # Label: "Initiate dosing at no more than 2.4 mcg/day"; 7.2 > 2.4: hard.
    result = review(ReviewInput(prog({"ziconotide": "25 mcg/mL"}, "7.2 mcg/day")))
    assert found(result, "STARTING_DOSE_ABOVE_LABELLED_MAX") == [Severity.HARD]
    assert "2.4 mcg/day" in message(result, "STARTING_DOSE_ABOVE_LABELLED_MAX")
    assert not result.allowed


def test_starting_dose_ziconotide_added_to_an_admixture_is_checked() -> None:
    old = prog({"morphine": "10 mg/mL"}, "2 mg/day")
    new = prog({"morphine": "10 mg/mL", "ziconotide": "15 mcg/mL"}, "2 mg/day")
    # 0.2 mL/day x 15 mcg/mL = 3 mcg/day of ziconotide, above the labelled 2.4: hard.
    result = review(ReviewInput(new, old, bridge_planned=True))
    assert found(result, "STARTING_DOSE_ABOVE_LABELLED_MAX") == [Severity.HARD]


def test_starting_dose_above_range_morphine_10_mg_first_program_status_not_given() -> None:
    new = prog({"morphine": "10 mg/mL"}, "10 mg/day")
    result = review(ReviewInput(new))
    # Not stated: opioid-naive range 0.2-1 mg/day (Infumorph label); 10 > 1: soft.
    assert found(result, "STARTING_DOSE_ABOVE_RANGE") == [Severity.SOFT]
    text = message(result, "STARTING_DOSE_ABOVE_RANGE")
    assert "not given" in text and "0.2 mg/day-1 mg/day" in text and "verified" in text
    # Opioid-tolerant: 1-10 mg/day, so 10 mg/day is inside; 12 mg/day is above.
    assert not found(review(ReviewInput(new, opioid_tolerant=True)), "STARTING_DOSE_ABOVE_RANGE")
    above = review(ReviewInput(prog({"morphine": "10 mg/mL"}, "12 mg/day"), opioid_tolerant=True))
    assert "opioid-tolerant range" in message(above, "STARTING_DOSE_ABOVE_RANGE")


def test_starting_dose_counts_every_allowed_demand_bolus() -> None:
    # 0.8 mg/day basal + 2 x 0.1 mg demand = 1.0 mg/day: at the naive top, no finding;
    # 2 x 0.15 mg makes 1.1 mg/day: above.
    ok = prog({"morphine": "10 mg/mL"}, "0.8 mg/day", demand="0.1 mg")
    over = prog({"morphine": "10 mg/mL"}, "0.8 mg/day", demand="0.15 mg")
    assert not found(review(ReviewInput(ok)), "STARTING_DOSE_ABOVE_RANGE")
    assert found(review(ReviewInput(over)), "STARTING_DOSE_ABOVE_RANGE") == [Severity.SOFT]


# --- 2. concentration change without a bridge --------------------------------------------------


def test_concentration_change_without_bridge_transient_above_hard_daily_dose() -> None:
    # 25 mg/mL at 0.2 mL/day (5 mg/day) -> 5 mg/mL at 1 mL/day (5 mg/day). The old 25 mg/mL
    # runs at 1 mL/day: 25 mg/day for 0.45 / 1 x 24 = 10.8 h, above the hard 20 mg/day.
    old = prog({"morphine": "25 mg/mL"}, "5 mg/day")
    new = prog({"morphine": "5 mg/mL"}, "5 mg/day")
    result = review(ReviewInput(new, old, opioid_tolerant=True))
    assert found(result, "TRANSIENT_DAILY_DOSE_ABOVE_HARD") == [Severity.HARD]
    text = message(result, "TRANSIENT_DAILY_DOSE_ABOVE_HARD")
    assert "25 mg/day" in text and "10.8 h" in text
    # 5 -> 25 mg/day is +400%, above the 50% per-step hard limit.
    assert found(result, "TRANSIENT_DOSE_INCREASE_PER_STEP_ABOVE_HARD") == [Severity.HARD]
    assert not result.allowed
    bridged = review(ReviewInput(new, old, bridge_planned=True))
    assert found(bridged, "BRIDGE_PLANNED") == [Severity.INFO]
    assert not found(bridged, "TRANSIENT_DAILY_DOSE_ABOVE_HARD")
    assert bridged.allowed


def test_concentration_change_without_bridge_transient_underdose_is_a_cut() -> None:
    # 10 mg/mL at 0.2 mL/day -> 20 mg/mL at 0.1 mL/day (2 mg/day both). The old solution at
    # 0.1 mL/day gives 1 mg/day (-50%) for 0.45 / 0.1 x 24 = 108 h: beyond the 25% cut limit.
    old = prog({"morphine": "10 mg/mL"}, "2 mg/day")
    new = prog({"morphine": "20 mg/mL"}, "2 mg/day")
    result = review(ReviewInput(new, old))
    assert found(result, "TRANSIENT_DOSE_DECREASE_PER_STEP_ABOVE_SOFT") == [Severity.SOFT]
    text = message(result, "TRANSIENT_DOSE_DECREASE_PER_STEP_ABOVE_SOFT")
    assert "108.0 h" in text and "to 1 mg/day" in text


def test_concentration_change_without_bridge_breaking_nothing_is_soft() -> None:
    # 10 mg/mL at 0.2 mL/day (2 mg/day) -> 12 mg/mL at 0.18 mL/day (2.16 mg/day): the old
    # solution gives 10 x 0.18 = 1.8 mg/day (-10%) for 0.45 / 0.18 x 24 = 60 h.
    old = prog({"morphine": "10 mg/mL"}, "2 mg/day")
    new = prog({"morphine": "12 mg/mL"}, "2.16 mg/day")
    result = review(ReviewInput(new, old))
    assert found(result, "CONCENTRATION_CHANGE_WITHOUT_BRIDGE") == [Severity.SOFT]
    text = message(result, "CONCENTRATION_CHANGE_WITHOUT_BRIDGE")
    assert "1.8 mg/day" in text and "60.0 h" in text and "0.45 mL" in text
    assert not result.allowed
    acked = review(
        ReviewInput(new, old),
        [Acknowledgement("CONCENTRATION_CHANGE_WITHOUT_BRIDGE", "Dr A", "supervised")],
    )
    assert acked.allowed


def test_drug_switch_without_bridge_is_a_finding() -> None:
    old = prog({"morphine": "10 mg/mL"}, "6 mg/day")
    new = prog({"hydromorphone": "2 mg/mL"}, "0.8 mg/day")
    result = review(ReviewInput(new, old))
    assert found(result, "DRUG_SWITCH_WITHOUT_BRIDGE") == [Severity.SOFT]
    assert "hydromorphone reaches the patient only after" in message(
        result, "DRUG_SWITCH_WITHOUT_BRIDGE"
    )


# --- 3. device and drug restrictions -----------------------------------------------------------


@pytest.mark.parametrize("device", ["prometra-ii-20", "prometra-ii-40"])
def test_bolus_mode_restricted_prometra_baclofen_demand_bolus_is_hard(device: str) -> None:
    new = prog({"baclofen": "500 mcg/mL"}, "200 mcg/day", device, demand="25 mcg")
    result = review(ReviewInput(new))
    assert found(result, "BOLUS_MODE_RESTRICTED") == [Severity.HARD]
    assert "CANNOT be used" in message(result, "BOLUS_MODE_RESTRICTED")
    # The same program on a SynchroMed has no such restriction.
    synchromed = prog({"baclofen": "500 mcg/mL"}, "200 mcg/day", demand="25 mcg")
    assert not found(review(ReviewInput(synchromed)), "BOLUS_MODE_RESTRICTED")


def test_device_not_labelled_for_drug_ziconotide_in_a_prometra_is_soft() -> None:
    new = prog({"ziconotide": "25 mcg/mL"}, "1.2 mcg/day", "prometra-ii-20")
    result = review(ReviewInput(new))
    assert found(result, "DEVICE_NOT_LABELLED_FOR_DRUG") == [Severity.SOFT]
    assert "SynchroMed" in message(result, "DEVICE_NOT_LABELLED_FOR_DRUG")


def test_bolus_mode_restricted_ziconotide_demand_bolus_is_soft() -> None:
    new = prog({"ziconotide": "25 mcg/mL"}, "1.2 mcg/day", demand="0.1 mcg")
    result = review(ReviewInput(new))
    assert found(result, "BOLUS_MODE_RESTRICTED") == [Severity.SOFT]


# --- 4. decreases ------------------------------------------------------------------------------


def test_dose_decrease_per_step_baclofen_above_20_percent_is_soft() -> None:
    old = prog({"baclofen": "500 mcg/mL"}, "400 mcg/day")
    # 400 -> 300 mcg/day: -25% > 20% (label: "decrease by 10-20%"); 400 -> 330: -17.5%, none.
    cut = review(ReviewInput(prog({"baclofen": "500 mcg/mL"}, "300 mcg/day"), old))
    assert found(cut, "DOSE_DECREASE_PER_STEP_ABOVE_SOFT") == [Severity.SOFT]
    assert "(25.0%)" in message(cut, "DOSE_DECREASE_PER_STEP_ABOVE_SOFT")
    small = review(ReviewInput(prog({"baclofen": "500 mcg/mL"}, "330 mcg/day"), old))
    assert not found(small, "DOSE_DECREASE_PER_STEP_ABOVE_SOFT")


def test_dose_decrease_per_step_opioid_beyond_library_limit_is_soft_and_unverified() -> None:
    old = prog({"morphine": "10 mg/mL"}, "4 mg/day")
    # 4 -> 2.8 mg/day: -30% > 25% (project default, UNVERIFIED); 4 -> 3.2: -20%, none.
    cut = review(ReviewInput(prog({"morphine": "10 mg/mL"}, "2.8 mg/day"), old))
    assert found(cut, "DOSE_DECREASE_PER_STEP_ABOVE_SOFT") == [Severity.SOFT]
    assert "UNVERIFIED" in message(cut, "DOSE_DECREASE_PER_STEP_ABOVE_SOFT")
    small = review(ReviewInput(prog({"morphine": "10 mg/mL"}, "3.2 mg/day"), old))
    assert not found(small, "DOSE_DECREASE_PER_STEP_ABOVE_SOFT")


# --- 5. opioid switches ------------------------------------------------------------------------


def _switch(dose: str, to: str = "hydromorphone") -> ReviewResult:
    old = prog({"morphine": "10 mg/mL"}, "6 mg/day")
    return review(ReviewInput(prog({to: "2 mg/mL"}, dose), old, bridge_planned=True))


def test_opioid_switch_equianalgesic_from_the_library() -> None:
    # IT morphine 6 mg/day / 6 = hydromorphone 1 mg/day equianalgesic. 0.8 mg/day: below it.
    result = _switch("0.8 mg/day")
    assert not [f for f in result.findings if f.code.startswith("OPIOID_SWITCH")]
    assert not found(result, "STARTING_DOSE_ABOVE_RANGE")  # a switch, not a start


def test_opioid_switch_above_equianalgesic_is_soft() -> None:
    # 1.2 mg/day > 1 mg/day, within 1 + 50% = 1.5 mg/day (hydromorphone hard step limit).
    result = _switch("1.2 mg/day")
    assert found(result, "OPIOID_SWITCH_ABOVE_EQUIANALGESIC") == [Severity.SOFT]
    assert "1 mg/day" in message(result, "OPIOID_SWITCH_ABOVE_EQUIANALGESIC")


def test_opioid_switch_above_hard_change_limit_from_equianalgesic_is_hard() -> None:
    # 1.6 mg/day > 1.5 mg/day (equianalgesic 1 mg/day + 50%): hard.
    result = _switch("1.6 mg/day")
    assert found(result, "OPIOID_SWITCH_ABOVE_HARD") == [Severity.HARD]
    assert not result.allowed


def test_opioid_switch_no_ratio_is_soft() -> None:
    result = _switch("50 mcg/day", to="fentanyl")
    assert found(result, "OPIOID_SWITCH_NO_RATIO") == [Severity.SOFT]
    assert "fentanyl" in message(result, "OPIOID_SWITCH_NO_RATIO")


# --- 6. rolling windows and intervals ----------------------------------------------------------


def test_dose_increase_interval_ziconotide_three_edits_in_24h_is_hard() -> None:
    # 2.4 (09:00) -> 4.8 (21:00) -> 7.2 (09:00 next day): each step +2.4 (the hard step), but
    # the last rise comes 12 h after the previous one; the EU SmPC minimum is 24 h.
    history = (
        DoseRecord(MONDAY + 9 * HOUR, {"ziconotide": 2.4}),
        DoseRecord(MONDAY + 21 * HOUR, {"ziconotide": 4.8}),
    )
    old = prog({"ziconotide": "25 mcg/mL"}, "4.8 mcg/day")
    new = prog({"ziconotide": "25 mcg/mL"}, "7.2 mcg/day")
    alone = review(ReviewInput(new, old))
    assert not alone.hard  # what each edit looked like before: per step only
    result = review(ReviewInput(new, old, history=history, now_s=MONDAY + 33 * HOUR))
    assert found(result, "DOSE_INCREASE_INTERVAL_BELOW_HARD") == [Severity.HARD]
    assert "12.0 h" in message(result, "DOSE_INCREASE_INTERVAL_BELOW_HARD")
    assert not result.allowed


def test_dose_increase_interval_ziconotide_two_a_week_soft_then_none() -> None:
    history = (DoseRecord(MONDAY, {"ziconotide": 2.4}),)
    old = prog({"ziconotide": "25 mcg/mL"}, "2.4 mcg/day")
    new = prog({"ziconotide": "25 mcg/mL"}, "2.8 mcg/day")  # +0.4: under every step limit
    soon = review(ReviewInput(new, old, history=history, now_s=MONDAY + 30 * HOUR))
    assert found(soon, "DOSE_INCREASE_INTERVAL_BELOW_SOFT") == [Severity.SOFT]  # 30 h < 56 h
    later = review(ReviewInput(new, old, history=history, now_s=MONDAY + 60 * HOUR))
    assert not [f for f in later.findings if "INTERVAL" in f.code]


def test_dose_increase_per_day_morphine_2_3_4_5_within_24h_is_hard() -> None:
    # 2 -> 3 -> 4.5 mg/day: each step +50% (at the hard step limit, allowed alone); over 24 h
    # +2.5 mg/day = +125% from 2 mg/day, above the 50% hard limit per 24 h.
    history = (
        DoseRecord(MONDAY, {"morphine": 2000.0}),
        DoseRecord(MONDAY + 8 * HOUR, {"morphine": 3000.0}),
    )
    old = prog({"morphine": "10 mg/mL"}, "3 mg/day")
    new = prog({"morphine": "10 mg/mL"}, "4.5 mg/day")
    assert not review(ReviewInput(new, old)).hard
    result = review(ReviewInput(new, old, history=history, now_s=MONDAY + 16 * HOUR))
    assert found(result, "DOSE_INCREASE_PER_DAY_ABOVE_HARD") == [Severity.HARD]
    assert "(125.0%)" in message(result, "DOSE_INCREASE_PER_DAY_ABOVE_HARD")


def test_dose_increase_per_week_morphine_over_7_days_is_hard() -> None:
    # 2 (day 0) -> 3 (day 2) -> 4.5 (day 4): each 24 h window +50% (allowed), but over 7 days
    # +125% from 2 mg/day, above the 100% hard weekly limit (project default).
    history = (
        DoseRecord(MONDAY, {"morphine": 2000.0}),
        DoseRecord(MONDAY + 2 * DAY, {"morphine": 3000.0}),
    )
    old = prog({"morphine": "10 mg/mL"}, "3 mg/day")
    new = prog({"morphine": "10 mg/mL"}, "4.5 mg/day")
    result = review(ReviewInput(new, old, history=history, now_s=MONDAY + 4 * DAY))
    assert not found(result, "DOSE_INCREASE_PER_DAY_ABOVE_HARD")
    assert found(result, "DOSE_INCREASE_PER_WEEK_ABOVE_HARD") == [Severity.HARD]


def test_dose_increase_per_day_measured_from_the_lowest_dose_in_the_window() -> None:
    # 3 (t-30 h) -> 2 (t-20 h) -> 3 (t-10 h) -> 4 now. From the dose at the window's start
    # (3) it is +33%; from the lowest in force in the window (2) +100% > 50%: hard.
    t = MONDAY + 2 * DAY
    history = (
        DoseRecord(t - 30 * HOUR, {"morphine": 3000.0}),
        DoseRecord(t - 20 * HOUR, {"morphine": 2000.0}),
        DoseRecord(t - 10 * HOUR, {"morphine": 3000.0}),
    )
    old = prog({"morphine": "10 mg/mL"}, "3 mg/day")
    new = prog({"morphine": "10 mg/mL"}, "4 mg/day")
    result = review(ReviewInput(new, old, history=history, now_s=t))
    assert found(result, "DOSE_INCREASE_PER_DAY_ABOVE_HARD") == [Severity.HARD]


def test_review_time_assumed_when_history_has_no_now() -> None:
    history = (DoseRecord(MONDAY, {"morphine": 2000.0}),)
    old = prog({"morphine": "10 mg/mL"}, "2 mg/day")
    result = review(ReviewInput(old, old, history=history))
    assert found(result, "REVIEW_TIME_ASSUMED") == [Severity.INFO]


def test_history_out_of_order_or_after_now_is_refused() -> None:
    from intrathecal.units import InputError

    old = prog({"morphine": "10 mg/mL"}, "2 mg/day")
    late = (DoseRecord(MONDAY + DAY, {"morphine": 2000.0}),)
    with pytest.raises(InputError, match="after the time"):
        review(ReviewInput(old, old, history=late, now_s=MONDAY))
    shuffled = (DoseRecord(MONDAY, {}), DoseRecord(MONDAY - DAY, {}))
    with pytest.raises(InputError, match="oldest first"):
        review(ReviewInput(old, old, history=shuffled, now_s=MONDAY + DAY))


# --- 8. library corrections used by the review -------------------------------------------------


def test_refill_due_ziconotide_undiluted_84_days_diluted_40() -> None:
    from intrathecal.safety.refill_due import refill_due

    # 1.2 mcg/day at 25 mcg/mL is 0.048 mL/day: 20 mL lasts > 84 days, so stability limits.
    undiluted = refill_due(prog({"ziconotide": "25 mcg/mL"}, "1.2 mcg/day"), 20.0, MONDAY)
    assert undiluted.stability_until_s - MONDAY == 84 * DAY
    diluted = refill_due(prog({"ziconotide": "20 mcg/mL"}, "1.2 mcg/day"), 20.0, MONDAY)
    assert diluted.stability_until_s - MONDAY == 40 * DAY


def test_bridge_planned_cannot_relax_the_transient_on_a_pump_without_bridge_boluses() -> None:
    # Fixed-rate pump at 1 mL/day: 25 mg/mL (25 mg/day, capped by nothing here) -> 10 mg/mL.
    # Old solution at 1 mL/day is 25 mg/day for (0.2 + 0.19) / 1 x 24 = 9.4 h: above 20 hard.
    old = prog({"morphine": "25 mg/mL"}, "25 mg/day", "fixed-rate-20")
    new = prog({"morphine": "10 mg/mL"}, "10 mg/day", "fixed-rate-20")
    result = review(ReviewInput(new, old, bridge_planned=True))
    assert found(result, "BRIDGE_NOT_AVAILABLE") == [Severity.INFO]
    assert found(result, "TRANSIENT_DAILY_DOSE_ABOVE_HARD") == [Severity.HARD]
    assert "9.4 h" in message(result, "TRANSIENT_DAILY_DOSE_ABOVE_HARD")


def test_the_24h_ago_point_is_not_an_increase_event() -> None:
    # The clinic's single "dose 24 h ago" point is a dose in force, not a rise: no interval
    # finding for a ziconotide step of +0.4 mcg/day.
    old = prog({"ziconotide": "25 mcg/mL"}, "2.4 mcg/day")
    new = prog({"ziconotide": "25 mcg/mL"}, "2.8 mcg/day")
    result = review(ReviewInput(new, old, doses_24h_ago_mcg_per_day={"ziconotide": 2.4}))
    assert not [f for f in result.findings if "INTERVAL" in f.code]
