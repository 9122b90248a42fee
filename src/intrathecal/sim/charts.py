"""Charts of the forecasts and the fleet: visits per day, drug needs per month, the risk curve,
and fleet event rates. PNG or SVG bytes. Built with the object API, never pyplot (pyplot keeps
global state and is not safe in the web server's worker threads)."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure

FORMATS = ("png", "svg")


def _bytes(figure: Figure, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise ValueError(f"chart format must be png or svg, not {fmt!r}")
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, bbox_inches="tight", dpi=120)
    return buffer.getvalue()


def visits_chart(answer: dict[str, Any], fmt: str = "svg") -> bytes:
    """Refill visits per day, closed days grey, overloaded days red, the capacity dashed."""
    days = answer["days"]
    figure = Figure(figsize=(8, 2.8))
    axes = figure.subplots()
    colours = [
        "#d0d7de" if not d["open"] else "#d1242f" if d["overloaded"] else "#1f6feb" for d in days
    ]
    axes.bar(range(len(days)), [d["visits"] for d in days], color=colours)
    axes.axhline(answer["capacity_per_day"], color="#bf8700", linestyle="--", linewidth=1)
    step = max(1, len(days) // 10)
    axes.set_xticks(range(0, len(days), step))
    axes.set_xticklabels([days[i]["date"][5:] for i in range(0, len(days), step)], fontsize=7)
    axes.set_ylabel("refill visits a day")
    axes.set_title(
        f"Refill visits per day, capacity {answer['capacity_per_day']} a day "
        f"({answer['time_zone']})",
        fontsize=9,
    )
    return _bytes(figure, fmt)


def drugs_chart(answer: dict[str, Any], fmt: str = "svg") -> bytes:
    """Drug mass per month, one bar group per drug and strength (in the drug's unit)."""
    needs = answer["needs"]
    months = sorted({n["month"] for n in needs})
    series = sorted({(n["drug"], n["strength"]) for n in needs})
    figure = Figure(figsize=(8, 2.8))
    axes = figure.subplots()
    width = 0.8 / max(len(series), 1)
    for k, (drug, strength) in enumerate(series):
        values = []
        for month in months:
            match = [n for n in needs if (n["month"], n["drug"], n["strength"]) == (
                month, drug, strength)]  # fmt: skip
            values.append(match[0]["containers"] if match else 0)
        axes.bar([i + k * width for i in range(len(months))], values, width, label=f"{drug} "
                 f"{strength}")  # fmt: skip
    axes.set_xticks([i + 0.4 - width / 2 for i in range(len(months))])
    axes.set_xticklabels(months, fontsize=8)
    axes.set_ylabel(f"containers of {answer['container_ml']:g} mL")
    axes.set_title("Vials or ampoules to prepare per month", fontsize=9)
    if series:
        axes.legend(fontsize=7)
    return _bytes(figure, fmt)


def risk_chart(answer: dict[str, Any], fmt: str = "svg") -> bytes:
    """Chance of the low-reservoir alarm before the visit against the margin, with its 95 %
    interval, and the chance of running empty."""
    curve = answer["curve"]
    x = [c["margin_days"] for c in curve]
    figure = Figure(figsize=(8, 2.8))
    axes = figure.subplots()
    axes.fill_between(
        x,
        [100 * c["p_alarm_interval"][0] for c in curve],
        [100 * c["p_alarm_interval"][1] for c in curve],
        color="#1f6feb",
        alpha=0.2,
        label="95 % interval",
    )
    axes.plot(x, [100 * c["p_alarm"] for c in curve], color="#1f6feb", label="alarm before visit")
    axes.plot(x, [100 * c["p_empty"] for c in curve], color="#d1242f", label="empty before visit")
    axes.axvline(answer["margin_days"], color="#bf8700", linestyle="--", linewidth=1)
    axes.set_xlabel("scheduling margin (days before the due date)")
    axes.set_ylabel("% of visits")
    axes.set_title("Risk of running dry against the scheduling margin", fontsize=9)
    axes.legend(fontsize=7)
    return _bytes(figure, fmt)


def fleet_chart(answer: dict[str, Any], fmt: str = "svg") -> bytes:
    """Events per 1,000 pump-years by kind with their 95 % intervals."""
    kinds = answer["per_1000_pump_years"]
    names = list(kinds)
    values = [kinds[k]["rate"] for k in names]
    errors = [
        [kinds[k]["rate"] - kinds[k]["interval"][0] for k in names],
        [kinds[k]["interval"][1] - kinds[k]["rate"] for k in names],
    ]
    figure = Figure(figsize=(6, 2.8))
    axes = figure.subplots()
    axes.bar(names, values, yerr=errors, color="#1f6feb", capsize=4)
    axes.set_ylabel("per 1,000 pump-years")
    axes.set_title(
        f"{answer['pumps']:,} pumps x {answer['years']:g} years (95 % intervals)", fontsize=9
    )
    return _bytes(figure, fmt)
