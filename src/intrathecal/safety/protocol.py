"""A clinic's local protocol: tightens library limits; loosening one is a recorded decision.

Format (TOML)::

    [protocol]
    name = "Example pain clinic intrathecal protocol, v3 (2026)"
    min_low_reservoir_alarm = "3 mL"        # optional

    [drugs.morphine]                          # any of the six limits below
    concentration_hard_max = "20 mg/mL"
    daily_dose_soft_max = "8 mg/day"

    [[loosen]]                                # raising a limit needs who and why
    drug = "bupivacaine"
    limit = "daily_dose_hard_max"
    value = "30 mg/day"
    decided_by = "Dr A. Example"
    reason = "palliative protocol agreed at the 2026-03 governance meeting"
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from intrathecal.library.parse import load_toml
from intrathecal.library.records import Bounds, Drug, Library, Origin, Source, Sourced
from intrathecal.units import InputError, Kind, parse_positive

# protocol key -> (Drug attribute holding Bounds, Bounds attribute, unit kind)
LIMITS: dict[str, tuple[str, str, Kind]] = {
    "concentration_soft_max": ("concentration_mcg_per_ml", "soft_max", Kind.CONCENTRATION),
    "concentration_hard_max": ("concentration_mcg_per_ml", "hard_max", Kind.CONCENTRATION),
    "daily_dose_soft_max": ("daily_dose_mcg_per_day", "soft_max", Kind.DOSE_RATE),
    "daily_dose_hard_max": ("daily_dose_mcg_per_day", "hard_max", Kind.DOSE_RATE),
    "bolus_dose_soft_max": ("bolus_dose_mcg", "soft_max", Kind.MASS),
    "bolus_dose_hard_max": ("bolus_dose_mcg", "hard_max", Kind.MASS),
}


@dataclass(frozen=True)
class Loosening:
    drug: str
    limit: str
    old_value: float
    new_value: float
    decided_by: str
    reason: str


@dataclass(frozen=True)
class Protocol:
    library: Library
    name: str
    min_low_reservoir_alarm: Sourced[float] | None
    loosenings: tuple[Loosening, ...]


def _set_limit(drug: Drug, key: str, value: float, source: Source, note: str) -> Drug:
    bounds_name, which, _ = LIMITS[key]
    bounds: Bounds = getattr(drug, bounds_name)
    limit = Sourced(value, source, verified=False, note=note, origin=Origin.CLINIC_PROTOCOL)
    updated = dataclasses.replace(bounds, **{which: limit})
    # A hard limit tightened below the soft one pulls the soft one down with it.
    soft, hard = updated.soft_max, updated.hard_max
    if soft is not None and hard is not None and soft.value > hard.value:
        updated = dataclasses.replace(updated, soft_max=hard)
    changes: dict[str, object] = {bounds_name: updated}
    return dataclasses.replace(drug, **changes)  # type: ignore[arg-type]


def _current(drug: Drug, key: str) -> Sourced[float] | None:
    bounds_name, which, _ = LIMITS[key]
    value: Sourced[float] | None = getattr(getattr(drug, bounds_name), which)
    return value


def parse_protocol(text: str, library: Library, name: str = "protocol") -> Protocol:
    root = load_toml(text, name)
    header = root.table("protocol")
    title = header.string("name")
    source = Source("clinic-protocol", title)
    alarm: Sourced[float] | None = None
    if header.has("min_low_reservoir_alarm"):
        path = header.child_path("min_low_reservoir_alarm")
        value = parse_positive(header.required("min_low_reservoir_alarm"), path, Kind.VOLUME)
        alarm = Sourced(value, source, verified=False, origin=Origin.CLINIC_PROTOCOL)
    header.finish()
    drugs = dict(library.drugs)
    drug_tables = root.optional_table("drugs")
    for key, table in drug_tables.items() if drug_tables is not None else []:
        if key not in drugs:
            raise InputError(table.path, f"unknown drug {key!r}")
        for limit_key in table.keys():  # noqa: SIM118 - a Table, not a dict
            if limit_key not in LIMITS:
                table.raw(limit_key)
                raise InputError(
                    table.child_path(limit_key), f"is not a limit; known: {', '.join(LIMITS)}"
                )
            kind = LIMITS[limit_key][2]
            value = parse_positive(table.required(limit_key), table.child_path(limit_key), kind)
            current = _current(drugs[key], limit_key)
            if current is not None and value > current.value:
                raise InputError(
                    table.child_path(limit_key),
                    "would loosen the library limit; a [[loosen]] entry with decided_by and "
                    "reason is required for that",
                )
            drugs[key] = _set_limit(drugs[key], limit_key, value, source, "tightened locally")
        table.finish()
    loosenings = []
    for entry in root.tables("loosen"):
        drug_key = entry.string("drug")
        if drug_key not in drugs:
            raise InputError(entry.child_path("drug"), f"unknown drug {drug_key!r}")
        limit_key = entry.string("limit")
        if limit_key not in LIMITS:
            raise InputError(entry.child_path("limit"), f"is not one of {', '.join(LIMITS)}")
        value = parse_positive(
            entry.required("value"), entry.child_path("value"), LIMITS[limit_key][2]
        )
        who, why = entry.string("decided_by"), entry.string("reason")
        if not who.strip() or not why.strip():
            raise InputError(entry.path, "loosening a limit needs decided_by and reason")
        entry.finish()
        current = _current(drugs[drug_key], limit_key)
        old_value = current.value if current is not None else float("inf")
        note = f"loosened by {who}: {why}"
        drugs[drug_key] = _set_limit(drugs[drug_key], limit_key, value, source, note)
        loosenings.append(Loosening(drug_key, limit_key, old_value, value, who, why))
    root.finish()
    return Protocol(
        library=dataclasses.replace(library, drugs=drugs),
        name=title,
        min_low_reservoir_alarm=alarm,
        loosenings=tuple(loosenings),
    )
