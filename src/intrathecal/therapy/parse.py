"""Read a program file (TOML) into a validated :class:`Program`, or every error found.

Format (docs/program-format.md): ``device``, ``catheter_volume`` or ``catheter_length``,
``low_reservoir_alarm``, ``[[drugs]]`` (the first drug is the one doses are written in),
``[[basal]]``, optional ``[[periodic_bolus]]``, ``[demand_bolus]`` and ``[device_overrides]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from itertools import pairwise

from intrathecal.library.parse import DEVICE_FIELDS, check_device, load_toml
from intrathecal.library.records import (
    BolusMode,
    DeliveryMode,
    Device,
    Drug,
    Library,
    Origin,
    Source,
    Sourced,
)
from intrathecal.library.tables import Table
from intrathecal.therapy.checks import program_findings
from intrathecal.therapy.errors import Collector
from intrathecal.therapy.findings import Severity
from intrathecal.therapy.program import (
    ALL_DAYS,
    WEEKDAY_NAMES,
    BasalStep,
    DemandBolus,
    Ingredient,
    Notice,
    PeriodicBolus,
    Program,
)
from intrathecal.therapy.timeline import DAY_S
from intrathecal.units import (
    InputError,
    Kind,
    Toward,
    format_concentration,
    format_dose_rate,
    format_duration,
    format_mass,
    format_volume,
    format_volume_rate,
    is_multiple_of,
    parse,
    parse_positive,
    round_to_step,
)

MAX_BOLUS_DURATION_S = DAY_S


def parse_program(
    text: str, library: Library, name: str = "program", *, check_limits: bool = True
) -> Program:
    """Parse and validate. Raises :class:`InvalidProgramError` listing every problem found.

    With ``check_limits`` False, a program that the pump could hold but that breaks a device
    rate or a drug limit is returned, for the program review to report as findings.
    """
    errors = Collector()
    root = load_toml(text, name)
    if not root.keys():
        raise InputError(name, "is empty; a program needs at least a device, drugs and basal")
    device = errors.attempt(lambda: _device(root, library, errors))
    ingredients = _ingredients(root, library, errors)
    notices: list[Notice] = []
    mode = errors.attempt(lambda: _mode(root, device))
    periodic = _periodic(root, device, ingredients, errors)
    # A refused mode still decides how the rest is read, so its errors are not followed by
    # confusing ones about a basal the mode never had.
    if mode is DeliveryMode.PERIODIC_FLOW or (
        mode is None and _named(root, DeliveryMode.PERIODIC_FLOW)
    ):
        basal = _periodic_flow_basal(root, periodic, errors)
    else:
        basal = _basal(root, device, ingredients, errors, notices)
    if device is not None and mode is None and basal:
        mode = _default_mode(device, basal)
    if mode is not None and device is not None:
        errors.attempt(lambda: _check_mode_shape(mode, device, basal))
    demand = _demand(root, device, ingredients, errors)
    alarm = _low_reservoir_alarm(root, device, errors, notices)
    catheter = _catheter(root, device, errors)
    root.raw("name")
    errors.attempt(root.finish)
    errors.raise_if_any()
    assert device is not None and alarm is not None and catheter is not None and mode is not None
    program = Program(
        name=str(root.raw("name", name)),
        device=device,
        ingredients=tuple(ingredients),
        basal=tuple(basal),
        periodic=tuple(periodic),
        demand=demand,
        low_reservoir_alarm_ml=alarm,
        catheter_volume_ml=catheter,
        notices=tuple(notices),
        overridden=frozenset(_overridden(device)),
        mode=mode,
    )
    if check_limits:
        for finding in program_findings(program):
            if finding.severity is Severity.HARD:
                errors.add(finding.field, finding.message)
        errors.raise_if_any()
    return program


# --- device and its overrides ----------------------------------------------------------------


def _device(root: Table, library: Library, errors: Collector) -> Device:
    key = root.string("device")
    try:
        device = library.device(key)
    except KeyError as exc:
        raise InputError("device", str(exc.args[0])) from None
    overrides = root.optional_table("device_overrides")
    if overrides is None:
        return device
    changes: dict[str, object] = {}
    for toml_key in overrides.keys():  # noqa: SIM118 - a Table, not a dict
        spec = DEVICE_FIELDS.get(toml_key)
        entry_path = overrides.child_path(toml_key)
        if toml_key == "modes":
            # A mode is what the device can do, not a figure copied from its manual.
            overrides.raw(toml_key)
            errors.add(entry_path, f"cannot be overridden: {device.name} has the modes it has")
            continue
        if spec is None:
            overrides.raw(toml_key)
            errors.add(entry_path, f"is not a device constant; known: {', '.join(DEVICE_FIELDS)}")
            continue
        attribute, convert, _, _ = spec
        value = errors.attempt(partial(_override, overrides, toml_key, convert))
        if value is not None:
            changes[attribute] = value
    overridden = dataclasses.replace(device, **changes)  # type: ignore[arg-type]
    check_device(overridden, "device_overrides")
    return overridden


def _override(parent: Table, key: str, convert: Callable[[object, str], object]) -> Sourced[object]:
    entry = parent.table(key)
    citation = entry.string("source")
    if not citation.strip():
        raise InputError(entry.child_path("source"), "must say where the value was copied from")
    value = convert(entry.required("value"), entry.child_path("value"))
    verified = entry.raw("verified", False)
    if not isinstance(verified, bool):
        raise InputError(entry.child_path("verified"), f"expected true or false, got {verified!r}")
    entry.finish()
    return Sourced(
        value=value,
        source=Source(id="program-override", citation=citation),
        verified=verified,
        origin=Origin.PROGRAM_OVERRIDE,
    )


def _overridden(device: Device) -> list[str]:
    names = []
    for toml_key, (attribute, _, _, _) in DEVICE_FIELDS.items():
        value = getattr(device, attribute)
        if isinstance(value, Sourced) and value.origin is Origin.PROGRAM_OVERRIDE:
            names.append(toml_key)
    return names


# --- delivery mode --------------------------------------------------------------------------


# The labelling's own words for a mode, accepted as written ("constant flow" on a Prometra).
MODE_SYNONYMS = {
    "constant-flow": DeliveryMode.CONTINUOUS,
    "simple-continuous": DeliveryMode.CONTINUOUS,
    "flex-dosing": DeliveryMode.FLEX,
    "multiple-rate": DeliveryMode.MULTIPLE_RATES,
    "fixed": DeliveryMode.FIXED_RATE,
    "constant-rate": DeliveryMode.FIXED_RATE,
}


def read_mode(raw: object) -> DeliveryMode | None:
    """A mode name as a person writes it (any case, spaces or underscores), or None."""
    if not isinstance(raw, str):
        return None
    name = "-".join(raw.strip().lower().replace("_", " ").split())
    try:
        return DeliveryMode(name)
    except ValueError:
        return MODE_SYNONYMS.get(name)


def _mode(root: Table, device: Device | None) -> DeliveryMode | None:
    """The program's ``mode``; None when not given (then it follows from the basal)."""
    raw = root.raw("mode")
    if raw is None:
        return None
    offered = device.delivery_modes if device is not None else tuple(DeliveryMode)
    names = ", ".join(m.value for m in offered)
    mode = read_mode(raw)
    if mode is None:
        raise InputError("mode", f"{raw!r} is not a delivery mode; expected one of: {names}")
    if device is not None and mode not in offered:
        raise InputError("mode", f"{device.name} has no {mode.value} mode; its modes: {names}")
    return mode


