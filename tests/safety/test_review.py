"""Program review: each rule has a scenario test named after it (requirement id where one
exists), then properties of the whole chain."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intrathecal.library import default_library
from intrathecal.safety.protocol import parse_protocol
from intrathecal.safety.review import Acknowledgement, RefillContext, ReviewInput, review
from intrathecal.therapy.parse import parse_program
from intrathecal.therapy.program import Program
from intrathecal.units import InputError
from tests.conftest import DAY, MONDAY

HEADER = """
device = "synchromed-ii-20"
catheter_volume = "0.19 mL"
low_reservoir_alarm = "{alarm}"
"""


def prog(drugs: dict[str, str], dose: str, alarm: str = "2 mL", library: object = None) -> Program:
    text = HEADER.format(alarm=alarm)
    for name, concentration in drugs.items():
        text += f'[[drugs]]\nname = "{name}"\nconcentration = "{concentration}"\n'
    text += f'[[basal]]\nstart = "00:00"\ndose = "{dose}"\n'
    lib = library or default_library()
    return parse_program(text, lib, check_limits=False)  # type: ignore[arg-type]


def codes(result: object) -> set[str]:
    return {f.code for f in result.findings}  # type: ignore[attr-defined]


def test_morphine_alone_at_an_ordinary_dose_is_allowed() -> None:
    # 2 mg/day is inside the opioid-tolerant starting range 1-10 mg/day (Infumorph label).
    new = prog({"morphine": "10 mg/mL"}, "2 mg/day")
    result = review(ReviewInput(new, opioid_tolerant=True))
    assert result.allowed, [f.message for f in result.findings]


def test_opca_14_hard_limit_blocks_even_with_acknowledgement() -> None:
    morphine = default_library().drug("morphine")
    hard = morphine.concentration_mcg_per_ml.hard_max
    assert hard is not None
    over = f"{hard.value * 1.5 / 1000:g} mg/mL"
    result = review(ReviewInput(prog({"morphine": over}, "2 mg/day")))
    assert "CONCENTRATION_ABOVE_HARD" in codes(result)
    assert not result.allowed
    with pytest.raises(InputError, match="cannot be acknowledged"):
        review(
            ReviewInput(prog({"morphine": over}, "2 mg/day")),
            [Acknowledgement("CONCENTRATION_ABOVE_HARD", "Dr A", "because")],
        )


def test_opca_15_soft_limit_needs_acknowledgement_with_who_and_why() -> None:
    # Hydromorphone with bupivacaine: unapproved drugs and an unapproved admixture (soft).
    # 0.1 mg/day: inside hydromorphone's starting range (0.01-0.15 mg/day), so only the two.
    new = prog({"hydromorphone": "2 mg/mL", "bupivacaine": "5 mg/mL"}, "0.1 mg/day")
    result = review(ReviewInput(new))
    assert {"DRUG_UNAPPROVED", "ADMIXTURE_UNAPPROVED"} <= codes(result)
    assert not result.allowed
    acks = [
        Acknowledgement("DRUG_UNAPPROVED", "Dr A", "refractory pain, consented"),
        Acknowledgement("ADMIXTURE_UNAPPROVED", "Dr A", "PACC line 2 admixture"),
    ]
    acknowledged = review(ReviewInput(new), acks)
    assert acknowledged.allowed
    assert acknowledged.acknowledgements == tuple(acks)
    with pytest.raises(InputError, match="needs who and why"):
        review(ReviewInput(new), [Acknowledgement("DRUG_UNAPPROVED", "", "")])
    with pytest.raises(InputError, match="not a finding"):
        review(ReviewInput(new), [Acknowledgement("NO_SUCH_CODE", "Dr A", "x")])


def test_incompatible_mixture_baclofen_is_hard() -> None:
    result = review(
        ReviewInput(prog({"baclofen": "500 mcg/mL", "morphine": "10 mg/mL"}, "100 mcg/day"))
    )
    assert "INCOMPATIBLE_MIXTURE" in codes(result)
    assert result.hard


def test_pca_m3_dose_change_per_step_limit() -> None:
    # Morphine doubled in one step: above any sensible per-step limit.
    old = prog({"morphine": "10 mg/mL"}, "2 mg/day")
    new = prog({"morphine": "10 mg/mL"}, "4 mg/day")
    result = review(ReviewInput(new, old))
    assert "DOSE_INCREASE_PER_STEP_ABOVE_HARD" in codes(result)
    row = next(r for r in result.comparison if r.setting == "morphine daily dose")
    assert (row.old, row.new) == ("2 mg/day", "4 mg/day")
    assert row.change == "+2 mg/day (+100.0%)"


def test_per_24h_change_counts_an_earlier_change_that_day() -> None:
    # A small step that is fine alone, but on top of an earlier increase the same day.
    drug = default_library().drug("morphine")
    limit = drug.change.per_day_hard
    assert limit is not None and limit.value.fraction is not None
    old = prog({"morphine": "10 mg/mL"}, "2 mg/day")
    step = 1 + limit.value.fraction * 0.6
    new = prog({"morphine": "10 mg/mL"}, f"{2 * step:.3f} mg/day")
    base = 2000 / step  # the dose 24 h ago, one earlier step of the same size
    alone = review(ReviewInput(new, old))
    assert "DOSE_INCREASE_PER_DAY_ABOVE_HARD" not in codes(alone)
    same_day = review(ReviewInput(new, old, doses_24h_ago_mcg_per_day={"morphine": base}))
    assert "DOSE_INCREASE_PER_DAY_ABOVE_HARD" in codes(same_day)


def test_stopping_a_drug_needs_acknowledgement() -> None:
    old = prog({"morphine": "10 mg/mL", "clonidine": "100 mcg/mL"}, "2 mg/day")
    new = prog({"morphine": "10 mg/mL"}, "2 mg/day")
    assert "DRUG_STOPPED" in codes(review(ReviewInput(new, old)))


def test_ec_res_low_reservoir_alarm_below_safe_volume() -> None:
    device = default_library().device("synchromed-ii-20")
    low = device.low_reservoir_alarm_min_ml.value
    if low >= 2.0:
        pytest.skip("the device does not allow an alarm below 2 mL")
    result = review(ReviewInput(prog({"morphine": "10 mg/mL"}, "2 mg/day", f"{low:g} mL")))
    assert "LOW_RESERVOIR_ALARM_BELOW_SAFE" in codes(result)


def test_ec_res_program_that_empties_the_pump_before_the_next_refill() -> None:
    # 5 mL/day from a 20 mL fill empties in 4 days; a refill 30 days away is too late.
    new = prog({"morphine": "1 mg/mL"}, "5 mg/day")
    context = RefillContext(20.0, MONDAY, MONDAY + 30 * DAY)
    result = review(ReviewInput(new, refill=context))
    assert "EMPTIES_BEFORE_REFILL" in codes(result)
    assert not result.allowed


def test_refill_interval_beyond_stability() -> None:
    new = prog({"morphine": "25 mg/mL"}, "0.5 mg/day")  # 0.02 mL/day: volume lasts long
    stability = default_library().drug("morphine").stability_days.value
    context = RefillContext(20.0, MONDAY, MONDAY + (stability + 10) * DAY)
    assert "REFILL_BEYOND_STABILITY" in codes(review(ReviewInput(new, refill=context)))


def test_clinic_protocol_tightens_a_limit() -> None:
    library = default_library()
    protocol = parse_protocol(
        '[protocol]\nname = "Test clinic v1"\nmin_low_reservoir_alarm = "3 mL"\n'
        '[drugs.morphine]\ndaily_dose_hard_max = "1 mg/day"\n',
        library,
    )
    new = prog({"morphine": "10 mg/mL"}, "2 mg/day", library=protocol.library)
    result = review(
        ReviewInput(new, min_alarm_ml=protocol.min_low_reservoir_alarm or pytest.fail())
    )
    assert "DAILY_DOSE_ABOVE_HARD" in codes(result)
    assert "LOW_RESERVOIR_ALARM_BELOW_SAFE" in codes(result)
    finding = next(f for f in result.findings if f.code == "DAILY_DOSE_ABOVE_HARD")
    assert "clinic protocol: Test clinic v1" in finding.message


def test_clinic_protocol_cannot_silently_loosen_a_hard_limit() -> None:
    library = default_library()
    hard = library.drug("morphine").daily_dose_mcg_per_day.hard_max
    assert hard is not None
    looser = f"{hard.value * 2 / 1000:g} mg/day"
    with pytest.raises(InputError, match="would loosen"):
        parse_protocol(
            f'[protocol]\nname = "x"\n[drugs.morphine]\ndaily_dose_hard_max = "{looser}"\n',
            library,
        )
    protocol = parse_protocol(
        f'[protocol]\nname = "x"\n[[loosen]]\ndrug = "morphine"\nlimit = "daily_dose_hard_max"\n'
        f'value = "{looser}"\ndecided_by = "Dr B"\nreason = "palliative care protocol"\n',
        library,
    )
    assert protocol.loosenings[0].decided_by == "Dr B"
    loosened = protocol.library.drug("morphine").daily_dose_mcg_per_day.hard_max
    assert loosened is not None and loosened.value == hard.value * 2
    assert "Dr B" in loosened.note


doses = st.floats(0.5, 60.0)


@given(doses, doses)
def test_review_is_monotone_higher_doses_never_have_fewer_hard_findings(a: float, b: float) -> None:
    low, high = sorted((a, b))
    old = prog({"morphine": "10 mg/mL", "bupivacaine": "10 mg/mL"}, "2 mg/day")
    context = RefillContext(20.0, MONDAY, MONDAY + 30 * DAY)

    def hard_count(dose: float) -> int:
        new = prog({"morphine": "10 mg/mL", "bupivacaine": "10 mg/mL"}, f"{dose:.3f} mg/day")
        result = review(ReviewInput(new, old, refill=context))
        return len(result.hard)

    assert hard_count(high) >= hard_count(low)


def test_comparison_lists_every_basal_step() -> None:
    old = prog({"morphine": "10 mg/mL"}, "2 mg/day")
    new = dataclasses.replace(old, name="new")
    rows = {r.setting: r for r in review(ReviewInput(new, old)).comparison}
    assert rows["basal from 00:00"].old == rows["basal from 00:00"].new == "0.2 mL/day"
