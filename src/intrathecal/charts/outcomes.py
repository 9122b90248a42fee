"""Outcome charts: one patient's pain, function and doses over time; a procedure's shares.

Both take plain data (series of (date, value) points, or a statistics record) and return PNG or
SVG bytes, so the web app can serve them and the PDF reports can embed them.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import matplotlib

matplotlib.use("Agg")  # no display: charts are files
from matplotlib.figure import Figure

from intrathecal.outcomes.statistics import TimepointStatistics

Format = Literal["png", "svg"]
X = date | int  # a calendar date, or days from baseline (de-identified data)
NOTE = "Reference for trained clinicians; patient-reported outcomes, see the definitions."
_BLUE, _ORANGE, _GREY = "#1f5fa8", "#c0612b", "#555555"


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[X, float]]


@dataclass(frozen=True)
class DoseSeries:
    """A drug's daily dose over time, in mcg/day (canonical), drawn in ``display_unit``."""

    drug: str
    points_mcg_per_day: Sequence[tuple[date, float]]  # each value holds until the next point
    display_unit: Literal["mg", "mcg"] = "mg"


@dataclass(frozen=True)
class PatientTrend:
    title: str
    pain: Series | None = None  # NRS 0-10
    function: Series | None = None  # e.g. PROMIS Global06 1-5
    function_range: tuple[float, float] = (1, 5)
    doses: Sequence[DoseSeries] = field(default_factory=tuple)


def chart_format(path: Path) -> Format:
    suffix = path.suffix.lower()
    if suffix == ".png":
        return "png"
    if suffix == ".svg":
        return "svg"
    raise ValueError(f"{path}: a chart file ends in .png or .svg")


def _render(fig: Any, fmt: Format) -> bytes:
    buffer = io.BytesIO()
    # No creation date and a fixed hash salt: the same data gives the same bytes.
    metadata = {"Date": None} if fmt == "svg" else {"Software": "intrathecal"}
    with matplotlib.rc_context({"svg.hashsalt": "intrathecal"}):
        fig.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()


def patient_trend_chart(trend: PatientTrend, fmt: Format = "png") -> bytes:
    """Pain (NRS), function and each drug's dose in panels sharing the time axis."""
    panels: list[str] = []
    if trend.pain and trend.pain.points:
        panels.append("pain")
    if trend.function and trend.function.points:
        panels.append("function")
    doses = [d for d in trend.doses if d.points_mcg_per_day]
    panels.extend(f"dose:{i}" for i in range(len(doses)))
    xs = [x for s in (trend.pain, trend.function) if s for x, _ in s.points]
    xs += [x for d in doses for x, _ in d.points_mcg_per_day]
    if xs and len({isinstance(x, date) for x in xs}) > 1:
        raise ValueError("mix of dates and day numbers on one time axis")
    height = 1.0 + 1.9 * max(len(panels), 1)
    fig = Figure(figsize=(8, height), dpi=110)
    axes = fig.subplots(max(len(panels), 1), 1, sharex=True)
    axes = list(axes) if len(panels) > 1 else [axes]
    if not panels:
        axes[0].text(0.5, 0.5, "no outcomes or doses recorded", ha="center", va="center")
        axes[0].set_axis_off()
    end = max(xs) if xs else None
    for ax, panel in zip(axes, panels, strict=False):
        if panel == "pain" and trend.pain:
            _line(ax, trend.pain, _ORANGE)
            ax.set_ylim(-0.3, 10.3)
            ax.set_ylabel("pain NRS\n(0-10, lower better)")
        elif panel == "function" and trend.function:
            _line(ax, trend.function, _BLUE)
            low, high = trend.function_range
            ax.set_ylim(low - 0.2, high + 0.2)
            ax.set_ylabel("function\n(higher better)")
        else:
            dose = doses[int(panel.split(":")[1])]
            per_unit = 1000.0 if dose.display_unit == "mg" else 1.0
            x: list[X] = [p[0] for p in dose.points_mcg_per_day]
            y = [p[1] / per_unit for p in dose.points_mcg_per_day]
            if end is not None and x[-1] != end:
                x, y = [*x, end], [*y, y[-1]]
            ax.step(x, y, where="post", color=_GREY, linewidth=2)
            ax.set_ylim(bottom=0, top=max(y) * 1.15 if max(y) > 0 else 1)
            ax.set_ylabel(f"{dose.drug}\n({dose.display_unit}/day)")
        ax.grid(alpha=0.3)
    if xs and not isinstance(xs[0], date):
        axes[-1].set_xlabel("days from baseline")
    axes[0].set_title(trend.title, fontsize=10)
    fig.text(0.01, 0.005, NOTE, fontsize=7, color=_GREY)
    if xs and isinstance(xs[0], date):
        fig.autofmt_xdate()
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return _render(fig, fmt)


