"""Per-case measures over time (phased at the experiment start) and each cohort's spread: what the charts draw."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.analysis import endtoend
from systemic_lib.analysis.experiment.cohorts import CLOSED, Cohorts
from systemic_lib.analysis.experiment.comparison import _BY_ID, Measure, basis_of, counted
from systemic_lib.analysis.spc import XmrResult, xmr
from systemic_lib.data.contract import COHORTS
from systemic_lib.errors import SystemicError

__all__ = ["OverTime", "over_time", "phase_mix", "Spread", "spread"]


@dataclass
class OverTime:
    """One per-case measure by completion date: ``capability`` is its ``spc.xmr`` result (its points with ``case_id``
    and ``cohort``), phased at the experiment start when it falls inside the data (``phase_note`` says why not)."""

    capability: XmrResult
    measure: str
    left_out: int
    phase_note: str | None
    cases: int
    first: pd.Timestamp
    last: pd.Timestamp

    @property
    def chart(self) -> pd.DataFrame:
        """The chart's points: one row per case (date, case_id, cohort, value, phase, limits, signal, ...)."""
        return self.capability.points

    @property
    def phases(self) -> list:
        return self.capability.phases


def over_time(data, *, measure: str = "end_to_end_days", start=None, improvement: str | None = None) -> OverTime:
    """Capability chart data (``spc.xmr``) of one per-case measure by completion date, with a phase at ``start``.

    ``data``: a :class:`Cohorts` (its compared cases) or a per-case frame with ``completed_at``. Cases with no
    completion date or no value (an open case has no end-to-end time) are counted in ``left_out``. Cases are charted
    in order of completion (``endtoend.completion_order``: position 1, 2, ...; ties in case-id order), as every
    per-case chart is; the new phase starts at the first case completed on or after ``start``.
    """
    if isinstance(data, Cohorts):
        start = data.start if start is None else start
        data = data.included
    m = _BY_ID.get(measure)
    column = {
        "face_to_face": "face_to_face_pct",
        "demand_returns": None,  # finished cases' times only
        "end_to_end_days": "end_to_end_days",
    }.get(measure, m.column if m else measure)
    if column is None or column not in data.columns:
        raise SystemicError(f"no per-case values for {measure!r} to chart over time")
    frame = data[["case_id", "completed_at", column]].rename(columns={column: "value"})
    frame["cohort"] = data["cohort"] if "cohort" in data.columns else None
    usable = frame["completed_at"].notna() & frame["value"].notna()
    # cases in order of completion, numbered (the shared per-case x: several cases can finish on one day)
    f = endtoend.completion_order(
        frame[usable].sort_values(["completed_at", "case_id"], kind="stable"), end="completed_at", value="value"
    )
    if len(f) < 2:
        raise SystemicError(f"only {len(f)} case(s) have a completion date and a value: too few for a chart")
    ends = f["completed_at"].to_numpy(dtype="datetime64[ns]")
    phase: tuple[int, ...] = ()
    note: str | None = None
    if start is not None:
        start = pd.Timestamp(start)
        i = int(np.searchsorted(ends, start.to_datetime64()))  # the first case completed on or after the start
        if 0 < i < len(f):
            phase = (i,)
        elif i >= len(f):
            note = f"the experiment start ({words.date(start)}) is after the last completed case, so there is no 'after' phase"
        else:
            note = f"the experiment start ({words.date(start)}) is before the first completed case, so there is no 'before' phase"
    result = xmr(
        f["value"].to_numpy(float),
        phase_starts=phase,
        improvement=improvement or (m.improvement if m else "neutral"),
        floor=0,
    )
    points = result.points.copy()
    points.insert(0, "position", f["position"].to_numpy())
    points.insert(1, "case_id", f["case_id"].to_numpy())
    points.insert(2, "cohort", f["cohort"].to_numpy())
    points.insert(3, "completed_at", f["completed_at"].to_numpy())
    return OverTime(
        replace(result, points=points),
        measure,
        int((~usable).sum()),
        note,
        len(f),
        f["completed_at"].iloc[0],
        f["completed_at"].iloc[-1],
    )


def phase_mix(data) -> pd.DataFrame:
    """Cases of each cohort before and after the phase boundary of an :func:`over_time` result."""
    chart = data.chart if isinstance(data, OverTime) else data
    phase = np.where(chart["phase"].to_numpy() > 0, "after", "before")
    mix = pd.crosstab(pd.Series(phase, name="phase"), pd.Series(chart["cohort"].to_numpy(), name="cohort"))
    return mix.reindex(index=["before", "after"], columns=list(COHORTS), fill_value=0)


# ------------------------------------------------------------------------------------------------ distributions
@dataclass
class Spread:
    """Each cohort's compared cases on one measure, for a distribution chart: ``values`` (cohort, value) per case,
    or for demand returns ``shares`` (% of the cases judged, per cohort); ``counts`` the cases behind each cohort."""

    measure: Measure
    values: pd.DataFrame
    counts: dict
    shares: pd.Series | None
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    basis: str = CLOSED  #: the cases drawn: closed cases, cases judged, or the first N days of every case

    @property
    def cases(self) -> str:
        """'705 closed cases', '744 cases judged', '571 cases, their first 90 days'."""
        n = sum(self.counts.values())
        if self.basis.startswith("first "):
            return f"{n:,} cases, their {self.basis.removesuffix(' of every case')}"
        return f"{n:,} {self.basis}"

    @property
    def unit(self) -> str:
        return (
            "% of cases judged"
            if self.shares is not None
            else "% of hours"
            if self.measure.id == "face_to_face"
            else self.measure.unit
        )


def spread(data, *, measure: str) -> Spread:
    """The per-case values (or, for demand returns, the share judged to return) of each cohort on ``measure``, on
    the cases the comparison compares it on (``comparison.basis_of``)."""
    case_basis = data.case_basis if isinstance(data, Cohorts) else CLOSED
    frame = data.included if isinstance(data, Cohorts) else data
    m = _BY_ID[measure]
    dated = pd.concat(
        [
            frame.get("opened_at", pd.Series(dtype="datetime64[ns]")),
            frame.get("completed_at", pd.Series(dtype="datetime64[ns]")),
        ]
    ).dropna()
    first, last = (dated.min(), dated.max()) if len(dated) else (None, None)
    if m.id == "demand_returns":
        judged = frame[frame["returns_judged"] > 0]
        shares = judged.groupby("cohort")["returns_yes"].mean().reindex(list(COHORTS)) * 100
        n = judged["cohort"].value_counts().reindex(list(COHORTS), fill_value=0)
        return Spread(m, judged[["cohort", "returns_yes"]], n.to_dict(), shares, first, last, basis_of(m))
    col = {"face_to_face": "face_to_face_pct", "end_to_end_days": "end_to_end_days"}.get(m.id, m.column)
    # the cases the comparison counts (closed cases: an open case's work so far is not its work); end-to-end time
    # has a value only for a finished case
    kept = frame[counted(frame)] if m.on == "counted" else frame
    values = kept[["cohort", col]].dropna()
    counts = values["cohort"].value_counts().reindex(list(COHORTS), fill_value=0).to_dict()
    basis = case_basis if m.on == "counted" else CLOSED
    return Spread(m, values.rename(columns={col: "value"}), counts, None, first, last, basis)
