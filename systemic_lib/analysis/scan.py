"""Organisation scan: every service of a council side by side, so that senior managers see where to start.

Per service (METHOD.md, "Organisation scan"): demand volume, value / failure / unclassified contacts, failure demand %
and the largest failure demands (from the demand table); cases, median and 85th-percentile end-to-end days and
hand-offs and people per case (``flow``, from the events; end-to-end by the one definition, ``endtoend``: from the
citizen's first linked contact, open cases censored at the service's one censoring date); and the capability of
end-to-end time and of failure demand %: what the system predictably achieves now, i.e. the latest phase's mean and
process limits, of every finished case for end-to-end time (``measure_cases``: what a citizen can expect, the limits
of ``measure.json``'s ``end_to_end_per_case``) and of the weekly series the measure stage charts for failure demand
(``measure.measure_series`` and ``spc.xmr``), a new phase at each of the service's recorded system changes.

The stage contract: ``load(stage)`` reads each table once (demand through ``stage.contacts()``, with the council's
rules applied, for both the demand side and the failure-demand capability) and returns a ``ScanData``;
``headline`` (``where_to_start``), ``questions``, ``figures`` (what ``organisation_scan.json`` holds) and ``period``
take it. The charts are in ``charts/scan.py``, what the page shows in ``sections/scan.py``.

A service with no contacts, no events or too few weeks for a capability chart gets missing figures ("—" in the
report, ``None`` in ``organisation_scan.json``) and a note saying what to add; the scan never raises for missing or
broken data. Where to start is evidence side by side (``start``): the services that lead on failure demand and on
end-to-end time, with their figures, n and period, never a catch-all category, a service too small to judge
(``MIN_CLASSIFIED`` classified contacts, ``MIN_CASES`` cases) or one where an experiment team already works.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.analysis import start
from systemic_lib.analysis.demand import NO_SERVICE, UNCLASSIFIED, pareto
from systemic_lib.analysis.demand_problems import data_problems
from systemic_lib.analysis.endtoend import (
    EndToEndCases,
    by_service,
    case_times,
    censor_dates,
    in_period,
    stage_censor_date,
)
from systemic_lib.analysis.flow import FlowLog, service_summary
from systemic_lib.analysis.flow import closing as stage_closing
from systemic_lib.analysis.measure import TABLE_OF, MeasureResult, measure_series
from systemic_lib.analysis.measure_cases import case_capability, scan_capability
from systemic_lib.analysis.start import MIN_CASES, MIN_CLASSIFIED, StartingPoint, cohort_times
from systemic_lib.data.classify import by_rules
from systemic_lib.data.conditions import open_conditions
from systemic_lib.data.contract import WARNING, Problem, empty_frame
from systemic_lib.data.council import MEASURES
from systemic_lib.data.stages import Stage
from systemic_lib.errors import ContractError

__all__ = [
    "ScanData",
    "load",
    "headline",
    "questions",
    "figures",
    "findings",
    "period",
    "demand_side",
    "flow_side",
    "capability",
    "capabilities",
    "organisation_scan",
    "for_stage",
    "where_to_start",
    "start_with",
    "starting_point",
    "MIN_CLASSIFIED",
    "MIN_CASES",
    "service_figures",
    "notes",
    "demand_rows",
    "flow_rows",
    "period_caption",
    "caption",
    "problems",
    "capability_words",
    "DASH",
    "QUESTIONS",
]


DASH = words.MISSING
QUESTIONS = (
    "Where is failure demand largest, in numbers and in share?",
    "Where do citizens wait longest for their need to be met, and how many hands does a case pass through?",
    "Which failure demands recur across services?",
    "Which service should an experiment team start with?",
)
#: The two measures whose capability the scan shows, with the words used for them.
CAPABILITY_MEASURES = {"end_to_end_days": "end_to_end_capability", "failure_demand_pct": "failure_capability"}


# ------------------------------------------------------------------------------------------------ formatting
def _range_text(lower, upper, unit: str) -> str:
    if unit == "days":
        return f"{words.days(lower)}\u2013{words.days(upper)} days"
    return f"{float(lower):.0f}\u2013{words.percent(upper)}"


def capability_words(cap: dict | None, unit: str) -> str:
    """What the system achieves now, in plain words: "predictably 14–25 days (mean 19)", with "since 1 Jul 2024"
    when the latest phase starts at a system change; "not yet predictable" when the latest phase has special causes,
    "provisional" when its limits rest on fewer than 12 points; "—" without a chart. A monthly measure (``grain``
    "month", on sparse data) counts months and ends "by month"."""
    if not cap or words.is_missing(cap.get("mean")):
        return DASH
    mean = words.days(cap["mean"]) if unit == "days" else f"{cap['mean']:.0f}"
    since = f" since {words.date(cap['since'], short=True)}" if cap.get("phase") and cap.get("since") else ""
    grain = cap.get("grain") or "week"
    by = "; by month" if grain == "month" else ""
    if words.is_missing(cap.get("lower")) or words.is_missing(cap.get("upper")):
        return f"mean {mean}{' days' if unit == 'days' else '%'}{since}, no limits yet{by}"
    span = _range_text(cap["lower"], cap["upper"], unit)
    if not cap.get("stable"):
        return f"{span} (mean {mean}){since}; not yet predictable{by}"
    if cap.get("trial"):
        return f"{span} (mean {mean}){since}; provisional, {words.count(cap['weeks'], grain)}"
    return f"predictably {span} (mean {mean}){since}{by}"


# ------------------------------------------------------------------------------------------------ demand
def demand_side(data: pd.DataFrame, *, services: dict[str, str], top: int = 3) -> pd.DataFrame:
    """Contacts, value, failure, unclassified, failure % (of classified contacts) and the top failure demands.

    ``services`` maps service id to name in council.yaml order; services with no contacts get zeros, and contacts
    naming a service not in council.yaml get their own row (so the council total is every contact); ``known`` says
    which rows are services in council.yaml.
    """
    types = pareto(data, by_service=True)
    wide = types.pivot_table(
        index="service", columns="classification", values="contacts", aggfunc="sum", fill_value=0
    ).reindex(columns=["value", "failure", UNCLASSIFIED], fill_value=0)
    known = list(services)
    unknown = sorted(set(wide.index) - set(known))
    wide = wide.reindex(known + unknown, fill_value=0)
    table = pd.DataFrame(
        {
            "service": wide.index.astype(str),
            "service_name": [services.get(s, f"{s} (not in council.yaml)") for s in wide.index],
            "contacts": wide.sum(axis=1).to_numpy(),
            "value": wide["value"].to_numpy(),
            "failure": wide["failure"].to_numpy(),
            "unclassified": wide[UNCLASSIFIED].to_numpy(),
        }
    )
    table = table.astype({c: "int64" for c in ("contacts", "value", "failure", "unclassified")})
    classified = (table["value"] + table["failure"]).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["failure_pct"] = np.where(classified > 0, 100 * table["failure"] / np.maximum(classified, 1), np.nan)
    fails = types[types["classification"] == "failure"]  # already sorted by service, contacts desc, type
    fails = fails.groupby("service", sort=False).head(top)
    words = fails.groupby("service")["demand_type"].agg(list)
    counts = fails.groupby("service")["contacts"].agg(list)
    table["top_failure_demands"] = [words.get(s, []) for s in table["service"]]
    table["top_failure_counts"] = [[int(c) for c in counts.get(s, [])] for s in table["service"]]
    ruled = pd.Series(by_rules(data), index=data.index).groupby(data["service"].astype(object).fillna(NO_SERVICE)).sum()
    table["classified_by_rules"] = [int(ruled.get(s, 0)) for s in table["service"]]
    table["known"] = table["service"].isin(known)
    return table


# ------------------------------------------------------------------------------------------------ flow
#: End-to-end days are Kaplan–Meier (``endtoend``): NaN where not reached, with ``*_at_least`` "more than N days".
_FLOW_COLUMNS = [
    "cases",
    "closed_cases",
    "open_cases",
    "median_days",
    "median_at_least",
    "p85_days",
    "p85_at_least",
    "mean_handoffs",
    "mean_people",
]


def flow_side(
    events: pd.DataFrame | None, *, services, catalogue: pd.DataFrame | None = None, cases: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per service (index, in the order of ``services``): cases, closed and open cases, Kaplan–Meier median and
    85th-percentile end-to-end days (the one definition, as on the flow report), mean hand-offs and people per case;
    NaN where a service has neither events nor cases."""
    return _flow(events, services=services, catalogue=catalogue, cases=cases)[0]


