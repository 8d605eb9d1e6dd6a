"""Small helpers a stage notebook calls to show things to people who don't code.

Everything shown is escaped HTML; key figures go to ``<stage>.json``. A chart is shown as a figure: inline SVG with
its text alternative (``charts.alt``: the chart's title and key figures, from the same result it draws) as its
accessible name, and the table behind it in a ``<details>`` a reader can open.
"""

from __future__ import annotations

import html as _html
import itertools
import os

import pandas as pd

from systemic_lib import words
from systemic_lib.data.stages import Stage, save_figures  # noqa: F401  (notebooks and tests use report.Stage)
from systemic_lib.display import svg as _svg
from systemic_lib.display.charts import alt as _alt
from systemic_lib.display.charts.style import FONT_SIZES, fit_titles


def setup() -> None:
    """Plot style (the type scale of ``charts/style.py``) and output format shared by every notebook: each figure is
    shown as ``figure_html`` (an SVG with its text alternative and data table), not as a PNG."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "figure.figsize": (9, 3.6),
            "savefig.bbox": "tight",
            "axes.titleweight": "bold",
        }
    )
    mpl.rcParams.update(FONT_SIZES)
    _show_figures_as_html()
    if not interactive():
        _draw_each_figure_once()
    pd.set_option("display.max_columns", 30)


def _show_figures_as_html() -> None:
    """In IPython, a matplotlib figure displays as ``chart_html(fig)`` and as nothing else (no PNG beside it)."""
    try:
        import matplotlib_inline.backend_inline  # noqa: F401  (its import sets up the inline backend first)
        from IPython import get_ipython
    except ImportError:  # outside IPython
        return
    shell = get_ipython()
    if shell is None:
        return
    from matplotlib.figure import Figure

    formatters = shell.display_formatter.formatters
    for formatter in formatters.values():
        formatter.pop(Figure, None)
    formatters["text/html"].for_type(Figure, chart_html)


_FIGURE_IDS = itertools.count(1)


def figure_html(svg: str, descriptions, *, cls: str = "chart") -> str:
    """A chart as a page shows it: ``<figure>`` holding the SVG, named by the descriptions' alt text (``charts.alt``),
    then each description's data table in a ``<details>``."""
    descriptions = list(descriptions)
    label = " ".join(d.alt for d in descriptions) or "Chart"
    body = _svg.for_page(svg, prefix=f"chart{next(_FIGURE_IDS)}", label=label)
    tables = "".join(
        f'<details class="chart-data"><summary>{esc(d.caption or "The figures in this chart")}</summary>'
        f"{table_html(d.table, max_rows=_alt.MAX_TABLE_ROWS, decimals=1)}</details>"
        for d in descriptions
        if d.table is not None and not d.table.empty
    )
    return f'<figure class="{cls}">{body}{tables}</figure>'


def chart_html(fig) -> str:
    """A matplotlib figure as ``figure_html``; a figure no chart described is named by its titles."""
    descriptions = _alt.of(fig) or [
        _alt.Description(_alt.plain_title(" ".join(a.get_title() or a.get_title("left") for a in fig.axes)) or "Chart")
    ]
    fit_titles(fig)
    return figure_html(_svg.figure_svg(fig), descriptions)


def picture(svg: str, description, *, cls: str = "chart") -> None:
    """Show an SVG drawn elsewhere (a Graphviz process map) as ``figure_html`` with its description."""
    _display(figure_html(svg, [description], cls=cls))


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


def findings(found, *, purpose: str | None = None, purposes: dict | None = None) -> None:
    """The opening of every page, under its title: the service's purpose in the citizen's terms (``purpose``), or
    each service's (``purposes``: name -> purpose, for the organisation scan), then "What we found": the page's
    findings, plain sentences with their counts and periods."""
    said = ""
    if purpose:
        said = f'<p class="purpose"><span class="label">Purpose</span> \u201c{esc(purpose)}\u201d</p>'
    items = "".join(f"<li>{esc(s)}</li>" for s in found if s)
    listed = ""
    if purposes:
        rows = "".join(f"<dt>{esc(name)}</dt><dd>\u201c{esc(p)}\u201d</dd>" for name, p in purposes.items() if p)
        listed = f'<details class="purposes"><summary>What each service is for</summary><dl>{rows}</dl></details>'
    _display(
        f'<section class="opening" aria-labelledby="what-we-found">{said}'
        f'<h2 id="what-we-found">What we found</h2><ul class="found">{items}</ul>{listed}</section>'
    )


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
    cap = f'<p class="caption">{esc(caption)}</p>' if caption else ""
    _display(cap + table_html(frame, max_rows=max_rows, percent=percent, decimals=decimals, formats=formats))


def table_html(
    frame: pd.DataFrame, *, max_rows: int = 30, percent: tuple = (), decimals: int = 1, formats: dict | None = None
) -> str:
    """``frame`` as an escaped HTML table (cells by ``words.format_frame``), with a note when rows are left out."""
    shown = words.format_frame(frame.head(max_rows), percent=percent, decimals=decimals, formats=formats)
    body = shown.to_html(index=False, escape=True, border=0, classes="data", na_rep=words.MISSING)
    more = f'<p class="note">Showing {max_rows} of {len(frame):,} rows.</p>' if len(frame) > max_rows else ""
    return body + more


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
