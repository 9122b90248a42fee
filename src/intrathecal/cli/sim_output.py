"""Options and outputs shared by ``itp forecast`` and ``itp simulate``: engine, progress bar,
CSV and chart files (written only once the answer is complete, so a failure writes nothing)."""

from __future__ import annotations

import csv
import io
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from intrathecal.units import InputError

EngineOpt = Annotated[
    str, typer.Option("--engine", help="Where to run: local (this machine's cores) or dask.")
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option("--scheduler", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786."),
]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", help="Local processes (default: all cores).")
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the random streams.")]
CsvOpt = Annotated[Path | None, typer.Option("--csv", help="Also write the table as CSV.")]
ChartOpt = Annotated[
    Path | None, typer.Option("--chart", help="Also draw the chart: a .png or .svg file.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def where(engine: str, scheduler: str | None, workers: int | None) -> Any:
    from intrathecal.sim.runs import Where

    if engine not in ("local", "dask"):
        raise InputError("--engine", f"must be local or dask, got {engine!r}")
    if engine == "dask" and not scheduler:
        raise InputError("--scheduler", "give the Dask scheduler's address with --engine dask")
    if engine == "local" and scheduler:
        raise InputError("--scheduler", "is only for --engine dask")
    if workers is not None and not 1 <= workers <= 256:
        raise InputError("--workers", f"must be 1 to 256 processes, got {workers}")
    return Where(engine, scheduler, workers)


def check_seed(seed: int) -> int:
    if not 0 <= seed <= 2**63 - 1:
        raise InputError("--seed", f"must be a whole number from 0 to 2**63 - 1, got {seed}")
    return seed


def check_outputs(csv_path: Path | None, chart: Path | None) -> str | None:
    """Refuse output paths that cannot be written before any work is done; the chart format."""
    for option, path in (("--csv", csv_path), ("--chart", chart)):
        if path is None:
            continue
        if path.is_dir():
            raise InputError(option, f"{str(path)!r} is a directory, not a file")
        if not path.parent.resolve().is_dir():
            raise InputError(option, f"the folder of {str(path)!r} does not exist")
    if chart is None:
        return None
    fmt = chart.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise InputError("--chart", f"must end in .png or .svg, got {str(chart)!r}")
    return fmt


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all (a temporary file in its folder, then a rename)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent.resolve(), prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_outputs(
    csv_path: Path | None,
    header: list[str],
    rows: list[list[Any]],
    chart: Path | None,
    fmt: str | None,
    draw: Callable[[str], bytes],
) -> None:
    """The table as CSV and the chart drawn by ``draw(fmt)``, whichever were asked for: both
    made first, then each written whole (a chart that fails to draw leaves no CSV behind)."""
    files = []
    if csv_path is not None:
        files.append((csv_path, csv_bytes(header, rows)))
    if chart is not None and fmt is not None:
        files.append((chart, draw(fmt)))
    for path, data in files:
        write_atomic(path, data)


def csv_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


@contextmanager
def progress_bar(label: str, total: int, show: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (stdout stays the answer, JSON included), when stderr is a
    terminal: in a log or a pipe a bar is only noise (rich would leave a blank line)."""
    if not show or not sys.stderr.isatty():
        yield lambda _n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
