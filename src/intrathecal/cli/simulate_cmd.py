"""``itp simulate fleet``: alarms, refills and battery replacements of a pump population."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from intrathecal.cli import quantities
from intrathecal.cli.output import emit, read_text, reported
from intrathecal.cli.sim_output import (
    ChartOpt,
    CsvOpt,
    EngineOpt,
    JsonOpt,
    SchedulerOpt,
    SeedOpt,
    WorkersOpt,
    check_outputs,
    check_seed,
    progress_bar,
    where,
    write_outputs,
)
from intrathecal.units import InputError

app = typer.Typer(help="Population and fleet simulation.", no_args_is_help=True)

MAX_PUMPS = 100_000_000
MAX_YEARS = 100.0


@app.command("fleet")
def fleet_cmd(
    years: Annotated[float, typer.Option("--years", help="Years to simulate.")],
    pumps: Annotated[
        int | None, typer.Option("--pumps", help="Pumps in a synthetic population.")
    ] = None,
    population: Annotated[
        Path | None,
        typer.Option(
            "--population",
            help="An exported population instead: CSV with rate_ml_per_day, optional pattern "
            "(flat, day-night) and battery_age_days.",
        ),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="Library device key.")] = (
        "synchromed-ii-20"
    ),
    drug: Annotated[str, typer.Option("--drug", help="Drug whose stability caps refills.")] = (
        "morphine"
    ),
    margin: Annotated[str, typer.Option("--margin", help="Scheduling margin, e.g. '3 days'.")] = (
        "3 days"
    ),
    rate_min: Annotated[str, typer.Option("--rate-min", help="Lowest mean rate.")] = "0.1 mL/day",
    rate_max: Annotated[str, typer.Option("--rate-max", help="Highest mean rate.")] = "1 mL/day",
    seed: SeedOpt = 1,
    engine: EngineOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    csv_path: CsvOpt = None,
    chart: ChartOpt = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Expected alarms per 1,000 pump-years by kind, refills per year and battery replacements,
    with 95 % intervals, for a synthetic population (model and assumptions: docs/forecasts.md)."""
    from intrathecal.library import default_library
    from intrathecal.pump.battery import eri_to_eos_days
    from intrathecal.sim import fleet
    from intrathecal.sim.lateness import DEFAULT
    from intrathecal.sim.population import parse as parse_population
    from intrathecal.sim.runs import run_fleet
    from intrathecal.units import Kind, parse_positive

    with reported(as_json):
        if population is not None and pumps is not None:
            raise InputError("--pumps", "give --pumps or --population, not both")
        if population is None and pumps is None:
            raise InputError("--pumps", "give the number of pumps, or --population FILE.csv")
        if pumps is not None and not 1 <= pumps <= MAX_PUMPS:
            raise InputError("--pumps", f"must be 1 to {MAX_PUMPS:,} pumps, got {pumps}")
        if not 0 < years <= MAX_YEARS:
            raise InputError("--years", f"must be above 0 and at most {MAX_YEARS:g} years, got "
                             f"{years:g} years")  # fmt: skip
        margin_days = quantities.duration_days(margin, "--margin", allow_zero=True)
        low = parse_positive(rate_min, "--rate-min", Kind.VOLUME_RATE)
        high = parse_positive(rate_max, "--rate-max", Kind.VOLUME_RATE)
        if high < low:
            raise InputError("--rate-max", f"{rate_max} is below --rate-min {rate_min}")
        library = default_library()
        if device not in library.devices:
            raise InputError("--device", f"unknown device {device!r}; see itp library devices")
        if drug not in library.drugs:
            raise InputError("--drug", f"unknown drug {drug!r}; see itp library drugs")
        place = where(engine, scheduler, workers)
        fmt = check_outputs(csv_path, chart)
        dev = library.device(device)
        known = None
        if population is not None:
            known = parse_population(
                read_text(population, "--population"),
                "--population",
                dev.max_rate_ml_per_day.value,
                dev.service_life_days.value - eri_to_eos_days(dev),
            )
        size = known.size if known is not None else pumps
        assert size is not None
        spec = fleet.FleetSpec(
            pumps=size,
            years=years,
            seed=check_seed(seed),
            reservoir_ml=dev.reservoir_ml.value,
            alarm_ml=dev.low_reservoir_alarm_default_ml.value,
            dead_ml=dev.non_retrievable_ml.value if dev.non_retrievable_ml else 0.0,
            accuracy=dev.accuracy_fraction.value,
            stability_days=library.drug(drug).stability_days.value,
            device_limit_days=(
                dev.max_refill_interval_days.value if dev.max_refill_interval_days else None
            ),
            service_life_days=dev.service_life_days.value,
            eri_to_eos_days=eri_to_eos_days(dev),
            margin_days=margin_days,
            lateness=DEFAULT,
            rate_min_ml_per_day=low,
            rate_max_ml_per_day=high,
            population=known,
        )
        with progress_bar("pumps", size, progress and not as_json) as advance:
            try:
                counts = run_fleet(spec, place, progress=advance)
            except OSError as exc:
                raise InputError("--scheduler", f"cannot reach {scheduler}: {exc}") from None
        answer = fleet.answer(spec, counts)
        answer["device"] = device
        answer["drug"] = drug
        answer["population"] = str(population) if population is not None else "synthetic"
        _outputs(answer, csv_path, chart, fmt)
        emit(as_json, answer, _text(answer))


def _rows(answer: dict[str, object]) -> list[list[object]]:
    rates = answer["per_1000_pump_years"]
    assert isinstance(rates, dict)
    return [
        [
            k,
            v["events"],
            round(v["rate"], 2),
            round(v["interval"][0], 2),
            round(v["interval"][1], 2),
        ]
        for k, v in rates.items()
    ]


def _outputs(answer: dict[str, object], csv_path: Path | None, chart: Path | None,
             fmt: str | None) -> None:  # fmt: skip
    from intrathecal.sim.charts import fleet_chart

    header = ["kind", "events", "per_1000_pump_years", "low_95", "high_95"]
    write_outputs(csv_path, header, _rows(answer), chart, fmt, lambda f: fleet_chart(answer, f))


def _text(answer: dict[str, object]) -> str:
    refills = answer["refills_per_pump_year"]
    assert isinstance(refills, dict)
    lines = [
        f"{answer['pumps']:,} pumps x {answer['years']:g} "
        f"year{'' if answer['years'] == 1 else 's'} = {answer['pump_years']:,.0f} pump-years "
        f"({answer['device']}, {answer['drug']}, margin {answer['margin_days']:g} days, seed "
        f"{answer['seed']})",
        *([f"population: {answer['population']}"] if answer["population"] != "synthetic" else []),
        "per 1,000 pump-years (95 % interval):",
        *(
            f"  {kind}: {events:,} events, {rate:.1f} ({low:.1f} to {high:.1f})"
            for kind, events, rate, low, high in _rows(answer)
        ),
        f"refills per pump-year: {refills['rate']:.2f} ({refills['interval'][0]:.2f} to "
        f"{refills['interval'][1]:.2f})",
        f"visit lateness: {answer['lateness']}",
        "Model results under stated assumptions (docs/forecasts.md), not device statistics.",
    ]
    return "\n".join(lines)
