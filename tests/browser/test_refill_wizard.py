"""The refill wizard end to end with values typed in from the pump's own programmer.

The scenario patient (tests/browser/conftest.py): SynchroMed II 20 mL, filled with 20 mL of
morphine 10 mg/mL at 1 mg/day 30 days before NOW; version 2 (morphine 20 mg/mL, same dose) is
signed but not yet in the pump. The working, by hand:

- delivered since the fill = 1 mg/day / 10 mg/mL x 30 days = 3 mL; expected residual 20 - 3 = 17 mL
- withdrawn 16.8 mL: discrepancy -0.2 mL, within the device accuracy 14.5% x 3 mL = 0.435 mL and
  the 1 mL limit of a 20 mL pump; withdrawn 15.5 mL would be -1.5 mL: investigate
- recipe for 20 mL of 20 mg/mL from 25 mg/mL stock: 20 x 20/25 = 16 mL stock + 4 mL diluent
- bridge bolus (the concentration changes): pump pathway 0.26 mL + catheter 0.2 mL = 0.46 mL at
  new dose / old concentration = 1 mg/day / 10 mg/mL = 0.1 mL/day, for 0.46 / 0.1 = 4.6 days
  = 110.4 h
- next due: 16 mL above the 4 mL alarm at 1/20 = 0.05 mL/day lasts 320 days, but morphine is
  stable 90 days: due NOW + 90 days = 2026-05-31 09:00 UTC, limited by stability
"""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from intrathecal.store import programs
from intrathecal.store.models import Patient, Refill
from tests.browser.conftest import NOW, SCREENSHOTS, LiveClinic, screenshot, sign_in


def test_refill_wizard_typed_in_end_to_end_with_bridge_recipe_and_printable_record(
    page: Page, live_clinic: LiveClinic
) -> None:
    pid = live_clinic.refill_patient
    sign_in(page, "nurse", f"/patients/{pid}")
    page.get_by_role("link", name="Refill wizard").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Refill wizard")
    expect(page.get_by_text("Last fill: 20 mL on 31 Jan 2026 09:00 UTC")).to_be_visible()
    expect(page.get_by_label("Volume to fill")).to_have_value("20 mL")
    expect(page.get_by_label("morphine stock")).to_have_value("25 mg/mL")
    page.get_by_label("Program after the refill").select_option("2")

    # A residual 1.5 mL short of the expected 17 mL: the wizard says to investigate.
    page.get_by_label("Volume withdrawn").fill("15.5 mL")
    page.get_by_role("button", name="Compute reconciliation, recipe and due date").click()
    reconciliation = page.locator("#reconciliation")
    expect(reconciliation).to_contain_text("INVESTIGATE before refilling")
    expect(page.locator("#plan")).to_contain_text("Possible causes:")
    expect(page.locator("#plan")).to_contain_text("pocket")

    # What changes, per drug, old beside new: the concentration doubles, the dose stays.
    changes = page.locator("#changes tr", has_text="morphine")
    expect(changes.locator("td")).to_have_text(
        ["morphine", "10 mg/mL", "20 mg/mL", "1 mg/day", "1 mg/day"]
    )

    # Re-measured: 16.8 mL.
    page.get_by_label("Volume withdrawn").fill("16.8 mL")
    page.get_by_role("button", name="Compute reconciliation, recipe and due date").click()
    plan = page.locator("#plan")
    expect(plan).to_contain_text(
        "Expected residual 17.00 mL (filled 20.0 mL − delivered 3.00 mL); withdrawn 16.8 mL; "
        "discrepancy -0.20 mL."
    )
    expect(reconciliation).to_contain_text("Within limits")
    expect(plan).to_contain_text("Compounding recipe (20 mL)")
    expect(plan).to_contain_text("morphine: 16 mL of stock 25 mg/mL → 20 mg/mL")
    expect(plan).to_contain_text("preservative-free 0.9% sodium chloride: 4 mL")
    expect(page.locator("#bridge")).to_contain_text("0.460 mL at 0.1 mL/day for 110.40 h")
    expect(page.locator("#next-due")).to_contain_text(
        "Due 31 May 2026 09:00 UTC (limited by stability)"
    )
    screenshot(page, "refill-wizard", full_page=True)

    # Saving needs the confirmation tick, then what went in: lot, expiry and compounder.
    page.get_by_role("button", name="Save refill").click()
    expect(page.locator("#errors")).to_contain_text("tick the confirmation")
    assert _refills(live_clinic, pid) == 1
    _what_went_in(page, live_clinic, pid)
    page.get_by_label("I checked the withdrawn volume").check()
    page.get_by_role("button", name="Save refill").click()

    _check_printable_record(page)

    assert _refills(live_clinic, pid) == 2
    with live_clinic.sessions() as session:
        patient = session.get(Patient, pid)
        assert patient is not None
        assert patient.next_refill_due_at == NOW + timedelta(days=90)
        in_force = programs.in_force(session, pid)
        assert in_force is not None and in_force.version == 2  # sent with the refill


