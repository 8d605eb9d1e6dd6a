"""Experiment (Stage 3): compare the experiment team's cases with the old system's, and brief senior managers.

The ``cases`` table marks each case's cohort (``baseline``: the old system; ``experiment``: the experiment team) and
the team's judgement of whether the demand will return. Per-case measures come from the events and the activity
catalogue (``flow.case_table``): assessments, referrals, people involved end to end, total hours, face-to-face hours,
hand-offs, and end-to-end time in the citizen's view (``cases.opened_at`` to ``closed_at`` where both are known).

The comparison has one row per measure: baseline, experiment and the change, each on a stated base (mean or median per
case, or totals per cohort; shares in percentage points, "from 46% to 60%"), with a bootstrap interval for the change
(cases resampled within each cohort) so that a team of 30 cases does not over-read noise. No case is dropped
silently: every case of the service is either in the comparison or counted under a reason it was left out.
"""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import words
from .contract import CATEGORIES, COHORTS, WARNING, Problem, empty_frame, read_raw
from .council import within_period
from .errors import ContractError, SystemicError

__all__ = [
    "Measure", "MEASURES", "Cohorts", "Experiment", "cohort_cases", "compare", "comparison_table", "case_counts",
    "headline_text", "over_time", "before_after_chart", "distribution_chart", "distribution_charts", "load",
    "key_figures", "show_headline", "show_data_checks", "show_comparison", "show_distributions",
    "show_before_after", "show_learning_log", "show_summary", "show_questions", "questions", "save",
]

#: Columns of the per-case table ``flow.case_table`` returns (the interface this module reads).
CASE_TABLE_COLUMNS = (
    "case_id", "service", "first_at", "last_at", "end_to_end_days", "steps", "value_steps", "waste_steps",
    "unclassified_steps", "handoffs", "people", "rework", "touch_hours", "face_to_face_hours",
    *(f"n_{c.replace('-', '_')}" for c in CATEGORIES),
)


@dataclass(frozen=True)
class Measure:
    """One measure of the comparison.

    ``kind``: ``count`` (mean per case, or total per cohort), ``median`` (median per case) or ``share`` (a percentage:
    sum of ``column`` over sum of ``denominator`` across the cohort's cases, compared in percentage points).
    """

    id: str
    name: str
    kind: str
    column: str
    unit: str
    improvement: str = "decrease"
    denominator: str | None = None
    decimals: int = 1


MEASURES: tuple[Measure, ...] = (
    Measure("end_to_end_days", "End-to-end time", "median", "end_to_end_days", "days"),
    Measure("assessments", "Assessments", "count", "n_assessment", "assessments"),
    Measure("people", "People involved end to end", "count", "people", "people"),
    Measure("referrals", "Referrals", "count", "n_referral", "referrals"),
    Measure("total_hours", "Total hours", "count", "touch_hours", "hours"),
    Measure("face_to_face", "Face-to-face time (share of all hours)", "share", "face_to_face_hours", "% of hours",
            "increase", "touch_hours", 0),
    Measure("demand_returns", "Demand expected to return (share of cases)", "share", "returns_yes", "% of cases",
            "decrease", "returns_judged", 0),
    Measure("handoffs", "Hand-offs", "count", "handoffs", "hand-offs"),
)
_BY_ID = {m.id: m for m in MEASURES}

REASONS = {
    "both": "in both cohorts",
    "events_only": "has events but no row in cases.csv (so no cohort)",
    "bad_label": "cohort label not recognised",
    "no_cohort": "no cohort (neither baseline nor experiment)",
    "no_events": "in cases.csv but no events recorded",
}
"""Why a case is left out of the comparison, in the order they are checked."""


# ------------------------------------------------------------------------------------------------- cohorts
@dataclass
class Cohorts:
    """Every case of a service, with its cohort, its measures and whether it is in the comparison (and if not, why)."""

    cases: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    start: pd.Timestamp | None = None

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
    cols.update(case_id=pd.Series(dtype="str"), service=pd.Series(dtype="str"),
                first_at=pd.Series(dtype="datetime64[ns]"), last_at=pd.Series(dtype="datetime64[ns]"))
    return pd.DataFrame(cols)


def _examples(ids: pd.Series, k: int = 5) -> str:
    ids = [str(i) for i in ids.head(k)]
    return ", ".join(ids) + (", ..." if len(ids) == k else "")


