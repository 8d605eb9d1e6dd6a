"""Flow charts draw what flow computed: phases from system changes, cases in completion order, palette fills."""

import numpy as np
import pandas as pd
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from systemic_lib.analysis import flow
from systemic_lib.display.charts import flow as charts
from systemic_lib.display.charts.style import PALETTE, tint

from test_flow import CLOSING as CATALOGUE  # Fix closes a case
from test_flow import small_log

T = pd.Timestamp


def test_end_to_end_chart_labels_each_phase_with_its_system_change():
    rng = np.random.default_rng(0)
    n = 40
    starts = pd.date_range("2024-01-01", periods=n, freq="D")
    log = pd.DataFrame(
        {
            "case_id": np.repeat([f"c{i}" for i in range(n)], 2),
            "service": "s",
            "activity": ["Ask", "Fix"] * n,
            "timestamp": np.ravel(
                [[t, t + pd.Timedelta(days=float(d))] for t, d in zip(starts, rng.integers(1, 9, n))]
            ),
        }
    )
    fl = flow.FlowLog(log, catalogue=CATALOGUE)
    # One change before the data (no phase), one inside it.
    ax = charts.end_to_end_chart(
        fl, phase_starts=[T("2023-06-01"), T("2024-01-25")], phase_labels=["Old change", "New team started"]
    )
    labels = [t.get_text() for t in ax.texts if (t.get_gid() or "").startswith("phase_label")]
    assert len(labels) == 1 and labels[0].startswith("New team started")
    e2e = flow.end_to_end(
        fl, phase_starts=[T("2023-06-01"), T("2024-01-25")], phase_labels=["Old change", "New team started"]
    )
    assert e2e.phase_labels == ["New team started"] and len(e2e.limits.points) == len(e2e.finished) == 40


def test_end_to_end_chart_axis_says_cases_in_completion_order():
    ax = charts.end_to_end_chart(flow.FlowLog(small_log(), catalogue=CATALOGUE))
    assert ax.get_xlabel() == (
        "finished cases in order of completion (the first on 4 Jan 2024, the last on 5 Jan 2024)"
    )


def test_too_few_cases_are_said_on_the_axes_a_chart_was_given():
    one = flow.FlowLog(small_log()[small_log()["case_id"] == "B"])
    ax = charts.end_to_end_chart(one, ax=Figure().add_subplot())
    assert "Too few finished cases for a chart" in [t.get_text() for t in ax.texts]
    none = flow.FlowLog(small_log().iloc[:0])
    assert charts.hands_chart(none, ax=Figure().add_subplot()) is not None  # an Axes asked for is still drawn
    ax = charts.value_waste_chart(none, ax=Figure().add_subplot())
    assert "No steps recorded" in [t.get_text() for t in ax.texts]


def test_value_and_waste_bars_use_the_one_palette():
    ax = charts.value_waste_chart(flow.FlowLog(small_log(), catalogue=CATALOGUE), ax=Figure().add_subplot())
    fills = {bar.get_y(): to_hex(bar.get_facecolor()) for bar in ax.patches}
    # Fewest first: check 1 step (waste), delivery 2, contact 3 (value).
    assert [to_hex(b.get_facecolor()) for b in ax.patches] == [
        tint(PALETTE["waste"]),
        tint(PALETTE["value"]),
        tint(PALETTE["value"]),
    ]
    assert {
        "value": tint(PALETTE["value"]),
        "waste": tint(PALETTE["waste"]),
        "unclassified": tint(PALETTE["unclassified"]),
    } == charts.STEP_FILLS
    assert len(fills) == 3 and [t.get_text() for t in ax.texts] == [" 1", " 2", " 3"]


def test_hands_counts_gather_the_top_two_percent():
    h = flow.hands_counts(flow.FlowLog(small_log(), catalogue=CATALOGUE))
    # A: 2 hand-offs, 3 people; B: 0 and 1. 98th percentiles 1.96 and 2.96 cut at 2, so A's 3 people are "3+".
    assert list(h["label"]) == ["0", "1", "2", "3+"]
    assert list(h["handoffs"]) == [1, 0, 1, 0] and list(h["people"]) == [0, 1, 0, 1]
