"""Charts as ``<img>`` markup with alt text (the chart's narration), drawn off-screen: no pyplot state shared
between steps, and nothing loaded from outside the page (a data: URL)."""

from __future__ import annotations

import base64
import io

from matplotlib.figure import Figure

from systemic_lib.coach import ui
from systemic_lib.display.charts.style import DPI, FIGSIZE


def img(draw, alt: str, *, figsize=FIGSIZE, cls: str = "coach-chart") -> str:
    """``draw(ax)`` on a new figure, as an escaped ``<img>`` with ``alt`` (what the chart shows, in words)."""
    fig = Figure(figsize=figsize, dpi=DPI)
    ax = fig.subplots()
    draw(ax)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (
        f'<img class="{cls}" alt="{ui.esc(alt)}" style="max-width:100%;height:auto" src="data:image/png;base64,{data}">'
    )
