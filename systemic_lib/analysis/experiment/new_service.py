"""A new service built by experiment (the seed's hub): there is no old system to compare with, so the page shows how
the service was built and what it now achieves.

The seed's council gathered staff in one room and took whatever demand came (food, prescriptions, emergency support,
anything else), built a workflow for each demand as it arrived, learned and adjusted, took a growing volume and made
new measures. Managers then copied the hub as structures and procedures instead of learning how it worked. So the page
reads, from the service's own records:

* **demand emerging**: contacts by demand type week by week since the start, when each type first appeared, and how
  much was failure demand (the new service's own failures, such as chasing a food parcel);
* **a workflow per main demand type** (the steps, people and end-to-end time of that type's cases) and how it changed
  at each learning-log entry about it (the cases opened before and after the entry);
* **capability since the start**: each case's end-to-end time and the weekly contacts on capability charts, with a
  new phase only at the changes the team recorded (``Stage.phases``), and the sentence "what the hub predictably
  achieves now" from the latest phase's limits;
* **the learning log** as the spine: what was tried, what was learned, which conditions were designed out or kept out.

A service is a new service when council.yaml says so (``experiment: {design: new service}``) or when every one of its
cases belongs to the experiment team: there is then nothing to mark as a baseline, and the page never asks for one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.analysis import endtoend, flowlog, spc
from systemic_lib.analysis.experiment.design import NEW_SERVICE
from systemic_lib.analysis.measure_cases import CaseCapability, case_capability
from systemic_lib.analysis.weekly import _week
from systemic_lib.data.contract import CHANGED_STATUS, empty_frame

__all__ = [
    "NEW_SERVICE",
    "MAIN_TYPES",
    "Workflow",
    "NewService",
    "is_new_service",
    "build",
    "DESIGNED_OUT",
]

DESIGNED_OUT = "designed out"
MAIN_TYPES = 4  #: the main demand types shown a workflow of their own: the most common, at most this many
FIRST_WEEKS = 4  #: "its first weeks" and "its last weeks": the mix compared at both ends


def is_new_service(declared: str | None, cohorts: pd.Series) -> bool:
    """Declared in council.yaml (``experiment.design``), or every case of the service belongs to the experiment."""
    if declared == NEW_SERVICE:
        return True
    labels = cohorts.dropna()
    return len(cohorts) > 0 and len(labels) == len(cohorts) and bool(labels.eq("experiment").all())


@dataclass
class Workflow:
    """One main demand type's workflow: its cases over the stretches between the learning-log entries about it.

    ``stretches``: one row per stretch (``from``, ``to``, ``change``: the entry that starts it, ``cases``, ``open``,
    ``steps``, ``people`` and ``hours`` per case (closed cases), ``median_days`` (Kaplan–Meier, open cases counted as
    open; NaN where not reached), ``path``: the most common path)."""

    demand_type: str
    cases: int
    stretches: pd.DataFrame

    @property
    def changed(self) -> bool:
        return len(self.stretches) > 1

    def change_words(self) -> str | None:
        """'from 5 steps and 3 people to 3 steps and 1 person a case, a median 4 days to 1' over its stretches; None
        where its learning-log entries left the steps, people and time as they were."""
        if not self.changed:
            return None
        a, b = self.stretches.iloc[0], self.stretches.iloc[-1]
        if not (np.isfinite(a["steps"]) and np.isfinite(b["steps"])):
            return None
        same = all(words.figure(a[k]) == words.figure(b[k]) for k in ("steps", "people", "median_days"))
        if same:
            return None
        text = (
            f"{self.demand_type}: from {words.figure(a['steps'])} steps and {words.figure(a['people'])} people a "
            f"case to {words.figure(b['steps'])} and {words.figure(b['people'])}"
        )
        if np.isfinite(a["median_days"]) and np.isfinite(b["median_days"]):
            text += f", a median {words.duration(a['median_days'])} end to end to {words.duration(b['median_days'])}"
        return text


@dataclass
class NewService:
    """What the experiment page of a new service shows (``build``)."""

    start: pd.Timestamp
    weekly: pd.DataFrame  #: week (Monday), one column per value demand type, "not yet classified", "failure demand"
    types: (
        pd.DataFrame
    )  #: demand_type, kind (value, failure, unclassified), first_week, week_no, contacts, first_pct, last_pct
    contacts: int
    classified: int
    failure: int
    failure_types: pd.Series  #: failure demand by demand type, most first
    staff: int
    cases: int
    open: int
    workflows: list[Workflow]
    capability: CaseCapability
    volume: spc.XmrResult | None  #: weekly contacts on a capability chart (None with fewer than two whole weeks)
    volume_weeks: pd.DataFrame  #: date, value (contacts), the weeks charted
    volume_labels: list = field(default_factory=list)  #: the recorded change that starts each later phase
    changes: list = field(default_factory=list)  #: the recorded changes that start a phase (conditions.Phase)
    #: the conditions it was built without (``designed_out``): condition, learned, since
    designed: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["condition", "learned", "since"]))

    @property
    def weeks(self) -> int:
        return len(self.weekly)

    @property
    def period(self) -> tuple:
        """From the start to the last day of its last week of contacts."""
        if not self.weeks:
            return (self.start, None)
        return (self.start, self.weekly["week"].max() + pd.Timedelta(days=6))

    def first_and_last(self) -> tuple[float, float] | None:
        """Contacts in its first week and the mean of its last ``FIRST_WEEKS`` weeks."""
        if self.volume_weeks.empty:
            return None
        v = self.volume_weeks["value"].to_numpy(dtype=float)
        return float(v[0]), float(v[-FIRST_WEEKS:].mean())

    def predictably(self) -> str | None:
        """What the hub predictably achieves now: the latest phase of the per-case end-to-end chart."""
        cap = self.capability
        if cap.result is None:
            return None
        now = cap.result.current
        upper, mean = now.get("upper"), now.get("mean")
        if upper is None or not np.isfinite(upper):
            return None
        since = (
            f"since {words.date(cap.changes[-1]['date'])} ({cap.changes[-1]['label']})"
            if cap.changes
            else f"since it started on {words.date(self.start)}"
        )
        trial = " (trial limits: fewer than 12 cases in this phase)" if now.get("trial") else ""
        return (
            f"What the service predictably achieves now: a citizen's need met within {words.duration(upper)} of "
            f"their first contact (the upper process limit; on average {words.duration(mean)}), on "
            f"{words.count(int(now['n']), 'case')} closed {since}{trial}; "
            f"{words.count(cap.n_open, 'case')} still open."
        )


# ------------------------------------------------------------------------------------------------ demand emerging
def _emerging(contacts: pd.DataFrame, start: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(weekly contacts by demand type with failure demand as one column, the types table)."""
    c = contacts[contacts["received_at"].notna() & (contacts["received_at"] >= start.normalize())]
    kind = np.where(
        c["classification"].eq("failure").fillna(False),
        "failure",
        np.where(c["classification"].eq("value").fillna(False), "value", "unclassified"),
    )
    label = c["demand_type"].astype(object).fillna("(no demand type)")
    week = _week(c["received_at"])
    weeks = pd.date_range(start.to_period("W-SUN").start_time, week.max(), freq="7D") if len(c) else []
    is_value = kind == "value"
    by_type = pd.crosstab(week[is_value], label[is_value]).reindex(weeks, fill_value=0)
    order = by_type.sum().sort_values(ascending=False, kind="stable").index
    weekly = by_type[order].copy()
    for name, rows in (("not yet classified", kind == "unclassified"), ("failure demand", kind == "failure")):
        weekly[name] = pd.Series(week[rows]).value_counts().reindex(weeks, fill_value=0).to_numpy()
    weekly = weekly.rename_axis("week").reset_index()
    frame = pd.DataFrame({"week": week.to_numpy(), "demand_type": label.to_numpy(), "kind": kind})
    types = frame.groupby("demand_type", sort=False).agg(
        kind=("kind", lambda k: k.mode().iloc[0]), first_week=("week", "min"), contacts=("week", "size")
    )
    first = weeks[:FIRST_WEEKS] if len(weeks) else []
    last = weeks[-FIRST_WEEKS:] if len(weeks) else []
    for name, span in (("first_pct", first), ("last_pct", last)):
        inside = frame[frame["week"].isin(span)]
        types[name] = inside["demand_type"].value_counts(normalize=True).reindex(types.index).fillna(0) * 100
    types["week_no"] = ((types["first_week"] - weeks[0]).dt.days // 7 + 1) if len(weeks) else []
    types = types.reset_index().sort_values(["first_week", "contacts"], ascending=[True, False], kind="stable")
    return weekly, types.reset_index(drop=True)


# ------------------------------------------------------------------------------------------------ workflows
def _entries_for(log: pd.DataFrame, demand_type: str, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    """The learning-log entries that change this type's workflow, with the ``when`` they took effect: each entry
    about this type (``demand_type``), and each entry about every type (no demand type) that changed the system
    (status changed or designed out); dated after the type's first case opened and on or before its last. An entry
    takes effect on its ``changed_at`` where it has one, else on its date."""
    if log.empty:
        return log.assign(when=pd.Series(dtype="datetime64[ns]"))
    kind = log["demand_type"] if "demand_type" in log else pd.Series(pd.NA, index=log.index)
    blank = kind.isna() | kind.astype(str).str.strip().eq("")
    changed = log["status"].isin(CHANGED_STATUS).fillna(False)
    about = (~blank & kind.astype(str).str.strip().eq(demand_type)) | (blank & changed)
    changed_at = log["changed_at"] if "changed_at" in log else pd.Series(pd.NaT, index=log.index)
    when = pd.to_datetime(changed_at).fillna(pd.to_datetime(log["date"]))
    dated = when.notna() & (when > first) & (when <= last)
    return log.assign(when=when)[about & dated].sort_values("when", kind="stable")


def _stretch(cases: pd.DataFrame, events: pd.DataFrame, catalogue) -> dict:
    """Steps, people and hours per closed case, the Kaplan–Meier median and the most common path of ``cases``."""
    closed = cases[~cases["end_to_end_open"].astype(bool)]
    km = endtoend.survival(cases["end_to_end_duration"].to_numpy(float), ~cases["end_to_end_open"].to_numpy(bool))
    ev = events[events["case_id"].astype(str).isin(set(cases["case_id"]))]
    path = flowlog.variants(ev, top=1, catalogue=catalogue)["path"].iloc[0] if len(ev) else words.MISSING
    return {
        "cases": len(cases),
        "open": int(cases["end_to_end_open"].astype(bool).sum()),
        "steps": float(closed["steps"].mean()) if len(closed) else np.nan,
        "people": float(closed["people"].mean()) if len(closed) else np.nan,
        "hours": float(closed["touch_hours"].mean()) if len(closed) else np.nan,
        "median_days": np.nan if km.median is None else float(km.median),
        "path": path,
    }


def _workflow(cases: pd.DataFrame, demand_type: str, log: pd.DataFrame, events: pd.DataFrame, catalogue) -> Workflow:
    opened = pd.to_datetime(cases["opened_at"])
    entries = _entries_for(log, demand_type, opened.min(), opened.max())
    bounds = [opened.min()] + list(entries["when"]) + [None]
    changes = [None] + [_entry_words(e) for _, e in entries.iterrows()]
    rows = []
    for k, change in enumerate(changes):
        lo, hi = bounds[k], bounds[k + 1]
        inside = cases[(opened >= lo).to_numpy() & ((opened < hi).to_numpy() if hi is not None else True)]
        if inside.empty:
            continue
        rows.append({"from": lo, "to": hi, "change": change, **_stretch(inside, events, catalogue)})
    return Workflow(demand_type, len(cases), pd.DataFrame(rows))


def _text(value) -> str:
    """A cell as text: "" for a blank (None, NaN, pd.NA)."""
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value).strip()


def _entry_words(entry) -> str:
    """A learning-log entry in a few words: what was tried (and the condition designed out)."""
    tried, condition = _text(entry.get("what_we_tried")), _text(entry.get("system_condition"))
    if _text(entry.get("status")) == DESIGNED_OUT and condition:
        return f"{tried} (designed out: {condition})"
    return tried


# ------------------------------------------------------------------------------------------------ capability
def _volume(contacts: pd.DataFrame, start: pd.Timestamp, changes) -> tuple[spc.XmrResult | None, pd.DataFrame, list]:
    """Weekly contacts since the start (whole weeks), a phase from the first week starting on or after each recorded
    change (one phase per week: the first change's label); returns (the chart, its weeks, the phase labels)."""
    c = contacts[contacts["received_at"].notna() & (contacts["received_at"] >= start.normalize())]
    if c.empty:
        return None, pd.DataFrame({"date": [], "value": []}), []
    week = _week(c["received_at"])
    weeks = pd.date_range(week.min(), week.max(), freq="7D")
    n = week.value_counts().reindex(weeks, fill_value=0)
    last_day = c["received_at"].max().normalize()
    if (last_day - weeks[-1]).days + 1 < 5:  # a last part week would look like a drop
        n = n.iloc[:-1]
    frame = pd.DataFrame({"date": n.index, "value": n.to_numpy(dtype=float)})
    if len(frame) < 2:
        return None, frame, []
    starts: dict[int, str] = {}
    dates = frame["date"].to_numpy(dtype="datetime64[ns]")
    for p in changes:
        i = int(np.searchsorted(dates, pd.Timestamp(p.date).to_datetime64()))
        if 0 < i < len(frame):
            starts.setdefault(i, p.label)
    result = spc.xmr(frame["value"].to_numpy(), phase_starts=sorted(starts), improvement="neutral", floor=0)
    points = result.points.copy()
    points.insert(0, "date", frame["date"].to_numpy())
    return replace(result, points=points), frame, [starts[i] for i in sorted(starts)]


def build(
    *,
    start: pd.Timestamp,
    cases: pd.DataFrame,
    contacts: pd.DataFrame | None,
    events: pd.DataFrame,
    catalogue: pd.DataFrame | None,
    log: pd.DataFrame,
    changes,
    cases_table: pd.DataFrame | None = None,
    conditions: pd.DataFrame | None = None,
    data_end=None,
) -> NewService:
    """Everything a new service's page shows. ``cases``: the per-case frame of every case (``Cohorts.cases``, with
    ``demand_type``, ``end_to_end_*``, ``steps``, ``people``, ``touch_hours``); ``contacts`` the service's contacts;
    ``events`` and ``catalogue`` its steps; ``log`` its learning log (``date``, ``what_we_tried``, ``status``,
    ``system_condition`` and, where kept, ``demand_type``); ``changes`` the recorded changes (``Stage.phases``);
    ``cases_table`` the cases table (opened_at, closed_at) for end-to-end time per case."""
    contacts = contacts if contacts is not None else empty_frame("demand")
    weekly, types = _emerging(contacts, start)
    classified = int(contacts["classification"].isin(["value", "failure"]).sum())
    failing = contacts[contacts["classification"].eq("failure").fillna(False)]
    measured = cases[cases["included"]] if "included" in cases else cases
    counts = measured["demand_type"].value_counts()
    main = [t for t in counts.index[:MAIN_TYPES] if counts[t] >= 5]
    workflows = [_workflow(measured[measured["demand_type"].eq(t)], str(t), log, events, catalogue) for t in main]
    staff = int(events["worker"].dropna().nunique()) if "worker" in events else 0
    cap = case_capability(
        cases_table, contacts=contacts, changes=[(p.date, p.text or p.label) for p in changes], data_end=data_end
    )
    volume, volume_weeks, volume_labels = _volume(contacts, start, changes)
    return NewService(
        start=start,
        weekly=weekly,
        types=types,
        contacts=len(contacts),
        classified=classified,
        failure=len(failing),
        failure_types=failing["demand_type"].value_counts(),
        staff=staff,
        # every case on file (the one count: a row in cases.csv or a step), as the capability chart counts them
        cases=cap.cases.n if cap.cases.n else len(measured),
        open=cap.cases.n_open if cap.cases.n else int(measured["end_to_end_open"].astype(bool).sum()),
        workflows=workflows,
        capability=cap,
        volume=volume,
        volume_weeks=volume_weeks,
        volume_labels=volume_labels,
        changes=list(changes),
        designed=designed_out(log, conditions),
    )


def designed_out(log: pd.DataFrame, conditions: pd.DataFrame | None) -> pd.DataFrame:
    """The conditions the new way of working was built without: learning-log entries and system conditions marked
    designed out, once each (condition, what was learned or the waste it caused, since: its date or blank for from
    the start)."""
    rows = []
    if len(log) and "status" in log:
        for _, e in log[log["status"].eq(DESIGNED_OUT).fillna(False)].iterrows():
            rows.append(
                {
                    "condition": _text(e.get("system_condition")),
                    "learned": _text(e.get("what_we_learned")) or _text(e.get("waste_caused")),
                    "since": e.get("changed_at"),
                }
            )
    if conditions is not None and len(conditions):
        from systemic_lib.data.conditions import words_of

        shown = conditions[conditions["status"].eq(DESIGNED_OUT).fillna(False)]
        for (_, c), text in zip(shown.iterrows(), words_of(shown)):
            rows.append({"condition": text, "learned": _text(c.get("thinking")), "since": c["changed_at"]})
    frame = pd.DataFrame(rows, columns=["condition", "learned", "since"])
    frame = frame[frame["condition"].ne("")]
    return frame.drop_duplicates("condition").reset_index(drop=True)


# ------------------------------------------------------------------------------------------------ in words
def headline_text(ns: NewService, *, team: str, service_name: str) -> str:
    """One sentence: what the team built, on how much demand, and what it predictably achieves now."""
    now = ns.capability.predictably_within()
    tail = (
        f"; a citizen's need is now predictably met within {words.duration(now)} of their first contact"
        if now is not None
        else ""
    )
    return (
        f"Since {words.date(ns.start)} the {team} has built a new service, {service_name}, by experiment: "
        f"{words.count(ns.contacts, 'contact')} in {words.count(ns.weeks, 'week')} and "
        f"{words.count(ns.cases, 'case')} ({words.number(ns.open)} still open){tail}."
    )


def _types_line(ns: NewService) -> str | None:
    value = ns.types[ns.types["kind"].eq("value")]
    if value.empty:
        return None
    parts = [f"{t} from week {int(w)}" for t, w in zip(value["demand_type"], value["week_no"])]
    return "Demand emerged: " + "; ".join(parts[:5]) + ("; and more" if len(parts) > 5 else "") + "."


def _failure_line(ns: NewService) -> str | None:
    if not ns.classified:
        return None
    top = "; ".join(f"{t} ({words.number(n)})" for t, n in ns.failure_types.head(3).items())
    return (
        f"Failure demand: {words.number(ns.failure)} of {words.count(ns.classified, 'classified contact')} "
        f"({words.percent(ns.failure / ns.classified * 100)}) were its own failures" + (f": {top}." if top else ".")
    )


def box_lines(ns: NewService, *, team: str, service_name: str, to_act_on: int) -> list[str]:
    """The box that opens a new service's page: who built it with how many people and how much demand, which demand
    emerged when, its volume, its failure demand, how workflows changed, what it predictably achieves now and the
    conditions designed out; eight lines at most."""
    lines = [
        f"The {team} started {service_name} on {words.date(ns.start)} with {words.count(ns.staff, 'person', 'people')} "
        f"recording its work; in {words.count(ns.weeks, 'week')} it took {words.count(ns.contacts, 'contact')} and "
        f"{words.count(ns.cases, 'case')}, {words.number(ns.open)} still open. It is a new service: there is no old "
        "system to compare with."
    ]
    ends = ns.first_and_last()
    volume = (
        f"Volume: {words.count(ends[0], 'contact')} in its first whole week, {words.number(ends[1])} a week over "
        f"its last {min(FIRST_WEEKS, len(ns.volume_weeks))}."
        if ends is not None
        else None
    )
    designed = ns.designed
    designed_line = (
        f"Conditions designed out: {words.number(len(designed))} ("
        + "; ".join(designed["condition"].head(2))
        + ("; ..." if len(designed) > 2 else "")
        + f"); still to act on: {words.number(to_act_on)}."
        if len(designed)
        else None
    )
    head = [line for line in (lines[0], _types_line(ns), volume, _failure_line(ns)) if line]
    tail = [line for line in (ns.predictably(), designed_line) if line]
    flows = [f"Workflow, {text}." for text in (wf.change_words() for wf in ns.workflows) if text]
    return head + flows[: max(0, 8 - len(head) - len(tail))] + tail


def _f(x):
    return None if x is None or (isinstance(x, float) and not np.isfinite(x)) else x


def figures(ns: NewService) -> dict:
    """``experiment.json``'s ``new_service``: demand as it emerged, the workflows and their changes, capability now."""
    from systemic_lib.analysis.measure_cases import per_case_figures

    def day(d):
        return None if d is None or pd.isna(d) else pd.Timestamp(d).date().isoformat()

    return {
        "started": day(ns.start),
        "weeks": ns.weeks,
        "staff": ns.staff,
        "contacts": ns.contacts,
        "classified_contacts": ns.classified,
        "failure_contacts": ns.failure,
        "cases": ns.cases,
        "open_cases": ns.open,
        "demand_types": [
            {
                "demand_type": r["demand_type"],
                "kind": r["kind"],
                "first_week": day(r["first_week"]),
                "week_no": int(r["week_no"]),
                "contacts": int(r["contacts"]),
            }
            for _, r in ns.types.iterrows()
        ],
        "workflows": [
            {
                "demand_type": wf.demand_type,
                "cases": wf.cases,
                "stretches": [
                    {
                        "from": day(r["from"]),
                        "to": day(r["to"]),
                        "change": r["change"] if isinstance(r["change"], str) else None,
                        "cases": int(r["cases"]),
                        "open": int(r["open"]),
                        "steps": _f(round(float(r["steps"]), 2)),
                        "people": _f(round(float(r["people"]), 2)),
                        "hours": _f(round(float(r["hours"]), 2)),
                        "median_days": _f(round(float(r["median_days"]), 2)),
                        "path": r["path"],
                    }
                    for _, r in wf.stretches.iterrows()
                ],
            }
            for wf in ns.workflows
        ],
        "end_to_end_per_case": per_case_figures(ns.capability),
        "phases": [p.figure() for p in ns.changes],
        "predictably_now": ns.predictably(),
        "designed_out": ns.designed["condition"].tolist(),
    }


def questions(ns: NewService, *, to_act_on: int) -> list[str]:
    """Questions for a team that built a new service, and for managers who want more of it."""
    out = []
    if ns.failure:
        out.append(
            f"{words.count(ns.failure, 'contact')} were the service's own failure demand: which step or wait "
            "causes the most, and what would design it out?"
        )
    if to_act_on:
        out.append(
            f"The learning log names {words.count(to_act_on, 'system condition')} still to act on. Who will change "
            "them before they creep back in?"
        )
    out += [
        "Which demand is still emerging, and who in the room learns its workflow first?",
        "Which conditions made this work (designed out or kept out)? Managers who want more of it should copy "
        "those conditions, not a procedure.",
    ]
    return out


# ------------------------------------------------------------------------------------------------ tables to show
def timeline(log: pd.DataFrame) -> pd.DataFrame:
    """The learning log in date order, the spine of a new service's page: when, for which demand, what was tried
    and learned, the system condition and where it stands."""
    cols = ["Date", "Demand type", "What we tried", "What we learned", "System condition", "Status"]
    if log.empty:
        return pd.DataFrame(columns=cols)
    log = log.sort_values("date", kind="stable")
    kind = log["demand_type"] if "demand_type" in log else pd.Series(pd.NA, index=log.index)
    status = log["status"].astype(object).fillna("")
    since = log["changed_at"] if "changed_at" in log else pd.Series(pd.NaT, index=log.index)
    status = [
        f"{s} on {words.date(d)}" if s in CHANGED_STATUS and pd.notna(d) else (s or "not set")
        for s, d in zip(status, since)
    ]
    return pd.DataFrame(
        {
            "Date": log["date"].dt.date,
            "Demand type": kind.astype(object).where(kind.notna() & kind.astype(str).str.strip().ne(""), "every type"),
            "What we tried": log["what_we_tried"],
            "What we learned": log["what_we_learned"],
            "System condition": log["system_condition"],
            "Status": status,
        }
    ).reset_index(drop=True)


def types_table(ns: NewService) -> pd.DataFrame:
    """Each demand type as it emerged: value or failure, the week it first came, contacts, its share of the first and
    the last weeks."""
    t = ns.types
    n = min(FIRST_WEEKS, ns.weeks)
    return pd.DataFrame(
        {
            "Demand type": t["demand_type"],
            "Value or failure": t["kind"],
            "First came": [
                f"week {int(w)} ({words.date(d, short=True)})" for w, d in zip(t["week_no"], t["first_week"])
            ],
            "Contacts": t["contacts"],
            f"% of its first {n} weeks": t["first_pct"],
            f"% of its last {n} weeks": t["last_pct"],
        }
    )


def workflow_table(wf: Workflow) -> pd.DataFrame:
    """One demand type's workflow over its stretches: from when, the learning-log entry that started the stretch,
    its cases (open), steps, people and hours per closed case, the median end to end and the most common path."""
    r = wf.stretches
    return pd.DataFrame(
        {
            "From": [words.date(d, short=True) for d in r["from"]],
            "What changed (learning log)": [c if isinstance(c, str) else "(the start)" for c in r["change"]],
            "Cases (open)": [f"{int(n):,} ({int(o):,})" for n, o in zip(r["cases"], r["open"])],
            "Steps per case": r["steps"],
            "People per case": r["people"],
            "Hours per case": r["hours"],
            "End to end (median)": [
                words.duration(d) if np.isfinite(d) else "more than half still open" for d in r["median_days"]
            ],
            "Most common path": r["path"],
        }
    )


def failure_words(ns: NewService) -> str | None:
    """'48 of 272 classified contacts (18%) were the service's own failure demand, most of it: ...'."""
    if not ns.classified:
        return None
    top = "; ".join(f"{t} ({words.number(n)})" for t, n in ns.failure_types.head(5).items())
    return (
        f"{words.number(ns.failure)} of {words.count(ns.classified, 'classified contact')} "
        f"({words.percent(ns.failure / ns.classified * 100)}) were the service's own failure demand"
        + (f", most of it: {top}." if top else ".")
        + (
            f" {words.count(ns.contacts - ns.classified, 'contact')} not yet classified are not counted."
            if ns.contacts > ns.classified
            else ""
        )
    )
