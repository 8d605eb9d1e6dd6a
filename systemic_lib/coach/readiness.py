"""Step 1's words: what data a council has for each step of Check and what is missing, and its blocking problems.

Plain functions over the council folder (no widgets), so the Choose page and its tests read the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from systemic_lib import words
from systemic_lib.data import preload
from systemic_lib.data.contract import ERROR, TABLES, Problem
from systemic_lib.data.council import Council, held, load_council
from systemic_lib.errors import ContractError, SystemicError


@dataclass
class Readiness:
    """A council as the Choose step sees it. ``errors`` non-empty: the app opens on the list of them."""

    folder: Path
    council: Council | None = None
    errors: list[Problem] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.council.name if self.council else self.folder.name

    @property
    def services(self) -> dict[str, str]:
        return {s.id: s.name for s in self.council.spec.services} if self.council else {}


def check(council_dir, *, tables: bool = True) -> Readiness:
    """Load the council and collect its errors (council.yaml and every table); warnings do not block the app.
    ``tables=False`` (a laptop joining the workshop): council.yaml only, so that a joiner's kernel holds no table
    it will not show (the workshop reads the demand file itself)."""
    folder = Path(council_dir)
    try:
        if not tables:
            return Readiness(folder, load_council(folder), [])
        preload.here().read(folder, None)  # every table read once, here, for every step this kernel shows (stagedata)
        council = held(folder) or load_council(folder)
    except ContractError as exc:
        return Readiness(folder, None, list(exc.problems))
    except SystemicError as exc:
        return Readiness(folder, None, [Problem(str(folder), str(exc), "give the path of a council folder")])
    return Readiness(folder, council, [p for p in council.problems() if p.severity == ERROR])


def problem_rows(problems) -> pd.DataFrame:
    """File, row, column, what is wrong and how to fix it: one row per problem, as a coach reads them out."""
    return pd.DataFrame(
        [
            {
                "file": p.file,
                "row": "" if p.row is None else str(p.row),
                "column": p.column or "",
                "problem": p.message + (f" ({p.count} rows like this)" if p.count > 1 else ""),
                "fix": p.fix,
            }
            for p in problems
        ],
        columns=["file", "row", "column", "problem", "fix"],
    )


def _rows(council: Council, name: str, service: str) -> pd.DataFrame:
    if not council.has_table(name):
        return pd.DataFrame(columns=TABLES[name].column_names)
    frame = council.load(name).frame
    return frame[frame["service"] == service] if "service" in frame else frame


#: The date columns of each table a service's data ends with.
DATED = {"demand": ("received_at",), "cases": ("opened_at", "closed_at"), "events": ("timestamp",)}


def last_date(council: Council | None, service: str):
    """The last date in the service's data (contacts, cases and events), or None: where a date field starts, since
    a change the team marks is in the data's past, not today's."""
    if council is None:
        return None
    found = []
    for name, columns in DATED.items():
        rows = _rows(council, name, service)
        for col in columns:
            if col in rows and len(rows):
                found.append(pd.to_datetime(rows[col], errors="coerce").max())
    found = [d for d in found if pd.notna(d)]
    return max(found).date() if found else None


def data_by_step(council: Council, service: str) -> pd.DataFrame:
    """One row per step of Check: what the council has for ``service`` and, in plain words, what is missing."""
    spec = council.service(service)
    demand = _rows(council, "demand", service)
    cases = _rows(council, "cases", service)
    events = _rows(council, "events", service)
    catalogue = _rows(council, "activities", service)
    log = _rows(council, "learning_log", service)
    rows = []

    measures = ", ".join(m.name for m in spec.measures)
    rows.append(
        (
            "Purpose",
            f"“{spec.purpose}”" + (f"; measures: {measures}" if measures else ""),
            "" if spec.measures else "No measures chosen yet: the team picks them in step 2.",
        )
    )

    classified = int(demand["classification"].notna().sum()) if len(demand) else 0
    rows.append(
        (
            "Demand",
            f"{words.count(len(demand), 'contact')}, {words.number(classified)} classified"
            if len(demand)
            else "No contacts",
            ""
            if len(demand) and classified == len(demand)
            else (
                "demand.csv has no contacts for this service: record what citizens say, in their words."
                if not len(demand)
                else f"{words.count(len(demand) - classified, 'contact')} to classify: the team does it in step 3."
            ),
        )
    )

    closed = int(cases["closed_at"].notna().sum()) if len(cases) else 0
    rows.append(
        (
            "Capability",
            f"{words.count(len(cases), 'case')} ({words.number(closed)} closed)" if len(cases) else "No cases",
            ""
            if closed
            else "cases.csv has no closed cases for this service: end-to-end time cannot be "
            "charted (failure demand and demand per week still can, from demand.csv).",
        )
    )

    n_cases = events["case_id"].nunique() if len(events) else 0
    marked = set(catalogue["activity"].dropna().astype(str)) if len(catalogue) else set()
    steps = set(events["activity"].dropna().astype(str)) if len(events) else set()
    unmarked = len(steps - marked)
    rows.append(
        (
            "Flow",
            f"{words.count(len(events), 'step')} of {words.count(n_cases, 'case')}; "
            f"{words.count(len(steps & marked), 'activity', 'activities')} marked value or waste"
            if len(events)
            else "No events",
            "events.csv has no steps for this service: the flow cannot be mapped."
            if not len(events)
            else (
                f"{words.count(unmarked, 'activity', 'activities')} not yet marked value or waste: "
                "the team marks them in step 5."
                if unmarked
                else ""
            ),
        )
    )

    cohorts = cases["cohort"].value_counts() if len(cases) and "cohort" in cases else pd.Series(dtype=int)
    experiment = int(cohorts.get("experiment", 0))
    rows.append(
        (
            "Experiment",
            (f"Started {words.date(spec.experiment.start)}; " if spec.experiment else "")
            + f"{words.count(experiment, 'experiment case')}, "
            f"{words.count(len(log), 'learning-log entry', 'learning-log entries')}",
            ""
            if spec.experiment and experiment
            else "No experiment recorded yet: council.yaml names its start, cases.csv marks its cases "
            "(cohort experiment / baseline).",
        )
    )
    return pd.DataFrame(rows, columns=["step", "what the council has", "what is missing"])
