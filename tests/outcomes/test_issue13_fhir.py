"""Issue 13, item 8: FHIR R4 with standard codes, Observations, a per-patient export, and
every resource validated by a kept FHIR model package (fhir.resources, R4B models)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from intrathecal.cli.outcomes_cmd import app
from intrathecal.outcomes import (
    INSTRUMENTS,
    parse_responses_csv,
    questionnaire,
    responses_bundle,
    responses_from_fhir,
    validate_responses,
)
from intrathecal.outcomes.fhir import LOINC, patient_bundle
from tests.conftest import EXAMPLES

resources = pytest.importorskip("fhir.resources.R4B")
from fhir.resources.R4B.bundle import Bundle  # noqa: E402
from fhir.resources.R4B.observation import Observation  # noqa: E402
from fhir.resources.R4B.questionnaire import Questionnaire  # noqa: E402
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse  # noqa: E402

DATA = EXAMPLES / "outcomes.csv"
RESPONSES = parse_responses_csv(DATA.read_text())
MODELS: dict[str, Any] = {
    "Bundle": Bundle,
    "Observation": Observation,
    "Questionnaire": Questionnaire,
    "QuestionnaireResponse": QuestionnaireResponse,
}


def valid(resource: dict[str, Any]) -> None:
    MODELS[resource["resourceType"]].model_validate(resource)


@pytest.mark.parametrize("key", list(INSTRUMENTS))
def test_rule_every_questionnaire_is_valid_fhir(key: str) -> None:
    valid(questionnaire(key))


def test_loinc_codes_on_the_confirmed_items_and_answers() -> None:
    nrs = questionnaire("nrs-pain")
    assert nrs["item"][0]["code"] == [
        {
            "system": LOINC,
            "code": "72514-3",
            "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
        }
    ]
    promis = questionnaire("promis-global-10")
    assert promis["code"][0]["code"] == "85524-7"
    g02 = next(i for i in promis["item"] if i["linkId"] == "global02")
    assert g02["code"][0]["code"] == "61578-1"
    excellent = g02["answerOption"][0]["valueCoding"]
    assert (excellent["system"], excellent["code"], excellent["display"]) == (
        LOINC,
        "LA9206-9",
        "Excellent",
    )
    # An item without a confirmed LOINC code keeps the project's own system only.
    g03 = next(i for i in promis["item"] if i["linkId"] == "global03")
    assert "code" not in g03
    assert g03["answerOption"][0]["valueCoding"]["system"].startswith("https://")


def test_rule_every_exported_resource_is_valid_and_round_trips() -> None:
    bundle = responses_bundle(RESPONSES)
    valid(bundle)
    for entry in bundle["entry"]:
        valid(entry["resource"])
    back = responses_from_fhir(json.loads(json.dumps(bundle)))

    def clean(rs: Any) -> list[dict[str, Any]]:
        return [dict(c.response.answers) for c in validate_responses(rs)]

    assert clean(back) == clean(RESPONSES)  # LOINC LA codes read back as the same scores


def test_per_patient_export_has_observations_of_the_scores() -> None:
    # P001 baseline NRS 7, 3 months NRS 1 (examples/outcomes.csv).
    bundle = patient_bundle(RESPONSES, "P001")
    valid(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert "Observation" in kinds and "QuestionnaireResponse" in kinds
    pain = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and e["resource"]["code"]["coding"][0]["code"] == "72514-3"
    ]
    assert [(o["effectiveDateTime"], o["valueInteger"]) for o in pain] == [
        ("2025-07-19", 7),
        ("2025-10-25", 1),
    ]
    for entry in bundle["entry"]:
        valid(entry["resource"])
    result = CliRunner().invoke(app, ["fhir", "export", str(DATA), "--subject", "P001"])
    assert result.exit_code == 0 and json.loads(result.stdout) == bundle
