"""The server-rendered pages: sign-in, dashboard, chart, program editor, refill wizard, audit."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from intrathecal.store.models import ProgramVersion, Refill
from intrathecal.web.disclaimer import DISCLAIMER
from tests.web.conftest import Clinic, page_sign_in
from tests.web.test_api import current_toml, implanted_id


def signed_in(clinic: Clinic, username: str) -> tuple[TestClient, str]:
    client = TestClient(clinic.client.app)
    answer = page_sign_in(client, username)
    assert answer.status_code == 303
    page = client.get("/admin/audit" if username == "admin" else "/")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    return client, csrf.group(1)


def test_pages_need_sign_in_and_show_the_disclaimer(clinic: Clinic) -> None:
    anonymous = TestClient(clinic.client.app)
    assert anonymous.get("/", follow_redirects=False).status_code == 303
    client, _ = signed_in(clinic, "viewer")
    pid = implanted_id(clinic)
    for path in ("/", "/patients", f"/patients/{pid}", "/calendar"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert html.unescape(page.text).count(DISCLAIMER) == 1
    assert client.get(f"/patients/{pid}/reservoir.svg").text.startswith("<?xml")
    assert client.get("/admin/audit").status_code == 403


def test_form_without_csrf_token_is_refused(clinic: Clinic) -> None:
    client, _ = signed_in(clinic, "physician")
    pid = implanted_id(clinic)
    answer = client.post(f"/patients/{pid}/program", data={"reason": "r"})
    assert answer.status_code == 403


def count_versions(clinic: Clinic) -> int:
    with clinic.sessions() as session:
        return session.execute(select(func.count()).select_from(ProgramVersion)).scalar_one()


def test_program_editor_hard_limit_blocks_and_soft_limit_needs_a_reason(clinic: Clinic) -> None:
    client, csrf = signed_in(clinic, "physician")
    pid = implanted_id(clinic)
    text, version = current_toml(clinic, pid)
    before = count_versions(clinic)
    heavy = text.replace('dose = "', 'dose = "9', 1)
    blocked = client.post(
        f"/patients/{pid}/program/toml",
        data={
            "csrf_token": csrf,
            "program_toml": heavy,
            "reason": "more",
            "replaces_version": version,
        },
    )
    assert blocked.status_code == 422
    assert "Not saved" in blocked.text
    assert count_versions(clinic) == before
    low_alarm = text.replace('low_reservoir_alarm = "4 mL"', 'low_reservoir_alarm = "1.5 mL"')
    review = client.post(
        f"/api/v1/patients/{pid}/programs/review",
        json={"program_toml": low_alarm},
        headers={"X-CSRF-Token": csrf},
    ).json()
    assert "LOW_RESERVOIR_ALARM_BELOW_SAFE" in review["unacknowledged"]
    form = {
        "csrf_token": csrf,
        "program_toml": low_alarm,
        "reason": "travel",
        "replaces_version": version,
    }
    assert client.post(f"/patients/{pid}/program/toml", data=form).status_code == 422
    form.update(
        {f"ack_{code}": "patient travelling; refill booked" for code in review["unacknowledged"]}
    )
    done = client.post(f"/patients/{pid}/program/toml", data=form)
    assert done.status_code == 200, done.text
    assert 'id="comparison"' in done.text and "low-reservoir alarm" in done.text
    assert count_versions(clinic) == before + 1


def test_refill_wizard_preview_then_save_then_printable_record(clinic: Clinic) -> None:
    client, csrf = signed_in(clinic, "nurse")
    pid = implanted_id(clinic)
    wizard = client.get(f"/patients/{pid}/refill")
    assert wizard.status_code == 200
    fill = re.search(r'name="fill" value="([^"]+)"', wizard.text)
    assert fill is not None
    follows = re.search(r'name="follows_refill_id" value="(\d*)"', wizard.text)
    assert follows is not None
    form = {
        "csrf_token": csrf,
        "fill": fill.group(1),
        "withdrawn": "2 mL",
        "step": "preview",
        "follows_refill_id": follows.group(1),
        # Used only if the reconciliation says INVESTIGATE.
        "investigate_reason": "checked",
        "cosigner": "physician",
        "cosigner_password": "amber-harbor-lantern-51",
        # What went in, for the printed record (the wizard asks one lot per drug).
        "compounded_by": "Priya Pharmacist",
        **{f"lot_{d}": f"L-{d[:3]}-1" for d in re.findall(r'name="lot_([a-z-]+)"', wizard.text)},
        **{f"expiry_{d}": "2027-06-30" for d in re.findall(r'name="lot_([a-z-]+)"', wizard.text)},
    }
    preview = client.post(f"/patients/{pid}/refill", data=form)
    assert preview.status_code == 200, preview.text
    assert 'id="reconciliation"' in preview.text and 'id="next-due"' in preview.text
    with clinic.sessions() as session:
        before = session.execute(select(func.count()).select_from(Refill)).scalar_one()
    unconfirmed = client.post(f"/patients/{pid}/refill", data={**form, "step": "save"})
    assert unconfirmed.status_code == 422
    saved = client.post(
        f"/patients/{pid}/refill",
        data={**form, "step": "save", "confirm": "yes"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    record = client.get(saved.headers["location"])
    # The 2 mL withdrawn, as the record reads it ("2 mL", to the hundredth of a mL)
    assert "Refill record" in record.text and "<th>Withdrawn</th><td>2 mL</td>" in record.text
    with clinic.sessions() as session:
        assert session.execute(select(func.count()).select_from(Refill)).scalar_one() == (
            before + 1
        )


def test_admin_audit_page_shows_the_chain_intact(clinic: Clinic) -> None:
    client, _ = signed_in(clinic, "admin")
    page = client.get("/admin/audit")
    assert page.status_code == 200 and "Chain intact" in page.text
    # The admin does not read the clinic's worklists: "/" is the admin's own page instead.
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/admin"
    assert client.get("/calendar").status_code == 403
