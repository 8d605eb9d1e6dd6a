"""Measure explorer for JupyterLab: pick a measure, add, move or remove phase boundaries, see limits and narration.

What-if only: boundaries set here are not saved to council.yaml (a real system change belongs there, with its date
and label). The chart is rendered to PNG into an ``Image`` widget, so the explorer also works (and is tested) outside
a kernel by driving its widgets from Python.
"""

from __future__ import annotations

import io
import re

import ipywidgets as w
import pandas as pd
from matplotlib.figure import Figure

from systemic_lib import words
from systemic_lib.analysis.measure import MeasureData, MeasureResult, measure_summary
from systemic_lib.display.charts import DPI, FIGSIZE
from systemic_lib.display.charts.measure import chart
from systemic_lib.display.widgets._table import html_table

__all__ = ["MeasureExplorer", "explore"]


class MeasureExplorer:
    """Widgets around a stage's measures (``measure.load``'s data, or its list of ``MeasureResult``); ``.widget`` is
    what the notebook displays."""

    def __init__(self, results: MeasureData | list[MeasureResult]):
        if isinstance(results, MeasureData):
            results = results.results
        self.results = {r.id: r for r in results if r.result is not None}
        self.current: MeasureResult | None = None
        self.boundaries: list[tuple[pd.Timestamp, str]] = []
        self.message = w.HTML()
        if not self.results:
            self.message.value = "<p>No measure has enough data to explore.</p>"
            self.widget = w.VBox([self.message])
            return
        self.measure = w.Dropdown(options=[(r.name, r.id) for r in self.results.values()], description="Measure")
        self.week = w.SelectionSlider(
            options=[("-", pd.Timestamp(0))],
            description="Week",
            continuous_update=False,
            layout=w.Layout(width="520px"),
        )
        self.label = w.Text(value="what-if change", description="Label")
        self.phases = w.Select(options=[], description="Phases", rows=4, layout=w.Layout(width="540px"))
        wide = w.Layout(width="220px")  # the whole label, not "Recorded chan..."
        self.add = w.Button(description="Add boundary at week", icon="plus", layout=wide)
        self.move = w.Button(description="Move selected here", icon="arrows-h", layout=wide)
        self.remove = w.Button(description="Remove selected", icon="minus", layout=wide)
        self.reset = w.Button(description="Recorded changes", icon="undo", tooltip="Back to council.yaml", layout=wide)
        self.image = w.Image(format="png", layout=w.Layout(width="900px"))
        self.narration = w.HTML()
        self.table = w.HTML()
        self.measure.observe(lambda _: self._pick(), names="value")
        self.add.on_click(lambda _: self.add_boundary(self.week.value, self.label.value))
        self.move.on_click(lambda _: self.move_boundary(self.phases.index, self.week.value))
        self.remove.on_click(lambda _: self.remove_boundary(self.phases.index))
        self.reset.on_click(lambda _: self._pick())
        controls = w.VBox(
            [
                self.measure,
                self.week,
                w.HBox([self.label, self.add]),
                w.HBox([self.phases, w.VBox([self.move, self.remove, self.reset])]),
            ]
        )
        self.widget = w.VBox([controls, self.message, self.image, self.narration, self.table])
        self._pick()

    # --------------------------------------------------------------------------------------------- actions
    def _pick(self) -> None:
        """Select the measure in the dropdown and restore its recorded system changes."""
        base = self.results[self.measure.value]
        self.current = base
        self.boundaries = [(pd.Timestamp(c["phase_start"]), c["label"]) for c in base.changes]
        dates = base.series["date"]
        self.week.description = "Month" if base.grain == "month" else "Week"
        self.add.description = f"Add boundary at {self.week.description.lower()}"
        self.week.options = [(words.date(d, short=True), pd.Timestamp(d)) for d in dates]
        self.week.value = pd.Timestamp(dates.iloc[len(dates) // 2])
        self._update()

    def add_boundary(self, when, label: str = "what-if change") -> None:
        when = pd.Timestamp(when)
        if any(b == when for b, _ in self.boundaries):
            self.message.value = f"<p>There is already a boundary at {words.date(when, short=True)}.</p>"
            return
        self.boundaries.append((when, (label or "what-if change").strip()))
        self._update()

    def move_boundary(self, index, when) -> None:
        if index is None or not 0 <= index < len(self.boundaries):
            self.message.value = "<p>Select a phase boundary to move.</p>"
            return
        was, label = self.boundaries[index]
        when = pd.Timestamp(when)
        if when != was:  # the narration must not date a recorded change on a day it did not happen
            label = re.sub(r" \(moved from [^)]*\)$", "", label) + f" (moved from {words.date(was, short=True)})"
        self.boundaries[index] = (when, label)
        self._update()

    def remove_boundary(self, index) -> None:
        if index is None or not 0 <= index < len(self.boundaries):
            self.message.value = "<p>Select a phase boundary to remove.</p>"
            return
        del self.boundaries[index]
        self._update()

    # ---------------------------------------------------------------------------------------------- redraw
    def _update(self) -> None:
        base = self.results[self.measure.value]
        first = pd.Timestamp(base.series["date"].iloc[0])
        kept = sorted({b: lab for b, lab in self.boundaries if b > first}.items())
        dropped = len(self.boundaries) - len(kept)
        self.boundaries = kept
        self.current = base.recompute([b for b, _ in kept], [lab for _, lab in kept])
        # Draw first, then show chart, narration and table together: the words never describe a chart not yet shown.
        png = self._png()
        self.phases.options = [f"{words.date(b, short=True)}: {lab}" for b, lab in kept]
        self.message.value = "<p>A boundary at the first week starts nothing and was dropped.</p>" if dropped else ""
        self.image.value = png
        self.table.value = html_table(measure_summary([self.current]))
        self.narration.value = f"<p>{_esc(self.current.narration or self.current.note or '')}</p>"

    def _png(self) -> bytes:
        if self.current is None or self.current.result is None:
            return b""
        fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
        ax = fig.add_subplot()
        chart(self.current, ax=ax)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()


def _esc(text: str) -> str:
    import html

    return html.escape(text)


def explore(results: MeasureData | list[MeasureResult]) -> MeasureExplorer:
    """Show a measure explorer in the notebook and return it."""
    from IPython.display import display

    explorer = MeasureExplorer(results)
    display(explorer.widget)
    return explorer
