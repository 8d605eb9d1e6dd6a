"""Interactive flow views for JupyterLab: a process-map explorer and a case journey.

``flow_explorer(log)`` redraws the process map as the coverage slider moves (as Disco's sliders do);
``case_journey(log)`` shows one case's steps on a timeline: who did what, when, and the waits between.
Both take a ``flow.FlowData``, a ``flow.FlowLog`` or an events frame and return an ipywidgets container; colours
are the flow's step fills (``charts.flow.STEP_FILLS``) from the one palette.
"""

from __future__ import annotations

import ipywidgets as w
import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.analysis import processmap
from systemic_lib.analysis.flow import FlowLog, as_log
from systemic_lib.display.charts import processmap as map_chart
from systemic_lib.display.charts.flow import STEP_FILLS
from systemic_lib.display.charts.style import PALETTE
from systemic_lib.display.widgets._table import html_table


def _log(data) -> FlowLog:
    return as_log(data)


class FlowExplorer(w.VBox):
    """A coverage slider and a max-steps slider above the process map; the map redraws on every change."""

    def __init__(self, data, *, coverage: float = 0.8, max_activities: int = 30):
        self.flow_log = _log(data)
        n_act = max(len(self.flow_log.activity_labels), 1)
        self.coverage = w.FloatSlider(
            value=coverage,
            min=0.05,
            max=1.0,
            step=0.05,
            description="Coverage",
            readout_format=".0%",
            continuous_update=False,
            style={"description_width": "initial"},
        )
        self.max_activities = w.IntSlider(
            value=min(max_activities, n_act), min=1, max=n_act, description="Max steps", continuous_update=False
        )
        self.caption = w.HTML()
        # A whole map at its natural size is several screens tall: fit it to the window, so that moving a slider and
        # seeing the map change does not need scrolling. The caption sits under the sliders for the same reason.
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%", max_height="900px", object_fit="contain"))
        self.message = w.HTML()
        self.coverage.observe(self._redraw, names="value")
        self.max_activities.observe(self._redraw, names="value")
        super().__init__([w.HBox([self.coverage, self.max_activities]), self.caption, self.message, self.image])
        self._redraw()

    def elements(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The nodes and arrows currently shown."""
        return processmap.map_elements(
            self.flow_log, coverage=self.coverage.value, max_activities=self.max_activities.value
        )

    def _redraw(self, *_):
        from systemic_lib.display.report import esc

        if not self.flow_log.n_events:
            self.message.value = "<p>No events to draw.</p>"
            return
        nodes, edges = self.elements()
        caption = f'<p class="note">{esc(processmap.map_caption(self.flow_log, coverage=self.coverage.value, max_activities=self.max_activities.value))}</p>'
        if not map_chart.dot_available():
            self.caption.value = caption
            self.message.value = (
                "<p>Graphviz (the 'dot' program) is not installed, so the map cannot be drawn. "
                f"The map would show {len(nodes)} steps and {len(edges)} arrows.</p>"
            )
            return
        graph = map_chart.process_map(
            self.flow_log, coverage=self.coverage.value, max_activities=self.max_activities.value
        )
        png = map_chart.render_png(graph)  # drawn first: the caption never describes a map not yet shown
        self.message.value = ""
        self.image.value = png
        self.caption.value = caption


def flow_explorer(data, *, coverage: float = 0.8, max_activities: int = 30) -> FlowExplorer:
    """The process map with a coverage slider that redraws it."""
    return FlowExplorer(data, coverage=coverage, max_activities=max_activities)


def journey(data, case_id) -> pd.DataFrame:
    """One case's steps in order: step, activity, when, who (worker or team), value/waste, wait since the last step."""
    log = _log(data)
    pos = np.flatnonzero(log.case_ids.astype(str) == str(case_id))
    if not len(pos):
        raise KeyError(f"no case '{case_id}' in these events")
    c = int(pos[0])
    sl = slice(log.starts[c], log.starts[c] + log.steps[c])
    ts = pd.to_datetime(log.ts[sl].view("datetime64[ns]"))
    return pd.DataFrame(
        {
            "step": np.arange(1, log.steps[c] + 1),
            "activity": log.activity_labels[log.act[sl]].astype(str),
            "when": ts,
            "who": _who(log, sl),
            "step type": np.array(["value", "waste", "not in catalogue"], dtype=object)[log.step[sl]],
            "wait before (days)": np.r_[np.nan, np.diff(log.ts[sl]) / 86_400e9],
        }
    )


def _who(log: FlowLog, sl: slice) -> list[str]:
    """The worker, or the team where the worker is missing."""
    workers = np.asarray(log.worker_labels.astype(str), dtype=object)
    teams = np.asarray(log.team_labels.astype(str), dtype=object)
    return [workers[wc] if wc >= 0 else (teams[tc] if tc >= 0 else "") for wc, tc in zip(log.worker[sl], log.team[sl])]


class CaseJourney(w.VBox):
    """Pick a case; see its steps on a timeline (who did what, when) and the waits between them."""

    def __init__(self, data, *, cases: int = 500):
        self.flow_log = _log(data)
        ct = self.flow_log.case_table.sort_values("end_to_end_days", ascending=False)
        options = [
            (f"{r.case_id} ({r.end_to_end_days:,.1f} days, {r.steps} steps)", r.case_id)
            for r in ct.head(cases).itertuples()
        ]
        self.picker = w.Dropdown(options=options, description="Case", layout=w.Layout(width="520px"))
        self.out = w.Output()
        self.table = w.HTML()
        self.picker.observe(self._show, names="value")
        super().__init__([self.picker, self.out, self.table])
        if options:
            self._show()

    def _show(self, *_):
        import matplotlib.dates as mdates
        import matplotlib.pyplot as plt
        from matplotlib.lines import Line2D
        from matplotlib.ticker import FuncFormatter

        self.current = journey(self.flow_log, self.picker.value)
        j = self.current
        self.out.clear_output(wait=True)
        with self.out:
            fig, ax = plt.subplots(figsize=(10, 0.35 * len(j) + 1.2))
            colours = (
                j["step type"]
                .map({"value": STEP_FILLS["value"], "waste": STEP_FILLS["waste"]})
                .fillna(STEP_FILLS["unclassified"])
            )
            y = np.arange(len(j))[::-1]
            ax.scatter(j["when"], y, s=60, c=colours, edgecolors=PALETTE["edge"], zorder=3)
            ax.plot(j["when"], y, color=PALETTE["line"], lw=0.8, zorder=2)
            for yi, r in zip(y, j.itertuples()):
                who = f" - {r.who}" if r.who else ""
                ax.annotate(
                    f"{r.activity}{who}",
                    (r.when, yi),
                    xytext=(6, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=8,
                )
            ax.set_yticks([])
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: words.date(mdates.num2date(x), short=True)))
            ax.set_title(f"Case {self.picker.value}: {len(j)} steps over {j['wait before (days)'].sum():,.1f} days")
            ax.legend(
                handles=[
                    Line2D(
                        [],
                        [],
                        ls="",
                        marker="o",
                        markersize=7,
                        markeredgecolor=PALETTE["edge"],
                        markerfacecolor=STEP_FILLS[k],
                        label=label,
                    )
                    for k, label in (
                        ("value", "value step"),
                        ("waste", "waste step"),
                        ("unclassified", "not in the activity catalogue"),
                    )
                ],
                loc="upper right",
                fontsize=8,
                frameon=False,
            )
            plt.show()
        shown = j.assign(**{"wait before": j["wait before (days)"].map(words.wait)}).drop(
            columns=["wait before (days)"]
        )
        self.table.value = html_table(shown, formats={"when": lambda t: f"{words.date(t, short=True)} {t:%H:%M}"})


def case_journey(data, *, cases: int = 500) -> CaseJourney:
    """A case picker (the slowest cases first) and the chosen case's journey."""
    return CaseJourney(data, cases=cases)
