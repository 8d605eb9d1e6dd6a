"""The measure stage's chart: one measure's capability chart, titled with its period, grain and count."""

from __future__ import annotations

from systemic_lib.charts.capability import capability_chart
from systemic_lib.measure import MeasureResult, chart_title

__all__ = ["chart"]


def chart(r: MeasureResult, ax=None):
    """The measure's capability chart (an Axes), or None when it has no chart (see ``r.note``)."""
    if r.result is None:
        return None
    return capability_chart(r.result, ax=ax, title=chart_title(r), unit=r.unit, phase_labels=r.phase_labels)
