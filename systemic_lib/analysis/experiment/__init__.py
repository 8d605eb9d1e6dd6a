"""Experiment (Stage 3): compare the experiment team's cases with the old system's, and brief senior managers.

The ``cases`` table marks each case's cohort (``baseline``: the old system; ``experiment``: the experiment team) and
the team's judgement of whether the demand will return. Per-case measures come from the events and the activity
catalogue (``flowlog.case_table``): assessments, referrals, people involved end to end, total hours, face-to-face hours,
hand-offs, and end-to-end time by the one definition (``endtoend``: from the citizen's first linked contact, the
opening or the first step, to ``closed_at``; a case still open has no time and is censored in the Kaplan–Meier median
of its cohort, at the service's one censoring date).

The stage contract is here (``load``, ``headline``, ``questions``, ``figures``, ``period``); the analysis is in
``cohorts`` (who is compared, and why a case is left out), ``comparison`` (measures, bootstrap intervals, readings)
and ``over_time`` (per-case measures by date, each cohort's spread). Charts are in ``charts/experiment.py`` and the
report sections in ``sections/experiment.py``; their old names stay importable from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.analysis import endtoend, flowlog
from systemic_lib.analysis.experiment import new_service
from systemic_lib.analysis.experiment.box import box_lines
from systemic_lib.analysis.experiment.cohorts import (
    CASE_TABLE_COLUMNS,
    REASONS,
    Cohorts,
    _empty_case_table,
    case_counts,
    cohort_cases,
)
from systemic_lib.analysis.experiment.cohorts import first_days as window_first_days
from systemic_lib.analysis.experiment.comparison import (
    BASES,
    BY_TYPE,
    MEASURES,
    Measure,
    change_text,
    compare,
    comparison_table,
    headline_text,
    interval_text,
    km_median,
)
from systemic_lib.analysis.experiment.design import NEW_SERVICE, Design, design_of
from systemic_lib.analysis.experiment.design import NONE as NO_COMPARISON
from systemic_lib.analysis.experiment.mix import DemandMix, case_demand_types, demand_mix, mix_words
from systemic_lib.analysis.experiment.new_service import NewService, is_new_service
from systemic_lib.analysis.experiment.over_time import OverTime, Spread, over_time, phase_mix, spread
from systemic_lib.data.contract import WARNING, Problem, TableView, empty_frame
from systemic_lib.data.council import within_period
from systemic_lib.data.learning_log import conditions_to_act_on, with_condition_text
from systemic_lib.data.stages import Stage
from systemic_lib.errors import ContractError

__all__ = [
    "Measure",
    "MEASURES",
    "REASONS",
    "CASE_TABLE_COLUMNS",
    "Cohorts",
    "ExperimentData",
    "Experiment",
    "OverTime",
    "Spread",
    "cohort_cases",
    "compare",
    "comparison_table",
    "case_counts",
    "change_text",
    "interval_text",
    "headline_text",
    "over_time",
    "phase_mix",
    "spread",
    "cases_table",
    "conditions",
    "load",
    "headline",
    "findings",
    "box",
    "made_it_work",
    "questions",
    "figures",
    "key_figures",
    "period",
    "save",
    "BASES",
    "BY_TYPE",
    "DemandMix",
    "demand_mix",
    "case_demand_types",
    "mix_words",
    "km_median",
    "compared_end_to_end",
]


@dataclass
class ExperimentData:
    """Everything the experiment report shows for one service, and how the comparison was made."""

    service_id: str
    service_name: str
    team: str | None
    start: pd.Timestamp | None
    description: str
    cohorts: Cohorts
    comparison: pd.DataFrame
    learning_log: pd.DataFrame
    problems: list[Problem]
    period: tuple
    basis: str = "per case"
    resamples: int = 2000
    seed: int = 20240701
    confidence: float = 0.95
    #: each cohort's compared cases by demand type, and whether the mix differs (chi-square test at 5%)
    mix: DemandMix = field(default_factory=lambda: demand_mix(pd.DataFrame({"cohort": [], "demand_type": []})))
    #: the compared cases' start, end and whether open (``endtoend``): what the page's definition sentence counts
    end_to_end: endtoend.EndToEndCases | None = None
    #: alongside, partly alongside or before and after, read from when each cohort's cases opened; or a new service
    design: Design = field(default_factory=lambda: Design(NO_COMPARISON))
    #: what the page of a new service built by experiment shows (``new_service.build``); None for a comparison
    new_service: NewService | None = None

    @property
    def has_experiment(self) -> bool:
        """An experiment is set up in council.yaml and at least one case is marked 'experiment'."""
        return self.start is not None and bool(self.cohorts.cases["cohort"].eq("experiment").any())

    @property
    def on_file(self) -> tuple:
        """The first and last date of every case of the service on file (opened or completed)."""
        c = self.cohorts.cases
        dated = pd.concat([c["opened_at"], c["completed_at"]]).dropna()
        return (dated.min(), dated.max()) if len(dated) else self.period

    @property
    def case_basis(self) -> str:
        """The cases counts and hours are compared on: "closed cases", or "first N days of every case"."""
        return self.cohorts.case_basis

    def open_cases(self, cohort: str) -> int:
        """The cohort's compared cases still open."""
        c = self.cohorts.included
        return int((c["cohort"].eq(cohort) & c["end_to_end_open"].astype(bool)).sum())

    @property
    def baseline_cases(self) -> int:
        return self.cohorts.count("baseline")

    @property
    def experiment_cases(self) -> int:
        return self.cohorts.count("experiment")


