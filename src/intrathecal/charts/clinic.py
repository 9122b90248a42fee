"""Charts of a patient's chart page: reservoir volume over time and daily dose per drug (SVG)."""

from __future__ import annotations

import io
from datetime import datetime

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _svg(figure: object) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(figure)  # type: ignore[arg-type]
    return buffer.getvalue()


def reservoir_svg(
    fills: list[tuple[datetime, float]],
    expected: list[tuple[datetime, float]],
    withdrawn: list[tuple[datetime, float]],
    alarm_ml: float,
) -> bytes:
    """Each fill drops along the program to the expected residual at the next refill (line);
    the measured residual withdrawn is a dot, so a gap between them stands out."""
    figure, axes = plt.subplots(figsize=(8, 2.8))
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


def doses_svg(series: dict[str, list[tuple[datetime, float]]], end: datetime) -> bytes:
    """Mean daily dose of each drug, a step per program version (mg/day)."""
    figure, axes = plt.subplots(figsize=(8, 2.4))
    for drug, points in series.items():
        if not points:
            continue
        times = [t for t, _ in points] + [end]
        values = [v / 1000.0 for _, v in points]
        axes.step(times, [*values, values[-1]], where="post", label=drug)  # type: ignore[arg-type]
    axes.set_ylabel("daily dose (mg/day)")
    axes.set_ylim(bottom=0)
    axes.legend(loc="upper left", fontsize=7)
    axes.grid(alpha=0.3)
    return _svg(figure)
