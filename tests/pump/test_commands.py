"""Each command against hand-worked numbers; refusals change nothing and say why."""

from __future__ import annotations

import pytest

from intrathecal.library import default_library
from intrathecal.pump import commands as c
from intrathecal.pump.firmware import Firmware
from intrathecal.pump.state import state_from_json, state_to_json
from tests.conftest import DAY, HOUR, MONDAY
from tests.pump.helpers import CONSTANT, DEMAND, MORPHINE, TWO_STEPS, Pump

HYDROMORPHONE = CONSTANT.replace('name = "morphine"', 'name = "hydromorphone"').replace(
    "10 mg/mL", "2 mg/mL"
)


def therapy(pump: Pump) -> dict[str, object]:
    """The state without the event log counters and the reply cache (what a refusal keeps)."""
    state = state_to_json(pump.fw.state)
    for key in ("event_count", "replies", "reply_digests"):
        state.pop(key)
    return state


# -- program: stage, read back, activate --------------------------------------------------------


def test_program_activation_needs_the_read_back_checksum() -> None:
    pump = Pump()
    pump.ok(c.Refill(20.0, (MORPHINE,)))
    assert "no program is staged" in pump.refused(c.ActivateProgram("a" * 64))
    checksum = str(pump.ok(c.StageProgram(CONSTANT))["checksum"])
    before = therapy(pump)
    assert "does not match the staged program" in pump.refused(c.ActivateProgram("b" * 64))
    assert therapy(pump) == before
    pump.ok(c.ActivateProgram(checksum))
    assert pump.fw.state.program_checksum == checksum
    assert pump.fw.events[-1].kind == "delivery_started"


def test_firmware_revalidates_the_program_and_names_the_field() -> None:
    pump = Pump()
    pump.ok(c.Refill(20.0, (MORPHINE,)))
    before = therapy(pump)
    too_slow = CONSTANT.replace('rate = "0.5 mL/day"', 'rate = "0.01 mL/day"')
    assert "basal[0]" in pump.refused(c.StageProgram(too_slow))
    assert "this pump is synchromed-ii-20" in pump.refused(
        c.StageProgram(CONSTANT.replace("synchromed-ii-20", "synchromed-ii-40"))
    )
    assert "not valid TOML" in pump.refused(c.StageProgram("device = "))
    assert therapy(pump) == before
    refusals = [e for e in pump.fw.events if e.kind == "refused"]
    assert len(refusals) == 3 and all(e.data["type"] == "stage_program" for e in refusals)


def test_program_for_another_drug_than_the_reservoir_is_refused() -> None:
    pump = Pump()
    pump.ok(c.Refill(20.0, (MORPHINE,)))
    checksum = str(pump.ok(c.StageProgram(HYDROMORPHONE))["checksum"])
    assert "reservoir holds morphine" in pump.refused(c.ActivateProgram(checksum))


def test_program_before_any_fill_is_refused() -> None:
    pump = Pump()
    checksum = str(pump.ok(c.StageProgram(CONSTANT))["checksum"])
    assert "refill first" in pump.refused(c.ActivateProgram(checksum))


# -- refill ------------------------------------------------------------------------------------


def test_refill_reconciles_and_resets_the_count() -> None:
    # 10 days at 0.5 mL/day: 5 mL delivered, 15 mL expected. 13.8 mL withdrawn: -1.2 mL,
    # beyond 1 mL on a 20 mL pump (Maino 2017) -> investigate; accuracy 14.5% x 5 = 0.725 mL.
    pump = Pump().start(CONSTANT)
    pump.at(MONDAY + 10 * DAY)
    result = pump.ok(c.Refill(18.0, withdrawn_ml=13.8))
    rec = result["reconciliation"]
    assert isinstance(rec, dict)
    assert rec["expected_ml"] == pytest.approx(15.0)
    assert rec["discrepancy_ml"] == pytest.approx(-1.2)
    assert rec["accuracy_threshold_ml"] == pytest.approx(0.725)
    assert rec["investigate"] is True
    state = pump.fw.state
    assert (state.filled_ml, state.remaining_ml, state.delivered_since_fill_ml) == (18.0, 18.0, 0.0)
    assert state.delivered_total_ml == pytest.approx(5.0)  # the lifetime total is kept