def _flow(
    events,
    *,
    services,
    catalogue=None,
    cases=None,
    data_end=None,
    contacts=None,
    closing=(),
    cases_only: bool = True,
    period=(None, None),
) -> tuple:
    """``flow_side``, the events' problems and the cases' ``EndToEndCases``: open cases censored at ``data_end``
    (service -> its one censoring date), a case starting at its citizen's first linked contact in ``contacts``, the
    cases of the ``period`` (``endtoend.in_period``, as every page counts them). With no events table
    (``cases_only``; not events with errors, left missing until fixed), from the cases alone."""
    out = pd.DataFrame(index=pd.Index(list(services), name="service"), columns=_FLOW_COLUMNS, dtype=float)
    if events is None or len(events) == 0:
        return _cases_only(out, cases if cases_only else None, contacts=contacts, data_end=data_end, period=period)
    if data_end is None:
        data_end = censor_dates(events=events, cases=cases)
    log = FlowLog(events, catalogue=catalogue, cases=cases, data_end=data_end, contacts=contacts, closing=closing)
    if not log.n_events:
        return out, [], None
    e2e = in_period(log.end_to_end_cases, *period)
    summary = service_summary(log, end_to_end=e2e).set_index("service")
    summary["closed_cases"] = summary["cases"] - summary["open_cases"]
    known = summary.reindex(out.index)
    for col in _FLOW_COLUMNS:
        out[col] = known[col].astype(float)
    return out, log.problems.as_problems(), e2e


