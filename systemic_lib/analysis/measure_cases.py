"""Capability per case: what a citizen can expect, from each case's end-to-end time (METHOD.md "Capability").

A weekly median describes a typical week, not a citizen: a system can show "consistently meets 35 days" on weekly
medians while a quarter of citizens wait longer. So the measure stage also charts every finished case's end-to-end
time (the one definition, ``endtoend``: from the citizen's first linked contact to ``closed_at``) in order of
completion, on an XmR chart whose limits are those of individual cases; its narration and assurance ("predictably
within N days") are then true of citizens. Cases are charted by position (``endtoend.completion_order``): several
can finish on one day, and ``spc.xmr`` refuses duplicate dates. A phase starts at the first case finishing on or
after a recorded system change. Open cases have no time and are not on the chart; their count is said beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.analysis import endtoend, spc
from systemic_lib.analysis.narrate import narrate
from systemic_lib.analysis.reading import View

__all__ = [
    "CaseCapability",
    "case_capability",
    "cohort_view",
    "per_case_figures",
    "scan_capability",
    "sentence",
    "MIN_CASES",
    "RESAMPLES",
]

#: Fewer finished cases than this in the period: no per-case chart (the limits would rest on almost nothing).
MIN_CASES = 10
#: Bootstrap resamples behind the interval of the cases' view of a change (seeded: the same data, the same interval).
RESAMPLES = 1000


@dataclass
class CaseCapability:
    """Finished cases of the period in completion order (``finished``: case_id, start, end, days, position), their
    XmR result (None with fewer than ``MIN_CASES``), the system changes that start a phase (date, label, position),
    the cases still open at the period's end, the definition's counts and a narration or a note saying why not."""

    cases: endtoend.EndToEndCases
    finished: pd.DataFrame
    result: spc.XmrResult | None
    changes: list[dict] = field(default_factory=list)
    narration: str = ""
    note: str | None = None
    target: float | None = None
    cohorts: View | None = None  #: cases opened before and since the latest change (``cohort_view``)

    @property
    def n_open(self) -> int:
        return self.cases.n_open

    @property
    def phase_labels(self) -> list[str]:
        return [c["label"] for c in self.changes]

    def predictably_within(self) -> float | None:
        """The latest phase's upper process limit: a citizen's case predictably takes no longer than this."""
        if self.result is None:
            return None
        upper = self.result.current.get("upper")
        return None if upper is None or not np.isfinite(upper) else float(upper)


def case_capability(
    cases: pd.DataFrame | None,
    *,
    contacts: pd.DataFrame | None = None,
    changes=(),
    start=None,
    end=None,
    target: float | None = None,
    data_end=None,
) -> CaseCapability:
    """The per-case capability chart of a service's cases (whole table; cases finishing in ``start``..``end`` are
    charted), with a new phase at each (date, label) system change. Contacts (``demand.case_id``) move a case's start
    to the citizen's first contact. Open cases are censored at ``data_end``, the service's one censoring date
    (``endtoend.stage_censor_date``; default: ``endtoend.censor_date`` of the cases and contacts given)."""
    if data_end is None:
        data_end = endtoend.censor_date(demand=contacts, cases=cases, end=end)
    e2e = endtoend.case_times(cases=cases, contacts=contacts, data_end=data_end)
    frame = e2e.frame
    if start is not None:
        frame = frame[~(frame["end"] < pd.Timestamp(start))]  # open cases and cases finishing in the period
        e2e = endtoend.EndToEndCases(frame.reset_index(drop=True), e2e.data_end, e2e.end_from, e2e.backwards)
    done = endtoend.completion_order(e2e.frame)
    out = CaseCapability(e2e, done, None, target=target)
    if len(done) < MIN_CASES:
        out.note = (
            f"End-to-end time per case: only {words.count(len(done), 'finished case')} in the period "
            f"(a per-case chart needs at least {MIN_CASES})."
        )
        return out
    ends = done["end"].to_numpy(dtype="datetime64[ns]")
    kept: dict[int, dict] = {}
    for date, label in changes:
        i = int(np.searchsorted(ends, pd.Timestamp(date).to_datetime64()))
        if 0 < i < len(done):
            kept[i] = {"date": pd.Timestamp(date), "label": label, "position": i + 1}
    out.changes = [kept[i] for i in sorted(kept)]
    out.result = spc.xmr(
        done["days"].to_numpy(dtype=float), phase_starts=sorted(kept), improvement="decrease", target=target, floor=0
    )
    out.cohorts = _latest_cohorts(e2e.frame, changes)
    out.narration = narrate(
        out.result,
        measure="end-to-end time per case",
        unit="days",
        phase_labels=out.phase_labels or None,
        change_words=out.cohorts.sentence if out.cohorts is not None else None,
    )
    return out


def _latest_cohorts(frame: pd.DataFrame, changes) -> View | None:
    """``cohort_view`` at the latest change with cases opened on both sides of it (None without one)."""
    dates = sorted(pd.Timestamp(d) for d, _ in changes)
    starts = frame["start"].dropna()
    if starts.empty:
        return None
    inside = [d for d in dates if starts.min() < d <= starts.max()]
    if not inside:
        return None
    previous = [d for d in dates if d < inside[-1]]
    return cohort_view(frame, inside[-1], previous[-1] if previous else None)


def cohort_view(
    frame: pd.DataFrame,
    change,
    previous=None,
    *,
    resamples: int = RESAMPLES,
    seed: int = 20240902,
    confidence: float = 0.95,
) -> View:
    """The cases' own view of a change: the Kaplan–Meier median end-to-end time of the cases opened since ``change``
    against those opened before it (since ``previous``, the change before, if any), open cases counted as open, with
    a bootstrap interval for the difference (cases resampled within each group, seeded). It shows a change when the
    interval leaves out zero; it cannot judge with fewer than ``MIN_CASES`` cases in a group or a median not
    reached (more than half still open). ``frame``: ``endtoend.EndToEndCases.frame`` (start, open, duration)."""
    change = pd.Timestamp(change)
    start = frame["start"]
    after = frame[start >= change]
    before = frame[(start < change) & (start >= pd.Timestamp(previous) if previous is not None else start < change)]
    groups = {}
    for name, g in (("before", before), ("after", after)):
        d = g["duration"].to_numpy(dtype=float)
        done = (~g["open"].astype(bool)).to_numpy()
        groups[name] = (d, done, float(endtoend.km_median(d, done)) if len(d) else float("nan"), int((~done).sum()))
    (db, _, mb, ob), (da, _, ma, oa) = groups["before"], groups["after"]
    figures = {
        "change": change.date().isoformat(),
        "cases_before": len(db),
        "cases_after": len(da),
        "open_before": ob,
        "open_after": oa,
        "median_before": _r(mb),
        "median_after": _r(ma),
    }
    counts = (
        f"{words.number(len(da))} opened since the change, {words.number(oa)} still open; "
        f"{words.number(len(db))} opened before it, {words.number(ob)} still open"
    )
    if min(len(db), len(da)) < MIN_CASES:
        return View(
            "per case",
            None,
            False,
            f"Too few cases to compare the cases themselves ({counts}; each group needs at least {MIN_CASES}).",
            figures,
        )
    if not (np.isfinite(mb) and np.isfinite(ma)):
        return View(
            "per case",
            None,
            False,
            f"Too many cases are still open to compare the cases themselves ({counts}): more than half of a group "
            "has no end-to-end time yet.",
            figures,
        )
    rng = np.random.default_rng(seed)
    boot = {}
    for name, (d, done, _, _) in groups.items():
        boot[name] = _resampled_medians(d, done, rng, resamples)
    diff = boot["after"] - boot["before"]
    finite = diff[np.isfinite(diff)]
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail]) if len(finite) >= 0.9 * resamples else (np.nan, np.nan)
    change_days = ma - mb
    figures.update(difference_days=_r(change_days), interval_low=_r(low), interval_high=_r(high))
    said = (
        f"Cases opened since the change took a median of {ma:.1f} days, against {mb:.1f} days for those opened "
        f"before ({counts}): {change_days:+.1f} days, {confidence:.0%} interval {low:+.1f} to {high:+.1f}"
    )
    if not np.isfinite(low) or low <= 0 <= high:
        return View("per case", None, True, f"{said}, so this could be noise.", figures)
    shows = "improvement" if high < 0 else "concern"
    meaning = "shorter" if high < 0 else "longer"
    return View("per case", shows, True, f"{said}: clearly {meaning}.", figures)


def sentence(cap: CaseCapability) -> str:
    """'Each point is one citizen's case (1,204 finished in the period, in order of completion); 212 cases still open
    have no end-to-end time yet and are not on the chart.'"""
    text = (
        f"Each point is one citizen's case ({words.number(len(cap.finished))} finished, in order of "
        "completion), so the limits say what a citizen can expect, not a typical week"
    )
    if cap.n_open:
        text += (
            f"; {words.count(cap.n_open, 'case')} still open {'has' if cap.n_open == 1 else 'have'} no "
            "end-to-end time yet and " + ("is" if cap.n_open == 1 else "are") + " not on the chart"
        )
    return text + "."