def cohort_cases(data: pd.DataFrame, *, cases: pd.DataFrame, start=None, cases_file: str = "cases.csv",
                 events_file: str = "events.csv") -> Cohorts:
    """Join the per-case table (``flow.case_table``) with the ``cases`` table; say for every case whether it is compared.

    A case is compared when it has one cohort (baseline or experiment), a row in ``cases`` and at least one event.
    Every other case is kept, with the reason it is left out, and each reason is reported as a problem naming the file,
    the first row and how to fix it. ``cases`` may carry ``cohort_label`` (the cohort text as written) and ``row``
    (the spreadsheet row) so that problems can quote them. ``start`` is the experiment's start date.
    """
    missing = [c for c in ("case_id", "end_to_end_days", "people", "touch_hours") if c not in data.columns]
    if missing:
        raise SystemicError(f"the per-case table lacks {', '.join(missing)}: build it with flow.case_table(events)")
    problems: list[Problem] = []
    start = pd.Timestamp(start) if start is not None else None
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
        problems.append(Problem(cases_file, f"lists {len(first)} case(s) in both cohorts ({_examples(first['case_id'])}); "
                                "they are left out of the comparison", "give each case one row and one cohort",
                                row=int(first["row"].iloc[0]), column="cohort", count=len(first), severity=WARNING))
    same = repeat & ~both
    if same.any():
        problems.append(Problem(cases_file, f"lists {int(same.sum())} case(s) twice in the same cohort "
                                f"({_examples(c.loc[same, 'case_id'])}); the first row of each is used",
                                "delete the repeated rows", row=int(c.loc[same, "row"].iloc[0]), column="case_id",
                                count=int(same.sum()), severity=WARNING))
    c = c[~repeat].copy()
    c["_both"] = c["_n_cohorts"] > 1
    c.loc[c["_both"], "cohort"] = pd.NA

    keep = [col for col in ("case_id", "cohort", "cohort_label", "demand_returns", "opened_at", "closed_at", "row",
                            "_both") if col in c.columns]
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
        default="")
    out = pd.DataFrame({"case_id": merged["case_id"].astype(str), "cohort": cohort, "in_cases": in_cases,
                        "in_events": in_events, "included": reason == "",
                        "reason": pd.Series(reason, index=merged.index).replace("", None),
                        "cohort_label": label, "row": merged["row"]})

    # The citizen's view of end-to-end time: opened to closed where the cases table has both, else the events'.
    opened = pd.to_datetime(merged.get("opened_at"))
    closed = pd.to_datetime(merged.get("closed_at"))
    citizen = (closed - opened).dt.total_seconds() / 86400
    backwards = citizen < 0
    if backwards.any():
        rows = merged.loc[backwards, "row"]
        problems.append(Problem(cases_file, f"{int(backwards.sum())} case(s) close before they open "
                                f"({_examples(merged.loc[backwards, 'case_id'])}); their end-to-end time is left blank",
                                "check opened_at and closed_at (day and month swapped?)",
                                row=int(rows.iloc[0]) if rows.notna().any() else None, column="closed_at",
                                count=int(backwards.sum()), severity=WARNING))
        citizen = citizen.mask(backwards)
    from_cases = citizen.notna() & ~backwards
    events_e2e = pd.to_numeric(merged["end_to_end_days"], errors="coerce")
    out["end_to_end_days"] = citizen.where(from_cases, events_e2e.where(~backwards)).astype("float64")
    out["end_to_end_from"] = np.where(from_cases, "cases", np.where(events_e2e.notna() & ~backwards, "events", None))
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
    returns = merged["demand_returns"].astype("boolean") if "demand_returns" in merged.columns else \
        pd.Series(pd.NA, index=merged.index, dtype="boolean")
    out["demand_returns"] = returns
    out["returns_yes"] = returns.fillna(False).astype(float)
    out["returns_judged"] = returns.notna().astype(float)
    out = out.sort_values(["included", "cohort", "case_id"], ascending=[False, True, True], na_position="last")
    out = out.reset_index(drop=True)

    # One problem per reason, naming the first row and how to fix it.
    def first_row(mask):
        rows = out.loc[mask, "row"].dropna()
        return int(rows.iloc[0]) if len(rows) else None

    r = out["reason"]
    m = r.eq(REASONS["events_only"])
    if m.any():
        problems.append(Problem(events_file, f"has events for {int(m.sum())} case(s) with no row in {cases_file} "
                                f"({_examples(out.loc[m, 'case_id'])}); they have no cohort and are left out of the "
                                "comparison", f"add these cases to {cases_file} with their cohort", column="case_id",
                                count=int(m.sum()), severity=WARNING))
    m = r.eq(REASONS["bad_label"])
    if m.any():
        labels = ", ".join(f"'{v}'" for v in sorted(out.loc[m, "cohort_label"].unique())[:5])
        problems.append(Problem(cases_file, f"{int(m.sum())} case(s) have a cohort label that is not baseline or "
                                f"experiment ({labels}); they are left out of the comparison",
                                "write baseline (old system) or experiment (new team), or leave it blank",
                                row=first_row(m), column="cohort", count=int(m.sum()), severity=WARNING))
    m = r.eq(REASONS["no_events"]) & out["cohort"].notna()
    if m.any():
        problems.append(Problem(cases_file, f"{int(m.sum())} case(s) in a cohort have no events in {events_file} "
                                f"({_examples(out.loc[m, 'case_id'])}); with no steps they cannot be measured and are "
                                "left out of the comparison", f"add their steps to {events_file}, or check the case ids",
                                row=first_row(m), column="case_id", count=int(m.sum()), severity=WARNING))
    for name in COHORTS:
        if not (out["included"] & out["cohort"].eq(name)).any():
            fix = ("mark old-system cases with cohort 'baseline' in cases.csv" if name == "baseline" else
                   "mark the experiment team's cases with cohort 'experiment' in cases.csv")
            problems.append(Problem(cases_file, f"no cases in the {name} cohort can be compared; the comparison needs "
                                    "both cohorts", fix, column="cohort", severity=WARNING))
    if start is not None:
        late = out["included"] & out["cohort"].eq("experiment") & (out["opened_at"] < start)
        if late.any():
            problems.append(Problem(cases_file, f"{int(late.sum())} experiment case(s) opened before the experiment "
                                    f"started on {words.date(start)} ({_examples(out.loc[late, 'case_id'])}); they are "
                                    "compared as marked", "check their cohort, or the start date in council.yaml",
                                    row=first_row(late), column="cohort", count=int(late.sum()), severity=WARNING))
        dates = pd.concat([out["opened_at"], out["completed_at"]]).dropna()
        if len(dates) and start > dates.max():
            problems.append(Problem("council.yaml", f"the experiment start date {words.date(start)} is after all the data "
                                    f"(the last case date is {words.date(dates.max())}); the before-and-after chart has no "
                                    "'after' period", "check experiment.start in council.yaml, or add the newer data",
                                    column="experiment.start", severity=WARNING))
    return Cohorts(out, problems, start)


