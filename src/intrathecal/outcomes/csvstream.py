"""Reading a responses CSV in one streaming pass: check every row, keep only counts (pure).

A 50 MB registry file has about 580,000 rows. Building a ``Response`` and a ``Checked`` for
every answer cost minutes and gigabytes, so here each row is checked as it is read by
precompiled validators (a lookup table per column: the cell text -> its code) and reduced to one
small tuple per row, ``Visit``, holding what the cross-row checks and the statistics need: time
point, line, date, days, instruments and the few scores the shares read. A row the fast checks
do not accept outright (a bad or unusual cell, such as "3.0") is checked by the full per-answer
code of ``validation.check_response``, so every message stays the one users know; only a row that
passes both is counted. The cross-row checks (duplicates, follow-ups dated on or before the
baseline, days that disagree with the dates) run on the visits, and the statistics are counted
from them (``statistics.from_counts`` makes the shares, intervals and warnings). Errors are kept
as the first ``MAX_REPORTED`` by line, with the total.
"""

from __future__ import annotations

import csv
import gc
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from operator import itemgetter
from typing import Any, NamedTuple, cast

from intrathecal.outcomes.csvfile import (
    _ITEM_COLUMNS,
    COLUMN_NAMES,
    REQUIRED,
    _row_responses,
    column_of,
)
from intrathecal.outcomes.errors import MAX_REPORTED, InvalidOutcomesError
from intrathecal.outcomes.instruments import (
    INSTRUMENTS,
    MAS_GRADES,
    REVIEW_SIDE_EFFECTS,
    SIDE_EFFECT_LABELS,
    ItemKind,
    When,
)
from intrathecal.outcomes.records import BASELINE, Period, Response
from intrathecal.outcomes.responders import (
    FUNCTION,
    MAS,
    NRS,
    PERCENT,
    PGIC_SCORE,
    PSFS,
    QOL,
    SHARES,
    ScoreRef,
)
from intrathecal.outcomes.statistics import (
    SMALL_N,
    ProcedureStatistics,
    ShareCount,
    TimepointCount,
    from_counts,
    procedure_notes,
    wanted_timepoints,
)
from intrathecal.outcomes.timepoints import (
    Timepoint,
    parse_timepoint,
    procedure_key,
)
from intrathecal.outcomes.validation import (
    MAX_DAYS,
    MAX_EPISODE,
    Checked,
    check_response,
    episode_name,
    field_name,
)
from intrathecal.units import InputError

# The scores the shares read, and the CSV column each comes from (the column's cleaned code is
# the score: checked against scoring._score in tests/outcomes/test_csvstream.py).
REFS: tuple[ScoreRef, ...] = (NRS, PGIC_SCORE, PERCENT, QOL, FUNCTION, MAS, PSFS)
REF_COLUMNS: dict[ScoreRef, str] = {
    NRS: "nrs_pain",
    PGIC_SCORE: "pgic",
    PERCENT: "percent_improvement",
    QOL: "promis_global02",
    FUNCTION: "promis_global06",
    MAS: "mas",
    PSFS: "psfs_frequency",
}
_REF_INDEX = {ref: i for i, ref in enumerate(REFS)}
_SHARE_REFS = tuple(
    (_REF_INDEX[d.follow_up], None if d.baseline is None else _REF_INDEX[d.baseline])
    for d in SHARES
)
# One byte per REFS entry (every score the shares read is 0-100), NO_ANSWER where not answered:
# 40 bytes a row instead of a tuple of 112, and nothing for the garbage collector to walk.
Values = bytes
NO_ANSWER = 255


class Visit(NamedTuple):
    """One row, reduced: what the cross-row checks and the statistics need."""

    label: str  # canonical time point ('3 months'), or the raw text of an unreadable one
    line: int
    collected_on: date | None
    days: int
    instruments: tuple[str, ...]  # every response of the row, in the order of the row's columns
    valid: tuple[str, ...]  # the responses that passed their own checks
    values: Values
    effects: tuple[str, ...] | None  # side effects reported (None: checklist not answered)
    review: bool  # an answer flagged for clinician review


