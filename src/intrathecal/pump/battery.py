"""Battery model of the virtual pump (an assumption, stated wherever it is shown).

The battery holds a charge counted in *nominal days*: the days it would last at the nominal
drain. The library's service life is the nominal case (SynchroMed II: "designed to last up to
84 months", a design life that "depends on daily volume"). The drain has a fixed part (clock,
telemetry, housekeeping) and a part proportional to the volume pumped, and every bolus start
costs a little more (motor start-ups):

    drain (nominal days) = IDLE_SHARE x elapsed days
                           + (1 - IDLE_SHARE) x volume pumped / NOMINAL_ML_PER_DAY
                           + BOLUS_COST_DAYS per bolus started

so a pump delivering NOMINAL_ML_PER_DAY uses one nominal day per day and lasts its service
life; one delivering less lasts longer, one delivering more or bolusing often, less. The
elective replacement indicator (ERI) comes when ``eri_to_eos_days`` nominal days are left (for
SynchroMed II the pump "stops after 90 days" from ERI at the nominal drain); end of service
(EOS) when none is left. The split and the costs are ASSUMED (no public drain curve was found);
NOMINAL_ML_PER_DAY is the middle of the ideal 0.25-0.5 mL/day that domain-facts.md gives for
battery life. Low Battery Reset (a critical alarm on SynchroMed II, HSA notice) is a fault: a
battery that drops its voltage resets the pump, which then needs reprogramming.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from intrathecal.library.records import Device
from intrathecal.units import SECONDS_PER_DAY

DEFAULT_ERI_TO_EOS_DAYS = 90.0
NOMINAL_ML_PER_DAY = 0.5  # ASSUMED, see above
IDLE_SHARE = 0.5  # ASSUMED: half the nominal drain does not depend on the volume
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
    return IDLE_SHARE * elapsed_s / DAY + (1 - IDLE_SHARE) * volume_ml / NOMINAL_ML_PER_DAY


def time_to_drain(
    t0: float, amount_days: float, volume_between: Callable[[float, float], float] | None
) -> float:
    """When ``amount_days`` will have been used from ``t0``; ``volume_between(t0, t)`` is the
    volume pumped (None: nothing is pumped). The drain is monotone in t, so bisection finds it;
    the fixed part bounds it from above."""
    if amount_days <= 0:
        return t0
    latest = t0 + amount_days / IDLE_SHARE * DAY
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
        f"battery model: a service life of {life.value:g} days ({life.provenance}) at the "
        f"nominal {NOMINAL_ML_PER_DAY:g} mL/day; drain {IDLE_SHARE:.0%} fixed and "
        f"{1 - IDLE_SHARE:.0%} in proportion to the volume pumped, plus "
        f"{BOLUS_COST_DAYS * 24:g} h of nominal life per bolus (ASSUMED: no public drain curve); "
        f"{eri}"
    )
