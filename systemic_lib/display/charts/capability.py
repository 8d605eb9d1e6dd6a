"""Capability charts drawn from an ``spc.xmr`` result, in the Making Data Count style but easier to read.

``capability_chart`` is one call: the ``XmrResult`` in, an Axes out. Points are coloured by meaning (blue improvement,
orange concern, purple neutral, grey common cause; never red/amber/green), each phase has its own solid centre line
and dashed limits that stop at the boundary, boundaries carry the system change's name, and the variation and
assurance icons are drawn as plain-word badges above the plot.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba

from systemic_lib import words
from systemic_lib.analysis.narrate import ASSURANCE_WORDS, phase_label
from systemic_lib.analysis.reading import LATEST_WORDS
from systemic_lib.analysis.spc import XmrResult
from systemic_lib.display.charts import alt
from systemic_lib.display.charts.style import DPI, FIGSIZE, PALETTE, SMALL, stack_rows, wrap

__all__ = ["capability_chart", "PALETTE", "FIGSIZE", "DPI", "signals_table"]

LINE_COLOUR = PALETTE["line"]
CENTRE_COLOUR = PALETTE["centre"]
LIMIT_COLOUR = PALETTE["limit"]
TARGET_COLOUR = PALETTE["target"]

_VARIATION_COLOUR = {
    "common_cause": PALETTE["common_cause"],
    "special_cause_improvement_high": PALETTE["improvement"],
    "special_cause_improvement_low": PALETTE["improvement"],
    "special_cause_concern_high": PALETTE["concern"],
    "special_cause_concern_low": PALETTE["concern"],
    "special_cause_neutral_high": PALETTE["neutral"],
    "special_cause_neutral_low": PALETTE["neutral"],
}
_CHANGE_WORDS = {
    "improvement": "real improvement vs before",
    "concern": "real deterioration vs before",
    "neutral": "real change vs before",
}
#: A measure's reading (``reading.Reading.value``) at its latest phase line, and the colour of the box around it.
_READING_WORDS = {
    "improvement": ("real improvement vs before", "improvement"),
    "concern": ("real deterioration vs before", "concern"),
    "change": ("real change vs before", "neutral"),
    "no change": ("no lasting change", None),
    "not enough data": ("too soon to tell", None),
}
_ASSURANCE_COLOUR = {"pass": PALETTE["improvement"], "fail": PALETTE["concern"], "hit_and_miss": LINE_COLOUR}


def _x_values(data: pd.DataFrame):
    if "date" in data.columns:
        return pd.to_datetime(data["date"]).to_numpy(), True
    return np.arange(1, len(data) + 1), False


def _boundary_x(x: np.ndarray, start: int, is_date: bool):
    """Halfway between the last point of one phase and the first of the next."""
    if start <= 0:
        return x[0]
    a, b = x[start - 1], x[start]
    return a + (b - a) / 2


#: More points than this and the chart drops the line joining them (markers only).
DENSE = 150


def capability_chart(
    result: XmrResult,
    *,
    ax=None,
    title: str | None = None,
    unit: str | None = None,
    phase_labels=None,
    date_format: str | None = None,
    reading=None,
    markers=None,
    grain: str | None = None,
):
    """Draw the capability chart of ``result`` (the :class:`~systemic_lib.analysis.spc.XmrResult` of ``spc.xmr``) and
    return the Axes.

    ``phase_labels`` names the system changes in order (a sequence) or by phase number (a mapping); ``unit`` labels
    the value axis; ``date_format`` (e.g. "%b %Y") overrides the concise date labels. ``reading`` (a measure's
    ``reading.Reading``) gives the badge its words ("Latest point: …") and the latest phase line the reading's
    words, so that chart, narration and summary say one thing; without it the badge says what the latest point is
    and each phase line what the chart's change rule found. ``markers`` (``markers.Marker``: learning-log entries
    and system conditions with a date) are drawn as small numbered circles along the foot of the plot, each listed
    with its date and words in the legend under it; they never change the limits (a phase does). ``grain`` names
    what one point is in the text alternative ("week", "case"; by default from the dates' spacing).
    """
    if not isinstance(result, XmrResult):
        raise ValueError(
            f"capability_chart needs the result of systemic_lib.analysis.spc.xmr, not {type(result).__name__}"
        )
    data = result.points
    if ax is None:
        import matplotlib.pyplot as plt  # only when the caller wants a new figure (notebooks)

        with sns.axes_style("whitegrid"):
            _, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    else:
        ax.set_facecolor("white")
        ax.grid(True, axis="y", color=PALETTE["grid"], linewidth=0.8)
        ax.set_axisbelow(True)
    x, is_date = _x_values(data)
    values = data["value"].to_numpy(dtype=float)
    present = ~np.isnan(values)

    # The series: a thin line through the points, then the points coloured by meaning. Past DENSE points (one per
    # case, say) a joining line is only ink, so dense charts show the points alone, smaller.
    dense = int(present.sum()) > DENSE
    if not dense:
        ax.plot(x, values, color=LINE_COLOUR, linewidth=1.1, zorder=2, gid="series")
    colours = [PALETTE.get(s, PALETTE["common_cause"]) for s in data["signal"][present]]
    ax.scatter(
        x[present],
        values[present],
        c=colours,
        s=10 if dense else 26,
        zorder=3,
        edgecolors="white",
        linewidths=0.3 if dense else 0.5,
        gid="points",
    )

    # Centre line and limits per phase; they stop at the phase boundary.
    phases = result.phases
    phase_texts = []
    for k, ph in enumerate(phases):
        rows = np.flatnonzero(data["phase"].to_numpy() == k)
        if len(rows) == 0:
            continue
        lo_i, hi_i = rows[0], rows[-1]
        left = _boundary_x(x, lo_i, is_date) if k > 0 else x[lo_i]
        right = _boundary_x(x, hi_i + 1, is_date) if hi_i + 1 < len(x) else x[hi_i]
        span = [left, right]
        if ph["mean"] is not None:
            ax.plot(span, [ph["mean"]] * 2, color=CENTRE_COLOUR, linewidth=1.2, zorder=1, gid=f"centre_{k}")
        if ph["upper"] is not None:
            ax.plot(
                span, [ph["upper"]] * 2, color=LIMIT_COLOUR, linewidth=1.0, linestyle="--", zorder=1, gid=f"upper_{k}"
            )
            ax.plot(
                span, [ph["lower"]] * 2, color=LIMIT_COLOUR, linewidth=1.0, linestyle="--", zorder=1, gid=f"lower_{k}"
            )
        y = ph["upper"] if ph["upper"] is not None else ph["mean"]
        if ph["trial"] and y is not None:  # a phase of gaps only has no limits to call trial
            ax.annotate(
                "trial limits",
                (left, y),
                xytext=(2, 3),
                textcoords="offset points",
                fontsize=SMALL,
                fontstyle="italic",
                color=LIMIT_COLOUR,
                gid=f"trial_{k}",
            )
        if k > 0:
            ax.axvline(left, color=CENTRE_COLOUR, linewidth=0.9, linestyle=":", zorder=1, gid=f"phase_boundary_{k}")
            label = phase_label(phase_labels, k)
            if label is None:
                start = ph["start"]
                label = f"Change {words.date(start, short=True)}" if is_date else f"Change at point {int(start) + 1}"
            said, colour = _change_label(ph, reading, latest=k == len(phases) - 1)
            edge = "none"
            label = wrap(label, 28)
            if said:
                label += "\n" + said
                edge = PALETTE[colour] if colour else CENTRE_COLOUR
            phase_texts.append(
                ax.annotate(
                    label,
                    (left, 1),
                    xycoords=("data", "axes fraction"),
                    xytext=(3, -3),
                    textcoords="offset points",
                    ha="left",
                    va="top",
                    fontsize=SMALL,
                    color=CENTRE_COLOUR,
                    bbox=dict(boxstyle="round,pad=0.25", fc=(1, 1, 1, 0.85), ec=edge),
                    gid=f"phase_label_{k}",
                    parse_math=False,
                )
            )  # a condition's "$" is text, not maths

    target = result.target
    if target is not None:
        ax.axhline(target, color=TARGET_COLOUR, linewidth=1.0, linestyle="-.", zorder=1, gid="target")
        ax.annotate(
            f"target {target:g}",
            (1, target),
            xycoords=("axes fraction", "data"),
            xytext=(-2, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=SMALL,
            color=TARGET_COLOUR,
        )

    # Icons as plain-word badges above the plot, right-aligned; the title sits on the left.
    badges = []
    variation = result.variation
    if variation:
        latest = reading.latest if reading is not None and reading.latest else variation
        badges.append(
            (
                f"Latest point: {LATEST_WORDS.get(latest, latest)}",
                _VARIATION_COLOUR.get(latest, PALETTE["common_cause"]),
                "variation_badge",
            )
        )
    assurance = result.assurance
    if assurance:
        badges.append((ASSURANCE_WORDS[assurance], _ASSURANCE_COLOUR[assurance], "assurance_badge"))
    anchor = None
    for text, colour, gid in reversed(badges):  # right to left, each placed against the previous one
        style = dict(
            ha="right",
            va="bottom",
            fontsize=SMALL,
            color=PALETTE["centre"],
            gid=gid,
            annotation_clip=False,
            bbox=dict(boxstyle="round,pad=0.3", fc=to_rgba(colour, 0.15), ec=colour, linewidth=1.4),
        )
        if anchor is None:
            t = ax.annotate(text, (1, 1), xycoords="axes fraction", xytext=(0, 6), textcoords="offset points", **style)
        else:
            t = ax.annotate(text, (0, 0), xycoords=anchor, xytext=(-10, 0), textcoords="offset points", **style)
        t.badge_colour = colour  # kept for tests and for reports that re-draw the badge
        anchor = t

    if title:
        ax.set_title(title, loc="left", pad=26 if badges else 8)  # above the badges
    if unit:
        ax.set_ylabel(unit)
    if is_date:
        locator = mdates.AutoDateLocator(minticks=4, maxticks=9)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(
            mdates.DateFormatter(date_format) if date_format else mdates.ConciseDateFormatter(locator)
        )
    else:
        ax.set_xlabel("point")
    ax.margins(x=0.02)
    sns.despine(ax=ax, left=True)
    if markers and is_date:
        _draw_markers(ax, markers)
    _stack_phase_labels(ax, phase_texts)
    labels = [phase_label(phase_labels, k) for k in range(1, len(phases))]
    return alt.attach(ax, alt.capability(result, title=title, unit=unit, grain=grain, phase_labels=labels))


def _stack_phase_labels(ax, texts) -> None:
    """Move phase labels that would overlap down a row (``style.stack_rows``): labels of changes close together are
    stacked, never drawn on top of each other. Widths are measured in the figure's own text metrics."""
    if len(texts) < 2:
        return
    fig = ax.figure
    # a bare Figure (the JupyterLab explorer's) has a canvas with no renderer: measure with Agg's
    canvas = fig.canvas if hasattr(fig.canvas, "get_renderer") else FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    axes_width = ax.get_window_extent(renderer).width or 1.0
    left, right = ax.get_xlim()
    starts, widths, heights = [], [], []
    for t in texts:
        box = t.get_window_extent(renderer)
        starts.append((float(ax.convert_xunits(t.xy[0])) - left) / ((right - left) or 1.0))
        widths.append(box.width / axes_width + 0.01)
        heights.append(box.height * 72 / fig.dpi)
    rows = stack_rows(starts, widths)
    row_height = max(heights) + 2
    for t, row in zip(texts, rows):
        t.xyann = (t.xyann[0], -3 - row * row_height)


_MARKER_PT = 16  #: a marker circle's size in points (its number at the type scale, with its pad)


def _below_axis(ax, gap: float = 4.0):
    """A transform whose origin is the axes' bottom left corner moved down, in points, past the x axis's tick labels
    and date offset (measured at the type scale), plus ``gap`` points: a legend anchored there stays under them
    whatever height the layout gives the axes later (an axes fraction, fixed before constrained layout shrinks the
    axes to make room for the legend, moved it up over the month labels)."""
    from matplotlib.transforms import ScaledTranslation

    fig = ax.figure
    canvas = fig.canvas if hasattr(fig.canvas, "get_renderer") else FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    axis, box = ax.xaxis.get_tightbbox(renderer), ax.get_window_extent(renderer)
    drop = (box.y0 - axis.y0) * 72 / fig.dpi if axis is not None else 2.2 * SMALL
    return ax.transAxes + ScaledTranslation(0, -(drop + gap) / 72, fig.dpi_scale_trans)


def _draw_markers(ax, markers) -> None:
    """Numbered circles at the foot of the plot at each marker's date (circles too close to sit side by side stand
    one above the other, ``style.stack_rows``), and a legend under the x axis's labels listing them (the words are
    text, never maths). The figure grows by the legend's height, so the plot keeps its own."""
    from matplotlib.lines import Line2D

    fig = ax.figure
    canvas = fig.canvas if hasattr(fig.canvas, "get_renderer") else FigureCanvasAgg(fig)
    left, right = ax.get_xlim()
    width_pt = ax.get_window_extent(canvas.get_renderer()).width * 72 / fig.dpi or 1.0
    dates = [mdates.date2num(m.date) for m in markers]
    starts = [(d - left) / ((right - left) or 1.0) for d in dates]
    levels = stack_rows(starts, [(_MARKER_PT + 1) / width_pt] * len(markers), gap=0)
    handles = []
    for m, at, level in zip(markers, dates, levels):
        ax.annotate(
            str(m.number),
            (at, 0),
            xycoords=("data", "axes fraction"),
            xytext=(0, 3 + _MARKER_PT * level),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=SMALL,
            color=CENTRE_COLOUR,
            bbox=dict(boxstyle="circle,pad=0.2", fc="white", ec=CENTRE_COLOUR, linewidth=0.8),
            gid=f"marker_{m.number}",
            annotation_clip=False,
        )
        handles.append(Line2D([], [], linestyle="none", marker=f"${m.number}$", color=CENTRE_COLOUR, markersize=8))
    legend = ax.legend(
        handles,
        [m.label for m in markers],
        loc="upper left",
        bbox_to_anchor=(0, 0),
        bbox_transform=_below_axis(ax),
        fontsize=SMALL,
        frameon=False,
        handletextpad=0.4,
        borderaxespad=0,
    )
    legend.set_gid("markers_legend")
    for text in legend.get_texts():
        text.set_parse_math(False)  # a "$" in the words is text
    if len(fig.axes) == 1:  # a chart of its own: room for the legend below, not taken from the plot
        height = legend.get_window_extent(canvas.get_renderer()).height / fig.dpi
        fig.set_size_inches(fig.get_figwidth(), fig.get_figheight() + height)


def _change_label(phase: dict, reading, *, latest: bool) -> tuple[str, str | None]:
    """The words under a phase line and the palette key of its box: the measure's reading at its latest phase (an
    earlier phase says nothing when a reading is given), else what the chart's change rule found."""
    if reading is not None:
        if not latest or not reading.change:
            return "", None
        return _READING_WORDS[reading.value]
    change = (phase.get("change") or {}).get("signal")
    return (_CHANGE_WORDS[change], change) if change else ("", None)


def signals_table(result: XmrResult) -> list[dict]:
    """The special-cause points of an ``spc.xmr`` result as JSON-able dicts (position, date, value, rule, signal)."""
    points = result.points
    special = points[points["rule"].notna()]
    out = []
    for pos, row in special.iterrows():
        out.append(
            {
                "position": int(pos),
                "date": pd.Timestamp(row["date"]).strftime("%Y-%m-%d") if result.has_dates else None,
                "value": float(row["value"]),
                "phase": int(row["phase"]),
                "rule": str(row["rule"]),
                "signal": str(row["signal"]),
            }
        )
    return out
