"""Cohorts: every case of a service with its cohort and its measures, and whether it is compared (and if not, why).

``cohort_cases`` joins the per-case table (``flowlog.case_table``) with the ``cases`` table. No case is dropped
silently: each case is either in the comparison or counted under the reason it was left out, and each reason is
reported as a problem naming the file, the first row and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.analysis import endtoend, flowlog
from systemic_lib.data.contract import CATEGORIES, COHORTS, WARNING, Problem
from systemic_lib.errors import SystemicError

__all__ = ["CASE_TABLE_COLUMNS", "REASONS", "Cohorts", "cohort_cases", "case_counts", "first_days"]

CASE_TABLE_COLUMNS = (
    "case_id",
    "service",
    "first_at",
    "last_at",
    "end_to_end_days",
    "steps",
    "value_steps",
    "waste_steps",
    "unclassified_steps",
    "handoffs",
    "people",
    "rework",
    "touch_hours",
    "face_to_face_hours",
    *(f"n_{c.replace('-', '_')}" for c in CATEGORIES),
)


#: The cases counts and hours are compared on by default: an open case's work so far is not its work, and the old
#: system keeps more of its cases open, so counting open cases would understate the old system's work.
CLOSED = "closed cases"


def first_days_basis(days: int) -> str:
    """The basis that counts the work in the first ``days`` days of every case old enough to have had them."""
    return f"first {days} days of every case"


REASONS = {
    "both": "in both cohorts",
    "events_only": "has steps recorded but is not in the list of cases (so no cohort)",
    "bad_label": "cohort label not recognised",
    "no_cohort": "no cohort (neither baseline nor experiment)",
    "no_events": "in the list of cases but no steps recorded",
}
"""Why a case is left out of the comparison, in the order they are checked."""


@dataclass
class Cohorts:
    """Every case of a service, with its cohort, its measures and whether it is in the comparison (and if not, why)."""

    cases: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    start: pd.Timestamp | None = None
    #: the cases counts and hours are compared on ("closed cases", or "first N days of every case")
    case_basis: str = CLOSED

    @property
    def included(self) -> pd.DataFrame:
        return self.cases[self.cases["included"]]

    def count(self, cohort: str) -> int:
        """Cases of ``cohort`` in the comparison."""
        return int((self.cases["included"] & self.cases["cohort"].eq(cohort)).sum())

    @property
    def comparable(self) -> bool:
        return self.count("baseline") > 0 and self.count("experiment") > 0

    @property
    def excluded(self) -> dict[str, int]:
        """Cases left out of the comparison, by reason."""
        reasons = self.cases.loc[~self.cases["included"], "reason"]
        return {r: int(n) for r, n in reasons.value_counts().items()}


def _empty_case_table() -> pd.DataFrame:
    cols = {c: pd.Series(dtype="float64") for c in CASE_TABLE_COLUMNS}
    cols.update(
        case_id=pd.Series(dtype="str"),
        service=pd.Series(dtype="str"),
        first_at=pd.Series(dtype="datetime64[ns]"),
        last_at=pd.Series(dtype="datetime64[ns]"),
    )
    return pd.DataFrame(cols)


def _rows(rows, file: str, k: int = 5) -> str:
    """'rows 6440, 6441 and 6442 of cases.csv': where the council finds the cases a problem is about, by their row in
    its own file (a report names no case id)."""
    found = sorted({int(r) for r in pd.Series(rows).dropna()})
    if not found:
        return f"in {file}"
    shown = [str(r) for r in found[:k]]
    more = f" and {len(found) - k:,} more" if len(found) > k else ""
    listed = ", ".join(shown[:-1]) + f" and {shown[-1]}" if len(shown) > 1 and not more else ", ".join(shown)
    return f"{'row' if len(found) == 1 else 'rows'} {listed}{more} of {file}"


def cohort_cases(
    data: pd.DataFrame,
    *,
    cases: pd.DataFrame,
    start=None,
    cases_file: str = "cases.csv",
    events_file: str = "events.csv",
    contacts: pd.DataFrame | None = None,
    data_end=None,
    event_rows: pd.Series | None = None,
    new_service: bool = False,
) -> Cohorts:
    """Join the per-case table (``flowlog.case_table``) with the ``cases`` table; say for every case whether it is compared.

    A case is compared when it has one cohort (baseline or experiment), a row in ``cases`` and at least one event.
    Every other case is kept, with the reason it is left out, and each reason is reported as a problem naming the file,
    the first row and how to fix it. ``cases`` may carry ``cohort_label`` (the cohort text as written) and ``row``
    (the spreadsheet row) so that problems can quote them; ``event_rows`` (case id -> its first row in the events
    file) places a case that has events but no row in ``cases``. Problems name rows, never case ids. ``start`` is
    the experiment's start date; a ``new_service`` (built by experiment) is never asked for a baseline.

    End-to-end time is the one definition (``endtoend``): from the earliest of the citizen's first linked contact
    (``contacts``), ``opened_at`` and the first step, to ``closed_at``. A case without ``closed_at`` is open: it has
    no end-to-end time (``end_to_end_days`` NaN), never a partial one; ``end_to_end_duration`` (its age at
    ``data_end``, the service's censoring date) and ``end_to_end_open`` feed the Kaplan–Meier median.
    """
    missing = [c for c in ("case_id", "end_to_end_days", "people", "touch_hours") if c not in data.columns]
    if missing:
        raise SystemicError(f"the per-case table lacks {', '.join(missing)}: build it with flowlog.case_table(events)")
    problems: list[Problem] = []
    left_out = "left out of the measures" if new_service else "left out of the comparison"
    start = pd.Timestamp(start) if start is not None else None
    event_rows = pd.Series(dtype=float) if event_rows is None else event_rows
    c = cases.copy()
    if "row" not in c.columns:
        c["row"] = np.arange(len(c)) + 2
    if "cohort_label" not in c.columns:
        c["cohort_label"] = c["cohort"]
    c["cohort_label"] = c["cohort_label"].astype("str").fillna("").str.strip()

    # A case listed more than once: in both cohorts (left out) or repeated in one (its first row is used).
    c["_n_cohorts"] = c.groupby("case_id")["cohort"].transform("nunique")
    repeat = c["case_id"].duplicated(keep="first")
    both = c["_n_cohorts"] > 1
    if both.any():
        first = c[both].drop_duplicates("case_id")
        problems.append(
            Problem(
                cases_file,
                f"lists {len(first)} case(s) in both cohorts ({_rows(c.loc[both, 'row'], cases_file)}); "
                f"they are {left_out}",
                "give each case one row and one cohort",
                row=int(first["row"].iloc[0]),
                column="cohort",
                count=len(first),
                severity=WARNING,
            )
        )
    same = repeat & ~both
    if same.any():
        problems.append(
            Problem(
                cases_file,
                f"lists {int(same.sum())} case(s) twice in the same cohort "
                f"({_rows(c.loc[same, 'row'], cases_file)}); the first row of each is used",
                "delete the repeated rows",
                row=int(c.loc[same, "row"].iloc[0]),
                column="case_id",
                count=int(same.sum()),
                severity=WARNING,
            )
        )
    c = c[~repeat].copy()
    c["_both"] = c["_n_cohorts"] > 1
    c.loc[c["_both"], "cohort"] = pd.NA

    keep = [
        col
        for col in ("case_id", "cohort", "cohort_label", "demand_returns", "opened_at", "closed_at", "row", "_both")
        if col in c.columns
    ]
    merged = c[keep].merge(data, on="case_id", how="outer", indicator=True, suffixes=("", "_events"))
    in_cases = merged["_merge"].ne("right_only").to_numpy()
    in_events = merged["_merge"].ne("left_only").to_numpy()
    cohort = merged["cohort"].astype("object").where(merged["cohort"].isin(COHORTS), None)
    label = merged["cohort_label"].fillna("").astype(str)
    both_c = merged["_both"].fillna(False).astype(bool).to_numpy()
    bad_label = in_cases & cohort.isna().to_numpy() & label.ne("").to_numpy() & ~both_c
    reason = np.select(
        [both_c, ~in_cases, bad_label, cohort.isna().to_numpy(), ~in_events],
        [REASONS["both"], REASONS["events_only"], REASONS["bad_label"], REASONS["no_cohort"], REASONS["no_events"]],
        default="",
    )
    out = pd.DataFrame(
        {
            "case_id": merged["case_id"].astype(str),
            "cohort": cohort,
            "in_cases": in_cases,
            "in_events": in_events,
            "included": reason == "",
            "reason": pd.Series(reason, index=merged.index).replace("", None),
            "cohort_label": label,
            "row": merged["row"],
        }
    )

    # The citizen's view of end-to-end time: opened to closed where the cases table has both, else the events'.
    opened = pd.to_datetime(merged.get("opened_at"))
    closed = pd.to_datetime(merged.get("closed_at"))
    citizen = (closed - opened).dt.total_seconds() / 86400
    backwards = citizen < 0
    if backwards.any():
        rows = merged.loc[backwards, "row"]
        problems.append(
            Problem(
                cases_file,
                f"{int(backwards.sum())} case(s) close before they open "
                f"({_rows(merged.loc[backwards, 'row'], cases_file)}); their end-to-end time is left blank",
                "check opened_at and closed_at (day and month swapped?)",
                row=int(rows.iloc[0]) if rows.notna().any() else None,
                column="closed_at",
                count=int(backwards.sum()),
                severity=WARNING,
            )
        )
        citizen = citizen.mask(backwards)
    first = pd.to_datetime(merged["first_at"]) if "first_at" in merged else pd.Series(pd.NaT, index=merged.index)
    steps = pd.DataFrame({"case_id": merged["case_id"].astype(str), "timestamp": first, "activity": ""})[
        first.notna().to_numpy()
    ]
    known = [col for col in ("case_id", "opened_at", "closed_at") if col in c.columns]
    e2e = endtoend.case_times(
        events=steps,
        cases=c[known] if "opened_at" in known else None,
        contacts=contacts,
        ids=merged["case_id"].astype(str),
        data_end=data_end,
    )
    f = e2e.frame.set_index("case_id").reindex(merged["case_id"].astype(str))
    out["end_to_end_days"] = f["days"].where(~backwards.to_numpy()).to_numpy(dtype="float64")
    out["end_to_end_open"] = f["open"].fillna(True).to_numpy(dtype=bool)
    out["end_to_end_duration"] = f["duration"].where(~backwards.to_numpy()).to_numpy(dtype="float64")
    out["end_to_end_from"] = f["start_from"].to_numpy(dtype=object)  # contact, opened or first step
    out["opened_at"] = opened.fillna(pd.to_datetime(merged["first_at"]))
    out["completed_at"] = closed.fillna(pd.to_datetime(merged["last_at"]))
    for col in CASE_TABLE_COLUMNS[4:]:
        if col in merged.columns and col != "end_to_end_days":
            out[col] = pd.to_numeric(merged[col], errors="coerce").astype("float64")
    for col in ("n_assessment", "n_referral", "handoffs", "people", "touch_hours", "face_to_face_hours"):
        if col not in out.columns:
            out[col] = np.nan
    out["people"] = out["people"].mask(out["people"].eq(0))  # no worker recorded: not known, rather than nobody
    hours = out["touch_hours"]
    out["face_to_face_pct"] = (out["face_to_face_hours"] / hours.where(hours > 0) * 100).astype("float64")
    returns = (
        merged["demand_returns"].astype("boolean")
        if "demand_returns" in merged.columns
        else pd.Series(pd.NA, index=merged.index, dtype="boolean")
    )
    out["demand_returns"] = returns
    out["returns_yes"] = returns.fillna(False).astype(float)
    out["returns_judged"] = returns.notna().astype(float)
    out = out.sort_values(["included", "cohort", "case_id"], ascending=[False, True, True], na_position="last")
    out = out.reset_index(drop=True)

    # One problem per reason, naming the first row and how to fix it.
    def first_row(mask, rows=None):
        rows = (out.loc[mask, "row"] if rows is None else rows).dropna()
        return int(rows.min()) if len(rows) else None

    r = out["reason"]
    m = r.eq(REASONS["events_only"])
    if m.any():
        problems.append(
            Problem(
                events_file,
                f"has events for {int(m.sum())} case(s) with no row in {cases_file} "
                f"({_rows(out.loc[m, 'case_id'].map(event_rows), events_file)}); they have no cohort and are "
                f"{left_out}",
                f"add these cases to {cases_file} with their cohort",
                row=first_row(m, out.loc[m, "case_id"].map(event_rows)),
                column="case_id",
                count=int(m.sum()),
                severity=WARNING,
            )
        )
    m = r.eq(REASONS["bad_label"])
    if m.any():
        labels = ", ".join(f"'{v}'" for v in sorted(out.loc[m, "cohort_label"].unique())[:5])
        problems.append(
            Problem(
                cases_file,
                f"{int(m.sum())} case(s) have a cohort label that is not baseline or "
                f"experiment ({labels}); they are {left_out}",
                "write baseline (old system) or experiment (new team), or leave it blank",
                row=first_row(m),
                column="cohort",
                count=int(m.sum()),
                severity=WARNING,
            )
        )
    m = r.eq(REASONS["no_events"]) & out["cohort"].notna()
    if m.any():
        problems.append(
            Problem(
                cases_file,
                f"{int(m.sum())} case(s) in a cohort have no events in {events_file} "
                f"({_rows(out.loc[m, 'row'], cases_file)}); with no steps they cannot be measured and are "
                f"{left_out}",
                f"add their steps to {events_file}, or check the case ids",
                row=first_row(m),
                column="case_id",
                count=int(m.sum()),
                severity=WARNING,
            )
        )
    for name in ("experiment",) if new_service else COHORTS:  # a new service has no old system to mark
        if not (out["included"] & out["cohort"].eq(name)).any():
            fix = (
                "mark old-system cases with cohort 'baseline' in cases.csv"
                if name == "baseline"
                else "mark the experiment team's cases with cohort 'experiment' in cases.csv"
            )
            problems.append(
                Problem(
                    cases_file,
                    f"no cases in the {name} cohort can be compared; the comparison needs both cohorts",
                    fix,
                    column="cohort",
                    severity=WARNING,
                )
            )
    if start is not None:
        late = out["included"] & out["cohort"].eq("experiment") & (out["opened_at"] < start)
        if late.any():
            problems.append(
                Problem(
                    cases_file,
                    f"{int(late.sum())} experiment case(s) opened before the experiment "
                    f"started on {words.date(start)} ({_rows(out.loc[late, 'row'], cases_file)}); they are "
                    "compared as marked",
                    "check their cohort, or the start date in council.yaml",
                    row=first_row(late),
                    column="cohort",
                    count=int(late.sum()),
                    severity=WARNING,
                )
            )
        dates = pd.concat([out["opened_at"], out["completed_at"]]).dropna()
        if len(dates) and start > dates.max():
            problems.append(
                Problem(
                    "council.yaml",
                    f"the experiment start date {words.date(start)} is after all the data "
                    f"(the last case date is {words.date(dates.max())}); the before-and-after chart has no "
                    "'after' period",
                    "check experiment.start in council.yaml, or add the newer data",
                    column="experiment.start",
                    severity=WARNING,
                )
            )
    return Cohorts(out, problems, start)


def case_counts(data: Cohorts, *, new_service: bool = False) -> pd.DataFrame:
    """Every case of the service, counted once: in the comparison (by cohort) or left out (by reason); for a new
    service (nothing to compare), measured or left out."""
    cases = data.cases
    rows = (
        [("Measured: the team's cases", data.count("experiment"))]
        if new_service
        else [
            ("Compared: baseline (old system)", data.count("baseline")),
            ("Compared: experiment (new team)", data.count("experiment")),
        ]
    )
    for reason in REASONS.values():
        n = int(cases["reason"].eq(reason).sum())
        if n:
            rows.append((f"Left out: {reason}", n))
    rows.append(("All cases", len(cases)))
    return pd.DataFrame(rows, columns=["Cases", "Number"])


#: the per-case counts and hours a first-N-days window recounts (end-to-end time keeps every case's whole time)
_WINDOWED = tuple(c for c in CASE_TABLE_COLUMNS[5:]) + ("face_to_face_pct",)


def first_days(
    cohorts: Cohorts, events: pd.DataFrame, *, days: int, catalogue: pd.DataFrame | None = None, data_end=None
) -> Cohorts:
    """The cohorts with counts and hours recounted over the first ``days`` days of every case (from its opening, or
    its first step), and ``counted`` marking the cases old enough to have had them (opened at least ``days`` days
    before ``data_end``): open and closed cases alike, each given the same window. End-to-end time is unchanged."""
    c = cohorts.cases.copy()
    start = pd.Series(pd.to_datetime(c["opened_at"]).to_numpy(), index=c["case_id"].astype(str))
    start = start[~start.index.duplicated()]
    ids = events["case_id"].astype(str)
    keep = ids.isin(start.index).to_numpy()
    ev, ids = events[keep], ids[keep]
    ev = ev[(pd.to_datetime(ev["timestamp"]) <= ids.map(start) + pd.Timedelta(days=days)).to_numpy()]
    table = flowlog.case_table(ev, catalogue=catalogue) if len(ev) else _empty_case_table()
    table = table.set_index(table["case_id"].astype(str))
    table["face_to_face_pct"] = table["face_to_face_hours"] / table["touch_hours"].where(table["touch_hours"] > 0) * 100
    for col in _WINDOWED:
        if col in c.columns and col in table.columns:
            values = c["case_id"].map(table[col]).astype("float64")
            c[col] = values if col in ("people", "face_to_face_pct") else values.fillna(0.0)
    c["people"] = c["people"].mask(c["people"].eq(0))
    end = (
        pd.Timestamp(data_end)
        if data_end is not None and not pd.isna(data_end)
        else pd.to_datetime(c["opened_at"]).max()
    )
    c["counted"] = (end - pd.to_datetime(c["opened_at"])) >= pd.Timedelta(days=days)
    return Cohorts(c, cohorts.problems, cohorts.start, first_days_basis(days))
