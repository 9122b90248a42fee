"""The delivery modes a device offers and the program fields each one uses.

The structured program editor calls :func:`device_modes` so that it offers the modes of the
patient's device only; the parser refuses any other (``therapy.parse``). One home for both.
"""

from __future__ import annotations

from dataclasses import dataclass

from intrathecal.library.records import BolusMode, DeliveryMode, Device

# The device's own words for each mode, where its labelling names it differently.
_LABELS: dict[tuple[str, DeliveryMode], str] = {
    ("Medtronic", DeliveryMode.CONTINUOUS): "simple continuous",
    ("Medtronic", DeliveryMode.FLEX): "flex dosing (timed steps)",
    ("Flowonix", DeliveryMode.CONTINUOUS): "constant flow",
    ("Flowonix", DeliveryMode.MULTIPLE_RATES): "multiple rates (timed steps)",
    ("Flowonix", DeliveryMode.PERIODIC_FLOW): "periodic flow (doses, no flow between)",
}
_DEFAULT_LABELS = {
    DeliveryMode.CONTINUOUS: "continuous",
    DeliveryMode.FLEX: "flex dosing (timed steps)",
    DeliveryMode.MULTIPLE_RATES: "multiple rates (timed steps)",
    DeliveryMode.PERIODIC_FLOW: "periodic flow (doses, no flow between)",
    DeliveryMode.FIXED_RATE: "fixed rate (the pump's labelled rate; dose set by concentration)",
}


@dataclass(frozen=True)
class ModeField:
    """A program field (TOML table or key) the mode uses; ``required`` if it must be given."""

    key: str
    required: bool
    note: str


@dataclass(frozen=True)
class ModeSpec:
    mode: DeliveryMode
    label: str
    fields: tuple[ModeField, ...]
    max_steps_per_day: int  # basal steps a day (0: no basal at all)


def mode_label(device: Device, mode: DeliveryMode) -> str:
    return _LABELS.get((device.manufacturer, mode), _DEFAULT_LABELS[mode])


def _bolus_fields(device: Device, mode: DeliveryMode) -> list[ModeField]:
    fields = []
    if BolusMode.PERIODIC in device.bolus_modes and mode is not DeliveryMode.PERIODIC_FLOW:
        fields.append(ModeField("periodic_bolus", False, "boluses at set times on top of basal"))
    if BolusMode.DEMAND in device.bolus_modes:
        fields.append(ModeField("demand_bolus", False, "patient bolus: dose, lockout, max/24 h"))
    return fields


def mode_spec(device: Device, mode: DeliveryMode) -> ModeSpec:
    """What a program in ``mode`` on ``device`` holds. Raises ValueError for a mode the device
    does not have."""
    if mode not in device.delivery_modes:
        names = ", ".join(m.value for m in device.delivery_modes)
        raise ValueError(f"{device.name} has no {mode.value} mode; its modes: {names}")
    steps = device.max_basal_steps_per_day.value
    fields: list[ModeField]
    if mode is DeliveryMode.CONTINUOUS:
        fields = [ModeField("basal", True, "one step: start 00:00, dose or rate, every day")]
        steps = 1
    elif mode.stepped:
        fields = [ModeField("basal", True, f"timed steps, up to {steps} a day; days optional")]
    elif mode is DeliveryMode.PERIODIC_FLOW:
        fields = [ModeField("periodic_bolus", True, "doses at set times; no flow between them")]
        steps = 0
    else:
        rates = device.fixed_rates_ml_per_day
        labelled = ", ".join(f"{r:g} mL/day" for r in rates.value) if rates else "its label"
        if rates is not None and not rates.verified:
            labelled += "; UNVERIFIED: the rate on the implanted pump's label decides"
        fields = [ModeField("basal", True, f"one step at the pump's labelled rate ({labelled})")]
        steps = 1
    return ModeSpec(mode, mode_label(device, mode), (*fields, *_bolus_fields(device, mode)), steps)


def device_modes(device: Device) -> tuple[ModeSpec, ...]:
    """Every mode of ``device``, in the order its labelling lists them."""
    return tuple(mode_spec(device, m) for m in device.delivery_modes)
