"""Demand joined to flow: what citizens ask for (contacts) read against what happens to their cases (issue 14).

A contact belongs to a case through ``demand.case_id``. Two views follow, both from the one end-to-end definition
(``endtoend``: each case's start, end, and for an open case its age at the service's censoring date):

* **The cost of waiting.** For every *linked case* (a case with at least one contact carrying its id), the failure
  contacts that arrived while it was open (from its start to its end, or to the censoring date when still open)
  against its time open in weeks. The rate is the slope of an ordinary least-squares line through the cases
  (contacts = a + b × weeks open): each extra week open brings b more failure contacts. It is not given below
  ``MIN_LINKED`` linked cases. Failure contacts after the case closed (the need came back: "not fixed") are counted
  apart; contacts not yet classified are counted and named, never taken as failure; contacts classified by rules
  are counted so the figure can say so.
* **Design against demand.** Each case's demand is ``cases.demand_type`` where the case table records it, else the
  demand type of its earliest linked contact (the contact that started it) when that contact is value demand. For
  the most frequent value-demand types, the cases each started give the most common path, the *clean flow* (the
  value steps of that path, per ``activities.csv``, each once, in order), the Kaplan–Meier median end-to-end time
  with the open count, and the share of its finished cases whose whole path was exactly the clean flow.

Tables in, figures out: ``load(stage)`` reads, everything else takes frames. ``flow.load`` builds the same
``Joined`` from its log, so the flow and demand reports show the same figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.analysis import endtoend
from systemic_lib.analysis.endtoend import EndToEndCases

__all__ = [
    "MIN_LINKED",
    "TOP_TYPES",
    "Joined",
    "Waiting",
    "load",
    "join",
    "cost_of_waiting",
    "waiting_sentence",
    "waiting_notes",
    "by_demand_type",
    "design_table",
    "figures",
]

MIN_LINKED = 30  #: fewer linked cases than this: no rate (null in flow.json)
TOP_TYPES = 5  #: value-demand types in the design-against-demand table
_NS_PER_DAY = 86_400e9


@dataclass
class Joined:
    """A service's cases (``endtoend``) with the contacts linked to them and, from flow, each case's path.

    ``contacts``: the service's contacts (whole, rules applied, redacted) with a ``case_id``; ``paths``: case id ->
    its steps' activities in order (a tuple), or None; ``value_activities``: the activities that are value steps per
    the catalogue; ``case_types``: ``cases.demand_type`` by case id (blank dropped) or None."""

    cases: EndToEndCases
    contacts: pd.DataFrame
    paths: pd.Series | None = None
    value_activities: frozenset = frozenset()
    case_types: pd.Series | None = None
    service_name: str = "this service"
    _cache: dict = field(default_factory=dict, repr=False)

    @cached_property
    def linked(self) -> pd.DataFrame:
        """The contacts whose ``case_id`` is one of the cases, with the case's start, end, open and time open."""
        c = self.contacts
        if c is None or c.empty or "case_id" not in c or "received_at" not in c:
            return pd.DataFrame(
                columns=[
                    "case_id",
                    "received_at",
                    "classification",
                    "failure_type",
                    "classified_by",
                    "demand_type",
                    "start",
                    "end",
                    "open",
                    "duration",
                ]
            )
        c = c[c["case_id"].notna()]
        c = c.assign(case_id=c["case_id"].astype(str).to_numpy(dtype=object))
        f = self.cases.timed()[["case_id", "start", "end", "open", "duration"]]
        f = f.assign(case_id=f["case_id"].to_numpy(dtype=object))
        cols = [
            k
            for k in ("case_id", "received_at", "classification", "failure_type", "classified_by", "demand_type")
            if k in c
        ]
        out = c[cols].merge(f, on="case_id", how="inner")
        for k in ("classification", "failure_type", "classified_by", "demand_type"):
            if k not in out:
                out[k] = ""
        out["received_at"] = pd.to_datetime(out["received_at"]).astype("datetime64[ns]")
        return out


