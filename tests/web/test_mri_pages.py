"""Issue 12 item 11 over HTTP, on SQLite and PostgreSQL: a pump patient's MRI plan (device
steps, withheld drug and duration, withdrawal risk), its printable checklist, the dashboard's
post-MRI task until the pump is confirmed delivering, and bad input refused in the page."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from intrathecal.store import programs
from intrathecal.store.models import AuditEntry, MriScan
from tests.store.conftest import NOW
from tests.web.conftest import Clinic
from tests.web.test_pages import signed_in
from tests.web.test_record_integrity import implanted


def plan_form(csrf: str, **values: str) -> dict[str, str]:
    # 30 min before the fixed clock NOW (09:00 UTC; the clinic zone is UTC in tests).
    return {"csrf_token": csrf, "scan_at": "2026-03-02T08:30", "scan_minutes": "45", **values}


def test_plan_checklist_dashboard_task_and_confirmation(clinic: Clinic) -> None:
    pid = implanted(clinic, 3)
    nurse, csrf = signed_in(clinic, "nurse")
    saved = nurse.post(f"/patients/{pid}/mri", data=plan_form(csrf), follow_redirects=False)
    assert saved.status_code == 303, saved.text
    page = nurse.get(f"/patients/{pid}/mri").text
    with clinic.sessions() as session:
        scan = (
            session.execute(
                select(MriScan).where(MriScan.patient_id == pid).order_by(MriScan.id.desc())
            )
            .scalars()
            .first()
        )
        assert scan is not None and scan.planned_by == "nurse"
        program = programs.parse(programs.in_force(session, pid).program_toml)  # type: ignore[union-attr]
    assert "Printable checklist" in page and "Volume withheld" in page
    expected = "motor stall" if program.device.key.startswith("synchromed") else "valve closes"
    assert expected in page
    checklist = nurse.get(f"/patients/{pid}/mri/checklist?scan={scan.id}").text
    assert checklist.count('type="checkbox"') >= 4 and "Signature" in checklist
    assert nurse.get(f"/patients/{pid}/mri/checklist").text == checklist  # the newest scan
    assert nurse.get(f"/patients/{pid}/mri/checklist?scan=999999").status_code == 422
    # The scan started before now and the pump is not confirmed: a dashboard task.
    assert f'href="/patients/{pid}/mri"' in nurse.get("/").text
    refused = nurse.post(
        f"/patients/{pid}/mri/{scan.id}/confirm", data={"csrf_token": csrf, "note": "  "}
    )
    assert refused.status_code == 422 and "note:" in refused.text
    done = nurse.post(
        f"/patients/{pid}/mri/{scan.id}/confirm",
        data={"csrf_token": csrf, "note": "interrogated: delivering, stall recovery logged"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert f'href="/patients/{pid}/mri"' not in nurse.get("/").text
    again = nurse.post(
        f"/patients/{pid}/mri/{scan.id}/confirm", data={"csrf_token": csrf, "note": "twice"}
    )
    assert again.status_code == 409
    with clinic.sessions() as session:
        actions = session.execute(
            select(func.count()).where(AuditEntry.action.in_(["mri.plan", "mri.confirm"]))
        ).scalar_one()
    assert actions >= 2


def test_bad_plan_input_is_refused_in_the_page_and_stores_nothing(clinic: Clinic) -> None:
    pid = implanted(clinic, 4)
    physician, csrf = signed_in(clinic, "physician")
    cases = {
        "scan_at": plan_form(csrf, scan_at="tomorrow"),
        "scan_minutes": plan_form(csrf, scan_minutes="-5"),
        "field_t": plan_form(csrf, field_t="7"),
        "empty_hours_before": plan_form(csrf, empty_hours_before="99"),
    }
    past = plan_form(csrf, scan_at="2026-03-01T08:00")
    with clinic.sessions() as session:
        before = session.execute(select(func.count()).select_from(MriScan)).scalar_one()
    far = plan_form(csrf, scan_at="2099-01-01T08:00")
    huge = plan_form(csrf, scan_minutes="9" * 400)
    extra = [("scan_at", past), ("scan_at", far), ("scan_minutes", huge)]
    for field, body in [*cases.items(), *extra]:
        answer = physician.post(f"/patients/{pid}/mri", data=body)
        assert answer.status_code == 422, (field, answer.text)
        assert re.search(rf'id="error-{field}"', answer.text), field
    with clinic.sessions() as session:
        assert session.execute(select(func.count()).select_from(MriScan)).scalar_one() == before


def test_who_may_plan_and_read(clinic: Clinic) -> None:
    pid = implanted(clinic, 5)
    viewer, csrf = signed_in(clinic, "viewer")
    assert viewer.get(f"/patients/{pid}/mri").status_code == 200
    assert viewer.post(f"/patients/{pid}/mri", data=plan_form(csrf)).status_code == 403
    pharmacist, csrf = signed_in(clinic, "pharmacist")
    assert pharmacist.post(f"/patients/{pid}/mri", data=plan_form(csrf)).status_code == 403
    assert NOW.tzinfo is not None
