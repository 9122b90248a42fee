"""Charts of a patient's chart page: reservoir volume over time and daily dose per drug (SVG).

Figures are built with the object API, never pyplot: pyplot keeps global state and is not
safe to use from the web server's worker threads.
"""

from __future__ import annotations

import io
from datetime import datetime

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure


def _svg(figure: object) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")  # type: ignore[attr-defined]
    return buffer.getvalue()


def reservoir_svg(
    fills: list[tuple[datetime, float]],
    expected: list[tuple[datetime, float]],
    withdrawn: list[tuple[datetime, float]],
    alarm_ml: float,
) -> bytes:
    """Each fill drops along the program to the expected residual at the next refill (line);
    the measured residual withdrawn is a dot, so a gap between them stands out."""
    figure = Figure(figsize=(8, 2.8))
    axes = figure.subplots()
    for (t0, v0), (t1, v1) in zip(fills, expected, strict=False):
        axes.plot([t0, t1], [v0, v1], color="#1f6feb", linewidth=1.2)  # type: ignore[arg-type]
    if withdrawn:
        axes.scatter(
            [t for t, _ in withdrawn],  # type: ignore[arg-type]
            [v for _, v in withdrawn],
            s=12,
            color="#d1242f",
            label="withdrawn (measured)",
            zorder=3,
        )
    axes.axhline(
        alarm_ml,
        color="#bf8700",
        linestyle="--",
        linewidth=1,
        label=f"low-reservoir alarm {alarm_ml:g} mL",
    )
    axes.set_ylabel("reservoir (mL)")
    axes.set_ylim(bottom=0)
    axes.plot([], [], color="#1f6feb", label="expected from the program")
    axes.legend(loc="upper right", fontsize=7)
    axes.grid(alpha=0.3)
    return _svg(figure)


def doses_svg(
    series: dict[str, list[tuple[datetime, float]]],
    end: datetime,
    units: dict[str, str] | None = None,
) -> bytes:
    """Mean daily dose of each drug (mcg/day in), a step per program version, each drug in its
    own dose unit (``units``: drug -> "mg" or "mcg", default mg): mg drugs on the left axis,
    mcg drugs (ziconotide, clonidine) on the right when both are present."""
    units = units or {}
    figure = Figure(figsize=(8, 2.4))
    left = figure.subplots()
    used = {units.get(drug, "mg") for drug, points in series.items() if points}
    axes_for = {"mg": left, "mcg": left.twinx() if used == {"mg", "mcg"} else left}
    lines = []
    for index, (drug, points) in enumerate(series.items()):
        if not points:
            continue
        unit = units.get(drug, "mg")
        scale = 1000.0 if unit == "mg" else 1.0
        times = [t for t, _ in points] + [end]
        values = [v / scale for _, v in points]
        (line,) = axes_for[unit].step(
            times,  # type: ignore[arg-type]
            [*values, values[-1]],
            where="post",
            label=f"{drug} ({unit}/day)",
            color=f"C{index}",
        )
        lines.append(line)
    for unit, axes in axes_for.items():
        if unit in used:
            axes.set_ylabel(f"daily dose ({unit}/day)")
            axes.set_ylim(bottom=0)
    if lines:
        left.legend(handles=lines, loc="upper left", fontsize=7)
    left.grid(alpha=0.3)
    return _svg(figure)
