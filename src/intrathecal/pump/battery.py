"""Battery model of the virtual pump (an assumption, stated wherever it is shown).

The battery holds a charge counted in *nominal days*. The library's service life is the
longest the battery lasts (SynchroMed II: "designed to last up to 84 months", a design life that
"depends on daily volume"), so a pump that pumped nothing would last exactly that, and every
millilitre pumped and every bolus started (motor start-ups) shortens it:

    drain (nominal days) = elapsed days
                           + VOLUME_COST_DAYS_PER_ML x volume pumped (mL)
                           + BOLUS_COST_DAYS per bolus started

At 0.5 mL/day a pump uses 1.25 nominal days a day (84 months -> 67 months); at 1.5 mL/day 1.75
(48 months). The elective replacement indicator (ERI) comes when ``eri_to_eos_days`` nominal
days are left (for SynchroMed II the pump "stops after 90 days" from ERI); end of service (EOS)
when none is left. The costs are ASSUMED (no public drain curve was found); they keep the
labelled life an upper bound, as "up to" says. Low Battery Reset (a critical alarm on
SynchroMed II, HSA notice) is a fault: a battery that drops its voltage resets the pump, which
then needs reprogramming.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from intrathecal.library.records import Device
from intrathecal.units import SECONDS_PER_DAY

DEFAULT_ERI_TO_EOS_DAYS = 90.0
VOLUME_COST_DAYS_PER_ML = 0.5  # ASSUMED, see above: each mL pumped costs half a nominal day
BOLUS_COST_DAYS = 1.0 / 24  # ASSUMED: a bolus start costs an hour of nominal life
DAY = float(SECONDS_PER_DAY)
TIME_RESOLUTION_S = 0.5  # s: far finer than any alarm needs


@dataclass(frozen=True)
class Battery:
    charge_days: float  # nominal days left to end of service
    eri_at_s: float  # predicted at the nominal drain from creation
    eos_at_s: float


def eri_to_eos_days(device: Device) -> float:
    value = device.eri_to_eos_days
    return DEFAULT_ERI_TO_EOS_DAYS if value is None else value.value


def battery_for(device: Device, now_s: float, remaining_s: float | None = None) -> Battery:
    """A battery that reaches end of service ``remaining_s`` after ``now_s`` at the nominal drain
    (default: a new battery with the device's whole service life)."""
    left = device.service_life_days.value * DAY if remaining_s is None else remaining_s
    eos = now_s + left
    return Battery(
        charge_days=left / DAY,
        eri_at_s=eos - eri_to_eos_days(device) * DAY,
        eos_at_s=eos,
    )


def drain_days(elapsed_s: float, volume_ml: float) -> float:
    """Nominal days used over ``elapsed_s`` in which ``volume_ml`` was pumped."""
    return elapsed_s / DAY + VOLUME_COST_DAYS_PER_ML * volume_ml


def time_to_drain(
    t0: float, amount_days: float, volume_between: Callable[[float, float], float] | None
) -> float:
    """When ``amount_days`` will have been used from ``t0``; ``volume_between(t0, t)`` is the
    volume pumped (None: nothing is pumped). The drain is monotone in t, so bisection finds it;
    the fixed part bounds it from above."""
    if amount_days <= 0:
        return t0
    latest = t0 + amount_days * DAY
    if volume_between is None:
        return latest
    low, high = t0, latest
    while high - low > TIME_RESOLUTION_S:
        middle = (low + high) / 2
        if drain_days(middle - t0, volume_between(t0, middle)) >= amount_days:
            high = middle
        else:
            low = middle
    return high


def assumption(device: Device) -> str:
    """The battery model in words, with the provenance of each number."""
    if device.eri_to_eos_days is not None:
        eri = (
            f"ERI {eri_to_eos_days(device):g} nominal days before EOS "
            f"({device.eri_to_eos_days.provenance})"
        )
    else:
        eri = (
            f"ERI {DEFAULT_ERI_TO_EOS_DAYS:g} nominal days before EOS (ASSUMED: the library has no "
            "value for this device; the SynchroMed II value is used)"
        )
    life = device.service_life_days
    return (
        f"battery model: a service life of up to {life.value:g} days ({life.provenance}), "
        f"shortened by {VOLUME_COST_DAYS_PER_ML:g} day per mL pumped and "
        f"{BOLUS_COST_DAYS * 24:g} h per bolus (ASSUMED: no public drain curve); "
        f"{eri}"
    )
