"""``itp library``: the drug and device reference data with sources and verification."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from intrathecal.cli.output import emit, reported
from intrathecal.library import default_library
from intrathecal.library.parse import DEVICE_FIELDS
from intrathecal.library.records import Bounds, ChangeBounds, Restriction, Sourced
from intrathecal.therapy.summary import device_value_text
from intrathecal.units import format_concentration, format_dose_rate, format_mass

app = typer.Typer(help="Show the drug and device library.", no_args_is_help=True)


def _sourced(value: Sourced[Any] | None, text: str | None = None) -> dict[str, Any] | None:
    if value is None:
        return None
    raw = value.value
    if isinstance(raw, tuple):
        raw = list(raw)
    elif hasattr(raw, "__dataclass_fields__"):
        raw = {k: getattr(raw, k) for k in raw.__dataclass_fields__}
    return {
        "value": raw,
        **({"text": text} if text else {}),
        "verified": value.verified,
        "source": value.source.citation,
        "url": value.source.url,
        "note": value.note,
    }


def _bounds(bounds: Bounds, fmt: Any) -> dict[str, Any]:
    return {
        name: _sourced(limit, fmt(limit.value) if limit else None)
        for name, limit in (("soft_max", bounds.soft_max), ("hard_max", bounds.hard_max))
    }


def _change(change: ChangeBounds) -> dict[str, Any]:
    return {name: _sourced(getattr(change, name)) for name in change.__dataclass_fields__}


def _restriction(restriction: Restriction) -> dict[str, Any]:
    return {
        "drug": restriction.drug,
        "device": restriction.device,
        "bolus_modes": sorted(m.value for m in restriction.bolus_modes),
        "strictness": restriction.strictness.value,
        "quote": _sourced(restriction.rule),
    }


def _mark(value: Sourced[Any] | None) -> str:
    if value is None:
        return "-"
    return "" if value.verified else " (UNVERIFIED)"


@app.command("drugs")
def drugs(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every drug with its limits, stability and approval, each with source and verification."""
    with reported(as_json):
        library = default_library()
        payload: dict[str, Any] = {"drugs": {}}
        lines = []
        for key, drug in library.drugs.items():
            unit = drug.dose_unit.value

            def conc(v: float, u: str = unit) -> str:
                return format_concentration(v, u)

            def rate(v: float, u: str = unit) -> str:
                return format_dose_rate(v, u)

            def mass(v: float, u: str = unit) -> str:
                return format_mass(v, u)

            payload["drugs"][key] = {
                "name": drug.name,
                "class": drug.drug_class.value,
                "dose_unit": unit,
                "approved_for_pump": _sourced(drug.approved_for_pump),
                "mixable": _sourced(drug.mixable),
                "compatibility": drug.compatibility,
                "stability_days": _sourced(drug.stability_days),
                "concentration_mcg_per_ml": _bounds(drug.concentration_mcg_per_ml, conc),
                "daily_dose_mcg_per_day": _bounds(drug.daily_dose_mcg_per_day, rate),
                "bolus_dose_mcg": _bounds(drug.bolus_dose_mcg, mass),
                "change": _change(drug.change),
                "change_profiles": {n: _change(c) for n, c in drug.change_profiles.items()},
                "starting_mcg_per_day": {
                    name: _sourced(getattr(drug, name))
                    for name in (
                        "starting_daily_dose_low_mcg_per_day",
                        "starting_daily_dose_high_mcg_per_day",
                        "starting_tolerant_low_mcg_per_day",
                        "starting_tolerant_high_mcg_per_day",
                        "starting_daily_dose_hard_max_mcg_per_day",
                    )
                },
                "stability_undiluted_days": _sourced(drug.stability_undiluted_days),
                "undiluted_concentrations_mcg_per_ml": list(
                    drug.undiluted_concentrations_mcg_per_ml
                ),
                "it_morphine_equivalent": _sourced(drug.it_morphine_equivalent),
                "labelled_devices": (
                    {
                        **(_sourced(drug.labelled_devices.devices) or {}),
                        "strictness": drug.labelled_devices.strictness.value,
                    }
                    if drug.labelled_devices
                    else None
                ),
                "restrictions": [_restriction(r) for r in drug.restrictions],
            }
            hard_c = drug.concentration_mcg_per_ml.hard_max
            hard_d = drug.daily_dose_mcg_per_day.hard_max
            lines.append(
                f"{key}: {drug.name}; approved for pumps: "
                f"{'yes' if drug.approved_for_pump.value else 'no'}"
                f"{_mark(drug.approved_for_pump)}; mixable: "
                f"{'yes' if drug.mixable.value else 'NO'}; stability "
                f"{drug.stability_days.value:g} day{_mark(drug.stability_days)}; hard max "
                f"{conc(hard_c.value) if hard_c else '-'}{_mark(hard_c)}, "
                f"{rate(hard_d.value) if hard_d else '-'}{_mark(hard_d)}"
            )
        lines.append("Use --json for every limit with its source.")
        emit(as_json, payload, "\n".join(lines))


@app.command("devices")
def devices(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every device with its constants, each with source and verification."""
    with reported(as_json):
        library = default_library()
        payload: dict[str, Any] = {"devices": {}}
        lines = []
        for key, device in library.devices.items():
            values = {}
            lines.append(f"{key}: {device.name} ({device.kind.value})")
            for toml_key, (attribute, _, _, unit) in DEVICE_FIELDS.items():
                value = getattr(device, attribute)
                if value is None:
                    continue
                text = device_value_text(toml_key, value)
                values[toml_key] = {**(_sourced(value, text) or {}), "unit": unit}
                lines.append(f"  {toml_key} = {text}{_mark(value)}")
            payload["devices"][key] = {
                "name": device.name,
                "manufacturer": device.manufacturer,
                "kind": device.kind.value,
                "bolus_modes": sorted(m.value for m in device.bolus_modes),
                "values": values,
                "restrictions": [_restriction(r) for r in device.restrictions],
            }
        emit(as_json, payload, "\n".join(lines))
