"""Roles in the browser: a nurse may review a program but not sign it, and cannot open the audit
log; the admin's audit page lists the chart reads of the clinicians."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import VIEWPORT, LiveClinic, screenshot, sign_in


def test_nurse_is_denied_signing_a_program_and_the_audit_log(
    page: Page, live_clinic: LiveClinic
) -> None:
    pid = live_clinic.hard_patient
    sign_in(page, "nurse", f"/patients/{pid}/program/toml")
    # The nurse may run the review (it stores nothing) but has no save button...
    expect(page.locator("#review")).to_contain_text("No limit crossed")
    expect(page.get_by_text("Your role may review but not sign programs.")).to_be_visible()
    expect(page.get_by_role("button", name="Sign and save")).to_have_count(0)
    expect(page.get_by_role("link", name="Audit log")).to_have_count(0)
    # ...and a form posted anyway (with her valid CSRF token) is refused: signing is physician-only.
    page.get_by_label("Reason for the change").fill("trying anyway")
    with page.expect_response(f"**/patients/{pid}/program/toml") as answer:
        page.locator("#program-form").evaluate("form => form.submit()")
    assert answer.value.status == 403
    expect(page.locator("body")).to_contain_text("the nurse role may not program.sign")
    audit = page.goto("/admin/audit")
    assert audit is not None and audit.status == 403


def test_admin_audit_page_lists_the_chart_reads(
    browser: Browser, page: Page, live_clinic: LiveClinic
) -> None:
    pid = live_clinic.soft_patient
    viewer = browser.new_context(base_url=live_clinic.url, viewport=VIEWPORT)
    try:
        reader = viewer.new_page()
        sign_in(reader, "viewer", f"/patients/{pid}")
        expect(reader.get_by_role("heading", level=1)).to_contain_text("Sofia Softlimit")
    finally:
        viewer.close()
    sign_in(page, "admin", "/admin/audit")
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(page.locator("#verification")).to_contain_text("Chain intact")
    rows = page.locator("table tr")
    # Newest first: the viewer's read of the chart is the entry before the admin's sign-in.
    read = rows.filter(has_text="chart.read").filter(has_text=f"patient:{pid}").first
    expect(read.locator("td").nth(2)).to_have_text("viewer")
    expect(read.locator("td").nth(3)).to_have_text("chart.read")
    expect(rows.nth(1).locator("td").nth(3)).to_have_text("sign-in")
    expect(rows.nth(2)).to_contain_text("chart.read")
    screenshot(page, "audit")
