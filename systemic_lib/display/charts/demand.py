"""The demand stage's charts: the Pareto of demand types, failure demand by type, the channel mix and weekly demand
on a capability chart. Each takes the demand table (the contacts) and draws what ``demand``'s analysis functions
give; each title says the period and the count. With nothing to draw, the Axes says so in words."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from systemic_lib.analysis import demand
from systemic_lib.analysis.demand import UNCLASSIFIED
from systemic_lib.display.charts import alt
from systemic_lib.display.charts.capability import capability_chart
from systemic_lib.display.charts.style import PALETTE, SMALL, bars_height, empty, new_ax, wrap
from systemic_lib.errors import SystemicError

__all__ = ["pareto_chart", "failure_types_chart", "channel_chart", "weekly_chart"]

_CLASSES = ("value", "failure", UNCLASSIFIED)


def _label(klass: str) -> str:
    return f"{klass} demand" if klass != UNCLASSIFIED else klass


def pareto_chart(data: pd.DataFrame, *, top: int = 15, ax=None, title: str | None = None, team_only: bool = False):
    """The Pareto of demand types: one bar per type, most frequent first, split into value, failure and not yet
    classified contacts (so a type's unclassified contacts sit on its own bar, not on a second one); returns the Axes.
    ``team_only`` leaves out the contacts a rule classified: the team's own judgement (the title says how many)."""
    wide = demand.demand_types(data, team_only=team_only)
    shown = wide.head(top)
    labels = [wrap(t) for t in shown["demand_type"]]
    ax = new_ax(ax, height=bars_height(labels, least=2.5))
    kept = len(demand.by_team(data)) if team_only else len(data)
    whose = f"; the team's judgement only, {len(data) - kept:,} classified by rules left out" if team_only else ""
    title = title or (
        f"Top {len(shown)} of {len(wide)} demand types, {demand.period_caption(data)} ({kept:,} contacts{whose})"
    )
    if shown.empty:
        return empty(ax, title, "No contacts in this period")
    y = np.arange(len(shown))
    left = np.zeros(len(shown))
    for klass in _CLASSES:
        counts = shown[klass].to_numpy()
        if counts.any():
            ax.barh(y, counts, left=left, color=PALETTE[klass], gid=f"bars_{klass}")
        left += counts
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    for yi, (k, p, cp) in enumerate(zip(shown["total"], shown["pct"], shown["cumulative_pct"])):
        ax.text(k, yi, f" {k:,} ({p:.0f}%, cum. {cp:.0f}%)", va="center", fontsize=SMALL)
    ax.set_xlim(0, shown["total"].max() * 1.45)
    ax.set_xlabel("contacts")
    present = {k for k in _CLASSES if shown[k].any()}
    ax.legend(
        handles=[Patch(color=PALETTE[c], label=_label(c)) for c in _CLASSES if c in present],
        loc="lower right",
        frameon=False,
        fontsize=SMALL,
    )
    ax.set_title(title)
    return alt.attach(ax, alt.pareto(shown, title=title))


def failure_types_chart(data: pd.DataFrame, *, ax=None, title: str | None = None):
    """Failure demand by failure type as horizontal bars; returns the Axes."""
    table = demand.failure_types(data)
    ax = new_ax(ax, height=bars_height(table["failure_type"]))
    title = title or (
        f"Failure demand by type, {demand.period_caption(data)} ({int(table['contacts'].sum()):,} failure contacts)"
    )
    if table.empty:
        return empty(ax, title, "No failure demand classified in this period")
    y = np.arange(len(table))
    ax.barh(y, table["contacts"], color=PALETTE["failure"])
    ax.set_yticks(y, table["failure_type"])
    ax.invert_yaxis()
    for yi, (k, p) in enumerate(zip(table["contacts"], table["pct"])):
        ax.text(k, yi, f" {k:,} ({p:.0f}%)", va="center", fontsize=SMALL)
    ax.set_xlim(0, table["contacts"].max() * 1.3)
    ax.set_xlabel("failure demand contacts")
    ax.set_title(title)
    return alt.attach(ax, alt.failure_types(table, title=title))


def channel_chart(data: pd.DataFrame, *, ax=None, title: str | None = None):
    """Channel mix as stacked bars (value, failure, unclassified) with each channel's failure %; returns the Axes."""
    table = demand.channel_mix(data)
    ax = new_ax(ax, height=bars_height(table["channel"]))
    title = title or f"Contacts by channel, {demand.period_caption(data)} ({len(data):,} contacts)"
    if table.empty:
        return empty(ax, title, "No contacts in this period")
    y = np.arange(len(table))
    left = np.zeros(len(table))
    for klass in _CLASSES:
        ax.barh(y, table[klass], left=left, color=PALETTE[klass], label=_label(klass))
        left += table[klass].to_numpy()
    ax.set_yticks(y, table["channel"])
    ax.invert_yaxis()
    for yi, (k, fp) in enumerate(zip(table["contacts"], table["failure_pct"])):
        ax.text(k, yi, f" {k:,}" + ("" if np.isnan(fp) else f" ({fp:.0f}% failure)"), va="center", fontsize=SMALL)
    ax.set_xlim(0, table["contacts"].max() * 1.45)
    ax.set_xlabel("contacts")
    ax.legend(loc="lower right", frameon=False, fontsize=SMALL)
    ax.set_title(title)
    return alt.attach(ax, alt.channels(table, title=title))


def weekly_chart(data: pd.DataFrame, *, measure: str = "contacts", ax=None, title: str | None = None, changes=()):
    """Weekly demand on a capability chart (``demand.weekly_capability``): ``measure`` is "contacts" (demand per
    week) or "failure_pct" (weekly failure demand %, lower is better). ``changes`` are the known system changes
    (council.yaml ``system_changes``): a new phase starts at each. Returns the Axes."""
    if measure not in ("contacts", "failure_pct"):
        raise SystemicError("weekly_chart measure must be 'contacts' or 'failure_pct'")
    table = demand.weekly(data)
    what = "Contacts per week" if measure == "contacts" else "Failure demand % per week (of classified contacts)"
    title = title or (f"{what}, {demand.period_caption(data)} ({len(data) - demand.undated(data):,} dated contacts)")
    if table[measure].notna().sum() < 2:
        return empty(new_ax(ax), title, "Fewer than two weeks of data: no chart yet")
    chart, inside = demand.weekly_capability(table, measure=measure, changes=changes)
    return capability_chart(
        chart,
        ax=ax,
        title=title,
        unit="contacts" if measure == "contacts" else "%",
        phase_labels=[c.label for c in inside] or None,
    )
