"""Demand joined to flow: the cost of waiting (failure contacts per case against weeks open, with the fitted line)
and design against demand (end-to-end median per value-demand type). Each draws what ``joined`` computed; the
jitter of the scatter is seeded, so a render gives the same picture every time. Demand-type names from data are
drawn as plain text: a ``$`` never starts mathtext."""

from __future__ import annotations

import numpy as np

from systemic_lib import words
from systemic_lib.analysis import joined
from systemic_lib.display.charts import alt
from systemic_lib.display.charts.style import PALETTE, SMALL, bars_height, empty, new_ax, wrap

__all__ = ["waiting_chart", "demand_types_chart", "plain"]


def plain(text) -> str:
    """Text from data as matplotlib draws it literally (``$`` escaped, so no mathtext)."""
    return str(text).replace("$", r"\$")


def waiting_chart(w: joined.Waiting, *, ax=None, title: str | None = None):
    """One dot per linked case: failure contacts while open (jittered up and down a little, the same every render)
    against weeks open; open cases hollow; the least-squares line where there is a rate. Returns the Axes."""
    ax = new_ax(ax, height=4.2)
    period = words.period(w.start, w.end)
    title = title or (
        f"Failure contacts per case against weeks open, {period} ({words.count(w.linked_cases, 'linked case')})"
    )
    if not w.linked_cases:
        return empty(ax, title, "No contact is linked to a case")
    f = w.per_case
    jitter = np.random.default_rng(0).uniform(-0.2, 0.2, len(f))
    x, y, is_open = (
        f["weeks_open"].to_numpy(float),
        f["failure_contacts"].to_numpy(float) + jitter,
        f["open"].to_numpy(bool),
    )
    ax.scatter(
        x[~is_open],
        y[~is_open],
        s=10,
        color=PALETTE["failure"],
        alpha=0.35,
        linewidths=0,
        label=f"finished case ({words.number(int((~is_open).sum()))})",
    )
    if is_open.any():
        ax.scatter(
            x[is_open],
            y[is_open],
            s=14,
            facecolors="none",
            edgecolors=PALETTE["ink"],
            linewidths=0.8,
            label=f"open case, weeks so far ({words.number(int(is_open.sum()))})",
        )
    if w.rate is not None and w.intercept is not None:
        xs = np.array([0.0, float(np.nanmax(x))])
        ax.plot(
            xs,
            w.intercept + w.rate * xs,
            color=PALETTE["centre"],
            lw=1.6,
            label=f"least-squares line: {w.rate:+.2f} failure contacts a week",
        )
    else:
        ax.text(
            0.99,
            0.95,
            f"Fewer than {joined.MIN_LINKED} linked cases: no line",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=SMALL,
            color=PALETTE["ink"],
        )
    ax.set_xlabel(
        "weeks open (to closing; an open case to "
        f"{words.date(w.end, short=True) if w.end is not None else 'the data end'})"
    )
    ax.set_ylabel("failure contacts while open")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=-0.5)
    ax.legend(loc="upper left", frameon=False, fontsize=SMALL)
    ax.set_title(title)
    return alt.attach(ax, alt.waiting(w, title=title))


def demand_types_chart(rows: list[dict], *, period: str = "", ax=None, title: str | None = None):
    """End-to-end median days (Kaplan–Meier) of the cases each value-demand type started, with cases, open cases
    and the share that followed the clean flow beside each bar. Returns the Axes."""
    labels = [plain(wrap(r["demand_type"])) for r in rows]
    ax = new_ax(ax, height=bars_height(labels))
    title = title or (
        f"End-to-end median by the demand that started the case{', ' + period if period else ''} "
        f"({sum(r['cases'] for r in rows):,} cases)"
    )
    if not rows:
        return empty(ax, title, "No case is linked to the demand that started it")
    y = np.arange(len(rows))
    med = [r["median_days"] if r["median_days"] is not None else (r["at_least"] or 0) for r in rows]
    ax.barh(y, med, color=PALETTE["value"])
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    for yi, (m, r) in enumerate(zip(med, rows)):
        clean = "" if r["clean_share"] is None else f", {words.share(r['clean_share'])} clean flow"
        more = "more than " if r["median_days"] is None and r["at_least"] is not None else ""
        ax.text(
            m,
            yi,
            f" {more}{words.duration(m)} ({words.count(r['cases'], 'case')}, {words.number(r['open'])} open{clean})",
            va="center",
            fontsize=SMALL,
        )
    ax.set_xlim(0, max(max(med), 1) * 1.9)
    ax.set_xlabel("end-to-end median, days (Kaplan–Meier, open cases counted as still waiting)")
    ax.set_title(title)
    return alt.attach(ax, alt.demand_types(rows, title=title))
