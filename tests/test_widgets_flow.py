"""Flow widgets driven from Python: the coverage slider redraws the map; the case journey follows the picker."""

import pandas as pd
import pytest

from systemic_lib.analysis import flow
from systemic_lib.display.charts import processmap
from systemic_lib.display.widgets import flow as fw

T = pd.Timestamp


def log():
    rows = []
    for i in range(6):
        path = ["Ask", "Check", "Ask", "Fix"] if i < 2 else ["Ask", "Fix"]
        rows += [(f"C{i}", a, T("2024-01-01") + pd.Timedelta(days=i + 2 * k), f"W{k % 2}") for k, a in enumerate(path)]
    rows.append(("C9", "Rare", T("2024-02-01"), None))
    ev = pd.DataFrame(rows, columns=["case_id", "activity", "timestamp", "worker"]).assign(service="s", team="desk")
    return flow.FlowLog(ev)


def test_explorer_slider_changes_the_map(monkeypatch):
    drawn = []
    monkeypatch.setattr(processmap, "render_png", lambda g, **k: drawn.append(g.source) or b"png")
    e = fw.flow_explorer(log(), coverage=1.0)
    assert len(e.elements()[0]) == 4 and "Rare" in drawn[-1]
    e.coverage.value = 0.5
    assert "Rare" not in drawn[-1] and len(drawn) == 2
    assert "the busiest making up 50% of all steps" in e.caption.value and "Not drawn: " in e.caption.value


def test_explorer_without_dot_says_so(monkeypatch):
    monkeypatch.setattr(processmap.shutil, "which", lambda name: None)
    e = fw.flow_explorer(log())
    assert "not installed" in e.message.value


def test_widgets_take_the_stage_data(testshire, monkeypatch):
    from systemic_lib.display import report

    monkeypatch.setattr(processmap, "render_png", lambda g, **k: b"png")
    data = flow.load(report.Stage(testshire, "housing-repairs", "flow"))
    assert len(fw.flow_explorer(data, coverage=1.0).elements()[0]) == 3  # Log repair, Fix, Inspect
    assert fw.case_journey(data).picker.options[0][1] in {"R1", "R4"}  # the slowest cases first (10 days)


def test_case_journey_follows_the_picker():
    j = fw.case_journey(log())
    assert j.picker.options[0][1] in {"C0", "C1"}  # the slowest cases first (6 days)
    j.picker.value = "C2"
    steps = j.current
    assert list(steps["activity"]) == ["Ask", "Fix"] and list(steps["who"]) == ["W0", "W1"]
    assert steps["wait before (days)"].iloc[1] == 2.0
    with pytest.raises(KeyError):
        fw.journey(log(), "nope")


def test_explorer_fits_the_map_to_the_window_with_the_caption_above(monkeypatch):
    monkeypatch.setattr(processmap, "render_png", lambda g, **k: b"png")
    e = fw.flow_explorer(log())
    assert e.image.layout.max_width == "100%" and e.image.layout.max_height
    assert e.children.index(e.caption) < e.children.index(e.image)  # what the slider changed, without scrolling


def test_case_journey_table_is_readable_and_escaped():
    rows = [("C1", "Ask <b>", T("2024-01-01 09:05"), "W1"), ("C1", "Fix & close", T("2024-01-03 11:00"), "W2")]
    ev = pd.DataFrame(rows, columns=["case_id", "activity", "timestamp", "worker"]).assign(service="s", team="desk")
    j = fw.case_journey(flow.FlowLog(ev))
    table = j.table.value
    assert (
        "1 Jan 2024 09:05" in table and "01 Jan" not in table and "09:05:00" not in table
    )  # dates as a person writes them
    assert "Ask &lt;b&gt;" in table and "Fix &amp; close" in table and "<b>" not in table
    assert "2.1 days" in table  # the wait before the second step


def test_html_table_rounds_like_the_reports():
    import numpy as np

    from systemic_lib.display.widgets._table import html_table

    html = html_table(pd.DataFrame({"mean": [19.335883, np.nan], "n": [1477, 2], "name": ["<x>", None]}))
    assert "19.3<" in html and "19.33" not in html and "1,477" in html and "&lt;x&gt;" in html
    assert "nan" not in html.lower().replace("dataframe", "")


def test_explorer_shows_the_map_before_its_caption(monkeypatch):
    monkeypatch.setattr(processmap, "render_png", lambda g, **k: g.source.encode())
    e = fw.flow_explorer(log(), coverage=1.0)
    order = []
    for name in ("image", "caption"):
        getattr(e, name).observe(lambda change, n=name: order.append(n), names="value")
    e.coverage.value = 0.5
    assert order == ["image", "caption"]
