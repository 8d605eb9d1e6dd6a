"""Process maps drawn: the directly-follows graph laid out by Graphviz ``dot``, as process-mining tools draw it.

Nodes are activities, labelled and sized by how often they happen, filled with the flow's step colours
(``charts.flow.STEP_FILLS``: value steps blue, waste steps orange, activities missing from the catalogue grey);
arrows carry how often one step directly followed another and the median wait between them. What the map keeps at
a coverage is ``processmap.map_elements`` (analysis); this module only draws it.

Every label is escaped with ``graphviz.escape``: a backslash in an activity name (``Check \\N``) would otherwise be
read by Graphviz as an escape code (``\\N`` the node's name, ``\\l`` a line break, ``\\G`` the graph's name), and a
name in angle brackets as an HTML label.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
from html import unescape

import graphviz

from systemic_lib import words
from systemic_lib.analysis import flow, processmap
from systemic_lib.display.charts import alt
from systemic_lib.display.charts.flow import STEP_FILLS
from systemic_lib.display.charts.style import PALETTE, SMALL

__all__ = ["process_map", "render_png", "render_svg", "dot_available", "MAX_BYTES", "COLUMN_PT", "label"]

MAX_BYTES = 180_000  # base64 in an HTML report adds a third; with the charts the report stays under 500 KB
#: The report's column in points (940 CSS px): a map drawn left to right fills it when it fits at the type scale.
COLUMN_PT = 705


def dot_available() -> bool:
    """True when Graphviz's ``dot`` program is installed (the maps need it; the rest of the report does not)."""
    return shutil.which("dot") is not None


def label(text: str) -> str:
    """A Graphviz label showing ``text`` as written: backslashes and angle brackets lose their special meaning."""
    return graphviz.escape(str(text))


def _wrap(text: str, width: int = 26) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def process_map(
    data, *, coverage: float = 0.8, max_activities: int | None = 30, title: str | None = None, catalogue=None
) -> graphviz.Digraph:
    """A ``graphviz.Digraph`` of the flow at the given coverage (see ``processmap.map_view``; ``data`` may be the
    ``MapView`` itself). An arrow that also carries cases which went through steps not drawn is dotted."""
    view = (
        data
        if isinstance(data, processmap.MapView)
        else processmap.map_view(flow.as_log(data, catalogue), coverage=coverage, max_activities=max_activities)
    )
    nodes, edges = view.nodes, view.edges
    start, end = processmap.START, processmap.END
    g = graphviz.Digraph(
        "flow",
        graph_attr={
            "rankdir": "TB",
            "fontname": "Helvetica",
            "fontsize": str(SMALL + 2),
            "labelloc": "t",
            "nodesep": "0.2",
            "ranksep": "0.3",
            "bgcolor": "white",
            "pad": "0.2",
        },
        node_attr={
            "shape": "box",
            "style": "rounded,filled",
            "fontname": "Helvetica",
            "fontsize": str(SMALL),
            "color": PALETTE["edge"],
            "margin": "0.14,0.04",
        },
        edge_attr={"fontname": "Helvetica", "fontsize": str(SMALL), "color": PALETTE["edge"], "arrowsize": "0.6"},
    )
    if title:
        g.attr(label=label(title))
    top = max(int(nodes["events"].max()) if len(nodes) else 1, 1)
    used = set(edges["from_activity"]) | set(edges["to_activity"])
    ids = {name: f"a{i}" for i, name in enumerate(nodes["activity"])}
    ids[start], ids[end] = "start", "end"
    if start in used:
        g.node(
            "start",
            label(start),
            shape="circle",
            style="filled",
            fillcolor=PALETTE["start"],
            fontsize=str(SMALL),
            width="0.6",
        )
    if end in used:
        g.node(
            "end",
            label(end),
            shape="doublecircle",
            style="filled",
            fillcolor=PALETTE["end"],
            fontsize=str(SMALL),
            width="0.5",
        )
    for r in nodes.itertuples(index=False):
        weight = r.events / top
        g.node(
            ids[r.activity],
            label(f"{_wrap(r.activity, 16)}\n{words.number(r.events)}"),
            fillcolor=STEP_FILLS[r.step_type],
            penwidth=f"{0.8 + 3.2 * weight:.1f}",
            fontsize=f"{SMALL + 3 * weight:.0f}",
        )
    top_e = max(int(edges["count"].max()) if len(edges) else 1, 1)
    for r in edges.itertuples(index=False):
        wait = words.wait(r.median_wait_days)
        text = words.number(r.count) + (f"\n{wait}" if wait else "")
        g.edge(
            ids[r.from_activity],
            ids[r.to_activity],
            label=label(text),
            penwidth=f"{0.6 + 4 * r.count / top_e:.1f}",
            style="dashed"
            if start in (r.from_activity,) or end in (r.to_activity,)
            else "dotted"
            if getattr(r, "via_hidden", 0)
            else "solid",
        )
    what = title or (
        f"{words.count(len(nodes), 'step')} of {view.n_activities} drawn, with the arrows between them "
        f"({view.n_cases:,} cases, {view.n_events:,} steps)"
    )
    return alt.attach(g, alt.process_map(nodes, edges, title=what, start=start, end=end))


