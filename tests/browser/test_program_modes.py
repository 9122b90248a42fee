"""The program editor on a Prometra II: the mode selector lists the pump's own modes; periodic
flow shows doses at set times and no basal; the clinician writes and signs a periodic-flow
program with the totals and live review as for any program (issue 16 item 6)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import select

from intrathecal.library.records import DeliveryMode
from intrathecal.store import programs
from intrathecal.store.models import ProgramVersion
from tests.browser.conftest import LiveClinic, screenshot, sign_in
from tests.web.mode_patients import device_patient

CONSTANT = (
    Path(__file__).resolve().parents[2] / "examples" / "device-modes" / "prometra-constant.toml"
).read_text()


def test_a_prometra_patient_gets_a_periodic_flow_program_from_the_editor(
    page: Page, live_clinic: LiveClinic
) -> None:
    """By hand (morphine 10 mg/mL): version 1 is constant flow at 1 mg/day = 0.1 mL/day. The new
    program is periodic flow: 0.5 mg at 08:00 and 0.5 mg at 20:00, each over 30 min, nothing
    between: 2 x 0.5 = 1 mg/day = 0.1 mL/day, the same daily dose (0%). Each dose runs at
    0.05 mL / 30 min = 2.4 mL/day; the longest pause is 12 h - 0.5 h = 11.5 h."""
    with live_clinic.sessions.begin() as session:
        pid = device_patient(session, "PROM0001", "prometra-ii-20", CONSTANT, "Petra Prometra").id
    sign_in(page, "physician", f"/patients/{pid}/program")
    mode = page.get_by_label("Delivery mode")
    # Only the Prometra's own modes, in its own words; no SynchroMed "flex", no fixed rate.
    expect(mode.locator("option")).to_have_text(
        ["constant flow", "multiple rates (timed steps)", "periodic flow (doses, no flow between)"]
    )
    expect(mode).to_have_value("continuous")
    expect(page.get_by_label("Basal step 1 dose or rate")).to_have_value("1 mg/day")
    # Constant flow is one rate: no second step, no weekly cycle.
    expect(page.get_by_role("button", name="Add a step")).to_be_hidden()
    review = page.locator("#review")
    expect(review.locator("#totals-drugs tr", has_text="morphine")).to_contain_text("1 mg/day")

    mode.select_option("periodic-flow")
    # Periodic flow has no basal: the section goes, and one dose row opens to fill.
    expect(page.locator("#basal-fields")).to_be_hidden()
    expect(page.locator("#periodic-fields legend")).to_contain_text("Doses at set times")
    page.get_by_label("Periodic bolus 1 start").fill("08:00")
    page.get_by_label("Periodic bolus 1 dose or volume").fill("0.5 mg")
    page.get_by_label("Periodic bolus 1 duration").fill("30 min")
    page.get_by_role("button", name="Add a dose").click()
    page.get_by_label("Periodic bolus 2 start").fill("20:00")
    page.get_by_label("Periodic bolus 2 dose or volume").fill("0.5 mg")
    page.get_by_label("Periodic bolus 2 duration").fill("30 min")
    expect(review.locator("#findings li[data-code=PERIODIC_FLOW_PAUSE]")).to_contain_text(
        "up to 11.5 h without delivery"
    )
    expect(review.locator("#totals-drugs tr", has_text="morphine")).to_contain_text("1 mg/day")
    expect(review).to_contain_text("No limit crossed")
    expect(review.locator("#findings li[data-code=MODE_CHANGED]")).to_contain_text(
        "constant flow -> periodic flow"
    )
    page.get_by_label("Reason for the change").fill("doses by day and night, trial")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "program-editor-periodic-flow", full_page=True)

    page.get_by_role("button", name="Review and sign…").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Check and sign")
    page.get_by_role("button", name="Sign and save").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Version 2 signed")
    with live_clinic.sessions() as session:
        query = select(ProgramVersion).where(ProgramVersion.patient_id == pid)
        saved = session.execute(query.order_by(ProgramVersion.version)).scalars().all()
        program = programs.parse(saved[-1].program_toml)
    assert [v.version for v in saved] == [1, 2]
    assert program.mode is DeliveryMode.PERIODIC_FLOW
    assert [(b.start_s, b.volume_ml, b.duration_s) for b in program.periodic] == [
        (8 * 3600, 0.05, 1800),
        (20 * 3600, 0.05, 1800),
    ]
    assert [s.rate_ml_per_day for s in program.basal] == [0.0]
