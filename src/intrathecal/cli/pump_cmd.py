"""``itp pump``: create and serve virtual pumps, and talk to them as the clinician programmer."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from intrathecal.cli.output import (
    EXIT_BAD_INPUT,
    EXIT_REFUSED,
    emit,
    parse_instant,
    read_text,
    reported,
)
from intrathecal.engine.demand import iso
from intrathecal.library import default_library
from intrathecal.pump.client import PumpClient, PumpError, PumpProtocolError
from intrathecal.pump.commands import SERIAL
from intrathecal.pump.persistence import PumpStore
from intrathecal.pump.server import DEFAULT_HOST, DEFAULT_PORT, PumpServer, serve_until_signalled
from intrathecal.units import (
    InputError,
    Kind,
    format_concentration,
    format_duration,
    format_volume,
    format_volume_rate,
    parse,
    parse_positive,
    readable_volume,
)

app = typer.Typer(
    help="Virtual pumps: create, serve on loopback, and program them over telemetry.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
SerialOpt = Annotated[str, typer.Option("--serial", help="The pump's serial number.")]
HostOpt = Annotated[str, typer.Option("--host", help="Server address (loopback).")]
PortOpt = Annotated[int, typer.Option("--port", help="Server port.")]
StateOpt = Annotated[Path, typer.Option("--state", help="State directory (one folder a pump).")]


def _fail_pump(error: PumpError, as_json: bool) -> NoReturn:
    """A pump that refuses (lockout, alarm still present, ...) or does not answer: exit 1, not
    allowed; a request the pump could not read (or an unknown pump): exit 2, bad input."""
    if as_json:
        typer.echo(json.dumps({"ok": False, "code": error.code, "errors": error.errors}, indent=2))
    else:
        what = "refused" if error.code == "refused" else f"error ({error.code})"
        typer.echo(f"{what}:", err=True)
        for item in error.errors:
            typer.echo(f"  - {item.get('field')}: {item.get('message')}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT if isinstance(error, PumpProtocolError) else EXIT_REFUSED)


@contextmanager
def _talking(as_json: bool) -> Iterator[None]:
    with reported(as_json):
        try:
            yield
        except PumpError as error:
            _fail_pump(error, as_json)


def _client(host: str, port: int, serial: str | None) -> PumpClient:
    if serial is not None and not SERIAL.match(serial):
        raise InputError("--serial", "expected 1 to 64 characters of A-Z a-z 0-9 . _ -")
    return PumpClient(host, port, serial)


def _run(
    host: str,
    port: int,
    serial: str | None,
    as_json: bool,
    action: Callable[[PumpClient], dict[str, Any]],
    text: Callable[[dict[str, Any]], str],
) -> None:
    with _talking(as_json):
        with _client(host, port, serial) as client:
            result = action(client)
        emit(as_json, {"result": result}, text(result))


def _t(value: object) -> str:
    return iso(float(value)) if isinstance(value, int | float) else "—"


# -- creating and serving ---------------------------------------------------------------------


@app.command("create")
def create_cmd(
    state: StateOpt,
    serial: SerialOpt,
    device: Annotated[str, typer.Option("--device", help="Device key, e.g. synchromed-ii-20.")],
    battery: Annotated[
        str | None,
        typer.Option("--battery", help="Service life left to end of service, e.g. '100 day'."),
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Pump time at creation (ISO 8601); default now.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a pump's state under STATE/SERIAL (empty reservoir, no program)."""
    with reported(as_json):
        if not SERIAL.match(serial):
            raise InputError("--serial", "expected 1 to 64 characters of A-Z a-z 0-9 . _ -")
        library = default_library()
        if device not in library.devices:
            raise InputError("--device", f"unknown device; known: {', '.join(library.devices)}")
        if (state / serial).exists():
            raise InputError("--serial", f"a pump {serial} already exists in {state}")
        now = parse_instant(at, "--at") if at is not None else time.time()
        remaining = None
        if battery is not None:
            remaining = parse_positive(battery, "--battery", Kind.DURATION)
        _, firmware = PumpStore.create(state, serial, device, now, library, remaining)
        s = firmware.state
        payload = {
            "serial": serial,
            "device": device,
            "folder": str(state / serial),
            "now_s": s.now_s,
            "battery_eri_at_s": s.battery_eri_at_s,
            "battery_eos_at_s": s.battery_eos_at_s,
        }
        emit(
            as_json,
            payload,
            f"created pump {serial} ({library.device(device).name}) in {state / serial}\n"
            f"battery: ERI {_t(s.battery_eri_at_s)}, end of service {_t(s.battery_eos_at_s)}",
        )