@dataclass
class Scan:
    """The whole file, checked: counts for the report, or the errors (first 50 and the total)."""

    episodes: dict[tuple[str, str, int], list[Visit]] = field(default_factory=dict)
    responses: int = 0
    latest: date | None = None
    error_count: int = 0
    _errors: list[tuple[int, str, int, int, InputError]] = field(default_factory=list)

    def error(self, line: int, phase: int, error: InputError) -> None:
        """Note a problem; the first MAX_REPORTED in file order are kept (``phase`` orders a
        line's checks as the list reader did: reading, the row's own checks, duplicates, dates
        against the baseline)."""
        self.error_count += 1
        self._errors.append((line, error.field, phase, self.error_count, error))
        if len(self._errors) > 20 * MAX_REPORTED:  # a file bad on every row stays small here
            self._errors.sort(key=lambda e: e[:4])
            del self._errors[MAX_REPORTED:]

    def errors(self) -> list[InputError]:
        """The first MAX_REPORTED problems by line, then one line giving the total."""
        shown = [e[4] for e in sorted(self._errors, key=lambda e: e[:4])[:MAX_REPORTED]]
        if self.error_count > len(shown):
            more = self.error_count - len(shown)
            shown.append(
                InputError("file", f"{more} more problem(s) not listed ({self.error_count} in all)")
            )
        return shown

    def raise_if_invalid(self) -> None:
        if self.error_count:
            raise InvalidOutcomesError(self.errors())

    @property
    def subjects(self) -> int:
        return len({subject for subject, _, _ in self.episodes})

    @property
    def procedures(self) -> list[str]:
        return sorted({procedure for _, procedure, _ in self.episodes})


# Precompiled cell validators: the text of every allowed answer -> its code. A cell not in the
# table (a bad answer, or an unusual spelling such as "3.0" or "+3") goes to the full check.
_Check = dict[str, int] | int  # lookup table, or the max length of a text item


@dataclass(frozen=True)
class _ItemRule:
    column: str
    item: str
    check: _Check
    required: bool


def _rules() -> dict[str, tuple[_ItemRule, ...]]:
    rules: dict[str, list[_ItemRule]] = {}
    for column, (key, item_key) in _ITEM_COLUMNS.items():
        item = next(i for i in INSTRUMENTS[key].items if i.key == item_key)
        check: _Check
        if column == "mas":
            check = {grade: code for code, grade in enumerate(MAS_GRADES)}
        elif item.kind is ItemKind.TEXT:
            check = item.max_length
        elif item.kind is ItemKind.CHOICE:
            check = {str(code): code for code in item.codes}
        else:
            assert item.minimum is not None and item.maximum is not None
            check = {str(n): n for n in range(item.minimum, item.maximum + 1)}
        rules.setdefault(key, []).append(_ItemRule(column, item_key, check, item.required))
    return {key: tuple(r) for key, r in rules.items()}


_RULES = _rules()
_RULE_OF_COLUMN = {r.column: r for rules in _RULES.values() for r in rules}
_FOLLOW_UP_ONLY = frozenset(k for k, inst in INSTRUMENTS.items() if inst.when is When.FOLLOW_UP)
_SUBJECT = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT = re.compile(r"^[+-]?\d+$")
_CACHE_LIMIT = 100_000  # distinct dates, days and labels are few; a hostile file cannot grow it


def _cached(cache: dict[str, object], text: str, make: Callable[[str], object]) -> object:
    found = cache.get(text, _cached)
    if found is _cached:
        found = make(text)
        if len(cache) < _CACHE_LIMIT:
            cache[text] = found
    return found


def _timepoint_or_none(text: str) -> Timepoint | None:
    try:
        return parse_timepoint(text)
    except InputError:
        return None


def _timepoint_window(text: str) -> tuple[Timepoint, int, int] | None:
    tp = _timepoint_or_none(text)
    return None if tp is None else (tp, *tp.window)


def _procedure_or_none(text: str) -> str | None:
    try:
        return procedure_key(text)
    except InputError:
        return None


