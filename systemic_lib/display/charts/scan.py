"""The organisation scan's charts: every service's demand, and its end-to-end days, side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.display.charts import alt
from systemic_lib.display.charts.style import PALETTE, SMALL, bars_height, empty, new_ax, tint, wrap

__all__ = ["demand_chart", "end_to_end_chart"]

#: The 85th-percentile bar behind the median's: a light tint of the value colour.
P85_COLOUR = tint(PALETTE["value"], 0.7)


def _table(data) -> pd.DataFrame:
    """The per-service table of ``scan.load``'s ScanData (or the table itself); charts read it, never import scan."""
    return getattr(data, "table", data)


def _known(scan: pd.DataFrame) -> pd.DataFrame:
    return scan[scan["known"]] if "known" in scan else scan


def demand_chart(data, *, ax=None, title: str | None = None, period_text: str = ""):
    """Every service's contacts as stacked bars (value, failure, unclassified) with its failure %; returns the Axes.
    ``data`` is ``scan.load``'s ScanData or its per-service table."""
    scan = _table(data)
    labels = [wrap(n, 24) for n in scan["service_name"]]
    ax = new_ax(ax, bars_height(labels))
    when = f", {period_text}" if period_text else ""
    title = title or f"Demand by service{when} ({int(scan['contacts'].sum()):,} contacts)"
    if scan.empty or scan["contacts"].sum() == 0:
        return empty(ax, title, "No contacts recorded")
    y = np.arange(len(scan))
    left = np.zeros(len(scan))
    for klass in ("value", "failure", "unclassified"):
        ax.barh(
            y,
            scan[klass],
            left=left,
            color=PALETTE[klass],
            label=f"{klass} demand" if klass != "unclassified" else klass,
        )
        left += scan[klass].to_numpy()
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    for yi, (k, fp) in enumerate(zip(scan["contacts"], scan["failure_pct"])):
        ax.text(
            k, yi, f" {k:,}" + ("" if words.is_missing(fp) else f" ({fp:.0f}% failure)"), va="center", fontsize=SMALL
        )
    ax.set_xlim(0, max(1, scan["contacts"].max()) * 1.45)
    ax.xaxis.set_major_formatter("{x:,.0f}")
    ax.set_xlabel("contacts")
    ax.legend(loc="lower right", frameon=False, fontsize=SMALL)
    ax.set_title(title)
    return alt.attach(ax, alt.services_demand(scan, title=title))


def _days_text(days, at_least) -> str:
    """'28', or 'more than 120' where more than half (or 15%) of the cases are still open."""
    if not words.is_missing(days):
        return words.days(days)
    return words.MISSING if words.is_missing(at_least) else f"more than {words.days(at_least)}"


def _name(row) -> str:
    since = getattr(row, "experiment_since", None)
    return wrap(str(row.service_name) + (" (experiment)" if since and not words.is_missing(since) else ""), 24)


def end_to_end_chart(data, *, ax=None, title: str | None = None, period_text: str = ""):
    """Median and 85th-percentile end-to-end days per service in council.yaml as bars: Kaplan–Meier from the
    citizen's first contact to the case closing, open cases counted as still waiting ("more than N" where not
    reached); a service where an experiment team works is marked. Returns the Axes."""
    known = _known(_table(data))
    labels = [_name(r) for r in known.itertuples(index=False)]
    ax = new_ax(ax, bars_height(labels))
    cases = int(np.nansum(known["cases"].to_numpy(dtype=float))) if len(known) else 0
    still = int(np.nansum(known["open_cases"].to_numpy(dtype=float))) if len(known) else 0
    when = f", {period_text}" if period_text else ""
    title = title or f"End-to-end days by service{when} ({cases:,} cases, {still:,} still open)"
    at_least = known["median_at_least"] if "median_at_least" in known else pd.Series(np.nan, index=known.index)
    p85_least = known["p85_at_least"] if "p85_at_least" in known else pd.Series(np.nan, index=known.index)
    if not (known["median_days"].notna() | at_least.notna()).any():
        return empty(ax, title, "No end-to-end times recorded (no cases with a start and an end)")
    y = np.arange(len(known))
    p85 = known["p85_days"].fillna(p85_least).fillna(0).to_numpy(dtype=float)
    med = known["median_days"].fillna(at_least).fillna(0).to_numpy(dtype=float)
    ax.barh(y, p85, color=P85_COLOUR, label="85% of cases within")
    ax.barh(y, med, color=PALETTE["value"], label="median", height=0.5)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    for yi, (m, ma, p, pa) in enumerate(zip(known["median_days"], at_least, known["p85_days"], p85_least)):
        text = (
            " no end-to-end times"
            if words.is_missing(m) and words.is_missing(ma)
            else f" median {_days_text(m, ma)}, 85% within {_days_text(p, pa)}"
        )
        ax.text(p85[yi], yi, text, va="center", fontsize=SMALL)
    ax.set_xlim(0, max(1.0, float(np.nanmax(p85))) * 1.6)
    ax.set_xlabel("days from the citizen's first contact to the case closing (open cases counted as still waiting)")
    ax.legend(loc="lower right", frameon=False, fontsize=SMALL)
    ax.set_title(title)
    return alt.attach(ax, alt.services_end_to_end(known, title=title))