def _named(root: Table, mode: DeliveryMode) -> bool:
    return root.has("mode") and read_mode(root.raw("mode")) is mode


def _default_mode(device: Device, basal: list[BasalStep]) -> DeliveryMode:
    """A program without a mode: the device's continuous mode for one all-day rate, else its
    stepped mode (flex or multiple rates), as programs were read before modes existed."""
    modes = device.delivery_modes
    if DeliveryMode.FIXED_RATE in modes:
        return DeliveryMode.FIXED_RATE
    one_rate = len(basal) == 1 and basal[0].days == ALL_DAYS
    if one_rate and DeliveryMode.CONTINUOUS in modes:
        return DeliveryMode.CONTINUOUS
    return device.stepped_mode or modes[0]


def _check_mode_shape(mode: DeliveryMode, device: Device, basal: list[BasalStep]) -> None:
    if mode is DeliveryMode.CONTINUOUS and not (len(basal) == 1 and basal[0].days == ALL_DAYS):
        stepped = device.stepped_mode
        other = f" (or mode = {stepped.value!r} for timed steps)" if stepped else ""
        raise InputError(
            "basal", f"continuous mode is one rate all day: give one [[basal]] step{other}"
        )


def _periodic_flow_basal(
    root: Table, periodic: list[PeriodicBolus], errors: Collector
) -> list[BasalStep]:
    """Periodic flow delivers its doses and nothing between them: a zero basal."""
    if root.has("basal"):
        root.raw("basal")
        errors.add(
            "basal",
            "periodic flow delivers only its doses, with no flow between them; "
            "remove [[basal]] (or choose a mode with a basal rate)",
        )
    if not periodic and not root.has("periodic_bolus"):
        errors.add("periodic_bolus", "periodic flow needs at least one [[periodic_bolus]] dose")
    return [BasalStep(start_s=0, days=ALL_DAYS, rate_ml_per_day=0.0)]


