"""``itp convert trial|route|opioid`` and ``itp compound``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from intrathecal.cli.output import DISCLAIMER, emit, reported
from intrathecal.cli.review_cmd import findings_json, findings_text
from intrathecal.clinical.compounding import recipe
from intrathecal.clinical.conversion import (
    DEFAULT_OPIOID_TRIAL_FRACTION,
    Conversion,
    Route,
    baclofen_trial_to_pump,
    intrathecal_opioid,
    opioid_trial_to_pump,
    route_equivalent,
)
from intrathecal.library import default_library
from intrathecal.units import (
    InputError,
    Kind,
    format_concentration,
    format_dose_rate,
    format_mass,
    format_volume,
    parse,
    parse_percent,
    parse_positive,
)

app = typer.Typer(help="Trial and route conversions.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _emit(as_json: bool, result: Conversion, unit: str, extra: dict[str, Any]) -> None:
    payload = {
        **extra,
        "dose_mcg_per_day": result.value_mcg_per_day,
        "rule": result.rule,
        "verified": result.verified,
        "reasons": list(result.reasons),
        "disclaimer": DISCLAIMER,
    }
    status = "" if result.verified else "  [UNVERIFIED rule]"
    lines = [
        f"{format_dose_rate(result.value_mcg_per_day, unit)}{status}",
        f"rule: {result.rule}",
        *(f"  - {r}" for r in result.reasons),
        DISCLAIMER,
    ]
    emit(as_json, payload, "\n".join(lines))


@app.command("trial")
def trial_cmd(
    drug: Annotated[str, typer.Argument(help="baclofen, or an opioid (morphine, ...).")],
    bolus: Annotated[str, typer.Option("--bolus", help="Effective trial bolus, e.g. '50 mcg'.")],
    effect: Annotated[
        str | None, typer.Option("--effect", help="How long the effect lasted (baclofen).")
    ] = None,
    fraction: Annotated[
        str | None, typer.Option("--fraction", help="Opioids: share of the bolus per day.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Starting daily pump dose from an effective trial bolus."""
    with reported(as_json):
        library = default_library()
        try:
            record = library.drug(drug)
        except KeyError as exc:
            raise InputError("DRUG", str(exc.args[0])) from None
        dose = parse_positive(bolus, "--bolus", Kind.MASS)
        if record.key == "baclofen":
            if effect is None:
                raise InputError(
                    "--effect", "baclofen needs how long the effect lasted, e.g. '6 h'"
                )
            hours = parse_positive(effect, "--effect", Kind.DURATION) / 3600
            result = baclofen_trial_to_pump(dose, hours)
        elif record.drug_class.value == "opioid":
            share = (
                parse_percent(fraction, "--fraction")
                if fraction is not None
                else DEFAULT_OPIOID_TRIAL_FRACTION
            )
            result = opioid_trial_to_pump(dose, share)
        else:
            raise InputError("DRUG", f"no trial conversion rule for {record.key}")
        _emit(as_json, result, record.dose_unit.value, {"drug": record.key})


def _route(text: str, option: str) -> Route:
    try:
        return Route(text.lower())
    except ValueError:
        allowed = ", ".join(r.value for r in Route)
        raise InputError(option, f"{text!r} is not a route ({allowed})") from None


