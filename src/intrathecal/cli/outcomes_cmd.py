"""``itp outcomes``: clinic statistics, a patient's course, de-identified export and FHIR."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from intrathecal.charts.outcomes import (
    PatientTrend,
    Series,
    chart_format,
    patient_trend_chart,
    shares_chart,
)
from intrathecal.cli.output import UserError, emit, read_text, reported
from intrathecal.outcomes import (
    INSTRUMENTS,
    SHARES,
    InvalidOutcomesError,
    Period,
    ProcedureStatistics,
    Response,
    course_to_dict,
    format_responses_csv,
    instrument_from_questionnaire,
    instrument_to_dict,
    patient_course,
    procedure_label,
    questionnaire,
    responses_bundle,
    responses_from_fhir,
    statistics_to_dict,
)
from intrathecal.outcomes.course import MEASURE_BY_KEY
from intrathecal.outcomes.csvfile import parse_checked_csv
from intrathecal.outcomes.csvstream import Scan, scan_csv, scan_statistics
from intrathecal.outcomes.fhir import parse_json, patient_bundle, to_json
from intrathecal.outcomes.statistics import (
    Proportion,
    TimepointStatistics,
    percent,
)
from intrathecal.outcomes.timepoints import procedure_key
from intrathecal.outcomes.validation import Checked
from intrathecal.reports import deidentified_csv, practice_report_pdf
from intrathecal.units import InputError

NOTICE = (
    "Patient-reported outcomes: every share is shown with its definition, its count, a 95% "
    "Wilson interval and both ways of counting missing answers. Reference for trained "
    "clinicians; PROMIS items are copyrighted (see `itp outcomes instruments`)."
)

app = typer.Typer(
    help="Outcomes registry: statistics from a CSV of responses, a patient's course, export.",
    no_args_is_help=True,
)
fhir_app = typer.Typer(
    help="FHIR R4 Questionnaire and QuestionnaireResponse.", no_args_is_help=True
)
app.add_typer(fhir_app, name="fhir")

DataArg = Annotated[Path, typer.Argument(metavar="DATA.csv", help="Responses, one row per visit.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@contextmanager
def outcomes_reported(as_json: bool) -> Iterator[None]:
    """Like ``reported``, but every problem of a file is listed, not only the first."""
    with reported(as_json):
        try:
            yield
        except InvalidOutcomesError as exc:
            raise UserError(list(exc.errors)) from None


def parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    text = value.strip()
    try:
        if not _DATE.match(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(option, f"{value!r} is not a date like 2025-03-31 (YYYY-MM-DD)") from None


def check_output(path: Path, option: str) -> None:
    """Refuse a path that cannot be written (missing folder, a folder itself) before writing."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(option, f"{str(path)!r} is a folder; give a file name")
    if not parent.is_dir():
        raise InputError(option, f"{str(path)!r}: the folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(option, f"{str(path)!r} cannot be written here (permission denied)")


def write_all(outputs: Sequence[tuple[Path, bytes]]) -> list[str]:
    """Write files already checked; if one still fails, remove those written before it."""
    done: list[Path] = []
    for path, data in outputs:
        try:
            path.write_bytes(data)
        except OSError as exc:
            for written in done:
                written.unlink(missing_ok=True)
            raise InputError(str(path), f"cannot be written: {exc.strerror}") from None
        done.append(path)
    return [str(p) for p in done]


MAX_FILE_MB = 100  # about 1.2 million rows; a bigger registry is split by year or procedure


def load(path: Path) -> list[Response]:
    return [c.response for c in load_checked(path)]


def _check_size(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError:
        size = 0  # read_text / scan_file names the problem (missing file, a folder...)
    if size > MAX_FILE_MB * 1_000_000:
        raise InputError(
            "DATA.csv",
            f"{str(path)!r} is {size / 1e6:.0f} MB; at most {MAX_FILE_MB} MB is read at once: "
            "split the file (by year or procedure) and report each part",
        )


def load_checked(path: Path) -> list[Checked]:
    _check_size(path)
    return parse_checked_csv(read_text(path, "DATA.csv"))


def scan_file(path: Path) -> Scan:
    """The file checked in one streaming pass, line by line (a report keeps only counts)."""
    _check_size(path)
    read_text_errors = {
        FileNotFoundError: f"file {str(path)!r} does not exist",
        IsADirectoryError: f"{str(path)!r} is a directory, not a file",
    }
    try:
        with path.open(encoding="utf-8", newline="") as lines:
            scan = scan_csv(lines)
    except UnicodeDecodeError:
        raise InputError("DATA.csv", f"{str(path)!r} is not UTF-8 text") from None
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise InputError("DATA.csv", read_text_errors[type(exc)]) from None
    except OSError as exc:
        raise InputError("DATA.csv", f"cannot read {str(path)!r}: {exc.strerror}") from None
    scan.raise_if_invalid()
    return scan


def latest_date(responses: Sequence[Response]) -> date | None:
    days = [r.collected_on for r in responses if r.collected_on is not None]
    return max(days) if days else None


def _cell(p: Proportion) -> str:
    if p.estimate is None or p.low is None or p.high is None:
        return f"{p.successes}/{p.n} (no answers)"
    return f"{p.successes}/{p.n} {percent(p.estimate)} ({percent(p.low)}–{percent(p.high)})"


def _timepoint_text(t: TimepointStatistics) -> list[str]:
    lines = [
        f"  {t.timepoint}: {t.responded} of {t.due} patients due answered, response rate "
        + (_cell(t.response_rate).split(" ", 1)[1] if t.due else "-"),
        f"    {'share':<28}{'answered':<24}{'missing = not improved':<26}no baseline",
    ]
    for s in t.shares:
        if not s.asked:
            lines.append(f"    {s.definition.label:<28}{'not asked':<24}{'not asked':<26}-")
            continue
        base = str(s.no_baseline) if s.definition.baseline is not None else "-"
        lines.append(
            f"    {s.definition.label:<28}{_cell(s.completers):<24}"
            f"{_cell(s.missing_as_not_improved):<26}{base}"
        )
    se = t.side_effects
    named = ", ".join(f"{k} {n}" for k, n in se.counts.items() if n)
    lines.append(
        f"    side effects: {_cell(se.any_effect)} reported any ({named or 'none'}); "
        f"{se.needing_review} flagged for clinician review"
    )
    small = [s.definition.label for s in t.shares if s.small_n]
    warnings = list(t.warnings)
    if small:
        warnings.append(
            f"fewer than 20 answers for: {', '.join(small)}; quote these only with their interval"
        )
    warnings += [w for s in t.shares if not s.small_n and s.asked for w in s.warnings]
    not_asked = [s.definition.label for s in t.shares if not s.asked]
    if not_asked:
        warnings.append(f"not asked at {t.timepoint}: {', '.join(not_asked)}")
    no_base = [s for s in t.shares if s.asked and s.no_baseline]
    if no_base:
        warnings.append(
            "left out of a share for want of its baseline measure: "
            + ", ".join(f"{s.definition.label} {s.no_baseline}" for s in no_base)
        )
    lines += [f"    ! {w}" for w in warnings]
    return lines


def _chart_paths(base: Path, stats: Sequence[ProcedureStatistics]) -> list[tuple[Path, Any]]:
    pairs = [(s, t) for s in stats for t in s.timepoints]
    if len(pairs) == 1:
        return [(base, pairs[0])]
    return [
        (
            base.with_name(
                f"{base.stem}-{s.procedure}-{t.timepoint.replace(' ', '-')}{base.suffix}"
            ),
            (s, t),
        )
        for s, t in pairs
    ]


@app.command("report")
def report_cmd(
    data: DataArg,
    procedure: Annotated[
        str | None, typer.Option("--procedure", help="Only this procedure, e.g. intrathecal-pump.")
    ] = None,
    timepoint: Annotated[
        list[str] | None, typer.Option("--timepoint", help="Only this follow-up (repeatable).")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First baseline date of the period, YYYY-MM-DD.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last baseline date of the period, YYYY-MM-DD.")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Follow-ups due by this date count (default: latest date in the file)."
        ),
    ] = None,
    chart: Annotated[
        Path | None,
        typer.Option("--chart", help="Write the shares chart(s), FILE.png or FILE.svg."),
    ] = None,
    pdf: Annotated[
        Path | None, typer.Option("--pdf", help="Write a practice report, FILE.pdf.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Shares per procedure and follow-up, with definitions, 95% intervals and warnings."""
    with outcomes_reported(as_json):
        period = Period(parse_day(start, "--from"), parse_day(end, "--to"))
        given_as_of = parse_day(as_of, "--as-of")
        if chart is not None:
            try:
                chart_format(chart)
            except ValueError:
                raise InputError(
                    "--chart", f"{str(chart)!r}: the file must end in .png or .svg"
                ) from None
        if pdf is not None and pdf.suffix.lower() != ".pdf":
            raise InputError("--pdf", f"{str(pdf)!r}: the file must end in .pdf")
        scan = scan_file(data)  # read and checked in one streaming pass, kept as counts
        day = given_as_of or scan.latest
        source = "--as-of" if given_as_of else ("the latest date in the file" if day else None)
        key = None
        if procedure is not None:
            key = procedure_key(procedure, "--procedure")
            present = scan.procedures
            if key not in present:
                raise InputError(
                    "--procedure", f"no responses for {key!r}; the file has {', '.join(present)}"
                )
        stats: tuple[ProcedureStatistics, ...] = scan_statistics(
            scan, procedure=key, period=period, as_of=day, timepoints=timepoint or None
        )
        # Every file is drawn in memory and every path checked before the first is written:
        # a bad --pdf path must not leave a chart behind.
        outputs: list[tuple[Path, bytes]] = []
        if chart is not None:
            fmt = chart_format(chart)
            for path, (s, t) in _chart_paths(chart, stats):
                check_output(path, "--chart")
                outputs.append(
                    (path, shares_chart(t, f"{s.procedure_label} at {t.timepoint}", fmt))
                )
        if pdf is not None:
            check_output(pdf, "--pdf")
            outputs.append(
                (
                    pdf,
                    practice_report_pdf(
                        stats, generated_on=date.today(), title=f"Outcomes report: {data.name}"
                    ),
                )
            )
        written = write_all(outputs)
        payload: dict[str, Any] = {
            "file": str(data),
            "responses": scan.responses,
            "as_of": day.isoformat() if day else None,
            "as_of_from": source,
            "procedures": [statistics_to_dict(s) for s in stats],
            "definitions": {
                s.key: {"label": s.label, "definition": s.definition, "source": s.source}
                for s in SHARES
            },
            "written": written,
            "notice": NOTICE,
        }
        lines = [
            f"{data}: {scan.subjects} patients, {scan.responses} responses",
            f"period: {period.describe()}; follow-ups due by "
            + (
                f"{day.isoformat()} ({source})"
                if day
                else "(no dates: every follow-up counts as due)"
            ),
        ]
        for s in stats:
            lines.append("")
            lines.append(
                f"{s.procedure_label} ({s.procedure}): {s.cohort} patients with a baseline"
            )
            lines += [f"  note: {n}" for n in s.notes if not n.startswith("no as-of date")]
            for t in s.timepoints:
                lines += _timepoint_text(t)
        lines.append("")
        lines.append("definitions:")
        lines += [f"  {d.label}: {d.definition}" for d in SHARES]
        lines.append(f"method: {stats[0].method if stats else ''}")
        lines += [f"wrote {w}" for w in written]
        lines.append(NOTICE)
        emit(as_json, payload, "\n".join(lines))


@app.command("patient")
def patient_cmd(
    data: DataArg,
    subject: Annotated[str, typer.Option("--subject", help="The patient's pseudonymous id.")],
    procedure: Annotated[str, typer.Option("--procedure", help="The procedure followed.")],
    episode: Annotated[
        int | None,
        typer.Option("--episode", help="Which series or implant, when repeated (1, 2...)."),
    ] = None,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Write the trend chart, FILE.png or FILE.svg.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """One patient's pain, function, quality of life and side effects over time."""
    with outcomes_reported(as_json):
        fmt = None
        if chart is not None:
            try:
                fmt = chart_format(chart)
            except ValueError:
                raise InputError(
                    "--chart", f"{str(chart)!r}: the file must end in .png or .svg"
                ) from None
            check_output(chart, "--chart")
        responses = load(data)
        course = patient_course(
            responses, subject, procedure_key(procedure, "--procedure"), episode
        )
        if chart is not None and fmt is not None:
            dated = all(p.collected_on for pts in course.measures.values() for p in pts)

            def series(key: str) -> Series | None:
                pts = course.series(key)
                if not pts:
                    return None
                return Series(
                    MEASURE_BY_KEY[key].label,
                    [
                        (
                            p.collected_on if dated and p.collected_on else p.days_from_baseline,
                            p.value,
                        )
                        for p in pts
                    ],
                )

            trend = PatientTrend(
                f"{course.subject}: {procedure_label(course.procedure)}",
                pain=series("pain"),
                function=series("physical_function"),
            )
            chart.write_bytes(patient_trend_chart(trend, fmt))
        payload = {**course_to_dict(course), "written": [str(chart)] if chart else []}
        lines = [f"{course.subject}, {procedure_label(course.procedure)}:"]
        for key, points in course.measures.items():
            values = ", ".join(f"{p.timepoint} {p.value:g}" for p in points)
            change = course.change(key)
            lines.append(
                f"  {MEASURE_BY_KEY[key].label}: {values}"
                + (f" (change {change:+g})" if change is not None else "")
            )
        for s in course.side_effects:
            lines.append(f"  side effects at {s.timepoint}: {', '.join(s.effects) or 'none'}")
            lines += [f"    ! {r}" for r in s.review]
        if chart:
            lines.append(f"wrote {chart}")
        emit(as_json, payload, "\n".join(lines))


@app.command("instruments")
def instruments_cmd(as_json: JsonOpt = False) -> None:
    """The instruments: items, allowed answers, scoring rule, source and licence."""
    with outcomes_reported(as_json):
        payload = {"instruments": [instrument_to_dict(i) for i in INSTRUMENTS.values()]}
        lines: list[str] = []
        for inst in INSTRUMENTS.values():
            lines.append(f"{inst.key}: {inst.name} (v{inst.version}; {inst.when.value})")
            lines.append(f"  items: {', '.join(inst.item_keys)}")
            lines.append(f"  scoring: {inst.scoring}")
            lines.append(f"  licence: {inst.licence.name}. {inst.licence.terms}")
            if inst.licence.clinic_must_check:
                lines.append(f"  ! the clinic must check these terms itself: {inst.licence.url}")
        emit(as_json, payload, "\n".join(lines))


@app.command("deidentify")
def deidentify_cmd(
    data: DataArg,
    key_file: Annotated[
        Path,
        typer.Option("--key-file", help="The clinic's secret pseudonymisation key (>= 16 bytes)."),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the CSV here (default: stdout).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Pseudonymous ids (keyed HMAC), days from baseline only, no free text."""
    with outcomes_reported(as_json):
        try:
            key = key_file.read_bytes().strip()
        except OSError as exc:
            raise InputError(
                "--key-file", f"cannot read {str(key_file)!r}: {exc.strerror}"
            ) from None
        if out is not None:
            check_output(out, "--out")
        responses = load(data)
        text = deidentified_csv(responses, key)
        if out is not None:
            out.write_text(text, encoding="utf-8")
        if as_json:
            emit(
                True,
                {
                    "rows": text.count("\n") - 1,
                    "written": [str(out)] if out else [],
                    "csv": None if out else text,
                },
                "",
            )
        else:
            typer.echo(f"wrote {out}" if out else text, nl=out is not None)


@fhir_app.command("questionnaire")
def fhir_questionnaire_cmd(
    instrument: Annotated[str, typer.Argument(help="Instrument key, or 'all' for a Bundle.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write here (default: stdout).")] = None,
) -> None:
    """An instrument as a FHIR R4 Questionnaire (JSON)."""
    with outcomes_reported(False):
        if instrument == "all":
            resource: dict[str, Any] = {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": questionnaire(i)} for i in INSTRUMENTS.values()],
            }
        elif instrument in INSTRUMENTS:
            resource = questionnaire(instrument)
        else:
            raise InputError(
                "INSTRUMENT", f"unknown {instrument!r}; known: all, {', '.join(INSTRUMENTS)}"
            )
        _write(to_json(resource), out)


@fhir_app.command("export")
def fhir_export_cmd(
    data: DataArg,
    out: Annotated[Path | None, typer.Option("--out", help="Write here (default: stdout).")] = None,
    subject: Annotated[
        str | None,
        typer.Option("--subject", help="Only this patient, with Observations of the scores."),
    ] = None,
) -> None:
    """Every response of a CSV as a Bundle of FHIR R4 QuestionnaireResponses (JSON); with
    --subject, one patient's responses and their scored Observations."""
    with outcomes_reported(False):
        if out is not None:
            check_output(out, "--out")
        responses = load(data)
        if subject is not None:
            _write(to_json(patient_bundle(responses, subject)), out)
        else:
            _write(to_json(responses_bundle(responses)), out)


@fhir_app.command("import")
def fhir_import_cmd(
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE.json", help="QuestionnaireResponse, Bundle or Questionnaire."),
    ],
    csv_out: Annotated[
        Path | None,
        typer.Option("--csv-out", help="Write the responses as CSV (DATA.csv columns)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate FHIR JSON: responses are checked like a CSV; a Questionnaire item by item."""
    with outcomes_reported(as_json):
        if csv_out is not None:
            check_output(csv_out, "--csv-out")
        resource = parse_json(read_text(file, "FILE.json"), "FILE.json")
        if resource.get("resourceType") == "Questionnaire":
            inst = instrument_from_questionnaire(resource)
            emit(
                as_json,
                {"questionnaire": inst.key, "matches": True},
                f"{file}: matches {inst.key} ({inst.name}) item by item",
            )
            return
        responses = responses_from_fhir(resource)
        if csv_out is not None:
            csv_out.write_text(format_responses_csv(responses), encoding="utf-8")
        emit(
            as_json,
            {
                "responses": len(responses),
                "subjects": sorted({r.subject for r in responses}),
                "written": [str(csv_out)] if csv_out else [],
            },
            f"{file}: {len(responses)} valid response(s)"
            + (f"; wrote {csv_out}" if csv_out else ""),
        )


def _write(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text, nl=False)
    else:
        check_output(out, "--out")
        write_all([(out, text.encode("utf-8"))])
        typer.echo(f"wrote {out}")
