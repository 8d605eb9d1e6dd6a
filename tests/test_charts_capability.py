"""Capability chart: one call, an Axes out, Making Data Count colours, phases and badges."""

from __future__ import annotations

import matplotlib.axes
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from systemic_lib.analysis.spc import xmr
from systemic_lib.display.charts.capability import PALETTE, capability_chart

BASE = [75, 125] * 6  # mean 100, limits -33 / 233


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _by_gid(ax, gid):
    found = [a for a in ax.get_children() if a.get_gid() == gid]
    assert found, f"no artist {gid!r}"
    return found[0]


def test_returns_axes_and_colours_points_by_meaning():
    # 250 > 233: outside → improvement (higher is better); -50 < -33 → concern
    r = xmr(BASE + [250, 100, -50], baseline_points=12)
    ax = capability_chart(r, title="Visits")
    assert isinstance(ax, matplotlib.axes.Axes)
    colours = _by_gid(ax, "points").get_facecolors()
    assert len(colours) == 15
    assert tuple(colours[12]) == to_rgba(PALETTE["improvement"])
    assert tuple(colours[14]) == to_rgba(PALETTE["concern"])
    assert tuple(colours[0]) == to_rgba(PALETTE["common_cause"])
    assert {k: PALETTE[k] for k in ("improvement", "concern", "neutral", "common_cause")} == {
        "improvement": "#289de0",
        "concern": "#fab428",
        "neutral": "#361475",
        "common_cause": "#a6a6a6",
    }


def test_neutral_points_purple():
    r = xmr(BASE + [250], baseline_points=12, improvement="neutral")
    colours = _by_gid(capability_chart(r), "points").get_facecolors()
    assert tuple(colours[-1]) == to_rgba(PALETTE["neutral"])


def test_phases_boundary_label_and_broken_lines():
    values = [10, 12] * 6 + [20, 21] * 6
    dates = pd.date_range("2024-01-01", periods=24, freq="7D")
    r = xmr(values, dates=dates, phase_starts=["2024-03-25"])
    ax = capability_chart(r, phase_labels=["Experiment team started"])
    boundary = _by_gid(ax, "phase_boundary_1")
    # halfway between 18 March (point 12) and 25 March (point 13)
    expected = mdates.date2num(pd.Timestamp("2024-03-21 12:00"))
    assert mdates.date2num(boundary.get_xdata()[0]) == pytest.approx(expected)
    label = _by_gid(ax, "phase_label_1")
    assert label.get_text().startswith("Experiment team started")
    assert "real" in label.get_text()  # every new point is beyond the old upper limit 16.32
    c0, c1 = _by_gid(ax, "centre_0"), _by_gid(ax, "centre_1")
    assert c0.get_ydata()[0] == 11 and c1.get_ydata()[0] == 20.5
    assert mdates.date2num(c0.get_xdata()[-1]) <= mdates.date2num(c1.get_xdata()[0])  # no line across the boundary
    assert _by_gid(ax, "upper_0").get_linestyle() == "--"
    assert _by_gid(ax, "centre_0").get_linestyle() == "-"
    assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)


def test_badges_trial_note_and_target():
    r = xmr(BASE[:8], target=100)
    ax = capability_chart(r)
    texts = {t.get_gid(): t.get_text() for t in ax.texts}
    assert texts["variation_badge"] == "Latest point: common cause, no signal"
    assert texts["assurance_badge"] == "Hit and miss target"
    assert texts["trial_0"] == "trial limits"
    assert _by_gid(ax, "target").get_ydata()[0] == 100


def test_uses_given_axes_and_date_format():
    fig, ax = plt.subplots()
    r = xmr([1, 2, 3, 2, 1], dates=pd.date_range("2024-01-01", periods=5))
    assert capability_chart(r, ax=ax, date_format="%d %b") is ax
    assert isinstance(ax.xaxis.get_major_formatter(), mdates.DateFormatter)


def test_rejects_frames_not_from_xmr():
    with pytest.raises(ValueError):
        capability_chart(pd.DataFrame({"value": [1, 2]}))


def test_dense_charts_drop_the_joining_line_but_keep_every_point():
    from systemic_lib.display.charts import capability as charts

    rng = np.random.default_rng(1)
    sparse = charts.capability_chart(xmr(rng.normal(10, 1, charts.DENSE)))
    assert [l for l in sparse.get_lines() if l.get_gid() == "series"]
    dense = charts.capability_chart(xmr(rng.normal(10, 1, charts.DENSE + 1)))
    assert not [l for l in dense.get_lines() if l.get_gid() == "series"]
    (points,) = [c for c in dense.collections if c.get_gid() == "points"]
    assert len(points.get_offsets()) == charts.DENSE + 1


def test_a_phase_with_no_points_draws_without_a_trial_note():
    """Issue 23: a partly classified service's weekly failure % has weeks with too few classified contacts (gaps);
    a phase made only of gaps has no centre or limits, and its "trial limits" note was placed at y=None (TypeError:
    float() argument must be ... not 'NoneType', when the chart was drawn)."""
    dates = pd.date_range("2024-01-01", periods=12, freq="W-MON")
    values = [40, 42, 39, 41, 43, 40, 38, np.nan, np.nan, np.nan, np.nan, np.nan]
    result = xmr(values, dates=dates, phase_starts=[dates[7]])
    assert result.phases[1]["mean"] is None and result.phases[1]["trial"]
    ax = capability_chart(result, title="Failure demand %")
    ax.figure.canvas.draw()  # raised before
    assert not [a for a in ax.get_children() if a.get_gid() == "trial_1"] and _by_gid(ax, "trial_0")
