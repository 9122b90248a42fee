"""The safety monitor is separate from delivery and can only stop or reduce it (OPCA-40)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intrathecal.library import default_library
from intrathecal.pump import commands as c
from intrathecal.pump.alarms import AlarmCode, is_critical
from intrathecal.pump.monitor import Proposal, review
from intrathecal.pump.state import BolusRun
from intrathecal.therapy.program import DemandBolus
from tests.conftest import HOUR, MONDAY
from tests.pump.helpers import DEMAND, Pump

DEVICE = default_library().device("synchromed-ii-20")
DEMAND_RULE = DemandBolus(volume_ml=0.05, duration_s=600, lockout_s=4 * 3600, max_per_24h=3)

boluses = st.lists(
    st.builds(
        BolusRun,
        kind=st.sampled_from(["demand", "clinician", "bridge", "priming"]),
        start_s=st.floats(MONDAY, MONDAY + 2 * 86_400),
        duration_s=st.floats(60, 86_400),
        volume_ml=st.floats(0.001, 30.0),
    ),
    max_size=5,
)


@given(
    boluses,
    st.lists(st.floats(MONDAY - 86_400, MONDAY + 2 * 86_400), max_size=6),
    st.floats(0, 40),
    st.booleans(),
    st.sets(st.sampled_from(list(AlarmCode))),
)
def test_monitor_never_adds_delivery(
    proposed: list[BolusRun],
    history: list[float],
    basal: float,
    stopped: bool,
    alarms: set[AlarmCode],
) -> None:
    critical = tuple(a for a in alarms if is_critical(a))
    verdict = review(
        Proposal(
            DEVICE, stopped, critical, basal, basal, tuple(proposed), DEMAND_RULE, tuple(history)
        )
    )
    assert all(any(b is p for p in proposed) for b in verdict.boluses)
    if stopped or critical:
        assert not verdict.deliver and verdict.boluses == ()
    if verdict.deliver:
        # Rates are piecewise constant: the highest total is at some bolus start (only boluses
        # that run at the same time add up, OPCA-64; the basal counts where none replaces it).
        for at in (b.start_s for b in verdict.boluses):
            running = [b for b in verdict.boluses if b.start_s <= at < b.end_s]
            base = 0.0 if any(b.replaces_basal for b in running) else basal
            total = base + sum(b.rate_ml_per_day for b in running)
            assert total <= DEVICE.max_bolus_rate_ml_per_day.value + 1e-9


def test_monitor_drops_a_demand_bolus_inside_the_lockout_opca_24() -> None:
    first = BolusRun("demand", MONDAY, 600, 0.05)
    second = BolusRun("demand", MONDAY + HOUR, 600, 0.05)
    verdict = review(
        Proposal(DEVICE, False, (), 0.5, 0.5, (first, second), DEMAND_RULE, (MONDAY, MONDAY + HOUR))
    )
    assert verdict.deliver and verdict.boluses == (first,)
    assert "lockout" in verdict.reasons[0]


def test_monitor_stops_a_basal_above_the_device_maximum() -> None:
    verdict = review(Proposal(DEVICE, False, (), 30.0, 30.0, (), None, ()))
    assert not verdict.deliver and "above the device maximum" in verdict.reasons[0]


def test_monitor_acts_on_a_corrupted_bolus_list_in_the_firmware() -> None:
    # A defect or corruption that slips a second demand bolus inside the lockout past the
    # command checks: the monitor drops it before any of it is delivered, and logs why.
    pump = Pump().start(DEMAND)
    pump.ok(c.DemandBolus())
    pump.at(MONDAY + HOUR)
    pump.fw.state.boluses.append(BolusRun("demand", MONDAY + HOUR, 600.0, 0.05))
    pump.fw.state.demand_history_s.append(MONDAY + HOUR)
    pump.fw._invalidate()
    pump.at(MONDAY + 2 * HOUR)
    assert pump.delivered == pytest.approx(0.05 + 0.5 * 2 / 24)
    assert any(e.kind == "monitor" and "lockout" in e.message for e in pump.fw.events)
