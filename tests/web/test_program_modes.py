"""The program editor offers the modes of the patient's device only (issue 16 item 6).

The mode selector lists the implanted pump's own modes (``therapy.modes``, the list the parser
enforces) and shows the fields the chosen mode takes; the server refuses a mode the device lacks,
naming the device beside the mode field, and saves nothing; a constant-flow pump has no program
to edit; a stored program in each mode, shown in the form and posted back, is the same program.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from intrathecal.library.records import DeliveryMode
from intrathecal.safety.comparison import compare
from intrathecal.store import programs
from intrathecal.store.models import ProgramVersion
from intrathecal.web import program_form
from tests.store.pump_scenario import morphine_program
from tests.web.conftest import Clinic, page_sign_in
from tests.web.mode_patients import PROMETRA_PERIODIC, device_patient

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "device-modes"

SYNCHROMED_FLEX = """device = "synchromed-ii-20"
mode = "flex"
catheter_volume = "0.2 mL"
low_reservoir_alarm = "4 mL"

[[drugs]]
name = "morphine"
concentration = "10 mg/mL"

[[basal]]
start = "00:00"
dose = "0.8 mg/day"

[[basal]]
start = "08:00"
dose = "1.2 mg/day"

[[periodic_bolus]]
start = "12:00"
dose = "0.1 mg"
duration = "1 h"

[demand_bolus]
dose = "0.05 mg"
duration = "10 min"
lockout = "4 h"
max_per_24h = 4
"""
# Prometra periodic flow, as the page posts it: two doses, no basal fields at all.
PERIODIC_FORM = {
    "mode": "periodic-flow",
    "catheter_volume": "0.2 mL",
    "low_reservoir_alarm": "3 mL",
    "drug_0_name": "morphine",
    "drug_0_concentration": "10 mg/mL",
    "periodic_0_start": "08:00",
    "periodic_0_amount": "0.5 mg",
    "periodic_0_duration": "30 min",
    "periodic_1_start": "20:00",
    "periodic_1_amount": "0.5 mg",
    "periodic_1_duration": "30 min",
}


def count_versions(clinic: Clinic, pid: int) -> int:
    with clinic.sessions() as session:
        query = select(func.count()).where(ProgramVersion.patient_id == pid)
        return session.execute(query).scalar_one()


def signed_in(
    clinic: Clinic, mrn: str, device: str, program: str | None
) -> tuple[TestClient, str, int, str]:
    """A physician's browser session on a new patient with ``device``: client, csrf, id, page."""
    with clinic.sessions.begin() as session:
        pid = device_patient(session, mrn, device, program).id
    client = TestClient(clinic.client.app, raise_server_exceptions=False)
    page_sign_in(client, "physician")
    page = client.get(f"/patients/{pid}/program")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    return client, csrf.group(1) if csrf else "", pid, page.text


def offered(page: str) -> list[str]:
    select_html = re.search(r'<select name="mode".*?</select>', page, re.S)
    assert select_html is not None
    return re.findall(r'<option value="([^"]+)"', select_html.group(0))


def test_the_selector_offers_the_prometra_its_own_modes_and_hides_the_basal_of_periodic_flow(
    clinic: Clinic,
) -> None:
    _, _, _, page = signed_in(clinic, "MODE0001", "prometra-ii-20", PROMETRA_PERIODIC)
    assert offered(page) == ["continuous", "multiple-rates", "periodic-flow"]
    assert re.search(r'<option value="periodic-flow" selected>periodic flow', page)
    # Periodic flow has no basal: the section is hidden and disabled (never posted); the doses
    # are shown, two rows as stored.
    basal = re.search(r'<fieldset id="basal-fields"[^>]*>', page)
    assert basal is not None and "hidden disabled" in basal.group(0)
    doses = re.search(r'<fieldset id="periodic-fields"[^>]*>', page)
    assert doses is not None and "hidden" not in doses.group(0)
    assert 'value="20:00"' in page and "Doses at set times (no flow between them)" in page


def test_the_selector_offers_the_synchromed_continuous_and_flex_only(clinic: Clinic) -> None:
    _, _, _, page = signed_in(clinic, "MODE0002", "synchromed-ii-20", morphine_program("10 mg/mL"))
    assert offered(page) == ["continuous", "flex"]
    assert re.search(r'<option value="continuous" selected>simple continuous', page)


