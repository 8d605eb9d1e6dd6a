"""The one palette and the shared axis helpers of every chart, map and table colour in the workbook.

Colours carry meaning, the same on every page: value demand and value steps are one blue, failure demand one
orange, waste a second orange, anything not yet classified grey; capability charts use the NHS *Making Data Count*
colours by the meaning of a point (improvement blue, concern orange, neutral purple, common cause grey), never
red/amber/green.
"""

from __future__ import annotations

import contextlib
import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.colors import to_hex, to_rgb

from systemic_lib.display.charts import alt

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = [
    "PALETTE",
    "FIGSIZE",
    "DPI",
    "TEXT_COLOUR",
    "SMALL",
    "BODY",
    "TITLE",
    "FONT_SIZES",
    "new_ax",
    "empty",
    "wrap",
    "bars_height",
    "stack_rows",
    "fit_titles",
    "tint",
    "same_jitter",
]

PALETTE = {
    # demand and flow
    "value": "#2f7fc1",
    "failure": "#f28e2b",
    "waste": "#f28e2b",
    "unclassified": "#b0b0b0",
    # capability charts (Making Data Count)
    "improvement": "#289de0",
    "concern": "#fab428",
    "neutral": "#361475",
    "common_cause": "#a6a6a6",
    # cohorts of an experiment
    "baseline": "#a6a6a6",
    "experiment": "#289de0",
    # lines and marks
    "line": "#7f7f7f",
    "centre": "#231f20",
    "limit": "#5b5b5b",
    "target": "#c24e9c",
    "ink": "#425563",
    "edge": "#555555",
    "start": "#d9f0d3",
    "end": "#d9d9d9",
    "grid": "#e6e6e6",
}
TEXT_COLOUR = "#555555"
FIGSIZE = (9, 3.6)
DPI = 100

# The type scale of every chart, in points. A report shows a chart at its natural size (9 inches = 864 CSS px, inside
# the page's 940 px column at 1280 px), where 1 pt is 4/3 CSS px: the smallest text is 13.3 px on screen, and still
# 8 pt on A4, where the chart is scaled to the printed column.
SMALL = 10  #: bar values, annotations, tick labels, legends, phase labels and badges
BODY = 11  #: axis labels
TITLE = 12  #: chart titles
FONT_SIZES: dict[RcKeyType, Any] = {
    "font.size": BODY,
    "axes.titlesize": TITLE,
    "axes.labelsize": BODY,
    "xtick.labelsize": SMALL,
    "ytick.labelsize": SMALL,
    "legend.fontsize": SMALL,
    "legend.title_fontsize": SMALL,
    "figure.titlesize": TITLE,
}
"""rcParams of the type scale (``report.setup`` applies them after the seaborn theme)."""


def tint(colour: str, amount: float = 0.55) -> str:
    """``colour`` mixed with white (``amount`` 0 keeps it, 1 is white): a fill that keeps the colour's meaning."""
    r, g, b = to_rgb(colour)
    return to_hex((r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount))


def new_ax(ax=None, height: float = FIGSIZE[1]):
    """``ax``, or a new constrained-layout Axes the report width and ``height`` inches tall."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(FIGSIZE[0], height), layout="constrained")
    return ax


def empty(ax, title: str, message: str):
    """An Axes that says in words why there is nothing to draw, instead of empty axes (its text alternative says
    the same)."""
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color=TEXT_COLOUR)
    ax.set_xticks([])
    ax.set_yticks([])
    return alt.attach(ax, alt.empty(title, message))


def wrap(text, width: int = 30) -> str:
    """A label wrapped onto lines of at most ``width`` characters (a longer word keeps its own line): every word of a
    long demand type or service name is shown, never cut with an ellipsis."""
    text = str(text)
    return "\n".join(textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)) or text


def bars_height(labels, *, per_line: float = 0.2, per_bar: float = 0.16, extra: float = 1.2, least: float = 2.2):
    """Inches a horizontal bar chart needs for ``labels`` (wrapped, one per bar) at the type scale: each bar gets its
    label's lines plus a gap, so wrapped labels never run into each other."""
    lines = sum(str(t).count("\n") + 1 for t in labels)
    return max(least, per_line * lines + per_bar * len(labels) + extra)


def stack_rows(starts, widths, *, gap: float = 0.01) -> list[int]:
    """The row (0 at the top) for each of a run of labels placed left to right at ``starts`` with ``widths`` (the
    same unit, e.g. a fraction of the axes): a label goes on the first row where it clears every label already
    there, so no two labels overlap however close their places are."""
    ends: list[float] = []  # the right edge of the last label on each row
    rows = []
    for start, width in zip(starts, widths):
        row = next((r for r, end in enumerate(ends) if start >= end + gap), len(ends))
        if row == len(ends):
            ends.append(start + width)
        else:
            ends[row] = start + width
        rows.append(row)
    return rows


def fit_titles(fig) -> None:
    """Wrap any axes title wider than the figure onto lines that fit it, so a long title (a period, a count and a
    reason) never runs off the chart, and the chart keeps its width and its type scale on the page."""
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        for title in (ax.title, ax._left_title):  # the centre and left titles (matplotlib keeps no public handle)
            text = title.get_text()
            if not text:
                continue
            box = title.get_window_extent(renderer)
            room = fig.bbox.width * 0.97 if title is ax.title else fig.bbox.x1 * 0.99 - box.x0
            width = box.width
            if width > room:
                lines = [line for line in text.split("\n")]
                longest = max(len(line) for line in lines) or 1
                per_line = max(20, int(longest * room / width))
                title.set_text("\n".join(wrap(line, per_line) for line in lines))


@contextlib.contextmanager
def same_jitter(seed: int = 0):
    """numpy's global random state seeded for the drawing inside (seaborn's strip-plot jitter uses it), then put
    back: the same data give the same picture on every render, and nothing else's randomness is touched."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)
