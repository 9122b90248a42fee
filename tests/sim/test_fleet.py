"""Fleet simulation: vectorised equals the per-pump loop, chunking changes nothing, and the
counts match hand-worked answers when nothing varies."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intrathecal.sim import fleet, population, streams
from intrathecal.sim.lateness import DEFAULT, ON_TIME
from intrathecal.sim.runs import Where, run_fleet
from intrathecal.units import InputError

SPEC = fleet.FleetSpec(
    pumps=600,
    years=2.0,
    seed=42,
    reservoir_ml=20.0,
    alarm_ml=2.0,
    dead_ml=0.0,
    accuracy=0.145,
    stability_days=90.0,
    device_limit_days=None,
    service_life_days=2557.0,  # 84 months
    eri_to_eos_days=90.0,
    margin_days=2.0,
    lateness=DEFAULT,
)


def test_vectorised_fleet_equals_the_per_pump_loop() -> None:
    assert fleet.simulate(SPEC, 0, 300) == fleet.simulate_loop(SPEC, 0, 300)


@settings(max_examples=6)
@given(size=st.integers(1, 600), workers=st.sampled_from([1, 2]))
def test_the_answer_does_not_depend_on_chunking_or_workers(size: int, workers: int) -> None:
    whole = fleet.simulate(SPEC, 0, SPEC.pumps)
    assert run_fleet(SPEC, Where(workers=workers), chunk_size=size) == whole


@settings(max_examples=20)
@given(start=st.integers(0, 10**9), count=st.integers(1, 50), cut=st.integers(0, 50))
def test_streams_are_keyed_by_pump_not_by_chunk(start: int, count: int, cut: int) -> None:
    cut = min(cut, count)
    kind = streams.Kind.LATENESS
    whole = streams.uniforms(9, kind, start, count, (3, 0))
    parts = [
        streams.uniforms(9, kind, start, cut, (3, 0)),
        streams.uniforms(9, kind, start + cut, count - cut, (3, 0)),
    ]
    assert whole.tolist() == [*parts[0].tolist(), *parts[1].tolist()]


def test_no_variation_gives_the_hand_worked_refills_and_no_alarm() -> None:
    # 0.5 mL/day flat, fill 20 mL, alarm 2 mL: due every 18 / 0.5 = 36 days (under the 90-day
    # stability), visits on the day. One year = 365.25 days: visits at 36, 72, ..., 360 = 10
    # refills a pump; the alarm comes at the visit's very instant, not before it: none.
    spec = replace(
        SPEC,
        pumps=100,
        years=1.0,
        accuracy=0.0,
        margin_days=0.0,
        lateness=ON_TIME,
        rate_min_ml_per_day=0.5,
        rate_max_ml_per_day=0.5,
        templates=(fleet.FLAT,),
    )
    counts = fleet.simulate(spec, 0, 100)
    assert (counts.refills, counts.low_reservoir, counts.empty) == (1000, 0, 0)


def test_stability_limits_the_interval_when_the_volume_lasts_longer() -> None:
    # 0.1 mL/day lasts 180 days to the alarm; stability 90 days limits it: visits at 90, 180,
    # 270, 360 in a year = 4 refills.
    spec = replace(
        SPEC,
        pumps=10,
        years=1.0,
        accuracy=0.0,
        margin_days=0.0,
        lateness=ON_TIME,
        rate_min_ml_per_day=0.1,
        rate_max_ml_per_day=0.1,
    )
    assert fleet.simulate(spec, 0, 10).refills == 40


def test_battery_replacements_match_one_per_battery_period() -> None:
    # Age uniform over the period P = 2557 - 90 = 2467 days: expected ERIs in H days = H / P.
    # 20,000 pumps over 5 years: 20,000 x 1826.25 / 2467 = 14,805.4; the count is binomial
    # (at most one ERI per pump here), sd = sqrt(n p (1 - p)) = 62.
    spec = replace(SPEC, pumps=20_000, years=5.0, templates=(fleet.FLAT,))
    _, _, age = fleet._draws(spec, 0, spec.pumps)
    expected = 20_000 * 5 * fleet.YEAR_DAYS / 2467
    assert abs(fleet._eri_count(spec, age) - expected) < 4 * 62


def test_poisson_interval_by_hand() -> None:
    # Byar: k = 10 events in 1,000 pump-years: lower = 10 (1 - 1/90 - 1.96/(3 sqrt 10))^3
    # = 4.795, upper = 11 (1 - 1/99 + 1.96/(3 sqrt 11))^3 = 18.39 (exact Garwood 4.80, 18.39).
    rate = fleet.poisson_rate(10, 1000.0)
    assert rate.per_1000 == 10.0
    assert abs(rate.low - 4.795) < 0.01 and abs(rate.high - 18.39) < 0.01


def test_an_exported_population_gives_the_hand_worked_counts() -> None:
    # Two pumps of 0.5 mL/day (flat, day-night): 10 refills each in a year as above. Battery
    # ages: 2367 days of the 2467-day period -> ERI on day 100 (inside the year); 0 days -> ERI
    # on day 2467 (outside).
    text = "rate_ml_per_day,pattern,battery_age_days\n0.5,flat,2367\n0.5,day-night,0\n"
    known = population.parse(text, "--population", 24.0, 2467.0)
    spec = replace(
        SPEC,
        pumps=known.size,
        years=1.0,
        accuracy=0.0,
        margin_days=0.0,
        lateness=ON_TIME,
        population=known,
    )
    counts = fleet.simulate(spec, 0, known.size)
    assert (counts.refills, counts.eri, counts.low_reservoir) == (20, 1, 0)
    assert counts == fleet.simulate_loop(spec, 0, known.size)


def test_a_bad_population_row_is_named_with_its_column_and_unit() -> None:
    for text, field, words in (
        ("rate_ml_per_day\n0.5\n-1\n", "--population row 3, rate_ml_per_day", "mL/day"),
        ("rate_ml_per_day\nfast\n", "--population row 2, rate_ml_per_day", "number of mL/day"),
        ("rate_ml_per_day,pattern\n0.5,pulsed\n", "--population row 2, pattern", "flat"),
        ("rate_ml_per_day,battery_age_days\n0.5,9000\n", "--population row 2, battery_age_days",
         "days"),
        ("rate\n0.5\n", "--population", "rate_ml_per_day"),
        ("rate_ml_per_day\n", "--population", "no pumps"),
    ):  # fmt: skip
        with pytest.raises(InputError) as error:
            population.parse(text, "--population", 24.0, 2467.0)
        assert error.value.field == field and words in error.value.message
