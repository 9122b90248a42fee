"""The rate of a program over its cycle (a day, or a week), as a step chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: charts are files
from matplotlib.figure import Figure

from intrathecal.engine.delivery import program_profile
from intrathecal.therapy.program import WEEKDAY_NAMES, Program
from intrathecal.units import format_concentration


def plot_rate(program: Program, path: Path) -> None:
    """Write the rate (mL/day, and dose/day of the first drug) over one cycle to ``path``."""
    profile = program_profile(program)
    hours = [s / 3600 for s in profile.starts_s] + [profile.period_s / 3600]
    rates = [*profile.rates_ml_per_day, profile.rates_ml_per_day[-1]]
    first = program.first
    unit = first.drug.dose_unit.value
    per_unit = 1000.0 if unit == "mg" else 1.0
    fig = Figure(figsize=(9, 4), dpi=110)
    ax = fig.subplots()
    ax.step(hours, rates, where="post", color="#1f5fa8", linewidth=2)
    ax.fill_between(hours, rates, step="post", alpha=0.15, color="#1f5fa8")
    ax.set_ylabel("rate (mL/day)")
    ax.set_ylim(bottom=0)
    ax.set_xlim(0, hours[-1])
    if program.weekly:
        ax.set_xticks([24 * d for d in range(8)])
        ax.set_xticklabels([*WEEKDAY_NAMES, ""])
        ax.set_xlabel("pump time (UTC), one week")
    else:
        ax.set_xticks(range(0, 25, 2))
        ax.set_xlabel("pump time (UTC), hour of day")
    scale = first.concentration_mcg_per_ml / per_unit  # mL/day -> dose unit/day

    def to_dose(rate: Any) -> Any:
        return rate * scale

    def to_rate(dose: Any) -> Any:
        return dose / scale

    dose_axis = ax.secondary_yaxis("right", functions=(to_dose, to_rate))
    dose_axis.set_ylabel(f"{first.drug.key} ({unit}/day)")
    drugs = ", ".join(
        f"{i.drug.key} {format_concentration(i.concentration_mcg_per_ml, i.drug.dose_unit.value)}"
        for i in program.ingredients
    )
    ax.set_title(f"{program.name}: basal and periodic boluses ({drugs})", fontsize=10)
    ax.grid(alpha=0.3)
    fig.text(
        0.01,
        0.01,
        "Reference calculation for trained clinicians; demand boluses not shown.",
        fontsize=7,
        color="#555",
    )
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path)