def test_a_mode_the_device_lacks_is_refused_beside_the_field_naming_the_device_nothing_saved(
    clinic: Clinic,
) -> None:
    """Periodic flow posted for a SynchroMed II (a forged form: the page never offers it)."""
    client, csrf, pid, _ = signed_in(
        clinic, "MODE0003", "synchromed-ii-20", morphine_program("10 mg/mL")
    )
    before = count_versions(clinic, pid)
    form = {**PERIODIC_FORM, "low_reservoir_alarm": "4 mL", "replaces_version": "1"}
    page = client.post(
        f"/patients/{pid}/program", data={**form, "csrf_token": csrf, "step": "sign", "reason": "r"}
    )
    assert page.status_code == 422
    expected = (
        "Medtronic SynchroMed II 20 mL (8637-20) has no periodic-flow mode; its modes: "
        "continuous, flex"
    )
    assert f'data-for="mode">{expected}<' in page.text
    assert "Not saved" in page.text
    # The refused value stays in the selector, marked, beside its error.
    assert "periodic-flow (not a mode of this pump)" in page.text
    review = client.post(f"/patients/{pid}/program/review", data={**form, "csrf_token": csrf})
    assert review.json()["errors"] == [
        {"field": "mode", "label": "Delivery mode", "message": expected}
    ]
    assert count_versions(clinic, pid) == before


def test_a_basal_posted_with_periodic_flow_is_refused_not_dropped(clinic: Clinic) -> None:
    client, csrf, pid, _ = signed_in(clinic, "MODE0004", "prometra-ii-20", PROMETRA_PERIODIC)
    before = count_versions(clinic, pid)
    form = {**PERIODIC_FORM, "basal_0_start": "00:00", "basal_0_amount": "0.1 mL/day"}
    errors = client.post(
        f"/patients/{pid}/program/review", data={**form, "csrf_token": csrf}
    ).json()["errors"]
    assert [(e["field"], e["label"]) for e in errors] == [("basal", "Basal steps")]
    assert "no flow between them" in errors[0]["message"]
    page = client.post(
        f"/patients/{pid}/program",
        data={**form, "csrf_token": csrf, "step": "sign", "reason": "r", "replaces_version": "1"},
    )
    assert page.status_code == 422
    assert count_versions(clinic, pid) == before


def test_periodic_flow_with_no_dose_is_refused_at_the_doses(clinic: Clinic) -> None:
    client, csrf, pid, _ = signed_in(clinic, "MODE0005", "prometra-ii-20", PROMETRA_PERIODIC)
    form = {k: v for k, v in PERIODIC_FORM.items() if not k.startswith("periodic_")}
    errors = client.post(
        f"/patients/{pid}/program/review", data={**form, "csrf_token": csrf}
    ).json()["errors"]
    assert [(e["field"], e["label"]) for e in errors] == [("periodic", "Periodic doses")]


def test_a_periodic_flow_program_is_signed_from_the_page(clinic: Clinic) -> None:
    """By hand: 0.5 mg at 08:00 and 0.4 mg at 20:00 of morphine 10 mg/mL = 0.9 mg/day, 0.09
    mL/day; from 1 mg/day that is -10%, inside the 20% soft limit."""
    client, csrf, pid, _ = signed_in(clinic, "MODE0006", "prometra-ii-20", PROMETRA_PERIODIC)
    form = {**PERIODIC_FORM, "periodic_1_amount": "0.4 mg", "replaces_version": "1"}
    review = client.post(f"/patients/{pid}/program/review", data={**form, "csrf_token": csrf})
    data = review.json()
    assert data["ok"] and data["allowed"], data
    assert data["totals"]["drugs"][0]["mean"] == "0.9 mg/day"
    assert data["totals"]["volume"] == "0.09 mL/day"
    page = client.post(
        f"/patients/{pid}/program",
        data={**form, "csrf_token": csrf, "step": "sign", "reason": "less at night"},
    )
    assert page.status_code == 200, page.text[:500]
    with clinic.sessions() as session:
        stored = programs.parse(programs.latest(session, pid).program_toml)  # type: ignore[union-attr]
    assert stored.mode is DeliveryMode.PERIODIC_FLOW
    assert [b.volume_ml for b in stored.periodic] == [0.05, 0.04]
    assert [s.rate_ml_per_day for s in stored.basal] == [0.0]  # no flow between the doses


