"""Names that moved to another layer stay importable from where notebooks and scripts found them.

A stage module forwards a chart or report section that now lives in ``charts/`` or ``sections/``::

    __getattr__ = moved.forward(__name__, {"pareto_chart": "systemic_lib.charts.demand"})

The import happens when the old name is first used, not when the stage module loads, so analysis modules never
import a display layer themselves (the import-linter layers hold), while ``demand.pareto_chart`` still works.
"""

from __future__ import annotations

import importlib

__all__ = ["forward"]


def forward(module: str, names: dict[str, str]):
    """A module ``__getattr__`` that finds each of ``names`` (old name -> module it now lives in) in its new home.
    A value of ``"pkg.module:new_name"`` also renames."""

    def __getattr__(name: str):
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        where, _, new = names[name].partition(":")
        return getattr(importlib.import_module(where), new or name)

    return __getattr__
