"""Library corrections and new tables of issue 9 (values read in sources: library-audit.md)."""

from __future__ import annotations

import pytest

from intrathecal.library import default_library
from intrathecal.library.load import library_texts
from intrathecal.library.parse import parse_library
from intrathecal.library.records import BolusMode, Strictness
from intrathecal.units import InputError


def test_baclofen_daily_dose_limits_follow_the_label_summary() -> None:
    daily = default_library().drug("baclofen").daily_dose_mcg_per_day
    assert daily.hard_max is not None and daily.soft_max is not None
    # "usual range 300-800 mcg/day (not to exceed 1000 mcg/day)"
    assert (daily.soft_max.value, daily.hard_max.value) == (800.0, 1000.0)
    assert daily.hard_max.verified and "not to exceed 1000" in daily.hard_max.note


def test_morphine_starting_ranges_by_opioid_status() -> None:
    morphine = default_library().drug("morphine")
    naive, tolerant = morphine.starting_range(None), morphine.starting_range(True)
    assert naive.low is not None and naive.high is not None
    assert tolerant.low is not None and tolerant.high is not None
    # Infumorph: "Opioid-naive: 0.2-1mg/day; opioid-tolerant: 1-10mg/day" (in mcg/day).
    assert (naive.low.value, naive.high.value) == (200.0, 1000.0)
    assert (tolerant.low.value, tolerant.high.value) == (1000.0, 10_000.0)
    assert morphine.starting_range(False) == naive
    assert morphine.starting_daily_dose_hard_max_mcg_per_day is None  # guidance, not a ceiling


def test_ziconotide_titration_is_step_and_interval_not_per_day() -> None:
    ziconotide = default_library().drug("ziconotide")
    change = ziconotide.change
    assert change.per_day_hard is None  # the wrong 24 h model is gone
    assert change.per_step_hard is not None
    assert change.per_step_hard.value.absolute_mcg_per_day == 2.4
    hard, soft = change.min_increase_interval_hard_s, change.min_increase_interval_soft_s
    assert hard is not None and soft is not None
    assert (hard.value, soft.value) == (24 * 3600.0, 56 * 3600.0)
    assert hard.verified and soft.verified
    start = ziconotide.starting_daily_dose_hard_max_mcg_per_day
    assert start is not None and start.value == 2.4 and start.verified


def test_ziconotide_stability_by_dilution() -> None:
    ziconotide = default_library().drug("ziconotide")
    # 84 days only at the undiluted 25 mcg/mL vial; diluted (weaker or stronger) 40 days.
    assert ziconotide.stability_at(25.0).value == 84.0
    assert ziconotide.stability_at(10.0).value == 40.0
    assert ziconotide.stability_at(50.0).value == 40.0


def test_restrictions_prometra_baclofen_and_ziconotide_devices() -> None:
    library = default_library()
    for key in ("prometra-ii-20", "prometra-ii-40"):
        (restriction,) = library.device(key).restrictions
        assert restriction.drug == "baclofen"
        assert restriction.bolus_modes == {BolusMode.DEMAND}
        assert restriction.strictness is Strictness.HARD and restriction.rule.verified
    labelled = library.drug("ziconotide").labelled_devices
    assert labelled is not None
    assert set(labelled.devices.value) == {"synchromed-ii-20", "synchromed-ii-40"}


def test_it_morphine_equivalents_live_in_the_library() -> None:
    library = default_library()
    hydromorphone = library.drug("hydromorphone").it_morphine_equivalent
    assert hydromorphone is not None and hydromorphone.value == 6.0
    assert not hydromorphone.verified  # one chapter, partly verified
    assert library.drug("fentanyl").it_morphine_equivalent is None


def test_restriction_naming_an_unknown_drug_is_refused() -> None:
    drugs, devices = library_texts()
    broken = devices.replace('drug = "baclofen"', 'drug = "baclofene"', 1)
    with pytest.raises(InputError, match="unknown drug 'baclofene'"):
        parse_library(drugs, broken)


def test_labelled_device_unknown_is_refused() -> None:
    drugs, devices = library_texts()
    broken = drugs.replace('value = ["synchromed-ii-20",', 'value = ["synchromed-iii",', 1)
    with pytest.raises(InputError, match="unknown device 'synchromed-iii'"):
        parse_library(broken, devices)


def test_change_without_a_24h_model_is_refused() -> None:
    drugs, devices = library_texts()
    broken = drugs.replace(
        'min_increase_interval_hard = { value = "24 h"',
        'min_increase_interval_hard = { value = "12 h"',
        1,
    )
    with pytest.raises(InputError, match="min_increase_interval_hard >= 24 h"):
        parse_library(broken, devices)


def test_soft_change_limit_looser_than_hard_is_refused() -> None:
    drugs, devices = library_texts()
    broken = drugs.replace('per_week_soft = { value = "50%"', 'per_week_soft = { value = "150%"', 1)
    with pytest.raises(InputError, match="looser than the hard limit"):
        parse_library(broken, devices)
