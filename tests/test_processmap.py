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
    # Ask and Fix make up 13 + 10 of 27 steps = 85%; Check is a waste step 3 of 11 cases pass through: drawn too
    assert set(nodes["activity"]) == {"Ask", "Fix", "Check"}
    for a in nodes["activity"]:
        assert (edges["to_activity"] == a).any() and (edges["from_activity"] == a).any()
    with pytest.raises(ValueError, match="coverage"):
        processmap.map_elements(log(), coverage=0)


def repairs():
    """Northshire's repairs in small (issue 19: the map kept the busiest 80% of steps and so dropped every waste
    step). 40 cases Log -> Order -> Book -> Visit -> Close (value steps); 6 of them (15%) have a pre-inspection
    (waste) after Log, 3 (7.5%) a contractor hand-off (waste) after Order, 1 (2.5%) a post-inspection (waste) after
    Visit. Value steps are 200 of 210 steps (95%), so coverage 80% alone keeps none of the waste."""
    rows = []
    for i in range(40):
        path = ["Log", *(["Pre-inspect"] if i < 6 else []), "Order", *(["Contractor"] if i < 3 else [])]
        path += ["Book", "Visit", *(["Post-inspect"] if i == 0 else []), "Close"]
        rows += [(f"R{i:02d}", a, T("2024-01-01") + pd.Timedelta(days=i + k)) for k, a in enumerate(path)]
    ev = pd.DataFrame(rows, columns=["case_id", "activity", "timestamp"]).assign(service="s")
    acts = ["Log", "Order", "Book", "Visit", "Close", "Pre-inspect", "Contractor", "Post-inspect"]
    cat = pd.DataFrame(
        {"service": "s", "activity": acts, "step_type": ["value"] * 5 + ["waste"] * 3, "category": "check"}
    )
    return flow.FlowLog(ev, catalogue=cat)


def test_every_waste_step_of_five_percent_of_cases_is_drawn_whatever_the_coverage():
    for coverage in (0.05, 0.5, 0.8):
        view = processmap.map_view(repairs(), coverage=coverage)
        shown = set(view.nodes["activity"])
        assert {"Pre-inspect", "Contractor"} <= shown  # 15% and 7.5% of cases
        assert "Post-inspect" in set(view.hidden["activity"])  # 1 case of 40: fewer than 5%
        text = processmap.map_caption(view)
        assert "Post-inspect (1 case)" in text
        assert "The waste step not drawn is passed through by fewer than 5% of cases" in text


def test_the_arrows_add_up_to_each_box_even_with_steps_hidden():
    """Moves are counted between the steps drawn: a case that passes through a hidden step goes straight on to its
    next drawn step (a dotted arrow), so each box's arrows in and out add up to its steps."""
    view = processmap.map_view(repairs(), coverage=0.8)
    assert view.arrows_add_up and view.moves == view.moves_drawn
    for r in view.nodes.itertuples():
        into = view.edges.loc[view.edges["to_activity"] == r.activity, "count"].sum()
        out = view.edges.loc[view.edges["from_activity"] == r.activity, "count"].sum()
        assert into == out == r.events, r.activity
    via = view.edges[view.edges["via_hidden"] > 0]
    assert via[["from_activity", "to_activity", "via_hidden"]].values.tolist() == [["Visit", "Close", 1]]
    assert "Every box's arrows in and out add up to the box." in processmap.map_caption(view)


def test_a_map_that_leaves_arrows_out_says_how_many_moves_they_carry():
    """Eastbrook planning in small: 100 cases, 60 Receive -> Validate -> Decide, 40 through Request -> Wait and
    back (a rework loop that every case of the 40 takes, 3 of them twice), 1 case Validate -> Close. The loop's
    arrows carry at least 5% of cases, so they are drawn whatever the coverage; the rare arrow is left out and
    counted."""
    rows = []
    for i in range(100):
        path = ["Receive", "Validate"]
        if i < 40:
            path += ["Request", "Wait"] * (2 if i < 3 else 1)
        path += ["Close"] if i == 99 else ["Decide"]
        rows += [(f"P{i:03d}", a, T("2024-01-01") + pd.Timedelta(days=i + k)) for k, a in enumerate(path)]
    ev = pd.DataFrame(rows, columns=["case_id", "activity", "timestamp"]).assign(service="s")
    cat = pd.DataFrame(
        {
            "service": "s",
            "activity": ["Receive", "Validate", "Request", "Wait", "Decide", "Close"],
            "step_type": ["value", "waste", "waste", "waste", "value", "value"],
            "category": "check",
        }
    )
    view = processmap.map_view(flow.FlowLog(ev, catalogue=cat), coverage=0.9, max_activities=None)
    pairs = set(zip(view.edges["from_activity"], view.edges["to_activity"]))
    assert {("Validate", "Request"), ("Request", "Wait"), ("Wait", "Decide")} <= pairs
    assert ("Wait", "Request") not in pairs  # 3 cases of 100
    assert not view.arrows_add_up
    text = processmap.map_caption(view)
    assert f"({view.moves - view.moves_drawn:,} of {view.moves:,} moves" in text
    assert "so a box's arrows can add up to less than the box" in text


def test_flow_json_says_which_steps_the_map_shows_and_hides():
    f = processmap.figures(repairs())
    assert [s["activity"] for s in f["steps_hidden"]] == ["Post-inspect"]
    assert f["steps_hidden"][0] == {"activity": "Post-inspect", "step_type": "waste", "events": 1, "cases": 1}
    assert {"Pre-inspect", "Contractor"} <= {s["activity"] for s in f["steps_shown"]}
    assert set(f["waste_shown_for_share"]) == {"Pre-inspect", "Contractor"}
    assert f["moves"] == f["moves_drawn"]
    assert flow.figures(repairs())["map"]["steps_hidden"] == f["steps_hidden"]
