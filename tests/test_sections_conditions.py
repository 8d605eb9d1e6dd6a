"""The system conditions in the stage reports and the organisation scan: nothing without the table, counts and
escaped, redacted rows with it."""

from __future__ import annotations

import pytest

from systemic_lib.data import conditions as sc
from systemic_lib.display import report
from systemic_lib.display.sections import conditions as section


def raise_some(folder):
    sc.add_condition(
        folder,
        service="housing-repairs",
        raised_in="demand",
        raised_at="2024-02-01",
        waste_seen="Chasing <script>alert(1)</script> calls; ring 07700 900123",
        system_condition="Repairs booked by the contact centre",
        thinking="Call handling is cheaper",
        who_can_change="Head of Repairs",
    )
    sc.add_condition(
        folder,
        service="housing-repairs",
        raised_in="demand",
        raised_at="2024-02-02",
        waste_seen="Wrong trade sent",
        status="in hand",
    )
    sc.add_condition(
        folder,
        service="housing-repairs",
        raised_in="flow",
        raised_at="2024-02-03",
        waste_seen="Inspect step",
        status="changed",
    )
    sc.add_condition(
        folder,
        service="council-tax",
        raised_in="demand",
        raised_at="2024-02-04",
        waste_seen="Bills wrong",
        status="parked",
    )
    sc.add_condition(
        folder, service="council-tax", raised_in="capability", raised_at="2024-02-05", waste_seen="Backlog"
    )


def test_a_council_without_the_table_shows_nothing(testshire, shown):
    stage = report.Stage(testshire, "housing-repairs", "demand")
    section.show_conditions(stage, "demand")
    section.show_open_by_service(report.Stage(testshire, None, "organisation_scan"))
    assert shown == []


def test_the_stage_shows_the_conditions_raised_at_its_step(testshire, shown):
    raise_some(testshire)
    section.show_conditions(report.Stage(testshire, "housing-repairs", "demand"), "demand")
    html = "".join(shown)
    assert "2 system conditions raised at the demand step: 1 open, 1 in hand." in html
    assert "&lt;script&gt;" in html and "<script>" not in html  # escaped
    assert "07700" not in html  # redacted on the data path
    assert "Repairs booked by the contact centre" in html and "Wrong trade sent" in html
    assert "Inspect step" not in html and "Bills wrong" not in html  # another step, another service
    assert "1 February 2024" in html and "2024-02-01" not in html  # dates in words, as on every page
    shown.clear()
    section.show_conditions(report.Stage(testshire, "housing-repairs", "experiment"), "experiment")
    assert "No system condition has been raised at the experiment step yet" in "".join(shown)


def test_the_scan_counts_the_open_conditions_by_service(testshire, shown):
    raise_some(testshire)
    section.show_open_by_service(report.Stage(testshire, None, "organisation_scan"))
    html = "".join(shown)
    assert "3 system conditions still to act on across 2 services." in html
    table = shown[2]
    assert table.index("Housing repairs") < table.index("Council tax")  # most to act on first
    assert "<th>Open</th>" in table and "<th>In hand</th>" in table and "<th>All to act on</th>" in table


def test_a_table_with_errors_shows_its_problems(council_factory, shown):
    bad = "id,service,raised_at,raised_in,waste_seen\nSC-001,housing-repairs,2024-02-01,lunch,Chasing\n"
    stage = report.Stage(council_factory(system_conditions=bad), "housing-repairs", "demand")
    section.show_conditions(stage, "demand")
    html = "".join(shown)
    assert "Problems in system_conditions" in html and "cannot read &#x27;lunch&#x27; as one of: demand" in html


@pytest.mark.slow
@pytest.mark.parametrize("notebook, step", [("flow", "flow"), ("organisation_scan", None)])
def test_the_notebooks_show_them_and_their_figures_do_not_change(
    testshire, council_factory, run_stage_notebook, notebook, step
):
    service = None if step is None else "housing-repairs"
    before, html = run_stage_notebook(notebook, council_dir=str(testshire), service=service)
    assert "System conditions" not in html
    raise_some(testshire)
    after, html = run_stage_notebook(notebook, council_dir=str(testshire), service=service)
    assert after == before  # the <stage>.json is the same
    if step == "flow":
        assert "1 system condition raised at the flow step: 1 changed." in html
    else:
        assert "3 system conditions still to act on across 2 services." in html
