"""Capability chart: one call, an Axes out, Making Data Count colours, phases and badges; quick_chart files."""

from __future__ import annotations

import json

import matplotlib.axes
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from systemic_lib.charts.capability import PALETTE, capability_chart, quick_chart
from systemic_lib.spc import SpcInputError, xmr

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
        "improvement": "#289de0", "concern": "#fab428", "neutral": "#361475", "common_cause": "#a6a6a6"}


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
    assert texts["variation_badge"] == "No significant change (common cause)"
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


# ---------------------------------------------------------------------------------------------- quick_chart
@pytest.fixture
def csv_file(tmp_path):
    values = [29, 33] * 6 + [10.5, 13.5] * 6
    frame = pd.DataFrame({"week": pd.date_range("2018-10-15", periods=24, freq="7D").strftime("%Y-%m-%d"),
                          "days": values, "team": "a"})
    path = tmp_path / "cases.csv"
    frame.to_csv(path, index=False)
    return path


def test_quick_chart_writes_png_beside_csv(csv_file):
    out = quick_chart(csv_file, value="days", date="week", phases=["2019-01-07"], improvement="decrease")
    assert out["chart"] == str(csv_file.with_name("cases_days.png"))
    assert csv_file.with_name("cases_days.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Since the change on 7 January 2019" in out["narration"]
    assert "real improvement, not noise" in out["narration"]
    json.dumps(out)
    assert out["phases"][1]["start"] == "2019-01-07" and out["phases"][1]["mean"] == 12
    # all 12 new points sit below the old mean of 31: a real change, in the better direction
    assert [p["change_vs_previous_phase"] for p in out["phases"]] == [None, "improvement"]


def test_quick_chart_svg_and_signals(tmp_path):
    path = tmp_path / "visits.csv"
    pd.DataFrame({"n": BASE + [250]}).to_csv(path, index=False)
    out = quick_chart(path, value="n", out=tmp_path / "sub" / "v.svg", improvement="increase")
    assert (tmp_path / "sub" / "v.svg").read_text().lstrip().startswith("<?xml")
    # mean (1200 + 250) / 13 = 111.54; MR-bar (11 × 50 + 125) / 12 = 56.25 → upper 111.54 + 149.63 = 261.2:
    # 250 is inside, so no outside-limits signal; nothing else either
    assert out["signals"] == []
    assert out["variation"] == "common_cause"


def test_quick_chart_clear_errors(csv_file, tmp_path):
    with pytest.raises(SpcInputError, match="no column 'hours'.*week, days, team"):
        quick_chart(csv_file, value="hours")
    with pytest.raises(SpcInputError, match="'team' .* not numeric: 'a' on line 2"):
        quick_chart(csv_file, value="team")
    with pytest.raises(SpcInputError, match=".png or .svg"):
        quick_chart(csv_file, value="days", out=tmp_path / "x.pdf")
    with pytest.raises(SpcInputError, match="2030-01-01 is outside the data"):
        quick_chart(csv_file, value="days", date="week", phases=["2030-01-01"])
    bad = tmp_path / "bad.csv"
    bad.write_text("when,v\n2024-01-01,1\nnot a date,2\n")
    with pytest.raises(SpcInputError, match="'not a date' on line 3"):
        quick_chart(bad, value="v", date="when")


def test_chart_command(csv_file, tmp_path):
    from click.testing import CliRunner

    from systemic_lib.charts import chart_command

    out = tmp_path / "c.svg"
    res = CliRunner().invoke(chart_command, [str(csv_file), "--value", "days", "--date", "week", "--phase",
                                             "2019-01-07", "--label", "the new team started", "--improvement",
                                             "decrease", "--out", str(out), "--unit", "days"])
    assert res.exit_code == 0, res.output
    assert out.exists()
    assert "Since the new team started on 7 January 2019" in res.output and '"signals"' in res.output
    bad = CliRunner().invoke(chart_command, [str(csv_file), "--value", "nope"])
    assert bad.exit_code == 1 and "no column 'nope'" in bad.output and "Traceback" not in bad.output
    js = CliRunner().invoke(chart_command, [str(csv_file), "--value", "days", "--json", "--out", str(out)])
    assert json.loads(js.output)["chart"] == str(out)


def test_dense_charts_drop_the_joining_line_but_keep_every_point():
    from systemic_lib.charts import capability as charts

    rng = np.random.default_rng(1)
    sparse = charts.capability_chart(xmr(rng.normal(10, 1, charts.DENSE)))
    assert [l for l in sparse.get_lines() if l.get_gid() == "series"]
    dense = charts.capability_chart(xmr(rng.normal(10, 1, charts.DENSE + 1)))
    assert not [l for l in dense.get_lines() if l.get_gid() == "series"]
    (points,) = [c for c in dense.collections if c.get_gid() == "points"]
    assert len(points.get_offsets()) == charts.DENSE + 1