def test_refill_within_limits_is_not_flagged() -> None:
    pump = Pump().start(CONSTANT)
    pump.at(MONDAY + 10 * DAY)
    rec = pump.ok(c.Refill(18.0, withdrawn_ml=14.6))["reconciliation"]
    assert isinstance(rec, dict) and rec["investigate"] is False  # 0.4 mL < 0.725 and < 1 mL


def test_new_drug_at_refill_needs_its_program() -> None:
    pump = Pump().start(CONSTANT)
    hydromorphone = (c.Drug("hydromorphone", 2_000.0),)
    before = therapy(pump)
    assert "the program is for morphine" in pump.refused(c.Refill(20.0, hydromorphone))
    assert "unknown drug" in pump.refused(c.Refill(20.0, (c.Drug("aspirin", 1.0),)))
    assert "more than the reservoir holds" in pump.refused(c.Refill(25.0))
    assert therapy(pump) == before
    checksum = str(pump.ok(c.StageProgram(HYDROMORPHONE))["checksum"])
    result = pump.ok(c.Refill(20.0, hydromorphone, program_checksum=checksum))
    assert result["program_checksum"] == checksum
    assert pump.fw.state.drugs[0].name == "hydromorphone"


# -- boluses -----------------------------------------------------------------------------------


def test_clinician_bolus_adds_to_the_basal() -> None:
    # 0.1 mL over 1 h on 0.5 mL/day: after 1 h, 0.5/24 + 0.1 = 0.1208333 mL.
    pump = Pump().start(CONSTANT)
    pump.ok(c.Bolus("clinician", 0.1, HOUR))
    pump.at(MONDAY + HOUR)
    assert pump.delivered == pytest.approx(0.5 / 24 + 0.1)
    assert [e.kind for e in pump.fw.events][-1] == "bolus_ended"


def test_clinician_bolus_over_the_hard_limit_is_refused() -> None:
    # 0.12 mL x 10 mg/mL = 1.2 mg > morphine's hard limit per bolus, 1 mg.
    pump = Pump().start(CONSTANT)
    assert "hard limit per bolus" in pump.refused(c.Bolus("clinician", 0.12, HOUR))
    assert pump.fw.state.boluses == []
    pump.ok(c.Bolus("clinician", 0.1, HOUR))
    assert "is running until" in pump.refused(c.Bolus("clinician", 0.01, HOUR))


@pytest.mark.parametrize("kind", ["bridge", "priming"])
def test_bridge_and_priming_replace_the_basal_then_the_program_runs(kind: str) -> None:
    # Pathway 0.26 mL (library) + catheter 0.19 mL = 0.45 mL, pushed over 12 h (0.9 mL/day)
    # instead of the basal: 0.45 mL after 12 h, then 0.5 mL/day: 0.45 + 0.25 after 24 h.
    pump = Pump().start(CONSTANT)
    assert "pathway and catheter volume" in pump.refused(c.Bolus(kind, 0.5, 12 * HOUR))
    pump.ok(c.Bolus(kind, 0.45, 12 * HOUR))
    pump.at(MONDAY + 12 * HOUR)
    assert pump.delivered == pytest.approx(0.45)
    pump.at(MONDAY + DAY)
    assert pump.delivered == pytest.approx(0.70)


def test_bridge_at_the_new_dose_may_take_days_but_not_below_the_device_minimum() -> None:
    # itp bridge's example: 0.45 mL at 0.3 mL/day takes 1.5 days = 36 h, longer than a
    # clinician bolus may run; delivered after 36 h: exactly the 0.45 mL, then the program.
    pump = Pump().start(CONSTANT)
    pump.ok(c.Bolus("bridge", 0.45, 36 * HOUR))
    pump.at(MONDAY + 36 * HOUR)
    assert pump.delivered == pytest.approx(0.45)
    # 0.45 mL over 10 days is 0.045 mL/day, below the SynchroMed II minimum of 0.048 mL/day.
    slow = Pump().start(CONSTANT)
    assert "below the device minimum" in slow.refused(c.Bolus("bridge", 0.45, 10 * DAY))
    # A clinician bolus still runs at most 24 h.
    assert "24 h" in slow.refused(c.Bolus("clinician", 0.01, 36 * HOUR))