def _line(ax: Any, series: Series, color: str) -> None:
    points = sorted(series.points, key=lambda p: p[0])
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", color=color)
    ax.set_title(series.label, fontsize=8, loc="left", color=_GREY)


def shares_chart(stats: TimepointStatistics, title: str, fmt: Format = "png") -> bytes:
    """Each share asked at the time point as two bars (completers only; missing as not
    improved) with 95% intervals; small n marked on the bar's label; the definitions of the
    shares drawn printed under the chart, so the image stands on its own."""
    shares = [s for s in stats.shares if s.asked]
    not_asked = [s.definition.label for s in stats.shares if not s.asked]
    footer = [
        f"{stats.timepoint}: {stats.responded} of {stats.due} patients due answered. "
        "* fewer than 20 answers (small n): quote only with the interval.",
        *(f"{s.definition.label}: {s.definition.definition}." for s in shares),
    ]
    if not_asked:
        footer.append(f"Not asked at {stats.timepoint}: {', '.join(not_asked)}.")
    footer.append(NOTE)
    wrapped = [line for text in footer for line in textwrap.wrap(text, 150)]
    foot_in = 0.13 * len(wrapped) + 0.15
    height = 0.55 * max(len(shares), 1) + 1.8 + foot_in
    fig = Figure(figsize=(8, height), dpi=110)
    ax = fig.subplots()
    rows = range(len(shares))
    for offset, attr, color, name in (
        (-0.18, "completers", _BLUE, "patients who answered"),
        (0.18, "missing_as_not_improved", _ORANGE, "missing counted as not improved"),
    ):
        values, lows, highs = [], [], []
        for share in shares:
            p = getattr(share, attr)
            est = 100 * (p.estimate or 0.0)
            values.append(est)
            lows.append(est - 100 * (p.low or 0.0))
            highs.append(100 * (p.high or 0.0) - est)
        positions = [r + offset for r in rows]
        ax.barh(positions, values, height=0.34, color=color, alpha=0.85, label=name)
        answered = [p for p, sh in zip(positions, shares, strict=True) if getattr(sh, attr).n]
        ax.errorbar(
            [v for v, sh in zip(values, shares, strict=True) if getattr(sh, attr).n],
            answered,
            xerr=[
                [lo for lo, sh in zip(lows, shares, strict=True) if getattr(sh, attr).n],
                [hi for hi, sh in zip(highs, shares, strict=True) if getattr(sh, attr).n],
            ],
            fmt="none",
            ecolor="black",
            capsize=3,
        )
        for pos, share in zip(positions, shares, strict=True):
            p = getattr(share, attr)
            text = f"{p.successes}/{p.n}" if p.n else "no answers"
            ax.text(101, pos, text, va="center", fontsize=7)
    ax.set_yticks(list(rows))
    ax.set_yticklabels([s.definition.label + (" *" if s.small_n else "") for s in shares])
    ax.invert_yaxis()
    ax.set_xlim(0, 112)
    ax.set_xticks(range(0, 101, 20))
    ax.set_xlabel("% of patients (bars: estimate; whiskers: 95% Wilson interval)")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.06), ncol=2, fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.text(0.01, 0.005, "\n".join(wrapped), fontsize=6, color=_GREY, va="bottom")
    fig.tight_layout(rect=(0, (foot_in + 0.05) / height, 1, 1))
    return _render(fig, fmt)


def dose_series_from_changes(
    changes: Mapping[date, Mapping[str, float]], display_units: Mapping[str, str]
) -> list[DoseSeries]:
    """Program history ({date: {drug: mcg/day}}) -> one dose series per drug."""
    drugs: dict[str, list[tuple[date, float]]] = {}
    for day in sorted(changes):
        for drug, mcg in changes[day].items():
            drugs.setdefault(drug, []).append((day, mcg))
    return [
        DoseSeries(drug, points, "mcg" if display_units.get(drug) == "mcg" else "mg")
        for drug, points in drugs.items()
    ]
