"""A small SVG plot over time, written directly (no matplotlib): lines, steps, dots, a level.

The chart page draws two of these on every view; matplotlib took 75-300 ms a chart (figure,
text layout, SVG backend), this takes about a millisecond. Text is XML-escaped, never parsed
(a "$" in a drug name is a dollar sign, not mathtext).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

WIDTH, LEFT, RIGHT, TOP, BOTTOM = 760, 56, 56, 26, 30
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def nice_ticks(high: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``high`` (1, 2 or 5 times a power of ten)."""
    if high <= 0 or not math.isfinite(high):
        return [0.0, 1.0]
    raw = high / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [i * step for i in range(math.ceil(high / step - 1e-9) + 1)]


def tick_text(value: float) -> str:
    return f"{value:.6g}"


@dataclass
class Series:
    label: str
    color: str
    points: list[tuple[datetime, float]]
    kind: str = "line"  # "line" (segments joined), "segments" (pairs), "step", "dots"
    dashed: bool = False
    right: bool = False  # on the right-hand axis


@dataclass
class TimeChart:
    height: int
    title: str
    left_label: str
    right_label: str = ""
    series: list[Series] = field(default_factory=list)
    levels: list[tuple[float, str, str]] = field(default_factory=list)  # (y, label, color)

    def svg(self) -> bytes:
        times = [t for s in self.series for t, _ in s.points]
        if not times:
            return _empty(self.height, self.title)
        start, end = min(times), max(times)
        if end <= start:
            start, end = start - timedelta(days=1), end + timedelta(days=1)
        left_high = max(
            [v for s in self.series if not s.right for _, v in s.points]
            + [y for y, _, _ in self.levels]
            + [0.0]
        )
        right_high = max([v for s in self.series if s.right for _, v in s.points] + [0.0])
        left_ticks = nice_ticks(left_high * 1.05)
        right_ticks = nice_ticks(right_high * 1.05) if right_high else []
        plot_w = WIDTH - LEFT - RIGHT
        plot_h = self.height - TOP - BOTTOM
        span = (end - start).total_seconds()

        def x(t: datetime) -> float:
            return LEFT + (t - start).total_seconds() / span * plot_w

        def y(v: float, right: bool = False) -> float:
            top = (right_ticks or [1.0])[-1] if right else left_ticks[-1]
            return TOP + plot_h - (max(v, 0.0) / top) * plot_h

        out = [
            XML_DECLARATION,
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {self.height}" '
            f'width="{WIDTH}" height="{self.height}" role="img" font-family="sans-serif" '
            f'font-size="11"><title>{escape(self.title)}</title>',
            f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fff" '
            'stroke="#d0d7de"/>',
        ]
        for tick in left_ticks:
            ty = y(tick)
            out.append(
                f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}" '
                'stroke="#eaeef2"/>'
                f'<text x="{LEFT - 4}" y="{ty + 4:.1f}" text-anchor="end">{tick_text(tick)}</text>'
            )
        for tick in right_ticks:
            ty = y(tick, True)
            out.append(f'<text x="{LEFT + plot_w + 4}" y="{ty + 4:.1f}">{tick_text(tick)}</text>')
        out.append(
            f'<text transform="translate(12 {TOP + plot_h / 2:.0f}) rotate(-90)" '
            f'text-anchor="middle">{escape(self.left_label)}</text>'
        )
        if self.right_label and right_ticks:
            out.append(
                f'<text transform="translate({WIDTH - 8} {TOP + plot_h / 2:.0f}) rotate(90)" '
                f'text-anchor="middle">{escape(self.right_label)}</text>'
            )
        for t in _date_ticks(start, end):
            tx = x(t)
            out.append(
                f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{TOP}" y2="{TOP + plot_h}" '
                'stroke="#eaeef2"/>'
                f'<text x="{tx:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">'
                f"{t:%b %Y}</text>"
            )
        for level, _, color in self.levels:
            ly = y(level)
            out.append(
                f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{ly:.1f}" y2="{ly:.1f}" '
                f'stroke="{color}" stroke-dasharray="5 3"/>'
            )
        for s in self.series:
            out.append(_draw(s, x, y))
        out.append(_legend(self.series, self.levels))
        out.append("</svg>")
        return "".join(out).encode()


def _draw(s: Series, fx: Callable[[datetime], float], fy: Callable[..., float]) -> str:
    dash = ' stroke-dasharray="4 3"' if s.dashed else ""
    style = f'fill="none" stroke="{s.color}" stroke-width="1.4"{dash}'
    if s.kind == "dots":
        return "".join(
            f'<circle cx="{fx(t):.1f}" cy="{fy(v, s.right):.1f}" r="2.6" fill="{s.color}"/>'
            for t, v in s.points
        )
    if s.kind == "segments":
        pairs = zip(s.points[::2], s.points[1::2], strict=False)
        return "".join(
            f'<line x1="{fx(a):.1f}" y1="{fy(u, s.right):.1f}" x2="{fx(b):.1f}" '
            f'y2="{fy(w, s.right):.1f}" {style}/>'
            for (a, u), (b, w) in pairs
        )
    points: list[tuple[datetime, float]] = []
    for i, (t, v) in enumerate(s.points):
        if s.kind == "step" and i:
            points.append((t, s.points[i - 1][1]))
        points.append((t, v))
    coords = " ".join(f"{fx(t):.1f},{fy(v, s.right):.1f}" for t, v in points)
    return f'<polyline points="{coords}" {style}/>'


def _legend(series: list[Series], levels: list[tuple[float, str, str]]) -> str:
    entries = [(s.label, s.color, s.kind == "dots", s.dashed) for s in series if s.label]
    entries += [(label, color, False, True) for _, label, color in levels]
    out, lx = [], LEFT + 4
    for label, color, dot, dashed in entries:
        mark = (
            f'<circle cx="{lx + 6}" cy="{TOP - 10}" r="3" fill="{color}"/>'
            if dot
            else f'<line x1="{lx}" x2="{lx + 14}" y1="{TOP - 10}" y2="{TOP - 10}" stroke="{color}"'
            + (' stroke-dasharray="4 3"' if dashed else "")
            + ' stroke-width="1.6"/>'
        )
        out.append(mark + f'<text x="{lx + 18}" y="{TOP - 6}">{escape(label)}</text>')
        lx += 26 + 6 * len(label)
    return "".join(out)


def _date_ticks(start: datetime, end: datetime, most: int = 8) -> list[datetime]:
    """First days of months between ``start`` and ``end``, every n-th so at most ``most``."""
    months = []
    t = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while t <= end:
        if t >= start:
            months.append(t)
        t = (t + timedelta(days=32)).replace(day=1)
        if len(months) > 2000:
            break
    every = max(math.ceil(len(months) / most), 1)
    return months[::every]


def _empty(height: int, title: str) -> bytes:
    return (
        XML_DECLARATION
        + f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" role="img" font-family="sans-serif" font-size="12">'
        f"<title>{escape(title)}</title>"
        f'<text x="{WIDTH / 2}" y="{height / 2}" text-anchor="middle">nothing recorded yet</text>'
        "</svg>"
    ).encode()


__all__ = ["PALETTE", "Series", "TimeChart", "nice_ticks"]