def _cases_only(out: pd.DataFrame, cases, *, contacts=None, data_end=None, period=(None, None)) -> tuple:
    """With no events but a cases table (a case-management export): end-to-end times per service from the cases
    alone, by the same definition; hand-offs and people stay missing (no steps are recorded)."""
    if cases is None or not len(cases):
        return out, [], None
    e2e = case_times(
        cases=cases, contacts=contacts, data_end=data_end if data_end is not None else censor_dates(cases=cases)
    )
    e2e = in_period(e2e, *period)
    per = by_service(e2e).set_index("service").reindex(out.index)
    for col in per.columns:
        out[col] = per[col].astype(float)
    out["closed_cases"] = out["cases"] - out["open_cases"]
    return out, [], e2e


# ------------------------------------------------------------------------------------------------ capability
def capability(
    series: pd.DataFrame,
    *,
    measure_id: str,
    grain: str = "week",
    direction: str | None = None,
    changes=(),
    service_name: str = "",
) -> dict:
    """What the system predictably achieves now on one measure: the latest phase's mean and process limits.

    ``series`` and ``grain`` are ``measure.measure_series``'s (date, value, n; weekly, or monthly on sparse data); ``changes`` are (date, label) system changes, each starting a new phase as on the measure
    report. Returns mean, lower, upper, since (latest phase start, ISO), weeks (points in the latest phase: weeks, or
    months when grain is "month"), grain, trial (fewer than 12 points behind the limits), stable (no special cause in
    the latest phase), phase (0 = no system change inside the data), label (the change that started the latest
    phase) and note (why there is no chart, else None).
    """

    name, unit, usual = MEASURES[measure_id]
    empty = {
        "mean": None,
        "lower": None,
        "upper": None,
        "since": None,
        "weeks": 0,
        "grain": grain,
        "trial": None,
        "stable": None,
        "phase": None,
        "label": None,
        "note": None,
    }
    res = MeasureResult(measure_id, name, unit, direction or usual, None, service_name, series, grain=grain)
    weeks = int(series["value"].notna().sum()) if len(series) else 0
    if weeks < 2:
        return {
            **empty,
            "weeks": weeks,
            "note": f"only {words.count(weeks, grain)} with enough data (a capability chart needs at least 2)",
        }
    changes = list(changes)
    res = res.recompute(phase_starts=[pd.Timestamp(d) for d, _ in changes], phase_labels=[lab for _, lab in changes])
    if res.result is None:
        return {**empty, "weeks": weeks, "note": res.note}
    phase = res.result.current
    points = res.result.points
    latest = points[points["phase"] == phase["phase"]]
    signals = latest["signal"].dropna()
    clean = lambda v: None if words.is_missing(v) else round(float(v), 2)
    label = res.phase_labels[phase["phase"] - 1] if phase["phase"] >= 1 and res.phase_labels else None
    return {
        "mean": clean(phase["mean"]),
        "lower": clean(phase["lower"]),
        "upper": clean(phase["upper"]),
        "since": pd.Timestamp(phase["start"]).date().isoformat(),
        "weeks": int(latest["value"].notna().sum()),
        "grain": grain,
        "trial": bool(phase["trial"]),
        "stable": bool((signals == "common_cause").all()),
        "phase": int(phase["phase"]),
        "label": label,
        "note": None,
    }


