"""The limits of a bolus between refills (clinical/bolus_limits.py), worked by hand, and the
rule that the clinic's review and the pump's own door agree for every bolus.

Program: morphine 10 mg/mL at 0.5 mL/day on a SynchroMed II 20 mL (bolus maximum 24 mL/day,
minimum rate 0.048 mL/day, pathway 0.26 mL), catheter 0.19 mL. Per-bolus limits of morphine
(drug library, project default, unverified): soft 0.5 mg, hard 1 mg.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intrathecal.clinical.bolus_limits import bolus_findings
from intrathecal.library import default_library
from intrathecal.pump import commands as c
from intrathecal.therapy.findings import Severity
from intrathecal.therapy.parse import parse_program
from tests.conftest import HOUR
from tests.pump.helpers import CONSTANT, Pump

PROGRAM = parse_program(CONSTANT, default_library())


def codes(kind: str, volume_ml: float, duration_s: float) -> list[tuple[str, str]]:
    found = bolus_findings(PROGRAM, kind, volume_ml, duration_s)
    return [(f.severity.value, f.code) for f in found]


def test_bolus_dose_limits_worked_by_hand() -> None:
    # 0.04 mL x 10 mg/mL = 0.4 mg: under the soft 0.5 mg.
    assert codes("clinician", 0.04, HOUR) == []
    # 0.06 mL = 0.6 mg: above soft 0.5 mg, under hard 1 mg.
    assert codes("clinician", 0.06, HOUR) == [("soft", "BOLUS_DOSE_ABOVE_SOFT")]
    # 0.12 mL = 1.2 mg: above the hard 1 mg.
    assert codes("clinician", 0.12, HOUR) == [("hard", "BOLUS_DOSE_ABOVE_HARD")]


def test_clinician_bolus_rate_on_top_of_the_basal_worked_by_hand() -> None:
    # 0.05 mL (0.5 mg, at the soft limit, not above) over 3 min = 0.05 x 480 = 24 mL/day;
    # + basal 0.5 = 24.5 > 24 mL/day (OPCA-26).
    assert codes("clinician", 0.05, 180) == [("hard", "BOLUS_RATE_ABOVE_DEVICE_MAX")]
    # Over 4 min: 0.05 x 360 = 18 mL/day; + 0.5 = 18.5 mL/day, within.
    assert codes("clinician", 0.05, 240) == []


def test_bridge_bolus_limits_worked_by_hand() -> None:
    # Dead space 0.26 + 0.19 = 0.45 mL.
    assert codes("bridge", 0.45, 12 * HOUR) == []
    assert codes("bridge", 0.46, 12 * HOUR) == [("hard", "BRIDGE_VOLUME_ABOVE_DEAD_SPACE")]
    # 0.45 mL over 30 days = 0.015 mL/day, below the device minimum 0.048 mL/day.
    assert codes("bridge", 0.45, 30 * 24 * HOUR) == [("hard", "BOLUS_RATE_BELOW_DEVICE_MIN")]


@pytest.mark.parametrize(("kind", "seconds"), [("clinician", 59), ("clinician", 25 * HOUR)])
def test_duration_out_of_range(kind: str, seconds: float) -> None:
    assert codes(kind, 0.04, seconds) == [("hard", "BOLUS_DURATION_OUT_OF_RANGE")]


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(["clinician", "bridge"]),
    volume_ml=st.floats(min_value=0.001, max_value=0.6),
    duration_s=st.floats(min_value=30, max_value=40 * 86_400),
)
def test_bolus_limits_agree_at_the_clinic_and_the_pump_door(
    kind: str, volume_ml: float, duration_s: float
) -> None:
    """For every bolus: the pump refuses it <=> the clinic's review has a hard finding."""
    hard = [
        f
        for f in bolus_findings(PROGRAM, kind, volume_ml, duration_s)
        if f.severity is Severity.HARD
    ]
    pump = Pump().start(CONSTANT)
    answer = pump.send(c.Bolus(kind, volume_ml, duration_s))
    assert answer["ok"] is not bool(hard), (answer, hard)