def _what_went_in(page: Page, live_clinic: LiveClinic, pid: int) -> None:
    """Lot, expiry and compounder are required to save; an expired lot is refused."""
    page.get_by_label("I checked the withdrawn volume").check()
    page.get_by_role("button", name="Save refill").click()
    expect(page.locator("#errors")).to_contain_text("lot_morphine: give the lot number")
    # An expired lot (the day before the fill, 2026-03-02) is refused, named by its field.
    page.get_by_label("morphine lot").fill("M2406-11")
    page.get_by_label("morphine expiry").fill("2026-03-01")
    page.get_by_label("Compounded by (full name)").fill("Priya Pharmacist")
    page.get_by_label("I checked the withdrawn volume").check()
    page.get_by_role("button", name="Save refill").click()
    expect(page.locator("#errors")).to_contain_text(
        "expiry_morphine: morphine expires on 2026-03-01, before the fill date 2026-03-02"
    )
    assert _refills(live_clinic, pid) == 1
    page.get_by_label("morphine expiry").fill("2026-09-30")


def _refills(live_clinic: LiveClinic, patient_id: int) -> int:
    with live_clinic.sessions() as session:
        return len(session.execute(select(Refill.id).where(Refill.patient_id == patient_id)).all())


def _check_printable_record(page: Page) -> None:
    expect(page.get_by_role("heading", level=1)).to_contain_text("Refill record · Sam Scenario")

    def row(header: str) -> Locator:
        rowheader = page.get_by_role("rowheader", name=header, exact=True)
        return page.locator("table.record tr", has=rowheader)

    # The record is read at a glance: volumes to the hundredth of a mL, times in the clinic zone.
    expect(row("Expected residual").locator("td")).to_have_text("17 mL")
    expect(row("Withdrawn").locator("td")).to_have_text("16.8 mL")
    expect(row("Discrepancy").locator("td")).to_contain_text("-0.2 mL")
    expect(row("New fill")).to_contain_text("20 mL; morphine 20 mg/mL")
    expect(row("Recipe")).to_contain_text("morphine 16 mL of 25 mg/mL; diluent 4 mL")
    # 0.46 mL at 0.1 mL/day = 4.6 days = 110.4 h, shown to three figures
    expect(row("Bridge bolus")).to_contain_text("0.46 mL at 0.1 mL/day for 110 h")
    expect(row("Next due")).to_contain_text("limited by stability")
    expect(row("Performed")).to_contain_text("02 Mar 2026 09:00 UTC by Nurse Ben Lindqvist")
    expect(row("Program")).not_to_contain_text("T09:")
    expect(row("Date of birth").locator("td")).to_have_text("17 May 1968")
    expect(row("MRN").locator("td")).to_have_text("SCEN0001")
    expect(row("Pump")).to_contain_text("SynchroMed II")
    expect(row("Pump")).to_contain_text("serial PSCEN0001")
    expect(page.locator("#drugs tr", has_text="morphine").locator("td")).to_have_text(
        ["morphine", "20 mg/mL", "1 mg/day", "M2406-11", "30 Sep 2026"]
    )
    expect(row("Compounded by").locator("td")).to_have_text("Priya Pharmacist")
    expect(row("Filled by").locator("td")).to_have_text("Nurse Ben Lindqvist")
    expect(row("Next refill").locator("td")).to_have_text("31 May 2026")
    expect(page.locator(".signatures")).to_contain_text("Filled by (signature)")
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    screenshot(page, "refill-record")
    # Printed, the navigation and the button are left out.
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    # On A4 and on Letter paper, nothing is cut at the right edge.
    for paper in ("A4", "Letter"):
        pdf = page.pdf(format=paper, print_background=False)
        assert pdf.startswith(b"%PDF")
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "refill-record-print", full_page=True)
    (SCREENSHOTS / "refill-record.pdf").write_bytes(page.pdf(format="A4"))


def test_offering_an_older_version_than_the_one_in_force_needs_a_reason(
    page: Page, live_clinic: LiveClinic
) -> None:
    """After the end-to-end refill above version 2 (20 mg/mL) is in force; choosing version 1
    (10 mg/mL) shows the warning and saving needs a reason. Run alone, version 1 is in force and
    nothing is older: the test then has nothing to check."""
    pid = live_clinic.refill_patient
    with live_clinic.sessions() as session:
        running = programs.in_force(session, pid)
        assert running is not None
        if running.version < 2:
            return
    sign_in(page, "nurse", f"/patients/{pid}/refill")
    select = page.get_by_label("Program after the refill")
    expect(select.locator("option[value='1']")).to_contain_text("OLDER than version 2 in force")
    select.select_option("1")
    page.get_by_label("Volume withdrawn").fill("20 mL")
    page.get_by_role("button", name="Compute reconciliation, recipe and due date").click()
    warning = page.locator("#older-version")
    expect(warning).to_contain_text("Version 1 is OLDER than version 2, in force")
    expect(page.locator("#changes tr", has_text="morphine").locator("td")).to_have_text(
        ["morphine", "20 mg/mL", "10 mg/mL", "1 mg/day", "1 mg/day"]
    )