@app.command("serve")
def serve_cmd(
    state: StateOpt,
    host: HostOpt = DEFAULT_HOST,
    port: PortOpt = DEFAULT_PORT,
    speed: Annotated[
        float, typer.Option("--speed", help="Pump seconds per wall second (3600: 1 s = 1 h).")
    ] = 1.0,
    start: Annotated[
        str | None, typer.Option("--start", help="Simulated time at start (ISO 8601).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Serve every pump under STATE on loopback until interrupted (Ctrl-C or SIGTERM)."""
    with reported(as_json):
        if not speed >= 0 or speed > 1e9:
            raise InputError("--speed", "must be from 0 to 1e9 pump seconds per second")
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise InputError("--host", "the virtual pump listens on loopback only")
        if not 0 <= port <= 65535:
            raise InputError("--port", "must be from 0 to 65535")
        if not state.is_dir():
            raise InputError("--state", f"{state} is not a directory; create a pump first")
        start_s = parse_instant(start, "--start") if start is not None else None
        server = PumpServer(state, speed=speed, start_s=start_s)

    def ready(bound: int) -> None:
        info = {
            "host": host,
            "port": bound,
            "pumps": sorted(server.pumps),
            "unavailable": server.unavailable,
            "speed": speed,
            "now": iso(server.clock.now()),
        }
        emit(
            as_json,
            info,
            f"serving {len(server.pumps)} pump(s) from {state} on {host}:{bound} "
            f"(speed {speed:g}, pump time {info['now']}); Ctrl-C to stop",
        )

    with reported(as_json):
        try:
            asyncio.run(serve_until_signalled(server, host, port, ready))
        except OSError as exc:
            raise InputError("--port", f"cannot listen on {host}:{port}: {exc.strerror}") from None


# -- the programmer ---------------------------------------------------------------------------


def _interrogate_text(r: dict[str, Any]) -> str:
    res, delivery = r["reservoir"], r["delivery"]
    drugs = ", ".join(
        f"{d['name']} {format_concentration(d['concentration_mcg_per_ml'])}" for d in res["drugs"]
    )
    lines = [
        f"pump {r['serial']} ({r['device']['name']}) at {r['clock']['now']}",
        f"reservoir: {format_volume(res['remaining_ml'])} left of {format_volume(res['filled_ml'])}"
        f" filled {_t(res['filled_at_s'])} ({drugs or 'no drug'})",
        f"delivered: {format_volume(res['delivered_since_fill_ml'])} since the fill, "
        f"{format_volume(res['delivered_total_ml'])} in total",
    ]
    program = r["program"]
    if program is None:
        lines.append("program: none")
    else:
        lines.append(f"program: {program['name']!r}, checksum {program['checksum'][:12]}…")
    if delivery["running"]:
        lines.append(f"delivery: running at {format_volume_rate(delivery['rate_ml_per_day'])}")
    else:
        lines.append("delivery: STOPPED (" + "; ".join(delivery["why_not"]) + ")")
    for bolus in delivery["boluses"]:
        lines.append(
            f"  {bolus['kind']} bolus {format_volume(bolus['volume_ml'])} "
            f"until {_t(bolus['end_s'])}"
        )
    demand = r["demand"]
    if demand is not None:
        lines.append(
            f"demand bolus: {demand['accepted_in_last_24h']} of {demand['max_per_24h']} in the "
            f"last 24 h, lockout {format_duration(demand['lockout_s'])}, next allowed "
            f"{_t(demand['next_allowed_at_s'])}"
        )
    if r["alarms"]:
        lines.append("alarms:")
        for alarm in r["alarms"]:
            lines.append(
                f"  {alarm['priority'].upper()} {alarm['code']} since {_t(alarm['raised_at_s'])}: "
                f"{alarm['title']} — {alarm['action']}"
            )
    else:
        lines.append("alarms: none")
    pred = r["predictions"]
    lines.append(
        f"predicted: low-reservoir alarm {_t(pred['low_reservoir_alarm_at_s'])}, empty "
        f"{_t(pred['empty_at_s'])} ({pred['basis']})"
    )
    battery = r["battery"]
    lines.append(
        f"battery: ERI {_t(battery['eri_at_s'])}, end of service {_t(battery['eos_at_s'])}"
    )
    mri = r.get("mri")
    if mri:
        where = (
            f"in the field until {_t(mri['in_field_until_s'])}"
            if mri["in_field_until_s"]
            else "out of the field"
        )
        missed = mri["missed_so_far_ml"]
        lines.append(
            f"MRI since {_t(mri['started_at_s'])}: {mri['response']}, {where}; missed "
            + (readable_volume(missed) if missed is not None else "unknown (no program)")
        )
    if r["events"]:
        lines.append(f"events {r['events'][0]['seq']}..{r['last_event_seq']}:")
        lines.extend(
            f"  {e['seq']:>4} {_t(e['at_s'])} {e['kind']}: {e['message']}" for e in r["events"]
        )
    return "\n".join(lines)


@app.command("list")
def list_cmd(
    host: HostOpt = DEFAULT_HOST, port: PortOpt = DEFAULT_PORT, as_json: JsonOpt = False
) -> None:
    """The pumps a server serves."""
    _run(
        host,
        port,
        None,
        as_json,
        lambda c: {"serials": c.list_pumps()},
        lambda r: "\n".join(r["serials"]) or "no pumps",
    )


@app.command("interrogate")
def interrogate_cmd(
    serial: SerialOpt,
    since: Annotated[int, typer.Option("--since", help="Show events after this number.")] = 0,
    host: HostOpt = DEFAULT_HOST,
    port: PortOpt = DEFAULT_PORT,
    as_json: JsonOpt = False,
) -> None:
    """State, program, alarms, predictions and the event log since an event number."""
    with reported(as_json):
        if since < 0:
            raise InputError("--since", "must be 0 or more")
    _run(host, port, serial, as_json, lambda c: c.interrogate(since), _interrogate_text)


@app.command("program")
def program_cmd(
    program_file: Annotated[Path, typer.Argument(metavar="PROGRAM.toml", help="Program file.")],
    serial: SerialOpt,
    host: HostOpt = DEFAULT_HOST,
    port: PortOpt = DEFAULT_PORT,
    as_json: JsonOpt = False,
) -> None:
    """Stage a program, read its checksum back, compare, activate."""
    with reported(as_json):
        text = read_text(program_file, "PROGRAM")
    _run(
        host,
        port,
        serial,
        as_json,
        lambda c: {"checksum": c.program(text)},
        lambda r: f"program active on {serial}; checksum {r['checksum']} (read back and matched)",
    )


def _drug(text: str) -> tuple[str, float]:
    name, _, amount = text.strip().partition(" ")
    if not name or not amount.strip():
        raise InputError(
            "--drug", f"expected NAME CONCENTRATION like 'morphine 10 mg/mL', got {text!r}"
        )
    return name, parse_positive(amount, "--drug", Kind.CONCENTRATION)


@app.command("refill")
def refill_cmd(
    serial: SerialOpt,
    volume: Annotated[str, typer.Option("--volume", help="Volume put in, e.g. '20 mL'.")],
    drug: Annotated[
        list[str] | None,
        typer.Option("--drug", help="Drug in the fill, e.g. 'morphine 10 mg/mL' (repeat)."),
    ] = None,
    program_file: Annotated[
        Path | None, typer.Option("--program", help="Program to activate with the refill.")
    ] = None,
    withdrawn: Annotated[
        str | None, typer.Option("--withdrawn", help="Residual withdrawn, e.g. '1.5 mL'.")
    ] = None,
    host: HostOpt = DEFAULT_HOST,
    port: PortOpt = DEFAULT_PORT,
    as_json: JsonOpt = False,
) -> None:
    """Record a refill: volume, drugs (if they change) and the residual withdrawn."""
    with reported(as_json):
        volume_ml = parse_positive(volume, "--volume", Kind.VOLUME)
        drugs = [_drug(d) for d in drug] if drug else None
        withdrawn_ml = None
        if withdrawn is not None:
            withdrawn_ml = parse(withdrawn, "--withdrawn", Kind.VOLUME)
            if withdrawn_ml < 0:
                raise InputError("--withdrawn", "must not be negative")
        text = read_text(program_file, "--program") if program_file is not None else None

    def shown(r: dict[str, Any]) -> str:
        lines = [
            f"refilled {serial} with {format_volume(r['filled_ml'])} at {_t(r['filled_at_s'])}"
        ]
        rec = r["reconciliation"]
        if rec is not None:
            lines.append(
                f"expected residual {format_volume(rec['expected_ml'])}, withdrawn "
                f"{format_volume(rec['withdrawn_ml'])}, discrepancy {rec['discrepancy_ml']:+.3f} mL"
                + (": INVESTIGATE" if rec["investigate"] else ": within limits")
            )
        if r["program_checksum"]:
            lines.append(f"program checksum {r['program_checksum']}")
        return "\n".join(lines)

    _run(
        host, port, serial, as_json, lambda c: c.refill(volume_ml, drugs, text, withdrawn_ml), shown
    )


@app.command("bolus")
def bolus_cmd(
    serial: SerialOpt,
    kind: Annotated[str, typer.Option("--kind", help="clinician, bridge or priming.")],
    volume: Annotated[str, typer.Option("--volume", help="Bolus volume, e.g. '0.05 mL'.")],
    duration: Annotated[str, typer.Option("--duration", help="Over how long, e.g. '30 min'.")],
    host: HostOpt = DEFAULT_HOST,
    port: PortOpt = DEFAULT_PORT,
    as_json: JsonOpt = False,
) -> None:
    """Start a clinician, bridge or priming bolus."""
    with reported(as_json):
        volume_ml = parse_positive(volume, "--volume", Kind.VOLUME)
        duration_s = parse_positive(duration, "--duration", Kind.DURATION)
    _run(
        host,
        port,
        serial,
        as_json,
        lambda c: c.bolus(kind, volume_ml, duration_s),
        lambda r: f"{r['kind']} bolus started {_t(r['started_at_s'])}, ends {_t(r['ends_at_s'])}",
    )


@app.command("demand-bolus")
def demand_cmd(
    serial: SerialOpt,
    host: HostOpt = DEFAULT_HOST,
    port: PortOpt = DEFAULT_PORT,
    as_json: JsonOpt = False,
) -> None:
    """The patient's press: a demand bolus, accepted or refused by lockout and maximum."""
    _run(
        host,
        port,
        serial,
        as_json,
        lambda c: c.demand_bolus(),
        lambda r: (
            f"demand bolus of {format_volume(r['volume_ml'])} started {_t(r['started_at_s'])}"
        ),
    )


def _simple(name: str, doc: str, done: str, call: Callable[[PumpClient], dict[str, Any]]) -> None:
    def command(
        serial: SerialOpt,
        host: HostOpt = DEFAULT_HOST,
        port: PortOpt = DEFAULT_PORT,
        as_json: JsonOpt = False,
    ) -> None:
        _run(host, port, serial, as_json, call, lambda r: f"{serial}: {done}")

    command.__doc__ = doc
    app.command(name)(command)


_simple("stop", "Stop all delivery (boluses under way are cut).", "stopped", lambda c: c.stop())
_simple("resume", "Resume delivery after a stop.", "resumed", lambda c: c.resume())
_simple(
    "alarm-test",
    "Sound the alarm test (non-critical).",
    "alarm test sounding",
    lambda c: c.alarm_test(),
)


@app.command("clear-alarm")
def clear_alarm_cmd(
    code: Annotated[str, typer.Argument(help="Alarm code, e.g. motor_stall.")],
    serial: SerialOpt,
    host: HostOpt = DEFAULT_HOST,
    port: PortOpt = DEFAULT_PORT,
    as_json: JsonOpt = False,
) -> None:
    """Clear an alarm whose condition is gone."""
    _run(host, port, serial, as_json, lambda c: c.clear_alarm(code), lambda r: f"cleared {code}")


@app.command("set-clock")
def set_clock_cmd(
    pump_time: Annotated[str, typer.Argument(help="New pump time, ISO 8601 with offset.")],
    serial: SerialOpt,
    host: HostOpt = DEFAULT_HOST,
    port: PortOpt = DEFAULT_PORT,
    as_json: JsonOpt = False,
) -> None:
    """Set the pump's clock (the basal schedule follows it; the shift is logged)."""
    with reported(as_json):
        t = parse_instant(pump_time, "PUMP_TIME")
    _run(
        host,
        port,
        serial,
        as_json,
        lambda c: c.set_clock(t),
        lambda r: f"pump clock {_t(r['pump_time_s'])} (shift {r['shift_s']:+d} s)",
    )


@app.command("fault")
def fault_cmd(
    action: Annotated[str, typer.Argument(help="inject or clear.")],
    fault: Annotated[str, typer.Argument(help="motor_stall, catheter_occlusion or low_battery.")],
    serial: SerialOpt,
    host: HostOpt = DEFAULT_HOST,
    port: PortOpt = DEFAULT_PORT,
    as_json: JsonOpt = False,
) -> None:
    """Inject or remove a simulated fault (training and tests)."""
    with reported(as_json):
        if action not in ("inject", "clear"):
            raise InputError("ACTION", f"expected inject or clear, got {action!r}")
    _run(
        host,
        port,
        serial,
        as_json,
        lambda c: c.inject_fault(fault) if action == "inject" else c.clear_fault(fault),
        lambda r: f"faults now: {', '.join(r['faults']) or 'none'}",
    )


@app.command("mri")
def mri_cmd(
    duration: Annotated[str, typer.Argument(help="Time in the scanner's field, e.g. '45 min'.")],
    serial: SerialOpt,
    field_t: Annotated[float, typer.Option("--field", help="Field strength in T: 1.5 or 3.")] = 1.5,
    host: HostOpt = DEFAULT_HOST,
    port: PortOpt = DEFAULT_PORT,
    as_json: JsonOpt = False,
) -> None:
    """Put the patient in an MRI field (training and tests): what the pump does is its device's."""
    with reported(as_json):
        seconds = parse_positive(duration, "DURATION", Kind.DURATION)
    _run(
        host,
        port,
        serial,
        as_json,
        lambda c: c.mri_exposure(seconds, field_t),
        lambda r: f"MRI: {r['response']} until {_t(r['in_field_until_s'])}",
    )


@app.command("advance")
def advance_cmd(
    duration: Annotated[
        str, typer.Argument(help="How far to move the server's clock, e.g. '7 day'.")
    ],
    host: HostOpt = DEFAULT_HOST,
    port: PortOpt = DEFAULT_PORT,
    as_json: JsonOpt = False,
) -> None:
    """Move the simulated clock of the server (every pump) forward."""
    with reported(as_json):
        seconds = parse_positive(duration, "DURATION", Kind.DURATION)
    _run(
        host,
        port,
        None,
        as_json,
        lambda c: c.advance(seconds),
        lambda r: f"server time now {_t(r['now_s'])}",
    )


@app.command("result")
def result_cmd(
    request_id: Annotated[str, typer.Argument(help="The request id whose reply was lost.")],
    serial: SerialOpt,
    host: HostOpt = DEFAULT_HOST,
    port: PortOpt = DEFAULT_PORT,
    as_json: JsonOpt = False,
) -> None:
    """What became of an earlier request (its stored reply)."""
    _run(
        host,
        port,
        serial,
        as_json,
        lambda c: c.result(request_id),
        lambda r: json.dumps(r["reply"], indent=2) if r["found"] else "no such request",
    )
