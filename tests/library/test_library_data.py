"""The bundled drug and device library: complete, sourced, internally consistent."""

from __future__ import annotations

import pytest

from intrathecal.library import BolusMode, DeviceKind, Library, Sourced
from intrathecal.library.records import Bounds, ChangeBounds

DRUGS = [
    "morphine",
    "hydromorphone",
    "fentanyl",
    "sufentanil",
    "bupivacaine",
    "clonidine",
    "ziconotide",
    "baclofen",
]
DEVICES = [
    "synchromed-ii-20",
    "synchromed-ii-40",
    "prometra-ii-20",
    "prometra-ii-40",
    "fixed-rate-20",
]


def all_sourced(record: object) -> list[Sourced[object]]:
    found: list[Sourced[object]] = []
    for name in getattr(record, "__dataclass_fields__", {}):
        value = getattr(record, name)
        if isinstance(value, Sourced):
            found.append(value)
        elif isinstance(value, (Bounds, ChangeBounds)):
            found.extend(all_sourced(value))
        elif isinstance(value, dict):
            for item in value.values():
                found.extend(all_sourced(item))
    return found


def test_required_drugs_and_devices_are_present(library: Library) -> None:
    assert set(DRUGS) <= set(library.drugs)
    assert set(DEVICES) <= set(library.devices)


@pytest.mark.parametrize("key", DRUGS)
def test_every_drug_value_has_a_source_and_a_hard_limit(library: Library, key: str) -> None:
    drug = library.drug(key)
    values = all_sourced(drug)
    assert values
    for value in values:
        assert value.source.citation.strip()
    for bounds in (drug.concentration_mcg_per_ml, drug.daily_dose_mcg_per_day, drug.bolus_dose_mcg):
        assert bounds.hard_max is not None
        if bounds.soft_max is not None:
            assert bounds.soft_max.value <= bounds.hard_max.value


@pytest.mark.parametrize("key", DEVICES)
def test_every_device_value_has_a_source(library: Library, key: str) -> None:
    device = library.device(key)
    for value in device.sourced_values().values():
        assert value.source.citation.strip()
    assert device.min_rate_ml_per_day.value <= device.max_rate_ml_per_day.value
    assert device.low_reservoir_alarm_max_ml.value < device.reservoir_ml.value


def test_reservoir_sizes(library: Library) -> None:
    for key in DEVICES:
        size = 40.0 if key.endswith("-40") else 20.0
        assert library.device(key).reservoir_ml.value == size


def test_known_verified_facts(library: Library) -> None:
    # domain-facts.md: SynchroMed II minimum 0.048 mL/day [V]; Prometra catheter 0.0026 mL/cm
    # [V]; ziconotide maximum 19.2 mcg/day [V]; SynchroMed flex dosing up to 13 steps [V].
    synchromed = library.device("synchromed-ii-20")
    assert synchromed.min_rate_ml_per_day.value == 0.048
    assert synchromed.min_rate_ml_per_day.verified
    prometra = library.device("prometra-ii-20")
    assert prometra.catheter_ml_per_cm.value == 0.0026
    assert prometra.catheter_ml_per_cm.verified
    ziconotide = library.drug("ziconotide")
    limits = [
        ziconotide.daily_dose_mcg_per_day.soft_max,
        ziconotide.daily_dose_mcg_per_day.hard_max,
    ]
    assert any(v is not None and v.value == pytest.approx(19.2) and v.verified for v in limits)
    assert synchromed.max_basal_steps_per_day.value == 13


def test_baclofen_is_not_mixable_and_has_origin_profiles(library: Library) -> None:
    baclofen = library.drug("baclofen")
    assert baclofen.mixable.value is False
    assert {"spinal", "cerebral"} <= set(baclofen.change_profiles)


def test_approval_status(library: Library) -> None:
    # FDA 2018: only Infumorph (morphine) and Prialt (ziconotide) for pain; baclofen for
    # spasticity. Everything else is off-label in a pump.
    approved = {k for k in DRUGS if library.drug(k).approved_for_pump.value}
    assert approved == {"morphine", "ziconotide", "baclofen"}


def test_unverified_values_exist_and_are_flagged(library: Library) -> None:
    # The library is honest: much of it is not yet verified, and says so.
    values = [v for k in DRUGS for v in all_sourced(library.drug(k))]
    assert any(not v.verified for v in values)
    assert all("UNVERIFIED" in v.provenance for v in values if not v.verified)


def test_fixed_rate_pump_has_no_boluses_and_labelled_rates(library: Library) -> None:
    pump = library.device("fixed-rate-20")
    assert pump.kind is DeviceKind.FIXED_RATE
    assert pump.bolus_modes == frozenset()
    assert pump.fixed_rates_ml_per_day is not None
    synchromed = library.device("synchromed-ii-20")
    assert BolusMode.DEMAND in synchromed.bolus_modes
