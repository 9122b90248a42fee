from tests.browser.conftest import *
import pytest
def test_dbg(page, live_clinic):
    page.on("response", lambda r: print("RESP", r.status, r.url, r.headers.get("content-type")))
    page.on("requestfailed", lambda r: print("FAIL", r.url, r.failure))
    page.on("console", lambda m: print("CONSOLE", m.text))
    sign_in(page, "physician")
    page.goto("/patients/6")
    page.wait_for_timeout(3000)
    print(page.get_by_alt_text("reservoir volume over time").evaluate("img => [img.complete, img.naturalWidth, img.currentSrc]"))
