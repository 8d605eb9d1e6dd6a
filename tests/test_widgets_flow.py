"""Flow widgets driven from Python: the coverage slider redraws the map; the case journey follows the picker."""

import pandas as pd
import pytest

from systemic_lib import flow, processmap
from systemic_lib.widgets import flow as fw

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
    assert "most frequent" in e.caption.value


def test_explorer_without_dot_says_so(monkeypatch):
    monkeypatch.setattr(processmap.shutil, "which", lambda name: None)
    e = fw.flow_explorer(log())
    assert "not installed" in e.message.value


def test_case_journey_follows_the_picker():
    j = fw.case_journey(log())
    assert j.picker.options[0][1] in {"C0", "C1"}  # the slowest cases first (6 days)
    j.picker.value = "C2"
    steps = j.current
    assert list(steps["activity"]) == ["Ask", "Fix"] and list(steps["who"]) == ["W0", "W1"]
    assert steps["wait before (days)"].iloc[1] == 2.0
    with pytest.raises(KeyError):
        fw.journey(log(), "nope")
