"""What the refill wizard puts in: each drug's lot and expiry and who compounded (read from the
form and named by field), and what changes from the version in force (per drug: concentration
and daily dose, old beside new)."""

from __future__ import annotations

from datetime import date
from typing import Any

from intrathecal.library import default_library
from intrathecal.store import programs
from intrathecal.store.refills import MAX_LOT_CHARS, DrugLot, RefillPlan
from intrathecal.therapy.program import Program
from intrathecal.therapy.summary import summarize
from intrathecal.units import InputError, readable_number

# A drug's expiry further out than this is a typing error (a year of 2207), not a shelf life.
MAX_SHELF_YEARS = 10


def _expiry(text: str, field: str) -> date:
    try:
        when = date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(field, f"expected a date like 2027-01-31, got {text[:20]!r}") from None
    return when


def lots(form: dict[str, str], prepared: RefillPlan, step: str) -> tuple[DrugLot, ...]:
    """The lots the form gives for the new program's drugs (a drug left blank is left out; the
    save step requires every one, see :func:`require_for_save`)."""
    out = []
    for ingredient in prepared.new_program.ingredients:
        drug = ingredient.drug.key
        lot = form.get(f"lot_{drug}", "").strip()
        expiry = form.get(f"expiry_{drug}", "").strip()
        if not lot and not expiry:
            continue
        if len(lot) > MAX_LOT_CHARS:
            raise InputError(f"lot_{drug}", f"is too long (at most {MAX_LOT_CHARS} characters)")
        if not lot:
            raise InputError(f"lot_{drug}", f"give the lot number of the {drug} filled")
        if not expiry:
            raise InputError(f"expiry_{drug}", f"give the expiry date of {drug} lot {lot}")
        when = _expiry(expiry, f"expiry_{drug}")
        if when.year > prepared.new_version.signed_at.year + MAX_SHELF_YEARS:
            raise InputError(
                f"expiry_{drug}", f"{when:%Y-%m-%d} is more than {MAX_SHELF_YEARS} years away"
            )
        out.append(DrugLot(drug, lot, when))
    del step
    return tuple(out)


def require_for_save(form: dict[str, str], prepared: RefillPlan) -> None:
    """Saving records what went in: every drug's lot and expiry and who compounded."""
    for ingredient in prepared.new_program.ingredients:
        drug = ingredient.drug.key
        if not form.get(f"lot_{drug}", "").strip():
            raise InputError(f"lot_{drug}", f"give the lot number of the {drug} filled")
        if not form.get(f"expiry_{drug}", "").strip():
            raise InputError(f"expiry_{drug}", f"give the expiry date of the {drug} filled")
    if not form.get("compounded_by", "").strip():
        raise InputError("compounded_by", "give the full name of who compounded the refill")


def concentration_text(drug: str, mcg_per_ml: float) -> str:
    unit = default_library().drug(drug).dose_unit.value
    return _show((mcg_per_ml, 0.0), 0, unit, "mL")


def dose_text(drug: str, mcg_per_day: float | None) -> str:
    unit = default_library().drug(drug).dose_unit.value
    return _show(None if mcg_per_day is None else (0.0, mcg_per_day), 1, unit, "day")


def _readable(number: float, unit: str) -> str:
    """To sensible significant figures (units.readable_number, as every page): "0.0662 mL/day"."""
    return f"{readable_number(number)} {unit}"


def _per(program: Program | None) -> dict[str, tuple[float, float]]:
    """drug -> (concentration mcg/mL, mean daily dose mcg/day)."""
    if program is None:
        return {}
    doses = summarize(program).doses_mcg_per_day
    return {
        i.drug.key: (i.concentration_mcg_per_ml, doses[i.drug.key]) for i in program.ingredients
    }


def _show(value: tuple[float, float] | None, i: int, unit: str, per: str) -> str:
    if value is None:
        return "-"
    return _readable(value[i] / (1000.0 if unit == "mg" else 1.0), f"{unit}/{per}")


def changes(prepared: RefillPlan) -> list[dict[str, Any]]:
    """Per drug of the old (in force) and new version: concentration and daily dose, as text."""
    old_version = prepared.old_version
    old = _per(programs.parse(old_version.program_toml) if old_version else None)
    new = _per(prepared.new_program)
    rows = []
    for drug in [*new, *(d for d in old if d not in new)]:
        unit = default_library().drug(drug).dose_unit.value
        before, after = old.get(drug), new.get(drug)
        rows.append(
            {
                "drug": drug,
                "old_concentration": _show(before, 0, unit, "mL"),
                "new_concentration": _show(after, 0, unit, "mL"),
                "old_dose": _show(before, 1, unit, "day"),
                "new_dose": _show(after, 1, unit, "day"),
                "changed": before != after,
            }
        )
    return rows
