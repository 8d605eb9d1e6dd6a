"""The comparison: one row per measure, baseline against experiment, with a bootstrap interval and a reading.

Each measure is compared on a stated base (mean or median per case, or totals per cohort; shares in percentage
points). The interval resamples cases with replacement within each cohort, so that a team of 30 cases does not
over-read noise; the reading says in words whether the change is clear or could be noise.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.analysis.endtoend import km_median
from systemic_lib.analysis.experiment.cohorts import CLOSED, Cohorts, first_days_basis
from systemic_lib.data.contract import COHORTS
from systemic_lib.errors import SystemicError

__all__ = [
    "Measure",
    "MEASURES",
    "BASES",
    "BY_TYPE",
    "compare",
    "km_median",
    "change_text",
    "interval_text",
    "comparison_table",
    "headline_text",
    "CLOSED",
    "first_days_basis",
    "basis_of",
    "cases_text",
]

JUDGED = "cases judged"
ALL_CASES = "all cases, open ones counted as open"


@dataclass(frozen=True)
class Measure:
    """One measure of the comparison.

    ``kind``: ``count`` (mean per case, or total per cohort), ``median`` (median per case), ``survival`` (the
    Kaplan–Meier median of ``column``, each case's duration, with ``denominator`` 1 for a finished case and 0 for an
    open one, censored: ``endtoend``) or ``share`` (a percentage: sum of ``column`` over sum of ``denominator`` across
    the cohort's cases, compared in percentage points).
    """

    id: str
    name: str
    kind: str
    column: str
    unit: str
    improvement: str = "decrease"
    denominator: str | None = None
    decimals: int = 1
    #: which cases it is compared on: "counted" (the comparison's case basis: closed cases, or the first N days of
    #: every case), "all" (every case, open ones censored: end-to-end time) or "judged" (the cases the team judged)
    on: str = "counted"


MEASURES: tuple[Measure, ...] = (
    Measure(
        "end_to_end_days",
        "End-to-end time",
        "survival",
        "end_to_end_duration",
        "days",
        denominator="end_to_end_finished",
        on="all",
    ),
    Measure("assessments", "Assessments", "count", "n_assessment", "assessments"),
    Measure("people", "People involved end to end", "count", "people", "people"),
    Measure("referrals", "Referrals", "count", "n_referral", "referrals"),
    Measure("total_hours", "Total hours", "count", "touch_hours", "hours"),
    Measure(
        "face_to_face",
        "Face-to-face time (share of all hours)",
        "share",
        "face_to_face_hours",
        "% of hours",
        "increase",
        "touch_hours",
        0,
    ),
    Measure(
        "demand_returns",
        "Demand expected to return (share of cases)",
        "share",
        "returns_yes",
        "% of cases",
        "decrease",
        "returns_judged",
        0,
        on="judged",
    ),
    Measure("handoffs", "Hand-offs", "count", "handoffs", "hand-offs"),
)
_BY_ID = {m.id: m for m in MEASURES}


def counted(frame: pd.DataFrame) -> np.ndarray:
    """Which cases are in the comparison's case basis (``Measure.on == "counted"``): the ``counted`` column where
    ``load`` set one (closed cases, or cases old enough for a first-N-days window), else the closed cases
    (``end_to_end_open`` false), else every case (a per-case frame that knows no open cases)."""
    if "counted" in frame.columns:
        return frame["counted"].fillna(False).to_numpy(dtype=bool)
    if "end_to_end_open" in frame.columns:
        return ~frame["end_to_end_open"].fillna(True).to_numpy(dtype=bool)
    return np.ones(len(frame), dtype=bool)


def _arrays(frame: pd.DataFrame, m: Measure, basis: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(values, weights) per case: a statistic is sum(values) / sum(weights) (median: values only). A case outside
    ``basis`` (for a measure compared on the case basis) has no value and no weight."""
    v = pd.to_numeric(frame[m.column], errors="coerce").to_numpy(dtype=float)
    if m.kind == "survival":  # durations and finished flags (open cases are censored, never given a time)
        return v, pd.to_numeric(frame[m.denominator], errors="coerce").fillna(0).to_numpy(dtype=float)
    keep = basis if basis is not None and m.on == "counted" else np.ones(len(v), dtype=bool)
    v = np.where(keep, v, np.nan)
    if m.kind == "median":
        return v, ~np.isnan(v) * 1.0
    if m.kind == "share":
        d = pd.to_numeric(frame[m.denominator], errors="coerce").to_numpy(dtype=float)
        ok = ~np.isnan(d) & keep
        return np.where(ok, np.nan_to_num(v), 0.0), np.where(ok, d, 0.0)
    return np.nan_to_num(v), ~np.isnan(v) * 1.0


def _stat(v: np.ndarray, w: np.ndarray, kind: str, basis: str) -> np.ndarray:
    """The cohort's figure along the last axis: median, total, mean per case or share (%)."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        if kind == "survival":
            return km_median(v, w)
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


def _compared_as(m: Measure, basis: str, case_basis: str = CLOSED) -> str:
    like = ", like for like by demand type" if basis == BY_TYPE else ""
    on = f", {case_basis}" if m.on == "counted" else ""
    if m.kind == "survival":
        return "median per case (Kaplan-Meier, open cases counted as open)" + like
    if m.kind == "median":
        return "median per case" + on + like
    if m.kind == "share":
        return ("share of all hours" + on if m.denominator == "touch_hours" else "share of cases judged") + like
    return ("total for the cohort" + on) if basis == "total" else "mean per case" + on + like


def basis_of(m: Measure, case_basis: str = CLOSED) -> str:
    """The cases a measure is compared on, in words (``experiment.json``'s ``basis`` per measure)."""
    return {"all": ALL_CASES, "judged": JUDGED}.get(m.on, case_basis)


BY_TYPE = "per demand type"
BASES = ("per case", "total", BY_TYPE)


def _weighted_median(v: np.ndarray, weight: np.ndarray) -> float:
    ok = ~np.isnan(v) & (weight > 0)
    if not ok.any():
        return np.nan
    order = np.argsort(v[ok], kind="stable")
    values, cum = v[ok][order], np.cumsum(weight[ok][order])
    half = cum[-1] / 2
    i = int(np.searchsorted(cum, half))
    if np.isclose(cum[i], half) and i + 1 < len(values):  # an even split: the midpoint, as a median is
        return float((values[i] + values[i + 1]) / 2)
    return float(values[i])


def _strata(groups: dict) -> tuple[dict, dict]:
    """For a like-for-like comparison: each cohort's cases of the demand types both cohorts handled, and the
    baseline's per-case weights that give it the experiment's mix (experiment share / baseline share of its type)."""
    both = set(groups["baseline"]["demand_type"].dropna()) & set(groups["experiment"]["demand_type"].dropna())
    kept = {k: g[g["demand_type"].isin(both)] for k, g in groups.items()}
    share = {k: g["demand_type"].value_counts(normalize=True) for k, g in kept.items()}
    t = kept["baseline"]["demand_type"]
    weights = {
        "baseline": (t.map(share["experiment"]) / t.map(share["baseline"])).to_numpy(dtype=float),
        "experiment": np.ones(len(kept["experiment"])),
    }
    return kept, weights


def _draw(rng, g: pd.DataFrame, target: pd.DataFrame | None, size: int) -> np.ndarray:
    """``size`` resamples of ``g``'s rows: plain, or (with ``target``) per demand type in ``target``'s numbers."""
    n = len(g)
    if target is None:
        return rng.integers(0, n, size=(size, n))
    codes = g["demand_type"].to_numpy()
    parts = []
    for t, k in target["demand_type"].value_counts(sort=False).items():
        rows = np.flatnonzero(codes == t)
        parts.append(rows[rng.integers(0, len(rows), size=(size, k))])
    return np.concatenate(parts, axis=1)


def _n_cases(frame: pd.DataFrame, m: Measure, basis: np.ndarray) -> int:
    """The cases behind a cohort's figure: every case with a time (end-to-end), the cases judged, or the cases of
    the case basis with a value."""
    if m.kind == "survival":  # finished and open cases alike: both are in the estimate
        return int(pd.to_numeric(frame[m.column], errors="coerce").notna().sum())
    keep = basis if m.on == "counted" else np.ones(len(frame), dtype=bool)
    if m.kind == "share":
        return int(((pd.to_numeric(frame[m.denominator], errors="coerce") > 0).to_numpy() & keep).sum())
    return int((frame[m.column].notna().to_numpy() & keep).sum())


def _left_out(frame: pd.DataFrame, m: Measure, basis: np.ndarray) -> int:
    """The cohort's compared cases this measure leaves out for its basis: open (or too recent) cases, or cases not
    judged; none for end-to-end time, which counts open cases as open."""
    if m.on == "counted":
        return int((~basis).sum())
    if m.on == "judged":
        return int((pd.to_numeric(frame[m.denominator], errors="coerce").fillna(0) <= 0).sum())
    return 0


def _per_case(data, basis: str) -> pd.DataFrame:
    """The compared cases as one per-case frame with ``end_to_end_duration`` and ``end_to_end_finished`` (an older
    per-case frame has every case with a time finished); raises where the frame cannot be compared on ``basis``."""
    frame = data.included if isinstance(data, Cohorts) else data
    if "end_to_end_duration" not in frame.columns and "end_to_end_days" in frame.columns:  # an older per-case frame:
        days = pd.to_numeric(frame["end_to_end_days"], errors="coerce")  # every case with a time is finished
        frame = frame.assign(end_to_end_duration=days, end_to_end_finished=days.notna().astype(float))
    elif "end_to_end_duration" in frame.columns and "end_to_end_finished" not in frame.columns:
        frame = frame.assign(
            end_to_end_finished=(~frame["end_to_end_open"].astype(bool)).astype(float)
            if "end_to_end_open" in frame.columns
            else 1.0
        )
    if "cohort" not in frame.columns:
        raise SystemicError("compare needs a 'cohort' column (baseline or experiment) in the per-case table")
    if basis == BY_TYPE and "demand_type" not in frame.columns:
        raise SystemicError(
            "basis 'per demand type' needs each case's demand_type (cases.csv, or contacts linked by demand.case_id)"
        )
    return frame


def compare(
    data,
    *,
    basis: str = "per case",
    measures=None,
    resamples: int = 2000,
    seed: int = 20240701,
    confidence: float = 0.95,
    min_cases: int = 5,
    case_basis: str | None = None,
) -> pd.DataFrame:
    """One row per measure: baseline, experiment, the change and a bootstrap interval for it.

    ``data`` is a :class:`Cohorts` (its included cases) or a per-case frame with a ``cohort`` column. ``basis`` is
    ``"per case"`` (means per case) or ``"total"`` (totals per cohort) for counts and hours; end-to-end time is always a
    median per case and shares are pooled over the cohort's cases. ``"per demand type"`` compares like for like: only
    the demand types both cohorts handled, the baseline weighted (and resampled per type) to the experiment's mix. The interval resamples cases with replacement within
    each cohort (``resamples`` times, seeded, vectorised); with fewer than ``min_cases`` cases in a cohort there is no
    interval. Changes are % of the baseline, or percentage points for shares. The frame carries no ``attrs``: the
    caller keeps how it compared (``ExperimentData.basis``, ``resamples``, ``seed``, ``confidence``).

    Counts, hours and the face-to-face share are compared on the case basis (``case_basis``, from the cohorts):
    closed cases only by default (the cases of :func:`counted`), because an open case's work so far is not its
    work; or the first N days of every case old enough to have had them, as ``load(first_days=N)`` sets up.
    End-to-end time takes every case (open ones censored); demand expected to return, the cases judged. Each row
    says its ``basis`` and how many of each cohort's cases it leaves out (``left_out_<cohort>``).
    """
    if basis not in BASES:
        raise SystemicError(f"basis must be one of {', '.join(map(repr, BASES))}, not {basis!r}")
    if case_basis is None:
        case_basis = data.case_basis if isinstance(data, Cohorts) else CLOSED
    frame = _per_case(data, basis)
    chosen = [(_BY_ID[m] if isinstance(m, str) else m) for m in (measures or MEASURES)]
    chosen = [
        m for m in chosen if m.column in frame.columns and (m.denominator is None or m.denominator in frame.columns)
    ]
    groups = {name: frame[frame["cohort"].eq(name)] for name in COHORTS}
    weights = {name: np.ones(len(g)) for name, g in groups.items()}
    if basis == BY_TYPE:  # like for like: the types both handled, the baseline weighted to the experiment's mix
        groups, weights = _strata(groups)
    in_basis = {name: counted(g) for name, g in groups.items()}
    stat_basis = "per case" if basis == BY_TYPE else basis
    rng = np.random.default_rng(seed)
    boot = {}
    for name in COHORTS:  # one set of resampled cases per cohort, shared by every measure
        g = groups[name]
        n = len(g)
        arrays = [_arrays(g, m, in_basis[name]) for m in chosen]
        stats = np.full((len(chosen), resamples), np.nan)
        if n >= min_cases and (basis != BY_TYPE or len(groups["experiment"])):
            chunk = max(1, 2_000_000 // max(n, 1))
            for at in range(0, resamples, chunk):
                idx = _draw(rng, g, groups["experiment"] if basis == BY_TYPE else None, min(chunk, resamples - at))
                for k, (m, (v, w)) in enumerate(zip(chosen, arrays)):
                    stats[k, at : at + idx.shape[0]] = _stat(v[idx], w[idx], m.kind, stat_basis)
        boot[name] = (arrays, stats)
    tail = (1 - confidence) / 2 * 100
    rows = []
    for k, m in enumerate(chosen):
        (vb, wb), (ve, we) = boot["baseline"][0][k], boot["experiment"][0][k]
        if m.kind == "survival":
            b = float(km_median(vb, wb, weights["baseline"])) if len(vb) else np.nan
            e = float(km_median(ve, we)) if len(ve) else np.nan
        elif m.kind == "median" and basis == BY_TYPE:
            b, e = _weighted_median(vb, weights["baseline"]), float(_stat(ve, we, m.kind, stat_basis))
        else:
            b = float(_stat(vb * weights["baseline"], wb * weights["baseline"], m.kind, stat_basis))
            e = float(_stat(ve, we, m.kind, stat_basis))
        change = float(_change(b, e, m.kind))
        rel = float(_change(b, e, "count"))
        lo = hi = np.nan
        changes = _change(boot["baseline"][1][k], boot["experiment"][1][k], m.kind)
        finite = changes[np.isfinite(changes)]
        if len(finite) >= 0.9 * resamples and resamples > 0:
            lo, hi = np.percentile(finite, [tail, 100 - tail])
        nb, ne = (_n_cases(groups[c], m, in_basis[c]) for c in COHORTS)
        rows.append(
            {
                "measure": m.id,
                "name": m.name,
                "compared_as": _compared_as(m, basis, case_basis),
                "basis": basis_of(m, case_basis),
                "unit": m.unit,
                "improvement": m.improvement,
                "baseline": b,
                "experiment": e,
                "change_pct": rel if np.isfinite(rel) else np.nan,
                "change_points": change if m.kind == "share" else np.nan,
                "change": change,
                "change_unit": "points" if m.kind == "share" else "%",
                "interval_low": float(lo),
                "interval_high": float(hi),
                "n_baseline": nb,
                "n_experiment": ne,
                "cases_baseline": len(groups["baseline"]),
                "cases_experiment": len(groups["experiment"]),
                "left_out_baseline": _left_out(groups["baseline"], m, in_basis["baseline"]),
                "left_out_experiment": _left_out(groups["experiment"], m, in_basis["experiment"]),
                "reading": _reading(change, lo, hi, m, nb, ne, min_cases),
                **_open_counts(m, (vb, wb), (ve, we), b, e),
            }
        )
    return pd.DataFrame(rows)


def _open_counts(m: Measure, base, exp, b: float, e: float) -> dict:
    """For end-to-end time: each cohort's open cases and, where its median is not reached, the longest time seen
    ("more than N days"); NaN for every other measure."""
    if m.kind != "survival":
        return {
            "open_baseline": np.nan,
            "open_experiment": np.nan,
            "at_least_baseline": np.nan,
            "at_least_experiment": np.nan,
        }
    out = {}
    for name, (v, done), value in (("baseline", base, b), ("experiment", exp, e)):
        timed = np.isfinite(v)
        out[f"open_{name}"] = float((timed & (done <= 0)).sum())
        out[f"at_least_{name}"] = float(v[timed].max()) if not np.isfinite(value) and timed.any() else np.nan
    return out


def _reading(change, lo, hi, m: Measure, nb: int, ne: int, min_cases: int) -> str:
    if not np.isfinite(change) and m.kind == "survival" and nb and ne:
        return "too many cases still open to judge"
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


def change_text(row) -> str:
    """'-64%', or '+14 points (from 46% to 60%)' for a share; ``words.MISSING`` when a cohort has no figure."""
    if not np.isfinite(row["change"]):
        if not np.isfinite(row["baseline"]) or not np.isfinite(row["experiment"]):
            return words.MISSING
        return "none in either cohort" if row["experiment"] == 0 else "n/a (none in the baseline)"
    if row["change_unit"] == "points":
        return (
            f"{words.signed(row['change'])} points (from {words.percent(row['baseline'])} to "
            f"{words.percent(row['experiment'])})"
        )
    return f"{words.signed(row['change'])}%"


def interval_text(row) -> str:
    """'-80% to -40%' (or in points for a share); ``words.MISSING`` with no interval."""
    if not np.isfinite(row["interval_low"]):
        return words.MISSING
    unit = " points" if row["change_unit"] == "points" else "%"
    return f"{words.signed(row['interval_low'])}{unit} to {words.signed(row['interval_high'])}{unit}"


def cases_text(row) -> str:
    """The cases behind a row, and those its basis leaves out: '362 / 343 (178 / 24 open, left out)'."""
    text = f"{int(row['n_baseline']):,} / {int(row['n_experiment']):,}"
    out_b, out_e = int(row.get("left_out_baseline", 0) or 0), int(row.get("left_out_experiment", 0) or 0)
    if not (out_b or out_e):
        return text
    why = (
        "not judged"
        if row["basis"] == JUDGED
        else "open, left out"
        if row["basis"] == CLOSED
        else f"too recent for the {row['basis'].removesuffix(' of every case')}, left out"
    )
    return f"{text} ({out_b:,} / {out_e:,} {why})"


def comparison_table(data: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """The comparison (from :func:`compare`, run at ``confidence``) in words for the report: one row per measure."""

    def value(row, which):
        v = row[which]
        opened = row.get(f"open_{which}", np.nan)
        beside = f" ({words.number(opened)} still open)" if np.isfinite(opened) and opened else ""
        if not np.isfinite(v):
            at_least = row.get(f"at_least_{which}", np.nan)
            return f"more than {words.figure(at_least)}{beside}" if np.isfinite(at_least) else words.MISSING
        return (words.percent(v) if row["change_unit"] == "points" else words.figure(v)) + beside

    conf = int(round(confidence * 100))
    return pd.DataFrame(
        {
            "Measure": data["name"],
            "Compared as": data["compared_as"],
            "Baseline": data.apply(value, axis=1, which="baseline") if len(data) else [],
            "Experiment": data.apply(value, axis=1, which="experiment") if len(data) else [],
            "Change": data.apply(change_text, axis=1) if len(data) else [],
            f"{conf}% interval of the change": data.apply(interval_text, axis=1) if len(data) else [],
            "Reading": data["reading"],
            "Cases (baseline / experiment)": [cases_text(r) for _, r in data.iterrows()] if len(data) else [],
        }
    )


def headline_text(
    comparison: pd.DataFrame,
    *,
    experiment_cases: int,
    baseline_cases: int,
    team: str = "new team",
    start=None,
    design: str | None = None,
) -> str:
    """One plain sentence: what changed for the experiment's cases, hedged when the change could be noise, and
    (``design``, ``Design.sentence``) whether the two ways of working ran alongside."""
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
        what = f"{name} went from {words.percent(row['baseline'])} to {words.percent(row['experiment'])}"
    else:
        stat = (
            "a median "
            if row["compared_as"].startswith("median")
            else ("an average " if row["compared_as"].startswith("mean") else "")
        )
        unit = (
            f" {row['unit']}"
            if row["measure"] == "end_to_end_days"
            else f" {row['unit']} per case"
            if row["compared_as"].startswith(("mean", "median"))
            else f" {row['unit']}"
        )
        verb = (
            "fell"
            if row["experiment"] < row["baseline"]
            else "rose"
            if row["experiment"] > row["baseline"]
            else "stayed"
        )
        what = f"{name} {verb} from {stat}{words.figure(row['baseline'])} to {words.figure(row['experiment'])}{unit}"
    tail = f", against {baseline_cases:,} baseline cases"
    if row["reading"] == "could be noise":
        tail += "; with this few cases the difference could be noise"
    elif row["reading"] == "too few cases to judge":
        tail += "; too few cases to tell a real change from noise"
    if design:
        tail += f"; {design}"
    return f"{who}, {what}{tail}."
