"""Responses as CSV text: one row per patient visit, one column per item (pure: text in, out).

A row is one patient (``subject``) at one time point of one procedure. Each instrument whose
columns are filled in becomes one ``Response``; empty cells mean "not asked". Every bad cell is
reported by line and column, and nothing is returned unless the whole file is valid.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from intrathecal.outcomes.errors import raise_if_any
from intrathecal.outcomes.instruments import INSTRUMENTS, MAS_GRADES, SIDE_EFFECT_LABELS
from intrathecal.outcomes.records import Answer, Response
from intrathecal.outcomes.validation import Checked, check_response
from intrathecal.units import InputError


@dataclass(frozen=True)
class Column:
    name: str
    meaning: str
    example: str
    required: bool = False


_PROMIS_ITEMS = INSTRUMENTS["promis-global-10"].item_keys
_SIDE_EFFECT_KEYS = ";".join(SIDE_EFFECT_LABELS)

COLUMNS: tuple[Column, ...] = (
    Column(
        "subject", "pseudonymous patient id (letters, digits, . _ -); never a name", "P014", True
    ),
    Column(
        "procedure",
        "procedure key, e.g. intrathecal-pump, facet-joint-injection",
        "epidural-injection",
        True,
    ),
    Column(
        "timepoint", "'baseline' or a follow-up such as '2 weeks', '3 months'", "3 months", True
    ),
    Column(
        "days_from_baseline",
        "whole days since baseline: 0 at baseline, > 0 at follow-ups",
        "91",
        True,
    ),
    Column(
        "episode",
        "1 for the first series or implant (default); 2, 3... for a repeated procedure "
        "(a second injection series, a pump replacement), each with its own baseline",
        "1",
    ),
    Column(
        "collected_on",
        "date answered, YYYY-MM-DD (left out of de-identified exports)",
        "2025-04-02",
    ),
    Column("entered_by", "'staff' or 'patient' (default staff)", "patient"),
    Column("nrs_pain", "pain, average over 7 days, 0 (none) to 10 (worst imaginable)", "4"),
    Column(
        "pgic",
        "impression of change 1 (very much improved) to 7 (very much worse); follow-ups only",
        "2",
    ),
    Column(
        "percent_improvement",
        "improvement since the procedure, 0 to 100 (whole %); follow-ups only",
        "60",
    ),
    *(
        Column(
            f"promis_{key}",
            f"PROMIS Global-10 v1.2 item {key}, code 1-5"
            + (" (pain 0-10)" if key == "global07r" else ""),
            "3",
        )
        for key in _PROMIS_ITEMS
    ),
    Column(
        "mas",
        "Modified Ashworth grade, clinician-rated: 0, 1, 1+, 2, 3 or 4 (baclofen patients)",
        "1+",
    ),
    Column("mas_muscle", "muscle group the MAS grade is for (optional text)", "left adductors"),
    Column(
        "psfs_frequency",
        "Penn Spasm Frequency Scale 0 (no spasms) to 4 (more than 10 an hour)",
        "3",
    ),
    Column("psfs_severity", "spasm severity 1 mild, 2 moderate, 3 severe; blank if no spasms", "2"),
    Column(
        "side_effects",
        f"'none', or effects separated by ';' from: {_SIDE_EFFECT_KEYS}; follow-ups only",
        "nausea;itching",
    ),
    Column(
        "side_effects_other",
        "other side effect in words (optional; dropped from de-identified exports)",
        "",
    ),
)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
REQUIRED = tuple(c.name for c in COLUMNS if c.required)

# Simple columns: one column is one item of one instrument.
_ITEM_COLUMNS: dict[str, tuple[str, str]] = {
    "nrs_pain": ("nrs-pain", "pain"),
    "pgic": ("pgic", "change"),
    "percent_improvement": ("percent-improvement", "percent"),
    **{f"promis_{key}": ("promis-global-10", key) for key in _PROMIS_ITEMS},
    "side_effects_other": ("side-effects", "other"),
    "mas": ("modified-ashworth", "grade"),
    "mas_muscle": ("modified-ashworth", "muscle"),
    "psfs_frequency": ("penn-spasm", "frequency"),
    "psfs_severity": ("penn-spasm", "severity"),
}
# Columns added after the first example file (optional; a file without them reads as before).
LATER_COLUMNS = ("episode", "mas", "mas_muscle", "psfs_frequency", "psfs_severity")
_INSTRUMENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "nrs-pain": ("nrs_pain",),
    "pgic": ("pgic",),
    "percent-improvement": ("percent_improvement",),
    "promis-global-10": tuple(f"promis_{key}" for key in _PROMIS_ITEMS),
    "side-effects": ("side_effects", "side_effects_other"),
    "modified-ashworth": ("mas", "mas_muscle"),
    "penn-spasm": ("psfs_frequency", "psfs_severity"),
}
_ATTR_COLUMN = {f"answers.{inst}.{item}": col for col, (inst, item) in _ITEM_COLUMNS.items()}
_ATTR_COLUMN.update({f"answers.side-effects.{key}": "side_effects" for key in SIDE_EFFECT_LABELS})
_ATTR_COLUMN.update({f"answers.{inst}": cols[0] for inst, cols in _INSTRUMENT_COLUMNS.items()})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT = re.compile(r"^[+-]?\d+$")


def column_of(attr: str) -> str:
    """The CSV column holding a Response attribute ('answers.pgic.change' -> 'pgic')."""
    return _ATTR_COLUMN.get(attr, attr)


def parse_responses_csv(text: str) -> list[Response]:
    """Read and validate every row; raise ``InvalidOutcomesError`` naming each bad line/column."""
    return _parse(text)[0]


def parse_checked_csv(text: str) -> list[Checked]:
    """``parse_responses_csv`` keeping each response's check and scores (cleaned answers,
    canonical time points), so a report made straight after reading does not check every
    answer a second time."""
    return _parse(text)[1]


def _parse(text: str) -> tuple[list[Response], list[Checked]]:
    # Checked in one streaming pass (csvstream: every problem, the first 50 listed); a valid
    # file's rows are then made into records for the callers that want them as a list.
    from intrathecal.outcomes.csvstream import scan_csv

    scan_csv(io.StringIO(text, newline=""), keep=False).raise_if_invalid()
    responses: list[Response] = []
    checked: list[Checked] = []
    for line, row in _rows(text):
        for response in _row_responses(line, row)[0]:
            responses.append(response)
            checked.append(check_response(response, f"line {line}", column_of))
    return responses, checked


def _line_order(error: InputError) -> tuple[int, str]:
    match = re.match(r"line (\d+)", error.field)
    return (int(match.group(1)) if match else 0, error.field)


def _rows(text: str) -> list[tuple[int, dict[str, str]]]:
    text = text.removeprefix("\ufeff")  # spreadsheet programs often write a byte-order mark
    # strict: a quote inside an unquoted cell, or text after a closing quote, is an error.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("line 1", "the file is empty; it needs a header row") from None
    except csv.Error as exc:
        raise InputError("line 1", f"not readable as CSV: {exc}") from None
    if reader.line_num > 1:
        raise InputError("line 1", "the header runs over several lines: a quote is not closed")
    start = 2
    header = [h.strip() for h in header]
    errors: list[InputError] = []
    if len(header) == 1 and ";" in header[0]:
        raise InputError("line 1", "columns must be separated by commas, not semicolons")
    for name in header:
        if name not in COLUMN_NAMES:
            errors.append(
                InputError(
                    f"line 1, column {name or '(empty)'}",
                    f"unknown column; the columns are {', '.join(COLUMN_NAMES)}",
                )
            )
    seen: set[str] = set()
    for name in header:
        if name in seen:
            errors.append(InputError(f"line 1, column {name}", "appears twice"))
        seen.add(name)
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        errors.append(InputError("line 1", f"missing required column(s): {', '.join(missing)}"))
    raise_if_any(errors)
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for cells in reader:
            first, line = start, reader.line_num
            start = line + 1
            if line > first:
                # A cell that runs over a line end is almost always an unclosed quote that has
                # swallowed the rows after it; no column of this file holds a line break.
                errors.append(
                    InputError(
                        f"line {first}",
                        f'a quoted cell runs on to line {line}: a closing quote (") is missing, '
                        "or a cell holds a line break; nothing was read",
                    )
                )
                continue
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                errors.append(
                    InputError(
                        f"line {line}",
                        f"has {len(cells)} cells but the header has {len(header)} columns",
                    )
                )
                continue
            rows.append((line, {h: c.strip() for h, c in zip(header, cells, strict=True)}))
    except csv.Error as exc:
        if "end of data" in str(exc):
            errors.append(
                InputError(
                    f"line {start}",
                    'a quoted cell opened on this line is never closed: a closing quote (") is '
                    "missing; nothing was read",
                )
            )
        else:
            errors.append(InputError(f"line {reader.line_num}", f"not readable as CSV: {exc}"))
    if not rows and not errors:
        errors.append(InputError("line 2", "no data rows after the header"))
    raise_if_any(errors)
    return rows


def _row_responses(line: int, row: dict[str, str]) -> tuple[list[Response], list[InputError]]:
    """The row's responses and the problems of its cells (unreadable days: no responses)."""
    errors: list[InputError] = []

    def at(column: str) -> str:
        return f"line {line}, column {column}"

    days: int | None = None
    raw_days = row["days_from_baseline"]
    if not _INT.match(raw_days):
        errors.append(
            InputError(at("days_from_baseline"), f"expected whole days, got {raw_days!r}")
        )
    else:
        days = int(raw_days)
    episode = 1
    raw_episode = row.get("episode", "")
    if raw_episode:
        if _INT.match(raw_episode) and 1 <= int(raw_episode) <= 99:
            episode = int(raw_episode)
        else:
            errors.append(
                InputError(at("episode"), f"expected a whole number 1 to 99, got {raw_episode!r}")
            )
    collected: date | None = None
    raw_date = row.get("collected_on", "")
    if raw_date:
        try:
            if not _DATE.match(raw_date):
                raise ValueError
            collected = date.fromisoformat(raw_date)
        except ValueError:
            errors.append(InputError(at("collected_on"), f"expected YYYY-MM-DD, got {raw_date!r}"))
    answers: dict[str, dict[str, Answer]] = {}
    for column, (instrument, item) in _ITEM_COLUMNS.items():
        value = row.get(column, "")
        if value:
            if column == "mas":
                if value not in MAS_GRADES:
                    errors.append(
                        InputError(
                            at("mas"), f"{value!r} is not a grade; write one of 0, 1, 1+, 2, 3, 4"
                        )
                    )
                    continue
                value = str(MAS_GRADES.index(value))
            answers.setdefault(instrument, {})[item] = value
    effects = row.get("side_effects", "")
    if effects:
        answers.setdefault("side-effects", {}).update(
            _side_effects(effects, at("side_effects"), errors)
        )
    elif "side-effects" in answers:
        errors.append(
            InputError(
                at("side_effects"),
                "empty, but side_effects_other is filled: write 'none' or the effects",
            )
        )
    if not answers and not errors:
        errors.append(InputError(f"line {line}", "no answers in this row"))
    if days is None:
        return [], errors
    responses = [
        Response(
            subject=row["subject"],
            procedure=row["procedure"],
            timepoint=row["timepoint"],
            days_from_baseline=days,
            instrument=instrument,
            answers=items,
            collected_on=collected,
            entered_by=row.get("entered_by", "") or "staff",
            episode=episode,
        )
        for instrument, items in answers.items()
    ]
    return responses, errors


