"""What a process map keeps: the coverage filter keeps the busiest steps and paths, and every kept step connected."""

import pandas as pd
import pytest

from systemic_lib.analysis import flow, processmap

T = pd.Timestamp


def log():
    rows = []
    for i in range(10):  # 10 cases: Ask -> Fix; 3 of them go through Check and back to Ask first
        path = ["Ask", "Check", "Ask", "Fix"] if i < 3 else ["Ask", "Fix"]
        rows += [(f"C{i}", a, T("2024-01-01") + pd.Timedelta(days=i + k)) for k, a in enumerate(path)]
    rows.append(("C99", "Rare", T("2024-02-01")))
    ev = pd.DataFrame(rows, columns=["case_id", "activity", "timestamp"]).assign(service="s")
    cat = pd.DataFrame(
        {
            "service": "s",
            "activity": ["Ask", "Check", "Fix"],
            "step_type": ["value", "waste", "value"],
            "category": ["contact", "check", "delivery"],
        }
    )
    return flow.FlowLog(ev, catalogue=cat)


def test_full_coverage_keeps_everything_and_terminal_arrows():
    nodes, edges = processmap.map_elements(log(), coverage=1.0)
    assert set(nodes["activity"]) == {"Ask", "Fix", "Check", "Rare"}
    pairs = {(a, b): c for a, b, c in edges[["from_activity", "to_activity", "count"]].itertuples(index=False)}
    assert pairs[("Ask", "Fix")] == 10 and pairs[("Ask", "Check")] == 3 and pairs[("Check", "Ask")] == 3
    assert pairs[(processmap.START, "Ask")] == 10 and pairs[("Fix", processmap.END)] == 10
    assert pairs[(processmap.START, "Rare")] == 1


def test_lower_coverage_drops_rare_steps_but_keeps_kept_steps_connected():
    nodes, edges = processmap.map_elements(log(), coverage=0.8)
    assert "Rare" not in set(nodes["activity"])  # 1 of 27 steps
    assert set(nodes["activity"]) == {"Ask", "Fix"}  # 13 + 10 of 27 steps = 85%
    for a in nodes["activity"]:
        assert (edges["to_activity"] == a).any() and (edges["from_activity"] == a).any()
    with pytest.raises(ValueError, match="coverage"):
        processmap.map_elements(log(), coverage=0)
