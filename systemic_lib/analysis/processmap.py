"""What a process map shows: the activities and paths kept at a coverage (as Disco's sliders do), and its caption.

A map must not hide the waste it exists to show (issue 19). So, whatever the coverage:

* every **waste step that at least 5% of cases pass through** (``WASTE_SHARE``) is drawn, beside the busiest
  activities that make up the coverage of all steps; every activity left out is listed with the cases it touches
  (``MapView.hidden``, ``flow.json``'s ``map.steps_hidden``);
* the arrows are the directly-follows moves **between the activities drawn**: a case that goes through a step not
  drawn moves straight on to its next drawn step (a dotted arrow), so each box's arrows in and out add up to the box
  (its steps, with the arrows from Start and to End);
* every path between drawn steps that at least 5% of cases take is drawn (``PATH_SHARE``: a rework loop is never
  hidden by the coverage); where the coverage leaves rarer arrows out, the caption says how many moves they carry,
  so a box's arrows add up to less than the box for a reason the reader is told.

Analysis only: it reads a ``flowlog.FlowLog`` (or a ``flow.FlowData``'s ``log``). Drawing is
``charts/processmap.py`` and showing it in a report ``sections/flow.py`` (``show_process_map``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.analysis.flowlog import FlowLog

__all__ = ["START", "END", "WASTE_SHARE", "PATH_SHARE", "MapView", "map_view", "map_elements", "map_caption", "figures"]

START, END = "▶ Start", "■ End"
#: A waste step at least this share of cases pass through is always drawn, whatever the coverage.
WASTE_SHARE = 0.05
#: A path between two drawn steps that at least this share of cases take is always drawn, whatever the coverage.
PATH_SHARE = 0.05
_NS_PER_DAY = 86_400e9


def _as_log(data, catalogue: pd.DataFrame | None = None) -> FlowLog:
    """The ``FlowLog`` of a ``flow.FlowData`` (its ``log``), a log itself, or one prepared from an events frame."""
    if isinstance(data, FlowLog):
        return data
    log = getattr(data, "log", None)
    return log if isinstance(log, FlowLog) else FlowLog(data, catalogue=catalogue)


@dataclass
class MapView:
    """What a map draws at one coverage: ``nodes`` (activity, events, cases, starts, ends, step_type, category),
    ``edges`` (from_activity, to_activity, count, cases, median_wait_days, via_hidden: the moves that passed through
    steps not drawn), ``hidden`` (the activities left out: activity, events, cases, step_type), the coverage, the
    cases and steps of the log, ``moves`` (every move between drawn boxes, Start and End included) and
    ``moves_drawn`` (those on the arrows kept), and ``forced`` (waste steps drawn only because of ``WASTE_SHARE``)."""

    nodes: pd.DataFrame
    edges: pd.DataFrame
    hidden: pd.DataFrame
    coverage: float
    n_cases: int
    n_events: int
    n_activities: int
    moves: int = 0
    moves_drawn: int = 0
    forced: tuple = ()
    paths: int = 0  #: arrows there would be with none left out

    @property
    def arrows_add_up(self) -> bool:
        return self.moves_drawn == self.moves

    @property
    def paths_left_out(self) -> int:
        return self.paths - len(self.edges)


def _chosen(log: FlowLog, coverage: float, max_activities: int | None) -> tuple[pd.DataFrame, tuple]:
    """The activities drawn: the busiest making up ``coverage`` of all steps (at most ``max_activities``), then
    every waste activity at least ``WASTE_SHARE`` of cases pass through; and the names of those added for it."""
    stats = log.activity_stats  # sorted by events, most first
    share = stats["events"].cumsum() / stats["events"].sum()
    n_keep = int(np.searchsorted(share.to_numpy(), coverage - 1e-12) + 1)
    if max_activities:
        n_keep = min(n_keep, max_activities)
    busy = np.zeros(len(stats), bool)
    busy[:n_keep] = True
    waste = (stats["step_type"].eq("waste") & (stats["cases"] >= WASTE_SHARE * max(log.n_cases, 1))).to_numpy()
    forced = tuple(stats.loc[waste & ~busy, "activity"])
    return stats[busy | waste], forced


def _moves(log: FlowLog, kept_codes: np.ndarray) -> pd.DataFrame:
    """Every move between drawn activities (and from Start, to End), one row per move: from and to (activity codes,
    -1 for Start, -2 for End), the case, the wait in days and whether it skipped steps not drawn."""
    idx = np.flatnonzero(np.isin(log.act, kept_codes))
    if not len(idx):
        return pd.DataFrame({"a": [], "b": [], "case": [], "wait": [], "via": []})
    ci, act, ts = log.case_index[idx], log.act[idx], log.ts[idx]
    first = np.r_[True, ci[1:] != ci[:-1]]
    last = np.r_[ci[1:] != ci[:-1], True]
    inner = ~first[1:]  # consecutive drawn steps of one case
    return pd.concat(
        [
            pd.DataFrame(  # Start -> the first drawn step: skipped steps if the case began with one not drawn
                {
                    "a": -1,
                    "b": act[first],
                    "case": ci[first],
                    "wait": np.nan,
                    "via": idx[first] != log.starts[ci[first]],
                }
            ),
            pd.DataFrame(
                {
                    "a": act[:-1][inner],
                    "b": act[1:][inner],
                    "case": ci[1:][inner],
                    "wait": (ts[1:] - ts[:-1])[inner] / _NS_PER_DAY,
                    "via": (idx[1:] - idx[:-1])[inner] > 1,
                }
            ),
            pd.DataFrame(
                {"a": act[last], "b": -2, "case": ci[last], "wait": np.nan, "via": idx[last] != log.ends[ci[last]] - 1}
            ),
        ],
        ignore_index=True,
    )


def _arrows(log: FlowLog, moves: pd.DataFrame) -> pd.DataFrame:
    """The moves grouped into arrows, busiest first: count, cases, median wait, moves via steps not drawn."""
    cols = ["from_activity", "to_activity", "count", "cases", "median_wait_days", "via_hidden"]
    if moves.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if "activity" in c else float) for c in cols})
    g = moves.groupby(["a", "b"], sort=True)
    out = pd.DataFrame(
        {
            "count": g.size(),
            "cases": g["case"].nunique(),
            "median_wait_days": g["wait"].median(),
            "via_hidden": g["via"].sum().astype("int64"),
        }
    ).reset_index()
    names = np.asarray(log.activity_labels.astype(str), dtype=object)
    label = lambda codes: np.where(codes == -1, START, np.where(codes == -2, END, names[np.maximum(codes, 0)]))
    out.insert(0, "from_activity", label(out.pop("a").to_numpy()))
    out.insert(1, "to_activity", label(out.pop("b").to_numpy()))
    out = out.sort_values(["count", "from_activity", "to_activity"], ascending=[False, True, True], kind="stable")
    return out.reset_index(drop=True)[cols]


def _kept_arrows(pool: pd.DataFrame, kept: set, coverage: float, n_cases: int) -> pd.DataFrame:
    """The busiest arrows making up ``coverage`` of the moves, every arrow at least ``PATH_SHARE`` of cases take (a
    rework loop is not hidden by the coverage either), and each drawn activity's busiest way in and out so that
    nothing floats."""
    if pool.empty:
        return pool
    cum = pool["count"].cumsum() / pool["count"].sum()
    keep = (pool["cases"] >= PATH_SHARE * max(n_cases, 1)).to_numpy(dtype=bool, copy=True)
    keep[: int(np.searchsorted(cum.to_numpy(), coverage - 1e-12) + 1)] = True
    busiest_in = pool.groupby("to_activity", sort=False)["count"].idxmax()
    busiest_out = pool.groupby("from_activity", sort=False)["count"].idxmax()
    keep[busiest_in.reindex(list(kept)).dropna().astype(int).to_numpy()] = True
    keep[busiest_out.reindex(list(kept)).dropna().astype(int).to_numpy()] = True
    return pool[keep].reset_index(drop=True)


def map_view(
    data, *, coverage: float = 0.8, max_activities: int | None = 30, catalogue: pd.DataFrame | None = None
) -> MapView:
    """What the map draws at ``coverage`` (see the module's rules): nodes, arrows, the steps hidden and the counts
    the caption needs."""
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must be a share between 0 (exclusive) and 1, not {coverage}")
    log = _as_log(data, catalogue)
    stats = log.activity_stats
    hidden_cols = ["activity", "events", "cases", "step_type"]
    if stats.empty:
        empty = _arrows(log, pd.DataFrame())
        return MapView(stats, empty, stats[hidden_cols], coverage, log.n_cases, log.n_events, 0)
    nodes, forced = _chosen(log, coverage, max_activities)
    kept = set(nodes["activity"])
    codes = pd.Index(log.activity_labels.astype(str)).get_indexer(list(kept))
    pool = _arrows(log, _moves(log, codes))
    edges = _kept_arrows(pool, kept, coverage, log.n_cases)
    hidden = stats[~stats["activity"].isin(kept)][hidden_cols].reset_index(drop=True)
    return MapView(
        nodes.reset_index(drop=True),
        edges,
        hidden,
        coverage,
        log.n_cases,
        log.n_events,
        len(stats),
        int(pool["count"].sum()),
        int(edges["count"].sum()),
        forced,
        len(pool),
    )


def map_elements(
    data, *, coverage: float = 0.8, max_activities: int | None = 30, catalogue: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The nodes and arrows a map shows at a given coverage (``map_view``'s): ``nodes`` (activity, events, cases,
    starts, ends, step_type, category) and ``edges`` (from_activity, to_activity, count, cases, median_wait_days,
    via_hidden)."""
    view = map_view(data, coverage=coverage, max_activities=max_activities, catalogue=catalogue)
    return view.nodes, view.edges


def _listed(hidden: pd.DataFrame, limit: int = 6) -> str:
    """'Check (12 cases), Rare (1 case) and 4 more activities (each passed through by at most 3 cases)': the hidden
    activities, those touching most cases first."""
    shown = hidden.sort_values(["cases", "activity"], ascending=[False, True], kind="stable")
    items = [f"{r.activity} ({words.count(r.cases, 'case')})" for r in shown.head(limit).itertuples()]
    rest = shown.iloc[limit:]
    if len(rest):
        most = words.count(int(rest["cases"].max()), "case")
        items.append(f"{words.count(len(rest), 'more activity', 'more activities')} (each in at most {most})")
    return ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + items[-1]


def caption_sentences(view: MapView, *, period: str = "") -> list[str]:
    """The sentences under a map: what it keeps, what it hides and how many cases those steps touch, and whether
    its arrows add up (and why not)."""
    when = f", {period}" if period else ""
    out = [f"Process map{when} ({words.count(view.n_cases, 'case')} with steps recorded, {view.n_events:,} steps)."]
    if view.nodes.empty:
        return out
    shown = view.nodes["events"].sum() / max(view.n_events, 1)
    rule = f"the busiest making up {words.share(view.coverage)} of all steps"
    if view.forced:
        rule += f", and every waste step that at least {words.share(WASTE_SHARE)} of cases pass through"
    paths = (
        f"every path that at least {words.share(PATH_SHARE)} of cases take, and the busiest others making up "
        f"{words.share(view.coverage)} of the moves"
    )
    out.append(
        f"It shows {len(view.nodes)} of {view.n_activities} activities ({words.share(shown)} of all steps): {rule}; "
        f"and, between them, {paths}."
    )
    if len(view.hidden):
        out.append(f"Not drawn: {_listed(view.hidden)}.")
        waste = int(view.hidden["step_type"].eq("waste").sum())
        if waste == 1:
            out.append(f"The waste step not drawn is passed through by fewer than {words.share(WASTE_SHARE)} of cases.")
        elif waste:
            out.append(
                f"The {waste} waste steps not drawn are each passed through by fewer than "
                f"{words.share(WASTE_SHARE)} of cases."
            )
    out.append(
        "Boxes: how often each step happened (blue = value step, orange = waste step, grey = not in the activity "
        "catalogue). Arrows: how often one step came straight after another, and the median wait between them"
        + (
            "; a dotted arrow also carries cases that went through steps not drawn on the way"
            if len(view.hidden)
            else ""
        )
        + "."
    )
    if view.arrows_add_up:
        out.append("Every box's arrows in and out add up to the box.")
    else:
        left = view.moves - view.moves_drawn
        out.append(
            f"The rarest {words.count(view.paths_left_out, 'path')} between boxes ({left:,} of {view.moves:,} moves, "
            f"{words.share(left / max(view.moves, 1))}) are not drawn, so a box's arrows can add up to less than the "
            "box; move the coverage up to see them."
        )
    return [s for s in out if s]


def map_caption(data, *, coverage: float = 0.8, max_activities: int | None = 30, period: str = "") -> str:
    """The caption under a map, in one paragraph (``caption_sentences``)."""
    view = data if isinstance(data, MapView) else map_view(data, coverage=coverage, max_activities=max_activities)
    return " ".join(caption_sentences(view, period=period))


def figures(data, *, coverage: float = 0.8, max_activities: int | None = 30) -> dict:
    """``flow.json``'s ``map``: the coverage, the activities drawn and hidden (with their steps, cases and kind),
    the waste steps drawn only because at least 5% of cases pass through them, and the moves on the arrows."""
    view = data if isinstance(data, MapView) else map_view(data, coverage=coverage, max_activities=max_activities)

    def rows(frame: pd.DataFrame) -> list[dict]:
        return [
            {"activity": r.activity, "step_type": r.step_type, "events": int(r.events), "cases": int(r.cases)}
            for r in frame.itertuples(index=False)
        ]

    return {
        "coverage": view.coverage,
        "waste_share_always_shown": WASTE_SHARE,
        "steps_shown": rows(view.nodes),
        "steps_hidden": rows(view.hidden),
        "waste_shown_for_share": list(view.forced),
        "moves": view.moves,
        "moves_drawn": view.moves_drawn,
    }