# ------------------------------------------------------------------------------------------------ comparison
def _arrays(frame: pd.DataFrame, m: Measure) -> tuple[np.ndarray, np.ndarray]:
    """(values, weights) per case: a statistic is sum(values) / sum(weights) (median: values only)."""
    v = pd.to_numeric(frame[m.column], errors="coerce").to_numpy(dtype=float)
    if m.kind == "median":
        return v, ~np.isnan(v) * 1.0
    if m.kind == "share":
        d = pd.to_numeric(frame[m.denominator], errors="coerce").to_numpy(dtype=float)
        ok = ~np.isnan(d)
        return np.where(ok, np.nan_to_num(v), 0.0), np.where(ok, d, 0.0)
    return np.nan_to_num(v), ~np.isnan(v) * 1.0


def _stat(v: np.ndarray, w: np.ndarray, kind: str, basis: str) -> np.ndarray:
    """The cohort's figure along the last axis: median, total, mean per case or share (%)."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        if kind == "median":
            return np.nanmedian(v, axis=-1) if v.shape[-1] else np.full(v.shape[:-1], np.nan)
        total = v.sum(axis=-1)
        if kind == "count" and basis == "total":
            return np.where(w.sum(axis=-1) > 0, total, np.nan)
        den = w.sum(axis=-1)
        return np.where(den > 0, total / np.where(den > 0, den, 1) * (100 if kind == "share" else 1), np.nan)


def _change(base, exp, kind: str):
    """Change in the unit shown: % of the baseline, or percentage points for shares."""
    base, exp = np.asarray(base, float), np.asarray(exp, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        if kind == "share":
            return exp - base
        return np.where(base != 0, (exp - base) / np.abs(np.where(base != 0, base, 1)) * 100, np.nan)


def _compared_as(m: Measure, basis: str) -> str:
    if m.kind == "median":
        return "median per case"
    if m.kind == "share":
        return "share of all hours" if m.denominator == "touch_hours" else "share of cases judged"
    return "total for the cohort" if basis == "total" else "mean per case"


def _n_cases(frame: pd.DataFrame, m: Measure) -> int:
    if m.kind == "share":
        return int((pd.to_numeric(frame[m.denominator], errors="coerce") > 0).sum())
    return int(frame[m.column].notna().sum())


def compare(data, *, basis: str = "per case", measures=None, resamples: int = 2000, seed: int = 20240701,
            confidence: float = 0.95, min_cases: int = 5) -> pd.DataFrame:
    """One row per measure: baseline, experiment, the change and a bootstrap interval for it.

    ``data`` is a :class:`Cohorts` (its included cases) or a per-case frame with a ``cohort`` column. ``basis`` is
    ``"per case"`` (means per case) or ``"total"`` (totals per cohort) for counts and hours; end-to-end time is always a
    median per case and shares are pooled over the cohort's cases. The interval resamples cases with replacement within
    each cohort (``resamples`` times, seeded, vectorised); with fewer than ``min_cases`` cases in a cohort there is no
    interval. Changes are % of the baseline, or percentage points for shares.
    """
    if basis not in ("per case", "total"):
        raise SystemicError(f"basis must be 'per case' or 'total', not {basis!r}")
    frame = data.included if isinstance(data, Cohorts) else data
    if "cohort" not in frame.columns:
        raise SystemicError("compare needs a 'cohort' column (baseline or experiment) in the per-case table")
    chosen = [(_BY_ID[m] if isinstance(m, str) else m) for m in (measures or MEASURES)]
    chosen = [m for m in chosen if m.column in frame.columns and (m.denominator is None or m.denominator in frame.columns)]
    groups = {name: frame[frame["cohort"].eq(name)] for name in COHORTS}
    rng = np.random.default_rng(seed)
    boot = {}
    for name in COHORTS:  # one set of resampled cases per cohort, shared by every measure
        g = groups[name]
        n = len(g)
        arrays = [_arrays(g, m) for m in chosen]
        stats = np.full((len(chosen), resamples), np.nan)
        if n >= min_cases:
            chunk = max(1, 2_000_000 // max(n, 1))
            for lo in range(0, resamples, chunk):
                idx = rng.integers(0, n, size=(min(chunk, resamples - lo), n))
                for k, (m, (v, w)) in enumerate(zip(chosen, arrays)):
                    stats[k, lo:lo + idx.shape[0]] = _stat(v[idx], w[idx], m.kind, basis)
        boot[name] = (arrays, stats)
    tail = (1 - confidence) / 2 * 100
    rows = []
    for k, m in enumerate(chosen):
        (vb, wb), (ve, we) = boot["baseline"][0][k], boot["experiment"][0][k]
        b, e = float(_stat(vb, wb, m.kind, basis)), float(_stat(ve, we, m.kind, basis))
        change = float(_change(b, e, m.kind))
        rel = float(_change(b, e, "count"))
        lo = hi = np.nan
        changes = _change(boot["baseline"][1][k], boot["experiment"][1][k], m.kind)
        finite = changes[np.isfinite(changes)]
        if len(finite) >= 0.9 * resamples and resamples > 0:
            lo, hi = np.percentile(finite, [tail, 100 - tail])
        nb, ne = _n_cases(groups["baseline"], m), _n_cases(groups["experiment"], m)
        rows.append({
            "measure": m.id, "name": m.name, "compared_as": _compared_as(m, basis), "unit": m.unit,
            "improvement": m.improvement, "baseline": b, "experiment": e,
            "change_pct": rel if np.isfinite(rel) else np.nan,
            "change_points": change if m.kind == "share" else np.nan,
            "change": change, "change_unit": "points" if m.kind == "share" else "%",
            "interval_low": float(lo), "interval_high": float(hi), "n_baseline": nb, "n_experiment": ne,
            "cases_baseline": len(groups["baseline"]), "cases_experiment": len(groups["experiment"]),
            "reading": _reading(change, lo, hi, m, nb, ne, min_cases),
        })
    out = pd.DataFrame(rows)
    out.attrs.update(basis=basis, resamples=resamples, seed=seed, confidence=confidence)
    return out


def _reading(change, lo, hi, m: Measure, nb: int, ne: int, min_cases: int) -> str:
    if not np.isfinite(change):
        return "none in either cohort" if nb and ne else "no cases to compare"
    if min(nb, ne) < min_cases or not np.isfinite(lo):
        return "too few cases to judge"
    if lo == hi == change == 0:
        return "no change"
    if lo <= 0 <= hi:
        return "could be noise"
    fell = hi < 0
    good = (fell and m.improvement == "decrease") or (not fell and m.improvement == "increase")
    return "clear improvement" if good else "clear worsening"


def _num(x: float, decimals: int = 1) -> str:
    """41, 12.5 or 0.9: whole numbers from 10 up, else ``decimals`` places (no trailing .0)."""
    if x is None or not np.isfinite(x):
        return "-"
    text = f"{x:,.0f}" if abs(x) >= 10 else f"{x:,.{decimals}f}"
    return text[:-2] if text.endswith(".0") else text


def _signed(x: float) -> str:
    r = round(float(x))
    return "0" if r == 0 else f"{r:+d}"


def change_text(row) -> str:
    """'-64%', or '+14 points (from 46% to 60%)' for a share."""
    if not np.isfinite(row["change"]):
        if not np.isfinite(row["baseline"]) or not np.isfinite(row["experiment"]):
            return "-"
        return "none in either cohort" if row["experiment"] == 0 else "n/a (none in the baseline)"
    if row["change_unit"] == "points":
        return (f"{_signed(row['change'])} points (from {row['baseline']:.0f}% to {row['experiment']:.0f}%)")
    return f"{_signed(row['change'])}%"


def interval_text(row) -> str:
    if not np.isfinite(row["interval_low"]):
        return "-"
    unit = " points" if row["change_unit"] == "points" else "%"
    return f"{_signed(row['interval_low'])}{unit} to {_signed(row['interval_high'])}{unit}"


def comparison_table(data: pd.DataFrame) -> pd.DataFrame:
    """The comparison (from :func:`compare`) in words for the report: one row per measure, all text."""
    def value(row, which):
        v = row[which]
        if not np.isfinite(v):
            return "-"
        return f"{v:.0f}%" if row["change_unit"] == "points" else _num(v)

    conf = int(round(data.attrs.get("confidence", 0.95) * 100))
    return pd.DataFrame({
        "Measure": data["name"],
        "Compared as": data["compared_as"],
        "Baseline": data.apply(value, axis=1, which="baseline") if len(data) else [],
        "Experiment": data.apply(value, axis=1, which="experiment") if len(data) else [],
        "Change": data.apply(change_text, axis=1) if len(data) else [],
        f"{conf}% interval of the change": data.apply(interval_text, axis=1) if len(data) else [],
        "Reading": data["reading"],
        "Cases (baseline / experiment)": [f"{b:,} / {e:,}" for b, e in zip(data["n_baseline"], data["n_experiment"])],
    })


def case_counts(data: Cohorts) -> pd.DataFrame:
    """Every case of the service, counted once: in the comparison (by cohort) or left out (by reason)."""
    cases = data.cases
    rows = [("Compared: baseline (old system)", data.count("baseline")),
            ("Compared: experiment (new team)", data.count("experiment"))]
    for reason in REASONS.values():
        n = int(cases["reason"].eq(reason).sum())
        if n:
            rows.append((f"Left out: {reason}", n))
    rows.append(("All cases", len(cases)))
    return pd.DataFrame(rows, columns=["Cases", "Number"])


# ------------------------------------------------------------------------------------------------ words
def headline_text(comparison: pd.DataFrame, *, experiment_cases: int, baseline_cases: int, team: str = "new team",
                  start=None) -> str:
    """One plain sentence: what changed for the experiment's cases, hedged when the change could be noise."""
    since = f" since {words.date(start)}" if start is not None else ""
    who = f"For the {words.count(experiment_cases, 'case')} the {team} handled{since}"
    if experiment_cases == 0:
        return f"No experiment cases to compare yet: mark the {team}'s cases with cohort 'experiment' in cases.csv."
    if baseline_cases == 0:
        return f"{who}, there are no baseline cases to compare with: mark old-system cases with cohort 'baseline'."
    rows = comparison[np.isfinite(comparison["change"].astype(float))] if len(comparison) else comparison
    if rows.empty:
        return f"{who}, no measure could be compared (no steps, hours or dates recorded)."
    e2e = rows[rows["measure"] == "end_to_end_days"]
    row = e2e.iloc[0] if len(e2e) else rows.iloc[0]
    name = row["name"][0].lower() + row["name"][1:]
    if row["change_unit"] == "points":
        what = f"{name} went from {row['baseline']:.0f}% to {row['experiment']:.0f}%"
    else:
        stat = "a median " if row["compared_as"].startswith("median") else (
            "an average " if row["compared_as"].startswith("mean") else "")
        unit = f" {row['unit']}" if row["measure"] == "end_to_end_days" else f" {row['unit']} per case" \
            if row["compared_as"].startswith(("mean", "median")) else f" {row['unit']}"
        verb = "fell" if row["experiment"] < row["baseline"] else "rose" if row["experiment"] > row["baseline"] \
            else "stayed"
        what = f"{name} {verb} from {stat}{_num(row['baseline'])} to {_num(row['experiment'])}{unit}"
    tail = f", against {baseline_cases:,} baseline cases"
    if row["reading"] == "could be noise":
        tail += "; with this few cases the difference could be noise"
    elif row["reading"] == "too few cases to judge":
        tail += "; too few cases to tell a real change from noise"
    return f"{who}, {what}{tail}."


