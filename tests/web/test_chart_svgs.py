"""The chart page's SVGs (issue 11, items 9 and 10): the reservoir chart shows the cycle in
progress, and both charts are drawn in about a millisecond (matplotlib took 75-300 ms)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from intrathecal.charts.clinic import doses_svg, reservoir_svg
from intrathecal.store.models import Patient
from tests.web.conftest import Clinic, page_sign_in
from tests.web.test_api import implanted_id

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_the_reservoir_chart_draws_the_current_cycle_to_the_alarm() -> None:
    # Filled to 20 mL on day 0, alarm 2 mL predicted on day 40, now day 10: expected now
    # 20 - (20 - 2) x 10/40 = 15.5 mL; solid to now, dashed (projected) on to the alarm.
    now, alarm_at = T0 + timedelta(days=10), T0 + timedelta(days=40)
    svg = reservoir_svg([(T0, 20.0)], [], [], 2.0, [(T0, 20.0), (now, 15.5), (alarm_at, 2.0)])
    text = svg.decode()
    assert text.count("<polyline") == 2 and "projected" in text
    assert 'stroke-dasharray="4 3"/>' in text  # the projection is dashed
    assert "low-reservoir alarm 2 mL" in text


def test_the_charts_page_route_shows_the_cycle_in_progress(clinic: Clinic) -> None:
    client = TestClient(clinic.client.app)
    page_sign_in(client, "nurse")
    pid = implanted_id(clinic)
    with clinic.sessions() as session:
        patient = session.get(Patient, pid)
        assert patient is not None and patient.low_alarm_at is not None
    svg = client.get(f"/patients/{pid}/reservoir.svg")
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert "projected" in svg.text or "<polyline" in svg.text


def test_charts_take_milliseconds_and_escape_their_text() -> None:
    fills = [(T0 + timedelta(days=30 * i), 20.0) for i in range(100)]
    expected = [(t, 5.0) for t, _ in fills[1:]]
    start = time.perf_counter()
    for _ in range(10):
        reservoir_svg(fills, expected, expected, 2.0)
        doses_svg({"<b>&": [(T0, 5000.0)]}, T0 + timedelta(days=3000), {"<b>&": "mg"})
    assert (time.perf_counter() - start) / 10 < 0.05  # was 75-300 ms a chart
    assert b"&lt;b&gt;&amp;" in doses_svg({"<b>&": [(T0, 1.0)]}, T0 + timedelta(days=1))


def test_the_live_panel_says_why_its_alarm_date_differs_from_the_refill_record() -> None:
    """One truth (issue 11, item 9): during a bridge bolus the pump predicts its alarm from
    what it delivers now; the refill record from the program with every demand bolus taken.
    The panel says which is which rather than show two unexplained dates."""
    from intrathecal.web.pages import templates
    from intrathecal.web.pump_link import Interrogation

    state = Interrogation(
        serial="SN-1",
        reservoir_ml=15.0,
        delivering=True,
        rate_ml_per_day=2.0,
        low_alarm_at_s=T0.timestamp(),
    )
    html = templates.get_template("_pump_state.html").render(p=state, pump_checks=[])
    assert "low-reservoir alarm predicted" in html
    assert "bridge or clinician bolus in progress included" in html
    assert "every allowed demand bolus taken" in html
