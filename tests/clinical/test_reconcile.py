"""Refill reconciliation: expected residual, discrepancy, and when to investigate."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intrathecal.clinical.reconcile import reconcile
from intrathecal.units import InputError
from tests.conftest import DAY, MONDAY, example

EXAMPLE = "morphine-bupivacaine.toml"
# 28 days at 0.2866667 mL/day = 8.026667 mL, + 10 logged demand boluses x 0.01 mL = 8.126667 mL
# delivered; expected residual 20 - 8.126667 = 11.873333 mL.
DELIVERED = 28 * (0.2 * 8 / 24 + 0.3 * 16 / 24 + 0.02) + 10 * 0.01
EXPECTED = 20 - DELIVERED


def test_expected_residual_hand_worked() -> None:
    result = reconcile(example(EXAMPLE), 20.0, MONDAY, 11.8, MONDAY + 28 * DAY, 10)
    assert result.delivered_ml == pytest.approx(8.126667, abs=1e-6)
    assert result.expected_ml == pytest.approx(11.873333, abs=1e-6)
    assert result.discrepancy_ml == pytest.approx(11.8 - 11.873333, abs=1e-6)
    assert not result.investigate


def test_reconciliation_pocket_fill_threshold_1_ml_on_a_20_ml_pump() -> None:
    # 10.5 mL back where 11.873 were expected: 1.373 mL short, over 1 mL (Maino 2017).
    program = example(EXAMPLE)
    result = reconcile(program, 20.0, MONDAY, 10.5, MONDAY + 28 * DAY, 10)
    assert result.investigate
    assert any("exceeds 1 mL" in r for r in result.reasons)
    assert any("pocket" in c for c in result.possible_causes)
    assert result.actions


def test_reconciliation_more_back_than_expected_suggests_under_infusion() -> None:
    result = reconcile(example(EXAMPLE), 20.0, MONDAY, 13.1, MONDAY + 28 * DAY, 10)
    assert result.investigate
    assert any("motor stall" in c or "under-infusion" in c for c in result.possible_causes)


def test_reconciliation_accuracy_threshold() -> None:
    # Accuracy x delivered is the stricter threshold when little was delivered: 2 days.
    program = example(EXAMPLE)
    accuracy = program.device.accuracy_fraction.value
    delivered = 2 * (0.2 * 8 / 24 + 0.3 * 16 / 24 + 0.02)  # 0.5733333 mL
    limit = accuracy * delivered
    expected = 20 - delivered
    inside = reconcile(program, 20.0, MONDAY, expected - limit * 0.9, MONDAY + 2 * DAY)
    outside = reconcile(program, 20.0, MONDAY, expected - limit * 1.1, MONDAY + 2 * DAY)
    assert not inside.investigate
    assert outside.investigate
    assert any("device accuracy" in r for r in outside.reasons)


@given(st.floats(0.0, 5.0), st.integers(1, 60))
def test_reconciliation_is_symmetric_in_over_and_under(offset: float, days: int) -> None:
    program = example(EXAMPLE)
    end = MONDAY + days * DAY
    expected = reconcile(program, 20.0, MONDAY, 0.0, end).expected_ml
    if expected - offset < 0 or expected + offset > 20:
        return
    under = reconcile(program, 20.0, MONDAY, expected - offset, end)
    over = reconcile(program, 20.0, MONDAY, expected + offset, end)
    assert under.investigate == over.investigate
    assert abs(under.discrepancy_ml) == pytest.approx(abs(over.discrepancy_ml), abs=1e-9)


@pytest.mark.parametrize(
    ("filled", "withdrawn", "end", "boluses", "field"),
    [
        (20.0, -1.0, MONDAY + DAY, 0, "withdrawn"),
        (20.0, 25.0, MONDAY + DAY, 0, "withdrawn"),  # more than the reservoir holds
        (25.0, 5.0, MONDAY + DAY, 0, "filled"),
        (20.0, 5.0, MONDAY - DAY, 0, "withdrawn-at"),  # times in the wrong order
        (20.0, 5.0, MONDAY + DAY, -2, "boluses"),
    ],
)
def test_bad_reconciliation_input(
    filled: float, withdrawn: float, end: float, boluses: int, field: str
) -> None:
    with pytest.raises(InputError) as caught:
        reconcile(example(EXAMPLE), filled, MONDAY, withdrawn, end, boluses)
    assert caught.value.field == field
