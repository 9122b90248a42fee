"""FHIR R4 Questionnaire and QuestionnaireResponse for the instruments, as plain dicts (pure).

Export: ``questionnaire(instrument)`` and ``questionnaire_response(response)``; a list of
responses travels as a Bundle of type ``collection``. Import: ``instrument_from_questionnaire``
checks that a Questionnaire matches one of ours item by item (so answers keep their meaning);
``responses_from_fhir`` reads a QuestionnaireResponse or a Bundle of them into validated
``Response`` records. Procedure, time point, days from baseline and who entered the answers
travel in extensions under ``base``; the subject is an identifier, never a name.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from intrathecal.outcomes.errors import InvalidOutcomesError, raise_if_any
from intrathecal.outcomes.instruments import INSTRUMENTS, Instrument, Item, ItemKind
from intrathecal.outcomes.records import Answer, Response
from intrathecal.outcomes.validation import validate_responses
from intrathecal.units import InputError

JsonObject = dict[str, Any]

# A placeholder that can never resolve (.invalid is reserved); a clinic may pass its own base.
DEFAULT_BASE = "https://intrathecal.invalid/fhir"
ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
UNIT = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
_EXT = ("procedure", "timepoint", "days-from-baseline", "entered-by", "episode")
LOINC = "http://loinc.org"

# LOINC codes, each checked against a LOINC 2.83 terminology lookup or LOINC's own page (see
# docs/outcomes.md). Items without one here carry only the project's own codes: a LOINC code
# we could not confirm is not guessed.
QUESTIONNAIRE_LOINC: dict[str, tuple[str, str]] = {
    "promis-global-10": ("85524-7", "PROMIS short form - global - version 1.2"),
}
ITEM_LOINC: dict[tuple[str, str], tuple[str, str]] = {
    ("nrs-pain", "pain"): (
        "72514-3",
        "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
    ),
    ("promis-global-10", "global01"): (
        "61577-3",
        "In general, would you say your health is [PROMIS]",
    ),
    ("promis-global-10", "global02"): (
        "61578-1",
        "In general, would you say your quality of life is [PROMIS]",
    ),
}
# LOINC answer list LL4280-5 (Excellent 5 ... Poor 1) of Global01 and Global02.
LOINC_ANSWERS: dict[str, int] = {
    "LA9206-9": 5,
    "LA13913-1": 4,
    "LA8967-7": 3,
    "LA8968-5": 2,
    "LA8969-3": 1,
}
_ANSWER_LA = {code: la for la, code in LOINC_ANSWERS.items()}
LA_ITEMS = frozenset({("promis-global-10", "global01"), ("promis-global-10", "global02")})


def _answer_coding(base: str, inst: Instrument, item: Item, code: int) -> JsonObject:
    """A choice as a Coding: LOINC's LA code where one is confirmed, else the project's own."""
    if (inst.key, item.key) in LA_ITEMS:
        return {"system": LOINC, "code": _ANSWER_LA[code], "display": item.label_of(code)}
    return {"system": _system(base, inst, item), "code": str(code), "display": item.label_of(code)}


def _our_code(coding: Mapping[str, Any]) -> object:
    """The project's code of a Coding (a LOINC LA code is read back as its score)."""
    code = coding.get("code")
    if coding.get("system") == LOINC and code in LOINC_ANSWERS:
        return str(LOINC_ANSWERS[str(code)])
    return code


def _text(item: Item) -> str:
    return f"{item.prefix} {item.text}" if item.prefix else item.text


def _system(base: str, inst: Instrument, item: Item) -> str:
    return f"{base}/CodeSystem/{inst.key}-{item.key}"


def questionnaire_url(inst: Instrument, base: str = DEFAULT_BASE) -> str:
    return f"{base}/Questionnaire/{inst.key}"


