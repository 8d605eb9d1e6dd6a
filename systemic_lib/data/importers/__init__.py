"""Importers map foreign data (311 extracts, XES event logs) onto the council data contract."""

from __future__ import annotations

from pathlib import Path

import click
import yaml

from systemic_lib.errors import ImportMappingError

#: Ready mappings shipped with the package (``boston311``, ``boston311_cases``, ``wabo_receipt``, ``bpic2015``).
MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"


def read_mapping(mapping) -> tuple[str, dict]:
    """A mapping by ready name or YAML path, with the name to quote in messages; a dict passes through."""
    if isinstance(mapping, dict):
        return "the mapping given", mapping
    path = Path(mapping)
    if not path.suffix:
        path = MAPPINGS_DIR / f"{mapping}.yaml"
    if not path.exists():
        ready = ", ".join(sorted(p.stem for p in MAPPINGS_DIR.glob("*.yaml")))
        raise ImportMappingError(f"no mapping '{mapping}': use a ready one ({ready}) or the path of a YAML file")
    try:
        return path.name, yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ImportMappingError(f"{path}: not valid YAML ({exc})") from None


class _LazyImports(click.Group):
    _commands = {
        "cases": ("systemic_lib.data.importers.cases", "cases_command"),
        "demand": ("systemic_lib.data.importers.demand", "demand_command"),
        "events": ("systemic_lib.data.importers.events", "events_command"),
    }

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
    """Import foreign contact records, case exports or event logs into a council folder."""