Experiment = ExperimentData  # the name notebooks and scripts used before the stage contract


def cases_table(result: TableView, service: str, start=None, end=None) -> tuple[pd.DataFrame, list[Problem], str]:
    """The service's cases from the council's parsed ``cases`` table, with ``row`` (the file's row) and
    ``cohort_label`` (the cohort as written, from the table's raw text, so an unknown label can be quoted).

    A case listed twice is reported by :func:`cohort_cases` rather than stopping the report; other table errors raise
    ContractError. Returns (cases, the table's own warnings, the file's name)."""
    fatal = [p for p in result.errors if not (p.column == "case_id" and "more than once" in p.message)]
    if fatal:
        raise ContractError(fatal)
    frame = result.frame.copy()
    frame["row"] = np.arange(len(frame)) + 2
    frame["cohort_label"] = frame["cohort"]
    raw = result.raw
    if raw is not None and "cohort" in raw.columns and len(raw) == len(frame) and len(frame):
        frame["cohort_label"] = raw["cohort"].astype(str).str.strip().to_numpy()
    frame = frame[frame["service"] == service]
    if start is not None or end is not None:
        frame = within_period(frame, "opened_at", start, end)
    name = result.path.name if result.path is not None else "cases.csv"
    # The table's warnings, except those this stage reports in its own words (unknown cohort labels are reported per
    # service by cohort_cases, with the label and the cases it affects).
    own = [
        p
        for p in result.problems
        if p not in fatal and p.column != "cohort" and not (p.column == "case_id" and "more than once" in p.message)
    ]
    return frame.reset_index(drop=True), own, name


def _file_name(stage: Stage, table: str) -> str:
    """The name of the file a table was read from (``<table>.csv`` when it has none)."""
    path = stage.load(table).path
    return path.name if path else f"{table}.csv"


def _catalogue_problems(catalogue: pd.DataFrame | None) -> list[Problem]:
    """Assessments and referrals are counted from the catalogue's categories: say when it names neither."""
    cats = set() if catalogue is None else set(catalogue["category"].dropna())
    lacking = [c for c in ("assessment", "referral") if c not in cats]
    if not lacking:
        return []
    where = (
        "activities.csv has no activities for this service"
        if not cats
        else f"no activity in activities.csv has the category {' or '.join(lacking)}"
    )
    return [
        Problem(
            "activities.csv",
            f"{where}, so {' and '.join(c + 's' for c in lacking)} per case count as none",
            "give each activity of the service its category (assessment, referral, hand-off, ...)",
            column="category",
            severity=WARNING,
        )
    ]