# --- drugs -----------------------------------------------------------------------------------


def _ingredients(root: Table, library: Library, errors: Collector) -> list[Ingredient]:
    ingredients: list[Ingredient] = []
    tables = errors.attempt(lambda: list(root.tables("drugs"))) or []
    if not tables:
        errors.add("drugs", "at least one [[drugs]] entry (name and concentration) is required")
    seen: set[str] = set()
    for table in tables:
        ingredient = errors.attempt(partial(_ingredient, table, library))
        if ingredient is None:
            continue
        if ingredient.drug.key in seen:
            errors.add(table.child_path("name"), f"{ingredient.drug.key} is listed twice")
            continue
        seen.add(ingredient.drug.key)
        ingredients.append(ingredient)
    return ingredients


def _ingredient(table: Table, library: Library) -> Ingredient:
    key = table.string("name")
    try:
        drug = library.drug(key)
    except KeyError as exc:
        raise InputError(table.child_path("name"), str(exc.args[0])) from None
    concentration = parse_positive(
        table.required("concentration"), table.child_path("concentration"), Kind.CONCENTRATION
    )
    table.finish()
    return Ingredient(drug=drug, concentration_mcg_per_ml=concentration)


# --- schedule fields -------------------------------------------------------------------------


def parse_time_of_day(value: object, field: str) -> int:
    """'08:00' or '08:00:30' -> seconds after midnight, pump time."""
    if not isinstance(value, str):
        raise InputError(field, f"expected a time of day like '08:00', got {value!r}")
    parts = value.strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise InputError(field, f"expected a time of day like '08:00' (HH:MM), got {value!r}")
    hours, minutes = int(parts[0]), int(parts[1])
    seconds = int(parts[2]) if len(parts) == 3 else 0
    if hours > 23 or minutes > 59 or seconds > 59:
        raise InputError(field, f"{value!r} is not a time between 00:00 and 23:59")
    return hours * 3600 + minutes * 60 + seconds


def _days(table: Table) -> frozenset[int]:
    names = table.string_list("days")
    if names is None:
        return ALL_DAYS
    if not names:
        raise InputError(table.child_path("days"), "is empty; leave it out to mean every day")
    days = set()
    for name in names:
        lowered = name.strip().lower()[:3]
        if lowered not in WEEKDAY_NAMES or len(name.strip()) < 3:
            raise InputError(
                table.child_path("days"), f"{name!r} is not a weekday ({', '.join(WEEKDAY_NAMES)})"
            )
        days.add(WEEKDAY_NAMES.index(lowered))
    return frozenset(days)


def whole_seconds(value: object, field: str, minimum_s: int = 1) -> int:
    seconds = parse(value, field, Kind.DURATION)
    if seconds < minimum_s:
        raise InputError(field, f"must be at least {format_duration(minimum_s)}, got {value!r}")
    if not float(seconds).is_integer():
        raise InputError(field, f"must be a whole number of seconds, got {value!r}")
    return int(seconds)


def _volume_from_dose_or_volume(
    table: Table, ingredients: list[Ingredient], dose_key: str, volume_key: str
) -> float:
    """A bolus written as a dose of the first drug or as a volume -> mL."""
    has_dose, has_volume = table.has(dose_key), table.has(volume_key)
    if has_dose == has_volume:
        raise InputError(
            table.path, f"give exactly one of {dose_key!r} (of the first drug) or {volume_key!r}"
        )
    if has_volume:
        return parse_positive(table.required(volume_key), table.child_path(volume_key), Kind.VOLUME)
    dose = parse_positive(table.required(dose_key), table.child_path(dose_key), Kind.MASS)
    if not ingredients:
        raise InputError(table.child_path(dose_key), "needs a valid first drug to convert")
    return dose / ingredients[0].concentration_mcg_per_ml


# --- basal -----------------------------------------------------------------------------------


def _basal(
    root: Table,
    device: Device | None,
    ingredients: list[Ingredient],
    errors: Collector,
    notices: list[Notice],
) -> list[BasalStep]:
    tables = errors.attempt(lambda: list(root.tables("basal"))) or []
    if not tables:
        errors.add("basal", "at least one [[basal]] step (start and dose or rate) is required")
    steps: list[BasalStep] = []
    for table in tables:
        step = errors.attempt(partial(_basal_step, table, device, ingredients, notices))
        if step is not None:
            steps.append(step)
    if len(steps) == len(tables):
        _check_step_order(steps, tables, device, errors)
    return steps


