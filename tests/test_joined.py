"""Demand joined to flow (``joined``): the cost of waiting and design against demand, computed by hand on Linkshire
(``joined_council``'s docstring), the same figure from the flow and the demand stage, and flow.json's new keys."""

from __future__ import annotations

import pytest

from systemic_lib.analysis import flow, joined
from systemic_lib.data.stages import Stage

from joined_council import tables


@pytest.fixture
def linkshire(council_factory):
    return council_factory("linkshire", base={}, **tables())


def _flow(folder):
    return flow.load(Stage(folder, "housing-repairs", "flow"))


def test_cost_of_waiting_by_hand(linkshire):
    w = joined.cost_of_waiting(_flow(linkshire).joined)
    assert w.linked_cases == 32 and w.open_cases == 4
    assert w.rate == pytest.approx(0.5) and w.intercept == pytest.approx(0.0, abs=1e-9)
    assert w.failure_contacts == 40 and w.progress_chasing == 40
    assert w.after_closing == 1 and w.unclassified == 1 and w.by_rules == 0
    per = w.per_case.set_index("case_id")
    assert per.loc["K29", "weeks_open"] == pytest.approx(4.0) and per.loc["K29", "open"]
    assert per.loc["K01", "failure_contacts"] == 1 and per.loc["K02", "failure_contacts"] == 1
    assert joined.waiting_sentence(w) == (
        "Each extra week a case stays open brings 0.50 more failure contacts "
        "(32 linked cases, 4 still open, 40 failure contacts while open)."
    )
    notes = " ".join(joined.waiting_notes(w))
    assert "1 failure contact came after the case had closed" in notes
    assert "1 linked contact is not yet classified" in notes and "least-squares" in notes
    assert "All 40 failure contacts while open were progress chasing." in notes


def test_design_against_demand_by_hand(linkshire):
    rows = joined.by_demand_type(_flow(linkshire).joined)
    assert [r["demand_type"] for r in rows] == ["boiler", "roof"]
    boiler, roof = rows
    assert boiler == {
        "demand_type": "boiler",
        "cases": 20,
        "open": 4,
        "finished": 16,
        "median_days": 21.0,
        "at_least": None,
        "most_common_path": "Log repair → Inspect → Fix",
        "clean_flow": "Log repair → Fix",
        "clean_share": 0.375,
    }
    assert roof == {
        "demand_type": "roof",
        "cases": 12,
        "open": 0,
        "finished": 12,
        "median_days": 7.0,
        "at_least": None,
        "most_common_path": "Log repair → Fix",
        "clean_flow": "Log repair → Fix",
        "clean_share": 0.75,
    }


def test_flow_json_gains_the_three_figures(linkshire):
    f = flow.figures(_flow(linkshire))
    assert f["failure_contacts_per_week_open"] == pytest.approx(0.5)
    assert f["linked_cases"] == 32
    assert f["by_demand_type"][1] == {
        "demand_type": "roof",
        "cases": 12,
        "median_days": 7.0,
        "at_least": None,
        "open": 0,
        "clean_flow": "Log repair → Fix",
        "clean_share": 0.75,
    }


def test_the_demand_stage_reads_the_same_cost_of_waiting(linkshire):
    from_demand = joined.cost_of_waiting(joined.load(Stage(linkshire, "housing-repairs", "demand")))
    from_flow = joined.cost_of_waiting(_flow(linkshire).joined)
    assert (from_demand.rate, from_demand.linked_cases, from_demand.failure_contacts) == (
        from_flow.rate,
        from_flow.linked_cases,
        from_flow.failure_contacts,
    )


def test_no_rate_below_30_linked_cases(council_factory):
    folder = council_factory("few", base={}, **tables(29))
    f = flow.figures(_flow(folder))
    assert f["linked_cases"] == 29 and f["failure_contacts_per_week_open"] is None
    assert joined.waiting_sentence(joined.cost_of_waiting(_flow(folder).joined)).startswith(
        "Too little to fit a rate: fewer than 30 cases are linked to contacts (29 linked cases"
    )


def test_cases_demand_type_wins_over_the_first_contact(council_factory):
    t = tables()
    t["cases"] = t["cases"].replace(
        "case_id,service,opened_at,closed_at", "case_id,service,opened_at,closed_at,demand_type"
    )
    lines = t["cases"].splitlines()
    t["cases"] = (
        "\n".join([lines[0]] + [line + (",leak" if line.startswith("K0") else ",") for line in lines[1:]]) + "\n"
    )
    rows = joined.by_demand_type(_flow(council_factory("typed", base={}, **t)).joined)
    assert {r["demand_type"]: r["cases"] for r in rows} == {"boiler": 20, "leak": 9, "roof": 3}


def test_no_links_give_nothing_misleading(council_factory):
    t = tables()
    t["demand"] = "\n".join(line.rsplit(",", 1)[0] + "," for line in t["demand"].splitlines()[1:])
    t["demand"] = (
        "contact_id,service,received_at,channel,verbatim,demand_type,classification,failure_type,case_id\n"
        + t["demand"]
        + "\n"
    )
    f = flow.figures(_flow(council_factory("unlinked", base={}, **t)))
    assert f["linked_cases"] == 0 and f["failure_contacts_per_week_open"] is None and f["by_demand_type"] == []


def test_rules_classified_and_unclassified_failure_contacts_are_named(council_factory):
    """K02's unclassified contact, classified by a rule, counts as failure and the notes say a rule did it."""
    t = tables()
    t["demand"] = t["demand"].replace('"anything",,', '"anything again",,')
    t["rules"] = "column,pattern,classification,failure_type\ndemand_type,anything again,failure,progress chasing\n"
    w = joined.cost_of_waiting(_flow(council_factory("ruled", base={}, **t)).joined)
    assert (w.failure_contacts, w.unclassified, w.by_rules) == (41, 0, 1)
    assert "1 linked failure contact was classified by rules, not by the team." in joined.waiting_notes(w)
