"""Parse and validate the drug and device library from TOML text. Pure: text in, records out."""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable
from typing import TypeVar

from intrathecal.library.records import (
    BolusMode,
    Bounds,
    ChangeBounds,
    ChangeLimit,
    DeliveryMode,
    Device,
    DeviceKind,
    Drug,
    DrugClass,
    LabelledDevices,
    Library,
    MassUnit,
    Restriction,
    Source,
    Sourced,
    Strictness,
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
    result = sourced_entry(entry, sources, convert)
    entry.finish()
    return result


def sourced_entry(
    entry: Table, sources: dict[str, Source], convert: Callable[[object, str], T]
) -> Sourced[T]:
    """The value, source, verified and note keys of a table that may hold other keys too."""
    source_id = entry.string("source")
    if source_id not in sources:
        raise InputError(entry.child_path("source"), f"names an unknown source {source_id!r}")
    value = convert(entry.required("value"), entry.child_path("value"))
    return Sourced(
        value=value,
        source=sources[source_id],
        verified=entry.boolean("verified"),
        note=entry.string("note", ""),
    )


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


def ratio(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InputError(path, f"expected a number greater than zero, got {value!r}")
    return float(value)


def text(value: object, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(path, f"expected text, got {value!r}")
    return value


def key_list(value: object, path: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InputError(path, f"expected a list of names, got {value!r}")
    return tuple(value)


def _seconds(value: object, path: str) -> float:
    return quantity(Kind.DURATION)(value, path)


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


def mode_list(value: object, path: str) -> tuple[DeliveryMode, ...]:
    known = ", ".join(m.value for m in DeliveryMode)
    if not isinstance(value, list) or not value:
        raise InputError(path, f"expected a list of delivery modes ({known}), got {value!r}")
    modes = []
    for i, item in enumerate(value):
        try:
            modes.append(DeliveryMode(item))
        except ValueError:
            raise InputError(f"{path}[{i}]", f"{item!r} is not a delivery mode ({known})") from None
    if len(set(modes)) != len(modes):
        raise InputError(path, "names a mode twice")
    return tuple(modes)


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
    limits = {
        name: optional_sourced(table, name, sources, change_limit)
        for name in (
            "per_step_soft",
            "per_step_hard",
            "per_day_soft",
            "per_day_hard",
            "per_week_soft",
            "per_week_hard",
            "decrease_per_step_soft",
            "decrease_per_step_hard",
        )
    }
    change = ChangeBounds(
        **limits,
        min_increase_interval_soft_s=optional_sourced(
            table, "min_increase_interval_soft", sources, _seconds
        ),
        min_increase_interval_hard_s=optional_sourced(
            table, "min_increase_interval_hard", sources, _seconds
        ),
    )
    table.finish()
    # Over 24 h a rise is limited by a per-day limit, or by one step and a minimum interval of
    # at least a day between increases (ziconotide's label model).
    interval = change.min_increase_interval_hard_s
    day_covered = change.per_day_hard is not None or (
        interval is not None and interval.value >= 86_400
    )
    if change.per_step_hard is None or not day_covered:
        raise InputError(
            table.path,
            "needs per_step_hard and either per_day_hard or min_increase_interval_hard >= 24 h",
        )
    for kind in ("per_step", "per_day", "per_week", "decrease_per_step"):
        soft, hard = limits[f"{kind}_soft"], limits[f"{kind}_hard"]
        if soft is not None and hard is not None and _looser(soft.value, hard.value):
            raise InputError(f"{table.path}.{kind}_soft", "is looser than the hard limit")
    return change


def _looser(soft: ChangeLimit, hard: ChangeLimit) -> bool:
    return any(
        a is not None and b is not None and a > b
        for a, b in (
            (soft.fraction, hard.fraction),
            (soft.absolute_mcg_per_day, hard.absolute_mcg_per_day),
        )
    )


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
        starting_tolerant_low_mcg_per_day=optional_sourced(
            table, "starting_tolerant_low", sources, quantity(Kind.DOSE_RATE)
        ),
        starting_tolerant_high_mcg_per_day=optional_sourced(
            table, "starting_tolerant_high", sources, quantity(Kind.DOSE_RATE)
        ),
        starting_daily_dose_hard_max_mcg_per_day=optional_sourced(
            table, "starting_daily_dose_hard_max", sources, quantity(Kind.DOSE_RATE)
        ),
        stability_undiluted_days=optional_sourced(table, "stability_undiluted", sources, _days),
        undiluted_concentrations_mcg_per_ml=_concentrations(table, "undiluted_concentrations"),
        it_morphine_equivalent=optional_sourced(table, "it_morphine_equivalent", sources, ratio),
        labelled_devices=_labelled_devices(table, sources),
        restrictions=tuple(
            parse_restriction(t, sources, key) for t in table.tables("restrictions")
        ),
        notes=table.string("notes", ""),
    )
    table.finish()
    if (drug.stability_undiluted_days is None) != (not drug.undiluted_concentrations_mcg_per_ml):
        raise InputError(
            table.child_path("stability_undiluted"),
            "give stability_undiluted and undiluted_concentrations together",
        )
    _check_order(
        table.child_path("starting_daily_dose_high"),
        drug.starting_daily_dose_high_mcg_per_day,
        drug.starting_daily_dose_hard_max_mcg_per_day,
    )
    return drug


def _concentrations(table: Table, key: str) -> tuple[float, ...]:
    values = table.string_list(key) or []
    convert = quantity(Kind.CONCENTRATION)
    return tuple(convert(v, f"{table.child_path(key)}[{i}]") for i, v in enumerate(values))


def _strictness(table: Table) -> Strictness:
    return _enum(Strictness, table.string("strictness"), table.child_path("strictness"))


def _labelled_devices(table: Table, sources: dict[str, Source]) -> LabelledDevices | None:
    entry = table.optional_table("labelled_devices")
    if entry is None:
        return None
    result = LabelledDevices(sourced_entry(entry, sources, key_list), _strictness(entry))
    entry.finish()
    return result


def parse_restriction(
    entry: Table, sources: dict[str, Source], drug: str | None = None
) -> Restriction:
    """A drug's own restriction (``drug`` given) or a device's (the entry names the drug)."""
    modes = entry.string_list("bolus_modes") or []
    if not modes:
        raise InputError(entry.child_path("bolus_modes"), "name the bolus modes restricted")
    restriction = Restriction(
        drug=drug if drug is not None else entry.string("drug"),
        device=None,
        bolus_modes=frozenset(_enum(BolusMode, m, entry.child_path("bolus_modes")) for m in modes),
        strictness=_strictness(entry),
        rule=sourced_entry(entry, sources, text),
    )
    entry.finish()
    return restriction


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
        "modes": ("modes", mode_list, False, "modes"),
        "actuation_volume": ("actuation_volume_ml", volume, False, "mL"),
    }


DEVICE_FIELDS = _device_fields()


def parse_device(key: str, table: Table, sources: dict[str, Source]) -> Device:
    modes = table.string_list("bolus_modes") or []
    values: dict[str, object] = {}
    for toml_key, (attribute, convert, required, _) in DEVICE_FIELDS.items():
        reader = sourced if required else optional_sourced
        values[attribute] = reader(table, toml_key, sources, convert)
    restrictions = tuple(
        dataclasses.replace(parse_restriction(t, sources), device=key)
        for t in table.tables("restrictions")
    )
    device = Device(
        key=key,
        name=table.string("name"),
        manufacturer=table.string("manufacturer"),
        kind=_enum(DeviceKind, table.string("kind"), table.child_path("kind")),
        bolus_modes=frozenset(_enum(BolusMode, m, table.child_path("bolus_modes")) for m in modes),
        restrictions=restrictions,
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
    fixed = DeliveryMode.FIXED_RATE in device.delivery_modes
    if fixed != (device.kind is DeviceKind.FIXED_RATE) or (
        fixed and len(device.delivery_modes) > 1
    ):
        raise InputError(
            f"{path}.modes", "a fixed-rate pump has the one mode fixed-rate; no other pump has it"
        )


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
    _check_names(drugs, devices)
    return Library(drugs=drugs, devices=devices, sources=sources)


def _check_names(drugs: dict[str, Drug], devices: dict[str, Device]) -> None:
    """Restrictions and labelled-device lists name drugs and devices the library knows."""
    for key, device in devices.items():
        for index, restriction in enumerate(device.restrictions):
            if restriction.drug not in drugs:
                raise InputError(
                    f"devices.{key}.restrictions[{index}].drug",
                    f"names an unknown drug {restriction.drug!r}",
                )
    for key, drug in drugs.items():
        if drug.labelled_devices is not None:
            for name in drug.labelled_devices.devices.value:
                if name not in devices:
                    raise InputError(
                        f"drugs.{key}.labelled_devices", f"names an unknown device {name!r}"
                    )
