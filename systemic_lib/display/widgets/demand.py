"""Demand explorer for JupyterLab: filter by service, channel, period and classification; the headline, the Pareto
chart and the weekly chart update together.

Charts are rendered to PNG into ``Image`` widgets (matplotlib ``Figure``, no pyplot state), so the explorer also
works, and is tested, by driving its widgets from Python outside a kernel.
"""

from __future__ import annotations

import io

import ipywidgets as w
import pandas as pd
from matplotlib.figure import Figure

from systemic_lib.analysis import demand
from systemic_lib.display.charts.demand import pareto_chart, weekly_chart
from systemic_lib.display.report import esc

__all__ = ["DemandExplorer", "explore"]

ALL = "(all)"


class DemandExplorer:
    """Widgets around a demand table; ``.widget`` is what the notebook displays."""

    def __init__(self, data: pd.DataFrame, *, services: dict[str, str] | None = None):
        self.data = data
        names = services or {}
        present = sorted(data["service"].dropna().astype(str).unique())
        if len(present) == 1:  # one service's contacts (as the demand notebook passes): name it, nothing to choose
            self.service = w.Dropdown(
                options=[(names.get(present[0], present[0]), ALL)], description="Service", disabled=True
            )
        else:
            self.service = w.Dropdown(
                options=[("All services", ALL)] + [(names.get(s, s), s) for s in present], description="Service"
            )
        self.channel = w.Dropdown(
            options=[("All channels", ALL)] + [(c, c) for c in sorted(data["channel"].dropna().astype(str).unique())],
            description="Channel",
        )
        self.classification = w.Dropdown(
            options=[
                ("All contacts", ALL),
                ("Value demand", "value"),
                ("Failure demand", "failure"),
                ("Unclassified", demand.UNCLASSIFIED),
            ],
            description="Show",
        )
        first, last = demand.period(data)
        self.start = w.DatePicker(description="From", value=first.date() if first is not None else None)
        self.end = w.DatePicker(description="To", value=last.date() if last is not None else None)
        self.headline = w.HTML()
        self.pareto = w.Image(format="png", layout=w.Layout(width="900px"))
        self.weekly = w.Image(format="png", layout=w.Layout(width="900px"))
        for control in (self.service, self.channel, self.classification, self.start, self.end):
            control.observe(lambda _: self.refresh(), names="value")
        controls = w.VBox([w.HBox([self.service, self.channel]), w.HBox([self.start, self.end]), self.classification])
        self.widget = w.VBox([controls, self.headline, self.pareto, self.weekly])
        self.refresh()

    def filtered(self) -> pd.DataFrame:
        """The contacts the filters select (undated contacts drop out only when a period is set)."""
        d = self.data
        keep = pd.Series(True, index=d.index)
        if self.service.value != ALL:
            keep &= d["service"] == self.service.value
        if self.channel.value != ALL:
            keep &= d["channel"] == self.channel.value
        if self.classification.value == demand.UNCLASSIFIED:
            keep &= d["classification"].isna()
        elif self.classification.value != ALL:
            keep &= d["classification"] == self.classification.value
        if self.start.value is not None:
            keep &= d["received_at"] >= pd.Timestamp(self.start.value)
        if self.end.value is not None:
            keep &= d["received_at"] < pd.Timestamp(self.end.value) + pd.Timedelta(days=1)
        return d[keep.fillna(False).to_numpy(dtype=bool)]

    def refresh(self) -> None:
        """Recompute the headline and redraw both charts for the current filters."""
        shown = self.filtered()
        name = dict((v, k) for k, v in self.service.options).get(self.service.value, "")
        who = "all services" if self.service.value == ALL and not self.service.disabled else name
        h = demand.headline_figures(shown)
        pct = "" if h["failure_pct"] is None else f"{h['failure_pct']:.0f}%"
        # Draw first, then show the three together: the headline never describes charts still being drawn.
        pareto = _png(lambda ax: pareto_chart(shown, ax=ax), height=4.2)
        weekly = _png(lambda ax: weekly_chart(shown, ax=ax), height=3.4)
        self.pareto.value, self.weekly.value = pareto, weekly
        self.headline.value = (
            f'<p class="headline">{esc(demand.headline(shown, service_name=who))}</p>'
            f"<p>Contacts {h['contacts']:,} &middot; value {h['value']:,} &middot; failure "
            f"{h['failure']:,} &middot; unclassified {h['unclassified']:,}"
            + (f" &middot; failure demand {pct} of classified" if pct else "")
            + "</p>"
        )


def _png(draw, *, height: float) -> bytes:
    fig = Figure(figsize=(9, height), dpi=100, layout="constrained")
    draw(fig.add_subplot())
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def explore(data: pd.DataFrame, *, services: dict[str, str] | None = None):
    """The demand explorer widget for a demand table (``services`` maps ids to names)."""
    return DemandExplorer(data, services=services).widget
