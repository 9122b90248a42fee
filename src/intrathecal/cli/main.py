"""Entry point of the ``itp`` command."""

from __future__ import annotations

import typer

from intrathecal.cli import (
    backup_cmd,
    clinic_cmd,
    convert_cmd,
    init_cmd,
    library_cmd,
    outcomes_cmd,
    program_cmd,
    pump_cmd,
    refill_cmd,
)
from intrathecal.cli.boluses_cmd import bridge_cmd, prime_cmd, tip_time_cmd
from intrathecal.cli.delivery_cmd import delivery
from intrathecal.cli.output import EXIT_BAD_INPUT, guarded_main
from intrathecal.cli.review_cmd import review_cmd
from intrathecal.cli.titrate_cmd import titrate_cmd

app = typer.Typer(
    help="Intrathecal drug delivery: programs, delivery maths and the drug and device library. "
    "Reference calculations for trained clinicians.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(program_cmd.app, name="program")
app.add_typer(library_cmd.app, name="library")
app.add_typer(refill_cmd.app, name="refill")
app.add_typer(pump_cmd.app, name="pump")
app.command("delivery")(delivery)
app.command("bridge")(bridge_cmd)
app.command("prime")(prime_cmd)
app.command("tip-time")(tip_time_cmd)
app.command("titrate")(titrate_cmd)
app.command("review")(review_cmd)
app.add_typer(convert_cmd.app, name="convert")
app.command("compound")(convert_cmd.compound_cmd)


def _settings_checked() -> None:
    """The clinic's settings (intrathecal.settings) are checked before any clinic command."""
    from intrathecal.settings import SettingsError, load

    try:
        load()
    except SettingsError as exc:
        typer.echo("error: a setting cannot be used (nothing was changed):", err=True)
        for problem in exc.problems:
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


clinic_cmd.app.callback()(_settings_checked)
clinic_cmd.audit_app.callback()(_settings_checked)
app.add_typer(clinic_cmd.app, name="clinic")
clinic_cmd.app.command("init")(init_cmd.init_cmd)
clinic_cmd.app.command("backup")(backup_cmd.backup_cmd)
clinic_cmd.app.command("restore")(backup_cmd.restore_cmd)
app.add_typer(clinic_cmd.audit_app, name="audit")
app.add_typer(outcomes_cmd.app, name="outcomes")


def run() -> None:
    guarded_main(app)


if __name__ == "__main__":
    run()