def capabilities(
    tables: dict[str, pd.DataFrame],
    services,
    *,
    changes: dict[str, list] | None = None,
    start=None,
    end=None,
    errors: dict[str, str] | None = None,
    contacts: pd.DataFrame | None = None,
    data_end: dict | None = None,
) -> dict[str, dict[str, dict]]:
    """service id -> {measure id -> ``capability``} for the two scan measures; never raises for data problems.

    ``tables``: the council's "demand" (contacts with the rules applied) and "cases", all services, the cases whole
    (end-to-end weeks need the data's end); a table the council does not have is left out of the dict. ``errors``:
    table -> why a table with errors was not read. ``services``: council.yaml's services (id, name, measures);
    ``changes``: service id -> its (date, label) system changes, each starting a new phase. End-to-end time is per
    case (``measure_cases``), from the citizen's first contact in ``contacts`` (the whole table), open cases censored
    at ``data_end`` (service -> date)."""

    errors, changes = errors or {}, changes or {}
    out: dict[str, dict[str, dict]] = {}
    for svc in services:
        specs = {m.id: m for m in svc.measures}
        out[svc.id] = {}
        for mid in CAPABILITY_MEASURES:
            table = TABLE_OF[mid]
            if table in errors:
                out[svc.id][mid] = {
                    "weeks": 0,
                    "note": f"{table}.csv has problems, so no capability is shown ({errors[table]})",
                }
                continue
            if table not in tables:
                out[svc.id][mid] = {"weeks": 0, "note": None}
                continue
            frame = tables[table]
            if mid == "end_to_end_days":
                mine = _rows_of(svc.id)
                out[svc.id][mid] = scan_capability(
                    case_capability(
                        mine(frame),
                        contacts=mine(contacts),
                        changes=changes.get(svc.id, ()),
                        start=start,
                        end=end,
                        data_end=(data_end or {}).get(svc.id),
                    )
                )
                continue
            series, grain = measure_series(
                frame[frame["service"] == svc.id].reset_index(drop=True), mid, start=start, end=end
            )
            spec = specs.get(mid)
            out[svc.id][mid] = capability(
                series,
                measure_id=mid,
                grain=grain,
                direction=spec.improvement if spec else None,
                changes=changes.get(svc.id, ()),
                service_name=svc.name,
            )
    return out


# ------------------------------------------------------------------------------------------------ the scan
def organisation_scan(
    contacts: pd.DataFrame,
    *,
    services: dict[str, str],
    top: int = 3,
    flow: pd.DataFrame | None = None,
    capabilities: dict | None = None,
) -> pd.DataFrame:
    """Every service side by side: the demand side, plus flow figures (``flow_side``) and capabilities
    (service id -> {measure id -> ``capability`` dict}) where given, and a list of plain notes per service."""
    table = demand_side(contacts, services=services, top=top)
    flow = flow if flow is not None else pd.DataFrame(columns=_FLOW_COLUMNS, dtype=float)
    for col in _FLOW_COLUMNS:
        table[col] = flow[col].reindex(table["service"]).to_numpy(dtype=float) if col in flow else np.nan
    capabilities = capabilities or {}
    for mid, col in CAPABILITY_MEASURES.items():
        table[col] = [(capabilities.get(s) or {}).get(mid) for s in table["service"]]
    table["notes"] = [_notes(row, row.known) for row in table.itertuples(index=False)]
    return table