def _date_or_none(text: str) -> date | None:
    if not _DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _days_or_none(text: str) -> int | None:
    if not _INT.match(text):
        return None
    days = int(text)
    return days if -MAX_DAYS <= days <= MAX_DAYS else None


class _Reader:
    """Row checks for one header: each column's index found once."""

    def __init__(self, header: Sequence[str]) -> None:
        self.width = len(header)
        index = {name: i for i, name in enumerate(header)}
        blank = len(header)  # missing optional columns read the empty cell appended to a row

        def at(name: str) -> int:
            return index.get(name, blank)

        self.header = list(header)
        self.subject, self.procedure = at("subject"), at("procedure")
        self.timepoint, self.days = at("timepoint"), at("days_from_baseline")
        self.episode, self.collected = at("episode"), at("collected_on")
        self.entered_by = at("entered_by")
        self.effects, self.other = at("side_effects"), at("side_effects_other")
        self.rules = [
            (key, tuple((at(r.column), r) for r in rules)) for key, rules in _RULES.items()
        ]
        # Instruments whose items are all required codes (NRS, PGIC, %, PROMIS): checked by
        # set inclusion of their cells in C; the others (MAS, Penn, side effects) item by item.
        self.simple: list[tuple[str, Any, list[tuple[Any, frozenset[str]]]]]
        self.generic: list[tuple[str, tuple[tuple[int, _ItemRule], ...]]] = []
        self.simple = []
        for key, rules in self.rules:
            if all(r.required and isinstance(r.check, dict) for _, r in rules) and (
                not self.generic and key != "modified-ashworth"
            ):
                groups: dict[frozenset[str], list[int]] = {}
                for i, r in rules:
                    assert isinstance(r.check, dict)
                    groups.setdefault(frozenset(r.check), []).append(i)
                self.simple.append(
                    (
                        key,
                        itemgetter(*[i for i, _ in rules], rules[0][0]),
                        [(itemgetter(*cols, cols[0]), allowed) for allowed, cols in groups.items()],
                    )
                )
            else:
                self.generic.append((key, rules))
        self.generic_cells = itemgetter(
            *[i for _, rules in self.generic for i, _ in rules], self.effects, self.other
        )
        self.ref_columns = tuple(
            (at(REF_COLUMNS[ref]), _RULE_OF_COLUMN[REF_COLUMNS[ref]].check) for ref in REFS
        )
        self.shared: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.caches: dict[str, dict[str, object]] = {
            k: {} for k in ("procedure", "timepoint", "days", "date")
        }

    def fast(self, line: int, row: list[str]) -> Visit | None:
        """The row's visit if every cell is plainly valid; None sends it to the full check."""
        c = self.caches
        if not _SUBJECT.match(row[self.subject]):
            return None
        if _cached(c["procedure"], row[self.procedure], _procedure_or_none) is None:
            return None
        found_tp = cast(
            "tuple[Timepoint, int, int] | None",
            _cached(c["timepoint"], row[self.timepoint], _timepoint_window),
        )
        days = _cached(c["days"], row[self.days], _days_or_none)
        if found_tp is None or not isinstance(days, int):
            return None
        tp, low, high = found_tp
        if not low <= days <= high:
            return None
        episode = row[self.episode]
        if episode not in ("", "1") and not (
            _INT.match(episode) and 1 <= int(episode) <= MAX_EPISODE
        ):
            return None
        raw_date = row[self.collected]
        collected: date | None = None
        if raw_date:
            found = _cached(c["date"], raw_date, _date_or_none)
            if not isinstance(found, date):
                return None
            collected = found
        if row[self.entered_by] not in ("", "staff", "patient"):
            return None
        answers = self._answers(row, tp.is_baseline)
        if answers is None:
            return None
        present, effects, review = answers
        if not present:
            return None
        values = bytes([table.get(row[i], NO_ANSWER) for i, table in self.ref_columns])  # type: ignore[union-attr]
        instruments = tuple(present)
        instruments = self.shared.setdefault(instruments, instruments)  # a few combinations
        return Visit(
            tp.label,
            line,
            collected,
            days,
            instruments,
            instruments,
            values,
            effects,
            review,
        )

    def _answers(
        self, row: list[str], baseline: bool
    ) -> tuple[list[str] | None, tuple[str, ...] | None, bool] | None:
        """The row's instruments, side effects and review flag, if every answer is plain."""
        present: list[str] = []
        for key, cells, groups in self.simple:
            if not any(cells(row)):
                continue
            for group, allowed in groups:
                if not allowed.issuperset(group(row)):
                    return None  # a missing or unusual answer: the full check names it
            if baseline and key in _FOLLOW_UP_ONLY:
                return None
            present.append(key)
        if not any(self.generic_cells(row)):
            return present or None, None, False
        for key, rules in self.generic:
            filled = 0
            for i, rule in rules:
                cell = row[i]
                if not cell:
                    continue
                filled += 1
                check = rule.check
                if isinstance(check, int):
                    if len(cell) > check:
                        return None
                elif cell not in check:
                    return None
            if not filled:
                continue
            if baseline and key in _FOLLOW_UP_ONLY:
                return None
            for i, rule in rules:
                if rule.required and not row[i]:
                    return None
            if key == "penn-spasm":
                no_spasms = row[rules[0][0]] == "0"
                if no_spasms == bool(row[rules[1][0]]):
                    return None
            present.append(key)
        effects: tuple[str, ...] | None = None
        review = False
        cell = row[self.effects]
        other = row[self.other]
        if cell:
            named = [part.strip() for part in cell.split(";") if part.strip()]
            if [n.lower() for n in named] == ["none"]:
                named = []
            elif any(n not in SIDE_EFFECT_LABELS for n in named):
                return None
            if baseline:
                return None
            effects = tuple(k for k in SIDE_EFFECT_LABELS if k in named)
            review = bool(other) or any(k in REVIEW_SIDE_EFFECTS for k in effects)
            if not other:
                present.append("side-effects")
        elif other:
            return None
        if not present:
            return None
        return present, effects, review

    def full(self, line: int, row: list[str], scan: Scan) -> Visit | None:
        """The list reader's checks of one row; its problems go to ``scan``."""

        cells = dict(zip(self.header, row, strict=False))
        responses, row_errors = _row_responses(line, cells)
        errors: list[InputError] = []
        label = f"line {line}"
        checked: list[Checked] = []
        for response in responses:
            try:
                checked.append(check_response(response, label, column_of))
            except InvalidOutcomesError as exc:
                errors.extend(exc.errors)
        seen: set[tuple[str, str]] = set()
        # One row gives one response per instrument: a bad id or day would be named once for
        # each; the row's own cells (phase 0) come before the checks of its answers (phase 1).
        for phase, problems in ((0, row_errors), (1, errors)):
            for e in problems:
                if (e.field, e.message) not in seen:
                    seen.add((e.field, e.message))
                    scan.error(line, phase, e)
        if not responses:
            return None
        first = responses[0]
        return visit_of(line, first, [r.instrument for r in responses], checked)