def join(
    cases: EndToEndCases,
    contacts: pd.DataFrame | None,
    *,
    paths: pd.Series | None = None,
    value_activities=(),
    case_table: pd.DataFrame | None = None,
    service_name: str = "this service",
) -> Joined:
    """A ``Joined`` from the end-to-end cases, the contacts, each case's path and the value activities (optional)
    and ``cases.csv`` (for its ``demand_type``, optional)."""
    types = None
    if case_table is not None and "demand_type" in case_table and len(case_table):
        t = case_table[["case_id", "demand_type"]].dropna()
        t = t[t["demand_type"].astype(str).str.strip().ne("")]
        types = pd.Series(
            t["demand_type"].astype(str).str.strip().to_numpy(dtype=object),
            index=pd.Index(t["case_id"].astype(str).to_numpy(dtype=object)),
        )
        types = types[~types.index.duplicated()]
    contacts = contacts if contacts is not None else pd.DataFrame(columns=["case_id"])
    return Joined(cases, contacts, paths, frozenset(value_activities), types, service_name)


def load(stage) -> Joined:
    """The stage's service: its cases (``endtoend.stage_cases``: the one set every page counts, censored at
    the service's one date), every contact linked to them (rules applied), and ``cases.demand_type``. A table with
    errors adds nothing (its own report shows why)."""
    cases = stage.table_or_empty("cases", period=False)[0] if stage.has("cases") else None
    try:
        contacts = stage.contacts(period=False).frame if stage.has("demand") else None
    except Exception:
        contacts = None
    e2e = endtoend.stage_cases(stage)  # the one set of cases every page counts
    return join(
        e2e,
        contacts,
        case_table=cases,
        service_name=stage.service_name if stage.service is not None else "this service",
    )


# ---- the cost of waiting -----------------------------------------------------------------------------------------
@dataclass
class Waiting:
    """The cost of waiting: ``per_case`` (case_id, weeks_open, failure_contacts, open) for every linked case, the
    least-squares ``rate`` (failure contacts per extra week open; None below ``MIN_LINKED`` cases or without spread)
    and ``intercept``, and the counts behind the sentence."""

    per_case: pd.DataFrame
    rate: float | None
    intercept: float | None
    linked_cases: int
    open_cases: int
    failure_contacts: int
    progress_chasing: int
    after_closing: int
    unclassified: int
    by_rules: int
    start: pd.Timestamp | None
    end: pd.Timestamp | None


def cost_of_waiting(j: Joined) -> Waiting:
    """Failure contacts while open per linked case against weeks open, with the least-squares rate."""
    if "waiting" in j._cache:
        return j._cache["waiting"]
    lk = j.linked
    n_cases = lk["case_id"].nunique()
    t = lk["received_at"]
    while_open = (t >= lk["start"]) & (lk["end"].isna() | (t <= lk["end"]))
    after = lk["end"].notna() & (t > lk["end"])
    failure = lk["classification"].astype(str).eq("failure")
    per = (failure & while_open).groupby(lk["case_id"]).sum()
    cases = lk.drop_duplicates("case_id").set_index("case_id")
    per_case = pd.DataFrame(
        {
            "case_id": cases.index.astype(str),
            "weeks_open": cases["duration"].to_numpy(float) / 7,
            "failure_contacts": per.reindex(cases.index).fillna(0).to_numpy(int),
            "open": cases["open"].to_numpy(bool),
        }
    )
    rate = intercept = None
    x, y = per_case["weeks_open"].to_numpy(float), per_case["failure_contacts"].to_numpy(float)
    if n_cases >= MIN_LINKED and np.ptp(x) > 0:
        rate, intercept = (float(v) for v in np.polyfit(x, y, 1))
    starts = cases["start"].dropna()
    w = Waiting(
        per_case,
        rate,
        intercept,
        int(n_cases),
        int(per_case["open"].sum()),
        int((failure & while_open).sum()),
        int((failure & while_open & lk["failure_type"].astype(str).eq("progress chasing")).sum()),
        int((failure & after).sum()),
        int(lk["classification"].fillna("").astype(str).eq("").sum()),
        int((failure & lk["classified_by"].fillna("").astype(str).str.startswith("rule:")).sum()),
        pd.Timestamp(starts.min()) if len(starts) else None,
        j.cases.data_end,
    )
    j._cache["waiting"] = w
    return w