def _notes(row, known: bool) -> list[str]:
    out = []
    if not known:
        return [
            "Not a service in council.yaml: its contacts are counted but it has no flow or measures. Add it to "
            "council.yaml or correct the service id in demand.csv."
        ]
    if row.contacts == 0:
        out.append("No contacts recorded: add demand.csv rows for this service to see its failure demand.")
    elif row.value + row.failure == 0:
        out.append("No contacts classified yet: classify them (value or failure) to see the failure demand %.")
    if words.is_missing(row.cases) or row.cases == 0:
        out.append("No events recorded: add events.csv to see end-to-end times, hand-offs and people per case.")
    elif words.is_missing(row.median_days) and words.is_missing(row.median_at_least):
        out.append("No closed cases yet: end-to-end times need cases with a closed_at date in cases.csv.")
    has_data = {
        "end_to_end_capability": not words.is_missing(row.median_days),
        "failure_capability": row.value + row.failure > 0,
    }
    for col, what in (("end_to_end_capability", "end-to-end time"), ("failure_capability", "failure demand")):
        cap = getattr(row, col)
        if cap and cap.get("note") and has_data[col]:
            out.append(f"No capability chart of {what} yet: {cap['note']}.")
        elif cap and cap.get("mean") is not None and cap.get("trial"):
            points = words.count(cap["weeks"], cap.get("grain") or "week")
            out.append(
                f"The {what} limits are provisional: only {points} since {words.date(cap['since'], short=True)}."
            )
    return out


@dataclass
class ScanData:
    """What the organisation scan read and made: one row per service (``organisation_scan``), the problems of tables
    left out for errors, the rules table's and the events' problems, and the first and last date of the contacts
    and of the events."""

    table: pd.DataFrame
    problems: list = field(default_factory=list)
    rules_problems: list = field(default_factory=list)
    flow_problems: list = field(default_factory=list)
    contacts_period: tuple = (None, None)
    events_period: tuple = (None, None)
    end_to_end: EndToEndCases | None = None  #: every service's cases by the one definition
    #: service id -> {since, team, cohorts}: where an experiment team works, its end-to-end time split by cohort
    experiments: dict = field(default_factory=dict)
    #: service id -> open system conditions (open, in hand or not set); None when the council keeps none
    conditions: dict | None = None


def load(stage: Stage, *, top: int = 3) -> ScanData:
    """The organisation scan of a notebook's council-level ``report.Stage`` (its period).

    Reads each table once: the contacts (``stage.contacts()``, the council's rules.csv applied to unclassified
    contacts, as the demand reports do), events, activities and cases; a table with errors is left out (its problems
    are in ``problems``) so that the scan still shows everything else. Capabilities come from the same contacts and
    cases, through the measure stage's ``measure_series``.
    """
    council = stage.council
    services = {s.id: s.name for s in council.spec.services}
    problems, tables, errors, rules_problems = [], {}, {}, []
    for name in ("demand", "events", "activities", "cases"):
        try:
            if name == "demand":  # with the council's rules applied, as on the demand reports
                contacts = stage.contacts()
                tables[name], rules_problems = contacts.frame, list(contacts.problems)
            else:
                tables[name] = stage.table(name, period=name == "events")
        except ContractError as exc:
            problems += exc.problems
            errors[name] = str(exc)
            tables[name] = None
    contacts = tables["demand"]
    if contacts is None:
        contacts = empty_frame("demand")
    ends, whole = stage_censor_date(stage), _whole_contacts(stage) if "demand" not in errors else None
    flow, flow_problems, e2e = _flow(
        tables["events"],
        services=services,
        catalogue=tables["activities"],
        cases=tables["cases"],
        data_end=ends,
        contacts=whole,
        closing=stage_closing(stage),
        cases_only="events" not in errors,
        period=(stage.start, stage.end),
    )
    measured = {name: tables[name] for name in ("demand", "cases") if stage.has(name) and name not in errors}
    caps = capabilities(
        measured,
        council.spec.services,
        start=stage.start,
        end=stage.end,
        errors=errors,
        changes={s: [(p.date, p.label) for p in stage.phases(s)] for s in services},
        contacts=whole,
        data_end=ends,
    )
    table = organisation_scan(contacts, services=services, top=top, flow=flow, capabilities=caps)
    found = experiments(council.spec.services, e2e, tables["cases"])
    table["experiment_since"] = [(found.get(s) or {}).get("since") for s in table["service"]]
    events = tables["events"]
    return ScanData(
        table,
        problems,
        rules_problems,
        flow_problems,
        (contacts["received_at"].min(), contacts["received_at"].max()) if len(contacts) else (None, None),
        (events["timestamp"].min(), events["timestamp"].max()) if events is not None and len(events) else (None, None),
        e2e,
        found,
        conditions_by_service(stage),
    )