def _side_effects(cell: str, field: str, errors: list[InputError]) -> dict[str, Answer]:
    named = [part.strip() for part in cell.split(";") if part.strip()]
    if [n.lower() for n in named] == ["none"]:
        return dict.fromkeys(SIDE_EFFECT_LABELS, 0)
    unknown = [n for n in named if n not in SIDE_EFFECT_LABELS]
    if unknown:
        errors.append(
            InputError(
                field,
                f"unknown side effect(s) {', '.join(map(repr, unknown))}; write 'none' or "
                f"some of: {_SIDE_EFFECT_KEYS}",
            )
        )
    return {key: int(key in named) for key in SIDE_EFFECT_LABELS}


def format_responses_csv(responses: Sequence[Response], *, leave_out: Collection[str] = ()) -> str:
    """Responses as CSV in the same columns, one row per subject, procedure, time point and day.

    ``leave_out`` drops optional columns (a de-identified export drops ``collected_on`` and
    ``side_effects_other``).
    """
    bad = [c for c in leave_out if c in REQUIRED or c not in COLUMN_NAMES]
    if bad:
        raise ValueError(f"cannot leave out {bad}")
    columns = [c for c in COLUMN_NAMES if c not in leave_out]
    grouped: dict[tuple[object, ...], dict[str, str]] = {}
    for r in responses:
        key = (
            r.subject,
            r.procedure,
            r.timepoint,
            r.days_from_baseline,
            r.collected_on,
            r.entered_by,
            r.episode,
        )
        row = grouped.setdefault(
            key,
            {
                "subject": r.subject,
                "procedure": r.procedure,
                "timepoint": r.timepoint,
                "days_from_baseline": str(r.days_from_baseline),
                "collected_on": r.collected_on.isoformat() if r.collected_on else "",
                "entered_by": r.entered_by,
                "episode": str(r.episode),
            },
        )
        for column in _INSTRUMENT_COLUMNS.get(r.instrument, ()):
            if column == "side_effects":
                chosen = [k for k in SIDE_EFFECT_LABELS if str(r.answers.get(k, 0)) == "1"]
                row[column] = ";".join(chosen) or "none"
            else:
                _, item = _ITEM_COLUMNS[column]
                value = r.answers.get(item, "")
                if column == "mas" and isinstance(value, int):
                    value = MAS_GRADES[value]
                row[column] = str(value)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in grouped.values():
        writer.writerow({c: row.get(c, "") for c in columns})
    return out.getvalue()