def test_demand_bolus_lockout_and_rolling_maximum_ocpa_24_opca_61() -> None:
    # Lockout 4 h start to start, 3 per rolling 24 h. Presses at 00:00 (ok), 02:00 (lockout),
    # 04:00, 08:00 (ok), 12:00 (4th in 24 h: refused), next day 00:00 (ok: the 00:00 one left
    # the window).
    pump = Pump().start(DEMAND)
    outcomes = []
    for t in (0, 2, 4, 8, 12, 24):
        pump.at(MONDAY + t * HOUR)
        outcomes.append(pump.send(c.DemandBolus())["ok"])
    assert outcomes == [True, False, True, True, False, True]
    reasons = [e.message for e in pump.fw.events if e.kind == "refused"]
    assert "lockout" in reasons[0] and "next allowed at 2026-01-05T04:00:00Z" in reasons[0]
    assert "maximum 3 per rolling 24 h" in reasons[1]


def test_demand_window_survives_stop_resume_and_restart() -> None:
    pump = Pump().start(DEMAND)
    for t in (0, 4, 8):
        pump.at(MONDAY + t * HOUR)
        pump.ok(c.DemandBolus())
    pump.at(MONDAY + 12 * HOUR)
    pump.ok(c.Stop())
    pump.ok(c.Resume())
    assert "maximum 3" in pump.refused(c.DemandBolus())
    # A restart: the state through its stored form.
    stored = state_to_json(pump.fw.state)
    pump.fw = Firmware(state_from_json(stored), default_library(), pump.fw.events)
    assert "maximum 3" in pump.refused(c.DemandBolus())


def test_retry_with_the_same_request_id_is_not_applied_twice() -> None:
    pump = Pump().start(DEMAND)
    first = pump.send(c.DemandBolus(), "press-1")
    pump.at(MONDAY + 5 * HOUR)  # outside the lockout: a new press would be accepted
    again = pump.send(c.DemandBolus(), "press-1")
    assert first["ok"] and again["ok"] and again["replayed"] is True
    assert pump.fw.state.demand_history_s == [MONDAY]


# -- stop, resume, clock -----------------------------------------------------------------------


def test_stop_and_resume() -> None:
    pump = Pump().start(CONSTANT)
    pump.at(MONDAY + DAY)
    pump.ok(c.Stop())
    assert "already stopped" in pump.refused(c.Stop())
    pump.at(MONDAY + 2 * DAY)
    assert pump.delivered == pytest.approx(0.5)
    pump.ok(c.Resume())
    assert "not stopped" in pump.refused(c.Resume())
    pump.at(MONDAY + 3 * DAY)
    assert pump.delivered == pytest.approx(1.0)
    kinds = [e.kind for e in pump.fw.events]
    assert kinds.count("delivery_stopped") == 1 and kinds.count("delivery_started") == 2


def test_set_clock_moves_the_basal_schedule_and_logs_the_shift() -> None:
    # 0.2 mL/day from 00:00, 0.8 from 12:00. Clock set 6 h ahead at Monday 00:00: the next 12 h
    # of real time are pump 06:00-18:00: 6 h at 0.2 + 6 h at 0.8 = 0.05 + 0.2 = 0.25 mL
    # (without the shift: 12 h at 0.2 = 0.1 mL).
    pump = Pump().start(TWO_STEPS)
    result = pump.ok(c.SetClock(MONDAY + 6 * HOUR))
    assert result["shift_s"] == 6 * 3600
    pump.at(MONDAY + 12 * HOUR)
    assert pump.delivered == pytest.approx(0.25)
    assert any(e.kind == "clock_set" and e.data["shift_s"] == 21600 for e in pump.fw.events)


def test_setting_the_clock_back_does_not_shorten_the_lockout() -> None:
    pump = Pump().start(DEMAND)
    pump.ok(c.DemandBolus())
    pump.at(MONDAY + HOUR)
    pump.ok(c.SetClock(MONDAY - 10 * HOUR))
    assert "lockout" in pump.refused(c.DemandBolus())


def test_interrogate_reports_state_and_log_since() -> None:
    pump = Pump().start(DEMAND)
    pump.at(MONDAY + DAY)
    result = pump.ok(c.Interrogate(since=0))
    reservoir = result["reservoir"]
    assert isinstance(reservoir, dict)
    assert reservoir["remaining_ml"] == pytest.approx(19.5)
    assert reservoir["doses_since_fill_mcg"] == {"morphine": pytest.approx(5000.0)}
    last = int(str(result["last_event_seq"]))
    assert pump.ok(c.Interrogate(since=last))["events"] == []
    predictions = result["predictions"]
    assert isinstance(predictions, dict)
    assert predictions["low_reservoir_alarm_at_s"] == pytest.approx(MONDAY + 36 * DAY)