# ------------------------------------------------------------------------------------------------ over time
def over_time(data, *, measure: str = "end_to_end_days", start=None, improvement: str | None = None) -> pd.DataFrame:
    """Capability chart frame (``spc.xmr``) of one per-case measure by completion date, with a phase at ``start``.

    ``data``: a :class:`Cohorts` (its compared cases) or a per-case frame with ``completed_at``. Cases with no
    completion date or no value are counted in ``attrs['left_out']``. Cases completed at the same moment are put a
    second apart (in case-id order) so that each has its own point. The phase is drawn only when ``start`` falls
    inside the data (``attrs['phase_note']`` says why not).
    """
    from .spc import xmr

    if isinstance(data, Cohorts):
        start = data.start if start is None else start
        data = data.included
    m = _BY_ID.get(measure)
    column = {"face_to_face": "face_to_face_pct", "demand_returns": None}.get(measure, m.column if m else measure)
    if column is None or column not in data.columns:
        raise SystemicError(f"no per-case values for {measure!r} to chart over time")
    frame = data[["case_id", "completed_at", column]].rename(columns={column: "value"})
    frame["cohort"] = data["cohort"] if "cohort" in data.columns else None
    usable = frame["completed_at"].notna() & frame["value"].notna()
    f = frame[usable].sort_values(["completed_at", "case_id"])
    ties = f.groupby("completed_at").cumcount()
    dates = f["completed_at"] + pd.to_timedelta(ties, unit="s")
    if len(f) < 2:
        raise SystemicError(f"only {len(f)} case(s) have a completion date and a value: too few for a chart")
    phase, note = (), None
    if start is not None:
        start = pd.Timestamp(start)
        if dates.iloc[0] < start <= dates.iloc[-1]:
            phase = (start,)
        elif start > dates.iloc[-1]:
            note = f"the experiment start ({words.date(start)}) is after the last completed case, so there is no 'after' phase"
        else:
            note = f"the experiment start ({words.date(start)}) is before the first completed case, so there is no 'before' phase"
    result = xmr(f["value"].to_numpy(float), dates=dates.to_numpy(), phase_starts=phase,
                 improvement=improvement or (m.improvement if m else "neutral"), floor=0)
    result.insert(1, "case_id", f["case_id"].to_numpy())
    result.insert(2, "cohort", f["cohort"].to_numpy())
    result.attrs.update(left_out=int((~usable).sum()), phase_note=note, measure=measure, cases=len(f),
                        first=f["completed_at"].iloc[0], last=f["completed_at"].iloc[-1])
    return result