def load(
    stage: Stage, *, basis: str = "per case", first_days: int | None = None, resamples: int = 2000, seed: int = 20240701
) -> ExperimentData:
    """Read and compare everything the experiment report needs for the stage's service; never raises for no data.

    Counts and hours are compared on closed cases only, or, with ``first_days=N``, on the work in the first N days
    of every case old enough to have had them (open cases included): like with like either way."""
    service = stage.service_spec
    spec = service.experiment
    start = pd.Timestamp(spec.start) if spec is not None else None
    cases, problems, cases_file = cases_table(stage.load("cases"), service.id, stage.start, stage.end)
    new = is_new_service(spec.design if spec else None, cases["cohort"])
    if new and start is None:  # every case is the team's, with no experiment in council.yaml: from its first case
        start = pd.to_datetime(cases["opened_at"]).min().normalize()
    events = stage.table("events", period=False, rows=True)
    event_rows = events.groupby(events["case_id"].astype(str))["_row"].min() if len(events) else None
    events = events.drop(columns="_row")
    events_path = stage.load("events").path
    events_file = events_path.name if events_path else "events.csv"
    catalogue = stage.table("activities", period=False) if stage.has("activities") else None
    per_case = flowlog.case_table(events, catalogue=catalogue) if len(events) else _empty_case_table()
    if len(events) and not new:  # a new service compares no assessments or referrals
        problems += _catalogue_problems(catalogue)
    if stage.start is not None or stage.end is not None:  # cases of the period, by their first step
        per_case = within_period(per_case, "first_at", stage.start, stage.end)
    contacts, data_end = _contacts(stage), endtoend.stage_censor_date(stage)
    cohorts = cohort_cases(
        per_case,
        cases=cases,
        start=start,
        cases_file=cases_file,
        events_file=events_file,
        contacts=contacts,
        data_end=data_end,
        event_rows=event_rows,
        new_service=new,
    )
    if first_days:
        cohorts = window_first_days(cohorts, events, days=first_days, catalogue=catalogue, data_end=data_end)
    types, source = case_demand_types(cases, contacts, cases.get("demand_type"))
    cohorts.cases["demand_type"] = cohorts.cases["case_id"].map(types[~types.index.duplicated()])
    mix = demand_mix(cohorts.included, source=source)
    comparison = compare(cohorts, basis=basis, resamples=resamples, seed=seed)
    has_log = stage.has("learning_log")
    log = stage.table("learning_log") if has_log else empty_frame("learning_log")
    log_problems = stage.load("learning_log").problems if has_log else []
    if has_log and log["condition_id"].notna().any():  # the entries' conditions are read from their one record
        conditions, condition_problems = stage.table_or_empty("system_conditions", period=False)
        log, log_problems = with_condition_text(log, conditions), log_problems + condition_problems
        unknown = sorted(set(log["condition_id"].dropna().astype(str)) - set(conditions["id"].astype(str)))
        if unknown:
            log_problems.append(
                Problem(
                    _file_name(stage, "learning_log"),
                    f"links to system conditions that system_conditions has not "
                    f"got ({', '.join(unknown[:5])}); their entries keep their own words",
                    "correct condition_id, or add the condition",
                    column="condition_id",
                    count=len(unknown),
                    severity=WARNING,
                )
            )
    built = (
        new_service.build(
            start=start,
            cases=cohorts.cases,
            contacts=contacts,
            events=events,
            catalogue=catalogue,
            log=log,
            changes=stage.phases(),
            cases_table=cases,
            conditions=stage.table_or_empty("system_conditions", period=False)[0],
            data_end=data_end,
        )
        if new
        else None
    )
    # the compared cases' dates where there are any (the captions' period), else every case's
    shown = cohorts.included if len(cohorts.included) else cohorts.cases
    dated = pd.concat([shown["opened_at"], shown["completed_at"]]).dropna()
    first_last = (dated.min(), dated.max()) if len(dated) else (stage.start, stage.end)
    return ExperimentData(
        service.id,
        stage.service_name,
        spec.team if spec else ("experiment team" if new else None),
        start,
        spec.description if spec else "",
        cohorts,
        comparison,
        log,
        problems + log_problems + cohorts.problems,
        first_last,
        basis,
        resamples,
        seed,
        mix=mix,
        end_to_end=compared_end_to_end(cohorts, data_end),
        design=Design(NEW_SERVICE) if new else design_of(cohorts.included, start),
        new_service=built,
    )


