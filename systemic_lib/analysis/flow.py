"""Map flow: how a service's cases really flow end to end, from the events table.

The stage contract: ``data = flow.load(stage)`` reads the service's events, activity catalogue and cases once into a
``FlowData`` (the prepared ``FlowLog``, the tables, the tables that had errors, the service's system changes);
``headline``, ``questions``, ``figures`` and ``period`` take it. The event log itself (cleaning, per-case table,
variants, clean flow, directly-follows graph) is ``flowlog``; the figures the charts draw (end-to-end series with
process limits, steps by kind, hand-offs and people) are computed here, so ``charts/flow.py`` only draws and
``sections/flow.py`` only shows. Functions take a ``FlowData``, a ``FlowLog`` or an events frame alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.analysis import endtoend, joined, processmap
from systemic_lib.analysis.endtoend import EndToEndCases
from systemic_lib.analysis.flowlog import (
    CASE_COLUMNS,
    CATEGORY_COLUMNS,
    LOCAL_ZONE,
    FlowLog,
    FlowProblems,
    case_table,
    directly_follows,
    end_to_end_summary,
    service_summary,
    variants,
)
from systemic_lib.analysis.spc import XmrResult, xmr
from systemic_lib.data.contract import Problem
from systemic_lib.data.stages import Stage

__all__ = [
    "FlowData",
    "FlowLog",
    "FlowProblems",
    "EndToEnd",
    "load",
    "headline",
    "questions",
    "figures",
    "findings",
    "period",
    "as_log",
    "summary",
    "end_to_end_cases",
    "demand_joined",
    "case_table",
    "directly_follows",
    "variants",
    "service_summary",
    "summary_sentences",
    "period_words",
    "phases",
    "top_paths",
    "clean_flow_table",
    "end_to_end",
    "steps_by_kind",
    "hands_counts",
    "CASE_COLUMNS",
    "CATEGORY_COLUMNS",
    "LOCAL_ZONE",
]


#: The coverage of the flow report's process map (the busiest activities making up this share of all steps).
MAP_COVERAGE = 0.8


@dataclass
class FlowData:
    """What the flow stage read: the prepared log, the tables behind it, and the tables not used for errors.

    ``problems`` is the log's checks (``FlowProblems``: counts and what was done); ``table_errors`` holds, per table
    (``events``, ``activities``, ``cases``), the errors that kept it out until they are fixed. The log's own figures
    (``n_cases``, ``case_table``, ...) are read from ``log`` (or ``as_log(data)``), not forwarded.
    """

    log: FlowLog
    events: pd.DataFrame
    catalogue: pd.DataFrame | None = None
    cases: pd.DataFrame | None = None
    table_errors: dict[str, list[Problem]] = field(default_factory=dict)
    service_name: str = "this service"
    phase_starts: list = field(default_factory=list)
    phase_labels: list | None = None
    #: each case's start (the citizen's first linked contact counts), end and whether it is open (``endtoend``)
    end_to_end_cases: EndToEndCases | None = None
    #: the cases with the contacts linked to them: the cost of waiting and design against demand (``joined``)
    joined: joined.Joined | None = None

    @property
    def problems(self) -> FlowProblems:
        return self.log.problems

    def all_problems(self) -> list[Problem]:
        """Every problem as contract problems: the errors of tables not used, then the log's checks."""
        return [p for errors in self.table_errors.values() for p in errors] + self.log.problems.as_problems()


def as_log(data, catalogue: pd.DataFrame | None = None, cases: pd.DataFrame | None = None) -> FlowLog:
    """The ``FlowLog`` of a ``FlowData``, a ``FlowLog`` itself, or one prepared from an events frame."""
    if isinstance(data, FlowData):
        return data.log
    return data if isinstance(data, FlowLog) else FlowLog(data, catalogue=catalogue, cases=cases)


