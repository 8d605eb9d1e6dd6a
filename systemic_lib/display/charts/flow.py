"""Flow charts: end-to-end time on a capability chart, steps by kind (value and waste), hand-offs and people.

Each chart takes a ``flow.FlowData`` (or ``FlowLog``) and draws what ``flow`` computed; with too little to draw it
says so on the Axes. A report that should show a note instead of an empty chart decides that in
``sections/flow.py``. ``STEP_FILLS`` are the fills of value, waste and unclassified steps on every flow picture
(bars, process map, case journey): tints of the one palette.
"""

from __future__ import annotations

from systemic_lib import words
from systemic_lib.analysis import flow
from systemic_lib.display.charts import alt
from systemic_lib.display.charts.capability import capability_chart
from systemic_lib.display.charts.style import FIGSIZE, PALETTE, SMALL, bars_height, empty, tint

__all__ = ["STEP_FILLS", "end_to_end_chart", "value_waste_chart", "hands_chart"]

STEP_FILLS = {
    "value": tint(PALETTE["value"]),
    "waste": tint(PALETTE["waste"]),
    "unclassified": tint(PALETTE["unclassified"]),
}
"""Fills: value steps a light blue, waste steps a light orange, steps not in the catalogue grey (text stays legible)."""


def _ax(ax, width: float, height: float):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(width, height))
    return ax


def end_to_end_chart(data, *, ax=None, phase_starts=(), phase_labels=None, target=None):
    """End-to-end days of each finished case in order of completion, on a capability chart; returns the Axes."""
    e2e = flow.end_to_end(data, phase_starts=phase_starts, phase_labels=phase_labels, target=target)
    done = e2e.finished
    title = f"End-to-end days per case, in order of completion, {flow.period_words(data)} ({len(done):,} cases)"
    ax = _ax(ax, FIGSIZE[0], 4)
    if e2e.limits is None:
        return empty(ax, title, "Too few finished cases for a chart")
    ax = capability_chart(e2e.limits, ax=ax, title=title, unit="days", phase_labels=e2e.phase_labels, grain="case")
    first, last = done["last_at"].iloc[0], done["last_at"].iloc[-1]
    ax.set_xlabel(
        f"finished cases in order of completion (the first on {words.date(first, short=True)}, the last on "
        f"{words.date(last, short=True)})"
    )
    return ax


def value_waste_chart(data, *, ax=None):
    """Steps by category, value steps blue and waste steps orange (not in the catalogue grey); returns the Axes."""
    log = flow.as_log(data)
    counts = flow.steps_by_kind(log)
    ax = _ax(ax, FIGSIZE[0], bars_height(counts["category"], least=2.4))
    title = (
        f"Value steps (blue) and waste steps (orange) by kind, {flow.period_words(log)} "
        f"({log.n_events:,} steps in {log.n_cases:,} cases)"
    )
    if counts.empty:
        return empty(ax, title, "No steps recorded")
    ax.barh(counts["category"], counts["steps"], color=counts["step_type"].map(STEP_FILLS), edgecolor=PALETTE["edge"])
    for y, v in enumerate(counts["steps"]):
        ax.text(v, y, f" {words.number(v)}", va="center", fontsize=SMALL)
    ax.set_xlabel("steps")
    ax.set_title(title)
    return alt.attach(ax, alt.steps_by_kind(counts, title=title))


def hands_chart(data, *, ax=None):
    """How many cases had 0, 1, 2, ... hand-offs and different people; returns the Axes."""
    log = flow.as_log(data)
    h = flow.hands_counts(log)
    ax = _ax(ax, *FIGSIZE)
    bins = h["per_case"].to_numpy()
    ax.bar(bins - 0.2, h["handoffs"], width=0.4, color=PALETTE["ink"], label="hand-offs")
    ax.bar(bins + 0.2, h["people"], width=0.4, color=STEP_FILLS["value"], label="different people")
    ax.set_xticks(bins, list(h["label"]))
    ax.set_xlabel("per case")
    ax.set_ylabel("cases")
    ax.legend(frameon=False)
    title = f"Hand-offs and people per case, {flow.period_words(log)} ({log.n_cases:,} cases)"
    ax.set_title(title)
    return alt.attach(ax, alt.hands(h, title=title))
