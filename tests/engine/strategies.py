"""Hypothesis strategies for random but valid programs (built directly, not from text)."""

from __future__ import annotations

from hypothesis import strategies as st

from intrathecal.library import default_library
from intrathecal.library.records import DeliveryMode
from intrathecal.therapy.program import (
    ALL_DAYS,
    BasalStep,
    DemandBolus,
    Ingredient,
    PeriodicBolus,
    Program,
)

DAY_S = 86_400
rates = st.floats(min_value=0.048, max_value=5.0, allow_nan=False, allow_infinity=False)


@st.composite
def basal_steps(draw: st.DrawFn) -> tuple[BasalStep, ...]:
    count = draw(st.integers(min_value=1, max_value=13))
    starts = draw(
        st.lists(
            st.integers(min_value=0, max_value=DAY_S // 60 - 1),
            min_size=count,
            max_size=count,
            unique=True,
        )
    )
    return tuple(
        BasalStep(start_s=minute * 60, days=ALL_DAYS, rate_ml_per_day=draw(rates))
        for minute in sorted(starts)
    )


@st.composite
def periodic_boluses(draw: st.DrawFn) -> tuple[PeriodicBolus, ...]:
    count = draw(st.integers(min_value=0, max_value=3))
    # Non-overlapping: each bolus lives in its own third of the day.
    boluses = []
    for k in range(count):
        start = k * 8 * 3600 + draw(st.integers(min_value=0, max_value=4 * 3600)) // 60 * 60
        duration = draw(st.integers(min_value=1, max_value=240)) * 60
        volume = draw(st.floats(min_value=0.001, max_value=0.5))
        boluses.append(PeriodicBolus(start, ALL_DAYS, volume, duration))
    return tuple(boluses)


@st.composite
def demand_boluses(draw: st.DrawFn) -> DemandBolus:
    lockout = draw(st.integers(min_value=15, max_value=24 * 60)) * 60
    duration = draw(st.integers(min_value=60, max_value=min(lockout, 3600)))
    return DemandBolus(
        volume_ml=draw(st.floats(min_value=0.001, max_value=0.2)),
        duration_s=duration,
        lockout_s=lockout,
        max_per_24h=draw(st.integers(min_value=1, max_value=12)),
    )


@st.composite
def programs(draw: st.DrawFn, with_demand: bool | None = None) -> Program:
    library = default_library()
    morphine = library.drug("morphine")
    clonidine = library.drug("clonidine")
    ingredients = [Ingredient(morphine, draw(st.floats(min_value=500.0, max_value=25_000.0)))]
    if draw(st.booleans()):
        ingredients.append(Ingredient(clonidine, draw(st.floats(min_value=50.0, max_value=2000.0))))
    demand_wanted = draw(st.booleans()) if with_demand is None else with_demand
    basal = draw(basal_steps())
    return Program(
        name="random",
        device=library.device("synchromed-ii-20"),
        ingredients=tuple(ingredients),
        basal=basal,
        periodic=draw(periodic_boluses()),
        demand=draw(demand_boluses()) if demand_wanted else None,
        low_reservoir_alarm_ml=2.0,
        catheter_volume_ml=0.19,
        notices=(),
        overridden=frozenset(),
        mode=DeliveryMode.CONTINUOUS if len(basal) == 1 else DeliveryMode.FLEX,
    )


@st.composite
def prometra_programs(draw: st.DrawFn) -> Program:
    """A Prometra program in any of its modes: constant flow, multiple rates, periodic flow."""
    library = default_library()
    mode = draw(
        st.sampled_from(
            [DeliveryMode.CONTINUOUS, DeliveryMode.MULTIPLE_RATES, DeliveryMode.PERIODIC_FLOW]
        )
    )
    if mode is DeliveryMode.PERIODIC_FLOW:
        basal: tuple[BasalStep, ...] = (BasalStep(0, ALL_DAYS, 0.0),)
        periodic = draw(periodic_boluses().filter(bool))
    else:
        basal = draw(basal_steps())
        if mode is DeliveryMode.CONTINUOUS:
            basal = (BasalStep(0, ALL_DAYS, basal[0].rate_ml_per_day),)
        periodic = draw(periodic_boluses())
    return Program(
        name="random-prometra",
        device=library.device("prometra-ii-20"),
        ingredients=(Ingredient(library.drug("morphine"), draw(st.floats(500.0, 25_000.0))),),
        basal=basal,
        periodic=periodic,
        demand=draw(demand_boluses()) if draw(st.booleans()) else None,
        low_reservoir_alarm_ml=3.0,
        catheter_volume_ml=0.2,
        notices=(),
        overridden=frozenset(),
        mode=mode,
    )


# Instants within 2026, whole seconds (pump time).
instants = st.integers(min_value=1_767_225_600, max_value=1_798_761_599).map(float)