def waiting_sentence(w: Waiting) -> str:
    """'Each extra week a case stays open brings 0.8 more failure contacts (1,204 linked cases ...).'"""
    if not w.linked_cases:
        return (
            "No contact is linked to a case (demand.case_id is blank), so the failure demand that waiting causes "
            "cannot be counted yet."
        )
    counted = (
        f"{words.count(w.linked_cases, 'linked case')}, {words.number(w.open_cases)} still open, "
        f"{words.count(w.failure_contacts, 'failure contact')} while open"
    )
    if w.rate is None:
        why = (
            f"fewer than {MIN_LINKED} cases are linked to contacts"
            if w.linked_cases < MIN_LINKED
            else "every linked case was open for the same time"
        )
        return f"Too little to fit a rate: {why} ({counted})."
    verb = "more" if w.rate >= 0 else "fewer"
    return (
        f"Each extra week a case stays open brings {words.figure(abs(w.rate), decimals=2)} {verb} failure "
        f"contacts ({counted})."
    )


def waiting_notes(w: Waiting) -> list[str]:
    """The definition and what is incomplete: progress chasing, repeat contacts after closing, unclassified and
    rules-classified contacts."""
    if not w.linked_cases:
        return []
    out = [
        "Time open runs from the case's start to its end, or, for a case still open, to "
        f"{words.date(w.end) if w.end is not None else 'the last date in the data'} (the one end-to-end "
        "definition); the rate is the slope of a least-squares line through the cases (failure contacts while "
        "open against weeks open)."
    ]
    if w.failure_contacts:
        whom = (
            f"All {words.count(w.failure_contacts, 'failure contact')}"
            if w.progress_chasing == w.failure_contacts
            else f"{words.number(w.progress_chasing)} of the {words.count(w.failure_contacts, 'failure contact')}"
        )
        out.append(f"{whom} while open {'was' if w.progress_chasing == 1 else 'were'} progress chasing.")
    if w.after_closing:
        out.append(
            f"{words.count(w.after_closing, 'failure contact')} came after the case had closed (the need came "
            "back, or was not met): not counted in the rate."
        )
    if w.unclassified:
        out.append(
            f"{words.count(w.unclassified, 'linked contact')} {'is' if w.unclassified == 1 else 'are'} not yet "
            "classified as value or failure and not counted as failure: the rate may be higher."
        )
    if w.by_rules:
        out.append(
            f"{words.count(w.by_rules, 'linked failure contact')} {'was' if w.by_rules == 1 else 'were'} "
            "classified by rules, not by the team."
        )
    return out


# ---- design against demand ---------------------------------------------------------------------------------------
def case_demand(j: Joined) -> pd.Series:
    """case_id -> the value demand that started it: ``cases.demand_type``, else its earliest linked contact's demand
    type where that contact is value demand."""
    lk = j.linked
    first = lk.sort_values(["case_id", "received_at"], kind="stable").drop_duplicates("case_id")
    first = first[first["classification"].astype(str).eq("value") & first["demand_type"].notna()]
    out = pd.Series(
        first["demand_type"].astype(str).str.strip().to_numpy(dtype=object),
        index=pd.Index(first["case_id"].to_numpy(dtype=object)),
    )
    if j.case_types is not None:
        known = j.case_types[j.case_types.index.isin(j.cases.frame["case_id"].to_numpy(dtype=object))]
        out = pd.concat([known, out[~out.index.isin(known.index)]])
    return out[out.ne("")]