def _basal_step(
    table: Table, device: Device | None, ingredients: list[Ingredient], notices: list[Notice]
) -> BasalStep:
    start = parse_time_of_day(table.required("start"), table.child_path("start"))
    days = _days(table)
    has_dose, has_rate = table.has("dose"), table.has("rate")
    if has_dose == has_rate:
        raise InputError(table.path, "give exactly one of 'dose' (of the first drug) or 'rate'")
    if has_rate:
        rate = parse_positive(table.required("rate"), table.child_path("rate"), Kind.VOLUME_RATE)
        if device is not None:
            step = device.rate_step_ml_per_day.value
            if not is_multiple_of(rate, step):
                raise InputError(
                    table.child_path("rate"),
                    f"{format_volume_rate(rate)} is not a multiple of the device rate step "
                    f"{format_volume_rate(step)} ({device.rate_step_ml_per_day.provenance})",
                )
    else:
        dose_path = table.child_path("dose")
        dose = parse_positive(table.required("dose"), dose_path, Kind.DOSE_RATE)
        if not ingredients:
            raise InputError(dose_path, "needs a valid first drug to convert a dose to a rate")
        first = ingredients[0]
        exact = dose / first.concentration_mcg_per_ml
        rate = exact
        if device is not None:
            # The pump can only run multiples of its step: round down, the side of less drug.
            rounded = round_to_step(exact, device.rate_step_ml_per_day.value, Toward.DOWN)
            rate = rounded.value
            if rounded.changed:
                unit = first.drug.dose_unit.value
                notices.append(
                    Notice(
                        dose_path,
                        f"{format_dose_rate(dose, unit)} at "
                        f"{format_concentration(first.concentration_mcg_per_ml, unit)} is "
                        f"{format_volume_rate(exact)}; rounded down to the device step "
                        f"{format_volume_rate(rounded.step)}: {format_volume_rate(rate)} = "
                        f"{format_dose_rate(rate * first.concentration_mcg_per_ml, unit)}",
                    )
                )
            if rate <= 0:
                raise InputError(
                    dose_path,
                    f"{format_dose_rate(dose, first.drug.dose_unit.value)} is below one device "
                    f"rate step ({format_volume_rate(device.rate_step_ml_per_day.value)})",
                )
    table.finish()
    return BasalStep(start_s=start, days=days, rate_ml_per_day=rate)


def _check_step_order(
    steps: list[BasalStep], tables: list[Table], device: Device | None, errors: Collector
) -> None:
    for day in range(7):
        todays = [(s, t) for s, t in zip(steps, tables, strict=True) if day in s.days]
        for (before, _), (after, table) in pairwise(todays):
            if after.start_s == before.start_s:
                errors.add(table.child_path("start"), "overlaps another step with the same start")
                return
            if after.start_s < before.start_s:
                errors.add(
                    table.child_path("start"),
                    "steps must be listed in order of start time within each day",
                )
                return
        if not todays:
            errors.add("basal", f"no basal step runs on {WEEKDAY_NAMES[day]}; every day needs one")
            return
        if device is not None and len(todays) > device.max_basal_steps_per_day.value:
            errors.add(
                "basal",
                f"{len(todays)} steps on {WEEKDAY_NAMES[day]}; the device allows "
                f"{device.max_basal_steps_per_day.value} per day "
                f"({device.max_basal_steps_per_day.provenance})",
            )
            return


# --- boluses ---------------------------------------------------------------------------------


def _require_mode(device: Device | None, mode: BolusMode, field: str) -> None:
    if device is not None and mode not in device.bolus_modes:
        raise InputError(field, f"{device.name} has no {mode.value} bolus")


def _periodic(
    root: Table, device: Device | None, ingredients: list[Ingredient], errors: Collector
) -> list[PeriodicBolus]:
    tables = errors.attempt(lambda: list(root.tables("periodic_bolus"))) or []
    boluses: list[PeriodicBolus] = []
    for table in tables:
        bolus = errors.attempt(partial(_periodic_bolus, table, device, ingredients))
        if bolus is not None:
            boluses.append(bolus)
    # Periodic boluses may not overlap one another (one bolus at a time, as on the pump).
    spans = sorted(
        (day * DAY_S + b.start_s, day * DAY_S + b.start_s + b.duration_s, i)
        for i, b in enumerate(boluses)
        for day in b.days
    )
    wrapped = [(s + 7 * DAY_S, e + 7 * DAY_S, i) for s, e, i in spans[:1]]
    for (_, end, i), (start, _, j) in zip(spans, spans[1:] + wrapped, strict=False):
        if start < end and i != j:
            errors.add(f"periodic_bolus[{j}].start", f"overlaps periodic_bolus[{i}]")
            break
    return boluses


