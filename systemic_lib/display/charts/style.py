"""The one palette and the shared axis helpers of every chart, map and table colour in the workbook.

Colours carry meaning, the same on every page: value demand and value steps are one blue, failure demand one
orange, waste a second orange, anything not yet classified grey; capability charts use the NHS *Making Data Count*
colours by the meaning of a point (improvement blue, concern orange, neutral purple, common cause grey), never
red/amber/green.
"""

from __future__ import annotations

import contextlib

import numpy as np
from matplotlib.colors import to_hex, to_rgb

__all__ = ["PALETTE", "FIGSIZE", "DPI", "TEXT_COLOUR", "new_ax", "empty", "short", "tint", "same_jitter"]

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
    """An Axes that says in words why there is nothing to draw, instead of empty axes."""
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color=TEXT_COLOUR)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def short(text: str, width: int = 42) -> str:
    """A label cut to ``width`` characters with an ellipsis, so long demand types fit beside a bar."""
    return text if len(text) <= width else text[: width - 1] + "\u2026"


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