def experiments(services, cases, table: pd.DataFrame | None) -> dict:
    """service id -> {since, team, cohorts, new_service} for each service where an experiment team works:
    council.yaml's ``experiment`` (its start), or cases marked with the experiment cohort (since the first of them);
    ``cohorts`` is its end-to-end time split by way of working (``start.cohort_times``); ``new_service``: built by
    experiment, with no old system."""
    marked: dict = {}
    if table is not None and len(table) and "cohort" in table:
        exp = table[table["cohort"].eq("experiment")]
        marked = exp.groupby(exp["service"].astype(str))["opened_at"].min().to_dict() if len(exp) else {}
    out = {}
    for svc in services:
        spec = getattr(svc, "experiment", None)
        if spec is None and svc.id not in marked:
            continue
        since = pd.Timestamp(spec.start) if spec is not None else pd.Timestamp(marked[svc.id]).normalize()
        out[svc.id] = {
            "since": since.date().isoformat(),
            "team": spec.team if spec is not None else "Experiment team",
            "cohorts": cohort_times(cases, table, svc.id, since),
            "new_service": _new_service(spec, table, svc.id),
        }
    return out


def _new_service(spec, table: pd.DataFrame | None, service: str) -> bool:
    """A new service built by experiment: council.yaml says so (``experiment.design``), or every case of the service
    is the experiment team's (there is no old system to compare with)."""
    if getattr(spec, "design", None) == "new service":
        return True
    if table is None or not len(table) or "cohort" not in table:
        return False
    cohort = table.loc[table["service"].astype(str) == service, "cohort"]
    return len(cohort) > 0 and bool(cohort.eq("experiment").all())


def conditions_by_service(stage) -> dict | None:
    """service id -> how many system conditions are still to act on (open, in hand or not set), from the council's
    system conditions; None when it keeps none (or they have errors, shown on their own report)."""
    if not stage.has("system_conditions"):
        return None
    frame, errors = stage.table_or_empty("system_conditions", period=False)
    if errors:
        return None
    still = open_conditions(frame)
    return {str(k): int(v) for k, v in still["service"].astype(str).value_counts().items()}


def _whole_contacts(stage) -> pd.DataFrame | None:
    """Every contact, whole (rules applied): a case starts at its citizen's first contact, whenever that was."""
    try:
        return stage.contacts(period=False).frame if stage.has("demand") else None
    except ContractError:
        return None


def for_stage(stage, *, top: int = 3) -> ScanData:
    """``load(stage)``, under the name older notebooks used."""
    return load(stage, top=top)


def _table(data) -> pd.DataFrame:
    """The per-service table of a ``ScanData`` (or a table itself)."""
    return data.table if isinstance(data, ScanData) else data


def _known(scan: pd.DataFrame) -> pd.DataFrame:
    """The rows that are services in council.yaml."""
    return scan[scan["known"]] if "known" in scan else scan


# ------------------------------------------------------------------------------------------------ where to start
def starting_point(scan) -> StartingPoint:
    """Where to start, as evidence (``start.starting_point``): the services that lead on failure demand and on
    end-to-end time, with their figures, n and period; never a catch-all, a service too small to judge or one where
    an experiment team already works (those are in ``excluded``, with the reason)."""
    if isinstance(scan, ScanData):
        return start.starting_point(scan.table, experiments=scan.experiments, period=period_caption(scan))
    return start.starting_point(_table(scan))


def where_to_start(scan) -> str:
    """The sentence on where to start (``starting_point``): evidence side by side, never a score's verdict."""
    return starting_point(scan).sentence


# ------------------------------------------------------------------------------------------------ outputs
def _cap_json(cap: dict | None, unit: str):
    if not cap or cap.get("mean") is None:
        return None
    keys = ("mean", "lower", "upper", "since", "weeks", "grain", "trial", "stable", "phase", "label")
    return {**{k: cap.get(k) for k in keys}, "words": capability_words(cap, unit)}


def _num(value, digits: int = 1):
    return None if words.is_missing(value) else round(float(value), digits)