def compared_end_to_end(cohorts: Cohorts, data_end=None) -> endtoend.EndToEndCases:
    """The compared cases' end-to-end rows (``cohort_cases`` made them by the one definition), for the sentence that
    says which start and end were used, with counts."""
    c = cohorts.included
    frame = pd.DataFrame(
        {
            "case_id": c["case_id"].to_numpy(),
            "service": None,
            "start": pd.NaT,
            "start_from": c["end_to_end_from"].to_numpy(dtype=object),
            "end": pd.NaT,
            "open": c["end_to_end_open"].to_numpy(dtype=bool),
            "days": c["end_to_end_days"].to_numpy(dtype=float),
            "duration": c["end_to_end_duration"].to_numpy(dtype=float),
        }
    )
    finished = int((~frame["open"] & frame["days"].notna()).sum())
    backwards = int((~frame["open"] & frame["days"].isna()).sum())
    data_end = None if data_end is None or pd.isna(data_end) else pd.Timestamp(data_end)
    return endtoend.EndToEndCases(frame, data_end, {"closed_at": finished} if finished else {}, backwards)


def _contacts(stage) -> pd.DataFrame | None:
    """The service's contacts (read as every stage reads them), to give each case the demand type of its first
    linked contact; None without a usable demand table."""
    if not stage.has("demand"):
        return None
    try:
        return stage.contacts(period=False).frame
    except ContractError:
        return None


# ------------------------------------------------------------------------------------------------ the stage contract
def headline(data: ExperimentData) -> str:
    """What changed for the experiment team's cases, in one sentence (or that no experiment is set up)."""
    if not data.has_experiment:
        return f"No experiment set up for {data.service_name} yet."
    if data.new_service is not None:
        return new_service.headline_text(
            data.new_service, team=data.team or "experiment team", service_name=data.service_name
        )
    return headline_text(
        data.comparison,
        experiment_cases=data.experiment_cases,
        baseline_cases=data.baseline_cases,
        team=data.team or "experiment team",
        start=data.start,
        design=data.design.sentence if data.design.kind != NO_COMPARISON else None,
    )


def box(data: ExperimentData) -> list[str]:
    """The six to eight lines that open the page (``box.box_lines``): who was compared with whom, over which months,
    how many cases are open, then what changed on each measure, by how much, on which cases and how sure; [] with
    nothing to compare."""
    team = data.team or "experiment team"
    if data.has_experiment and data.new_service is not None:
        return new_service.box_lines(
            data.new_service, team=team, service_name=data.service_name, to_act_on=len(conditions(data))
        )
    if not data.has_experiment or not data.cohorts.comparable:
        return []
    opening = (
        f"The {team} handled {words.count(data.experiment_cases, 'case')} "
        f"({words.number(data.open_cases('experiment'))} still open) and the old system "
        f"{words.number(data.baseline_cases)} ({words.number(data.open_cases('baseline'))} still open); "
        f"{data.design.sentence}."
    )
    return box_lines(data.comparison, opening=opening)


def made_it_work(data: ExperimentData) -> list[dict]:
    """For a new service: the conditions it was built without (designed out or kept out), each with what the team
    learned, so that managers who want more of it copy the conditions, not a procedure; [] otherwise."""
    if data.new_service is None:
        return []
    return [
        {
            "condition": r["condition"],
            "learned": r["learned"],
            "since": f"since {words.date(r['since'])}" if pd.notna(r["since"]) else "kept out from the start",
        }
        for _, r in data.new_service.designed.iterrows()
    ]


def findings(data: ExperimentData) -> list[str]:
    """What we found, for the top of the page: the box (``box``: who was compared with whom, then what changed on
    each measure, by how much, on which cases and how sure), or the headline where there is nothing to box; with no
    experiment, one plain sentence saying so, with the cases on file."""
    if not data.has_experiment:
        on_file = len(data.cohorts.cases)
        return [
            f"No experiment yet: no experiment team's cases of {data.service_name} are compared with the old "
            f"system's ({words.count(on_file, 'case')} on file, {words.period(*data.period)})."
        ]
    return box(data) or [headline(data)]


def conditions(data: ExperimentData) -> pd.DataFrame:
    """The system conditions in the learning log still to act on (open or in hand)."""
    return conditions_to_act_on(data.learning_log)


