"""Where to start, as evidence: the services that lead on failure demand and on end-to-end time, side by side.

METHOD.md ("Readings that must stay true"): where to start is evidence side by side, never a score's verdict, and
never a catch-all category or a service too small to judge. So, from the organisation scan's per-service table:

* **failure demand** ranks services by their failure contacts (the failure demand there is to remove), each with
  its share of classified contacts; a service is ranked only with at least ``MIN_CLASSIFIED`` classified contacts;
* **end-to-end time** ranks services by their Kaplan–Meier median end-to-end days ("more than N days" where more
  than half are still open: ranked at N, a lower bound), only with at least ``MIN_CASES`` cases;
* the leader on each is named, with its figures and n, and the period of the data; where the leaders differ the
  sentence says so and names no single winner; where a runner-up is within ``CLOSE_CALL`` (10%) of the leader on
  a measure, it is named too and the sentence says "a close call";
* never named (listed in ``excluded`` with the reason, shown with the data problems): a catch-all or placeholder
  category (a name saying it is unassigned, "select one", "please choose", "other", ...: ``is_catch_all``), contacts
  with no service or a service not in council.yaml, and a service below both minimums;
* a service where an experiment team already works (council.yaml's ``experiment``, or cases marked with the
  experiment cohort) is not named either: it has started. Its end-to-end time mixes the ways of working, so it is
  split by cohort (before the experiment, the old system alongside it, the experiment team).

Analysis only: tables in, a ``StartingPoint`` out; ``scan`` builds the table and calls ``starting_point``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from systemic_lib import words
from systemic_lib.analysis.endtoend import EndToEndCases, survival

__all__ = [
    "MIN_CLASSIFIED",
    "MIN_CASES",
    "CLOSE_CALL",
    "StartingPoint",
    "starting_point",
    "is_catch_all",
    "cohort_times",
    "rule_sentence",
    "evidence_rows",
]

#: A service's failure demand is compared only with at least this many classified contacts (value or failure).
MIN_CLASSIFIED = 30
#: A service's end-to-end time is compared only with at least this many cases.
MIN_CASES = 30
#: A close call: the runner-up within this share of the leader (failure contacts, or median days).
CLOSE_CALL = 0.10

#: A service whose name or id says it is not a service: unassigned, a form's placeholder, "other", ...
_CATCH_ALL = re.compile(
    r"(?i)(?<![a-z])("
    r"un-?assigned|un-?allocated|not (?:yet )?(?:assigned|allocated|known|specified)|unknown|unspecified|"
    r"select (?:one|an?|the|your)\b|please (?:choose|select|pick)|choose (?:one|an?|the|your)\b|"
    r"others?|misc(?:ellaneous)?|n/?a|none|no service|no category|tbc|to be confirmed|"
    r"general enquir(?:y|ies)|catch[- ]?all|default|placeholder|uncategori[sz]ed|unclassified"
    r")(?![a-z])"
)


def is_catch_all(service: str, name: str | None = None) -> bool:
    """True when a service's id or name says it is a catch-all or placeholder category, not a service: "Please
    choose an issue...", "Unassigned", "Other", "Select one", "(no service)"; or when it has no name at all."""
    texts = [str(t) for t in (service, name) if t is not None and not words.is_missing(t)]
    texts = [t.replace("-", " ").replace("_", " ") for t in texts]
    return not any(t.strip() for t in texts) or any(_CATCH_ALL.search(t) for t in texts)


@dataclass
class StartingPoint:
    """Where to start: ``services`` named, best first; ``close_call``; ``excluded`` (service, name, reason, kind:
    "catch-all", "no service", "unknown", "too small", "experiment"); the ``sentence``; the leaders on each measure
    (``by_failure``, ``by_time``: ids ranked, eligible services only) and ``period`` (the data's, in words)."""

    services: list[str] = field(default_factory=list)
    close_call: bool = False
    excluded: list[dict] = field(default_factory=list)
    sentence: str = ""
    by_failure: list[str] = field(default_factory=list)
    by_time: list[str] = field(default_factory=list)
    period: str = ""

    def figures(self) -> dict:
        """``organisation_scan.json``'s ``where_to_start``."""
        return {
            "services": list(self.services),
            "close_call": self.close_call,
            "excluded": [dict(e) for e in self.excluded],
            "sentence": self.sentence,
            "rule": rule_sentence(),
        }


def rule_sentence() -> str:
    """The rule the sentence follows, said once on the page."""
    return (
        f"Services are compared on failure demand only with at least {MIN_CLASSIFIED} classified contacts, and on "
        f"end-to-end time only with at least {MIN_CASES} cases; a catch-all category, contacts with no service and "
        "a service where an experiment team already works are never named. It is a close call when the next "
        f"service is within {words.share(CLOSE_CALL)} of the leader (failure contacts, or median days)."
    )


