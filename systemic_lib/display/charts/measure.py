"""The measure stage's charts: one measure's capability chart, titled with its period, grain and count, and the
end-to-end time per case (capability per case)."""

from __future__ import annotations

import dataclasses

import pandas as pd

from systemic_lib import words
from systemic_lib.analysis.measure import MeasureResult, chart_title
from systemic_lib.display.charts.capability import capability_chart

__all__ = ["chart", "case_chart", "target_chart"]


def chart(r: MeasureResult, ax=None):
    """The measure's capability chart (an Axes), or None when it has no chart (see ``r.note``)."""
    if r.result is None:
        return None
    return capability_chart(
        r.result,
        ax=ax,
        title=chart_title(r),
        unit=r.unit,
        phase_labels=r.phase_labels,
        reading=r.reading,
        markers=r.markers,
        grain=r.grain,
    )


def case_chart(cap, ax=None, reading=None):
    """End-to-end time per case (``measure_cases.CaseCapability``) on its capability chart, cases in order of
    completion, or None when there are too few finished cases (see ``cap.note``). ``reading``: end-to-end time's
    reading (the weekly medians and the cases weighed together), for the latest phase line."""
    if cap is None or cap.result is None:
        return None
    done = cap.finished
    title = (
        f"End-to-end time per case, from the citizen's first contact ({len(done):,} finished cases"
        + (f"; {cap.n_open:,} still open, not shown" if cap.n_open else "")
        + ")"
    )
    if reading is not None:  # the phase line says the measure's reading; the badge, this chart's latest case
        reading = dataclasses.replace(reading, latest=cap.result.variation)
    ax = capability_chart(
        cap.result,
        ax=ax,
        title=title,
        unit="days",
        phase_labels=cap.phase_labels or None,
        reading=reading,
        grain="case",
    )
    ax.set_xlabel(
        f"finished cases in order of completion (the first on {words.date(done['end'].iloc[0], short=True)}"
        f", the last on {words.date(done['end'].iloc[-1], short=True)})"
    )
    return ax


def target_chart(target, label: str, ax=None):
    """A step or demand type a recorded change names (``records.Target``), week by week on a capability chart with
    a new phase at the change (``label``), or None when it has no chart."""
    if target.result is None:
        return None
    present = target.series[target.series["value"].notna()]
    span = words.period(present["date"].min(), present["date"].max() + pd.Timedelta(days=6), short=True)
    if target.kind == "step":
        title = f"{target.name}: share of the cases opened each week that pass through it, {span}"
        unit = "% of cases"
    else:
        title = f"\u201c{target.name}\u201d: contacts each week, {span}"
        unit = "contacts"
    title += f" ({words.count(len(present), 'week')})"
    return capability_chart(target.result, ax=ax, title=title, unit=unit, phase_labels=[label])
