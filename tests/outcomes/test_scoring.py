"""Instruments and scoring against the published rules; bad answers named item by item."""

from __future__ import annotations

from typing import Any

import pytest

from intrathecal.outcomes import INSTRUMENTS, InvalidOutcomesError, ItemKind, validate_answers
from intrathecal.outcomes.scoring import rescore_global07
from intrathecal.units import InputError
from tests.outcomes.builders import promis


def test_promis_global07_rescoring_follows_the_published_table() -> None:
    # PROMIS Global Health scoring: pain 0 -> 5; 1-3 -> 4; 4-6 -> 3; 7-9 -> 2; 10 -> 1.
    expected = [5, 4, 4, 4, 3, 3, 3, 2, 2, 2, 1]
    assert [rescore_global07(p) for p in range(11)] == expected


def test_promis_global_health_raw_scores_hand_worked() -> None:
    # Global01 4, Global02 2, Global03 3, Global04 4, Global05 2, Global09r 3,
    # Global06 2, Global10r 4, Global08r 1, Global07r 8 (-> 2).
    # GPH = Global03 + Global06 + Global07r rescored + Global08r = 3 + 2 + 2 + 1 = 8.
    # GMH = Global02 + Global04 + Global05 + Global10r = 2 + 4 + 2 + 4 = 12.
    answers = {
        "global01": 4,
        "global02": 2,
        "global03": 3,
        "global04": 4,
        "global05": 2,
        "global09r": 3,
        "global06": 2,
        "global10r": 4,
        "global08r": 1,
        "global07r": 8,
    }
    scored = validate_answers("promis-global-10", answers)
    assert scored.scores["global_physical_health_raw"] == 8
    assert scored.scores["global_mental_health_raw"] == 12
    assert scored.scores["quality_of_life"] == 2
    assert scored.scores["physical_function"] == 2
    assert scored.scores["general_health"] == 4  # Global01: a single item, in neither sum
    assert scored.scores["social_roles"] == 3  # Global09r: likewise


def test_promis_extremes_give_the_published_raw_ranges() -> None:
    # Best answers everywhere (pain 0 -> 5): 4 x 5 = 20; worst (pain 10 -> 1): 4 x 1 = 4.
    best = {k: 5 for k in INSTRUMENTS["promis-global-10"].item_keys} | {"global07r": 0}
    worst = {k: 1 for k in INSTRUMENTS["promis-global-10"].item_keys} | {"global07r": 10}
    for answers, value in ((best, 20), (worst, 4)):
        scores = validate_answers("promis-global-10", answers).scores
        assert scores["global_physical_health_raw"] == value
        assert scores["global_mental_health_raw"] == value


def test_v12_codes_are_already_reversed_for_fatigue_and_emotional_problems() -> None:
    # v1.2: 5 = "None" (fatigue, Global08r) and 5 = "Never" (emotional problems, Global10r).
    inst = INSTRUMENTS["promis-global-10"]
    assert inst.item("global08r").label_of(5) == "None"
    assert inst.item("global08r").label_of(1) == "Very severe"
    assert inst.item("global10r").label_of(5) == "Never"
    assert inst.item("global10r").label_of(1) == "Always"


def test_pgic_order_is_very_much_improved_first() -> None:
    item = INSTRUMENTS["pgic"].item("change")
    assert [c.code for c in item.choices] == list(range(1, 8))
    assert item.label_of(1) == "Very much improved"
    assert item.label_of(4) == "No change"
    assert item.label_of(7) == "Very much worse"


def test_form_values_arrive_as_text_and_are_read_as_numbers() -> None:
    assert validate_answers("nrs-pain", {"pain": "7"}).answers == {"pain": 7}
    assert validate_answers("percent-improvement", {"percent": " 60 "}).scores == {
        "percent_improvement": 60
    }
    assert validate_answers("pgic", {"change": 2.0}).answers == {"change": 2}


