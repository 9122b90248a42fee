"""The structured program editor's form on the server: every field's bad input (empty, negative,
text in a number, too long) comes back in the page beside the field, named with the unit it
wants, and saves nothing; any text in any field gives errors, never an exception; a stored
program shown in the form and posted back unchanged is the same program."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from intrathecal.safety.comparison import compare
from intrathecal.store import programs
from intrathecal.store.models import ProgramVersion
from intrathecal.store.seed import PAIN_TEMPLATES, SPASTICITY_TEMPLATES, Template, program_text
from intrathecal.web import program_form
from tests.store.pump_scenario import pump_patient
from tests.web.conftest import Clinic, page_sign_in

DEVICE = "synchromed-ii-20"
# A valid form: morphine 10 mg/mL, 1 mg/day, a periodic bolus and a demand bolus.
VALID = {
    "replaces_version": "1",
    "catheter_volume": "0.2 mL",
    "low_reservoir_alarm": "4 mL",
    "drug_0_name": "morphine",
    "drug_0_concentration": "10 mg/mL",
    "basal_0_start": "00:00",
    "basal_0_amount": "1 mg/day",
    "periodic_0_start": "12:00",
    "periodic_0_amount": "0.1 mg",
    "periodic_0_duration": "1 h",
    "demand_on": "yes",
    "demand_amount": "0.05 mg",
    "demand_duration": "10 min",
    "demand_lockout": "4 h",
    "demand_max_per_24h": "4",
}
# Per field: (empty, negative, text in a number, too long); each must be refused at that field.
BAD = {
    "catheter_volume": ("", "-0.2 mL", "abc mL", "0." + "1" * 40 + " mL"),
    "low_reservoir_alarm": ("", "-4 mL", "four mL", "4" * 41),
    "drug_0_name": ("", "-morphine", "12", "m" * 41),
    "drug_0_concentration": ("", "-10 mg/mL", "ten mg/mL", "1" * 41),
    "basal_0_start": ("", "-01:00", "noon", "0" * 41),
    "basal_0_amount": ("", "-1 mg/day", "lots", "1" * 41),
    "periodic_0_start": ("", "-12:00", "midday", "1" * 41),
    "periodic_0_amount": ("", "-0.1 mg", "some mg", "1" * 41),
    "periodic_0_duration": ("", "-1 h", "an hour", "1" * 41),
    "demand_amount": ("", "-0.05 mg", "a little", "1" * 41),
    "demand_duration": ("", "-10 min", "ten min", "1" * 41),
    "demand_lockout": ("", "-4 h", "four h", "1" * 41),
    "demand_max_per_24h": ("", "-4", "four", "4" * 41),
}


def count_versions(clinic: Clinic, pid: int) -> int:
    with clinic.sessions() as session:
        query = select(func.count()).where(ProgramVersion.patient_id == pid)
        return session.execute(query).scalar_one()


@pytest.fixture(scope="module")
def editing(clinic: Clinic) -> tuple[TestClient, str, int]:
    """A physician's browser session on a patient of its own (version 1 signed)."""
    with clinic.sessions.begin() as session:
        pid = pump_patient(session, None, "FORM0001", name="Flora Form").id
    client = TestClient(clinic.client.app, raise_server_exceptions=False)
    page_sign_in(client, "physician")
    page = client.get(f"/patients/{pid}/program")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    return client, csrf.group(1), pid


def test_the_valid_form_reviews_clean(editing: tuple[TestClient, str, int]) -> None:
    client, csrf, pid = editing
    answer = client.post(f"/patients/{pid}/program/review", data={**VALID, "csrf_token": csrf})
    assert answer.status_code == 200
    data = answer.json()
    assert data["ok"], data
    # 1 mg/day basal + a 0.1 mg periodic bolus a day = 1.1 mg/day mean; with 4 demand boluses
    # of 0.05 mg it is at most 1.3 mg/day.
    assert data["totals"]["drugs"] == [
        {"drug": "morphine", "mean": "1.1 mg/day", "worst": "1.3 mg/day"}
    ]


