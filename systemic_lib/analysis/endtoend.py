"""End-to-end time, defined once, from the citizen's point of view (METHOD.md "Figures that must stay true").

Every stage that speaks of end-to-end time (flow, measure, experiment, the scan and the council index) reads it here:

* **start** = the earliest of the citizen's first linked contact (``demand.case_id``), ``cases.opened_at`` and the
  case's first step (events), whichever is known; ``start_from`` says which ("contact", "opened", "first step"; on a
  tie the citizen's contact wins, then the opening);
* **end** = ``cases.closed_at``. A case not in ``cases.csv`` (or a council without it) ends at its closing step only
  if the stage can tell it ended: a step of an activity marked ``closes_case`` = yes in ``activities.csv`` (a
  ``delivery`` step), or named in the explicit ``closing`` option; its end is the last such step. Otherwise it is
  **open**: it has no end-to-end time, never a partial one.

Open cases are survival data: ``survival`` estimates the median and 85th percentile by Kaplan–Meier, each open case
censored at the service's one censoring date (``censor_date``: the last date in any of the service's demand,
events and cases, capped at the period's end; every stage uses it, so an open case has one age everywhere; its age so far is a lower bound, not its time). Where the estimate is not reached
(more than half, or 15%, of cases still open beyond the longest time seen), the figure is ``None`` and ``at_least``
says "more than N days". The estimator is the textbook product-limit one (the same as ``lifelines``'
``KaplanMeierFitter``; the tests check them against each other), written here in a few lines of numpy so that the
library does not pin pandas below 3 as ``lifelines`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from systemic_lib import words

__all__ = [
    "CASE_COLUMNS",
    "EndToEndCases",
    "Survival",
    "censor_date",
    "censor_dates",
    "stage_censor_date",
    "case_times",
    "case_ids",
    "stage_cases",
    "in_period",
    "count_words",
    "from_steps",
    "survival",
    "closing_activities",
    "definition_sentence",
    "figure_words",
    "within_words",
    "figures",
    "by_service",
    "completion_order",
    "km_median",
]

_NS_PER_DAY = 86_400e9
_NAT = np.iinfo(np.int64).min  # NaT as int64 nanoseconds
_LATEST = np.iinfo(np.int64).max
#: The per-case table: one row per case.
CASE_COLUMNS = ["case_id", "service", "start", "start_from", "end", "open", "days", "duration"]
START_WORDS = {
    "contact": "at the citizen's first contact",
    "opened": "when the case was opened (cases.csv)",
    "first step": "at their first recorded step",
}


@dataclass
class EndToEndCases:
    """Every case with its start, end and whether it is open; ``days`` is the end-to-end time of a finished case
    (NaN for an open one), ``duration`` the time to the end or, for an open case, to the data's last date
    (``data_end``) — what the Kaplan–Meier estimate is fed, with ``open`` as censored. ``end_from`` counts how the
    finished cases' ends were known ("closed_at", "closing step"); ``backwards`` counts cases that end before they
    start (a data error: left out of every time)."""

    frame: pd.DataFrame
    data_end: pd.Timestamp | None
    end_from: dict[str, int] = field(default_factory=dict)
    backwards: int = 0
    #: per case, True where its end is ``cases.closed_at`` (else a closing step), to recount ``end_from`` in a period
    from_cases: np.ndarray | None = None
    _survival: Survival | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def n(self) -> int:
        return len(self.frame)

    @property
    def n_open(self) -> int:
        return int(self.frame["open"].sum())

    @property
    def n_finished(self) -> int:
        return int((~self.frame["open"] & self.frame["days"].notna()).sum())

    def starts(self) -> dict[str, int]:
        """How many cases start at each of "contact", "opened" and "first step"."""
        counts = self.frame["start_from"].value_counts()
        return {k: int(counts.get(k, 0)) for k in START_WORDS}

    def timed(self) -> pd.DataFrame:
        """The cases with a usable duration (not backwards, with a start)."""
        return self.frame[self.frame["duration"].notna()]

    def survival(self) -> Survival:
        """The Kaplan–Meier estimate of these cases (computed once: the summary, figures and sentences share it)."""
        if self._survival is None:
            t = self.timed()
            self._survival = survival(t["duration"].to_numpy(dtype=float), ~t["open"].to_numpy(dtype=bool))
        return self._survival


def closing_activities(catalogue: pd.DataFrame | None, closing=()) -> set[tuple[str, str]]:
    """The (service, activity) pairs marked ``closes_case`` in the catalogue, plus those given in ``closing``: an
    activity name (for every service, as ("", name)) or a (service, activity) pair (council.yaml's per-service
    ``closes_case``)."""
    out: set[tuple[str, str]] = {("", str(a)) if isinstance(a, str) else (str(a[0]), str(a[1])) for a in closing}
    if catalogue is not None and len(catalogue) and "closes_case" in catalogue:
        marked = catalogue[catalogue["closes_case"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
        svc = marked["service"].astype(object).fillna("") if "service" in marked else pd.Series("", index=marked.index)
        out |= {(str(s), str(a)) for s, a in zip(svc, marked["activity"])}
    return out


# ---- the one censoring date --------------------------------------------------------------------------------------
_DATE_COLUMNS = {"demand": ("received_at",), "events": ("timestamp",), "cases": ("opened_at", "closed_at")}


def _naive(values) -> pd.Series:
    ts = pd.to_datetime(pd.Series(values), errors="coerce")
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_localize(None)
    return ts.astype("datetime64[ns]")


def censor_dates(
    *,
    demand: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    cases: pd.DataFrame | None = None,
    end=None,
) -> dict[str, pd.Timestamp]:
    """service -> the date its open cases are censored at: the last date in any of its demand (``received_at``),
    events (``timestamp``) and cases (``opened_at``, ``closed_at``), whole tables, capped at the end of the period
    (midnight after ``end``, its last day) when there is one. Rows without a service count as service ""."""
    latest: dict[str, int] = {}  # service -> latest date (int64 ns), each table's services factorised, not cast
    for name, frame in (("demand", demand), ("events", events), ("cases", cases)):
        if frame is None or not len(frame):
            continue
        if "service" in frame:
            codes, names = pd.factorize(frame["service"], use_na_sentinel=True)
            names = [str(v) for v in names] + [""]  # code -1 (no service) is the last
        else:
            codes, names = np.full(len(frame), -1, np.int64), [""]
        for col in _DATE_COLUMNS[name]:
            if col not in frame:
                continue
            at = np.asarray(_naive(frame[col])).view(np.int64)
            dated = at != _NAT
            if not dated.any():
                continue
            most = np.full(len(names), _NAT, np.int64)
            np.maximum.at(most, codes[dated], at[dated])  # code -1 lands on the last slot, ""
            for k in np.flatnonzero(most != _NAT):
                latest[names[k]] = max(latest.get(names[k], _NAT), int(most[k]))
    cap = None
    if end is not None and not pd.isna(end):
        cap = pd.Timestamp(pd.Timestamp(end).normalize() + pd.Timedelta(days=1)).as_unit("ns").value
    return {k: pd.Timestamp(min(v, cap) if cap is not None else v) for k, v in sorted(latest.items())}


def censor_date(
    *,
    demand: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    cases: pd.DataFrame | None = None,
    end=None,
) -> pd.Timestamp | None:
    """The one censoring date of one service's tables (``censor_dates`` over them all), or None undated."""
    dates = censor_dates(
        demand=None if demand is None else demand.drop(columns="service", errors="ignore"),
        events=None if events is None else events.drop(columns="service", errors="ignore"),
        cases=None if cases is None else cases.drop(columns="service", errors="ignore"),
        end=end,
    )
    return dates.get("")