def before_after_chart(data, *, measure: str = "end_to_end_days", start=None, ax=None, title: str | None = None,
                       label: str = "Experiment started"):
    """Capability chart of a per-case measure by completion date, phased at the experiment start; returns the Axes."""
    from .charts import capability_chart

    result = over_time(data, measure=measure, start=start)
    m = _BY_ID.get(measure)
    name = m.name if m else measure
    unit = "% of hours" if measure == "face_to_face" else (m.unit if m else None)
    if title is None:
        title = (f"{name} per case by completion date, {words.period(result.attrs['first'], result.attrs['last'])} "
                 f"({result.attrs['cases']:,} cases)")
    labels = [f"{label} {words.date(result.attrs['phases'][1]['start'])}"] if len(result.attrs["phases"]) > 1 else None
    ax = capability_chart(result, ax=ax, title=title, unit=unit, phase_labels=labels)
    team = result["cohort"].eq("experiment").to_numpy()
    if team.any() and not team.all():  # ring the experiment team's cases: the old system may still be finishing cases
        ax.scatter(result["date"].to_numpy()[team], result["value"].to_numpy()[team], s=40, facecolors="none",
                   edgecolors="#231f20", linewidths=0.6, zorder=4, label="experiment team's case", gid="team_cases")
        ax.legend(loc="upper left", fontsize=7, frameon=True, framealpha=0.85)
    return ax


def phase_mix(data: pd.DataFrame) -> pd.DataFrame:
    """Cases of each cohort before and after the phase boundary of an :func:`over_time` result."""
    phase = np.where(data["phase"].to_numpy() > 0, "after", "before")
    mix = pd.crosstab(pd.Series(phase, name="phase"), pd.Series(data["cohort"].to_numpy(), name="cohort"))
    return mix.reindex(index=["before", "after"], columns=list(COHORTS), fill_value=0)


# ------------------------------------------------------------------------------------------------ distributions
COHORT_COLOURS = {"baseline": "#a6a6a6", "experiment": "#289de0"}