def load(stage: Stage) -> FlowData:
    """The stage's events (in its period), activity catalogue and cases (all of the service's) as a ``FlowData``.

    A table with errors is not used (an empty events table, no catalogue or no cases) and its errors are returned
    in ``table_errors`` for the report to show; nothing is raised or displayed here."""
    events, errors = stage.table_or_empty("events")
    table_errors = {"events": errors} if errors else {}
    others = {}
    for name in ("activities", "cases"):
        frame, errors = stage.table_or_empty(name, period=False)
        others[name] = None if errors else frame
        if errors:
            table_errors[name] = errors
    # events with errors are left out until fixed: then no end-to-end time from the cases alone either
    log = FlowLog(
        events,
        catalogue=others["activities"],
        cases=None if "events" in table_errors else others["cases"],
        contacts=stage_contacts(stage),
        data_end=endtoend.stage_censor_date(stage),
        closing=closing(stage),
    )
    data = FlowData(
        log,
        events,
        others["activities"],
        others["cases"],
        table_errors,
        stage.service_name if stage.service else "this service",
        **phases(stage),
    )
    data.end_to_end_cases = endtoend.stage_cases(stage, cases=log.end_to_end_cases)
    data.joined = demand_joined(data)
    return data


def demand_joined(data) -> joined.Joined:
    """The flow's cases joined to the contacts linked to them (``joined``), with each case's steps (a value step
    per the catalogue) for design against demand."""
    if isinstance(data, FlowData) and data.joined is not None:
        return data.joined
    log = as_log(data)
    paths = value = None
    if log.n_events:  # each case's path from its variant: one tuple per variant, not per case
        vid = log._variant_codes[0]
        names = np.asarray(log.activity_labels.astype(str), dtype=object)
        reps = log._variant_steps(np.arange(log.n_variants))
        by_variant = np.empty(len(reps), dtype=object)
        by_variant[:] = [tuple(names[log.act[log.starts[c] : log.ends[c]]]) for c in reps]
        paths = pd.Series(by_variant[vid], index=pd.Index(log.case_ids.astype(str).to_numpy(dtype=object)))
        value = set(names[np.unique(log.act[log.step == 0])])
    return joined.join(
        end_to_end_cases(data),
        log._contacts,
        paths=paths,
        value_activities=value or (),
        case_table=data.cases if isinstance(data, FlowData) else log._cases,
        service_name=data.service_name if isinstance(data, FlowData) else "this service",
    )


def closing(stage) -> list[tuple[str, str]]:
    """council.yaml's ``closes_case`` activities of the stage's service (or, council-wide, every service's), as
    (service, activity) pairs for ``endtoend``."""
    services = [stage.service] if stage.service is not None else list(stage.council.spec.services)
    return [(s.id, a) for s in services for a in getattr(s, "closes_case", [])]


def stage_contacts(stage) -> pd.DataFrame | None:
    """The stage's contacts (whole, rules applied) that link a case (``demand.case_id``): a case starts at the
    citizen's first contact. A demand table with errors adds no contacts (the demand report shows its errors)."""
    try:
        contacts = stage.contacts(period=False).frame if stage.has("demand") else None
    except Exception:
        return None
    return contacts if contacts is not None and "case_id" in contacts and contacts["case_id"].notna().any() else None


def end_to_end_cases(data) -> EndToEndCases:
    """The cases of a ``FlowData`` (with its linked contacts), ``FlowLog`` or events frame by the one definition."""
    if isinstance(data, FlowData) and data.end_to_end_cases is not None:
        return data.end_to_end_cases
    return as_log(data).end_to_end_cases


def summary(data) -> dict:
    """The log's summary with end-to-end figures by the one definition (Kaplan–Meier, open cases censored):
    ``cases`` counts every case of the service (``endtoend.case_ids``: with steps or in cases.csv, the count every
    page gives), ``cases_with_steps`` those the paths and the map are drawn from."""
    log = as_log(data)
    cases = end_to_end_cases(data)
    return {
        **log.summary(),
        **end_to_end_summary(cases),
        "cases": cases.n if log.n_cases or cases.n else 0,
        "cases_with_steps": int(log.n_cases),
    }


def phases(stage) -> dict:
    """The stage's phases (``Stage.phases``: system changes and changed conditions), as ``phase_starts`` and
    ``phase_labels`` for the chart."""
    changes = stage.phases()
    return {
        "phase_starts": [pd.Timestamp(c.date) for c in changes],
        "phase_labels": [c.label for c in changes] if changes else None,
    }


def period(data: FlowData) -> tuple:
    """First and last event time, or (None, None)."""
    log = as_log(data)
    if not log.n_events:
        return None, None
    return pd.Timestamp(log.ts.min()), pd.Timestamp(log.ts.max())