def stage_censor_date(stage) -> pd.Timestamp | dict[str, pd.Timestamp] | None:
    """The censoring date of a stage's service (or, council-wide, service -> date), from its whole demand, events
    and cases (tables with errors add nothing), capped at the stage's period end. Every stage's ``load`` calls this,
    so flow, measure, experiment and the scan give an open case the same age."""
    tables = {}
    for name in ("demand", "events", "cases"):
        if not stage.has(name):
            continue
        if name == "demand":
            try:
                tables[name] = stage.contacts(period=False).frame
            except Exception:
                tables[name] = None
        else:
            tables[name] = stage.table_or_empty(name, period=False)[0]
    dates = censor_dates(**tables, end=stage.end)
    if stage.service is None:
        return dates
    return dates.get(stage.service_id, dates.get(""))


def _ns(values) -> np.ndarray:
    """int64 nanoseconds of a column of (naive) dates, NaT as ``_NAT``."""
    return np.asarray(pd.to_datetime(values).astype("datetime64[ns]")).view(np.int64)


def _latest(*arrays: np.ndarray) -> int | None:
    """The latest date (int64 ns) in any of the arrays, or None."""
    found = [int(a.max()) for a in arrays if len(a) and a.max() != _NAT]
    return max(found) if found else None


def _days(later: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    """Days between two int64 ns arrays (NaN where either is missing), by pandas' ``total_seconds`` as ever."""
    known = (later != _NAT) & (earlier != _NAT)
    delta = np.where(known, later - np.where(known, earlier, 0), _NAT).view("timedelta64[ns]")
    return pd.TimedeltaIndex(delta).total_seconds().to_numpy(dtype=float) / 86400


def case_times(
    *,
    events: pd.DataFrame | None = None,
    cases: pd.DataFrame | None = None,
    contacts: pd.DataFrame | None = None,
    catalogue: pd.DataFrame | None = None,
    closing=(),
    ids=None,
    data_end=None,
) -> EndToEndCases:
    """The start and end of every case (see the module's definition), one row each.

    ``events`` (case_id, timestamp, activity, service), ``cases`` (case_id, opened_at, closed_at) and ``contacts``
    (case_id, received_at) are the service's tables, any of them None; ``catalogue`` the activities table (its
    ``closes_case`` column), ``closing`` activity names that close a case. ``ids``: only these cases (default: every
    case in events or cases). ``data_end``: the censoring date for open cases (``censor_date``; a dict service -> date
    from ``censor_dates`` council-wide; default: the last date in the three tables given, every contact included); a
    case closing after it is open at it. ``flow.FlowLog`` reduces its events to per-case arrays itself and calls
    ``from_steps``, the same definition without the string-keyed group-bys."""
    first_step = closing_at = pd.Series(dtype="datetime64[ns]")
    step_service = None
    step_last = None
    if events is not None and len(events):
        ev = events[events["case_id"].notna() & events["timestamp"].notna()]
        key = ev["case_id"].astype(str)
        ts = pd.to_datetime(ev["timestamp"])
        if getattr(ts.dt, "tz", None) is not None:
            ts = ts.dt.tz_localize(None)
        first_step = ts.groupby(key).min()
        step_last = _latest(_ns(ts))
        if "service" in ev:
            step_service = ev["service"].astype(object).groupby(key).first()
        marked = closing_activities(catalogue, closing)
        if marked:
            svc = (
                ev["service"].astype(object).fillna("").astype(str)
                if "service" in ev
                else pd.Series("", index=ev.index)
            )
            act = ev["activity"].astype(str)
            anywhere = {a for s_, a in marked if s_ == ""}
            is_close = (svc + "\x1f" + act).isin({f"{s_}\x1f{a}" for s_, a in marked}) | act.isin(anywhere)
            is_close = is_close.to_numpy(dtype=bool)
            closing_at = ts[is_close].groupby(key[is_close]).max()
    if ids is None:
        index = case_ids(pd.Index(first_step.index), cases).sort_values()
    else:
        index = pd.Index(pd.unique(np.asarray(ids, dtype=object).astype(str)))

    def at(s):
        return _ns(s.reindex(index))

    return from_steps(
        index,
        first_step=at(first_step),
        closing_at=at(closing_at),
        step_service=None if step_service is None else step_service.reindex(index).to_numpy(dtype=object),
        step_last=step_last,
        cases=cases,
        contacts=contacts,
        data_end=data_end,
    )


def case_ids(stepped: pd.Index, cases: pd.DataFrame | None) -> pd.Index:
    """Every case of a service, once: the cases with a recorded step (``stepped``, in their order), then the cases
    in ``cases.csv`` with no step recorded yet (in the file's order). The one rule of which cases count, so that a
    service has the same number of cases, and of open cases, on every page."""
    stepped = pd.Index(stepped).astype(str) if len(stepped) else pd.Index([], dtype=object)
    if cases is None or not len(cases) or "case_id" not in cases:
        return stepped
    listed = pd.Index(pd.unique(cases.loc[cases["case_id"].notna(), "case_id"].astype(str).to_numpy(dtype=object)))
    return stepped.append(listed[~listed.isin(stepped)])


def in_period(cases: EndToEndCases, start=None, end=None) -> EndToEndCases:
    """The cases that belong to a period: every case open at some time in it (started on or before its last day,
    and still open or ended on or after its first day). With no period, the cases as they are."""
    if start is None and end is None:
        return cases
    f = cases.frame
    keep = np.ones(len(f), bool)
    if start is not None:
        keep &= ~(f["end"] < pd.Timestamp(start)).to_numpy(dtype=bool)
    if end is not None:
        last = pd.Timestamp(end).normalize() + pd.Timedelta(days=1)
        keep &= ~(f["start"] >= last).to_numpy(dtype=bool)
    if keep.all():
        return cases
    frame = f[keep].reset_index(drop=True)
    counted = (~frame["open"] & frame["days"].notna()).to_numpy(dtype=bool)
    end_from = dict(cases.end_from)
    if cases.from_cases is not None:  # how each kept finished case's end was known, recounted
        from_cases = cases.from_cases[keep]
        end_from = {"closed_at": int((counted & from_cases).sum()), "closing step": int((counted & ~from_cases).sum())}
    elif len(end_from) == 1:
        end_from = {next(iter(end_from)): int(counted.sum())}
    end_from = {k: v for k, v in end_from.items() if v}
    backwards = int((~frame["open"] & frame["days"].isna() & frame["start"].notna()).sum())
    return EndToEndCases(
        frame, cases.data_end, end_from, backwards, None if cases.from_cases is None else cases.from_cases[keep]
    )


def stage_cases(stage, *, cases: EndToEndCases | None = None) -> EndToEndCases:
    """A stage's cases by the one definition, for every page: every case of its service with a step in the period
    or a row in ``cases.csv`` (``case_ids``), starting at the citizen's first linked contact, censored at the
    service's one date, and in the stage's period (``in_period``). ``cases``: the same already made from the
    events (``flowlog.FlowLog.end_to_end_cases``), so that they are not reduced twice. A table with errors adds
    nothing (its own report shows why)."""
    if cases is None:
        tables = {}
        for name, period in (("events", True), ("cases", False), ("activities", False)):
            tables[name] = stage.table_or_empty(name, period=period)[0] if stage.has(name) else None
        try:
            contacts = stage.contacts(period=False).frame if stage.has("demand") else None
        except Exception:
            contacts = None
        services = [stage.service] if stage.service is not None else list(stage.council.spec.services)
        cases = case_times(
            events=tables["events"],
            cases=tables["cases"],
            contacts=contacts,
            catalogue=tables["activities"],
            closing=[(s.id, a) for s in services for a in getattr(s, "closes_case", [])],
            data_end=stage_censor_date(stage),
        )
    return in_period(cases, stage.start, stage.end)


def count_words(cases: EndToEndCases) -> str:
    """The one way a page counts a service's cases: '1,563 cases, 173 still open' ('1 case, still open')."""
    if not cases.n:
        return "no cases"
    if not cases.n_open:
        return f"{words.count(cases.n, 'case')}, none open"
    if cases.n_open == cases.n:
        return f"{words.count(cases.n, 'case')}, {'still open' if cases.n == 1 else 'all still open'}"
    return f"{words.count(cases.n, 'case')}, {words.number(cases.n_open)} still open"


def from_steps(
    index: pd.Index,
    *,
    first_step: np.ndarray,
    closing_at: np.ndarray,
    step_service: np.ndarray | None,
    step_last: int | None,
    cases: pd.DataFrame | None = None,
    contacts: pd.DataFrame | None = None,
    data_end=None,
) -> EndToEndCases:
    """``case_times`` from events already reduced per case: ``index`` the distinct case ids (text), and per case its
    first step and last closing step (int64 nanoseconds, ``_NAT`` for none) and its first step's service (an object
    array, or a pandas ``str`` array as ``FlowLog`` gives it, or None);
    ``step_last`` the latest step of all (int64 ns), for the default censoring date. Cases and contacts are joined by
    position (``Index.get_indexer``), everything else is numpy over the cases."""
    n = len(index)
    nat = np.full(n, _NAT, np.int64)
    opened = closed = nat
    service = np.full(n, np.nan, dtype=object) if step_service is None else step_service
    pos = np.full(n, -1, np.int64)
    latest = [] if step_last is None else [np.array([step_last], np.int64)]
    if cases is not None and len(cases):
        known = cases[cases["case_id"].notna()].drop_duplicates("case_id")
        idx = pd.Index(known["case_id"].astype(str))
        if not idx.is_unique:  # ids that differ only in type (1 and "1"): the first row counts
            known, idx = known[~idx.duplicated()], idx[~idx.duplicated()]
        pos = idx.get_indexer(index)
        hit = pos >= 0
        take = np.maximum(pos, 0)
        if "opened_at" in known:
            o = _ns(known["opened_at"])
            opened = np.where(hit, o[take], _NAT) if len(o) else nat
            latest.append(o)
        c = _ns(known["closed_at"]) if "closed_at" in known else np.full(len(known), _NAT, np.int64)
        closed = np.where(hit, c[take], _NAT) if len(c) else nat
        latest.append(c)
        if "service" in known:
            s = known["service"].astype(object).to_numpy()
            named = hit & pd.notna(s[take]) if len(s) else hit & False
            if named.any():
                service = np.where(named, s[take], np.asarray(service, dtype=object))
    from_cases = pos >= 0
    contact = nat
    if contacts is not None and not contacts.empty and "case_id" in contacts and "received_at" in contacts:
        linked = (contacts["case_id"].notna() & contacts["received_at"].notna()).to_numpy(dtype=bool)
        received = _ns(contacts["received_at"][linked])
        where = index.get_indexer(contacts["case_id"][linked].astype(str))
        ok = (where >= 0) & (received != _NAT)
        contact = np.full(n, _LATEST, np.int64)
        np.minimum.at(contact, where[ok], received[ok])
        contact[contact == _LATEST] = _NAT
    if isinstance(data_end, dict):  # council-wide: each service's own censoring date (``censor_dates``)
        codes, names = pd.factorize(service, use_na_sentinel=False)
        per = _ns(pd.Series([data_end.get(str(s), data_end.get("")) for s in names], dtype=object))
        ends = per[codes] if len(per) else nat
        last = _latest(ends)
        data_end = None if last is None else pd.Timestamp(last)
    else:
        if data_end is None:
            if contacts is not None and "received_at" in contacts and len(contacts):
                latest.append(_ns(contacts["received_at"]))  # every contact is part of the data's span
            last = _latest(*latest)
            data_end = None if last is None else pd.Timestamp(last)
        data_end = None if data_end is None or pd.isna(data_end) else pd.Timestamp(data_end)
        ends = np.full(n, _NAT if data_end is None else pd.Timestamp(data_end).as_unit("ns").value, np.int64)

    candidates = np.stack([contact, opened, np.asarray(first_step, np.int64)])  # in order of precedence on a tie
    known_at = candidates != _NAT
    start = np.where(known_at, candidates, _LATEST).min(axis=0)
    has_start = known_at.any(axis=0)
    start[~has_start] = _NAT
    first = np.where(known_at[0] & (contact == start), 0, np.where(known_at[1] & (opened == start), 1, 2))
    if has_start.any():  # text columns from a few labels by position, not from n Python strings
        start_from = pd.array(list(START_WORDS), dtype="str").take(np.where(has_start, first, -1), allow_fill=True)
    else:
        start_from = np.full(n, np.nan, dtype=object)
    end = np.where(from_cases, closed, np.asarray(closing_at, np.int64))
    after = (end != _NAT) & (ends != _NAT) & (end > ends)
    end[after] = _NAT
    is_open = end == _NAT
    backwards = ~is_open & has_start & (end < start)
    days = _days(end, start)
    days[backwards] = np.nan
    age = _days(ends, start)
    duration = np.where(is_open, np.where(age < 0, 0.0, age), days)
    if isinstance(service, np.ndarray):
        service = np.asarray(service, dtype=object)
    frame = pd.DataFrame(
        {
            "case_id": index.astype(str),
            "service": service,
            "start": start.view("datetime64[ns]"),
            "start_from": start_from,
            "end": end.view("datetime64[ns]"),
            "open": is_open,
            "days": days,
            "duration": duration,
        }
    )
    counted = ~is_open & ~backwards
    end_from = {}
    for name, mask in sorted(
        (("closed_at", from_cases & counted), ("closing step", ~from_cases & counted)),
        key=lambda kv: (-int(kv[1].sum()), int(kv[1].argmax()) if kv[1].any() else 0),
    ):
        if mask.any():
            end_from[name] = int(mask.sum())
    return EndToEndCases(frame, data_end, end_from, int(backwards.sum()), from_cases)


# ---- Kaplan–Meier ------------------------------------------------------------------------------------------------
@dataclass
class Survival:
    """Kaplan–Meier estimate of end-to-end time: the survival curve (``times``, ``surviving``: the share of cases
    not yet finished just after each time), the median and 85th percentile (None where not reached, with
    ``*_at_least`` the longest time seen: "more than N days"), and counts."""

    times: np.ndarray
    surviving: np.ndarray
    n: int
    finished: int
    open: int
    longest: float | None

    def quantile(self, q: float) -> float | None:
        """The time by which a share ``q`` of cases had finished: the first time the curve falls to 1 - q or below
        (as ``lifelines``' ``qth_survival_time(1 - q)``), or None when it never does."""
        hit = np.flatnonzero(self.surviving <= 1 - q + 1e-12)
        return float(self.times[hit[0]]) if len(hit) else None

    @property
    def median(self) -> float | None:
        return self.quantile(0.5)

    @property
    def p85(self) -> float | None:
        return self.quantile(0.85)

    def at_least(self, q: float) -> float | None:
        """Where the ``q`` estimate is not reached, the longest time seen (the figure is more than it)."""
        return self.longest if self.quantile(q) is None and self.n else None


def survival(durations, finished) -> Survival:
    """The product-limit (Kaplan–Meier) estimate from each case's ``durations`` (days) and whether it ``finished``
    (False = open, censored at its duration). Cases without a duration are left out."""
    d = np.asarray(durations, dtype=float)
    e = np.asarray(finished, dtype=bool)
    ok = np.isfinite(d)
    d, e = d[ok], e[ok]
    if not len(d):
        return Survival(np.array([]), np.array([]), 0, 0, 0, None)
    order = np.argsort(d)  # one sort; each distinct time's cases are a run
    d, e = d[order], e[order]
    first = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
    times = d[first]
    deaths = np.add.reduceat(e.astype(float), first)
    leaving = np.diff(np.r_[first, len(d)])
    at_risk = len(d) - np.concatenate([[0], np.cumsum(leaving)[:-1]])
    surviving = np.cumprod(1 - deaths / at_risk)
    return Survival(times, surviving, len(d), int(e.sum()), int((~e).sum()), float(d.max()))


# ---- words and figures ----------------------------------------------------------------------------------------
def definition_sentence(cases: EndToEndCases) -> str:
    """The one sentence every report says: which start and end it used, with counts."""
    n = cases.n
    if not n:
        return "No cases are recorded, so there is no end-to-end time."
    starts = cases.starts()
    parts = [
        f"{words.number(v)} of {words.count(n, 'case')} start {START_WORDS[k]}"
        if i == 0
        else f"{words.number(v)} {START_WORDS[k]}"
        for i, (k, v) in enumerate((k, v) for k, v in starts.items() if v)
    ]
    text = (
        "End-to-end time runs from the earliest of the citizen's first contact, the case opening and its first "
        "step, to the case closing: " + ", ".join(parts)
        if parts
        else "No case has a start date"
    )
    ends = []
    if cases.end_from.get("closed_at"):
        ends.append(f"{words.count(cases.end_from['closed_at'], 'case')} closed on their recorded closing date")
    if cases.end_from.get("closing step"):
        ends.append(f"{words.count(cases.end_from['closing step'], 'case')} ended at a closing step")
    text += "; " + (" and ".join(ends) if ends else "no case has ended")
    text += f"; {words.count(cases.n_open, 'case')} {'is' if cases.n_open == 1 else 'are'} still open"
    if cases.data_end is not None and cases.n_open:
        text += f" (counted as open, not finished, up to {words.date(cases.data_end)})"
    if cases.backwards:
        text += f"; {words.count(cases.backwards, 'case')} closing before {'it starts' if cases.backwards == 1 else 'they start'} left out"
    return text + "."


def figure_words(value: float | None, at_least: float | None) -> str:
    """'34 days', or 'more than 120 days' where the estimate is not reached, or the missing mark."""
    if value is not None:
        return words.duration(value)
    if at_least is not None:
        return f"more than {words.duration(at_least)}"
    return words.MISSING


def within_words(share: str, value: float | None, at_least: float | None) -> str:
    """'half take 4.0 days or less', or where not reached 'more than half take longer than 10 days'."""
    if value is not None:
        return f"{share} take {words.duration(value)} or less"
    if at_least is not None:
        rest = "half" if share == "half" else f"{100 - int(share.rstrip('%'))}%"
        return f"more than {rest} take longer than {words.duration(at_least)}"
    return f"{share}: {words.MISSING}"


def _r(x):
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def figures(cases: EndToEndCases) -> dict:
    """The end-to-end block of a stage's JSON: definition counts and the Kaplan–Meier median and 85th percentile
    (null with ``*_at_least`` where not reached), with the open count beside them."""
    s = cases.survival()
    return {
        "cases": cases.n,
        "finished": cases.n_finished,
        "open_cases": cases.n_open,
        "start_from": cases.starts(),
        "end_from": dict(sorted(cases.end_from.items())),
        "backwards": cases.backwards,
        "censored_at": None if cases.data_end is None else cases.data_end.isoformat(),
        "median_days": _r(s.median),
        "median_at_least": _r(s.at_least(0.5)),
        "p85_days": _r(s.p85),
        "p85_at_least": _r(s.at_least(0.85)),
        "method": "Kaplan-Meier, open cases censored at the data's last date",
        "sentence": definition_sentence(cases),
    }


def by_service(cases: EndToEndCases) -> pd.DataFrame:
    """Per service: cases, open cases, Kaplan–Meier median and 85th percentile days (NaN where not reached) and
    the 'at least' days where not reached."""
    rows = []
    t = cases.timed()
    for svc, g in t.groupby(t["service"].astype(str), sort=True):
        s = survival(g["duration"].to_numpy(float), ~g["open"].to_numpy(bool))
        rows.append(
            {
                "service": svc,
                "cases": int((cases.frame["service"].astype(str) == svc).sum()),
                "open_cases": int(g["open"].sum()),
                "median_days": np.nan if s.median is None else s.median,
                "median_at_least": np.nan if s.at_least(0.5) is None else s.at_least(0.5),
                "p85_days": np.nan if s.p85 is None else s.p85,
                "p85_at_least": np.nan if s.at_least(0.85) is None else s.at_least(0.85),
            }
        )
    return pd.DataFrame(
        rows, columns=["service", "cases", "open_cases", "median_days", "median_at_least", "p85_days", "p85_at_least"]
    )


def completion_order(frame: pd.DataFrame, *, end: str = "end", value: str = "days") -> pd.DataFrame:
    """Finished cases in order of completion, numbered 1, 2, ... in ``position``: the x of every per-case chart.

    Several cases can finish on one day and ``spc.xmr`` refuses duplicate dates, so per-case charts (the measure
    stage's capability per case, flow's end-to-end chart) plot cases by position; ties keep the table's order."""
    done = frame[frame[end].notna() & frame[value].notna()].sort_values(end, kind="stable").reset_index(drop=True)
    return done.assign(position=np.arange(1, len(done) + 1))


def km_median(durations: np.ndarray, finished: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    """The Kaplan–Meier median along the last axis (NaN where the curve never falls to a half): the product-limit
    estimate of ``endtoend.survival``, vectorised over bootstrap resamples. Cases are taken in order of duration,
    finished before open at a tie; each finished case multiplies the curve by 1 - weight / (weight still at risk),
    which over a tie is the textbook 1 - deaths / at risk. ``weight`` (per case) weights the baseline to another mix."""
    d = np.asarray(durations, dtype=float)
    ok = np.isfinite(d)
    w = ok * (1.0 if weight is None else np.broadcast_to(np.asarray(weight, dtype=float), d.shape))
    if not d.shape[-1]:
        return np.full(d.shape[:-1], np.nan)
    done = (np.asarray(finished) > 0) & ok
    key = np.where(ok, d, np.inf)
    order = np.lexsort((~done, key), axis=-1)
    ds, es, ws = (np.take_along_axis(a, order, axis=-1) for a in (key, done, w))
    at_risk = ws.sum(axis=-1, keepdims=True) - (np.cumsum(ws, axis=-1) - ws)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(es & (ws > 0), 1 - ws / np.where(at_risk > 0, at_risk, 1), 1.0)
    hit = np.cumprod(factor, axis=-1) <= 0.5 + 1e-12
    first = hit.argmax(axis=-1)
    value = np.take_along_axis(ds, first[..., None], axis=-1)[..., 0]
    return np.where(hit.any(axis=-1), value, np.nan)