# ------------------------------------------------------------------------------------------------ who is compared
def _excluded(row, experiments: dict) -> dict | None:
    """Why a service is never named, or None."""
    sid, name = str(row.service), str(row.service_name)
    base = {"service": sid, "service_name": name}
    if sid.startswith("(") or not sid.strip():
        return {**base, "kind": "no service", "reason": f"{words.count(row.contacts, 'contact')} with no service"}
    if is_catch_all(sid, name if row.known else None):
        return {
            **base,
            "kind": "catch-all",
            "reason": (
                f"a catch-all or placeholder category, not a service ({words.count(row.contacts, 'contact')}): "
                "give these contacts their service before comparing it"
            ),
        }
    if not row.known:
        return {
            **base,
            "kind": "unknown",
            "reason": f"not a service in council.yaml ({words.count(row.contacts, 'contact')})",
        }
    if sid in experiments:
        since = experiments[sid].get("since")
        when = f" since {words.date(since)}" if since else ""
        if experiments[sid].get("new_service"):
            return {**base, "kind": "experiment", "reason": f"a new service built by experiment{when}"}
        return {**base, "kind": "experiment", "reason": f"an experiment team already works here{when}"}
    classified, cases = int(row.value + row.failure), _int(row.cases)
    if classified < MIN_CLASSIFIED and cases < MIN_CASES:
        return {
            **base,
            "kind": "too small",
            "reason": (
                f"too little to judge: {words.count(classified, 'classified contact')} and "
                f"{words.count(cases, 'case')} (at least {MIN_CLASSIFIED} classified contacts or {MIN_CASES} cases "
                "are needed)"
            ),
        }
    return None


def _int(value) -> int:
    return 0 if words.is_missing(value) else int(value)


def _days(row) -> float | None:
    """The median days a service is ranked by: the Kaplan–Meier median, or its lower bound where not reached."""
    for col in ("median_days", "median_at_least"):
        if col in row and not words.is_missing(row[col]):
            return float(row[col])
    return None