def period_words(data) -> str:
    """ "1 January 2024 to 31 December 2024" for the log's events, or "no dated data"."""
    return words.period(*period(data))


def hands_threshold(data) -> int:
    """The 'N or more hands' the headline counts: 5 where cases usually meet several people, else 3."""
    return 5 if as_log(data).case_table["people"].mean() >= 4 else 3


def headline(data: FlowData, *, service_name: str | None = None) -> str:
    """'Cases took a median 34 days end to end; 62% passed through 5 or more hands.'"""
    log = as_log(data)
    name = service_name or (data.service_name if isinstance(data, FlowData) else "this service")
    if not log.n_cases:
        cases = end_to_end_cases(data)
        if not cases.n:
            return f"No events are recorded for {name}: add events.csv (one row per step of a case) to map its flow."
        s = end_to_end_summary(cases)
        median = endtoend.figure_words(s["median_days"], s["median_at_least"])
        done = f"cases took a median {median} end to end" if s["closed_cases"] else "no case has finished yet"
        still = f" ({words.count(s['open_cases'], 'case')} still open)" if s["open_cases"] else ""
        return (
            f"From the {cases.n:,} cases in cases.csv alone, {done}{still}; no steps are recorded for {name}, "
            "so its flow cannot be mapped: add events.csv (one row per step of a case)."
        )
    s = summary(data)
    ct = log.case_table
    k = hands_threshold(log)
    many = (ct["people"] >= k).mean()
    median = endtoend.figure_words(s["median_days"], s["median_at_least"])
    text = f"Cases took a median {median} end to end" if s["closed_cases"] else "No case has finished yet"
    if s["open_cases"]:
        text += f" ({words.count(s['open_cases'], 'case')} still open)"
    if ct["people"].max() > 0:
        text += f"; {words.share(many)} passed through {k} or more hands"
    return text + "."


def summary_sentences(data) -> list[str]:
    """Plain sentences behind the headline: which start and end, spread, steps, waste, rework, open cases."""
    s = summary(data)
    steps = bool(s["cases_with_steps"])  # else a cases export with no steps: end-to-end time only
    out = [endtoend.definition_sentence(end_to_end_cases(data))] if s["cases"] else []
    if s["closed_cases"]:
        half = endtoend.within_words("half", s["median_days"], s["median_at_least"])
        most = endtoend.within_words("85%", s["p85_days"], s["p85_at_least"])
        mean = f" (mean {words.duration(s['mean_days'])})" if s["mean_days"] is not None else ""
        if s["open_cases"]:
            out.append(
                f"Counting the {words.count(s['open_cases'], 'open case')} as still waiting (Kaplan–Meier; "
                f"{s['cases']:,} cases, {s['closed_cases']:,} finished): {half}; {most}."
            )
        else:
            out.append(
                f"Half the {s['closed_cases']:,} finished cases took {words.duration(s['median_days'])} or "
                f"less; 85% took {words.duration(s['p85_days'])} or less{mean}."
            )
    if not steps:
        return out
    if s["cases"] > s["cases_with_steps"]:
        unstepped = s["cases"] - s["cases_with_steps"]
        out.append(
            f"{words.number(unstepped)} of these cases {'has' if unstepped == 1 else 'have'} no step recorded yet, "
            f"so the steps, paths and map below describe the other {s['cases_with_steps']:,}."
        )
    out.append(
        f"A case went through {s['mean_steps']:,.1f} steps on average, with {s['mean_handoffs']:,.1f} "
        f"hand-offs and {s['mean_people']:,.1f} different people."
    )
    if s["value_step_share"] is not None:
        out.append(
            f"{words.share(s['value_step_share'])} of classified steps were value steps; "
            f"{words.share(1 - s['value_step_share'])} were waste."
        )
    out.append(f"{words.share(s['rework_share'])} of cases repeated a step they had already been through (rework).")
    if s["cases_with_steps"] >= 20 and s["variants_total"] >= 0.5 * s["cases_with_steps"]:
        top = s["variants"][0]["cases"] if s["variants"] else 0
        out.append(
            f"Almost every case took a path of its own ({s['variants_total']:,} different paths for "
            f"{s['cases_with_steps']:,} cases; the most common was taken by {top:,}), so the list of paths describes few "
            "cases each: read the process map for the common flow."
        )
    if s["unclassified_steps"]:
        out.append(
            f"{s['unclassified_steps']:,} steps are of activities not in the catalogue, so they count as "
            "neither value nor waste."
        )
    return out


