"""Sign-in, dashboard, calendar and the patient chart, as a clinician's browser shows them."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from intrathecal.store import programs
from intrathecal.store.models import Patient, Refill
from intrathecal.web.disclaimer import DISCLAIMER
from tests.browser.conftest import LiveClinic, screenshot, sign_in


def test_sign_in_with_the_right_password_and_a_wrong_one_refused(page: Page) -> None:
    page.goto("/")
    expect(page).to_have_url("/sign-in?next=/")  # every page needs a signed-in user
    page.get_by_label("User name").fill("nurse")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    # No session was given (the sign-in form's own CSRF cookie is all there is).
    assert {c["name"] for c in page.context.cookies()} <= {"itp_sign_in"}
    screenshot(page, "sign-in")
    page.get_by_label("User name").fill("nurse")
    page.get_by_label("Password").fill("quiet-meadow-compass-27")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator("header")).to_contain_text("Nurse Ben Lindqvist (nurse)")


def test_dashboard_lists_the_worklists_and_the_calendar_the_next_four_weeks(page: Page) -> None:
    sign_in(page, "nurse")
    for heading in (
        "Refills due this week",
        "Overdue refills",
        "Predicted low-reservoir alarms, next 7 days",
        "Open alarms",
        "Devices nearing replacement, 180 days",
    ):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    expect(page.locator(".disclaimer")).to_have_text(DISCLAIMER)
    due = page.locator("section", has=page.get_by_role("heading", name="Refills due this week"))
    expect(due.locator("a[href^='/patients/']").first).to_be_visible()
    screenshot(page, "dashboard")
    page.get_by_role("link", name="Refill calendar").click()
    expect(page.locator(".calendar .day")).to_have_count(28)
    # The calendar starts on the Monday of this week: NOW is Monday 2 March 2026.
    expect(page.locator(".calendar .day .date").first).to_have_text("Mon 02 Mar")
    expect(page.locator(".calendar .day a").first).to_be_visible()
    screenshot(page, "calendar")


def _busiest_patient(live_clinic: LiveClinic) -> tuple[int, str, int]:
    with live_clinic.sessions() as session:
        pid, refills = session.execute(
            select(Refill.patient_id, func.count())
            .group_by(Refill.patient_id)
            .order_by(func.count().desc(), Refill.patient_id)
            .limit(1)
        ).one()
        patient = session.get(Patient, pid)
        assert patient is not None
        return pid, patient.name, refills


def _drugs(live_clinic: LiveClinic, patient_id: int) -> list[tuple[str, str]]:
    with live_clinic.sessions() as session:
        version = programs.in_force(session, patient_id)
        assert version is not None
        program = programs.parse(version.program_toml)
        return [(i.drug.key, i.drug.dose_unit.value) for i in program.ingredients]


def test_patient_chart_shows_the_journey_charts_and_unverified_values(
    page: Page, live_clinic: LiveClinic
) -> None:
    pid, name, refill_count = _busiest_patient(live_clinic)
    sign_in(page, "physician")
    page.goto("/patients")
    page.get_by_role("link", name=name).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    assert page.url.endswith(f"/patients/{pid}")
    expect(page.locator(".disclaimer")).to_have_text(DISCLAIMER)
    timeline = page.locator("ol.timeline li")
    for kind in ("evaluation", "trial", "implant", "program", "refills"):
        expect(timeline.filter(has=page.locator(f".tag.{kind}")).first).to_be_visible()
    expect(timeline.filter(has_text=f"{refill_count} refills")).to_have_count(1)
    # Both charts are drawn: the SVGs loaded and have a size.
    for alt in ("reservoir volume over time", "daily dose per drug over time"):
        image = page.get_by_alt_text(alt).element_handle()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image)
    # Each drug is drawn in its own dose unit (ziconotide in mcg/day, morphine in mg/day).
    doses = page.request.get(f"/patients/{pid}/doses.svg").text()
    for drug, unit in _drugs(live_clinic, pid):
        assert f">{drug} ({unit}/day)</text>" in doses, (drug, unit)  # the legend
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "chart", height=2000)  # down to the two charts
    # Device values carry their provenance; every UNVERIFIED one is marked as such.
    page.get_by_text("Device values used (with provenance)").click()
    values = page.locator("details li")
    texts = values.all_inner_texts()
    assert texts, "no device values listed"
    unverified = [t for t in texts if "UNVERIFIED" in t]
    assert unverified, "a SynchroMed or Prometra program uses some unverified value"
    expect(values.locator(".unverified")).to_have_count(len(unverified))
    expect(values.locator(".unverified").first).to_have_css("font-weight", "700")
    expect(values.locator(".unverified").first).to_have_text("UNVERIFIED")
