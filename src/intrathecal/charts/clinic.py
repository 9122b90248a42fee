"""Charts of a patient's chart page: reservoir volume over time and daily dose per drug (SVG),
drawn by charts/svg.py (a millisecond a chart; matplotlib took 75-300 ms)."""

from __future__ import annotations

from datetime import datetime

from intrathecal.charts.svg import PALETTE, Series, TimeChart
from intrathecal.units import readable_volume

BLUE, RED, AMBER = "#1f6feb", "#d1242f", "#bf8700"


def reservoir_svg(
    fills: list[tuple[datetime, float]],
    expected: list[tuple[datetime, float]],
    withdrawn: list[tuple[datetime, float]],
    alarm_ml: float,
    current: list[tuple[datetime, float]] | None = None,
) -> bytes:
    """Each fill drops along the program to the expected residual at the next refill (line);
    the measured residual withdrawn is a dot, so a gap between them stands out. ``current`` is
    the cycle in progress: the last fill, the volume expected now, and where it reaches the
    low-reservoir alarm (dashed: a projection)."""
    segments = [p for pair in zip(fills, expected, strict=False) for p in pair]
    chart = TimeChart(
        height=280,
        title="Reservoir volume over time",
        left_label="reservoir (mL)",
        levels=[(alarm_ml, f"low-reservoir alarm {readable_volume(alarm_ml)}", AMBER)],
    )
    chart.series.append(Series("expected from the program", BLUE, segments, kind="segments"))
    if current and len(current) >= 2:
        chart.series.append(Series("", BLUE, current[:2]))
        if len(current) > 2:
            chart.series.append(Series("projected", BLUE, current[1:], dashed=True))
    chart.series.append(Series("withdrawn (measured)", RED, withdrawn, kind="dots"))
    return chart.svg()


def doses_svg(
    series: dict[str, list[tuple[datetime, float]]],
    end: datetime,
    units: dict[str, str] | None = None,
) -> bytes:
    """Mean daily dose of each drug (mcg/day in), a step per program version, each drug in its
    own dose unit (``units``: drug -> "mg" or "mcg", default mg): mg drugs on the left axis,
    mcg drugs (ziconotide, clonidine) on the right when both are present."""
    units = units or {}
    used = {units.get(drug, "mg") for drug, points in series.items() if points}
    both = used == {"mg", "mcg"}
    only = next(iter(used), "mg")
    chart = TimeChart(
        height=240,
        title="Daily dose per drug",
        left_label=f"daily dose ({'mg' if both else only}/day)",
        right_label="daily dose (mcg/day)" if both else "",
    )
    for index, (drug, points) in enumerate(series.items()):
        if not points:
            continue
        unit = units.get(drug, "mg")
        scale = 1000.0 if unit == "mg" else 1.0
        steps = [(t, v / scale) for t, v in points]
        steps.append((end, steps[-1][1]))
        color = PALETTE[index % len(PALETTE)]
        chart.series.append(
            Series(f"{drug} ({unit}/day)", color, steps, kind="step", right=both and unit == "mcg")
        )
    return chart.svg()
