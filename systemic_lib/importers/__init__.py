"""Importers map foreign data (311 extracts, XES event logs) onto the council data contract."""

from __future__ import annotations

import click


class _LazyImports(click.Group):
    _commands = {"demand": ("systemic_lib.importers.demand", "demand_command"),
                 "events": ("systemic_lib.importers.events", "events_command")}

    def list_commands(self, ctx):
        return sorted(self._commands)

    def get_command(self, ctx, name):
        import importlib

        if name not in self._commands:
            return None
        module, attr = self._commands[name]
        return getattr(importlib.import_module(module), attr)


@click.group("import", cls=_LazyImports)
def import_group():
    """Import foreign contact records or event logs into a council folder."""