def service_figures(scan) -> list[dict]:
    """The scan as a list of per-service dicts for ``organisation_scan.json`` (None for what is not known)."""
    out = []
    for row in _table(scan).itertuples(index=False):
        out.append(
            {
                "service": row.service,
                "service_name": row.service_name,
                "contacts": int(row.contacts),
                "value": int(row.value),
                "failure": int(row.failure),
                "unclassified": int(row.unclassified),
                "failure_pct": _num(row.failure_pct),
                "classified_by_rules": int(row.classified_by_rules),
                "top_failure_demands": list(row.top_failure_demands),
                "cases": None if words.is_missing(row.cases) else int(row.cases),
                "closed_cases": None if words.is_missing(row.closed_cases) else int(row.closed_cases),
                "open_cases": None if words.is_missing(row.open_cases) else int(row.open_cases),
                "median_days": _num(row.median_days),
                "median_at_least": _num(row.median_at_least),
                "p85_days": _num(row.p85_days),
                "p85_at_least": _num(row.p85_at_least),
                "mean_handoffs": _num(row.mean_handoffs),
                "mean_people": _num(row.mean_people),
                "end_to_end_capability": _cap_json(row.end_to_end_capability, "days"),
                "failure_capability": _cap_json(row.failure_capability, "%"),
                "notes": list(row.notes),
            }
        )
    return out


def figures(data: ScanData) -> dict:
    """What ``organisation_scan.json`` holds besides the stage's meta: every contact, where to start (the sentence
    and the service id) and ``service_figures``."""
    point = starting_point(data)
    return {
        "contacts": int(data.table["contacts"].sum()),
        "classified_by_rules": int(data.table["classified_by_rules"].sum()),
        "where_to_start": point.figures(),
        "start_with": point.services[0] if point.services else None,
        "services": service_figures(data),
    }


def headline(data: ScanData) -> str:
    """The scan's headline: ``where_to_start``."""
    return where_to_start(data)


def findings(data: ScanData) -> list[str]:
    """What we found, for the top of the page: where to start (``headline``: the services that lead on failure demand
    and on end-to-end time, by the rule of ``start``), then failure demand across the council's services, with its
    counts and period; the figures of ``figures``. No service is named here that the rule leaves out."""
    out = [headline(data)]
    known = _known(_table(data))
    classified = int(known["value"].sum() + known["failure"].sum()) if len(known) else 0
    if classified:
        out.append(
            f"Across {words.count(len(known), 'service')}, {words.percent(100 * known['failure'].sum() / classified)} "
            f"of the {words.count(classified, 'classified contact')} were failure demand, {period_caption(data)}."
        )
    return out


def questions(data: ScanData | None = None) -> list[str]:
    """Questions a team should ask of the organisation scan."""
    return list(QUESTIONS)


def start_with(scan) -> str | None:
    """The id of the first service ``starting_point`` names, or None."""
    named = starting_point(scan).services
    return named[0] if named else None


def notes(scan) -> list[str]:
    """ "Service: note" for every note of every service, in scan order."""
    return [f"{row.service_name}: {n}" for row in _table(scan).itertuples(index=False) for n in row.notes]


def demand_rows(scan) -> pd.DataFrame:
    """The demand table in words: contacts, failure demand (and %), not yet classified, the largest failure demands;
    "—" where a service has none."""
    scan = _table(scan)

    def top(row):
        return "; ".join(f"{t} ({c:,})" for t, c in zip(row.top_failure_demands, row.top_failure_counts)) or DASH

    def ruled(row):
        classified = row.value + row.failure
        share = words.figure(100 * row.classified_by_rules / classified) if classified else None
        return DASH if not classified else f"{classified:,}, of which {share}% classified by rules"

    out = pd.DataFrame(
        {
            "Service": scan["service_name"],
            "Contacts": [f"{c:,}" if c else DASH for c in scan["contacts"]],
            "Failure demand": [
                DASH if words.is_missing(p) else f"{f:,} ({p:.0f}%)"
                for f, p in zip(scan["failure"], scan["failure_pct"])
            ],
            "Not yet classified": [f"{u:,}" if c else DASH for u, c in zip(scan["unclassified"], scan["contacts"])],
            "Largest failure demands": [top(r) for r in scan.itertuples(index=False)],
        }
    )
    if "classified_by_rules" in scan and scan["classified_by_rules"].sum():  # said only where rules classified any
        out.insert(3, "Classified", [ruled(r) for r in scan.itertuples(index=False)])
    return out


