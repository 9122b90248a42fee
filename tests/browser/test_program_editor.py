"""The program editors in the browser.

The structured editor (the routine path): a program is built from drug rows and a table of
basal steps; the totals per day and per drug and the server's review update as the clinician
types; a bad field is marked where it is; the finish screen shows old and new side by side
before signing. The advanced TOML editor: the review runs as the clinician types; a hard limit
blocks saving in the page and on the server; a soft limit is saved only with a reason, recorded
with the clinician's name."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from intrathecal.store import programs
from intrathecal.store.models import ProgramVersion
from tests.browser.conftest import LiveClinic, screenshot, sign_in
from tests.store.pump_scenario import morphine_program, pump_patient


def new_patient(live_clinic: LiveClinic, mrn: str, name: str) -> int:
    """A scenario patient of this test's own: morphine 10 mg/mL at 1 mg/day, version 1."""
    with live_clinic.sessions.begin() as session:
        return pump_patient(session, None, mrn, name=name).id


def test_structured_editor_builds_a_weekly_program_with_totals_review_and_finish_screen(
    page: Page, live_clinic: LiveClinic
) -> None:
    """By hand (morphine 10 mg/mL; the SynchroMed II rate step is 0.001 mL/day):

    - version 1: 1 mg/day all day = 0.1 mL/day
    - new: 1 mg/day from 00:00, 1.2 mg/day (0.12 mL/day) from 08:00 on weekdays only. A weekday
      is 8 h x 1 + 16 h x 1.2 = 27.2 mg over 24 h = 1.1333 mg/day ("1.13 mg/day", 0.113 mL);
      Saturday and Sunday stay 1 mg/day. Mean over the week (5 x 1.1333 + 2 x 1) / 7 =
      1.0952 mg/day ("1.1 mg/day"): +9.5%, below the 20% soft limit per step.
    """
    pid = new_patient(live_clinic, "EDIT0001", "Eddie Editor")
    sign_in(page, "physician", f"/patients/{pid}/program")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Program editor")
    expect(page.get_by_label("Drug 1 name")).to_have_value("morphine")
    expect(page.get_by_label("Drug 1 concentration")).to_have_value("10 mg/mL")
    expect(page.get_by_label("Basal step 1 dose or rate")).to_have_value("1 mg/day")
    review = page.locator("#review")
    expect(review.locator("#totals-drugs tr", has_text="morphine")).to_contain_text("1 mg/day")
    expect(review).to_contain_text("No limit crossed")

    # A second step from 08:00, on a weekly cycle: weekdays only. Timed steps are the
    # SynchroMed's flex mode (simple continuous is one rate all day).
    page.get_by_label("Delivery mode").select_option("flex")
    page.get_by_label("Weekly cycle").check()
    page.get_by_role("button", name="Add a step").click()
    page.get_by_label("Basal step 2 start").fill("08:00")
    page.get_by_label("Basal step 2 dose or rate").fill("1.2 mg/day")
    page.get_by_label("Basal step 2 Sat").uncheck()
    page.get_by_label("Basal step 2 Sun").uncheck()
    page.get_by_label("Basal step 2 Wed").uncheck()
    # Copy Monday to the weekdays: Wednesday runs the 08:00 step again.
    page.get_by_label("Copy the steps of").select_option("mon")
    page.get_by_role("button", name="Mon–Fri").click()
    expect(page.get_by_label("Basal step 2 Wed")).to_be_checked()
    expect(page.get_by_label("Basal step 2 Sat")).not_to_be_checked()
    days = review.locator("#totals-days")
    expect(days.locator("tr", has_text="mon")).to_contain_text("1.13 mg/day")
    expect(days.locator("tr", has_text="sat")).to_contain_text("1 mg/day")
    expect(review.locator("#totals-drugs tr", has_text="morphine")).to_contain_text("1.1 mg/day")
    expect(review.locator("tr", has_text="morphine daily dose")).to_contain_text("+9.5%")
    expect(review).to_contain_text("No limit crossed")

    # Text in a number: marked at the field, in words with the unit expected; no signing.
    amount = page.get_by_label("Basal step 2 dose or rate")
    amount.fill("lots")
    error = page.locator('.field-error[data-for="basal_1_amount"]')
    expect(error).to_contain_text("cannot read 'lots' as a quantity with a unit")
    expect(amount).to_have_attribute("aria-invalid", "true")
    finish = page.get_by_role("button", name="Review and sign…")
    expect(finish).to_be_disabled()
    amount.fill("1.2 mg/day")
    expect(error).to_be_empty()
    expect(finish).to_be_enabled()
    page.get_by_label("Reason for the change").fill("more relief in the day")
    # The page fits 1280 px: nothing scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "program-editor", full_page=True)
    _finish_and_sign(page, live_clinic, pid)