def distribution_chart(data, *, measure: str, ax=None, title: str | None = None):
    """Each cohort's cases on one measure (box and points; a bar of the share for demand returns); returns the Axes."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    frame = data.included if isinstance(data, Cohorts) else data
    m = _BY_ID[measure]
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3))
    counts = {c: int(frame["cohort"].eq(c).sum()) for c in COHORTS}
    dated = pd.concat([frame.get("opened_at", pd.Series(dtype="datetime64[ns]")),
                       frame.get("completed_at", pd.Series(dtype="datetime64[ns]"))]).dropna()
    period = f"{words.period(dated.min(), dated.max())}, " if len(dated) else ""
    if m.id == "demand_returns":
        judged = frame[frame["returns_judged"] > 0]
        share = judged.groupby("cohort")["returns_yes"].mean().reindex(list(COHORTS)) * 100
        n = judged["cohort"].value_counts().reindex(list(COHORTS), fill_value=0)
        ax.bar(list(COHORTS), share.fillna(0).to_numpy(), color=[COHORT_COLOURS[c] for c in COHORTS])
        ax.set_ylim(0, 100)
        ax.set_ylabel("% of cases judged")
        for i, c in enumerate(COHORTS):
            txt = f"{share[c]:.0f}% of {n[c]}" if n[c] else "none judged"
            ax.annotate(txt, (i, share.fillna(0)[c]), ha="center", va="bottom", fontsize=8, xytext=(0, 2),
                        textcoords="offset points")
        counts = n.to_dict()
    else:
        col = "face_to_face_pct" if m.id == "face_to_face" else m.column
        values = frame[["cohort", col]].dropna()
        counts = values["cohort"].value_counts().reindex(list(COHORTS), fill_value=0).to_dict()
        if len(values):
            with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib 3.11 a deprecated boxplot argument
                warnings.simplefilter("ignore", DeprecationWarning)
                sns.boxplot(data=values, x="cohort", y=col, order=list(COHORTS), hue="cohort",
                            palette=COHORT_COLOURS, ax=ax, showfliers=False, width=0.5, legend=False)
            sns.stripplot(data=values, x="cohort", y=col, order=list(COHORTS), color="#231f20", size=3,
                          alpha=0.6, jitter=0.2, ax=ax)
        ax.set_ylabel("% of hours" if m.id == "face_to_face" else m.unit)
    ax.set_xlabel("")
    ax.set_xticks(range(len(COHORTS)), [f"{c}\n({counts.get(c, 0):,} cases)" for c in COHORTS])
    ax.set_title(title or f"{m.name}\n{period}{sum(counts.values()):,} cases", fontsize=9, loc="left")
    return ax


def distribution_charts(data, *, measures=None, columns: int = 2):
    """Small multiples of :func:`distribution_chart`, one per measure; returns the array of Axes."""
    import matplotlib.pyplot as plt

    ids = list(measures or [m.id for m in MEASURES])
    rows = -(-len(ids) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(9, 3.1 * rows), layout="constrained", squeeze=False)
    for ax, mid in zip(axes.flat, ids):
        distribution_chart(data, measure=mid, ax=ax)
    for ax in axes.flat[len(ids):]:
        ax.set_visible(False)
    return axes


# ------------------------------------------------------------------------------------------------ loading a stage
@dataclass
class Experiment:
    """Everything the experiment report shows for one service."""

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

    @property
    def has_experiment(self) -> bool:
        """An experiment is set up in council.yaml and at least one case is marked 'experiment'."""
        return self.start is not None and bool(self.cohorts.cases["cohort"].eq("experiment").any())

    @property
    def baseline_cases(self) -> int:
        return self.cohorts.count("baseline")

    @property
    def experiment_cases(self) -> int:
        return self.cohorts.count("experiment")


def _cases_tolerant(council, service: str, start, end):
    """The service's cases; a case listed twice is reported (both cohorts) rather than stopping the report."""
    result = council.load("cases")
    fatal = [p for p in result.errors if not (p.column == "case_id" and "more than once" in p.message)]
    if fatal:
        raise ContractError(fatal)
    frame = result.frame.copy()
    frame["row"] = np.arange(len(frame)) + 2
    frame["cohort_label"] = frame["cohort"]
    if result.path is not None and len(frame):
        raw, _ = read_raw(result.path, "cases")
        if raw is not None and "cohort" in raw.columns and len(raw) == len(frame):
            frame["cohort_label"] = raw["cohort"].astype(str).str.strip().to_numpy()
    frame = frame[frame["service"] == service]
    if start is not None or end is not None:
        frame = within_period(frame, "opened_at", start, end)
    name = result.path.name if result.path is not None else "cases.csv"
    # The per-table problems (warnings) except those this stage reports in its own words.
    # (unknown cohort labels are reported per service by cohort_cases, with the label and the cases it affects)
    own = [p for p in result.problems if p not in fatal and p.column != "cohort"
           and not (p.column == "case_id" and "more than once" in p.message)]
    return frame.reset_index(drop=True), own, name


def load(stage, *, basis: str = "per case", resamples: int = 2000, seed: int = 20240701) -> Experiment:
    """Read and compare everything the experiment report needs for the stage's service; never raises for no data."""
    from . import flow

    council, service = stage.council, stage.service
    spec = service.experiment
    start = pd.Timestamp(spec.start) if spec is not None else None
    cases, problems, cases_file = _cases_tolerant(council, service.id, stage.start, stage.end)
    events = council.table("events", service=service.id)
    events_file = council.load("events").path.name if council.load("events").path else "events.csv"
    catalogue = council.table("activities", service=service.id) if council.has_table("activities") else None
    per_case = flow.case_table(events, catalogue=catalogue) if len(events) else _empty_case_table()
    if len(events):
        cats = set() if catalogue is None else set(catalogue["category"].dropna())
        lacking = [c for c in ("assessment", "referral") if c not in cats]
        if lacking:
            where = "activities.csv has no activities for this service" if not cats else \
                f"no activity in activities.csv has the category {' or '.join(lacking)}"
            problems.append(Problem("activities.csv", f"{where}, so {' and '.join(c + 's' for c in lacking)} per case "
                                    "count as none", "give each activity of the service its category (assessment, "
                                    "referral, hand-off, ...)", column="category", severity=WARNING))
    if stage.start is not None or stage.end is not None:  # cases of the period, by their first step
        per_case = within_period(per_case, "first_at", stage.start, stage.end)
    cohorts = cohort_cases(per_case, cases=cases, start=start, cases_file=cases_file, events_file=events_file)
    comparison = compare(cohorts, basis=basis, resamples=resamples, seed=seed)
    log = stage.table("learning_log") if council.has_table("learning_log") else empty_frame("learning_log")
    log_problems = council.load("learning_log").problems if council.has_table("learning_log") else []
    dated = pd.concat([cohorts.cases["opened_at"], cohorts.cases["completed_at"]]).dropna()
    period = (dated.min(), dated.max()) if len(dated) else (stage.start, stage.end)
    return Experiment(service.id, service.name, spec.team if spec else None, start, spec.description if spec else "",
                      cohorts, comparison, log, problems + log_problems + cohorts.problems, period)