def findings(data: FlowData) -> list[str]:
    """What we found, for the top of the page: end to end (median and 85%, with the cases still open), hand-offs
    and people, waste and rework, each with its cases and period; the figures of ``figures``. With no steps
    recorded (a cases export alone), the headline: its end-to-end time and why the flow cannot be mapped."""
    s = summary(data)
    if not s["cases"] or not as_log(data).n_cases:
        return [headline(data)]
    when = period_words(data)
    out = []
    if s["closed_cases"]:
        half = endtoend.within_words("half", s["median_days"], s["median_at_least"])
        most = endtoend.within_words("85%", s["p85_days"], s["p85_at_least"])
        still = f", counting the {words.number(s['open_cases'])} still open as still waiting" if s["open_cases"] else ""
        out.append(f"End to end, {half} and {most} ({words.count(s['cases'], 'case')}{still}; {when}).")
    else:
        out.append(headline(data))
    if s["cases_with_steps"]:
        out.append(
            f"A case passed through {s['mean_handoffs']:,.1f} hand-offs and {s['mean_people']:,.1f} different people "
            f"on average ({words.count(s['cases_with_steps'], 'case')} with their steps recorded, {when})."
        )
        if s["value_step_share"] is not None:
            out.append(
                f"{words.share(1 - s['value_step_share'])} of the classified steps were waste, work the citizen "
                f"would not recognise as helping ({words.count(s['events'], 'step')} recorded, {when})."
            )
        again = (
            f"{words.share(s['rework_share'])} of cases went back through a step they had already been through"
            if s["rework_share"]
            else "No case went back through a step it had already been through"
        )
        out.append(f"{again} (rework; {words.count(s['cases_with_steps'], 'case')}, {when}).")
    return out


def questions(data: FlowData) -> list[str]:
    """Questions for the team, from what the figures show."""
    s = summary(data)
    q = [
        "Where does the work go? Walk one real case from the citizen's first contact to the need being met.",
        "Which steps would the citizen recognise as helping them, and which are there for us?",
    ]
    if s["cases_with_steps"]:
        q.append(
            f"How many people touch one case ({s['mean_people']:,.1f} on average), and why does each hand-off happen?"
        )
        if s["rework_share"]:
            q.append(f"Why do {words.share(s['rework_share'])} of cases go back through a step they have already done?")
        if s["p85_days"] is not None and s["median_days"] is not None and not s["open_cases"]:
            q.append(
                f"What makes the slowest cases take {words.duration(s['p85_days'])} or more when "
                f"half take {words.duration(s['median_days'])} or less?"
            )
        q.append(
            "What would the clean flow be, and what system condition (rule, target, IT system, procedure) "
            "stops cases from following it?"
        )
    return q


def figures(data: FlowData) -> dict:
    """The key figures written to flow.json."""
    log = as_log(data)
    s = summary(data)
    return {
        **{
            k: s[k]
            for k in (
                "cases",
                "cases_with_steps",
                "events",
                "median_days",
                "median_at_least",
                "p85_days",
                "p85_at_least",
                "mean_days",
                "mean_handoffs",
                "mean_people",
                "mean_steps",
                "rework_share",
                "value_step_share",
                "open_cases",
                "unclassified_steps",
                "variants_total",
                "variants",
                "clean_flow",
            )
        },
        "map": processmap.figures(log, coverage=MAP_COVERAGE),
        "end_to_end": endtoend.figures(end_to_end_cases(data)),
        **joined.figures(demand_joined(data)),
        "problems": {row.check: int(row.count) for row in log.problems.table().itertuples()},
    }


# ---- what the report's tables and charts show ------------------------------------------------------------------
def top_paths(data, *, top: int = 10, max_steps: int = 12) -> pd.DataFrame:
    """The most common paths for the report: path (long ones shortened), steps, cases, % of cases."""
    v = as_log(data).variants(top)
    short = [
        p if n <= max_steps else " → ".join(p.split(" → ")[:max_steps]) + f" → … ({n - max_steps} more)"
        for p, n in zip(v["path"], v["steps"])
    ]
    return pd.DataFrame(
        {
            "path": short,
            "steps": v["steps"],
            "waste steps": v["waste_steps"],
            "cases": v["cases"],
            "% of cases": 100 * v["share"],
        }
    )


