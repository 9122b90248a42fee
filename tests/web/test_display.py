"""What a person reads: quantities to sensible precision with units, times in the clinic zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from intrathecal.units import readable_number, readable_volume
from intrathecal.web import display


@pytest.mark.parametrize(
    ("ml", "text"),
    [
        (0.0661972, "0.07 mL"),  # issue 11's example: read to the hundredth a syringe shows
        (5.0074, "5.01 mL"),
        (20.0, "20 mL"),
        (0.004, "0.004 mL"),  # below a hundredth: one figure, never "0 mL"
        (0.0, "0 mL"),
        (1234.5, "1,234.5 mL"),
    ],
)
def test_volumes_read_to_the_hundredth_of_a_millilitre(ml: float, text: str) -> None:
    assert readable_volume(ml) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (562.5, "563"),  # three figures, half rounded up as people do (float formatting gives 562)
        (0.0661972, "0.0662"),
        (12500.0, "12,500"),  # never fewer figures than the whole part: not "12,500" -> "1.25e4"
        (1.5, "1.5"),  # trailing zeros go: not "1.50"
        (-2.25, "-2.25"),
    ],
)
def test_numbers_keep_three_significant_figures(value: float, text: str) -> None:
    assert readable_number(value) == text


def test_doses_are_shown_in_the_drugs_own_unit() -> None:
    # morphine is dosed in mg: 12,345 mcg/day = 12.345 mg/day -> three figures "12.3 mg/day"
    assert display.dose_of(12345.0, "morphine") == "12.3 mg/day"
    assert display.conc_of(25000.0, "morphine") == "25 mg/mL"


def test_times_are_shown_in_the_clinic_zone_with_the_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITP_CLINIC_TZ", "America/New_York")
    display.clinic_zone.cache_clear()
    try:
        # 30 Nov 2026 14:05 UTC is 09:05 in New York (EST, UTC-5, daylight saving over)
        moment = datetime(2026, 11, 30, 14, 5, 33, 123456, tzinfo=UTC)
        assert display.when(moment) == "30 Nov 2026 09:05 EST"
        assert display.when("2026-11-30T14:05:33.123456Z") == "30 Nov 2026 09:05 EST"
        assert display.when(datetime(2026, 11, 30, 14, 5)) == "30 Nov 2026 09:05 EST"  # naive=UTC
        # 02:00 UTC on 1 Dec is still 30 Nov in New York
        assert display.day(datetime(2026, 12, 1, 2, 0, tzinfo=UTC)) == "30 Nov 2026"
        assert display.day(date(2026, 12, 1)) == "01 Dec 2026"
    finally:
        display.clinic_zone.cache_clear()


def test_an_unknown_clinic_zone_is_refused_not_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITP_CLINIC_TZ", "Europe/Atlantis")
    display.clinic_zone.cache_clear()
    try:
        with pytest.raises(display.ZoneError, match="ITP_CLINIC_TZ"):
            display.clinic_zone()
    finally:
        display.clinic_zone.cache_clear()


def test_exact_quantities_in_text_are_shown_to_three_figures() -> None:
    # The finish screen's row from safety.comparison: 1 -> 1.09524 mg/day is +0.0952381 mg/day
    assert display.readable_text("1.09524 mg/day") == "1.1 mg/day"
    assert display.readable_text("+0.0952381 mg/day (+9.5%)") == "+0.0952 mg/day (+9.5%)"
    assert display.readable_text("0.113333 mL/day") == "0.113 mL/day"
    # times, serials and percentages are not quantities with a unit: left as written
    assert display.readable_text("basal from 08:00 (+13.3%) serial 12345.678") == (
        "basal from 08:00 (+13.3%) serial 12345.678"
    )
    rows = display.readable_rows([{"setting": "x 0.123456 mg", "old": "0.123456 mg", "new": ""}])
    assert rows == [{"setting": "x 0.123456 mg", "old": "0.123 mg", "new": ""}]
