"""The learning log and the system conditions on the capability charts (issue 24, item 2): each dated entry is a small
numbered marker with its words in the legend, redacted and never read as maths, and a marker never changes the
limits (a phase does)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd

from systemic_lib.analysis import markers
from systemic_lib.analysis.spc import xmr
from systemic_lib.display.charts.capability import capability_chart

WEEKS = pd.date_range("2024-01-01", periods=30, freq="7D")

LOG = pd.DataFrame(
    {
        "date": pd.to_datetime(["2024-03-06", "2024-02-07", "2024-02-07", "2023-06-01"]),
        "service": ["repairs", "repairs", "planning", "repairs"],
        "what_we_tried": ["Diagnose on the first call; ring Jo on 07700 900123", "Book the trade for $50 jobs", "", ""],
        "what_we_learned": ["", "", "Not ours", "Before the chart"],
    }
)
CONDITIONS = pd.DataFrame(
    {
        "id": ["SC-001", "SC-002"],
        "service": ["repairs", "repairs"],
        "raised_at": pd.to_datetime(["2024-02-07", None]),
        "waste_seen": ["A second visit", "Repeat calls"],
        "system_condition": ["", "IT system: one trade a ticket"],
    }
)


def test_each_dated_entry_is_numbered_by_date_and_redacted():
    found = markers.markers("repairs", learning_log=LOG, conditions=CONDITIONS)
    assert [(m.number, m.date.date().isoformat(), m.source) for m in found] == [
        (1, "2023-06-01", "learning log"),
        (2, "2024-02-07", "learning log"),
        (3, "2024-02-07", "system condition SC-001"),
        (4, "2024-03-06", "learning log"),
    ]
    assert found[0].text == "Tried: Before the chart"  # what was learned, where nothing tried is written
    assert found[2].text == "Condition raised: A second visit"  # the waste seen, where the condition is not written
    assert "07700 900123" not in found[3].text and found[3].text.startswith("Tried: Diagnose on the first call")
    shown = markers.within(found, WEEKS[0], WEEKS[-1] + pd.Timedelta(days=6))
    assert [m.number for m in shown] == [2, 3, 4]  # the numbers stay those of the whole log
    assert markers.sentence(shown).startswith("Marked on the chart: 2, 7 Feb 2024: Tried: Book the trade for $50 jobs;")
    assert markers.sentence(shown).endswith("Markers do not change the limits.")
    assert markers.sentence([]) == "" and markers.within(found, None, None) == []
    long = LOG.assign(what_we_tried=["x" * 200] * 4)
    assert len(markers.markers("repairs", learning_log=long)[0].text) == markers.MAX_WORDS


def _lines(ax) -> dict:
    return {line.get_gid(): np.asarray(line.get_ydata(), dtype=float).tolist() for line in ax.lines if line.get_gid()}


def test_markers_are_drawn_with_a_legend_and_never_change_the_limits():
    rng = np.random.default_rng(4)
    values = np.r_[rng.normal(30, 3, 15), rng.normal(22, 3, 15)]
    result = xmr(values, dates=WEEKS, phase_starts=[WEEKS[15]], improvement="decrease")
    found = markers.within(
        markers.markers("repairs", learning_log=LOG, conditions=CONDITIONS), WEEKS[0], WEEKS[-1] + pd.Timedelta(days=6)
    )
    plain = capability_chart(result)
    marked = capability_chart(result, markers=found)
    assert _lines(marked) == _lines(plain)  # the same centre lines and limits, phase for phase
    assert [g for g in _lines(marked) if g.startswith("phase_boundary")] == ["phase_boundary_1"]
    circles = {t.get_gid(): t for t in marked.texts if (t.get_gid() or "").startswith("marker_")}
    assert {g: t.get_text() for g, t in circles.items()} == {"marker_2": "2", "marker_3": "3", "marker_4": "4"}
    # two entries of one day stand one above the other
    assert circles["marker_3"].xyann[1] > circles["marker_2"].xyann[1]
    legend = marked.get_legend()
    assert legend.get_gid() == "markers_legend"
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[0] == "7 Feb 2024: Tried: Book the trade for $50 jobs" and len(texts) == 3
    assert not any(t.get_parse_math() for t in legend.get_texts())
    marked.figure.canvas.draw()  # "$50 jobs" with one "$" would fail as maths
    assert plain.get_legend() is None


def test_the_legend_sits_under_the_month_labels_and_the_plot_keeps_its_height():
    """Ten entries a week apart (Northshire's health and social care team): after the layout is done, every legend
    line is below every month label, no two circles overlap, and the plot is as tall as without markers (the
    figure grows; an axes fraction fixed before the layout put the legend over the months and squashed the plot)."""
    result = xmr(np.random.default_rng(5).normal(20, 4, 65), dates=pd.date_range("2024-01-01", periods=65, freq="7D"))
    log = pd.DataFrame(
        {
            "date": pd.date_range("2024-07-03", periods=10, freq="7D"),
            "service": "repairs",
            "what_we_tried": [f"A change the team tried, number {i}" for i in range(10)],
            "what_we_learned": "",
        }
    )
    found = markers.markers("repairs", learning_log=log)
    plain, marked = capability_chart(result), capability_chart(result, markers=found)
    heights = []
    for ax in (plain, marked):
        ax.figure.canvas.draw()
        heights.append(ax.get_window_extent().height)
    renderer = marked.figure.canvas.get_renderer()
    lowest_month = min(t.get_window_extent(renderer).y0 for t in marked.get_xticklabels() if t.get_text())
    legend_top = max(t.get_window_extent(renderer).y1 for t in marked.get_legend().get_texts())
    assert legend_top < lowest_month
    assert heights[1] > 0.95 * heights[0]
    circles = [t.get_window_extent(renderer) for t in marked.texts if (t.get_gid() or "").startswith("marker_")]
    assert len(circles) == 10
    assert not any(a.overlaps(b) for i, a in enumerate(circles) for b in circles[i + 1 :])