def visit_of(
    line: int, first: Response, instruments: list[str], checked: Sequence[Checked]
) -> Visit:
    """A row's visit from the full checks (the same tuple the fast path builds)."""
    try:
        label = parse_timepoint(first.timepoint).label
    except InputError:
        label = str(first.timepoint).strip().lower()
    values = bytearray([NO_ANSWER] * len(REFS))
    effects: tuple[str, ...] | None = None
    review = False
    for c in checked:
        for score, value in c.scored.scores.items():
            index = _REF_INDEX.get((c.response.instrument, score))
            if index is not None:
                values[index] = int(value)  # 0-100: see Values
        if c.response.instrument == "side-effects":
            effects = tuple(k for k in SIDE_EFFECT_LABELS if c.response.answers.get(k) == 1)
            review = bool(c.scored.review)
    return Visit(
        label,
        line,
        first.collected_on,
        first.days_from_baseline,
        tuple(instruments),
        tuple(c.response.instrument for c in checked),
        bytes(values),
        effects,
        review,
    )


def _header(reader: Iterator[list[str]], line_num: Callable[[], int]) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("line 1", "the file is empty; it needs a header row") from None
    except csv.Error as exc:
        raise InputError("line 1", f"not readable as CSV: {exc}") from None
    if line_num() > 1:
        raise InputError("line 1", "the header runs over several lines: a quote is not closed")
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
    if errors:
        raise InvalidOutcomesError(errors)
    return header