def _r(x):
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def _resampled_medians(d: np.ndarray, done: np.ndarray, rng, resamples: int) -> np.ndarray:
    """Kaplan–Meier medians of ``resamples`` bootstrap resamples of the cases, each resample given as how many times
    each case is drawn, over the cases sorted once: the product-limit estimate with weights,
    1 - drawn / still at risk at each finished case, as ``endtoend.km_median`` computes it, without a sort per
    resample."""
    order = np.lexsort((~done, d))
    d, done = d[order], done[order]
    n = len(d)
    picks = rng.integers(0, n, size=(resamples, n)) + (np.arange(resamples) * n)[:, None]
    drawn = np.bincount(picks.ravel(), minlength=resamples * n).reshape(resamples, n).astype(float)
    at_risk = n - np.cumsum(drawn, axis=1) + drawn
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(done & (drawn > 0), 1 - drawn / np.where(at_risk > 0, at_risk, 1), 1.0)
    hit = np.cumprod(factor, axis=1) <= 0.5 + 1e-12
    return np.where(hit.any(axis=1), d[hit.argmax(axis=1)], np.nan)


def per_case_figures(cap: CaseCapability) -> dict:
    """The ``end_to_end_per_case`` block of ``measure.json``: the definition's counts, the Kaplan–Meier figures and
    the per-case limits of each phase (None without a chart) and ``last_points``, the last three cases charted."""
    out = {
        "definition": endtoend.figures(cap.cases),
        "n_finished": len(cap.finished),
        "open_cases": cap.n_open,
        "phases": [],
        "variation": None,
        "assurance": None,
        "predictably_within_days": None,
        "narration": cap.narration,
        "note": cap.note,
    }
    if cap.result is not None:
        a = cap.result
        out.update(
            {
                "phases": [
                    {
                        "first_case": int(p["start"]) + 1,
                        "last_case": int(p["end"]) + 1,
                        "n": p["n"],
                        "mean": _r(p["mean"]),
                        "lower": _r(p["lower"]),
                        "upper": _r(p["upper"]),
                        "trial": p["trial"],
                        "label": cap.phase_labels[p["phase"] - 1] if p["phase"] >= 1 else None,
                    }
                    for p in a.phases
                ],
                "variation": a.variation,
                "assurance": a.assurance,
                "predictably_within_days": _r(cap.predictably_within()),
                "last_points": _last_points(cap),
            }
        )
    return out


