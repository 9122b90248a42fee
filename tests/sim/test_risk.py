"""Risk of running dry: analytic checks (issue 14, "How it must be shown")."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from intrathecal.clinical.refill import plan
from intrathecal.engine.demand import decide_presses
from intrathecal.sim import risk
from intrathecal.sim.cases import risk_case
from intrathecal.sim.lateness import ON_TIME, Lateness
from intrathecal.sim.risk import RiskSettings, simulate, simulate_case
from tests.conftest import DAY, EXAMPLES, MONDAY, example, program_from

STEPPED = """
device = "synchromed-ii-40"
catheter_volume = "0.19 mL"
low_reservoir_alarm = "3 mL"
[[drugs]]
name = "morphine"
concentration = "10 mg/mL"
[[basal]]
start = "00:00"
dose = "2 mg/day"
[[basal]]
start = "08:00"
dose = "4 mg/day"
"""


def exact_case(program_text: str | None, fill_ml: float):  # type: ignore[no-untyped-def]
    program = program_from(program_text) if program_text else example("morphine-20.toml")
    case = risk_case(program, fill_ml, MONDAY)
    return program, risk.RiskCase(**{**case.__dict__, "accuracy": 0.0})


@settings(max_examples=40)
@given(
    which=st.sampled_from([None, STEPPED]),
    fill_ml=st.floats(3.5, 20.0),
    late_hours=st.integers(-240, 720),
    margin_days=st.integers(0, 10),
)
def test_no_variation_risk_is_exactly_zero_or_one_as_refill_plan_says(
    which: str | None, fill_ml: float, late_hours: int, margin_days: int
) -> None:
    program, case = exact_case(which, fill_ml)
    due = plan(program, fill_ml, MONDAY)
    visit = max(MONDAY, due.refill_due_at_s - margin_days * DAY) + late_hours * 3600.0
    visit = max(visit, MONDAY)
    assume(abs(visit - due.low_reservoir_alarm_at_s) > 60)  # not on the alarm's very second
    lateness = Lateness((late_hours / 24,), (1.0,), "fixed")
    alarm, _ = simulate_case(case, 0, RiskSettings(50, 7, (float(margin_days),), lateness))
    expected = 50 if due.low_reservoir_alarm_at_s < visit else 0
    assert alarm.tolist() == [expected]


def test_no_presses_never_alarm_when_the_worst_case_plan_says_the_visit_comes_first() -> None:
    # The plan counts every allowed demand bolus; without presses the pump lasts longer.
    program = example("morphine-bupivacaine.toml")
    case = risk.RiskCase(**{**risk_case(program, 20.0, MONDAY).__dict__, "accuracy": 0.0})
    alarm, empty = simulate_case(case, 0, RiskSettings(20, 1, (0.0, 5.0), ON_TIME))
    assert alarm.tolist() == [0, 0] and empty.tolist() == [0, 0]


def test_uniform_delivery_error_matches_the_closed_form_within_its_interval() -> None:
    # morphine-20: 3 mg/day / 20 mg/mL = 0.15 mL/day, fill 20 mL, alarm 2 mL -> usable 18 mL.
    # Visit d = 18 / (0.15 x 1.05) = 114.2857 days after the fill: the alarm comes first when
    # (1 + e) x 0.15 x d >= 18, i.e. e >= 0.05; e uniform in [-0.145, 0.145] (SynchroMed II),
    # so P = (0.145 - 0.05) / 0.29 = 0.32759.
    program = example("morphine-20.toml")
    days = 18 / (0.15 * 1.05)
    case = risk.RiskCase(
        **{**risk_case(program, 20.0, MONDAY).__dict__, "limit_at_s": MONDAY + days * DAY}
    )
    p = risk.uniform_error_alarm_probability(0.15, 18.0, days, 0.145)
    assert abs(p - 0.095 / 0.29) < 1e-12
    n = 20_000
    alarm, _ = simulate_case(case, 0, RiskSettings(n, 2026, (0.0,), ON_TIME))
    low, high = risk.wilson(int(alarm[0]), n, z=3.29)  # 99.9 %
    assert low <= p <= high


def test_demand_presses_are_decided_as_the_pump_decides_them() -> None:
    program = example("morphine-bupivacaine.toml")
    demand = program.demand
    assert demand is not None
    case = risk_case(program, 20.0, MONDAY, presses_per_day=6.0)
    presses = risk.press_times(case, 11, 0, 30, 60)
    starts = risk.accepted_starts(demand, presses)
    for row in range(30):
        decisions = decide_presses(demand, presses[row].tolist())
        expected = [d.at_s if d.accepted else np.inf for d in decisions]
        assert starts[row].tolist() == expected
    assert np.isfinite(starts).sum() < presses.size  # some were refused


def test_presses_bring_the_alarm_earlier() -> None:
    program = example("morphine-bupivacaine.toml")
    calm = risk_case(program, 20.0, MONDAY, presses_per_day=0.0)
    busy = risk_case(program, 20.0, MONDAY, presses_per_day=4.0)
    lateness = Lateness((14.0,), (1.0,), "two weeks late")
    config = RiskSettings(400, 3, (0.0,), lateness)
    assert simulate_case(busy, 0, config)[0][0] > simulate_case(calm, 0, config)[0][0]


def test_a_patient_s_answer_does_not_depend_on_its_chunk() -> None:
    program = example("morphine-bupivacaine.toml")
    cases = [risk_case(program, f, MONDAY, presses_per_day=2.0) for f in (12.0, 16.0, 20.0)]
    config = RiskSettings(300, 5, (0.0, 3.0, 7.0), Lateness((0, 10, 20), (1, 1, 1), "test"))
    whole = simulate(cases, 0, config)
    parts = [simulate(cases[:1], 0, config), simulate(cases[1:], 1, config)]
    assert np.array_equal(whole.alarm, np.vstack([p.alarm for p in parts]))
    assert np.array_equal(whole.empty, np.vstack([p.empty for p in parts]))


def test_a_rate_raised_after_the_fill_is_the_rate_the_risk_counts() -> None:
    # 20 mg/mL at 3 mg/day = 0.15 mL/day: 20 mL lasts past the 90-day stability limit (13.5 mL
    # by day 90, 15.5 mL if 14.5 % fast: no alarm). Raised to 6 mg/day on day 30: 0.15 x 30 +
    # 0.3 x 60 = 22.5 mL by day 90, 19.2 mL if 14.5 % slow: above 18 mL, the alarm every time.
    low = example("morphine-20.toml")
    high = program_from((EXAMPLES / "morphine-20.toml").read_text().replace("3 mg", "6 mg"))
    visit = MONDAY + 90 * DAY
    config = RiskSettings(200, 4, (0.0,), ON_TIME)
    kept = risk_case(low, 20.0, MONDAY, limit_at_s=visit)
    raised = risk_case(
        low, 20.0, MONDAY, limit_at_s=visit, now_running=high, switched_at_s=MONDAY + 30 * DAY
    )
    assert simulate_case(kept, 0, config)[0].tolist() == [0]
    assert simulate_case(raised, 0, config)[0].tolist() == [200]
