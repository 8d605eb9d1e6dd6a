"""The organisation scan's charts: every service's demand, and its end-to-end days, side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.display.charts.style import PALETTE, empty, new_ax, short, tint

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
    ax = new_ax(ax, max(2.2, 0.4 * len(scan) + 1.2))
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
    ax.set_yticks(y, [short(n, 36) for n in scan["service_name"]])
    ax.invert_yaxis()
    for yi, (k, fp) in enumerate(zip(scan["contacts"], scan["failure_pct"])):
        ax.text(k, yi, f" {k:,}" + ("" if words.is_missing(fp) else f" ({fp:.0f}% failure)"), va="center", fontsize=8)
    ax.set_xlim(0, max(1, scan["contacts"].max()) * 1.35)
    ax.xaxis.set_major_formatter("{x:,.0f}")
    ax.set_xlabel("contacts")
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    ax.set_title(title)
    return ax


def end_to_end_chart(data, *, ax=None, title: str | None = None, period_text: str = ""):
    """Median and 85th-percentile end-to-end days per service in council.yaml (closed cases) as bars; returns the
    Axes."""
    known = _known(_table(data))
    ax = new_ax(ax, max(2.2, 0.4 * len(known) + 1.2))
    closed = int(np.nansum(known["closed_cases"].to_numpy(dtype=float))) if len(known) else 0
    when = f", {period_text}" if period_text else ""
    title = title or f"End-to-end days by service{when} ({closed:,} closed cases)"
    if not known["median_days"].notna().any():
        return empty(ax, title, "No end-to-end times recorded (no events with closed cases)")
    y = np.arange(len(known))
    p85 = known["p85_days"].fillna(0).to_numpy(dtype=float)
    med = known["median_days"].fillna(0).to_numpy(dtype=float)
    ax.barh(y, p85, color=P85_COLOUR, label="85% of cases within")
    ax.barh(y, med, color=PALETTE["value"], label="median", height=0.5)
    ax.set_yticks(y, [short(n, 36) for n in known["service_name"]])
    ax.invert_yaxis()
    for yi, (m, p) in enumerate(zip(known["median_days"], known["p85_days"])):
        text = (
            " no end-to-end times"
            if words.is_missing(m)
            else f" median {words.days(m)}, 85% within {words.days(p, missing=words.MISSING)}"
        )
        ax.text(0 if words.is_missing(p) else p, yi, text, va="center", fontsize=8)
    ax.set_xlim(0, max(1.0, float(np.nanmax(p85))) * 1.45)
    ax.set_xlabel("days from first to last step (closed cases)")
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    ax.set_title(title)
    return ax