def _last_points(cap: CaseCapability, k: int = 3) -> list[dict]:
    """The last ``k`` cases charted, for the council's measures page: position, day finished, days and signal."""
    if cap.result is None:
        return []
    tail = cap.result.points.iloc[-k:]
    first = len(cap.result.points) - len(tail)
    return [
        {
            "case": first + i + 1,
            "finished": pd.Timestamp(end).date().isoformat(),
            "value": _r(v),
            "signal": s if isinstance(s, str) else None,
        }
        for i, (end, v, s) in enumerate(zip(cap.finished["end"].iloc[-k:], tail["value"], tail["signal"]))
    ]


def scan_capability(cap: CaseCapability) -> dict:
    """The latest phase of the per-case chart in the organisation scan's capability shape (``scan.capability``):
    mean, lower, upper, since (the date the phase's first case finished), weeks (here: cases in the phase), grain
    "case", trial, stable, phase, label and note (why there is no chart). The scan's column then says what a citizen
    can expect, with the same limits as ``measure.json``'s ``end_to_end_per_case``."""
    out: dict[str, object] = {
        "mean": None,
        "lower": None,
        "upper": None,
        "since": None,
        "weeks": len(cap.finished),
        "grain": "case",
        "trial": None,
        "stable": None,
        "phase": None,
        "label": None,
        "note": None,
    }
    if cap.result is None:
        note = cap.note or "no finished cases"
        out["note"] = note.split(": ", 1)[1].rstrip(".") if note.startswith("End-to-end time per case: ") else note
        return out
    phase = cap.result.current
    points = cap.result.points
    latest = points[points["phase"] == phase["phase"]]
    signals = latest["signal"].dropna()
    clean = lambda v: None if v is None or not np.isfinite(v) else round(float(v), 2)
    first = int(phase["start"])
    out.update(
        {
            "mean": clean(phase["mean"]),
            "lower": clean(phase["lower"]),
            "upper": clean(phase["upper"]),
            "since": pd.Timestamp(cap.finished["end"].iloc[first]).date().isoformat(),
            "weeks": int(latest["value"].notna().sum()),
            "trial": bool(phase["trial"]),
            "stable": bool((signals == "common_cause").all()),
            "phase": int(phase["phase"]),
            "label": cap.phase_labels[phase["phase"] - 1] if phase["phase"] >= 1 and cap.phase_labels else None,
        }
    )
    return out