def key_figures(data: Experiment) -> dict:
    """What ``experiment.json`` holds: cohort sizes, exclusions and one entry per measure."""
    def f(x):
        return None if x is None or not np.isfinite(x) else round(float(x), 4)

    measures = [{
        "id": r["measure"], "name": r["name"], "compared_as": r["compared_as"], "baseline": f(r["baseline"]),
        "experiment": f(r["experiment"]), "change_pct": f(r["change_pct"]), "change_points": f(r["change_points"]),
        "change": change_text(r), "interval": [f(r["interval_low"]), f(r["interval_high"])]
        if np.isfinite(r["interval_low"]) else None, "interval_unit": r["change_unit"], "reading": r["reading"],
        "n_baseline": int(r["n_baseline"]), "n_experiment": int(r["n_experiment"]),
    } for _, r in data.comparison.iterrows()] if data.has_experiment else []
    return {
        "has_experiment": data.has_experiment,
        "team": data.team,
        "experiment_start": data.start.date().isoformat() if data.start is not None else None,
        "baseline_cases": data.baseline_cases,
        "experiment_cases": data.experiment_cases,
        "cases_left_out": data.cohorts.excluded,
        "headline": _headline(data),
        "measures": measures,
        "basis": data.comparison.attrs.get("basis"),
        "learning_log_entries": len(data.learning_log),
        "system_conditions_to_act_on": _conditions(data)["system_condition"].tolist(),
    }


# ------------------------------------------------------------------------------------------------ report sections
def _display(markup: str) -> None:
    try:
        from IPython.display import HTML, display

        display(HTML(markup))
    except ImportError:  # outside IPython
        print(markup)


def _esc(text) -> str:
    return html.escape("" if text is None else str(text))


def _headline(data: Experiment) -> str:
    if not data.has_experiment:
        return f"No experiment set up for {data.service_name} yet."
    return headline_text(data.comparison, experiment_cases=data.experiment_cases,
                         baseline_cases=data.baseline_cases, team=data.team or "experiment team", start=data.start)


def _conditions(data: Experiment) -> pd.DataFrame:
    from .learning_log import conditions_to_act_on

    return conditions_to_act_on(data.learning_log)


def show_headline(data: Experiment) -> None:
    """The headline of what changed, or, with no experiment, how to set one up."""
    from . import report

    if data.has_experiment:
        report.headline(_headline(data))
        return
    why = ("council.yaml has no 'experiment' for this service" if data.start is None else
           "no case in cases.csv is marked cohort 'experiment'")
    report.headline(f"No experiment set up for {data.service_name} yet.")
    _display(
        f"<div class='setup'><p>There is nothing to compare because {_esc(why)}. To compare an experiment team's "
        "cases with the old system:</p><ol>"
        "<li>In <code>council.yaml</code>, under this service, add <code>experiment:</code> with "
        "<code>start: YYYY-MM-DD</code> (the day the team began) and <code>team: &lt;the team's name&gt;</code>.</li>"
        "<li>In <code>cases.csv</code>, mark each case the experiment team handles with cohort "
        "<code>experiment</code>, and a comparable set of the old system's cases with cohort <code>baseline</code>. "
        "Where the team can judge it, fill <code>demand_returns</code> (yes/no).</li>"
        "<li>Record every step of those cases in <code>events.csv</code>, with worker, hours and face_to_face, and "
        "give each activity a category in <code>activities.csv</code> (assessment, referral, hand-off, ...).</li>"
        "<li>Keep the team's learning log in <code>learning_log.csv</code>: what we tried, what we learned, the "
        "system condition behind the waste and who can change it.</li></ol>"
        f"<p>{len(data.cohorts.cases):,} case(s) of this service are on file; "
        f"{int(data.cohorts.cases['cohort'].eq('baseline').sum()):,} are marked baseline.</p></div>")


def show_data_checks(data: Experiment) -> None:
    """Which cases are compared and which are left out, and why; then any data problems."""
    from . import report

    if not data.has_experiment:  # only what may explain a missing experiment cohort: labels the contract blanked
        report.problems([p for p in data.problems if p.column == "cohort" and "no cases in the" not in p.message])
        return
    report.heading("Which cases are compared")
    report.note("Every case of the service is counted once: either in the comparison or left out with the reason. "
                "End-to-end time is the citizen's view (opened to closed in cases.csv); "
                f"{int(data.cohorts.included['end_to_end_from'].eq('events').sum()):,} compared case(s) with no "
                "closing date use their first to last recorded step instead.")
    report.table(case_counts(data.cohorts), caption=f"Cases of {data.service_name}, {words.period(*data.period)}")
    report.problems(data.problems)


def show_comparison(data: Experiment) -> None:
    """The comparison table, with how to read it."""
    from . import report

    if not data.has_experiment:
        return
    report.heading("What changed: experiment against baseline")
    attrs = data.comparison.attrs
    report.note(
        "Each row compares the experiment team's cases with the baseline (old system) cases. Counts and hours are "
        f"compared as the {'mean per case' if attrs.get('basis') == 'per case' else 'total for each cohort'}, "
        "end-to-end time as the median per case, and shares in percentage points. The interval shows how far the "
        f"change could move by chance alone (cases resampled {attrs.get('resamples', 0):,} times within each cohort): "
        "if it includes no change, the difference could be noise.")
    report.table(comparison_table(data.comparison),
                 caption=f"{data.experiment_cases:,} experiment and {data.baseline_cases:,} baseline cases, "
                         f"{words.period(*data.period)}")


def show_distributions(data: Experiment):
    """Per-case spread of every measure for each cohort; returns the Axes (None with no experiment)."""
    from . import report

    if not data.has_experiment or data.cohorts.included.empty:
        return None
    report.heading("How the cases spread")
    report.note("Each dot is a case; the box holds the middle half of the cases and its line is the median. "
                "Overlapping boxes mean many cases look alike under both ways of working.")
    return distribution_charts(data.cohorts)


