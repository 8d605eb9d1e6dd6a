"""Experiment charts: each measure before and after the experiment started, and how each cohort's cases spread.

Drawn from the analysis (``experiment.over_time``, ``experiment.spread``); the cohorts keep their colours from the
one palette (``PALETTE["baseline"]``, ``PALETTE["experiment"]``) on every page.
"""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import seaborn as sns

from systemic_lib import words
from systemic_lib.analysis.experiment import Cohorts, OverTime, Spread, over_time, spread
from systemic_lib.analysis.experiment.comparison import MEASURES
from systemic_lib.data.contract import COHORTS
from systemic_lib.display.charts import alt
from systemic_lib.display.charts.capability import capability_chart
from systemic_lib.display.charts.style import PALETTE, SMALL, bars_height, empty, new_ax, same_jitter, tint, wrap

__all__ = [
    "COHORT_COLOURS",
    "before_after_chart",
    "distribution_chart",
    "distribution_charts",
    "demand_mix_chart",
    "emerging_demand_chart",
    "volume_chart",
]

COHORT_COLOURS = {c: PALETTE[c] for c in COHORTS}
_SHADES = (0.0, 0.3, 0.5, 0.65, 0.78)  #: value demand types in tints of the one value colour, most first
_MEASURES = {m.id: m for m in MEASURES}


def before_after_chart(
    data,
    *,
    measure: str = "end_to_end_days",
    start=None,
    ax=None,
    title: str | None = None,
    label: str = "Experiment started",
):
    """Capability chart of a per-case measure, cases in order of completion (``endtoend.completion_order``), phased
    at the first case completed on or after the experiment start; returns the Axes.

    ``data`` is an :func:`experiment.over_time` result, or the cohorts (or a per-case frame) to take one from for
    ``measure`` and ``start``. The experiment team's cases are ringed when the old system is still finishing cases.
    """
    result = data if isinstance(data, OverTime) else over_time(data, measure=measure, start=start)
    m = _MEASURES.get(result.measure)
    name = m.name if m else result.measure
    unit = "% of hours" if result.measure == "face_to_face" else (m.unit if m else None)
    if title is None:
        title = (
            f"{name} per case by completion date, {words.period(result.first, result.last)} ({result.cases:,} cases)"
        )
    chart = result.chart
    labels = None
    if len(result.phases) > 1:  # the phase starts at the first case completed on or after the experiment start
        first = chart["completed_at"].iloc[int(result.phases[1]["start"])]
        labels = [f"{label} (from the case completed {words.date(first, short=True)})"]
    ax = capability_chart(result.capability, ax=ax, title=title, unit=unit, phase_labels=labels, grain="case")
    ax.set_xlabel(
        f"compared cases in order of completion (the first on {words.date(result.first, short=True)}, "
        f"the last on {words.date(result.last, short=True)})"
    )
    team = chart["cohort"].eq("experiment").to_numpy()
    if team.any() and not team.all():
        ax.scatter(
            chart["position"].to_numpy()[team],
            chart["value"].to_numpy()[team],
            s=40,
            facecolors="none",
            edgecolors=PALETTE["centre"],
            linewidths=0.6,
            zorder=4,
            label="experiment team's case",
            gid="team_cases",
        )
        ax.legend(loc="upper left", fontsize=SMALL, frameon=True, framealpha=0.85)
    return ax


def distribution_chart(data, *, measure: str | None = None, ax=None, title: str | None = None):
    """Each cohort's cases on one measure (box and points; a bar of the share for demand returns); returns the Axes.

    ``data`` is an :func:`experiment.spread` result, or the cohorts (or a per-case frame) to take one from."""
    if not isinstance(data, Spread):
        if measure is None:
            raise ValueError("distribution_chart draws an experiment.spread result, or the cohorts and a measure")
        data = spread(data, measure=measure)
    s = data
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3))
    period = f"{words.period(s.first, s.last)}, " if s.first is not None else ""
    if s.shares is not None:
        shares = s.shares.fillna(0)
        ax.bar(list(COHORTS), shares.to_numpy(), color=[COHORT_COLOURS[c] for c in COHORTS])
        ax.set_ylim(0, 100)
        for i, c in enumerate(COHORTS):
            txt = f"{words.percent(s.shares[c])} of {s.counts[c]}" if s.counts[c] else "none judged"
            ax.annotate(
                txt, (i, shares[c]), ha="center", va="bottom", fontsize=SMALL, xytext=(0, 2), textcoords="offset points"
            )
    elif len(s.values):
        with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib 3.11 a deprecated boxplot argument
            warnings.simplefilter("ignore", DeprecationWarning)
            sns.boxplot(
                data=s.values,
                x="cohort",
                y="value",
                order=list(COHORTS),
                hue="cohort",
                palette=COHORT_COLOURS,
                ax=ax,
                showfliers=False,
                width=0.5,
                legend=False,
            )
        with same_jitter():  # the same dots in the same places on every render
            sns.stripplot(
                data=s.values,
                x="cohort",
                y="value",
                order=list(COHORTS),
                color=PALETTE["centre"],
                size=3,
                alpha=0.6,
                jitter=0.2,
                ax=ax,
            )
    ax.set_ylabel(s.unit)
    ax.set_xlabel("")
    ax.set_xticks(range(len(COHORTS)), [f"{c}\n({s.counts.get(c, 0):,} cases)" for c in COHORTS])
    title = title or f"{s.measure.name}\n{period}{s.cases}"
    ax.set_title(title, loc="left")
    return alt.attach(ax, alt.spread(s, title=title))