@pytest.mark.parametrize("device", ["codman-3000", "fixed-rate-20"])
def test_a_constant_flow_pump_has_no_program_to_edit_and_links_the_refill_wizard(
    clinic: Clinic, device: str
) -> None:
    mrn = "MODE0007" if device == "codman-3000" else "MODE0008"
    client, _, pid, page = signed_in(clinic, mrn, device, None)
    assert 'id="no-program"' in page and 'id="program-editor"' not in page
    assert f'href="/patients/{pid}/refill"' in page
    assert "The dose changes only through the concentration, at a refill." in page
    # A form posted anyway is refused, naming the pump; nothing saved.
    token = client.get(f"/patients/{pid}/program/toml").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', token)
    assert csrf is not None
    form = {
        "mode": "fixed-rate",
        "catheter_volume": "0.2 mL",
        "low_reservoir_alarm": "3 mL",
        "drug_0_name": "morphine",
        "drug_0_concentration": "10 mg/mL",
        "basal_0_start": "00:00",
        "basal_0_amount": "1 mL/day",
        "csrf_token": csrf.group(1),
    }
    errors = client.post(f"/patients/{pid}/program/review", data=form).json()["errors"]
    assert [e["field"] for e in errors] == ["mode"]
    assert "has no program to edit" in errors[0]["message"]
    answer = client.post(f"/patients/{pid}/program", data={**form, "step": "sign", "reason": "r"})
    assert answer.status_code == 422
    assert count_versions(clinic, pid) == 0


ROUND_TRIP = {
    "synchromed continuous": morphine_program("10 mg/mL"),
    "synchromed flex with boluses": SYNCHROMED_FLEX,
    "prometra constant flow": (EXAMPLES / "prometra-constant.toml").read_text(),
    "prometra multiple rates": (EXAMPLES / "prometra-multiple-rates.toml").read_text(),
    "prometra periodic flow": (EXAMPLES / "prometra-periodic.toml").read_text(),
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIP))
def test_each_modes_stored_program_round_trips_through_the_form(name: str) -> None:
    stored = programs.parse(ROUND_TRIP[name])
    fields = program_form.fields_of(stored, stored.device.key)
    assert fields["mode"] == [stored.mode.value]
    back, built = program_form.parse_form(fields, stored.device.key)
    assert back is not None, built.errors
    assert back.mode is stored.mode
    assert [r for r in compare(stored, back) if r.change] == []
    assert back.basal == stored.basal and back.periodic == stored.periodic
    assert back.demand == stored.demand


def test_the_editor_offers_every_mode_the_parser_accepts_and_no_other() -> None:
    from intrathecal.library import default_library
    from intrathecal.therapy.modes import device_modes

    for device in default_library().devices.values():
        editable = {m.mode for m in program_form.editable_modes(device)}
        assert editable == {m.mode for m in device_modes(device)} - {DeliveryMode.FIXED_RATE}
        assert bool(program_form.no_program(device)) == (not editable)


# One basal step of 0.1 mL/day (a rate, so that no drug conversion is involved) for the modes
# with a basal; two doses for periodic flow.
def _form_for(mode: DeliveryMode) -> dict[str, list[str]]:
    form = {k: [v] for k, v in PERIODIC_FORM.items()} | {"mode": [mode.value]}
    if mode is not DeliveryMode.PERIODIC_FLOW:
        form = {k: v for k, v in form.items() if not k.startswith("periodic_")}
        form |= {"basal_0_start": ["00:00"], "basal_0_amount": ["0.1 mL/day"]}
    return form


@pytest.mark.parametrize("mode", list(DeliveryMode))
def test_every_mode_a_device_lacks_is_refused_at_the_mode_field_naming_the_device(
    mode: DeliveryMode,
) -> None:
    """Every device against every mode: a mode the device has is accepted (fixed rate aside: no
    program in the editor), a mode it lacks is refused at ``mode`` alone, naming the device."""
    from intrathecal.library import default_library

    for device in default_library().devices.values():
        program, built = program_form.parse_form(_form_for(mode), device.key)
        if not program_form.editable_modes(device):
            assert [e.field for e in built.errors] == ["mode"] and program is None
            assert device.name in built.errors[0].message
        elif mode in {m.mode for m in program_form.editable_modes(device)}:
            assert program is not None and program.mode is mode, (device.key, built.errors)
        else:
            assert program is None
            assert [(e.field, e.label) for e in built.errors] == [("mode", "Delivery mode")]
            assert built.errors[0].message.startswith(f"{device.name} has no {mode.value} mode")