def _finish_and_sign(page: Page, live_clinic: LiveClinic, pid: int) -> None:
    page.get_by_role("button", name="Review and sign…").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Check and sign")
    row = page.locator("#comparison tr", has_text="morphine daily dose")
    expect(row.locator("td").nth(1)).to_have_text("1 mg/day")
    # Mean of the week: (5 x (8 h x 1 + 16 h x 1.2) / 24 + 2 x 1) / 7 = 1.0952 mg/day, read at
    # a glance to three figures; the change +0.0952 mg/day is +9.5%.
    expect(row.locator("td").nth(2)).to_have_text("1.1 mg/day")
    expect(row.locator("td").nth(3)).to_have_text("+0.0952 mg/day (+9.5%)")
    screenshot(page, "program-finish")
    page.get_by_role("button", name="Sign and save").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Version 2 signed")
    saved = versions(live_clinic, pid)
    assert [v.version for v in saved] == [1, 2]
    program = programs.parse(saved[1].program_toml)
    assert [(s.start_s, sorted(s.days), s.rate_ml_per_day) for s in program.basal] == [
        (0, list(range(7)), 0.1),
        (8 * 3600, [0, 1, 2, 3, 4], 0.12),
    ]
    assert saved[1].reason == "more relief in the day"


def versions(live_clinic: LiveClinic, patient_id: int) -> list[ProgramVersion]:
    with live_clinic.sessions() as session:
        return programs.history(session, patient_id)


def test_hard_limit_disables_saving_and_a_forced_post_is_refused(
    page: Page, live_clinic: LiveClinic
) -> None:
    pid = live_clinic.hard_patient
    sign_in(page, "physician", f"/patients/{pid}/program/toml")
    review = page.locator("#review")
    expect(review).to_contain_text("No limit crossed")
    save = page.get_by_role("button", name="Sign and save")
    expect(save).to_be_enabled()
    # Morphine 30 mg/mL: above the hard limit 25 mg/mL (the strongest Infumorph); at 1 mg/day it
    # is also 1/30 = 0.033 mL/day, below the SynchroMed II minimum rate 0.048 mL/day.
    page.locator("#program_toml").fill(morphine_program("30 mg/mL"))
    expect(review.get_by_role("heading", level=2)).to_have_text("Blocked by a hard limit")
    expect(review.locator("li[data-code=CONCENTRATION_ABOVE_HARD]")).to_contain_text(
        "30 mg/mL of morphine is above the hard limit 25 mg/mL"
    )
    expect(review.locator("li[data-code=RATE_BELOW_DEVICE_MIN]")).to_be_visible()
    expect(save).to_be_disabled()
    expect(save).to_have_attribute("title", "a hard limit blocks saving")
    page.get_by_label("Reason for the change").fill("stronger solution")
    screenshot(page, "program-editor-toml", full_page=True)
    # Force the POST past the disabled button: the server reviews again and refuses.
    save.evaluate("button => { button.disabled = false; }")
    with page.expect_response(f"**/patients/{pid}/program/toml") as answer:
        save.click()
    assert answer.value.status == 422
    errors = page.locator("#errors")
    expect(errors).to_contain_text("Not saved")
    expect(errors).to_contain_text("CONCENTRATION_ABOVE_HARD")
    assert [v.version for v in versions(live_clinic, pid)] == [1]


def test_soft_limit_needs_a_reason_then_the_finish_screen_shows_old_and_new(
    page: Page, live_clinic: LiveClinic
) -> None:
    pid = live_clinic.soft_patient
    sign_in(page, "physician", f"/patients/{pid}/program/toml")
    review = page.locator("#review")
    expect(review).to_contain_text("No limit crossed")
    # A 1.5 mL low-reservoir alarm is below the 2 mL safe volume: soft, so it may be accepted.
    page.locator("#program_toml").fill(morphine_program("10 mg/mL", alarm="1.5 mL"))
    expect(review.get_by_role("heading", level=2)).to_have_text(
        "Soft limits: acknowledge each with a reason"
    )
    finding = review.locator("li[data-code=LOW_RESERVOIR_ALARM_BELOW_SAFE]")
    expect(finding).to_contain_text("1.5 mL is below the safe volume 2 mL")
    save = page.get_by_role("button", name="Sign and save")
    expect(save).to_be_disabled()
    expect(save).to_have_attribute("title", "acknowledge every soft limit first")
    # The live side-by-side table already shows the change.
    expect(review.locator("tr", has_text="low-reservoir alarm")).to_contain_text("4 mL")
    why = "patient lives far away; reservoir checked at every visit"
    finding.get_by_placeholder("reason to accept").fill(why)
    expect(save).to_be_enabled()
    page.get_by_label("Reason for the change").fill("later alarm: fewer unplanned visits")
    screenshot(page, "program-editor-soft", full_page=True)
    save.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Version 2 signed")
    row = page.locator("#comparison tr", has_text="low-reservoir alarm")
    # 1.5 - 4 = -2.5 mL, -2.5 / 4 = -62.5%.
    expect(row.locator("td")).to_have_text(
        ["low-reservoir alarm", "4 mL", "1.5 mL", "-2.5 mL (-62.5%)"]
    )
    expect(page.locator("#comparison th")).to_have_text(
        ["Setting", "Old (version 1)", "New (version 2)", "Change"]
    )
    expect(page.get_by_text(f"LOW_RESERVOIR_ALARM_BELOW_SAFE: physician — {why}")).to_be_visible()
    screenshot(page, "program-saved")
    saved = versions(live_clinic, pid)
    assert [v.version for v in saved] == [1, 2]
    assert saved[1].signed_by == "physician"
    assert saved[1].replaces_version == 1
    acks = json.loads(saved[1].acknowledgements_json)
    assert [(a["code"], a["who"], a["why"]) for a in acks] == [
        ("LOW_RESERVOIR_ALARM_BELOW_SAFE", "physician", why)
    ]
