"""Compounding recipe: the volume of each stock solution and of diluent for a fill.

volume of stock i = C_i (wanted) x fill volume / stock concentration i; diluent = fill - sum.
A recipe that needs more stock than the fill holds is refused (a stronger stock is needed).
Checks: every wanted concentration against the library limits, mixing compatibility, and an
optional extra volume to prime the refill set (Codman: +3 mL; domain-facts.md §6).
"""

from __future__ import annotations

from dataclasses import dataclass

from intrathecal.library.records import Library
from intrathecal.therapy.findings import Finding, Severity
from intrathecal.units import InputError, format_concentration, format_volume


@dataclass(frozen=True)
class Component:
    drug: str
    wanted_mcg_per_ml: float
    stock_mcg_per_ml: float
    volume_ml: float
    mass_mcg: float


@dataclass(frozen=True)
class Recipe:
    total_ml: float  # fill + priming overage
    fill_ml: float
    overage_ml: float
    components: tuple[Component, ...]
    diluent_ml: float
    diluent: str
    findings: tuple[Finding, ...]


def recipe(
    library: Library,
    wanted_mcg_per_ml: dict[str, float],
    stocks_mcg_per_ml: dict[str, float],
    fill_ml: float,
    overage_ml: float = 0.0,
    diluent: str = "preservative-free 0.9% sodium chloride",
) -> Recipe:
    if fill_ml <= 0:
        raise InputError("volume", "must be greater than zero")
    if overage_ml < 0:
        raise InputError("overage", "must not be negative")
    if not wanted_mcg_per_ml:
        raise InputError("drug", "name at least one drug and its concentration")
    total = fill_ml + overage_ml
    components = []
    findings: list[Finding] = []
    for key, wanted in wanted_mcg_per_ml.items():
        try:
            drug = library.drug(key)
        except KeyError as exc:
            raise InputError("drug", str(exc.args[0])) from None
        if wanted <= 0:
            raise InputError(f"drug {key}", "concentration must be greater than zero")
        stock = stocks_mcg_per_ml.get(key)
        if stock is None:
            raise InputError("stock", f"give the stock concentration of {key}")
        if stock <= 0:
            raise InputError(f"stock {key}", "must be greater than zero")
        unit = drug.dose_unit.value
        if wanted > stock:
            raise InputError(
                f"drug {key}",
                f"{format_concentration(wanted, unit)} is stronger than the stock "
                f"{format_concentration(stock, unit)}",
            )
        volume = wanted * total / stock
        components.append(Component(key, wanted, stock, volume, wanted * total))
        bounds = drug.concentration_mcg_per_ml
        for severity, limit in ((Severity.HARD, bounds.hard_max), (Severity.SOFT, bounds.soft_max)):
            if limit is not None and wanted > limit.value:
                findings.append(
                    Finding(
                        severity,
                        f"CONCENTRATION_ABOVE_{severity.name}",
                        f"drug {key}",
                        f"{format_concentration(wanted, unit)} is above the {severity.value} "
                        f"limit {format_concentration(limit.value, unit)} ({limit.provenance})",
                    )
                )
                break
        if len(wanted_mcg_per_ml) > 1 and not drug.mixable.value:
            findings.append(
                Finding(
                    Severity.HARD,
                    "INCOMPATIBLE_MIXTURE",
                    f"drug {key}",
                    f"{drug.name} must not be mixed with other drugs ({drug.mixable.provenance})",
                )
            )
    stock_volume = sum(c.volume_ml for c in components)
    if stock_volume > total + 1e-9:
        raise InputError(
            "stock",
            f"the stocks alone take {format_volume(stock_volume)}, more than the "
            f"{format_volume(total)} to prepare: use stronger stock solutions",
        )
    return Recipe(
        total_ml=total,
        fill_ml=fill_ml,
        overage_ml=overage_ml,
        components=tuple(components),
        diluent_ml=max(total - stock_volume, 0.0),
        diluent=diluent,
        findings=tuple(findings),
    )
