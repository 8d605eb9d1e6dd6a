"""Demand joined to flow on the reports: the sections' sentences, table (escaped) and notes; the flow and demand
notebooks rendered with the new sections; a real log with no links says so plainly and gives no figure."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from systemic_lib.analysis import flow, joined
from systemic_lib.cli import main as systemic
from systemic_lib.data.stages import Stage
from systemic_lib.display.sections import joined as sections

from joined_council import tables

NAME = '<script>alert("x")</script> roof'


@pytest.fixture
def linkshire(council_factory):
    return council_factory("linkshire", base={}, **tables(roof=NAME))


def test_sections_show_the_sentence_chart_notes_and_an_escaped_table(linkshire, shown):
    data = flow.load(Stage(linkshire, "housing-repairs", "flow")).joined
    ax = sections.show_cost_of_waiting(data)
    assert (
        ax is not None and "Each extra week a case stays open brings 0.50 more failure contacts (32 linked" in shown[0]
    )
    assert "1 failure contact came after the case had closed" in shown[1]
    ax = sections.show_design_against_demand(data)
    table = shown[2]
    assert "Design against demand: the top 2 value demands and the cases they started (32 cases, 28 finished)" in table
    assert NAME not in table and '&lt;script&gt;alert("x")&lt;/script&gt; roof' in table
    assert "Log repair → Inspect → Fix" in table and "21 days (4 open)" in table and "38%" in table
    assert [t.get_text().replace("\n", " ") for t in ax.get_yticklabels()] == ["boiler", NAME]  # wrapped, never cut


def test_no_links_say_so_plainly(council_factory, shown):
    t = tables()
    head = t["demand"].splitlines()[0]
    t["demand"] = "\n".join([head] + [line.rsplit(",", 1)[0] + "," for line in t["demand"].splitlines()[1:]]) + "\n"
    data = flow.load(Stage(council_factory("unlinked", base={}, **t), "housing-repairs", "flow")).joined
    assert sections.show_cost_of_waiting(data) is None and sections.show_design_against_demand(data) is None
    assert "No contact is linked to a case (demand.case_id is blank)" in shown[0]
    assert "No case is linked to the demand that started it" in shown[1] and len(shown) == 2


@pytest.mark.slow
def test_flow_and_demand_reports_show_the_new_sections(linkshire, run_stage_notebook):
    figures, html = run_stage_notebook("flow", council_dir=str(linkshire), service="housing-repairs")
    assert figures["failure_contacts_per_week_open"] == 0.5 and figures["linked_cases"] == 32
    assert [r["demand_type"] for r in figures["by_demand_type"]] == ["boiler", NAME]
    assert "Design against demand: the top 2 value demands" in html  # outputs only: the headings are markdown
    assert "Each extra week a case stays open brings 0.50 more failure contacts" in html
    assert NAME not in html and "&lt;script&gt;" in html
    _, html = run_stage_notebook("demand", council_dir=str(linkshire), service="housing-repairs")
    assert "Each extra week a case stays open brings 0.50 more" in html and "1 failure contact came after" in html


@pytest.mark.slow
def test_a_real_log_with_no_links_says_so(real_data, tmp_path, run_stage_notebook):
    """The WABO receipt log has cases and steps but no contacts: nothing to join, and the report says so."""
    council = tmp_path / "wabo"
    res = CliRunner().invoke(
        systemic,
        [
            "import",
            "events",
            str(real_data / "wabo-receipt/receipt.xes.gz"),
            "--council",
            str(council),
            "--mapping",
            "wabo_receipt",
        ],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    stage = Stage(council, None, "flow")
    service = next(iter(stage.council.spec.services)).id
    figures, html = run_stage_notebook("flow", council_dir=str(council), service=service)
    assert figures["cases"] > 1000
    assert figures["linked_cases"] == 0 and figures["failure_contacts_per_week_open"] is None
    assert figures["by_demand_type"] == []
    assert "No contact is linked to a case (demand.case_id is blank)" in html
    assert "No case is linked to the demand that started it" in html
    assert "Each extra week" not in html
    assert joined.figures(joined.load(Stage(council, service, "demand")))["linked_cases"] == 0
