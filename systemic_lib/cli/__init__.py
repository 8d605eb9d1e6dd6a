"""The ``systemic`` command. Each sub-command lives beside the code it drives and is imported only when used."""

from __future__ import annotations

import importlib
import sys

import click

_COMMANDS = {
    "validate": ("systemic_lib.cli", "validate_command"),
    "report": ("systemic_lib.run.batch", "report_command"),
    "certs": ("systemic_lib.run.certs", "certs_command"),
    "sample": ("systemic_lib.data.sample", "sample_command"),
    "templates": ("systemic_lib.data.capture", "templates_command"),
    "import": ("systemic_lib.data.importers", "import_group"),
    "chart": ("systemic_lib.cli.chart", "chart_command"),
    "coach": ("systemic_lib.coach.server", "coach_command"),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(_COMMANDS)

    def get_command(self, ctx, name):
        if name not in _COMMANDS:
            return None
        module, attr = _COMMANDS[name]
        return getattr(importlib.import_module(module), attr)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="systemic")
def main():
    """systemic: a method workbook for systemic service design."""


@click.command("validate")
@click.argument("council_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
def validate_command(council_dirs):
    """Check council folders against the data contract; exit 1 if any has an error."""
    from systemic_lib.data.contract import ERROR
    from systemic_lib.data.council import validate_council

    failed = False
    for folder in council_dirs:
        problems = validate_council(folder)
        errors = [p for p in problems if p.severity == ERROR]
        status = "FAILED" if errors else "ok"
        click.echo(f"{folder}: {status} ({len(errors)} errors, {len(problems) - len(errors)} warnings)")
        for p in problems:
            click.echo(f"  {p.describe()}")
        failed |= bool(errors)
    sys.exit(1 if failed else 0)