@pytest.mark.parametrize(
    ("instrument", "answers", "field", "message"),
    [
        ("nrs-pain", {"pain": 11}, "nrs-pain.pain", "out of range; allowed 0 to 10"),
        ("nrs-pain", {"pain": -1}, "nrs-pain.pain", "out of range"),
        ("nrs-pain", {"pain": "6.5"}, "nrs-pain.pain", "whole number"),
        ("nrs-pain", {"pain": True}, "nrs-pain.pain", "whole number"),
        ("nrs-pain", {"pain": "a lot"}, "nrs-pain.pain", "whole number"),
        ("nrs-pain", {}, "nrs-pain.pain", "required"),
        ("nrs-pain", {"pain": 3, "worst": 8}, "nrs-pain.worst", "unknown item"),
        ("pgic", {"change": 0}, "pgic.change", "not an allowed answer"),
        ("pgic", {"change": 8}, "pgic.change", "1 = Very much improved"),
        ("percent-improvement", {"percent": 120}, "percent-improvement.percent", "0% to 100%"),
        ("side-effects", {}, "side-effects.nausea", "required"),
    ],
)
def test_bad_answers_are_refused_naming_the_item(
    instrument: str, answers: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidOutcomesError) as info:
        validate_answers(instrument, answers)
    assert any(e.field == field and message in e.message for e in info.value.errors)


def test_every_bad_item_is_listed_not_only_the_first() -> None:
    answers = promis() | {"global02": 6, "global06": 0}
    del answers["global03"]
    with pytest.raises(InvalidOutcomesError) as info:
        validate_answers("promis-global-10", answers)
    fields = {e.field for e in info.value.errors}
    assert fields == {
        "promis-global-10.global02",
        "promis-global-10.global06",
        "promis-global-10.global03",
    }
    assert isinstance(info.value, InputError)  # callers catching InputError catch it too


def test_unknown_instrument_is_refused() -> None:
    with pytest.raises(InputError, match="unknown instrument 'sf-36'"):
        validate_answers("sf-36", {})


def test_side_effects_flag_warning_answers_for_clinician_review() -> None:
    answers = {key: 0 for key in INSTRUMENTS["side-effects"].item_keys if key != "other"}
    quiet = validate_answers("side-effects", answers | {"nausea": 1, "itching": 1})
    assert quiet.scores == {"side_effects_count": 2}
    assert quiet.review == ()
    alarming = validate_answers("side-effects", answers | {"fever": 1, "other": "  hiccups "})
    assert alarming.scores == {"side_effects_count": 1}
    assert any("Fever" in r for r in alarming.review)
    assert any("hiccups" in r for r in alarming.review)
    assert alarming.answers["other"] == "hiccups"


def test_free_text_has_a_length_limit() -> None:
    answers = {key: 0 for key in INSTRUMENTS["side-effects"].item_keys if key != "other"}
    with pytest.raises(InvalidOutcomesError, match="at most 500 characters"):
        validate_answers("side-effects", answers | {"other": "x" * 501})


def test_every_instrument_can_be_rendered_from_its_definition() -> None:
    for inst in INSTRUMENTS.values():
        assert inst.source and inst.scoring and inst.licence.terms and inst.licence.url
        for item in inst.items:
            assert item.text
            if item.kind is ItemKind.CHOICE:
                assert item.choices and all(c.label for c in item.choices)
            elif item.kind is ItemKind.INTEGER:
                assert item.minimum is not None and item.maximum is not None
                assert item.min_label and item.max_label


def test_promis_licence_is_stated_and_left_for_the_clinic_to_check() -> None:
    licence = INSTRUMENTS["promis-global-10"].licence
    assert licence.clinic_must_check
    assert "NOT covered by this project's Apache-2.0" in licence.terms
    assert "healthmeasures.net" in licence.url
    assert not any(
        i.licence.clinic_must_check for k, i in INSTRUMENTS.items() if k != "promis-global-10"
    )