def _km_days(days, at_least) -> str:
    """'29', or 'more than 120' where the Kaplan–Meier estimate is not reached (too many cases still open)."""
    if not words.is_missing(days):
        return words.days(days)
    return DASH if words.is_missing(at_least) else f"more than {words.days(at_least)}"


def _marked(row) -> str:
    """A service's name, marked where an experiment team works: its end-to-end time mixes the ways of working."""
    since = getattr(row, "experiment_since", None)
    if not since or words.is_missing(since):
        return row.service_name
    return f"{row.service_name} (experiment team since {words.date(since, short=True)}: see where to start)"


def flow_rows(scan) -> pd.DataFrame:
    """The end-to-end table in words, services in council.yaml only: cases, median and 85% days (Kaplan–Meier, "more
    than N" where not reached), open cases, hand-offs and people per case, and the two capabilities."""
    known = _known(_table(scan))

    def per_case(h, p):
        return DASH if words.is_missing(h) else f"{h:.1f} / {p:.1f}"

    return pd.DataFrame(
        {
            "Service": [_marked(r) for r in known.itertuples(index=False)],
            "Cases": [DASH if words.is_missing(c) or c == 0 else f"{int(c):,}" for c in known["cases"]],
            "End-to-end days: median": [_km_days(d, a) for d, a in zip(known["median_days"], known["median_at_least"])],
            "85% within (days)": [_km_days(d, a) for d, a in zip(known["p85_days"], known["p85_at_least"])],
            "Open cases": [
                DASH if words.is_missing(c) or words.is_missing(n) or n == 0 else f"{int(c):,}"
                for c, n in zip(known["open_cases"], known["cases"])
            ],
            "Hand-offs / people per case": [
                per_case(h, p) for h, p in zip(known["mean_handoffs"], known["mean_people"])
            ],
            "End-to-end time per case now": [capability_words(c, "days") for c in known["end_to_end_capability"]],
            "Failure demand now (weekly %)": [capability_words(c, "%") for c in known["failure_capability"]],
        }
    )


_demand_rows, _flow_rows = demand_rows, flow_rows


def period(data: ScanData) -> tuple:
    """First and last date of the scan's contacts and events together (None, None when neither is dated)."""
    spans = [data.contacts_period or (None, None), data.events_period or (None, None)]
    firsts = [pd.Timestamp(a) for a, _ in spans if a is not None and not pd.isna(a)]
    lasts = [pd.Timestamp(b) for _, b in spans if b is not None and not pd.isna(b)]
    return (min(firsts), max(lasts)) if firsts else (None, None)


def period_caption(data: ScanData) -> str:
    """ "1 Jan 2024 to 30 Mar 2025" for the scan's data, or "no dated data"."""
    return words.period(*period(data), short=True)


def caption(data: ScanData, what: str) -> str:
    """A table caption with the period and the number of services and contacts."""
    return (
        f"{what}, {period_caption(data)} ({words.count(len(_known(data.table)), 'service')}, "
        f"{int(data.table['contacts'].sum()):,} contacts)"
    )


def problems(stage, data: ScanData) -> list:
    """The council's data problems the scan rests on: tables left out for errors, then the demand data's, the
    rules table's and the events' warnings (with counts), then the services never named where to start for their
    data (a catch-all category, no service, not in council.yaml, too little to judge)."""
    out = list(data.problems)
    out += data_problems(stage)
    out += list(data.rules_problems)
    out += list(data.flow_problems)
    out += start_problems(data)
    return out


_START_FIXES = {
    "catch-all": "give these contacts and cases the service they belong to (the classifier, or the source system)",
    "no service": "fill in the service of each contact",
    "unknown": "add the service to council.yaml, or correct the service id in demand.csv",
    "too small": "classify more of its contacts, or record its cases, before comparing it",
}


def start_problems(data) -> list[Problem]:
    """Each service ``starting_point`` leaves out for its data, as a warning on the demand data."""
    out = []
    for e in starting_point(data).excluded:
        if e["kind"] in _START_FIXES:
            out.append(
                Problem(
                    "demand.csv",
                    f"\u201c{e['service_name']}\u201d is not named where to start: {e['reason']}",
                    _START_FIXES[e["kind"]],
                    column="service",
                    severity=WARNING,
                )
            )
    return out


def _rows_of(service: str):
    """A function that keeps one service's rows of a table (or None)."""
    return lambda t: None if t is None else t[t["service"] == service]