def clean_flow_table(data) -> pd.DataFrame:
    """The most common path beside the clean flow, step by step."""
    c = as_log(data).clean_flow()
    n = max(len(c["actual"]), len(c["clean"]))
    pad = lambda xs: list(xs) + [""] * (n - len(xs))
    return pd.DataFrame(
        {
            "step": np.arange(1, n + 1),
            f"most common path ({c['actual_cases']:,} cases)": pad(c["actual"]),
            "clean flow"
            + (
                f" ({words.count(c['clean_cases'], 'finished case')})"
                if c["clean_source"] == "observed"
                else " (its waste steps taken out)"
            ): pad(c["clean"]),
        }
    )


@dataclass
class EndToEnd:
    """Finished cases in order of completion with their XmR process limits (``limits``, the ``spc.xmr`` result;
    None below 2 cases) and the labels of the phases that start inside them."""

    finished: pd.DataFrame
    limits: XmrResult | None
    phase_labels: list | None


def end_to_end(data, *, phase_starts=(), phase_labels=None, target=None) -> EndToEnd:
    """End-to-end days (the one definition, ``endtoend``) of each finished case in order of completion, with
    process limits per phase; open cases have no time and are not on it.

    Several cases can finish on one day, so points are case numbers in order of completion; a phase starts at the
    first case finishing on or after the change (changes before the first or after the last case start none)."""
    cases = end_to_end_cases(data).frame
    done = endtoend.completion_order(cases)
    done = done.assign(last_at=done["end"], end_to_end_days=done["days"])  # the names the chart has always read
    if len(done) < 2:
        return EndToEnd(done, None, None)
    ends = done["last_at"].to_numpy()
    labels = list(phase_labels) if phase_labels is not None else [None] * len(phase_starts)
    positions = np.searchsorted(
        ends, np.array([pd.Timestamp(d).to_datetime64() for d in phase_starts], dtype="datetime64[ns]")
    )
    kept = {int(i): label for i, label in zip(positions, labels) if 0 < i < len(done)}  # same case: last wins
    starts = sorted(kept)
    limits = xmr(
        done["end_to_end_days"].to_numpy(), phase_starts=starts, improvement="decrease", target=target, floor=0
    )
    return EndToEnd(done, limits, [kept[i] for i in starts] if phase_labels is not None else None)


def steps_by_kind(data) -> pd.DataFrame:
    """Steps per catalogue category (with its usual step type) and steps not in the catalogue, fewest first."""
    log = as_log(data)
    ct = log.case_table
    counts = pd.DataFrame(
        {"category": list(CATEGORY_COLUMNS), "steps": [int(ct[c].sum()) for c in CATEGORY_COLUMNS.values()]}
    )
    stats = log.activity_stats
    kind = stats[stats["category"].ne("")].groupby("category")["step_type"].agg(lambda s: s.mode().iloc[0])
    counts["step_type"] = counts["category"].map(kind).astype(object).fillna("value")
    if ct["unclassified_steps"].sum():
        counts.loc[len(counts)] = ["not in catalogue", int(ct["unclassified_steps"].sum()), "unclassified"]
    return counts[counts["steps"] > 0].sort_values("steps")


def hands_counts(data) -> pd.DataFrame:
    """Cases with 0, 1, 2, ... hand-offs and different people; the last row gathers the top 2% ("N+")."""
    ct = as_log(data).case_table
    cap = int(max(np.percentile(ct["handoffs"], 98), np.percentile(ct["people"], 98), 1)) if len(ct) else 1
    bins = np.arange(cap + 2)
    return pd.DataFrame(
        {
            "per_case": bins,
            "label": [str(b) if b <= cap else f"{cap + 1}+" for b in bins],
            "handoffs": np.bincount(np.minimum(ct["handoffs"], cap + 1), minlength=cap + 2)[: cap + 2],
            "people": np.bincount(np.minimum(ct["people"], cap + 1), minlength=cap + 2)[: cap + 2],
        }
    )