def questionnaire(instrument: str | Instrument, base: str = DEFAULT_BASE) -> JsonObject:
    """The instrument as a FHIR R4 Questionnaire resource."""
    inst = instrument if isinstance(instrument, Instrument) else INSTRUMENTS[instrument]
    items: list[JsonObject] = []
    if inst.patient_notice:
        items.append({"linkId": "notice", "type": "display", "text": inst.patient_notice})
    for item in inst.items:
        entry: JsonObject = {
            "linkId": item.key,
            "text": _text(item),
            "type": item.kind.value,
            "required": item.required,
        }
        loinc = ITEM_LOINC.get((inst.key, item.key))
        if loinc is not None:
            entry["code"] = [{"system": LOINC, "code": loinc[0], "display": loinc[1]}]
        if item.kind is ItemKind.CHOICE:
            entry["answerOption"] = [
                {
                    "valueCoding": {
                        **_answer_coding(base, inst, item, choice.code),
                        "extension": [{"url": ORDINAL, "valueDecimal": choice.code}],
                    }
                }
                for choice in item.choices
            ]
        elif item.kind is ItemKind.INTEGER:
            extensions: list[JsonObject] = [
                {"url": MIN_VALUE, "valueInteger": item.minimum},
                {"url": MAX_VALUE, "valueInteger": item.maximum},
                {
                    "url": f"{base}/StructureDefinition/scale-anchors",
                    "valueString": f"{item.min_label}; {item.max_label}",
                },
            ]
            if item.unit:
                extensions.append(
                    {
                        "url": UNIT,
                        "valueCoding": {
                            "system": "http://unitsofmeasure.org",
                            "code": item.unit,
                            "display": item.unit,
                        },
                    }
                )
            entry["extension"] = extensions
        else:
            entry["maxLength"] = item.max_length
        items.append(entry)
    resource: JsonObject = {
        "resourceType": "Questionnaire",
        "id": inst.key,
        "url": questionnaire_url(inst, base),
        "version": inst.version,
        "name": "".join(part.capitalize() for part in inst.key.split("-")),
        "title": inst.name,
        "status": "active",
        "subjectType": ["Patient"],
        "description": f"{inst.description} Recall: {inst.recall}. Scoring: {inst.scoring}",
        "copyright": f"{inst.licence.name}. {inst.licence.terms} ({inst.licence.url})",
        "item": items,
    }
    panel = QUESTIONNAIRE_LOINC.get(inst.key)
    if panel is not None:
        resource["code"] = [{"system": LOINC, "code": panel[0], "display": panel[1]}]
    return resource


def _instrument_from_reference(reference: object, field: str) -> Instrument:
    """'<any base>/Questionnaire/<key>|<version>' -> our instrument (the version must match)."""
    if not isinstance(reference, str) or "/Questionnaire/" not in reference:
        raise InputError(
            field, f"expected a canonical '…/Questionnaire/<instrument>', got {reference!r}"
        )
    tail = reference.rsplit("/Questionnaire/", 1)[1]
    key, _, version = tail.partition("|")
    if key not in INSTRUMENTS:
        raise InputError(
            field, f"unknown questionnaire {key!r}; known: {', '.join(sorted(INSTRUMENTS))}"
        )
    inst = INSTRUMENTS[key]
    if version and version != inst.version:
        raise InputError(field, f"{key} version {version!r} is not the supported {inst.version!r}")
    return inst