@app.command("route")
def route_cmd(
    dose: Annotated[str, typer.Option("--dose", help="Morphine dose, e.g. '30 mg/day'.")],
    source: Annotated[str, typer.Option("--from", help="oral, iv, epidural or intrathecal.")],
    target: Annotated[str, typer.Option("--to", help="oral, iv, epidural or intrathecal.")],
    ratio: Annotated[
        list[str] | None,
        typer.Option("--ratio", help="Override a ratio, e.g. 'oral=90' (relative to IT = 1)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Morphine equivalents between routes, with the ratio used shown and adjustable."""
    with reported(as_json):
        amount = parse_positive(dose, "--dose", Kind.DOSE_RATE)
        ratios: dict[Route, float] = {}
        for item in ratio or []:
            name, _, value = item.partition("=")
            try:
                ratios[_route(name, "--ratio")] = float(value)
            except ValueError:
                raise InputError("--ratio", f"expected ROUTE=NUMBER, got {item!r}") from None
        result = route_equivalent(amount, _route(source, "--from"), _route(target, "--to"), ratios)
        _emit(as_json, result, "mg", {"from": source, "to": target})


@app.command("opioid")
def opioid_cmd(
    dose: Annotated[str, typer.Option("--dose", help="Intrathecal dose, e.g. '6 mg/day'.")],
    source: Annotated[str, typer.Option("--from", help="Intrathecal opioid now.")],
    target: Annotated[str, typer.Option("--to", help="Intrathecal opioid wanted.")],
    as_json: JsonOpt = False,
) -> None:
    """Between intrathecal opioids where a source gives a ratio."""
    with reported(as_json):
        amount = parse_positive(dose, "--dose", Kind.DOSE_RATE)
        result = intrathecal_opioid(amount, source, target)
        _emit(as_json, result, "mg", {"from": source, "to": target})


def _pairs(items: list[str] | None, option: str, kind: Kind) -> dict[str, float]:
    values: dict[str, float] = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        if not sep:
            raise InputError(
                option, f"expected DRUG=QUANTITY like 'morphine=25 mg/mL', got {item!r}"
            )
        values[name.strip()] = parse(text, f"{option} {name.strip()}", kind)
    return values


def compound_cmd(
    drug: Annotated[
        list[str], typer.Option("--drug", help="Wanted concentration: 'morphine=10 mg/mL'.")
    ],
    stock: Annotated[
        list[str], typer.Option("--stock", help="Stock strength: 'morphine=25 mg/mL'.")
    ],
    volume: Annotated[str, typer.Option("--volume", help="Fill volume, e.g. '20 mL'.")],
    overage: Annotated[
        str, typer.Option("--overage", help="Extra to prime the refill set, e.g. '3 mL'.")
    ] = "0 mL",
    as_json: JsonOpt = False,
) -> None:
    """Volume of each stock solution and of diluent for an admixture."""
    with reported(as_json):
        library = default_library()
        wanted = _pairs(drug, "--drug", Kind.CONCENTRATION)
        stocks = _pairs(stock, "--stock", Kind.CONCENTRATION)
        fill = parse_positive(volume, "--volume", Kind.VOLUME)
        extra = parse(overage, "--overage", Kind.VOLUME)
        result = recipe(library, wanted, stocks, fill, extra)
        units = {c.drug: library.drug(c.drug).dose_unit.value for c in result.components}
        hard = any(f.severity.value == "hard" for f in result.findings)
        payload = {
            "total_ml": result.total_ml,
            "fill_ml": result.fill_ml,
            "overage_ml": result.overage_ml,
            "components": [
                {
                    "drug": c.drug,
                    "concentration_mcg_per_ml": c.wanted_mcg_per_ml,
                    "stock_mcg_per_ml": c.stock_mcg_per_ml,
                    "volume_ml": c.volume_ml,
                    "mass_mcg": c.mass_mcg,
                }
                for c in result.components
            ],
            "diluent_ml": result.diluent_ml,
            "diluent": result.diluent,
            "findings": findings_json(result.findings),
            "allowed": not hard,
            "disclaimer": DISCLAIMER,
        }
        lines = [f"prepare {format_volume(result.total_ml)}:"]
        for c in result.components:
            u = units[c.drug]
            lines.append(
                f"  {c.drug}: {format_volume(c.volume_ml)} of "
                f"{format_concentration(c.stock_mcg_per_ml, u)} "
                f"({format_mass(c.mass_mcg, u)}) -> {format_concentration(c.wanted_mcg_per_ml, u)}"
            )
        lines.append(f"  {result.diluent}: {format_volume(result.diluent_ml)}")
        lines += findings_text(result.findings)
        lines.append(DISCLAIMER)
        emit(as_json, payload, "\n".join(lines))
        if hard:
            raise typer.Exit(1)
