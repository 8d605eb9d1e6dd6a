"""Charts: every picture a report or widget shows, drawn from analysis results; nothing here computes a figure.

One module per stage (``demand``, ``flow``, ``experiment``, ``scan``, ``processmap``), ``capability`` for capability
charts, and ``style`` for the one palette and the shared axis helpers. Each chart is ``f(data, *, ..., ax=None) -> Axes``.
"""

from systemic_lib.display.charts.capability import DPI, FIGSIZE, PALETTE, capability_chart, signals_table

__all__ = ["capability_chart", "signals_table", "PALETTE", "FIGSIZE", "DPI"]