def instrument_from_questionnaire(resource: Mapping[str, Any]) -> Instrument:
    """Check that a Questionnaire is one of ours, item by item; return our definition.

    A questionnaire whose items, types or answer codes differ is refused with every difference
    named by its path, because answers to changed questions would not mean the same thing.
    """
    if resource.get("resourceType") != "Questionnaire":
        raise InputError(
            "resourceType", f"expected 'Questionnaire', got {resource.get('resourceType')!r}"
        )
    url = resource.get("url")
    reference = f"{url}|{resource['version']}" if "version" in resource else url
    inst = _instrument_from_reference(reference, "url")
    errors: list[InputError] = []
    raw_items = resource.get("item")
    if not isinstance(raw_items, list):
        raise InputError("item", "expected a list of items")
    questions = [
        (i, entry)
        for i, entry in enumerate(raw_items)
        if not (isinstance(entry, dict) and entry.get("type") == "display")
    ]
    got = [entry.get("linkId") if isinstance(entry, dict) else None for _, entry in questions]
    if got != list(inst.item_keys):
        errors.append(
            InputError(
                "item", f"linkIds {got} differ from {inst.key}'s items {list(inst.item_keys)}"
            )
        )
        raise_if_any(errors)
    for (i, entry), item in zip(questions, inst.items, strict=True):
        path = f"item[{i}]"
        if entry.get("type") != item.kind.value:
            errors.append(
                InputError(
                    f"{path}.type", f"is {entry.get('type')!r}; {item.key} is {item.kind.value!r}"
                )
            )
        if entry.get("text") != _text(item):
            errors.append(
                InputError(f"{path}.text", f"differs from the published wording of {item.key}")
            )
        if item.kind is ItemKind.CHOICE:
            codes = []
            for option in entry.get("answerOption") or []:
                coding = option.get("valueCoding", {}) if isinstance(option, dict) else {}
                codes.append(_our_code(coding))
            if codes != [str(c) for c in item.codes]:
                errors.append(
                    InputError(
                        f"{path}.answerOption",
                        f"codes {codes} differ from {[str(c) for c in item.codes]}",
                    )
                )
        elif item.kind is ItemKind.INTEGER:
            bounds = {
                e.get("url"): e.get("valueInteger")
                for e in entry.get("extension") or []
                if isinstance(e, dict)
            }
            if bounds.get(MIN_VALUE) != item.minimum or bounds.get(MAX_VALUE) != item.maximum:
                errors.append(
                    InputError(
                        f"{path}.extension", f"range must be {item.minimum} to {item.maximum}"
                    )
                )
    raise_if_any(errors)
    return inst


def questionnaire_response(response: Response, base: str = DEFAULT_BASE) -> JsonObject:
    """One response as a FHIR R4 QuestionnaireResponse (answers exactly as stored)."""
    inst = INSTRUMENTS[response.instrument]
    items: list[JsonObject] = []
    for item in inst.items:
        if item.key not in response.answers:
            continue
        value = response.answers[item.key]
        answer: JsonObject
        if item.kind is ItemKind.CHOICE:
            answer = {"valueCoding": _answer_coding(base, inst, item, int(value))}
        elif item.kind is ItemKind.INTEGER:
            answer = {"valueInteger": int(value)}
        else:
            if not str(value):
                continue
            answer = {"valueString": str(value)}
        items.append({"linkId": item.key, "text": _text(item), "answer": [answer]})
    resource: JsonObject = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{questionnaire_url(inst, base)}|{inst.version}",
        "status": "completed",
        "subject": {"identifier": {"system": f"{base}/subject", "value": response.subject}},
        "extension": [
            {"url": f"{base}/StructureDefinition/procedure", "valueString": response.procedure},
            {"url": f"{base}/StructureDefinition/timepoint", "valueString": response.timepoint},
            {
                "url": f"{base}/StructureDefinition/days-from-baseline",
                "valueInteger": response.days_from_baseline,
            },
            {"url": f"{base}/StructureDefinition/entered-by", "valueCode": response.entered_by},
            {"url": f"{base}/StructureDefinition/episode", "valueInteger": response.episode},
        ],
        "item": items,
    }
    if response.collected_on is not None:
        resource["authored"] = response.collected_on.isoformat()
    return resource


def responses_bundle(responses: Sequence[Response], base: str = DEFAULT_BASE) -> JsonObject:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": questionnaire_response(r, base)} for r in responses],
    }


def responses_from_fhir(resource: Mapping[str, Any]) -> list[Response]:
    """A QuestionnaireResponse, or a Bundle of them, -> validated responses.

    Raises ``InvalidOutcomesError`` naming every bad field by its path (``entry[2].item[0]``);
    nothing is returned unless all of it is valid.
    """
    kind = resource.get("resourceType")
    if kind == "QuestionnaireResponse":
        entries: list[tuple[str, Any]] = [("", resource)]
    elif kind == "Bundle":
        raw = resource.get("entry")
        if not isinstance(raw, list) or not raw:
            raise InputError("entry", "the Bundle has no entries")
        entries = [
            (f"entry[{i}].resource", e.get("resource") if isinstance(e, dict) else None)
            for i, e in enumerate(raw)
        ]
    else:
        raise InputError(
            "resourceType", f"expected 'QuestionnaireResponse' or 'Bundle', got {kind!r}"
        )
    errors: list[InputError] = []
    responses: list[Response] = []
    names: list[str] = []
    for path, entry in entries:
        try:
            responses.append(_response(entry, path))
            names.append(path or "QuestionnaireResponse")
        except InvalidOutcomesError as exc:
            errors.extend(exc.errors)
        except InputError as exc:
            errors.append(exc)
    if not errors:
        try:
            validate_responses(responses, names)
        except InvalidOutcomesError as exc:
            errors.extend(exc.errors)
    raise_if_any(errors)
    return responses