def _r(x) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def _once(steps: tuple) -> tuple:
    return tuple(dict.fromkeys(steps))


def by_demand_type(j: Joined, *, top: int = TOP_TYPES) -> list[dict]:
    """For the ``top`` value-demand types by cases started: demand_type, cases, open, finished, median_days
    (Kaplan–Meier; None with ``at_least`` where not reached), most_common_path, clean_flow (its value steps, each
    once; None without a catalogue's value steps), clean_share (of finished cases whose path was exactly the clean
    flow; None with none finished)."""
    if "by_type" in j._cache:
        return j._cache["by_type"]
    kinds = case_demand(j)
    frame = j.cases.frame
    frame = frame.set_index(pd.Index(frame["case_id"].to_numpy(dtype=object)))
    frame = frame[frame.index.isin(kinds.index)]
    kinds = kinds.reindex(frame.index)
    paths = pd.DataFrame({"path": j.paths if j.paths is not None else pd.Series(dtype=object)})
    counts = kinds.value_counts()
    order = sorted(counts.index, key=lambda k: (-counts[k], k))[:top]
    value = j.value_activities
    rows = []
    for kind in order:
        sub = frame[kinds.eq(kind).to_numpy()]
        s = sub[sub["duration"].notna()]
        surv = endtoend.survival(s["duration"].to_numpy(float), ~s["open"].to_numpy(bool))
        p = paths.reindex(sub.index).dropna(subset=["path"])
        common = clean = share = None
        if len(p):
            vc = pd.Series(p["path"]).value_counts(sort=False)  # first seen first: a tie goes to it
            best = vc.index[int(np.argmax(vc.to_numpy()))]
            common = " → ".join(best)
            value_steps = _once(tuple(a for a in best if a in value))
            clean = " → ".join(value_steps) if value_steps else None
            done = p[~sub.loc[p.index, "open"].to_numpy(bool)]
            if clean is not None and len(done):
                share = round(float(np.mean([path == value_steps for path in done["path"]])), 4)
        rows.append(
            {
                "demand_type": kind,
                "cases": int(len(sub)),
                "open": int(sub["open"].sum()),
                "finished": int((~sub["open"]).sum()),
                "median_days": _r(surv.median),
                "at_least": _r(surv.at_least(0.5)),
                "most_common_path": common,
                "clean_flow": clean,
                "clean_share": share,
            }
        )
    j._cache["by_type"] = rows
    return rows


def design_table(j: Joined) -> pd.DataFrame:
    """``by_demand_type`` for the report: plain column names, times in words."""
    rows = by_demand_type(j)
    return pd.DataFrame(
        {
            "demand that started the case": [r["demand_type"] for r in rows],
            "cases": [r["cases"] for r in rows],
            "end-to-end median": [
                endtoend.figure_words(r["median_days"], r["at_least"])
                + (f" ({words.number(r['open'])} open)" if r["open"] else "")
                for r in rows
            ],
            "most common path": [r["most_common_path"] or words.MISSING for r in rows],
            "clean flow (value steps only)": [r["clean_flow"] or words.MISSING for r in rows],
            "% of finished cases that followed it": [
                np.nan if r["clean_share"] is None else 100 * r["clean_share"] for r in rows
            ],
        }
    )


def figures(j: Joined) -> dict:
    """What flow.json gains: ``failure_contacts_per_week_open`` (null below ``MIN_LINKED`` linked cases),
    ``linked_cases`` and ``by_demand_type``."""
    w = cost_of_waiting(j)
    return {
        "failure_contacts_per_week_open": None if w.rate is None else round(w.rate, 4),
        "linked_cases": w.linked_cases,
        "by_demand_type": [
            {k: r[k] for k in ("demand_type", "cases", "median_days", "at_least", "open", "clean_flow", "clean_share")}
            for r in by_demand_type(j)
        ],
    }