def in_rows(graph: graphviz.Digraph, *, column_pt: float = COLUMN_PT, gap_in: float = 0.9) -> graphviz.Digraph:
    """The map wrapped into rows that fill the report's column, read left to right and top to bottom like a line of
    text: the steps in the order Graphviz ranks them top to bottom, as many to a row as fit ``column_pt`` with room
    for the arrows' labels between them. A long flow drawn as one column is a strip; drawn as one row it is too
    small to read; in rows its text keeps the type scale at the column's width."""
    top_down = graph.copy()
    top_down.graph_attr["rankdir"] = "TB"
    placed = []
    for line in top_down.pipe(format="plain", encoding="utf-8").splitlines():
        if line.startswith("node "):
            _, name, x, y, width = line.split(" ", 5)[:5]
            placed.append((-float(y), float(x), name, float(width)))
    rows: list[list[str]] = [[]]
    used = 0.0
    for _, _, name, width in sorted(placed):
        if rows[-1] and used + gap_in + width > column_pt / 72:
            rows.append([])
            used = 0.0
        used += (gap_in if rows[-1] else 0.0) + width
        rows[-1].append(name)
    wrapped = top_down.copy()
    for i, row in enumerate(rows):
        with wrapped.subgraph(name=f"row{i}") as same:
            same.attr(rank="same")
            for name in row:
                same.node(name)
        for a, b in zip(row, row[1:]):
            wrapped.edge(a, b, style="invis", weight="20")
    for above, below in zip(rows, rows[1:]):
        wrapped.edge(above[0], below[0], style="invis", weight="20")
    return wrapped


def _layout_svg(graph: graphviz.Digraph) -> str | None:
    """SVG text of ``graph``, or None where Graphviz cannot lay it out (dot's spline router fails on some wrapped
    maps: "triangulation failed ... lost edge")."""
    try:
        return graph.pipe(format="svg", encoding="utf-8")
    except subprocess.CalledProcessError:
        return None


def _straight(graph: graphviz.Digraph) -> graphviz.Digraph:
    """The same map with straight arrows, which dot lays out without its spline router."""
    straight = graph.copy()
    straight.graph_attr["splines"] = "line"
    return straight


def render_svg(graph: graphviz.Digraph, *, column_pt: float = COLUMN_PT) -> str:
    """SVG text of a map wrapped into rows (``in_rows``), to be shown at the column's full width: if the arrows'
    labels make a row wider than the column, or two labels land on each other, fewer steps go to a row, until the
    map fits with every label clear (so its text is never shrunk under the type scale or hidden). Where dot cannot
    route a wrapped map's arrows, they are drawn straight; where it still cannot, the map is drawn unwrapped."""
    first = None
    for share in (1.0, 0.85, 0.7, 0.55, 0.4):
        wrapped = in_rows(graph, column_pt=column_pt * share)
        svg = _layout_svg(wrapped) or _layout_svg(_straight(wrapped))
        if svg is None:
            continue
        first = first or svg
        if _width_pt(svg) <= column_pt and not _labels_overlap(svg):
            return svg
    return first or _layout_svg(graph) or _straight(graph).pipe(format="svg", encoding="utf-8")


def _labels_overlap(svg: str) -> bool:
    """Whether two texts of an SVG map overlap (boxes from each text's anchor, size and length: a glyph is taken as
    0.55 of the font size wide), as a reader would see two arrows' labels drawn on each other."""
    boxes = []
    for x, y, size, text in _TEXT.findall(svg):
        width, height, left = 0.55 * float(size) * len(unescape(text)), float(size), float(x)
        boxes.append((left - width / 2, float(y) - height * 0.8, left + width / 2, float(y) + height * 0.2))
    for i, (a0, b0, a1, b1) in enumerate(boxes):
        for c0, d0, c1, d1 in boxes[i + 1 :]:
            if a0 < c1 and c0 < a1 and b0 < d1 and d0 < b1:
                return True
    return False


_TEXT = re.compile(
    r'<text[^>]*?text-anchor="middle"[^>]*?x="([\d.-]+)" y="([\d.-]+)"[^>]*?font-size="([\d.]+)"[^>]*>([^<]*)</text>'
)


def _width_pt(svg: str) -> float:
    found = re.search(r'<svg[^>]*?\swidth="([\d.]+)pt"', svg)
    return float(found.group(1)) if found else 0.0


def render_png(graph: graphviz.Digraph, *, max_bytes: int = MAX_BYTES) -> bytes:
    """PNG bytes of a map wrapped into rows (``in_rows``), shrunk until it fits in ``max_bytes`` (the JupyterLab
    explorer's picture)."""
    dpi = 96
    png = b""
    graph = in_rows(graph)
    for _ in range(6):
        graph.graph_attr.update(dpi=str(dpi), size="11,30")
        png = graph.pipe(format="png")
        if len(png) <= max_bytes:
            return png
        dpi = int(dpi * 0.75)
    return png
