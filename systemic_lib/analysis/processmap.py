"""What a process map shows: the activities and paths kept at a coverage (as Disco's sliders do), and its caption.

Analysis only: it reads a ``flow.FlowLog`` (flow never imports this module). Drawing is ``charts/processmap.py``
(``process_map``, ``render_png``, ``dot_available``) and showing it in a report ``sections/flow.py``
(``show_process_map``); those old names stay importable from here for notebooks written before the split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.analysis.flow import as_log

__all__ = ["START", "END", "map_elements", "map_caption"]

START, END = "▶ Start", "■ End"


def map_elements(
    data, *, coverage: float = 0.8, max_activities: int | None = 30, catalogue: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The nodes and arrows a map shows at a given coverage.

    Keeps the most frequent activities that together make up ``coverage`` of all steps (at most
    ``max_activities``), then the most frequent paths between them, plus the arrows from Start and to End, that
    make up ``coverage`` of those moves; every kept activity keeps its busiest way in and out so nothing floats.
    Returns ``nodes`` (activity, events, cases, starts, ends, step_type, category) and ``edges`` (from_activity,
    to_activity, count, cases, median_wait_days).
    """
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must be a share between 0 (exclusive) and 1, not {coverage}")
    log = as_log(data, catalogue)
    stats = log.activity_stats  # sorted by events, most first
    if stats.empty:
        return stats, log.directly_follows.iloc[:0]
    share = stats["events"].cumsum() / stats["events"].sum()
    n_keep = int(np.searchsorted(share.to_numpy(), coverage - 1e-12) + 1)
    if max_activities:
        n_keep = min(n_keep, max_activities)
    nodes = stats.head(n_keep)
    kept = set(nodes["activity"])
    dfg = log.directly_follows
    inner = dfg[dfg["from_activity"].isin(kept) & dfg["to_activity"].isin(kept)]
    terminal = pd.concat(
        [
            pd.DataFrame(
                {
                    "from_activity": START,
                    "to_activity": nodes["activity"],
                    "count": nodes["starts"],
                    "cases": nodes["starts"],
                    "median_wait_days": np.nan,
                }
            ),
            pd.DataFrame(
                {
                    "from_activity": nodes["activity"],
                    "to_activity": END,
                    "count": nodes["ends"],
                    "cases": nodes["ends"],
                    "median_wait_days": np.nan,
                }
            ),
        ]
    )
    terminal = terminal[terminal["count"] > 0]
    pool = pd.concat([inner, terminal], ignore_index=True).sort_values(
        "count", ascending=False, kind="stable", ignore_index=True
    )
    if pool.empty:
        return nodes.reset_index(drop=True), pool
    cum = pool["count"].cumsum() / pool["count"].sum()
    keep = np.zeros(len(pool), bool)
    keep[: int(np.searchsorted(cum.to_numpy(), coverage - 1e-12) + 1)] = True
    # Connectivity: each kept activity keeps its busiest arrow in and its busiest arrow out.
    busiest_in = pool.groupby("to_activity", sort=False)["count"].idxmax()
    busiest_out = pool.groupby("from_activity", sort=False)["count"].idxmax()
    keep[busiest_in.reindex(list(kept)).dropna().astype(int).to_numpy()] = True
    keep[busiest_out.reindex(list(kept)).dropna().astype(int).to_numpy()] = True
    return nodes.reset_index(drop=True), pool[keep].reset_index(drop=True)


def map_caption(data, *, coverage: float = 0.8, max_activities: int | None = 30, period: str = "") -> str:
    """The sentence under a map: what it keeps, out of how many, for which period and how many cases."""
    log = as_log(data)
    nodes, edges = map_elements(log, coverage=coverage, max_activities=max_activities)
    n_act = len(log.activity_labels)
    inner = edges[~edges["from_activity"].eq(START) & ~edges["to_activity"].eq(END)]
    shown = nodes["events"].sum() / max(log.n_events, 1)
    when = f", {period}" if period else ""
    return (
        f"Process map{when} ({log.n_cases:,} cases, {log.n_events:,} steps). It shows the {len(nodes)} most "
        f"frequent of {n_act} activities ({words.share(shown)} of all steps) and {len(inner)} of "
        f"{len(log.directly_follows)} paths between them. Boxes: how often each step happened (blue = value step, "
        "orange = waste step, grey = not in the activity catalogue). Arrows: how often one step came straight "
        "after another, and the median wait between them."
    )
