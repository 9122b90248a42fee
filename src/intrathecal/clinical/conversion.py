"""Conversions: trial dose to a starting pump dose, and morphine-equivalent routes.

Every ratio used is shown in the answer and can be changed by the caller; none is hidden.
Sources (shared/reference/domain-facts.md):
- Baclofen (label, verified): start at 2 x the effective screening bolus per 24 h, or 1 x when
  the screening effect lasted more than 8 h.
- Opioids: no verified rule was found (PACC 2017 trialing paper not read); the default fraction
  is a reference assumption that the clinician must confirm.
- Routes: IV:epidural:intrathecal morphine = 100:10:1 (OpenAnesthesia; survey of 83 pain
  specialists, most common answer); oral:IV = 3:1 (European practice); so oral 300 : IV 100 :
  epidural 10 : IT 1 (the combined chain is derived). Published oral:IT ratios range 12:1 to
  300:1: be conservative.
- Between intrathecal opioids: the library's IT morphine equivalents (drugs.toml,
  ``it_morphine_equivalent``): IT morphine 6 mg/day ~ IT hydromorphone 1 mg/day (one clinical
  chapter, partly verified).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from intrathecal.library import default_library
from intrathecal.units import InputError

BACLOFEN_LONG_EFFECT_HOURS = 8.0
DEFAULT_OPIOID_TRIAL_FRACTION = 0.5


class Route(Enum):
    ORAL = "oral"
    IV = "iv"
    EPIDURAL = "epidural"
    INTRATHECAL = "intrathecal"


# Relative potency: mg of morphine by that route equivalent to 1 mg intrathecal.
DEFAULT_ROUTE_RATIOS: dict[Route, float] = {
    Route.ORAL: 300.0,
    Route.IV: 100.0,
    Route.EPIDURAL: 10.0,
    Route.INTRATHECAL: 1.0,
}
ROUTE_SOURCES = (
    "IV:epidural:intrathecal 100:10:1 - OpenAnesthesia, 'Opioid conversion IV and IT' (verified); "
    "survey of 83 pain specialists, PMID 27703394 (verified)",
    "oral:IV 3:1 - empendium table 031_8643 (verified); the oral 300 : IT 1 chain is derived",
    "published oral:IT ratios range from 12:1 to 300:1 (PMID 15055516): start low",
)


def it_morphine_equivalents() -> dict[str, tuple[float, str, bool]]:
    """mg of IT morphine per mg of each intrathecal opioid, with note and verified flag. The
    ratios live in the library (one home, shared with the review's opioid-switch check)."""
    return {
        key: (ratio.value, ratio.note, ratio.verified)
        for key, drug in default_library().drugs.items()
        if (ratio := drug.it_morphine_equivalent) is not None
    }


@dataclass(frozen=True)
class Conversion:
    value_mcg_per_day: float
    rule: str
    verified: bool
    reasons: tuple[str, ...]


def baclofen_trial_to_pump(effective_bolus_mcg: float, effect_hours: float) -> Conversion:
    if effective_bolus_mcg <= 0:
        raise InputError("bolus", "must be greater than zero")
    if effect_hours <= 0:
        raise InputError("effect", "must be greater than zero")
    long_effect = effect_hours > BACLOFEN_LONG_EFFECT_HOURS
    factor = 1.0 if long_effect else 2.0
    return Conversion(
        value_mcg_per_day=effective_bolus_mcg * factor,
        rule="baclofen label: 2 x the effective screening dose per 24 h, or 1 x if the effect "
        "lasted more than 8 h; do not increase in the first 24 h",
        verified=True,
        reasons=(
            f"effect lasted {effect_hours:g} h "
            f"({'more' if long_effect else 'not more'} than 8 h): x{factor:g}",
            "sources: Lioresal/Gablofen labelling (drugs.com baclofen dosage; minclinic)",
        ),
    )


def opioid_trial_to_pump(
    effective_bolus_mcg: float, fraction: float = DEFAULT_OPIOID_TRIAL_FRACTION
) -> Conversion:
    if effective_bolus_mcg <= 0:
        raise InputError("bolus", "must be greater than zero")
    if not 0 < fraction <= 1:
        raise InputError("fraction", "must be above 0% and at most 100%")
    return Conversion(
        value_mcg_per_day=effective_bolus_mcg * fraction,
        rule=f"starting daily dose = {fraction * 100:g}% of the effective single trial bolus",
        verified=False,
        reasons=(
            "UNVERIFIED: no published rule was confirmed; the PACC 2017 trialing "
            "recommendations (Deer et al., Neuromodulation 2017;20:133-154) must be checked",
            "the fraction is an assumption shown so the clinician can change it (--fraction)",
        ),
    )


def route_equivalent(
    dose_mcg_per_day: float,
    source: Route,
    target: Route,
    ratios: dict[Route, float] | None = None,
) -> Conversion:
    """Morphine by one route to the equivalent by another, with the ratio used."""
    if dose_mcg_per_day <= 0:
        raise InputError("dose", "must be greater than zero")
    table = dict(DEFAULT_ROUTE_RATIOS)
    if ratios:
        for route, ratio in ratios.items():
            if ratio <= 0:
                raise InputError("ratio", f"the {route.value} ratio must be greater than zero")
            table[route] = ratio
    value = dose_mcg_per_day / table[source] * table[target]
    chain = " : ".join(f"{r.value} {table[r]:g}" for r in Route)
    return Conversion(
        value_mcg_per_day=value,
        rule=f"morphine {chain}; {source.value} {table[source]:g} : {target.value} "
        f"{table[target]:g}",
        verified=not ratios and {source, target} <= {Route.IV, Route.EPIDURAL, Route.INTRATHECAL},
        reasons=ROUTE_SOURCES,
    )


def intrathecal_opioid(dose_mcg_per_day: float, source: str, target: str) -> Conversion:
    """Between intrathecal opioids where a source gives a ratio (via morphine equivalents)."""
    if dose_mcg_per_day <= 0:
        raise InputError("dose", "must be greater than zero")
    equivalents = it_morphine_equivalents()
    for name, field in ((source, "from"), (target, "to")):
        if name not in equivalents:
            known = ", ".join(equivalents)
            raise InputError(field, f"no sourced ratio for {name!r}; known: {known}")
    s_ratio, s_note, s_ok = equivalents[source]
    t_ratio, t_note, t_ok = equivalents[target]
    value = dose_mcg_per_day * s_ratio / t_ratio
    return Conversion(
        value_mcg_per_day=value,
        rule=f"1 mg {source} = {s_ratio:g} mg IT morphine; 1 mg {target} = {t_ratio:g} mg",
        verified=s_ok and t_ok,
        reasons=(
            s_note,
            t_note,
            "cross-tolerance is incomplete: clinicians usually reduce the converted dose",
        ),
    )