@contextmanager
def _without_gc() -> Iterator[None]:
    """A pass that makes a million small tuples (and no cycles) would trigger full collections
    walking every one of them again and again: a third of the time of a 50 MB file."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def scan_csv(lines: Iterable[str], *, keep: bool = True) -> Scan:
    """Check a responses CSV read line by line (``lines``: an open file, or a StringIO).

    Returns the scan; its errors, if any, are raised by the caller with ``raise_if_invalid``
    (or here, for a bad header). ``keep=False`` keeps only what the checks need: the scan can
    then say whether the file is valid, but not give its statistics.
    """
    scan = Scan()
    source = iter(lines)
    first = next(source, "")
    source = _chain(first.removeprefix("\ufeff"), source)  # a spreadsheet's byte-order mark
    # strict: a quote inside an unquoted cell, or text after a closing quote, is an error.
    reader = csv.reader(source, strict=True)
    try:
        header = _header(reader, lambda: reader.line_num)
    except InvalidOutcomesError:
        raise
    except InputError as error:
        raise InvalidOutcomesError([error]) from None
    with _without_gc():
        return _scan_rows(reader, _Reader(header), scan, keep)


def _scan_rows(reader: Any, rows: _Reader, scan: Scan, keep: bool) -> Scan:
    structural = Scan()  # a broken line stops the checks of rows: only it is reported
    start = 2
    read = 0
    try:
        for cells in reader:
            first_line, line = start, reader.line_num
            start = line + 1
            if line > first_line:
                # A cell that runs over a line end is almost always an unclosed quote that has
                # swallowed the rows after it; no column of this file holds a line break.
                structural.error(
                    first_line,
                    0,
                    InputError(
                        f"line {first_line}",
                        f'a quoted cell runs on to line {line}: a closing quote (") is missing, '
                        "or a cell holds a line break; nothing was read",
                    ),
                )
                continue
            if len(cells) != rows.width:
                if not any(cell.strip() for cell in cells):
                    continue
                structural.error(
                    line,
                    0,
                    InputError(
                        f"line {line}",
                        f"has {len(cells)} cells but the header has {rows.width} columns",
                    ),
                )
                continue
            row = list(map(str.strip, cells))
            if not any(row):
                continue
            read += 1
            if structural.error_count:
                continue
            row.append("")
            _check_row(rows, scan, line, row, keep)
    except csv.Error as exc:
        if "end of data" in str(exc):
            structural.error(
                start,
                0,
                InputError(
                    f"line {start}",
                    'a quoted cell opened on this line is never closed: a closing quote (") is '
                    "missing; nothing was read",
                ),
            )
        else:
            structural.error(
                reader.line_num,
                0,
                InputError(f"line {reader.line_num}", f"not readable as CSV: {exc}"),
            )
    if not read and not structural.error_count:
        structural.error(2, 0, InputError("line 2", "no data rows after the header"))
    if structural.error_count:
        return structural
    _dates_against_baselines(scan)
    if scan.error_count:
        scan.episodes.clear()  # nothing is reported from a bad file: free the memory at once
    return scan


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    if first:
        yield first
    yield from rest


def _check_row(rows: _Reader, scan: Scan, line: int, row: list[str], keep: bool) -> None:
    visit = rows.fast(line, row)
    if visit is None:
        visit = rows.full(line, row, scan)
        if visit is None:
            return
    key = (row[rows.subject], row[rows.procedure], _episode(row[rows.episode]))
    visits = scan.episodes.get(key)
    if visits is None:
        visits = scan.episodes[key] = []
    else:
        _duplicates(scan, key, visits, visit)
    if visit.valid:
        scan.responses += len(visit.valid)
        if visit.collected_on is not None and (
            scan.latest is None or visit.collected_on > scan.latest
        ):
            scan.latest = visit.collected_on
    if keep and not scan.error_count:
        visits.append(visit)
    else:  # a bad file: only what the duplicate and date checks need
        visits.append(visit._replace(values=b"", effects=None))


def _episode(text: str) -> int:
    if text and _INT.match(text) and 1 <= int(text) <= MAX_EPISODE:
        return int(text)
    return 1


def _duplicates(scan: Scan, key: tuple[str, str, int], visits: list[Visit], visit: Visit) -> None:
    subject, procedure, episode = key
    for instrument in visit.instruments:
        for earlier in visits:
            if earlier.label == visit.label and instrument in earlier.instruments:
                scan.error(
                    visit.line,
                    2,
                    InputError(
                        f"line {visit.line}",
                        f"duplicate response: {episode_name(subject, episode)} already has "
                        f"{instrument} at {visit.label} for {procedure} (line {earlier.line}); "
                        "a repeated procedure is a new episode (column episode)",
                    ),
                )
                break


def _dates_against_baselines(scan: Scan) -> None:
    for (subject, _, _), visits in scan.episodes.items():
        # The earliest dated baseline (the first of equals), as the list reader took it.
        dated = [v for v in visits if v.label == BASELINE and v.valid and v.collected_on]
        if not dated:
            continue
        base = min(dated, key=lambda v: (v.collected_on, v.line))
        day = base.collected_on
        assert day is not None
        for v in visits:
            if v.label == BASELINE or v.collected_on is None or not v.valid:
                continue
            label = f"line {v.line}"
            for instrument in v.valid:
                if v.collected_on <= day:
                    scan.error(
                        v.line,
                        3,
                        InputError(
                            field_name(label, "collected_on", column_of),
                            f"follow-up before baseline: {subject}'s {v.label} "
                            f"{instrument} is dated {v.collected_on.isoformat()}, not after the "
                            f"baseline of {day.isoformat()} (line {base.line})",
                        ),
                    )
                elif (v.collected_on - day).days != v.days:
                    scan.error(
                        v.line,
                        3,
                        InputError(
                            field_name(label, "days_from_baseline", column_of),
                            f"is {v.days}, but {subject}'s {v.label} "
                            f"{instrument} is dated {v.collected_on.isoformat()}, "
                            f"{(v.collected_on - day).days} days after the baseline of "
                            f"{day.isoformat()} (line {base.line}): the days and the dates "
                            "must agree",
                        ),
                    )


# Statistics from the visits ------------------------------------------------------------------


@dataclass(slots=True)
class _Episode:
    baseline_day: date | None
    # time point label -> one byte per REFS entry; a label present = answered at that visit
    scores: dict[str, bytes]
    side_effects: dict[str, tuple[tuple[str, ...], bool]] | None = None

    @property
    def has_baseline(self) -> bool:
        return BASELINE in self.scores


def scan_statistics(
    scan: Scan,
    *,
    procedure: str | None = None,
    period: Period | None = None,
    as_of: date | None = None,
    timepoints: Sequence[str] | None = None,
    small_n: int = SMALL_N,
) -> tuple[ProcedureStatistics, ...]:
    """``statistics.checked_statistics`` of a scanned file, counted from its visits."""
    scan.raise_if_invalid()
    period = period or Period()
    later = 0
    if as_of is not None:
        later = sum(
            len(v.valid)
            for visits in scan.episodes.values()
            for v in visits
            if v.collected_on is not None and v.collected_on > as_of
        )
    if procedure is not None:
        procedures = [procedure_key(procedure)]
    else:  # those with an answer on or before as_of: the registry as it stood then
        procedures = sorted(
            {
                p
                for (_, p, _), visits in scan.episodes.items()
                if any(
                    v.collected_on is None or as_of is None or v.collected_on <= as_of
                    for v in visits
                )
            }
        )
    return tuple(_procedure(scan, p, period, as_of, timepoints, small_n, later) for p in procedures)


def _episodes(scan: Scan, procedure: str, as_of: date | None) -> dict[str, _Episode]:
    out: dict[str, _Episode] = {}
    for (subject, proc, number), visits in scan.episodes.items():
        if proc != procedure:
            continue
        e: _Episode | None = None
        for v in visits:
            if as_of is not None and v.collected_on is not None and v.collected_on > as_of:
                continue
            if e is None:
                e = out[episode_name(subject, number)] = _Episode(None, {})
            if v.label == BASELINE:
                day = v.collected_on
                if day is not None and (e.baseline_day is None or day < e.baseline_day):
                    e.baseline_day = day
            merged = e.scores.get(v.label)
            e.scores[v.label] = (
                v.values
                if merged is None
                else bytes(
                    old if new == NO_ANSWER else new
                    for old, new in zip(merged, v.values, strict=True)
                )
            )
            if v.effects is not None:
                if e.side_effects is None:
                    e.side_effects = {}
                e.side_effects[v.label] = (v.effects, v.review)
    return out


def _procedure(
    scan: Scan,
    procedure: str,
    period: Period,
    as_of: date | None,
    timepoints: Sequence[str] | None,
    small_n: int,
    later: int,
) -> ProcedureStatistics:
    episodes = _episodes(scan, procedure, as_of)
    repeated = sum(1 for name in episodes if " (episode " in name)
    orphans = sorted(s for s, e in episodes.items() if not e.has_baseline)
    undated = [s for s, e in episodes.items() if e.has_baseline and e.baseline_day is None]
    if undated and not period.unbounded:
        raise InputError(
            "period",
            f"{len(undated)} patient(s) have no dated baseline (collected_on), so they cannot be "
            "placed in a period (is this a de-identified file?); report without a period",
        )
    cohort = [
        e
        for e in episodes.values()
        if e.has_baseline
        and (period.unbounded or (e.baseline_day is not None and period.contains(e.baseline_day)))
    ]
    notes = procedure_notes(as_of, later, repeated, orphans, len(undated))
    present = {label for e in cohort for label in e.scores if label != BASELINE}
    wanted = wanted_timepoints(procedure, timepoints, present)
    counts = [_count(cohort, tp, as_of) for tp in wanted]
    return from_counts(procedure, period, as_of, len(cohort), counts, notes, small_n)


def _count(cohort: list[_Episode], tp: Timepoint, as_of: date | None) -> TimepointCount:
    label = tp.label
    length = timedelta(days=tp.nominal_days)
    considered = [
        e
        for e in cohort
        if label in e.scores
        or as_of is None
        or e.baseline_day is None
        or e.baseline_day + length <= as_of
    ]
    asked = [False] * len(REFS)
    for e in cohort:
        values = e.scores.get(label)
        if values is not None:
            for i, value in enumerate(values):
                if value != NO_ANSWER:
                    asked[i] = True
    pairs = [(e.scores.get(BASELINE), e.scores.get(label)) for e in considered]
    shares = []
    for d, (follow_index, base_index) in zip(SHARES, _SHARE_REFS, strict=True):
        eligible = completers = successes = 0
        for base, values in pairs:
            baseline = None
            if base_index is not None:
                if base is None or base[base_index] == NO_ANSWER:
                    continue
                baseline = base[base_index]
            eligible += 1
            if values is None or values[follow_index] == NO_ANSWER:
                continue
            completers += 1
            successes += d.responds(baseline, values[follow_index])
        shares.append(ShareCount(eligible, completers, successes, asked[follow_index]))
    answered = [
        e.side_effects[label]
        for e in considered
        if e.side_effects is not None and label in e.side_effects
    ]
    return TimepointCount(
        timepoint=tp,
        cohort=len(cohort),
        due=len(considered),
        responded=sum(1 for e in considered if label in e.scores),
        shares=tuple(shares),
        effects_answered=len(answered),
        effects_any=sum(bool(effects) for effects, _ in answered),
        effect_counts={
            key: sum(key in effects for effects, _ in answered) for key in SIDE_EFFECT_LABELS
        },
        needing_review=sum(review for _, review in answered),
    )
