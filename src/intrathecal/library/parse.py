"""Parse and validate the drug and device library from TOML text. Pure: text in, records out."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from typing import TypeVar

from intrathecal.library.records import (
    BolusMode,
    Bounds,
    ChangeBounds,
    ChangeLimit,
    Device,
    DeviceKind,
    Drug,
    DrugClass,
    Library,
    MassUnit,
    Source,
    Sourced,
)
from intrathecal.library.tables import Table
from intrathecal.units import InputError, Kind, parse, parse_percent

T = TypeVar("T")


def load_toml(text: str, name: str) -> Table:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(name, f"is not valid TOML: {exc}") from None
    return Table(data, "")


def parse_sources(table: Table) -> dict[str, Source]:
    sources: dict[str, Source] = {}
    for key, entry in table.items():
        sources[key] = Source(
            id=key, citation=entry.string("citation"), url=entry.string("url", "")
        )
        entry.finish()
    return sources


def sourced(
    parent: Table,
    key: str,
    sources: dict[str, Source],
    convert: Callable[[object, str], T],
) -> Sourced[T]:
    entry = parent.table(key)
    source_id = entry.string("source")
    if source_id not in sources:
        raise InputError(entry.child_path("source"), f"names an unknown source {source_id!r}")
    value = convert(entry.required("value"), entry.child_path("value"))
    result = Sourced(
        value=value,
        source=sources[source_id],
        verified=entry.boolean("verified"),
        note=entry.string("note", ""),
    )
    entry.finish()
    return result


def optional_sourced(
    parent: Table,
    key: str,
    sources: dict[str, Source],
    convert: Callable[[object, str], T],
) -> Sourced[T] | None:
    if not parent.has(key):
        parent.raw(key)
        return None
    return sourced(parent, key, sources, convert)


def quantity(kind: Kind, positive: bool = True) -> Callable[[object, str], float]:
    def convert(value: object, path: str) -> float:
        number = parse(value, path, kind)
        if positive and number <= 0:
            raise InputError(path, f"must be greater than zero, got {value!r}")
        if number < 0:
            raise InputError(path, f"must not be negative, got {value!r}")
        return number

    return convert


def boolean(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(path, f"expected true or false, got {value!r}")
    return value


def fraction(value: object, path: str) -> float:
    number = parse_percent(value, path)
    if not 0 < number < 1:
        raise InputError(path, f"must be a percentage between 0% and 100%, got {value!r}")
    return number


def whole_number(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(path, f"expected a whole number of at least 1, got {value!r}")
    return value


def change_limit(value: object, path: str) -> ChangeLimit:
    if isinstance(value, str) and value.strip().endswith("%"):
        number = parse_percent(value, path)
        if number <= 0:
            raise InputError(path, f"must be a positive percentage, got {value!r}")
        return ChangeLimit(fraction=number)
    return ChangeLimit(absolute_mcg_per_day=quantity(Kind.DOSE_RATE)(value, path))


def rate_list(value: object, path: str) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        raise InputError(path, f"expected a list of rates like ['0.5 mL/day'], got {value!r}")
    convert = quantity(Kind.VOLUME_RATE)
    return tuple(convert(item, f"{path}[{i}]") for i, item in enumerate(value))


def _check_order(path: str, low: Sourced[float] | None, high: Sourced[float] | None) -> None:
    if low is not None and high is not None and low.value > high.value:
        raise InputError(path, f"soft limit {low.value:g} is above hard limit {high.value:g}")


def parse_bounds(parent: Table, key: str, kind: Kind, sources: dict[str, Source]) -> Bounds:
    table = parent.table(key)
    bounds = Bounds(
        soft_max=optional_sourced(table, "soft_max", sources, quantity(kind)),
        hard_max=optional_sourced(table, "hard_max", sources, quantity(kind)),
    )
    table.finish()
    if bounds.hard_max is None:
        raise InputError(table.child_path("hard_max"), "every drug needs a hard limit")
    _check_order(table.path, bounds.soft_max, bounds.hard_max)
    return bounds


def parse_change(table: Table, sources: dict[str, Source]) -> ChangeBounds:
    change = ChangeBounds(
        per_step_soft=optional_sourced(table, "per_step_soft", sources, change_limit),
        per_step_hard=optional_sourced(table, "per_step_hard", sources, change_limit),
        per_day_soft=optional_sourced(table, "per_day_soft", sources, change_limit),
        per_day_hard=optional_sourced(table, "per_day_hard", sources, change_limit),
    )
    table.finish()
    if change.per_step_hard is None or change.per_day_hard is None:
        raise InputError(table.path, "needs per_step_hard and per_day_hard limits")
    return change


def _enum(enum: type[T], value: str, path: str) -> T:
    for member in enum:  # type: ignore[attr-defined]
        if member.value == value:
            return member  # type: ignore[no-any-return]
    allowed = ", ".join(repr(m.value) for m in enum)  # type: ignore[attr-defined]
    raise InputError(path, f"{value!r} is not one of {allowed}")


def parse_drug(key: str, table: Table, sources: dict[str, Source]) -> Drug:
    profiles_table = table.optional_table("change_profiles")
    profiles: dict[str, ChangeBounds] = {}
    if profiles_table is not None:
        for name, profile in profiles_table.items():
            profiles[name] = parse_change(profile, sources)
    drug = Drug(
        key=key,
        name=table.string("name"),
        drug_class=_enum(DrugClass, table.string("class"), table.child_path("class")),
        dose_unit=_enum(MassUnit, table.string("dose_unit"), table.child_path("dose_unit")),
        approved_for_pump=sourced(table, "approved_for_pump", sources, boolean),
        mixable=sourced(table, "mixable", sources, boolean),
        compatibility=table.string("compatibility"),
        stability_days=sourced(table, "stability", sources, _days),
        concentration_mcg_per_ml=parse_bounds(table, "concentration", Kind.CONCENTRATION, sources),
        daily_dose_mcg_per_day=parse_bounds(table, "daily_dose", Kind.DOSE_RATE, sources),
        bolus_dose_mcg=parse_bounds(table, "bolus_dose", Kind.MASS, sources),
        change=parse_change(table.table("change"), sources),
        change_profiles=profiles,
        first_fill_stability_days=optional_sourced(table, "first_fill_stability", sources, _days),
        starting_daily_dose_low_mcg_per_day=optional_sourced(
            table, "starting_daily_dose_low", sources, quantity(Kind.DOSE_RATE)
        ),
        starting_daily_dose_high_mcg_per_day=optional_sourced(
            table, "starting_daily_dose_high", sources, quantity(Kind.DOSE_RATE)
        ),
        notes=table.string("notes", ""),
    )
    table.finish()
    return drug


def _days(value: object, path: str) -> float:
    return quantity(Kind.DURATION)(value, path) / 86_400


# TOML key -> (record attribute, converter, required, display unit). Shared by the library and
# by a program's [device_overrides], so an override is read exactly like the library value.
def _device_fields() -> dict[str, tuple[str, Callable[[object, str], object], bool, str]]:
    volume = quantity(Kind.VOLUME)
    rate = quantity(Kind.VOLUME_RATE)
    return {
        "reservoir": ("reservoir_ml", volume, True, "mL"),
        "min_rate": ("min_rate_ml_per_day", rate, True, "mL/day"),
        "max_rate": ("max_rate_ml_per_day", rate, True, "mL/day"),
        "max_bolus_rate": ("max_bolus_rate_ml_per_day", rate, True, "mL/day"),
        "rate_step": ("rate_step_ml_per_day", rate, True, "mL/day"),
        "accuracy": ("accuracy_fraction", fraction, True, "%"),
        "low_reservoir_alarm_default": ("low_reservoir_alarm_default_ml", volume, True, "mL"),
        "low_reservoir_alarm_min": ("low_reservoir_alarm_min_ml", volume, True, "mL"),
        "low_reservoir_alarm_max": ("low_reservoir_alarm_max_ml", volume, True, "mL"),
        "pathway_volume": ("pathway_volume_ml", quantity(Kind.VOLUME, False), True, "mL"),
        "catheter_volume_per_cm": (
            "catheter_ml_per_cm",
            quantity(Kind.VOLUME_PER_LENGTH),
            True,
            "mL/cm",
        ),
        "max_basal_steps_per_day": ("max_basal_steps_per_day", whole_number, True, "steps"),
        "service_life": ("service_life_days", _days, True, "day"),
        "eri_to_eos": ("eri_to_eos_days", _days, False, "day"),
        "max_refill_interval": ("max_refill_interval_days", _days, False, "day"),
        "non_retrievable_volume": ("non_retrievable_ml", quantity(Kind.VOLUME, False), False, "mL"),
        "fixed_rates": ("fixed_rates_ml_per_day", rate_list, False, "mL/day"),
    }


DEVICE_FIELDS = _device_fields()


def parse_device(key: str, table: Table, sources: dict[str, Source]) -> Device:
    modes = table.string_list("bolus_modes") or []
    values: dict[str, object] = {}
    for toml_key, (attribute, convert, required, _) in DEVICE_FIELDS.items():
        reader = sourced if required else optional_sourced
        values[attribute] = reader(table, toml_key, sources, convert)
    device = Device(
        key=key,
        name=table.string("name"),
        manufacturer=table.string("manufacturer"),
        kind=_enum(DeviceKind, table.string("kind"), table.child_path("kind")),
        bolus_modes=frozenset(_enum(BolusMode, m, table.child_path("bolus_modes")) for m in modes),
        notes=table.string("notes", ""),
        **values,  # type: ignore[arg-type]
    )
    table.finish()
    check_device(device, table.path)
    return device


def check_device(device: Device, path: str) -> None:
    """Consistency of a device's constants (also run after a program overrides one)."""
    if device.min_rate_ml_per_day.value > device.max_rate_ml_per_day.value:
        raise InputError(f"{path}.min_rate", "is above max_rate")
    if device.max_rate_ml_per_day.value > device.max_bolus_rate_ml_per_day.value:
        raise InputError(f"{path}.max_rate", "is above max_bolus_rate")
    low = device.low_reservoir_alarm_min_ml.value
    default = device.low_reservoir_alarm_default_ml.value
    high = device.low_reservoir_alarm_max_ml.value
    if not low <= default <= high:
        raise InputError(
            f"{path}.low_reservoir_alarm_default",
            f"{default:g} mL is outside the alarm range {low:g}-{high:g} mL",
        )
    if high >= device.reservoir_ml.value:
        raise InputError(f"{path}.low_reservoir_alarm_max", "must be below the reservoir volume")
    if device.kind is DeviceKind.FIXED_RATE and device.fixed_rates_ml_per_day is None:
        raise InputError(f"{path}.fixed_rates", "a fixed-rate pump must list its labelled rates")


def parse_library(drugs_text: str, devices_text: str) -> Library:
    drugs_root = load_toml(drugs_text, "drugs.toml")
    devices_root = load_toml(devices_text, "devices.toml")
    sources = parse_sources(drugs_root.table("sources"))
    device_sources = parse_sources(devices_root.table("sources"))
    for key in sources.keys() & device_sources.keys():
        if sources[key] != device_sources[key]:
            raise InputError(
                f"sources.{key}", "is defined differently in drugs.toml and devices.toml"
            )
    sources.update(device_sources)
    drugs = {key: parse_drug(key, t, sources) for key, t in drugs_root.table("drugs").items()}
    devices = {
        key: parse_device(key, t, sources) for key, t in devices_root.table("devices").items()
    }
    drugs_root.finish()
    devices_root.finish()
    return Library(drugs=drugs, devices=devices, sources=sources)