def show_before_after(data: Experiment, *, measures=("end_to_end_days", "people", "total_hours")):
    """Capability charts of per-case measures by completion date, phased at the experiment start; returns the Axes."""
    from . import report

    if not data.has_experiment:
        return None
    report.heading("Before and after, over time")
    report.note("Each point is one compared case, at the date it was completed. The solid line is the average and the "
                "dashed lines the process limits: the range the system predictably produces. A new phase starts on the "
                "day the experiment team began. Blue points are special causes in the better direction, orange in the "
                "worse; grey points are common-cause variation.")
    axes = []
    for measure in measures:
        try:
            result = over_time(data.cohorts, measure=measure)
        except SystemicError as exc:
            report.note(f"No chart of {_BY_ID[measure].name.lower()}: {exc}.")
            continue
        notes = []
        if result.attrs["phase_note"]:
            notes.append(f"No phase is drawn: {result.attrs['phase_note']}.")
        mix = phase_mix(result)
        if not axes and len(result.attrs["phases"]) > 1 and mix.loc["after", "baseline"]:
            notes.append(f"After the start, {mix.loc['after', 'experiment']:,} experiment team case(s) (ringed) "
                         f"finished beside {mix.loc['after', 'baseline']:,} baseline case(s) the old system was still "
                         "finishing.")
        if result.attrs["left_out"]:
            notes.append(f"{result.attrs['left_out']:,} compared case(s) have no completion date or no value for "
                         f"{_BY_ID[measure].name.lower()} and are not on the chart.")
        if notes:
            report.note(" ".join(notes))
        axes.append(before_after_chart(data.cohorts, measure=measure))
    return axes


def questions(data: Experiment) -> list[str]:
    """Questions for the team and its managers, from what the comparison and the learning log show."""
    if not data.has_experiment:
        return []
    out = []
    noise = data.comparison.loc[data.comparison["reading"].isin(["could be noise", "too few cases to judge"]), "name"]
    if len(noise):
        out.append(f"{', '.join(noise.str.lower())}: the change could still be noise. What more cases would show "
                   "it, and what in the system holds these measures where they are?")
    worse = data.comparison.loc[data.comparison["reading"].eq("clear worsening"), "name"]
    if len(worse):
        out.append(f"{', '.join(worse.str.lower())} got worse: what is the team doing that the old system did not?")
    act = _conditions(data)
    if len(act):
        out.append(f"The learning log names {len(act)} system condition(s) still to change. Which can managers "
                   "remove this month, and who will?")
    out += ["Is the experiment team handling the full range of demand, or only the easier cases?",
            "What does the team do that the old system prevents, and what would roll-in to the rest of the service "
            "need?"]
    return out


def show_questions(data: Experiment) -> None:
    from . import report

    if data.has_experiment:
        report.questions(questions(data))


def show_learning_log(data: Experiment) -> None:
    """The learning log grouped by system condition, then every entry."""
    from . import report
    from .learning_log import by_system_condition, entries_table

    if data.learning_log.empty and not data.has_experiment:
        return
    report.heading("Learning log and system conditions")
    if data.learning_log.empty:
        report.note(f"No learning log entries for {data.service_name}: the team records what it tried, what it "
                    "learned and the system condition behind the waste in learning_log.csv.")
        return
    log = data.learning_log
    report.note("The system conditions (rules, targets, IT systems, procedures, structures) the team found causing "
                "waste, with who can change each; open ones first.")
    grouped = by_system_condition(log)
    report.table(grouped.rename(columns=lambda c: c.replace("_", " ").capitalize()),
                 caption=f"{len(grouped):,} system condition(s) from {len(log):,} entries, "
                         f"{words.period(log['date'].min(), log['date'].max())}")
    report.table(entries_table(log), caption=f"Every entry ({len(log):,})", max_rows=100)


def show_summary(data: Experiment) -> None:
    """One page for senior managers: what the team did, what changed for citizens, what managers must act on."""
    if not data.has_experiment:
        return
    log = data.learning_log
    tried = log.sort_values("date")["what_we_tried"].dropna().tail(5).tolist() if len(log) else []
    parts = [
        "<div class='manager-summary' style='page-break-before: always'>",
        "<h2>Summary for senior managers</h2>",
        "<h3>What the team did</h3>",
        f"<p>Since {_esc(words.date(data.start))} the {_esc(data.team)} has handled {data.experiment_cases:,} "
        f"{_esc(data.service_name)} case(s) end to end in a new way"
        + (f" ({_esc(data.description)})" if data.description else "")
        + f". They are compared with {data.baseline_cases:,} case(s) handled by the old system. The team's learning "
        f"log has {words.count(len(log), 'entry', 'entries')}.</p>",
    ]
    if tried:
        parts.append("<p>Recently the team tried:</p><ul>" + "".join(f"<li>{_esc(t)}</li>" for t in tried) + "</ul>")
    parts.append("<h3>What changed for citizens</h3><ul>")
    for _, r in data.comparison.iterrows():
        if not np.isfinite(r["change"]):
            continue
        if r["change_unit"] == "points":
            what = f"from {r['baseline']:.0f}% to {r['experiment']:.0f}%"
        else:
            what = (f"from {_num(r['baseline'])} to {_num(r['experiment'])} {r['unit']} ({r['compared_as']}), "
                    f"{change_text(r)}")
        parts.append(f"<li><b>{_esc(r['name'])}</b>: {_esc(what)}: {_esc(r['reading'])}.</li>")
    parts.append("</ul>")
    act = _conditions(data)
    parts.append("<h3>System conditions managers must act on</h3>")
    if act.empty:
        parts.append("<p>The learning log names no open system condition.</p>")
    else:
        parts.append("<ul>")
        for _, r in act.iterrows():
            waste = f" It causes: {_esc(r['waste_caused'])}." if r["waste_caused"] else ""
            who = _esc(r["who_can_change"]) if r["who_can_change"] else "not yet named"
            parts.append(f"<li><b>{_esc(r['system_condition'])}</b> ({_esc(r['status'])}).{waste} "
                         f"Who can change it: {who}.</li>")
        parts.append("</ul>")
    parts.append("</div>")
    _display("".join(parts))


def save(stage, data: Experiment):
    """Write ``experiment.json`` with the key figures and the period of the compared cases."""
    return stage.save(key_figures(data), period=data.period)
