"""Process maps: the directly-follows graph laid out by Graphviz ``dot``, as process-mining tools draw it.

Nodes are activities, labelled and sized by how often they happen, blue for value steps, orange for waste steps and
grey for activities missing from the catalogue; arrows carry how often one step directly followed another and the
median wait between them. A coverage filter keeps the most frequent steps and paths (as Disco's sliders do), so a
map of a messy real service stays readable.
"""

from __future__ import annotations

import shutil
import textwrap

import numpy as np
import pandas as pd

from . import words
from .flow import FlowLog

COLOURS = {"value": "#9ecae1", "waste": "#fdae6b", "unclassified": "#e0e0e0"}
"""Fill colours: value steps blue, waste steps orange, steps not in the catalogue neutral grey."""
START, END = "▶ Start", "■ End"
MAX_BYTES = 180_000  # base64 in an HTML report adds a third; with the charts the report stays under 500 KB


def dot_available() -> bool:
    """True when Graphviz's ``dot`` program is installed (the maps need it; the rest of the report does not)."""
    return shutil.which("dot") is not None


def _as_log(data, catalogue=None) -> FlowLog:
    return data if isinstance(data, FlowLog) else FlowLog(data, catalogue=catalogue)


def map_elements(data, *, coverage: float = 0.8, max_activities: int | None = 30,
                 catalogue: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The nodes and arrows a map shows at a given coverage.

    Keeps the most frequent activities that together make up ``coverage`` of all steps (at most
    ``max_activities``), then the most frequent paths between them, plus the arrows from Start and to End, that
    make up ``coverage`` of those moves; every kept activity keeps its busiest way in and out so nothing floats.
    Returns ``nodes`` (activity, events, cases, starts, ends, step_type, category) and ``edges`` (from_activity,
    to_activity, count, cases, median_wait_days).
    """
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must be a share between 0 (exclusive) and 1, not {coverage}")
    log = _as_log(data, catalogue)
    stats = log.activity_stats  # sorted by events, most first
    if stats.empty:
        return stats, log.directly_follows.iloc[:0]
    share = stats["events"].cumsum() / stats["events"].sum()
    n_keep = int(np.searchsorted(share.to_numpy(), coverage - 1e-12) + 1)
    if max_activities:
        n_keep = min(n_keep, max_activities)
    nodes = stats.head(n_keep)
    kept = set(nodes["activity"])
    dfg = log.directly_follows
    inner = dfg[dfg["from_activity"].isin(kept) & dfg["to_activity"].isin(kept)]
    cases = log.n_cases
    terminal = pd.concat([
        pd.DataFrame({"from_activity": START, "to_activity": nodes["activity"], "count": nodes["starts"],
                      "cases": nodes["starts"], "median_wait_days": np.nan}),
        pd.DataFrame({"from_activity": nodes["activity"], "to_activity": END, "count": nodes["ends"],
                      "cases": nodes["ends"], "median_wait_days": np.nan}),
    ])
    terminal = terminal[terminal["count"] > 0]
    pool = pd.concat([inner, terminal], ignore_index=True).sort_values("count", ascending=False, kind="stable",
                                                                        ignore_index=True)
    if pool.empty:
        return nodes.reset_index(drop=True), pool
    cum = pool["count"].cumsum() / pool["count"].sum()
    keep = np.zeros(len(pool), bool)
    keep[: int(np.searchsorted(cum.to_numpy(), coverage - 1e-12) + 1)] = True
    # Connectivity: each kept activity keeps its busiest arrow in and its busiest arrow out.
    busiest_in = pool.groupby("to_activity", sort=False)["count"].idxmax()
    busiest_out = pool.groupby("from_activity", sort=False)["count"].idxmax()
    keep[busiest_in.reindex(list(kept)).dropna().astype(int).to_numpy()] = True
    keep[busiest_out.reindex(list(kept)).dropna().astype(int).to_numpy()] = True
    edges = pool[keep].reset_index(drop=True)
    del cases
    return nodes.reset_index(drop=True), edges


def _wrap(text: str, width: int = 26) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def process_map(data, *, coverage: float = 0.8, max_activities: int | None = 30, title: str | None = None,
                catalogue: pd.DataFrame | None = None):
    """A ``graphviz.Digraph`` of the flow at the given coverage (see ``map_elements``)."""
    import graphviz

    log = _as_log(data, catalogue)
    nodes, edges = map_elements(log, coverage=coverage, max_activities=max_activities)
    g = graphviz.Digraph("flow", graph_attr={"rankdir": "TB", "fontname": "Helvetica", "fontsize": "12",
                                             "labelloc": "t", "nodesep": "0.25", "ranksep": "0.35",
                                             "bgcolor": "white", "pad": "0.2"},
                         node_attr={"shape": "box", "style": "rounded,filled", "fontname": "Helvetica",
                                    "fontsize": "10", "color": "#555555"},
                         edge_attr={"fontname": "Helvetica", "fontsize": "8", "color": "#4d4d4d",
                                    "arrowsize": "0.6"})
    if title:
        g.attr(label=title)
    top = max(int(nodes["events"].max()) if len(nodes) else 1, 1)
    used = set(edges["from_activity"]) | set(edges["to_activity"])
    ids = {name: f"a{i}" for i, name in enumerate(nodes["activity"])}
    ids[START], ids[END] = "start", "end"
    if START in used:
        g.node("start", START, shape="circle", style="filled", fillcolor="#d9f0d3", fontsize="9", width="0.6")
    if END in used:
        g.node("end", END, shape="doublecircle", style="filled", fillcolor="#d9d9d9", fontsize="9", width="0.5")
    for r in nodes.itertuples(index=False):
        weight = r.events / top
        g.node(ids[r.activity], f"{_wrap(r.activity)}\n{r.events:,}", fillcolor=COLOURS[r.step_type],
               penwidth=f"{0.8 + 3.2 * weight:.1f}", fontsize=f"{9 + 4 * weight:.0f}")
    top_e = max(int(edges["count"].max()) if len(edges) else 1, 1)
    for r in edges.itertuples(index=False):
        wait = words.wait(r.median_wait_days)
        label = f"{r.count:,}" + (f"\n{wait}" if wait else "")
        g.edge(ids[r.from_activity], ids[r.to_activity], label=label, penwidth=f"{0.6 + 4 * r.count / top_e:.1f}",
               style="dashed" if START in (r.from_activity,) or END in (r.to_activity,) else "solid")
    return g


def render_png(graph, *, max_bytes: int = MAX_BYTES) -> bytes:
    """PNG bytes of a map, shrunk until it fits in ``max_bytes`` (so a report stays small)."""
    dpi = 96
    png = b""
    for _ in range(6):
        graph.graph_attr.update(dpi=str(dpi), size="11,30")
        png = graph.pipe(format="png")
        if len(png) <= max_bytes:
            return png
        dpi = int(dpi * 0.75)
    return png


def map_caption(data, *, coverage: float = 0.8, max_activities: int | None = 30, period: str = "") -> str:
    """The sentence under a map: what it keeps, out of how many, for which period and how many cases."""
    log = _as_log(data)
    nodes, edges = map_elements(log, coverage=coverage, max_activities=max_activities)
    n_act = len(log.activity_labels)
    inner = edges[~edges["from_activity"].eq(START) & ~edges["to_activity"].eq(END)]
    shown = nodes["events"].sum() / max(log.n_events, 1)
    when = f", {period}" if period else ""
    return (f"Process map{when} ({log.n_cases:,} cases, {log.n_events:,} steps). It shows the {len(nodes)} most "
            f"frequent of {n_act} activities ({words.share(shown)} of all steps) and {len(inner)} of "
            f"{len(log.directly_follows)} paths between them. Boxes: how often each step happened (blue = value step, "
            "orange = waste step, grey = not in the activity catalogue). Arrows: how often one step came straight "
            "after another, and the median wait between them.")


def show(data, *, coverage: float = 0.8, max_activities: int | None = 30, title: str | None = None,
         period: str = "") -> bool:
    """Draw the map in the notebook with its caption; if Graphviz is missing, say so plainly. Returns drawn or not."""
    from . import report

    log = _as_log(data)
    if log.n_events == 0:
        report.note("No events to draw a process map from.")
        return False
    if not dot_available():
        report.note("The process map cannot be drawn here because Graphviz (the 'dot' program) is not installed. "
                    "Ask whoever runs the workbook to install it (make install does, or: apt-get install graphviz). "
                    "The busiest paths are listed below instead.")
        report.table(log.directly_follows.head(15).assign(median_wait=lambda f: f["median_wait_days"].map(words.wait))
                     .drop(columns=["median_wait_days"]), caption="Most frequent paths between steps")
        return False
    png = render_png(process_map(log, coverage=coverage, max_activities=max_activities, title=title))
    try:
        from IPython.display import Image, display

        display(Image(data=png, format="png"))
    except ImportError:  # outside IPython
        pass
    report.note(map_caption(log, coverage=coverage, max_activities=max_activities, period=period))
    return True