def distribution_charts(data: Cohorts, *, measures=None, columns: int = 2):
    """Small multiples of :func:`distribution_chart`, one per measure; returns the array of Axes."""
    ids = list(measures or [m.id for m in MEASURES])
    rows = -(-len(ids) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(9, 3.4 * rows), layout="constrained", squeeze=False)
    for ax, mid in zip(axes.flat, ids):
        distribution_chart(data, measure=mid, ax=ax)
    for ax in axes.flat[len(ids) :]:
        ax.set_visible(False)
    return axes


def demand_mix_chart(mix, *, top: int = 12, ax=None, title: str | None = None):
    """Each cohort's compared cases by demand type (% of the cohort's cases with a type), side by side; returns the
    Axes. ``mix`` is an ``experiment.DemandMix``."""
    import numpy as np

    table = mix.table.head(top)
    labels = [wrap(t) for t in table["demand_type"]]
    ax = new_ax(ax, height=bars_height(labels, per_bar=0.3, least=2.5))
    title = title or (
        f"Demand mix of each cohort ({mix.typed.get('baseline', 0):,} baseline and "
        f"{mix.typed.get('experiment', 0):,} experiment cases with a demand type)"
    )
    if table.empty:
        return empty(ax, title, "No compared case has a demand type")
    y = np.arange(len(table))
    for k, cohort in enumerate(COHORTS):
        pct = table[f"{cohort}_pct"].fillna(0).to_numpy()
        ax.barh(y + (k - 0.5) * 0.4, pct, height=0.4, color=COHORT_COLOURS[cohort], label=cohort)
        for yi, p in zip(y, pct):
            ax.text(p, yi + (k - 0.5) * 0.4, f" {p:.0f}%", va="center", fontsize=SMALL)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel("% of the cohort's cases")
    ax.legend(loc="lower right", frameon=False, fontsize=SMALL)
    ax.set_title(title)
    return alt.attach(ax, alt.demand_mix(table, title=title))


def emerging_demand_chart(ns, *, top: int = 5, ax=None, title: str | None = None):
    """A new service's contacts week by week since its start, stacked by demand type (the ``top`` value demand
    types in shades of the value colour, the rest together), its own failure demand in the failure colour on top;
    returns the Axes. ``ns`` is an ``experiment.NewService``."""
    import numpy as np

    weekly = ns.weekly
    ax = new_ax(ax)
    title = title or (
        f"Contacts a week by demand type since {words.date(ns.start)} ({ns.contacts:,} contacts, {len(weekly):,} weeks)"
    )
    if weekly.empty:
        return empty(ax, title, "No contacts recorded since the start")
    value_types = [c for c in weekly.columns if c not in ("week", "not yet classified", "failure demand")]
    series = {t: (weekly[t], tint(PALETTE["value"], shade)) for t, shade in zip(value_types[:top], _SHADES)}
    if len(value_types) > top:
        series["other value demand"] = (weekly[value_types[top:]].sum(axis=1), tint(PALETTE["value"], 0.9))
    if weekly["not yet classified"].any():
        series["not yet classified"] = (weekly["not yet classified"], PALETTE["unclassified"])
    series["failure demand (its own)"] = (weekly["failure demand"], PALETTE["failure"])
    x = np.arange(len(weekly))
    bottom = np.zeros(len(weekly))
    for name, (values, colour) in series.items():
        values = values.to_numpy(dtype=float)
        ax.bar(x, values, bottom=bottom, color=colour, edgecolor="white", linewidth=0.5, label=wrap(name, 28))
        bottom += values
    step = max(1, -(-len(weekly) // 8))
    ax.set_xticks(x[::step], [f"{d.day} {d:%b}" for d in weekly["week"].iloc[::step]])
    ax.set_xlabel("week beginning")
    ax.set_ylabel("contacts")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=SMALL)
    ax.set_title(title)
    return alt.attach(ax, alt.emerging_demand(weekly, title=title))


def volume_chart(ns, *, ax=None):
    """A new service's weekly contacts on a capability chart, a phase at each change the team recorded; None with
    fewer than two whole weeks."""
    if ns.volume is None:
        return None
    weeks = ns.volume_weeks
    title = (
        f"Contacts a week since {words.date(ns.start)} ({len(weeks):,} whole weeks, "
        f"{int(weeks['value'].sum()):,} contacts)"
    )
    return capability_chart(ns.volume, ax=ax, title=title, unit="contacts", phase_labels=ns.volume_labels or None)
