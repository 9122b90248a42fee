"""What the pharmacy must prepare per month (issue 14, question 2).

Each forecast visit repeats the patient's last fill: the same volume and concentrations, and the
same compounding recipe (clinical/compounding.py: stock volume = wanted x (fill + overage) /
stock strength). A drug's mass is wanted x (fill + overage). Stocks come in single-use vials or
ampoules (preservative-free intrathecal drugs are not kept once opened), so each fill opens
ceil(stock volume / container volume) containers of its strength. A fill recorded without a
recipe was a ready-made solution: its containers are of the fill's own strength.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from intrathecal.sim.workload import ClinicDay


@dataclass(frozen=True)
class Stock:
    drug: str
    strength_mcg_per_ml: float
    volume_ml: float  # stock needed for one fill (with its overage)
    mass_mcg: float  # drug in that fill


@dataclass(frozen=True)
class Fill:
    """A patient's last fill as the pharmacy made it."""

    patient_id: int
    total_ml: float  # fill + overage
    stocks: tuple[Stock, ...]


@dataclass
class Need:
    """One drug at one strength in one month."""

    month: str  # YYYY-MM
    drug: str
    strength_mcg_per_ml: float
    fills: int = 0
    mass_mcg: float = 0.0
    stock_ml: float = 0.0
    containers: int = 0


def fill_from_recipe(
    patient_id: int,
    fill_ml: float,
    concentrations: Mapping[str, float],
    recipe: Mapping[str, object] | None,
) -> Fill:
    """The fill of a stored refill (``recipe_json`` as store/refills.py writes it)."""
    if recipe and recipe.get("components"):
        total = float(recipe["total_ml"])  # type: ignore[arg-type]
        components = recipe["components"]
        assert isinstance(components, list)
        stocks = tuple(
            Stock(
                c["drug"],
                float(c["stock_mcg_per_ml"]),
                float(c["volume_ml"]),
                float(c["mass_mcg"]),
            )
            for c in components
        )
        return Fill(patient_id, total, stocks)
    return Fill(
        patient_id,
        fill_ml,
        tuple(Stock(d, c, fill_ml, c * fill_ml) for d, c in concentrations.items()),
    )


def needs(
    calendar: Sequence[ClinicDay], fills: Mapping[int, Fill], container_ml: float
) -> list[Need]:
    """Needs by month, drug and strength, in that order."""
    if not container_ml > 0:
        raise ValueError("the container volume must be greater than 0 mL")
    table: dict[tuple[str, str, float], Need] = {}
    for entry in calendar:
        month = entry.day.strftime("%Y-%m")
        for visit in entry.visits:
            fill = fills.get(visit.patient_id)
            if fill is None:
                continue
            for stock in fill.stocks:
                key = (month, stock.drug, stock.strength_mcg_per_ml)
                need = table.setdefault(key, Need(month, stock.drug, stock.strength_mcg_per_ml))
                need.fills += 1
                need.mass_mcg += stock.mass_mcg
                need.stock_ml += stock.volume_ml
                # A hair over a whole container (float noise) is not another container.
                need.containers += math.ceil(stock.volume_ml / container_ml - 1e-9)
    return [table[k] for k in sorted(table)]
