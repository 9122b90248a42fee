"""The program editor in the browser: the review runs as the clinician types; a hard limit blocks
saving in the page and on the server; a soft limit is saved only with a reason, recorded with
the clinician's name; the finish screen shows old and new side by side."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from intrathecal.store import programs
from intrathecal.store.models import ProgramVersion
from tests.browser.conftest import LiveClinic, screenshot, sign_in
from tests.store.pump_scenario import morphine_program


def versions(live_clinic: LiveClinic, patient_id: int) -> list[ProgramVersion]:
    with live_clinic.sessions() as session:
        return programs.history(session, patient_id)


def test_hard_limit_disables_saving_and_a_forced_post_is_refused(
    page: Page, live_clinic: LiveClinic
) -> None:
    pid = live_clinic.hard_patient
    sign_in(page, "physician", f"/patients/{pid}/program")
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
    screenshot(page, "program-editor", full_page=True)
    # Force the POST past the disabled button: the server reviews again and refuses.
    save.evaluate("button => { button.disabled = false; }")
    with page.expect_response(f"**/patients/{pid}/program") as answer:
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
    sign_in(page, "physician", f"/patients/{pid}/program")
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
