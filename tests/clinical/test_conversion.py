"""Conversions and compounding, hand-worked with the ratio in the test."""

from __future__ import annotations

import pytest

from intrathecal.clinical.compounding import recipe
from intrathecal.clinical.conversion import (
    Route,
    baclofen_trial_to_pump,
    intrathecal_opioid,
    opioid_trial_to_pump,
    route_equivalent,
)
from intrathecal.library import default_library
from intrathecal.therapy.findings import Severity
from intrathecal.units import InputError


def test_baclofen_trial_to_pump_label_rule() -> None:
    # 50 mcg screening bolus effective for 6 h: 2 x 50 = 100 mcg/day.
    assert baclofen_trial_to_pump(50.0, 6.0).value_mcg_per_day == 100.0
    # Effective for 10 h (> 8 h): 1 x 75 = 75 mcg/day.
    assert baclofen_trial_to_pump(75.0, 10.0).value_mcg_per_day == 75.0
    assert baclofen_trial_to_pump(75.0, 10.0).verified


def test_opioid_trial_rule_is_marked_unverified_and_adjustable() -> None:
    # 0.3 mg effective bolus x 50% (assumption) = 0.15 mg/day; x 40% = 0.12 mg/day.
    default = opioid_trial_to_pump(300.0)
    assert default.value_mcg_per_day == 150.0
    assert not default.verified
    assert any("UNVERIFIED" in r for r in default.reasons)
    assert opioid_trial_to_pump(300.0, 0.4).value_mcg_per_day == pytest.approx(120.0)


def test_route_equivalents_oral_300_iv_100_epidural_10_it_1() -> None:
    # Oral morphine 60 mg/day / 300 x 1 = 0.2 mg/day intrathecal.
    result = route_equivalent(60_000.0, Route.ORAL, Route.INTRATHECAL)
    assert result.value_mcg_per_day == pytest.approx(200.0)
    assert "oral 300" in result.rule
    # IV 10 mg = epidural 1 mg = IT 0.1 mg (verified chain).
    iv = route_equivalent(10_000.0, Route.IV, Route.INTRATHECAL)
    assert iv.value_mcg_per_day == pytest.approx(100.0) and iv.verified
    # The clinician may use the 90:1 oral:IT ratio instead: 60 mg / 90 = 0.6667 mg.
    custom = route_equivalent(60_000.0, Route.ORAL, Route.INTRATHECAL, {Route.ORAL: 90.0})
    assert custom.value_mcg_per_day == pytest.approx(666.667, abs=1e-3)
    assert not custom.verified


def test_intrathecal_morphine_to_hydromorphone() -> None:
    # IT morphine 6 mg/day ~ IT hydromorphone 1 mg/day.
    result = intrathecal_opioid(6000.0, "morphine", "hydromorphone")
    assert result.value_mcg_per_day == pytest.approx(1000.0)
    with pytest.raises(InputError, match="no sourced ratio"):
        intrathecal_opioid(100.0, "morphine", "fentanyl")


def test_compounding_recipe_hand_worked() -> None:
    # 20 mL of morphine 10 mg/mL + bupivacaine 5 mg/mL + 3 mL overage (23 mL in all):
    # morphine 10 x 23 / 25 = 9.2 mL of 25 mg/mL; bupivacaine 5 x 23 / 7.5 = 15.333 mL of
    # 7.5 mg/mL -> 24.53 mL: more than 23 mL, so refused (stronger stock needed).
    library = default_library()
    with pytest.raises(InputError, match="stronger stock"):
        recipe(
            library,
            {"morphine": 10_000.0, "bupivacaine": 5_000.0},
            {"morphine": 25_000.0, "bupivacaine": 7_500.0},
            20.0,
            3.0,
        )
    # Bupivacaine 2.5 mg/mL instead: 2.5 x 23 / 7.5 = 7.667 mL; diluent 23 - 9.2 - 7.667 =
    # 6.133 mL.
    result = recipe(
        library,
        {"morphine": 10_000.0, "bupivacaine": 2_500.0},
        {"morphine": 25_000.0, "bupivacaine": 7_500.0},
        20.0,
        3.0,
    )
    volumes = {c.drug: c.volume_ml for c in result.components}
    assert volumes["morphine"] == pytest.approx(9.2)
    assert volumes["bupivacaine"] == pytest.approx(7.6667, abs=1e-4)
    assert result.diluent_ml == pytest.approx(6.1333, abs=1e-4)
    assert result.total_ml == 23.0


def test_compounding_flags_incompatible_mixture() -> None:
    result = recipe(
        default_library(),
        {"baclofen": 500.0, "morphine": 1_000.0},
        {"baclofen": 2_000.0, "morphine": 25_000.0},
        20.0,
    )
    assert any(
        f.code == "INCOMPATIBLE_MIXTURE" and f.severity is Severity.HARD for f in result.findings
    )
