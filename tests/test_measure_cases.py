"""Capability per case (systemic_lib.analysis.measure_cases): end-to-end time of each citizen's case on an XmR chart."""

from __future__ import annotations

import pandas as pd
import pytest

from systemic_lib.analysis import measure, measure_cases, spc
from systemic_lib.display import report
from systemic_lib.display.charts.measure import case_chart

T = pd.Timestamp


def _cases(days, *, opened="2024-01-01", every=1.0, open_=()):
    """Cases opened ``every`` days apart taking ``days`` each; ids in ``open_`` have no closed_at."""
    opened = pd.date_range(opened, periods=len(days), freq=pd.Timedelta(days=every))
    closed = [o + pd.Timedelta(days=float(d)) for o, d in zip(opened, days)]
    ids = [f"K{i:02d}" for i in range(len(days))]
    return pd.DataFrame(
        {"case_id": ids, "opened_at": opened, "closed_at": [pd.NaT if i in open_ else c for i, c in zip(ids, closed)]}
    )


def test_per_case_limits_by_hand():
    """12 cases of 10, 12, 10, 12, ... days, all finished: mean 11, moving ranges all 2, so the limits are
    11 ± 2.66 × 2 = 5.68 and 16.32: a citizen's case predictably takes no more than 16.3 days."""
    cap = measure_cases.case_capability(_cases([10, 12] * 6, every=3))  # opened 3 days apart: closed in order
    assert len(cap.finished) == 12 and cap.n_open == 0
    assert cap.finished["position"].tolist() == list(range(1, 13))
    ph = cap.result.current
    assert (
        ph["mean"] == pytest.approx(11) and ph["upper"] == pytest.approx(16.32) and ph["lower"] == pytest.approx(5.68)
    )
    assert cap.predictably_within() == pytest.approx(16.32)
    figs = measure_cases.per_case_figures(cap)
    assert figs["predictably_within_days"] == pytest.approx(16.32) and figs["phases"][0]["first_case"] == 1
    assert figs["definition"]["start_from"]["opened"] == 12
    # the same as spc.xmr on the values in completion order
    assert spc.xmr(cap.finished["days"].to_numpy(), improvement="decrease", floor=0).current["upper"] == ph["upper"]


def test_open_cases_are_not_charted_and_are_counted():
    cap = measure_cases.case_capability(_cases([10, 12] * 6, every=3, open_=("K00", "K11")))
    assert len(cap.finished) == 10 and cap.n_open == 2
    assert "2 cases still open have no end-to-end time yet" in measure_cases.sentence(cap)


def test_cases_finishing_on_one_day_are_charted_by_position_and_changes_start_phases():
    days = [5.0] * 15
    cases = _cases(days).assign(opened_at=T("2024-01-01"))
    cases["closed_at"] = T("2024-01-06")  # every case finishes on 6 January: xmr by date would refuse duplicates
    cap = measure_cases.case_capability(cases)
    assert cap.result is not None and len(cap.result.points) == 15
    cases = _cases([20, 22] * 10)  # finishing 21 Jan .. 10 Feb
    cap = measure_cases.case_capability(cases, changes=[(T("2024-01-31"), "New team")])
    assert [c["label"] for c in cap.changes] == ["New team"] and len(cap.result.phases) == 2
    assert cap.finished["end"].iloc[cap.changes[0]["position"] - 1] >= T("2024-01-31")


def test_too_few_cases_gives_a_note():
    cap = measure_cases.case_capability(_cases([3, 4, 5]))
    assert cap.result is None and "only 3 finished cases" in cap.note
    assert case_chart(cap) is None


def test_chart_draws_cases_in_completion_order():
    ax = case_chart(measure_cases.case_capability(_cases([10, 12] * 6, open_=("K11",))))
    title = ax.get_title(loc="left")
    assert title.startswith("End-to-end time per case") and "1 still open, not shown" in title
    assert ax.get_xlabel().startswith("finished cases in order of completion (the first on 11 Jan 2024")


def test_testshire_measure_carries_per_case(testshire):
    """Testshire housing repairs: 3 finished cases (R1 10, R2 4, R3 0.5 days) and R4 open: too few for a per-case
    chart, said with the counts in measure.json."""
    data = measure.load(report.Stage(testshire, "housing-repairs", "measure"))
    block = measure.figures(data)["end_to_end_per_case"]
    assert block["n_finished"] == 3 and block["open_cases"] == 1 and block["phases"] == []
    assert "only 3 finished cases" in block["note"]
    # One censoring date per service (endtoend.censor_date): the last date in housing's demand (18 Jan), events
    # (20 Jan 09:00, R4's Inspect) and cases, so R4 (opened 10 Jan) is censored at 10 days, as on flow and the scan.
    # KM: S = 3/4 at 0.5 days, 1/2 at 4, 1/4 at 10 (R1 finishes, R4 censored, 2 at risk): median 4, 85th percentile
    # not reached: more than 10 days.
    assert block["definition"]["median_days"] == 4.0 and block["definition"]["p85_days"] is None
    assert block["definition"]["p85_at_least"] == 10.0
    assert block["definition"]["censored_at"] == "2024-01-20T09:00:00"