def _ranked(table: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Eligible services ranked on failure demand (failure contacts, then share) and on end-to-end time (median)."""
    classified = table["value"] + table["failure"]
    fail = table[(classified >= MIN_CLASSIFIED) & (table["failure"] > 0)]
    fail = fail.sort_values(["failure", "failure_pct", "service"], ascending=[False, False, True], kind="stable")
    days = table.apply(_days, axis=1).astype(float)
    timed = table.assign(_days=days)
    timed = timed[(timed["cases"].fillna(0) >= MIN_CASES) & timed["_days"].notna()]
    timed = timed.sort_values(["_days", "service"], ascending=[False, True], kind="stable")
    return fail["service"].tolist(), timed["service"].tolist()


def _close(leader: float, runner: float) -> bool:
    return leader > 0 and runner >= (1 - CLOSE_CALL) * leader


# ------------------------------------------------------------------------------------------------ words
def failure_words(row, *, brackets: bool = False) -> str:
    """'6,336 of 10,801 classified contacts, 59%' (``brackets``: '... contacts (59%)')."""
    classified = int(row["value"] + row["failure"])
    pct = words.percent(row["failure_pct"])
    return f"{int(row['failure']):,} of {words.count(classified, 'classified contact')}" + (
        f" ({pct})" if brackets else f", {pct}"
    )


def time_words(row, *, brackets: bool = False) -> str:
    """'median 70 days; 825 cases, 127 still open' (``brackets``: 'median 70 days (825 cases, 127 still open)');
    'median more than 90 days' where more than half the cases are still open."""
    if not words.is_missing(row.get("median_days")):
        median = f"median {words.duration(row['median_days'])}"
    else:
        median = f"median more than {words.duration(row['median_at_least'])}"
    cases, still = _int(row.get("cases")), _int(row.get("open_cases"))
    count = words.count(cases, "case") + (f", {words.number(still)} still open" if still else "")
    return f"{median} ({count})" if brackets else f"{median}; {count}"


def cohort_words(cohorts: list[dict]) -> str:
    """'cases opened before the team started, median 78 days (656 cases, 3 still open); the old system alongside,
    median 78 days (542 cases, 180 still open); the experiment team, median 19 days (368 cases, 25 still open)'."""
    parts = []
    for c in cohorts:
        if not c.get("cases"):
            continue
        median = (
            words.duration(c["median_days"])
            if c.get("median_days") is not None
            else f"more than {words.duration(c['median_at_least'])}"
            if c.get("median_at_least") is not None
            else words.MISSING
        )
        still = f", {words.number(c['open_cases'])} still open" if c.get("open_cases") else ""
        parts.append(f"{c['label']}, median {median} ({words.count(c['cases'], 'case')}{still})")
    return "; ".join(parts)


def _experiment_words(name: str, exp: dict) -> str:
    since = f" since {words.date(exp['since'])}" if exp.get("since") else ""
    if exp.get("new_service"):  # no old system: nothing to split, and nothing to start on but its conditions
        own = new_service_words(exp.get("cohorts") or [])
        return (
            f"{name} is not named: it is a new service, built by experiment{since}, with no old system to compare."
            + (f" Its end-to-end time: {own}." if own else "")
        )
    text = f"{name} is not named: an experiment team has worked there{since}."
    split = cohort_words(exp.get("cohorts") or [])
    return text + (f" Its end-to-end time by way of working: {split}." if split else "")


def new_service_words(cohorts: list[dict]) -> str:
    """A new service's end-to-end time, from its one cohort: 'median 3 days (4,610 cases, 110 still open)'."""
    said = cohort_words([c for c in cohorts if c.get("label") == "the experiment team"])
    return said.removeprefix("the experiment team, ")


def _lead_words(rows: pd.DataFrame, f: list[str], t: list[str], when: str) -> str:
    """The leaders on each measure, in one sentence."""
    name = lambda sid: rows.loc[sid, "service_name"]
    if f and t and f[0] == t[0]:
        lead = rows.loc[f[0]]
        return (
            f"{when}{name(f[0])} led on both failure demand ({failure_words(lead)}) and end-to-end time "
            f"({time_words(lead)}): a place to start."
        )
    if f and t:
        return (
            f"{when}{name(f[0])} had the most failure demand ({failure_words(rows.loc[f[0]])}) and {name(t[0])} the "
            f"longest end-to-end time ({time_words(rows.loc[t[0]])}). They lead on different evidence: compare them "
            "side by side before choosing."
        )
    if f:
        return (
            f"{when}{name(f[0])} had the most failure demand ({failure_words(rows.loc[f[0]])}); no service has "
            f"{MIN_CASES} cases with an end-to-end time to compare."
        )
    return (
        f"{when}{name(t[0])} had the longest end-to-end time ({time_words(rows.loc[t[0]])}); no service has "
        f"{MIN_CLASSIFIED} classified contacts with failure demand to compare."
    )


def _sentence(table: pd.DataFrame, point: StartingPoint, experiments: dict) -> str:
    rows = table.set_index("service", drop=False)
    name = lambda sid: rows.loc[sid, "service_name"]
    f, t = point.by_failure, point.by_time
    if not f and not t:
        return ""
    text = _lead_words(rows, f, t, f"From {point.period}, " if point.period else "")
    close = []
    if len(f) > 1 and _close(rows.loc[f[0], "failure"], rows.loc[f[1], "failure"]):
        close.append(f"{name(f[1])} has almost as much failure demand ({failure_words(rows.loc[f[1]])})")
    if len(t) > 1 and _close(_days(rows.loc[t[0]]) or 0, _days(rows.loc[t[1]]) or 0):
        close.append(f"{name(t[1])}'s cases take almost as long ({time_words(rows.loc[t[1]])})")
    if close:
        text += " A close call: " + " and ".join(close) + "."
    for sid, exp in experiments.items():
        if sid in rows.index:
            text += " " + _experiment_words(name(sid), exp)
    return text[0].upper() + text[1:]


def starting_point(table: pd.DataFrame, *, experiments: dict | None = None, period: str = "") -> StartingPoint:
    """Where to start from the scan's per-service table (``scan.organisation_scan``: service, service_name, known,
    contacts, value, failure, failure_pct, cases, open_cases, median_days, median_at_least). ``experiments``:
    service id -> {since, cohorts} for services where an experiment team works (``scan.experiments``);
    ``period``: the data's period in words."""
    experiments = experiments or {}
    point = StartingPoint(period=period)
    if table.empty or not table["known"].any():
        point.sentence = "No services are listed in council.yaml yet: add them to see the scan."
        return point
    keep = []
    for row in table.itertuples(index=False):
        why = _excluded(row, experiments)
        if why is None:
            keep.append(row.service)
        else:
            point.excluded.append(why)
    eligible = table[table["service"].isin(keep)]
    point.by_failure, point.by_time = _ranked(eligible)
    f, t = point.by_failure, point.by_time
    named = [s for s in (f[:1] + t[:1]) if s]
    rows = eligible.set_index("service")
    if len(f) > 1 and _close(rows.loc[f[0], "failure"], rows.loc[f[1], "failure"]):
        named.append(f[1])
        point.close_call = True
    if len(t) > 1 and _close(_days(rows.loc[t[0]]) or 0, _days(rows.loc[t[1]]) or 0):
        named.append(t[1])
        point.close_call = True
    point.services = list(dict.fromkeys(named))[:3]
    point.sentence = _sentence(table, point, experiments) or _nothing_to_compare(table, experiments)
    return point


def _nothing_to_compare(table: pd.DataFrame, experiments: dict) -> str:
    """The sentence when no service can be named: what to collect first."""
    known = table[table["known"]]
    if known["contacts"].sum() == 0 and known["cases"].fillna(0).sum() == 0:
        return (
            "No contacts or end-to-end times are recorded for any service yet: start by collecting a few weeks of "
            "demand in the citizen's words."
        )
    return (
        f"No service can be named yet: none has {MIN_CLASSIFIED} classified contacts with some failure demand or "
        f"{MIN_CASES} cases with an end-to-end time"
        + (" outside the services where an experiment team already works" if experiments else "")
        + ". Classify a few weeks of contacts for the busiest service first."
    )


# ------------------------------------------------------------------------------------------------ experiments
def cohort_times(cases: EndToEndCases | None, table: pd.DataFrame | None, service: str, since) -> list[dict]:
    """A service's end-to-end time split by way of working: cases opened before the experiment began, the old
    system's cases alongside it (baseline, or no cohort, opened on or after ``since``) and the experiment team's
    (cohort "experiment"); each with cases, open cases and the Kaplan–Meier median (or "at least")."""
    if cases is None or table is None or "cohort" not in table:
        return []
    frame = cases.frame[cases.frame["service"].astype(str) == service]
    cohort = table.assign(case_id=table["case_id"].astype(str)).drop_duplicates("case_id").set_index("case_id")
    label = frame["case_id"].map(cohort["cohort"].astype(object)).fillna("")
    since = pd.Timestamp(since) if since is not None else None
    before = frame["start"] < since if since is not None else pd.Series(False, index=frame.index)
    groups = [
        ("cases opened before the team started", ~label.eq("experiment") & before),
        ("the old system alongside", ~label.eq("experiment") & ~before),
        ("the experiment team", label.eq("experiment")),
    ]
    out = []
    for name, mask in groups:
        g = frame[mask.to_numpy(dtype=bool) & frame["duration"].notna().to_numpy(dtype=bool)]
        s = survival(g["duration"].to_numpy(dtype=float), ~g["open"].to_numpy(dtype=bool))
        at_least = s.at_least(0.5)
        out.append(
            {
                "label": name,
                "cases": int(mask.sum()),
                "open_cases": int(frame.loc[mask.to_numpy(dtype=bool), "open"].sum()),
                "median_days": None if s.median is None else round(float(s.median), 1),
                "median_at_least": None if at_least is None else round(float(at_least), 1),
            }
        )
    return out


def _experiment_cell(exp: dict) -> str:
    if exp.get("new_service"):
        own = new_service_words(exp.get("cohorts") or [])
        return "a new service built by experiment" + (f": {own}" if own else "")
    return cohort_words(exp.get("cohorts") or []) or "running"


def evidence_rows(
    table: pd.DataFrame, point: StartingPoint, *, experiments: dict | None = None, conditions: dict | None = None
) -> pd.DataFrame:
    """The side-by-side table under the sentence, in words: the services named (and each measure's runner-up, for
    comparison) with failure demand, end-to-end time, the experiment (split by cohort) and the open system
    conditions."""
    experiments, conditions = experiments or {}, conditions
    rows = table.set_index("service", drop=False)
    shown = list(dict.fromkeys(point.services + point.by_failure[:2] + point.by_time[:2] + list(experiments)))
    shown = [s for s in shown if s in rows.index]
    out = {
        "Service": [rows.loc[s, "service_name"] for s in shown],
        "Named": ["yes" if s in point.services else "for comparison" for s in shown],
        "Failure demand": [
            failure_words(rows.loc[s], brackets=True)
            if int(rows.loc[s, "value"] + rows.loc[s, "failure"])
            else words.MISSING
            for s in shown
        ],
        "End-to-end time": [
            time_words(rows.loc[s], brackets=True) if _days(rows.loc[s]) is not None else words.MISSING for s in shown
        ],
        "Experiment": [_experiment_cell(experiments[s]) if s in experiments else "none" for s in shown],
    }
    if conditions is not None:
        out["Open system conditions"] = [words.number(conditions.get(s, 0)) for s in shown]
    return pd.DataFrame(out)
