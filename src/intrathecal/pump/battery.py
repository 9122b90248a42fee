"""Battery model of the virtual pump (an assumption, stated wherever it is shown).

The battery runs for the device's service life from the moment it starts; the elective
replacement indicator (ERI) comes ``eri_to_eos_days`` before end of service (EOS), and delivery
stops at EOS. For SynchroMed II that is 84 months and 90 days (Medtronic: "designed to last up
to 84 months"; the pump "stops after 90 days" from ERI). Real drain depends on the daily
volume and on battery faults; this model ignores both. A device without a library ERI-to-EOS
value takes 90 days, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from intrathecal.library.records import Device
from intrathecal.units import SECONDS_PER_DAY

DEFAULT_ERI_TO_EOS_DAYS = 90.0


@dataclass(frozen=True)
class Battery:
    eri_at_s: float
    eos_at_s: float


def eri_to_eos_days(device: Device) -> float:
    value = device.eri_to_eos_days
    return DEFAULT_ERI_TO_EOS_DAYS if value is None else value.value


def battery_for(device: Device, now_s: float, remaining_s: float | None = None) -> Battery:
    """A battery that reaches end of service ``remaining_s`` after ``now_s`` (default: a new
    battery with the device's whole service life)."""
    left = device.service_life_days.value * SECONDS_PER_DAY if remaining_s is None else remaining_s
    eos = now_s + left
    return Battery(eri_at_s=eos - eri_to_eos_days(device) * SECONDS_PER_DAY, eos_at_s=eos)


def assumption(device: Device) -> str:
    """The battery model in words, with the provenance of each number."""
    if device.eri_to_eos_days is not None:
        eri = (
            f"ERI {eri_to_eos_days(device):g} days before EOS ({device.eri_to_eos_days.provenance})"
        )
    else:
        eri = (
            f"ERI {DEFAULT_ERI_TO_EOS_DAYS:g} days before EOS (ASSUMED: the library has no value "
            "for this device; the SynchroMed II value is used)"
        )
    life = device.service_life_days
    return (
        f"battery model: constant drain over a service life of {life.value:g} days "
        f"({life.provenance}); {eri}; the drain does not depend on the delivered volume"
    )
