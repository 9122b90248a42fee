"""``itp convert trial|route|opioid`` and ``itp compound``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from intrathecal.cli import quantities
from intrathecal.cli.answer import AckOpt, DeviceOpt, OpioidStatusOpt, acks, emit_answer
from intrathecal.cli.output import reported
from intrathecal.clinical.answer_review import (
    DEFAULT_DEVICE,
    AnswerReview,
    combine,
    recipe_program,
    review_dose,
    review_recipe,
    single_drug_program,
)
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
from intrathecal.safety.review import Acknowledgement
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


ConcentrationOpt = Annotated[
    str | None,
    typer.Option("--concentration", help="Concentration the dose will run at (default: stated)."),
]


def _emit(
    as_json: bool, result: Conversion, unit: str, extra: dict[str, Any], reviewed: AnswerReview
) -> None:
    payload = {
        **extra,
        "dose_mcg_per_day": result.value_mcg_per_day,
        "rule": result.rule,
        "verified": result.verified,
        "reasons": list(result.reasons),
    }
    status = "" if result.verified else "  [UNVERIFIED rule]"
    lines = [
        f"{format_dose_rate(result.value_mcg_per_day, unit)}{status}",
        f"rule: {result.rule}",
        *(f"  - {r}" for r in result.reasons),
    ]
    emit_answer(as_json, reviewed, payload, lines)


def _concentration(text: str | None) -> float | None:
    return parse_positive(text, "--concentration", Kind.CONCENTRATION) if text else None


def _review_first_program(
    drug: str,
    dose_mcg_per_day: float,
    device: str | None,
    concentration: str | None,
    acknowledgements: list[Acknowledgement],
    opioid_tolerant: bool | None,
) -> AnswerReview:
    """A starting dose: reviewed as the patient's first program of ``drug``."""
    library = default_library()
    program, notes = single_drug_program(
        library, device or DEFAULT_DEVICE, drug, dose_mcg_per_day, _concentration(concentration)
    )
    return review_dose(program, None, acknowledgements, notes, opioid_tolerant)


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
    device: DeviceOpt = None,
    concentration: ConcentrationOpt = None,
    opioid_tolerant: OpioidStatusOpt = None,
    ack: AckOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Starting daily pump dose from an effective trial bolus, reviewed as a first program."""
    with reported(as_json):
        acknowledgements = acks(ack)
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
        reviewed = _review_first_program(
            record.key,
            result.value_mcg_per_day,
            device,
            concentration,
            acknowledgements,
            opioid_tolerant,
        )
        _emit(as_json, result, record.dose_unit.value, {"drug": record.key}, reviewed)


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
    device: DeviceOpt = None,
    concentration: ConcentrationOpt = None,
    opioid_tolerant: OpioidStatusOpt = None,
    ack: AckOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Morphine equivalents between routes, with the ratio used shown and adjustable; an
    intrathecal answer is reviewed as a first intrathecal program."""
    with reported(as_json):
        acknowledgements = acks(ack)
        amount = parse_positive(dose, "--dose", Kind.DOSE_RATE)
        ratios: dict[Route, float] = {}
        for item in ratio or []:
            name, _, value = item.partition("=")
            try:
                ratios[_route(name, "--ratio")] = float(value)
            except ValueError:
                raise InputError("--ratio", f"expected ROUTE=NUMBER, got {item!r}") from None
        to_route = _route(target, "--to")
        result = route_equivalent(amount, _route(source, "--from"), to_route, ratios)
        if to_route is Route.INTRATHECAL:
            reviewed = _review_first_program(
                "morphine",
                result.value_mcg_per_day,
                device,
                concentration,
                acknowledgements,
                opioid_tolerant,
            )
        else:
            reviewed = combine(
                [],
                acknowledgements,
                assumptions=[f"the {to_route.value} dose is not a pump program: nothing to review"],
            )
        _emit(as_json, result, "mg", {"from": source, "to": target}, reviewed)


@app.command("opioid")
def opioid_cmd(
    dose: Annotated[str, typer.Option("--dose", help="Intrathecal dose, e.g. '6 mg/day'.")],
    source: Annotated[str, typer.Option("--from", help="Intrathecal opioid now.")],
    target: Annotated[str, typer.Option("--to", help="Intrathecal opioid wanted.")],
    device: DeviceOpt = None,
    concentration: ConcentrationOpt = None,
    ack: AckOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Between intrathecal opioids where a source gives a ratio; the new opioid's program is
    reviewed against the old opioid's (the switch)."""
    with reported(as_json):
        acknowledgements = acks(ack)
        amount = parse_positive(dose, "--dose", Kind.DOSE_RATE)
        wanted = _concentration(concentration)
        result = intrathecal_opioid(amount, source, target)
        library = default_library()
        key = device or DEFAULT_DEVICE
        old, _ = single_drug_program(library, key, source, amount, name="before the switch")
        new, notes = single_drug_program(library, key, target, result.value_mcg_per_day, wanted)
        # A switch is between intrathecal opioids the patient already takes: tolerant.
        reviewed = review_dose(new, old, acknowledgements, notes, opioid_tolerant=True)
        _emit(as_json, result, "mg", {"from": source, "to": target}, reviewed)


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
    device: DeviceOpt = None,
    rate: Annotated[
        str | None, typer.Option("--rate", help="Rate the fill runs at (default: stated).")
    ] = None,
    interval: Annotated[
        str | None,
        typer.Option("--interval", help="Days until the next refill (checks stability)."),
    ] = None,
    ack: AckOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Volume of each stock solution and of diluent for an admixture, reviewed as the fill of
    a pump (concentration limits, mixing, approval, stability and device)."""
    with reported(as_json):
        acknowledgements = acks(ack)
        library = default_library()
        wanted = _pairs(drug, "--drug", Kind.CONCENTRATION)
        stocks = _pairs(stock, "--stock", Kind.CONCENTRATION)
        fill = parse_positive(volume, "--volume", Kind.VOLUME)
        extra = parse(overage, "--overage", Kind.VOLUME)
        rate_ml = parse_positive(rate, "--rate", Kind.VOLUME_RATE) if rate is not None else None
        days = quantities.duration_days(interval, "--interval") if interval is not None else None
        result = recipe(library, wanted, stocks, fill, extra)
        program, notes = recipe_program(library, result, device or DEFAULT_DEVICE, rate_ml)
        reviewed = review_recipe(program, result, days, acknowledgements, notes)
        units = {c.drug: library.drug(c.drug).dose_unit.value for c in result.components}
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
        emit_answer(as_json, reviewed, payload, lines)