def _periodic_bolus(
    table: Table, device: Device | None, ingredients: list[Ingredient]
) -> PeriodicBolus:
    _require_mode(device, BolusMode.PERIODIC, table.path)
    start = parse_time_of_day(table.required("start"), table.child_path("start"))
    days = _days(table)
    volume = _volume_from_dose_or_volume(table, ingredients, "dose", "volume")
    duration = whole_seconds(table.required("duration"), table.child_path("duration"))
    if duration > MAX_BOLUS_DURATION_S:
        raise InputError(table.child_path("duration"), "must not be longer than 24 h")
    table.finish()
    return PeriodicBolus(start_s=start, days=days, volume_ml=volume, duration_s=duration)


def _demand(
    root: Table, device: Device | None, ingredients: list[Ingredient], errors: Collector
) -> DemandBolus | None:
    table = errors.attempt(lambda: root.optional_table("demand_bolus"))
    if table is None:
        return None
    return errors.attempt(lambda: _demand_bolus(table, device, ingredients))


def _demand_bolus(
    table: Table, device: Device | None, ingredients: list[Ingredient]
) -> DemandBolus:
    _require_mode(device, BolusMode.DEMAND, table.path)
    volume = _volume_from_dose_or_volume(table, ingredients, "dose", "volume")
    duration = whole_seconds(table.required("duration"), table.child_path("duration"))
    lockout = whole_seconds(table.required("lockout"), table.child_path("lockout"), 60)
    if lockout % 60:
        raise InputError(table.child_path("lockout"), "must be a whole number of minutes")
    if lockout > DAY_S:
        raise InputError(table.child_path("lockout"), "must not be longer than 24 h")
    if duration > lockout:
        raise InputError(
            table.child_path("duration"),
            f"{format_duration(duration)} is longer than the lockout "
            f"{format_duration(lockout)}; boluses would overlap",
        )
    count = table.integer("max_per_24h")
    if count < 1:
        raise InputError(table.child_path("max_per_24h"), f"must be at least 1, got {count}")
    table.finish()
    return DemandBolus(volume_ml=volume, duration_s=duration, lockout_s=lockout, max_per_24h=count)


# --- alarm and catheter ----------------------------------------------------------------------


def _low_reservoir_alarm(
    root: Table, device: Device | None, errors: Collector, notices: list[Notice]
) -> float | None:
    if device is None:
        root.raw("low_reservoir_alarm")
        return None
    low, high = device.low_reservoir_alarm_min_ml, device.low_reservoir_alarm_max_ml
    if not root.has("low_reservoir_alarm"):
        default = device.low_reservoir_alarm_default_ml
        notices.append(
            Notice(
                "low_reservoir_alarm",
                f"not given; the device default {format_volume(default.value)} is used "
                f"({default.provenance})",
            )
        )
        return default.value

    def read() -> float:
        value = parse_positive(
            root.required("low_reservoir_alarm"), "low_reservoir_alarm", Kind.VOLUME
        )
        if not low.value <= value <= high.value:
            raise InputError(
                "low_reservoir_alarm",
                f"{format_volume(value)} is outside the device range "
                f"{format_volume(low.value)} to {format_volume(high.value)} ({low.provenance})",
            )
        return value

    return errors.attempt(read)


def _catheter(root: Table, device: Device | None, errors: Collector) -> float | None:
    has_volume, has_length = root.has("catheter_volume"), root.has("catheter_length")
    root.raw("catheter_volume")
    root.raw("catheter_length")
    if has_volume == has_length:
        errors.add(
            "catheter_volume",
            "give exactly one of catheter_volume (e.g. '0.19 mL') or catheter_length "
            "(e.g. '45 cm', multiplied by the device's volume per cm)",
        )
        return None
    if has_volume:
        return errors.attempt(
            lambda: parse_positive(root.required("catheter_volume"), "catheter_volume", Kind.VOLUME)
        )
    length = errors.attempt(
        lambda: parse_positive(root.required("catheter_length"), "catheter_length", Kind.LENGTH)
    )
    if length is None or device is None:
        return None
    return length * device.catheter_ml_per_cm.value


def dose_text(drug: Drug, mcg: float) -> str:
    return format_mass(mcg, drug.dose_unit.value)
