"""Outcomes registry bench (issue 13, items 11 and 12): reading a big CSV, and the clinic's
statistics at 1,000 / 10,000 / 50,000 patients, beside the figures before issue 13.

    python bench/outcomes.py [--rows 100000,580000] [--patients 1000,10000,50000] [--quick]

The CSVs are generated (invented patients, a pump baseline and follow-ups at 1, 3, 6 and 12
months, every instrument): about 100,000 rows (9 MB) and 580,000 rows (50 MB). Each is read by
``itp outcomes report --json`` in a child process; the time of the report (after the program's
imports), rows per second and the child's peak memory (maximum resident set, imports included)
are reported, then the same file with one bad row at its end, which must be refused. The
statistics are counted in SQL on a temporary SQLite database whose summary rows are made by the
registry's own ``summary_rows`` for each patient.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from intrathecal.outcomes import Response, validate_responses
from intrathecal.outcomes.csvfile import format_responses_csv
from intrathecal.outcomes.summary import summary_rows
from intrathecal.store import outcomes_stats
from intrathecal.store.db import open_database
from intrathecal.store.models import OutcomeSummary, Patient

# Figures measured before issue 13 (issue 13's own numbers, on this machine), and after its
# first pass (one check per answer, records kept: 100,782 rows in 43 s, 790 MB, bad row 12 s).
BEFORE_CSV = {
    9: "before: 43 s, 2,300 rows/s, 790 MB; bad row refused in 12 s",
    50: "before: 221 s, about 2,600 rows/s, 4.5 GB; bad row refused in 197 s",
}
BEFORE = {
    "stats_1000_s": 0.8,
    "stats_10000_s": 12.0,
    "stats_50000_s": 74.0,
}
FOLLOW_UPS = (("1 month", 30), ("3 months", 90), ("6 months", 180), ("12 months", 365))
PROMIS = ("global01", "global02", "global03", "global04", "global05", "global09r", "global06")


def _patient(rng: random.Random, subject: str, start: date) -> list[Response]:
    def r(tp: str, days: int, inst: str, answers: dict[str, int | str]) -> Response:
        return Response(
            subject, "intrathecal-pump", tp, days, inst, answers, start + timedelta(days)
        )

    def promis(pain: int) -> dict[str, int | str]:
        answers: dict[str, int | str] = {k: rng.randint(1, 5) for k in PROMIS}
        return answers | {
            "global08r": rng.randint(1, 5),
            "global10r": rng.randint(1, 5),
            "global07r": pain,
        }

    pain0 = rng.randint(5, 10)
    out = [
        r("baseline", 0, "nrs-pain", {"pain": pain0}),
        r("baseline", 0, "promis-global-10", promis(pain0)),
    ]
    for label, days in FOLLOW_UPS:
        if rng.random() < 0.2:
            continue
        d = days + rng.randint(0, 5)
        pain = min(10, max(0, pain0 - rng.randint(-1, 5)))
        out += [
            r(label, d, "nrs-pain", {"pain": pain}),
            r(label, d, "pgic", {"change": rng.randint(1, 7)}),
            r(label, d, "percent-improvement", {"percent": rng.randint(0, 100)}),
            r(label, d, "promis-global-10", promis(pain)),
        ]
    return out


def make_csv(path: Path, rows: int, seed: int = 13) -> int:
    """About ``rows`` data rows (one per visit); returns the rows written."""
    rng = random.Random(seed)
    written = 0
    with path.open("w", encoding="utf-8") as f:
        header = True
        i = 0
        while written < rows:
            batch: list[Response] = []
            for _ in range(500):
                batch += _patient(rng, f"P{i:07d}", date(2020, 1, 1) + timedelta(i % 1500))
                i += 1
            text = format_responses_csv(batch)
            lines = text.splitlines(keepends=True)
            f.writelines(lines if header else lines[1:])
            header = False
            written += len(lines) - 1
    return written


def bench_csv(rows: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        n = make_csv(path, rows)
        size_mb = path.stat().st_size / 1e6
        code = (
            "import resource, sys, time\n"
            "from typer.testing import CliRunner\n"
            "from intrathecal.cli.outcomes_cmd import app\n"
            "t = time.perf_counter()\n"
            f"r = CliRunner().invoke(app, ['report', {str(path)!r}, '--json'])\n"
            "print(r.exit_code, time.perf_counter() - t,"
            " resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env=os.environ,
        ).stdout.split()
        exit_code, seconds, rss_kb = int(out[0]), float(out[1]), int(out[2])
        # One bad row at the end: the refusal must not cost more than the reading.
        with path.open(encoding="utf-8") as f:
            commas = f.readline().count(",")
        with path.open("a", encoding="utf-8") as f:
            f.write("P9999999,intrathecal-pump,3 months,14" + "," * (commas - 3) + "\n")
        bad = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env=os.environ,
        ).stdout.split()
    return {
        "rows": n,
        "size_mb": size_mb,
        "exit": exit_code,
        "seconds": seconds,
        "rows_per_s": n / seconds,
        "peak_mb": rss_kb / 1024,
        "bad_exit": int(bad[0]),
        "bad_seconds": float(bad[1]),
        "bad_peak_mb": int(bad[2]) / 1024,
    }


def summary_table_rows(
    patient_ids: Iterable[int], rng: random.Random, start: date
) -> list[dict[str, object]]:
    """``outcome_summary`` rows (what the statistics count) for these patients: each the course
    of one of 200 simulated pump patients from ``start``, shifted by up to 600 days."""
    templates = [summary_rows(validate_responses(_patient(rng, "T", start))) for _ in range(200)]
    rows: list[dict[str, object]] = []
    for pid in patient_ids:
        shift = timedelta(days=pid % 600)
        for row in templates[pid % len(templates)]:
            rows.append(
                {
                    "patient_id": pid,
                    "procedure": "intrathecal-pump",
                    "timepoint": row.timepoint,
                    "nominal_days": row.nominal_days,
                    "collected_on": row.collected_on + shift,
                    "baseline_on": row.baseline_on + shift if row.baseline_on else None,
                    "baseline_mask": row.baseline_mask,
                    "first": row.first,
                    "answered_mask": row.answered_mask,
                    "success_mask": row.success_mask,
                    "effects_answered": row.effects_answered,
                    "effects_mask": row.effects_mask,
                    "review": row.review,
                }
            )
    return rows


def bench_statistics(patients: int) -> dict[str, float]:
    rng = random.Random(patients)
    with tempfile.TemporaryDirectory() as tmp:
        engine, sessions = open_database(f"sqlite:///{tmp}/bench.db")
        with sessions.begin() as session:
            session.execute(
                insert(Patient),
                [
                    {
                        "mrn": f"B{i}",
                        "name": "Bench Patient",
                        "birth_date": date(1960, 1, 1),
                        "sex": "female",
                        "created_at": datetime(2024, 1, 1, tzinfo=UTC),
                    }
                    for i in range(patients)
                ],
            )
        rows = summary_table_rows(range(1, patients + 1), rng, date(2024, 1, 1))
        with sessions.begin() as session:
            session.execute(insert(OutcomeSummary), rows)
        times = []
        for _ in range(3):  # the first call also compiles the statements
            with sessions() as session:
                t = time.perf_counter()
                stats = outcomes_stats.clinic_statistics(session, as_of=date(2026, 3, 1))
                times.append(time.perf_counter() - t)
        seconds = times[0]
        warm = sorted(times[1:])[0]
        engine.dispose()
    assert stats and stats[0].cohort == patients
    return {"patients": patients, "summary_rows": len(rows), "seconds": seconds, "warm": warm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--rows", default="100000,580000", help="rows of each file, comma-separated"
    )
    parser.add_argument("--patients", default="1000,10000,50000")
    parser.add_argument("--quick", action="store_true", help="58,000 rows, 1,000 patients")
    parser.add_argument("--stats-only", action="store_true", help="skip the CSV")
    args = parser.parse_args()
    sizes = [58_000] if args.quick else [int(x) for x in args.rows.split(",")]
    counts = [1000] if args.quick else [int(x) for x in args.patients.split(",")]
    print("outcomes registry bench (issue 13)")
    if not args.stats_only:
        for rows in sizes:
            c = bench_csv(rows)
            size = 9 if 7 <= c["size_mb"] <= 11 else 50 if 45 <= c["size_mb"] <= 55 else 0
            before = BEFORE_CSV.get(size, "")
            print(
                f"  CSV report: {c['rows']:,} rows ({c['size_mb']:.0f} MB) in {c['seconds']:.1f} s"
                f" = {c['rows_per_s']:,.0f} rows/s, peak {c['peak_mb']:.0f} MB, exit {c['exit']}"
                + (f" ({before})" if before else "")
            )
            print(
                f"    the same file with one bad row: refused (exit {c['bad_exit']}) in "
                f"{c['bad_seconds']:.1f} s, peak {c['bad_peak_mb']:.0f} MB"
            )
    for n in counts:
        s = bench_statistics(n)
        before = BEFORE.get(f"stats_{n}_s")
        print(
            f"  statistics, {n:,} patients ({s['summary_rows']:,} summary rows): "
            f"{s['seconds']:.2f} s first, {s['warm']:.2f} s after"
            + (f" (before: {before:.1f} s)" if before else "")
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak memory of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
