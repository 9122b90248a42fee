"""FHIR R4 Questionnaire / QuestionnaireResponse: structure, round trips, refusals by path."""

from __future__ import annotations

import copy
import json

import pytest

from intrathecal.outcomes import (
    INSTRUMENTS,
    InvalidOutcomesError,
    instrument_from_questionnaire,
    parse_responses_csv,
    questionnaire,
    questionnaire_response,
    responses_bundle,
    responses_from_fhir,
)
from intrathecal.outcomes.fhir import ORDINAL, parse_json, to_json
from intrathecal.units import InputError
from tests.conftest import EXAMPLES

RESPONSES = parse_responses_csv((EXAMPLES / "outcomes.csv").read_text())


def test_promis_questionnaire_structure() -> None:
    q = questionnaire("promis-global-10")
    assert q["resourceType"] == "Questionnaire" and q["status"] == "active"
    assert q["url"].endswith("/Questionnaire/promis-global-10") and q["version"] == "1.2"
    assert "NOT covered by this project's Apache-2.0" in q["copyright"]
    items = q["item"]
    assert [i["linkId"] for i in items] == list(INSTRUMENTS["promis-global-10"].item_keys)
    fatigue = next(i for i in items if i["linkId"] == "global08r")
    assert fatigue["type"] == "choice" and fatigue["required"] is True
    assert fatigue["text"].startswith("In the past 7 days...")
    first = fatigue["answerOption"][0]["valueCoding"]
    assert (first["code"], first["display"]) == ("5", "None")
    assert first["extension"] == [{"url": ORDINAL, "valueDecimal": 5}]
    pain = next(i for i in items if i["linkId"] == "global07r")
    assert pain["type"] == "integer"
    bounds = {e["url"].rsplit("/", 1)[1]: e.get("valueInteger") for e in pain["extension"]}
    assert (bounds["minValue"], bounds["maxValue"]) == (0, 10)


def test_side_effects_questionnaire_starts_with_the_patient_notice() -> None:
    q = questionnaire("side-effects")
    assert q["item"][0]["type"] == "display" and "emergency" in q["item"][0]["text"]
    assert q["item"][-1] == {
        "linkId": "other",
        "text": INSTRUMENTS["side-effects"].item("other").text,
        "type": "text",
        "required": False,
        "maxLength": 500,
    }


def test_every_questionnaire_is_recognised_on_import() -> None:
    for key in INSTRUMENTS:
        text = to_json(questionnaire(key))
        assert instrument_from_questionnaire(parse_json(text)).key == key


def test_an_altered_questionnaire_is_refused_item_by_item() -> None:
    q = copy.deepcopy(questionnaire("pgic"))
    q["item"][0]["text"] = "How are you?"
    q["item"][0]["answerOption"] = q["item"][0]["answerOption"][:5]
    with pytest.raises(InvalidOutcomesError) as info:
        instrument_from_questionnaire(q)
    assert {e.field for e in info.value.errors} == {"item[0].text", "item[0].answerOption"}
    q = copy.deepcopy(questionnaire("nrs-pain"))
    q["version"] = "2"
    with pytest.raises(InputError, match="version '2'"):
        instrument_from_questionnaire(q)


def test_questionnaire_response_carries_codes_labels_and_context() -> None:
    followup = next(r for r in RESPONSES if r.instrument == "pgic")
    qr = questionnaire_response(followup)
    assert qr["questionnaire"].endswith("/Questionnaire/pgic|1")
    assert qr["status"] == "completed"
    assert qr["subject"] == {
        "identifier": {"system": qr["subject"]["identifier"]["system"], "value": followup.subject}
    }
    coding = qr["item"][0]["answer"][0]["valueCoding"]
    assert coding["code"] == str(followup.answers["change"])
    assert coding["display"] == INSTRUMENTS["pgic"].item("change").label_of(int(coding["code"]))
    context = {e["url"].rsplit("/", 1)[1]: e for e in qr["extension"]}
    assert context["timepoint"]["valueString"] == "3 months"
    assert context["days-from-baseline"]["valueInteger"] == followup.days_from_baseline
    assert followup.collected_on is not None
    assert qr["authored"] == followup.collected_on.isoformat()


def test_bundle_round_trip_gives_back_every_response() -> None:
    text = to_json(responses_bundle(RESPONSES))
    again = responses_from_fhir(json.loads(text))
    assert len(again) == len(RESPONSES)
    clean = [(r.subject, r.timepoint, r.instrument, dict(r.answers)) for r in RESPONSES]
    back = [(r.subject, r.timepoint, r.instrument, dict(r.answers)) for r in again]
    # Choice codes come back as text ('2') from a valueCoding and are read as numbers on
    # validation; compare after normalising.
    norm = lambda rows: [(s, t, i, {k: str(v) for k, v in a.items()}) for s, t, i, a in rows]  # noqa: E731
    assert norm(back) == norm(clean)


def test_bad_questionnaire_responses_are_refused_by_path() -> None:
    bundle = responses_bundle(RESPONSES[:4])
    bad = copy.deepcopy(bundle)
    bad["entry"][1]["resource"]["item"][0]["answer"] = [{"valueInteger": 42}]
    bad["entry"][2]["resource"]["status"] = "in-progress"
    bad["entry"][3] = copy.deepcopy(bad["entry"][0])  # a duplicate of the first
    with pytest.raises(InvalidOutcomesError) as info:
        responses_from_fhir(bad)
    fields = [e.field for e in info.value.errors]
    assert "entry[2].resource.status" in fields
    with pytest.raises(InvalidOutcomesError) as info:
        del bad["entry"][2]
        responses_from_fhir(bad)
    messages = " ".join(str(e) for e in info.value.errors)
    assert "42 is not an allowed answer" in messages
    assert "duplicate" in messages


@pytest.mark.parametrize(
    ("resource", "field"),
    [
        ({"resourceType": "Patient"}, "resourceType"),
        ({"resourceType": "Bundle", "entry": []}, "entry"),
        (
            {"resourceType": "QuestionnaireResponse", "questionnaire": "x/Questionnaire/sf-36"},
            "questionnaire",
        ),
    ],
)
def test_unreadable_resources_are_refused(resource: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as info:
        responses_from_fhir(resource)
    assert info.value.field == field


def test_json_text_errors_name_the_position() -> None:
    with pytest.raises(InputError, match="line 1, column"):
        parse_json("{not json")
    with pytest.raises(InputError, match="JSON object"):
        parse_json("[1, 2]")
