"""The patient journey in chromium (issue 11, item 5): a physician creates a patient, records
the indication, what was tried before, an evaluation, a baclofen trial measured in spasticity,
and the implant; a nurse records an alarm, acknowledges and clears it. A bad entry is shown in
the form beside its field with what was typed kept. Screenshots of each page."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from intrathecal.store.models import AlarmEvent, Patient, Trial
from tests.browser.conftest import LiveClinic, screenshot, sign_in


def _save(page: Page) -> None:
    page.get_by_role("button", name="Save").click()


def test_a_patient_from_referral_to_implant_in_the_browser(
    page: Page, live_clinic: LiveClinic
) -> None:
    sign_in(page, "physician", "/patients")
    page.get_by_role("link", name="New patient").click()
    expect(page.get_by_role("heading", name="New patient")).to_be_visible()
    page.locator("#mrn").fill("JRN0001")
    page.locator("#name").fill("Jo Journey")
    page.locator("#birth_date").fill("2099-05-01")  # a typing error: refused in place
    page.locator("#sex").select_option("female")
    page.locator("#opioid_status").select_option("naive")
    _save(page)
    error = page.locator("#error-birth_date")
    expect(error).to_have_text("Date of birth 2099-05-01 is in the future (today is 2026-03-02)")
    expect(page.locator("#name")).to_have_value("Jo Journey")  # what was typed is kept
    screenshot(page, "journey-new-patient-error")
    page.locator("#birth_date").fill("1971-05-01")
    _save(page)
    expect(page.get_by_role("heading", name=re.compile("Jo Journey"))).to_be_visible()
    with live_clinic.sessions() as db:
        pid = db.execute(select(Patient.id).where(Patient.mrn == "JRN0001")).scalar_one()
    _evaluate(page)
    _trial(page)
    _implant(page)
    with live_clinic.sessions() as db:
        trial = db.execute(select(Trial).where(Trial.patient_id == pid)).scalar_one()
        assert (trial.pain_before, trial.ashworth_before, trial.spasms_after) == (None, "3", 1)


def _evaluate(page: Page) -> None:
    page.get_by_role("link", name="Add indication").click()
    page.locator("#condition").select_option("spasticity in multiple sclerosis")
    page.locator("#detail").fill("lower limbs, Ashworth 3")
    screenshot(page, "journey-indication")
    _save(page)
    expect(page.locator(".tag", has_text="spasticity in multiple sclerosis")).to_be_visible()

    page.get_by_role("link", name="Add prior treatment").click()
    page.locator("#kind").select_option("oral medication")
    page.locator("#medication").fill("oral baclofen")
    page.locator("#dose").fill("60 mg/day")
    page.locator("#outcome").fill("drowsy, spasms persist")
    screenshot(page, "journey-prior-treatment")
    _save(page)
    expect(
        page.get_by_text("oral baclofen 60 mg/day (drowsy, spasms persist)").first
    ).to_be_visible()

    page.get_by_role("link", name="Add evaluation").click()
    page.locator("#kind").select_option("MRI")
    page.locator("#performed_on").fill("2026-02-02")
    page.locator("#result").fill("no contraindication to a pump")
    screenshot(page, "journey-evaluation")
    _save(page)
    expect(page.get_by_text("MRI: no contraindication to a pump").first).to_be_visible()


def _trial(page: Page) -> None:

    page.get_by_role("link", name="Add trial").click()
    page.locator("#performed_on").fill("2026-02-16")
    page.locator("#drug").select_option("baclofen")
    page.locator("#mode").select_option("single bolus")
    page.locator("#dose").fill("50 mcg")
    page.locator("#pain_before").select_option("9")  # a pain score for a baclofen trial
    page.locator("#pain_after").select_option("5")
    page.locator("#decision").select_option("implant")
    _save(page)
    expect(page.locator("#error-pain_before")).to_contain_text(
        "is not used in a baclofen trial: it is measured in spasticity (Ashworth, spasms)"
    )
    page.locator("#pain_before").select_option("")
    page.locator("#pain_after").select_option("")
    page.locator("#ashworth_before").select_option("3")
    page.locator("#ashworth_after").select_option("1+")
    page.locator("#spasms_before").select_option("3")
    page.locator("#spasms_after").select_option("1")
    page.locator("#side_effects").fill("none")
    screenshot(page, "journey-trial", full_page=True)
    _save(page)
    expect(page.get_by_text("Ashworth 3→1+, spasms 3→1 (Penn)").first).to_be_visible()


def _implant(page: Page) -> None:

    page.get_by_role("link", name="Add implant").click()
    page.locator("#device").select_option("synchromed-ii-20")
    page.locator("#serial").fill("JRN-SN-1")
    page.locator("#catheter_length").fill("70 cm")
    page.locator("#tip_level").fill("T10")
    page.locator("#setting").select_option("inpatient")
    page.locator("#implanted_at").fill("2030-02-27T10:00")  # no implant in 2030
    _save(page)
    expect(page.locator("#error-implanted_at")).to_contain_text("is in the future")
    page.locator("#implanted_at").fill("2026-02-27T10:00")
    screenshot(page, "journey-implant")
    _save(page)
    implant = page.get_by_text("synchromed-ii-20 serial JRN-SN-1, tip T10, inpatient").first
    expect(implant).to_be_visible()
    expect(page.locator("h1")).to_contain_text("stage: implanted")
    screenshot(page, "journey-chart", full_page=True)


def test_a_nurse_records_acknowledges_and_clears_an_alarm(
    page: Page, live_clinic: LiveClinic
) -> None:
    pid = live_clinic.soft_patient
    sign_in(page, "nurse", f"/patients/{pid}/alarms")
    page.get_by_role("link", name="Record an alarm").click()
    page.locator("#kind").fill("catheter occlusion suspected")
    page.locator("#message").fill("patient reports return of pain over 2 days")
    page.locator("#source").select_option("clinic")
    screenshot(page, "journey-alarm-new")
    _save(page)
    page.goto(f"/patients/{pid}/alarms")
    card = page.locator("section.alarm", has_text="catheter occlusion suspected")
    card.get_by_label("Note").fill("called the patient; seen today")
    card.get_by_role("button", name="Acknowledge").click()
    card = page.locator("section.alarm", has_text="catheter occlusion suspected")
    expect(card).to_contain_text("acknowledged by nurse at 02 Mar 2026 09:00 UTC")
    expect(card).to_contain_text("open")
    screenshot(page, "journey-alarm-acknowledged")
    card.get_by_label("Note").fill("catheter access port aspirated, patent")
    card.get_by_role("button", name="Clear").click()
    card = page.locator("section.alarm", has_text="catheter occlusion suspected")
    expect(card).to_contain_text("cleared by nurse at 02 Mar 2026 09:00 UTC")
    expect(card.get_by_role("button", name="Clear")).to_have_count(0)
    screenshot(page, "journey-alarms")
    with live_clinic.sessions() as db:
        actions = db.execute(
            select(AlarmEvent.action).where(AlarmEvent.patient_id == pid).order_by(AlarmEvent.id)
        ).scalars()
        assert list(actions)[-2:] == ["acknowledged", "cleared"]