def test_every_field_refuses_empty_negative_text_and_too_long_in_the_page(
    clinic: Clinic, editing: tuple[TestClient, str, int]
) -> None:
    client, csrf, pid = editing
    before = count_versions(clinic, pid)
    for field, values in BAD.items():
        for value in values:
            form = {**VALID, field: value, "csrf_token": csrf, "step": "sign", "reason": "r"}
            page = client.post(f"/patients/{pid}/program", data=form)
            assert page.status_code == 422, (field, value, page.text[:300])
            shown = re.search(rf'data-for="{field}">([^<]+)<', page.text)
            assert shown is not None, (field, value)
            assert 'id="errors"' in page.text and "Not saved" in page.text
            # The live review names the same field.
            review = client.post(
                f"/patients/{pid}/program/review", data={**form, "step": ""}
            ).json()
            assert not review["ok"] and field in {e["field"] for e in review["errors"]}, (
                field,
                value,
                review,
            )
    assert count_versions(clinic, pid) == before


def test_errors_name_the_unit_expected(editing: tuple[TestClient, str, int]) -> None:
    client, csrf, pid = editing
    form = {**VALID, "drug_0_concentration": "10 mg", "csrf_token": csrf}
    errors = client.post(f"/patients/{pid}/program/review", data=form).json()["errors"]
    assert errors == [
        {
            "field": "drug_0_concentration",
            "label": "Drug 1 concentration",
            "message": "expected a concentration (mass per volume), like '10 mg/mL', but '10 mg' "
            "is a mass",
        }
    ]


def test_a_reviewer_may_not_sign_through_the_editor(clinic: Clinic) -> None:
    client = TestClient(clinic.client.app, raise_server_exceptions=False)
    page_sign_in(client, "nurse")
    pid = editing_pid(clinic)
    page = client.get(f"/patients/{pid}/program")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    before = count_versions(clinic, pid)
    form = {**VALID, "csrf_token": csrf.group(1), "step": "sign", "reason": "r"}
    assert client.post(f"/patients/{pid}/program", data=form).status_code == 403
    assert count_versions(clinic, pid) == before


def editing_pid(clinic: Clinic) -> int:
    with clinic.sessions() as session:
        from intrathecal.store.models import Patient

        return session.execute(select(Patient.id).where(Patient.mrn == "FORM0001")).scalar_one()


@pytest.mark.parametrize("template", [*PAIN_TEMPLATES, *SPASTICITY_TEMPLATES])
def test_a_stored_program_through_the_form_is_the_same_program(
    template: Template,
) -> None:
    first = template.drugs[0][0]
    unit = "mcg" if first in ("ziconotide", "baclofen", "clonidine") else "mg"
    text = program_text(template, f"{'100' if unit == 'mcg' else '1'} {unit}/day")
    stored = programs.parse(text)
    back, built = program_form.parse_form(
        program_form.fields_of(stored, stored.device.key), stored.device.key
    )
    assert back is not None, built.errors
    assert [r for r in compare(stored, back) if r.change] == []


@settings(max_examples=80, deadline=None)
@given(
    field=st.sampled_from(sorted(BAD)),
    value=st.text(max_size=60),
    weekly=st.booleans(),
)
def test_any_text_in_any_field_gives_named_errors_never_an_exception(
    field: str, value: str, weekly: bool
) -> None:
    form = {k: [v] for k, v in {**VALID, field: value}.items()}
    if weekly:
        form["weekly"] = ["yes"]
        form["basal_0_days"] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    program, built = program_form.parse_form(form, DEVICE)
    assert (program is None) == bool(built.errors)
    assert all(e.label and e.message for e in built.errors)


def test_basal_steps_added_out_of_order_are_written_in_time_order() -> None:
    """A step added last with an earlier start (06:00 after 08:00) is not an error: the pump
    reads steps in time order and the form is written so; errors still name the right row."""
    form = {
        k: [v]
        for k, v in {
            **VALID,
            "basal_1_start": "08:00",
            "basal_1_amount": "1.2 mg/day",
            "basal_2_start": "06:00",
            "basal_2_amount": "lots",
        }.items()
    }
    _, built = program_form.parse_form(form, DEVICE)
    assert [(e.field, e.label) for e in built.errors] == [
        ("basal_2_amount", "Basal step 3 dose or rate")
    ]
    form["basal_2_amount"] = ["0.8 mg/day"]
    program, built = program_form.parse_form(form, DEVICE)
    assert program is not None, built.errors
    # 00:00 1 mg/day = 0.1 mL/day, 06:00 0.8 mg/day = 0.08, 08:00 1.2 mg/day = 0.12.
    assert [(s.start_s, s.rate_ml_per_day) for s in program.basal] == [
        (0, 0.1),
        (6 * 3600, 0.08),
        (8 * 3600, 0.12),
    ]
