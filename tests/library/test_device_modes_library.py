"""Device modes and figures from each device's own sources (issue 16, item 2)."""

from __future__ import annotations

import pytest

from intrathecal.library import default_library
from intrathecal.library.parse import parse_library
from intrathecal.library.records import DeliveryMode, DeviceKind
from intrathecal.units import InputError
from tests.library.test_library_audit import library_texts

# Source ids that belong to one manufacturer's devices: no other device may cite them.
OWN_SOURCES = {
    "Medtronic": ("prialt-titration", "medtronic-", "fda-recall-2013", "anzca-", "synchromed-"),
    "Flowonix": ("prometra-",),
}


def test_every_device_lists_its_modes_and_a_fixed_rate_pump_only_fixed_rate() -> None:
    for device in default_library().devices.values():
        modes = device.delivery_modes
        assert modes
        if device.kind is DeviceKind.FIXED_RATE:
            assert modes == (DeliveryMode.FIXED_RATE,)
        else:
            assert DeliveryMode.FIXED_RATE not in modes
            assert DeliveryMode.CONTINUOUS in modes and device.stepped_mode is not None


def test_no_device_borrows_another_manufacturers_figure() -> None:
    for device in default_library().devices.values():
        for name, value in device.sourced_values().items():
            for maker, prefixes in OWN_SOURCES.items():
                if device.manufacturer != maker:
                    assert not value.source.id.startswith(prefixes), (device.key, name)


def test_prometra_figures_are_its_own_and_marked() -> None:
    prometra = default_library().device("prometra-ii-20")
    # IFU p.22: accuracy endpoint 85-115% of the programmed volume.
    assert prometra.accuracy_fraction.value == 0.15 and prometra.accuracy_fraction.verified
    assert prometra.actuation_volume_ml is not None
    assert prometra.actuation_volume_ml.value == 0.002
    assert not prometra.actuation_volume_ml.verified  # about 2 microlitres, not found in a source
    assert not prometra.min_rate_ml_per_day.verified
    assert prometra.min_rate_ml_per_day.source.id == "project-placeholder"
    assert DeliveryMode.PERIODIC_FLOW in prometra.delivery_modes


def test_codman_3000_is_a_constant_flow_pump_with_marked_placeholders() -> None:
    codman = default_library().device("codman-3000")
    assert codman.kind is DeviceKind.FIXED_RATE and not codman.bolus_modes
    assert codman.fixed_rates_ml_per_day is not None
    assert not codman.fixed_rates_ml_per_day.verified
    assert not codman.reservoir_ml.verified
    assert codman.modes is not None and codman.modes.verified


def test_an_unknown_or_wrong_mode_in_the_library_is_refused() -> None:
    drugs, devices = library_texts()
    unknown = devices.replace(
        'value = ["continuous", "flex"]', 'value = ["continuous", "bolus"]', 1
    )
    with pytest.raises(InputError, match="'bolus' is not a delivery mode"):
        parse_library(drugs, unknown)
    fixed = devices.replace('value = ["continuous", "flex"]', 'value = ["fixed-rate"]', 1)
    with pytest.raises(InputError, match="a fixed-rate pump has the one mode fixed-rate"):
        parse_library(drugs, fixed)
