"""Small helpers a stage notebook calls to show things to people who don't code.

Everything shown is escaped HTML; figures are compact PNGs; key figures go to ``<stage>.json``.
"""

from __future__ import annotations

import html as _html
import os

import pandas as pd

from systemic_lib import words
from systemic_lib.data.stages import Stage, save_figures  # noqa: F401  (notebooks and tests use report.Stage)


def setup() -> None:
    """Plot style and output format shared by every notebook."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.95)
    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "figure.figsize": (9, 3.6),
            "savefig.bbox": "tight",
            "axes.titleweight": "bold",
        }
    )
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except ImportError:  # outside IPython
        pass
    if not interactive():
        _draw_each_figure_once()
    pd.set_option("display.max_columns", 30)


def _draw_each_figure_once() -> None:
    """In a batch kernel, draw each figure only for its PNG: pyplot redraws every open figure after each cell, which
    paints (or at least lays out) pixels nobody sees, before the inline backend draws the figure again, laid out and
    cropped, for its PNG. That redraw is removed; in JupyterLab it stays as it is."""
    import matplotlib.pyplot as plt

    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    plt.install_repl_displayhook()  # now, so that pyplot does not register its redraw later (it does so once)
    hooks = shell.events.callbacks.get("post_execute", [])
    if plt._draw_all_if_interactive in hooks:
        hooks.remove(plt._draw_all_if_interactive)


def html(markup: str) -> None:
    """Show markup the library built (already escaped, or from an autoescaping template) as it is."""
    _display(markup)


def _display(markup: str) -> None:
    try:
        from IPython.display import HTML, display

        display(HTML(markup))
    except ImportError:
        print(markup)


def esc(text) -> str:
    """Escape anything from data for HTML."""
    return _html.escape("" if text is None or (isinstance(text, float) and pd.isna(text)) else str(text))


def headline(text: str) -> None:
    """The stage's headline sentence, big and plain."""
    _display(f'<p class="headline">{esc(text)}</p>')


def note(text: str) -> None:
    _display(f'<p class="note">{esc(text)}</p>')


def heading(text: str, level: int = 2) -> None:
    _display(f"<h{level}>{esc(text)}</h{level}>")


def questions(items) -> None:
    """Questions for the team, as a list."""
    lis = "".join(f"<li>{esc(q)}</li>" for q in items)
    _display(f'<div class="questions"><h3>Questions for the team</h3><ol>{lis}</ol></div>')


def table(
    frame: pd.DataFrame,
    *,
    caption: str | None = None,
    max_rows: int = 30,
    percent: tuple = (),
    decimals: int = 1,
    formats: dict | None = None,
) -> None:
    """An escaped HTML table without the index, its cells formatted by ``words.format_frame``; a plain note when
    empty."""
    if frame.empty:
        _display(
            (f'<p class="caption">{esc(caption)}</p>' if caption else "")
            + '<p class="note">Nothing to show for this period.</p>'
        )
        return
    shown = words.format_frame(frame.head(max_rows), percent=percent, decimals=decimals, formats=formats)
    body = shown.to_html(index=False, escape=True, border=0, classes="data", na_rep=words.MISSING)
    cap = f'<p class="caption">{esc(caption)}</p>' if caption else ""
    more = f'<p class="note">Showing {max_rows} of {len(frame):,} rows.</p>' if len(frame) > max_rows else ""
    _display(cap + body + more)


def problems(items, *, title: str = "Data problems found") -> None:
    """List data problems (contract.Problem) in plain words; nothing if there are none."""
    items = list(items)
    if not items:
        return
    lis = "".join(f"<li>{esc(p.describe())}</li>" for p in items[:15])
    more = f"<li>... and {len(items) - 15} more</li>" if len(items) > 15 else ""
    _display(f'<div class="problems"><h3>{esc(title)}</h3><ul>{lis}{more}</ul></div>')


def start(
    council_dir, service=None, *, stage, period_start=None, period_end=None, output_dir=None, cache_dir=None
) -> Stage:
    """Set up plotting and open the stage's council and service: the first call of every notebook, with the
    notebook's parameters (``output_dir`` and ``cache_dir`` are set by the batch)."""
    setup()
    return Stage(council_dir, service, stage, period_start, period_end, output_dir, cache_dir)


def interactive() -> bool:
    """True in JupyterLab, False when papermill runs the notebook for a report (it sets SYSTEMIC_BATCH=1)."""
    return os.environ.get("SYSTEMIC_BATCH") != "1"