def questions(data: ExperimentData) -> list[str]:
    """Questions for the team and its managers, from what the comparison and the learning log show."""
    if not data.has_experiment:
        return []
    if data.new_service is not None:
        return new_service.questions(data.new_service, to_act_on=len(conditions(data)))
    out = []
    noise = data.comparison.loc[data.comparison["reading"].isin(["could be noise", "too few cases to judge"]), "name"]
    if len(noise):
        out.append(
            f"{', '.join(noise.str.lower())}: the change could still be noise. What more cases would show "
            "it, and what in the system holds these measures where they are?"
        )
    worse = data.comparison.loc[data.comparison["reading"].eq("clear worsening"), "name"]
    if len(worse):
        out.append(f"{', '.join(worse.str.lower())} got worse: what is the team doing that the old system did not?")
    act = conditions(data)
    if len(act):
        out.append(
            f"The learning log names {len(act)} system condition(s) still to change. Which can managers "
            "remove this month, and who will?"
        )
    out += [
        "Is the experiment team handling the full range of demand, or only the easier cases?",
        "What does the team do that the old system prevents, and what would roll-in to the rest of the service need?",
    ]
    return out


def figures(data: ExperimentData) -> dict:
    """What ``experiment.json`` holds: cohort sizes, exclusions and one entry per measure."""

    def f(x):
        return None if x is None or not np.isfinite(x) else round(float(x), 4)

    measures = (
        [
            {
                "id": r["measure"],
                "name": r["name"],
                "compared_as": r["compared_as"],
                "basis": r["basis"],
                "baseline": f(r["baseline"]),
                "experiment": f(r["experiment"]),
                "change_pct": f(r["change_pct"]),
                "change_points": f(r["change_points"]),
                "change": change_text(r),
                "interval": [f(r["interval_low"]), f(r["interval_high"])] if np.isfinite(r["interval_low"]) else None,
                "interval_unit": r["change_unit"],
                "reading": r["reading"],
                "n_baseline": int(r["n_baseline"]),
                "n_experiment": int(r["n_experiment"]),
                **_left_out_figures(r),
                **_open_figures(r),
            }
            for _, r in data.comparison.iterrows()
        ]
        if data.has_experiment and data.new_service is None
        else []
    )
    return {
        "has_experiment": data.has_experiment,
        "team": data.team,
        "experiment_start": data.start.date().isoformat() if data.start is not None else None,
        "baseline_cases": data.baseline_cases,
        "experiment_cases": data.experiment_cases,
        "cases_left_out": data.cohorts.excluded,
        **data.design.figures(),
        "case_basis": data.case_basis,
        "headline": headline(data),
        "box": box(data),
        "measures": measures,
        "basis": data.basis,
        "demand_mix": data.mix.figures(),
        "mix_differs": data.mix.differs,
        "learning_log_entries": len(data.learning_log),
        "system_conditions_to_act_on": conditions(data)["system_condition"].tolist(),
        **({"new_service": new_service.figures(data.new_service)} if data.new_service is not None else {}),
    }


def _left_out_figures(r) -> dict:
    """``left_out`` (cohort -> cases outside the measure's basis: open, too recent or not judged), where any."""
    out = {k: int(r[f"left_out_{k}"]) for k in ("baseline", "experiment")}
    return {"left_out": out} if any(out.values()) else {}


def _open_figures(r) -> dict:
    """End-to-end time's open cases per cohort and, where a cohort's Kaplan–Meier median is not reached, ``at_least``
    (cohort -> "more than N days"); nothing for the other measures."""
    if not np.isfinite(r.get("open_baseline", np.nan)):
        return {}
    at_least = {
        k: round(float(r[f"at_least_{k}"]), 4) for k in ("baseline", "experiment") if np.isfinite(r[f"at_least_{k}"])
    }
    return {
        "open_baseline": int(r["open_baseline"]),
        "open_experiment": int(r["open_experiment"]),
        **({"at_least": at_least} if at_least else {}),
    }


key_figures = figures  # the name the notebook used before the stage contract


def period(data: ExperimentData) -> tuple:
    """The first and last date of the service's cases (opened or completed), or the stage's period without any."""
    return data.period


def save(stage, data: ExperimentData):
    """Write ``experiment.json`` with the figures and the period of the compared cases."""
    return stage.save(figures(data), period=period(data))
