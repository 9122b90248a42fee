"""The structured program editor's form, to and from a program file (TOML).

The server builds the program from the form's fields: each field is checked here for presence
and length, then the fields are written as the program file that ``therapy/parse.py`` reads, so
every unit, range and device rule is the one the TOML path, the API and the pump use. Errors the
parser reports under a TOML path (``basal[1].dose``) are mapped back to the form field that
holds the value (``basal_3_amount``) and labelled for the person reading the form.

Sections are a table (:data:`SECTIONS`), each named for the program field it writes; the
page shows a section only when the chosen delivery mode takes that field
(``therapy.modes.mode_spec``). The mode is posted as ``mode``; the parser refuses a mode the
patient's device lacks, naming the device, and that error is shown beside the mode selector. A
constant-flow (fixed-rate) pump has no program to edit: its dose changes only through the
concentration at a refill, so the structured editor refuses to build one (:func:`no_program`).

Field names (``i`` is the row number the page gave; rows may have gaps after a removal):

- ``name``, ``mode`` (a delivery mode of the device: "continuous", "periodic-flow"...),
  ``catheter_volume``, ``low_reservoir_alarm``, ``weekly`` ("yes" for a weekly cycle)
- ``drug_i_name``, ``drug_i_concentration``
- ``basal_i_start``, ``basal_i_amount`` (a dose of the first drug, "1 mg/day", or a rate,
  "0.1 mL/day"), ``basal_i_days`` (repeated: mon..sun; only with ``weekly``)
- ``periodic_i_start``, ``periodic_i_amount`` ("0.5 mg" or "0.05 mL"), ``periodic_i_duration``,
  ``periodic_i_days``
- ``demand_on`` ("yes"), ``demand_amount``, ``demand_duration``, ``demand_lockout``,
  ``demand_max_per_24h``
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from intrathecal.library import default_library
from intrathecal.library.records import DeliveryMode, Device
from intrathecal.therapy.errors import InvalidProgramError
from intrathecal.therapy.modes import ModeSpec, device_modes
from intrathecal.therapy.parse import parse_program, parse_time_of_day, read_mode
from intrathecal.therapy.program import ALL_DAYS, WEEKDAY_NAMES, Program
from intrathecal.therapy.serialize import to_toml
from intrathecal.units import InputError, Kind, Toward, format_duration, parse, round_to_step

# Longest text a field may hold: a quantity with its unit is a dozen characters; a drug key a
# few dozen. Longer input is refused (named), never truncated.
MAX_FIELD_CHARS = 40
MAX_NAME_CHARS = 80
# Rows per table the page may send: more than any device holds (the parser then applies the
# device's own limit, with its source), few enough that a forged form cannot make work.
MAX_ROWS = {"drug": 4, "basal": 48, "periodic": 24}
DAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

Form = Mapping[str, Sequence[str]]  # each field's values, as posted (days repeat)


@dataclass(frozen=True)
class FieldError:
    field: str  # the form field holding the value ("" when it is the program as a whole)
    label: str  # what the page calls it
    message: str  # what is wrong, with the unit expected

    def __str__(self) -> str:
        return f"{self.label}: {self.message}"


@dataclass
class Built:
    """The program file the form describes, or the errors found (each named)."""

    toml: str = ""
    errors: list[FieldError] = field(default_factory=list)
    # TOML path prefix -> (form field prefix, page label), to map the parser's errors back.
    paths: dict[str, tuple[str, str]] = field(default_factory=dict)


def first_value(form: Form, key: str) -> str:
    values = form.get(key) or ()
    return str(values[0]) if values else ""


def _q(text: str) -> str:
    return json.dumps(text)  # a TOML basic string is a JSON string for these characters


def rows(form: Form, prefix: str) -> list[int]:
    """The row numbers the form holds for ``prefix`` ("basal" -> [0, 1, 3]), in order."""
    pattern = re.compile(rf"{prefix}_(\d{{1,4}})_")
    found = {int(m.group(1)) for key in form if (m := pattern.match(key))}
    return sorted(found)


class _Reader:
    """Reads fields, checking presence and length; each problem is kept, named and labelled."""

    def __init__(self, form: Form, built: Built) -> None:
        self.form = form
        self.built = built

    def text(self, key: str, label: str, example: str, required: bool = True) -> str | None:
        value = first_value(self.form, key).strip()
        limit = MAX_NAME_CHARS if key == "name" else MAX_FIELD_CHARS
        if len(value) > limit:
            self.error(key, label, f"is too long ({len(value)} characters; at most {limit})")
            return None
        if not value and required:
            self.error(key, label, f"is empty; write it like {example!r}")
            return None
        return value

    def days(self, key: str, label: str) -> list[str] | None:
        values = [str(v).strip().lower() for v in self.form.get(key) or ()]
        bad = [v for v in values if v not in WEEKDAY_NAMES]
        if bad:
            self.error(key, label, f"{bad[0][:12]!r} is not a weekday")
            return None
        if not values:
            self.error(key, label, "tick at least one day")
            return None
        return sorted(set(values), key=WEEKDAY_NAMES.index)

    def error(self, key: str, label: str, message: str) -> None:
        self.built.errors.append(FieldError(key, label, message))


def _is_volume(amount: str) -> bool:
    """'0.1 mL/day' or '0.05 mL' is a volume (rate); anything else is read as a dose."""
    unit = amount.lstrip("0123456789.,+-eE ").lower()
    return unit.startswith(("ml", "milliliter", "millilitre", "µl", "ul"))


def _header(reader: _Reader, lines: list[str], device_key: str) -> None:
    name = reader.text("name", "Program name", "", required=False)
    lines.append(f"name = {_q(name or 'program')}")
    lines.append(f"device = {_q(device_key)}")
    mode = reader.text("mode", "Delivery mode", "continuous", required=False)
    if mode:  # the parser checks it against the device (one list for every door)
        lines.append(f"mode = {_q(mode)}")
    for key, label, example in (
        ("catheter_volume", "Catheter volume", "0.2 mL"),
        ("low_reservoir_alarm", "Low-reservoir alarm", "4 mL"),
    ):
        value = reader.text(key, label, example)
        if value is not None:
            lines.append(f"{key} = {_q(value)}")
        reader.built.paths[key] = (key, label)


def _drugs(reader: _Reader, lines: list[str]) -> None:
    found = rows(reader.form, "drug")
    if not found:
        reader.error("drug_0_name", "Drug 1", "a program needs at least one drug")
    for position, i in enumerate(found[: MAX_ROWS["drug"]]):
        label = f"Drug {position + 1}"
        reader.built.paths[f"drugs[{position}]"] = (f"drug_{i}", label)
        name = reader.text(f"drug_{i}_name", f"{label} name", "morphine")
        concentration = reader.text(f"drug_{i}_concentration", f"{label} concentration", "10 mg/mL")
        lines += ["", "[[drugs]]"]
        if name is not None:
            lines.append(f"name = {_q(name)}")
        if concentration is not None:
            lines.append(f"concentration = {_q(concentration)}")
    if len(found) > MAX_ROWS["drug"]:
        reader.error("drug", "Drugs", f"at most {MAX_ROWS['drug']} drugs in one program")


def _weekly(form: Form) -> bool:
    return first_value(form, "weekly") == "yes"


def _start_key(form: Form, i: int) -> int:
    try:
        return parse_time_of_day(first_value(form, f"basal_{i}_start").strip(), "start")
    except InputError:
        return 86_400


def _basal(reader: _Reader, lines: list[str]) -> None:
    # The pump reads steps in order of start time; the page lists them as they were added, so
    # they are written in time order here (a start that cannot be read keeps its place last).
    listed = rows(reader.form, "basal")  # as the page lists them: its labels count these
    found = sorted(listed, key=lambda i: _start_key(reader.form, i))
    if not found and read_mode(first_value(reader.form, "mode")) is not DeliveryMode.PERIODIC_FLOW:
        reader.error("basal", "Basal steps", "add at least one step (start and dose or rate)")
    for position, i in enumerate(found[: MAX_ROWS["basal"]]):
        label = f"Basal step {listed.index(i) + 1}"
        reader.built.paths[f"basal[{position}]"] = (f"basal_{i}", label)
        start = reader.text(f"basal_{i}_start", f"{label} start", "08:00")
        amount = reader.text(f"basal_{i}_amount", f"{label} dose or rate", "1 mg/day")
        days = reader.days(f"basal_{i}_days", f"{label} days") if _weekly(reader.form) else []
        lines += ["", "[[basal]]"]
        if start is not None:
            lines.append(f"start = {_q(start)}")
        if days:
            lines.append(f"days = [{', '.join(_q(d) for d in days)}]")
        if amount is not None:
            lines.append(f"{'rate' if _is_volume(amount) else 'dose'} = {_q(amount)}")
    if len(found) > MAX_ROWS["basal"]:
        reader.error("basal", "Basal steps", f"at most {MAX_ROWS['basal']} steps")


def _periodic(reader: _Reader, lines: list[str]) -> None:
    found = rows(reader.form, "periodic")
    for position, i in enumerate(found[: MAX_ROWS["periodic"]]):
        label = f"Periodic bolus {position + 1}"
        reader.built.paths[f"periodic_bolus[{position}]"] = (f"periodic_{i}", label)
        start = reader.text(f"periodic_{i}_start", f"{label} start", "08:00")
        amount = reader.text(f"periodic_{i}_amount", f"{label} dose or volume", "0.5 mg")
        duration = reader.text(f"periodic_{i}_duration", f"{label} duration", "1 h")
        days = reader.days(f"periodic_{i}_days", f"{label} days") if _weekly(reader.form) else []
        lines += ["", "[[periodic_bolus]]"]
        if start is not None:
            lines.append(f"start = {_q(start)}")
        if days:
            lines.append(f"days = [{', '.join(_q(d) for d in days)}]")
        if amount is not None:
            lines.append(f"{'volume' if _is_volume(amount) else 'dose'} = {_q(amount)}")
        if duration is not None:
            lines.append(f"duration = {_q(duration)}")
    if len(found) > MAX_ROWS["periodic"]:
        reader.error("periodic", "Periodic boluses", f"at most {MAX_ROWS['periodic']} boluses")


def _demand(reader: _Reader, lines: list[str]) -> None:
    if first_value(reader.form, "demand_on") != "yes":
        return
    reader.built.paths["demand_bolus"] = ("demand", "Demand bolus")
    amount = reader.text("demand_amount", "Demand bolus dose or volume", "0.1 mg")
    duration = reader.text("demand_duration", "Demand bolus duration", "10 min")
    lockout = reader.text("demand_lockout", "Demand bolus lockout", "4 h")
    count = reader.text("demand_max_per_24h", "Demand boluses per 24 h", "4")
    lines += ["", "[demand_bolus]"]
    if amount is not None:
        lines.append(f"{'volume' if _is_volume(amount) else 'dose'} = {_q(amount)}")
    if duration is not None:
        lines.append(f"duration = {_q(duration)}")
    if lockout is not None:
        lines.append(f"lockout = {_q(lockout)}")
    if count is not None:
        if not re.fullmatch(r"\d{1,3}", count):
            reader.error(
                "demand_max_per_24h",
                "Demand boluses per 24 h",
                f"must be a whole number of boluses like '4', got {count!r}",
            )
        else:
            lines.append(f"max_per_24h = {int(count)}")


# The editor's sections, in the order of the program file, each under the program field it
# writes (``therapy.modes.ModeField.key``; drugs belong to every mode). All are read whatever the
# mode: the page does not post a section the mode lacks, so a posted one is refused by the
# parser (a basal in periodic flow), never dropped unseen.
SECTIONS: tuple[tuple[str, Callable[[_Reader, list[str]], None]], ...] = (
    ("drugs", _drugs),
    ("basal", _basal),
    ("periodic_bolus", _periodic),
    ("demand_bolus", _demand),
)


def editable_modes(device: Device) -> tuple[ModeSpec, ...]:
    """The modes the structured editor offers for ``device``: its own, from the list the parser
    enforces, less fixed rate (no program: the rate is the pump's)."""
    return tuple(m for m in device_modes(device) if m.mode is not DeliveryMode.FIXED_RATE)


def no_program(device: Device) -> str:
    """Why ``device`` has no program to edit ("" when it has one)."""
    if editable_modes(device):
        return ""
    return (
        f"{device.name} runs at the rate on its label and has no program to edit: the dose "
        "changes only through the concentration, at a refill (refill wizard)"
    )


def build(form: Form, device_key: str, overrides_toml: str = "") -> Built:
    """The program file for ``form`` on the patient's device (the server's, never the form's).

    ``overrides_toml``: the ``[device_overrides]`` table of the version being edited, kept as it
    was (the structured editor does not edit device constants; the advanced TOML editor does).
    """
    built = Built()
    reader = _Reader(form, built)
    lines: list[str] = []
    refused = no_program(default_library().device(device_key))
    if refused:
        reader.error("mode", "Delivery mode", refused)
        return built
    _header(reader, lines, device_key)
    for _, section in SECTIONS:
        section(reader, lines)
    if overrides_toml:
        lines += ["", overrides_toml.strip()]
    built.toml = "\n".join(lines) + "\n"
    return built


# The parser's last path part -> the form field's suffix and what the page calls it.
_PARTS = {
    "name": ("name", "name"),
    "concentration": ("concentration", "concentration"),
    "start": ("start", "start"),
    "days": ("days", "days"),
    "dose": ("amount", "dose or volume"),
    "rate": ("amount", "dose or rate"),
    "volume": ("amount", "dose or volume"),
    "duration": ("duration", "duration"),
    "lockout": ("lockout", "lockout"),
    "max_per_24h": ("max_per_24h", "per 24 h"),
}


def field_of(path: str, built: Built) -> tuple[str, str]:
    """The form field and label for the parser's ``path`` ("basal[1].dose")."""
    head, _, part = path.partition(".")
    if head in built.paths:
        prefix, label = built.paths[head]
        if not part:
            return (prefix if head in ("catheter_volume", "low_reservoir_alarm") else ""), label
        suffix, what = _PARTS.get(part, (part, part.replace("_", " ")))
        if head == "basal" or head.startswith("basal["):
            what = "dose or rate" if suffix == "amount" else what
        return f"{prefix}_{suffix}", f"{label} {what}"
    labels = {
        "device": ("", "Device"),
        "mode": ("mode", "Delivery mode"),
        "basal": ("basal", "Basal steps"),
        "periodic_bolus": ("periodic", "Periodic doses"),
        "drugs": ("drug_0_name", "Drugs"),
        "catheter_volume": ("catheter_volume", "Catheter volume"),
        "low_reservoir_alarm": ("low_reservoir_alarm", "Low-reservoir alarm"),
        "device_overrides": ("", "Device overrides (advanced TOML)"),
    }
    return labels.get(head.split("[")[0], ("", path))


def parse_form(
    form: Form, device_key: str, overrides_toml: str = ""
) -> tuple[Program | None, Built]:
    """The program the form describes (not yet reviewed), or None and the errors, each named."""
    built = build(form, device_key, overrides_toml)
    if not built.toml:  # refused before a program file could be written (no program to edit)
        return None, built
    # The parser runs even after a field was refused, so that every problem shows at once; a
    # field already named is not named again (its value was left out of the file).
    named = {e.field for e in built.errors}
    try:
        program = parse_program(built.toml, default_library(), check_limits=False)
    except InvalidProgramError as exc:
        found = [FieldError(*field_of(e.field, built), e.message) for e in exc.errors]
        built.errors += [e for e in found if not e.field or e.field not in named]
        if any(e.field.startswith("drug_") for e in built.errors):
            # A dose cannot be converted without its drug: said once, at the drug.
            built.errors = [e for e in built.errors if "needs a valid first drug" not in e.message]
        return None, built
    except InputError as exc:
        error = FieldError(*field_of(exc.field, built), exc.message)
        built.errors += [error] if error.field not in named else []
        return None, built
    if built.errors:
        return None, built
    return program, built


# --- a stored program as the form's fields ---------------------------------------------------


def _trim(number: float) -> str:
    return f"{number:.6g}"


def _reads_back(text: str, kind: Kind, program: Program, expected: float, basal: bool) -> bool:
    """Whether the dose ``text`` of the first drug reads back as exactly ``expected`` (mL or
    mL/day), as the parser converts it (a basal rate rounded down to the device step)."""
    try:
        volume = parse(text, "amount", kind) / program.first.concentration_mcg_per_ml
    except InputError:
        return False
    if basal:
        volume = round_to_step(volume, program.device.rate_step_ml_per_day.value, Toward.DOWN).value
    return volume == expected


def _amount(program: Program, volume_ml: float, per: str, table: str) -> str:
    """A rate or volume as the first drug's dose when that reads back exactly, else as volume."""
    first = program.first
    unit = first.drug.dose_unit.value
    mcg = volume_ml * first.concentration_mcg_per_ml
    dose = f"{_trim(mcg / 1000.0 if unit == 'mg' else mcg)} {unit}{per}"
    kind = Kind.DOSE_RATE if per else Kind.MASS
    if _reads_back(dose, kind, program, volume_ml, table == "basal"):
        return dose
    return f"{volume_ml!r} mL{per}"


def _clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


def _days(days: frozenset[int]) -> list[str]:
    return [WEEKDAY_NAMES[d] for d in sorted(days)]


def fields_of(program: Program | None, device_key: str) -> dict[str, list[str]]:
    """The form's fields for ``program`` (a blank one-drug, one-step form for None)."""
    if program is None:
        modes = editable_modes(default_library().device(device_key)) if device_key else ()
        return {
            "mode": [modes[0].mode.value if modes else ""],
            "catheter_volume": [""],
            "low_reservoir_alarm": [""],
            "drug_0_name": [""],
            "drug_0_concentration": [""],
            "basal_0_start": ["00:00"],
            "basal_0_amount": [""],
            "basal_0_days": list(WEEKDAY_NAMES),
        }
    out: dict[str, list[str]] = {
        "name": [program.name],
        "mode": [program.mode.value],
        "catheter_volume": [f"{program.catheter_volume_ml:.6g} mL"],
        "low_reservoir_alarm": [f"{program.low_reservoir_alarm_ml:.6g} mL"],
        "weekly": ["yes" if program.weekly else ""],
    }
    for i, ingredient in enumerate(program.ingredients):
        unit = ingredient.drug.dose_unit.value
        per_ml = ingredient.concentration_mcg_per_ml
        out[f"drug_{i}_name"] = [ingredient.drug.key]
        shown = f"{_trim(per_ml / 1000.0 if unit == 'mg' else per_ml)} {unit}/mL"
        exact = f"{per_ml!r} mcg/mL"
        out[f"drug_{i}_concentration"] = [shown if _same(shown, per_ml) else exact]
    # Periodic flow has no basal: its zero step is implied by the mode (as in to_toml).
    basal = () if program.mode is DeliveryMode.PERIODIC_FLOW else program.basal
    for i, step in enumerate(basal):
        out[f"basal_{i}_start"] = [_clock(step.start_s)]
        out[f"basal_{i}_amount"] = [_amount(program, step.rate_ml_per_day, "/day", "basal")]
        out[f"basal_{i}_days"] = _days(step.days)
    for i, bolus in enumerate(program.periodic):
        out[f"periodic_{i}_start"] = [_clock(bolus.start_s)]
        out[f"periodic_{i}_amount"] = [_amount(program, bolus.volume_ml, "", "periodic_bolus")]
        out[f"periodic_{i}_duration"] = [format_duration(bolus.duration_s)]
        out[f"periodic_{i}_days"] = _days(bolus.days)
    if program.demand is not None:
        demand = program.demand
        out["demand_on"] = ["yes"]
        out["demand_amount"] = [_amount(program, demand.volume_ml, "", "demand_bolus")]
        out["demand_duration"] = [format_duration(demand.duration_s)]
        out["demand_lockout"] = [format_duration(demand.lockout_s)]
        out["demand_max_per_24h"] = [str(demand.max_per_24h)]
    return out


def _same(text: str, mcg_per_ml: float) -> bool:
    try:
        return parse(text, "concentration", Kind.CONCENTRATION) == mcg_per_ml
    except InputError:
        return False


def overrides_of(program: Program | None) -> str:
    """The ``[device_overrides]`` table of ``program`` as TOML ("" when it has none)."""
    if program is None or not program.overridden:
        return ""
    text = to_toml(program)
    start = text.find("[device_overrides]")
    return text[start:] if start >= 0 else ""


def every_day(days: Sequence[str]) -> bool:
    return {WEEKDAY_NAMES.index(d) for d in days if d in WEEKDAY_NAMES} == set(ALL_DAYS)