def _at(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _response(entry: Any, path: str) -> Response:
    if not isinstance(entry, dict) or entry.get("resourceType") != "QuestionnaireResponse":
        raise InputError(path or "resourceType", "expected a QuestionnaireResponse")
    errors: list[InputError] = []
    inst = _instrument_from_reference(entry.get("questionnaire"), _at(path, "questionnaire"))
    if entry.get("status") not in ("completed", "amended"):
        errors.append(
            InputError(
                _at(path, "status"),
                f"is {entry.get('status')!r}; only completed responses are imported",
            )
        )
    identifier = (entry.get("subject") or {}).get("identifier") or {}
    subject = identifier.get("value") if isinstance(identifier, dict) else None
    if not isinstance(subject, str):
        errors.append(
            InputError(_at(path, "subject.identifier.value"), "missing pseudonymous subject id")
        )
    ext: dict[str, Any] = {}
    for e in entry.get("extension") or []:
        if isinstance(e, dict) and isinstance(e.get("url"), str):
            name = e["url"].rsplit("/", 1)[-1]
            if name in _EXT:
                ext[name] = next((v for k, v in e.items() if k.startswith("value")), None)
    for name in _EXT[:3]:
        if name not in ext:
            errors.append(InputError(_at(path, "extension"), f"missing the {name} extension"))
    collected: date | None = None
    if "authored" in entry:
        authored = entry["authored"]
        try:
            collected = date.fromisoformat(str(authored)[:10])
        except ValueError:
            errors.append(InputError(_at(path, "authored"), f"expected a date, got {authored!r}"))
    answers: dict[str, Answer] = {}
    items = entry.get("item") or []
    if not isinstance(items, list):
        errors.append(InputError(_at(path, "item"), "expected a list"))
        items = []
    for i, item in enumerate(items):
        where = _at(path, f"item[{i}]")
        if not isinstance(item, dict) or not isinstance(item.get("linkId"), str):
            errors.append(InputError(where, "expected an item with a linkId"))
            continue
        answer_list = item.get("answer") or []
        if len(answer_list) != 1 or not isinstance(answer_list[0], dict):
            errors.append(InputError(f"{where}.answer", "expected exactly one answer"))
            continue
        try:
            answers[item["linkId"]] = _answer_value(answer_list[0], f"{where}.answer[0]")
        except InputError as exc:
            errors.append(exc)
    days = ext.get("days-from-baseline", 0)
    if isinstance(days, bool) or not isinstance(days, int):
        errors.append(
            InputError(
                _at(path, "extension"), f"days-from-baseline must be a valueInteger, got {days!r}"
            )
        )
    episode = ext.get("episode", 1)
    if isinstance(episode, bool) or not isinstance(episode, int):
        errors.append(
            InputError(_at(path, "extension"), f"episode must be a valueInteger, got {episode!r}")
        )
    raise_if_any(errors)
    assert isinstance(days, int) and isinstance(episode, int)
    return Response(
        subject=str(subject),
        procedure=str(ext["procedure"]),
        timepoint=str(ext["timepoint"]),
        days_from_baseline=days,
        instrument=inst.key,
        answers=answers,
        collected_on=collected,
        entered_by=str(ext.get("entered-by") or "staff"),
        episode=episode,
    )


def _answer_value(answer: Mapping[str, Any], field: str) -> Answer:
    if "valueCoding" in answer:
        code = _our_code(answer["valueCoding"] or {})
        if not isinstance(code, str):
            raise InputError(field, "valueCoding has no code")
        return code
    if "valueInteger" in answer:
        value = answer["valueInteger"]
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(field, f"valueInteger is not an integer: {value!r}")
        return value
    if "valueDecimal" in answer:
        value = answer["valueDecimal"]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise InputError(field, f"valueDecimal is not a number: {value!r}")
        return float(value)
    if "valueString" in answer:
        value = answer["valueString"]
        if not isinstance(value, str):
            raise InputError(field, "valueString is not text")
        return value
    raise InputError(field, "expected valueCoding, valueInteger, valueDecimal or valueString")


# Scored results as Observations: LOINC where confirmed, else the project's own code system.
_SCORE_CODES: dict[tuple[str, str], tuple[str, str, str]] = {
    # (instrument, score) -> (system, code, display); system "" = the project's own
    ("nrs-pain", "pain"): (LOINC, *ITEM_LOINC[("nrs-pain", "pain")]),
    ("pgic", "pgic"): ("", "pgic", "Patient Global Impression of Change, 1-7"),
    ("percent-improvement", "percent_improvement"): (
        "",
        "percent-improvement",
        "Percent improvement since the procedure",
    ),
    ("promis-global-10", "global_physical_health_raw"): (
        "",
        "promis-gph-raw",
        "PROMIS Global Physical Health raw score, 4-20",
    ),
    ("promis-global-10", "global_mental_health_raw"): (
        "",
        "promis-gmh-raw",
        "PROMIS Global Mental Health raw score, 4-20",
    ),
    ("modified-ashworth", "mas"): ("", "mas", "Modified Ashworth grade as code 0-5"),
    ("penn-spasm", "psfs_frequency"): ("", "psfs-frequency", "Penn Spasm Frequency, 0-4"),
}
_UNITS = {"percent-improvement": ("%", "%")}


def observations(
    response: Response, scores: Mapping[str, float], base: str = DEFAULT_BASE
) -> list[JsonObject]:
    """The scored results of one (validated) response as FHIR R4 Observations."""
    out: list[JsonObject] = []
    for (instrument, score), (system, code, display) in _SCORE_CODES.items():
        if instrument != response.instrument or score not in scores:
            continue
        obs: JsonObject = {
            "resourceType": "Observation",
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "survey",
                        }
                    ]
                }
            ],
            "code": {
                "coding": [{"system": system or f"{base}/CodeSystem/scores", "code": code}],
                "text": display,
            },
            "subject": {"identifier": {"system": f"{base}/subject", "value": response.subject}},
            "extension": [
                {
                    "url": f"{base}/StructureDefinition/procedure",
                    "valueString": response.procedure,
                },
                {
                    "url": f"{base}/StructureDefinition/timepoint",
                    "valueString": response.timepoint,
                },
                {"url": f"{base}/StructureDefinition/episode", "valueInteger": response.episode},
            ],
        }
        if response.collected_on is not None:
            obs["effectiveDateTime"] = response.collected_on.isoformat()
        value = int(scores[score])
        unit = _UNITS.get(code)
        if unit is not None:
            obs["valueQuantity"] = {
                "value": value,
                "unit": unit[0],
                "system": "http://unitsofmeasure.org",
                "code": unit[1],
            }
        else:
            obs["valueInteger"] = value
        out.append(obs)
    return out


def patient_bundle(
    responses: Sequence[Response], subject: str, base: str = DEFAULT_BASE
) -> JsonObject:
    """One patient's QuestionnaireResponses and scored Observations as a collection Bundle."""
    mine = [r for r in responses if r.subject == subject]
    if not mine:
        raise InputError("--subject", f"no responses for {subject!r}")
    checked = validate_responses(mine)
    entries: list[JsonObject] = []
    for c in checked:
        entries.append({"resource": questionnaire_response(c.response, base)})
        entries += [{"resource": obs} for obs in observations(c.response, c.scored.scores, base)]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def to_json(resource: Mapping[str, Any]) -> str:
    return json.dumps(resource, indent=2, ensure_ascii=False) + "\n"


def parse_json(text: str, field: str = "FILE") -> JsonObject:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            field, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    if not isinstance(value, dict):
        raise InputError(field, "expected a JSON object (a FHIR resource)")
    return value
