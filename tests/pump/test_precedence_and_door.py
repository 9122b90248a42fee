"""OPCA-64 (patient bolus before clinician bolus), [device_overrides] accepted and shown, and the
pump door: a program with a hard review finding is refused by the pump itself."""

from __future__ import annotations

import pytest

from intrathecal.library import default_library
from intrathecal.pump import commands as c
from intrathecal.safety.review import ReviewInput, review
from intrathecal.therapy.parse import parse_program
from tests.conftest import DAY, HOUR, MONDAY
from tests.pump.helpers import CONSTANT, DEMAND, Pump

MINUTE = 60.0


def test_opca_64_patient_bolus_suspends_and_resumes_the_clinician_bolus() -> None:
    # Basal 0.5 mL/day. At 1 h a clinician bolus of 0.08 mL over 60 min starts (0.8 mg of
    # morphine, under its 1 mg hard limit per bolus). At 1 h 30 min the patient presses:
    # demand 0.05 mL over 10 min. The clinician bolus has given 0.04 mL; its other 0.04 mL
    # resumes at 1 h 40 min and ends at 2 h 10 min.
    pump = Pump().start(DEMAND)
    pump.at(MONDAY + HOUR).ok(c.Bolus("clinician", 0.08, 60 * MINUTE))
    accepted = pump.at(MONDAY + HOUR + 30 * MINUTE).ok(c.DemandBolus())
    assert accepted["accepted"] is True  # before OPCA-64 the press was refused
    suspended = [e for e in pump.fw.events if e.kind == "bolus_suspended"][-1]
    assert suspended.data["delivered_ml"] == pytest.approx(0.04)
    assert suspended.data["remaining_ml"] == pytest.approx(0.04)
    assert suspended.data["resumes_at_s"] == MONDAY + HOUR + 40 * MINUTE
    # While the patient's bolus runs only basal + demand flow: 0.5 + 0.05 x 144 = 7.7 mL/day.
    status = pump.at(MONDAY + HOUR + 35 * MINUTE).fw.interrogate()
    assert status["delivery"]["rate_ml_per_day"] == pytest.approx(0.5 + 0.05 * 144)
    pump.at(MONDAY + 3 * HOUR)
    kinds = [e.kind for e in pump.fw.events]
    assert kinds.index("bolus_resumed") > kinds.index("bolus_suspended")
    # By 3 h: basal 0.5 x 3/24 = 0.0625 mL + clinician 0.08 + demand 0.05 = 0.1925 mL.
    assert pump.delivered == pytest.approx(0.1925)
    # At 2 h (resumed 20 min of 30): basal 0.5 x 2/24 = 0.041667 + clinician 0.04 + 0.04 x
    # 20/30 = 0.026667 + demand 0.05 = 0.158333 mL.
    again = Pump().start(DEMAND)
    again.at(MONDAY + HOUR).ok(c.Bolus("clinician", 0.08, 60 * MINUTE))
    again.at(MONDAY + HOUR + 30 * MINUTE).ok(c.DemandBolus())
    again.at(MONDAY + 2 * HOUR)
    assert again.delivered == pytest.approx(0.5 * 2 / 24 + 0.04 + 0.04 * 20 / 30 + 0.05)


def test_a_program_with_device_overrides_is_accepted_recorded_and_shown() -> None:
    text = (
        CONSTANT + '\n[device_overrides]\npathway_volume = { value = "0.3 mL", '
        'source = "clinic copy of the implant manual" }\n'
    )
    pump = Pump()
    pump.ok(c.Refill(20.0, (c.Drug("morphine", 10_000.0),)))
    staged = pump.ok(c.StageProgram(text))
    assert staged["device_overrides"] == ["pathway_volume"]
    pump.ok(c.ActivateProgram(str(staged["checksum"])))
    status = pump.fw.interrogate()
    assert status["program"]["device_overrides"] == ["pathway_volume"]
    activated = [e for e in pump.fw.events if e.kind == "program_activated"][-1]
    assert activated.data["device_overrides"] == ["pathway_volume"]
    assert "pathway_volume" in activated.message


# 0.5 -> 2.0 mL/day of morphine 10 mg/mL: 5 -> 20 mg/day, a fourfold step.
FOURFOLD = CONSTANT.replace('rate = "0.5 mL/day"', 'rate = "2.0 mL/day"')


def test_pump_door_refuses_what_the_clinic_review_calls_hard() -> None:
    library = default_library()
    clinic = review(
        ReviewInput(
            new=parse_program(FOURFOLD, library),
            old=parse_program(CONSTANT, library),
            now_s=MONDAY + DAY,
        )
    )
    assert clinic.hard, "the example must carry a hard finding in the clinic's review"
    pump = Pump().start(CONSTANT)
    text = pump.at(MONDAY + DAY).refused(c.StageProgram(FOURFOLD))
    for finding in clinic.hard:
        assert finding.code in text
    assert pump.fw.state.staged_checksum is None


def test_soft_findings_are_reported_not_refused() -> None:
    pump = Pump()
    pump.ok(c.Refill(20.0, (c.Drug("morphine", 10_000.0),)))
    staged = pump.ok(c.StageProgram(CONSTANT))  # 5 mg/day, above the naive starting range
    codes = {f["code"] for f in staged["findings"]}  # type: ignore[union-attr]
    assert "STARTING_DOSE_ABOVE_RANGE" in codes


ZICONOTIDE = """
device = "synchromed-ii-20"
catheter_volume = "0.19 mL"
low_reservoir_alarm = "2 mL"

[[drugs]]
name = "ziconotide"
concentration = "25 mcg/mL"

[[basal]]
start = "00:00"
rate = "0.144 mL/day"
"""


def test_a_starting_dose_finding_refuses_only_on_a_pump_that_ran_a_program() -> None:
    # 0.144 mL/day x 25 mcg/mL = 3.6 mcg/day of ziconotide, above its labelled starting
    # maximum 2.4 mcg/day. A new pump may be a replacement continuing a titrated dose: the
    # finding is reported. A pump that ran morphine and now starts ziconotide: refused.
    fresh = Pump()
    fresh.ok(c.Refill(20.0, (c.Drug("ziconotide", 25.0),)))
    staged = fresh.ok(c.StageProgram(ZICONOTIDE))
    codes = {f["code"] for f in staged["findings"]}  # type: ignore[union-attr]
    assert "STARTING_DOSE_ABOVE_LABELLED_MAX" in codes
    used = Pump().start(CONSTANT).at(MONDAY + DAY)
    assert "STARTING_DOSE_ABOVE_LABELLED_MAX" in used.refused(c.StageProgram(ZICONOTIDE))
