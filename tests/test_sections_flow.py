"""The flow report's sections: notes instead of empty charts, unusable tables shown, the map or a plain note."""

import pandas as pd

from systemic_lib.analysis import flow
from systemic_lib.display import report
from systemic_lib.display.charts import flow as flow_charts
from systemic_lib.display.charts import processmap as map_chart
from systemic_lib.display.sections import flow as sections

from test_flow import CLOSING, small_log
from test_processmap import log as map_log


def test_no_events_gives_plain_notes_not_empty_charts(shown):
    """Boston 311 has contacts but no events: its flow report must not draw three empty axes."""
    none = flow.FlowLog(small_log().iloc[:0])
    for section in (sections.show_end_to_end, sections.show_value_waste, sections.show_hands):
        assert section(none) is None
    assert [s.count("No events recorded, so there is no chart of") for s in shown] == [1, 1, 1]
    one = flow.FlowLog(small_log()[small_log()["case_id"] == "B"], catalogue=CLOSING)
    assert sections.show_end_to_end(one) is None and "Only 1 case has finished" in shown[-1]
    unended = flow.FlowLog(small_log()[small_log()["case_id"] == "B"])  # nothing says B ended: it is open
    assert sections.show_end_to_end(unended) is None and "No case has finished (1 case still open)" in shown[-1]


def test_testshire_flow_sections(testshire, shown):
    stage = report.Stage(testshire, "housing-repairs", "flow")
    data = flow.load(stage)
    sections.show_summary(data)  # the headline opens the page ("What we found"), not this section
    assert "Cases took a median" not in shown[0] and "Counting the 1 open case as still waiting" in shown[0]
    assert (
        "(Kaplan–Meier; 4 cases, 3 finished): half take 4.0 days or less; more than 15% take longer than 10 days."
        in shown[0]
    )
    assert "4 of 4 cases start when the case was opened (cases.csv)" in shown[0]
    assert "3 cases closed on their recorded closing date; 1 case is still open" in shown[0]
    ax = sections.show_end_to_end(data)
    assert ax.get_title(loc="left").endswith("(3 cases)")
    sections.show_paths(data)
    assert "Most common paths" in shown[-2] and "Log repair → Fix" in shown[-2]
    sections.show_checks(data)
    assert "Checks on 9 events as recorded" in shown[-2] and "open cases (no end yet): kept" in shown[-1]


def test_a_table_with_errors_is_shown_by_the_section_not_by_load(council_factory, shown):
    bad = "service,activity,step_type,category\nhousing-repairs,Log repair,maybe,contact\n"
    stage = report.Stage(council_factory(activities=bad), "housing-repairs", "flow")
    data = flow.load(stage)
    assert shown == []  # load displays nothing
    assert list(data.table_errors) == ["activities"] and data.catalogue is None and data.log.problems.no_catalogue
    assert data.all_problems()[0].file == "activities.csv"
    sections.show_summary(data)
    assert "activities.csv has errors, so it is not used until they are fixed" in shown[0]


def test_missing_dot_is_said_plainly(monkeypatch, shown):
    monkeypatch.setattr(map_chart.shutil, "which", lambda name: None)
    assert sections.show_process_map(map_log()) is False
    out = " ".join(shown)
    assert "Graphviz" in out and "not installed" in out


def test_map_caption_says_the_period(monkeypatch, shown):
    monkeypatch.setattr(map_chart, "dot_available", lambda: True)
    monkeypatch.setattr(map_chart, "render_png", lambda graph, **k: b"png")
    assert sections.show_process_map(map_log(), coverage=1.0) is True
    assert "Process map, 1 January 2024 to 1 February 2024 (11 cases with steps recorded, 27 steps)" in shown[-1]
    assert pd.notna(flow.period(map_log())[0])


def test_flow_notebook_on_testshire(testshire, run_stage_notebook):
    """The notebook as the batch runs it: Testshire's hand-computed figures in flow.json, and the page's words."""
    figures, page = run_stage_notebook("flow", council_dir=str(testshire), service="housing-repairs")
    assert (figures["cases"], figures["events"], figures["open_cases"]) == (4, 9, 1)
    # Kaplan–Meier with R4 censored at 10 days (its age on 20 Jan): S = 3/4, 1/2, 1/4 at 0.5, 4, 10 days, so
    # the median is 4 days and the 85th percentile is not reached: "more than 10 days" (it was 8.2 on the 3
    # finished cases alone, which left R4 out).
    assert figures["median_days"] == 4.0 and figures["p85_days"] is None and figures["p85_at_least"] == 10.0
    assert figures["end_to_end"]["start_from"] == {"contact": 0, "opened": 4, "first step": 0}
    assert figures["end_to_end"]["open_cases"] == 1 and figures["mean_days"] is None
    assert figures["mean_handoffs"] == 1.0 and figures["mean_people"] == 1.75
    assert figures["period"] == {"start": "2024-01-01", "end": "2024-01-20"}
    assert "End to end, half take 4.0 days or less and more than 15% take longer than 10 days" in page
    assert page.index("What we found") < page.index("End-to-end days per case") and "Questions for the team" in page
    assert "Checks on 9 events as recorded" in page


def test_the_flow_sections_run_on_what_load_returned(testshire, shown, monkeypatch):
    monkeypatch.setattr(map_chart, "render_png", lambda graph, **k: b"png")
    stage = report.Stage(testshire, "housing-repairs", "flow")
    log = flow.load(stage)
    report.headline(flow.headline(log, service_name=stage.service.name))
    assert "Cases took a median 4.0 days" in shown[-1] and log.log.n_cases == 4 and log.log.n_variants == 3
    assert flow_charts.end_to_end_chart(log, **flow.phases(stage)) is not None
    assert flow_charts.value_waste_chart(log) is not None and flow_charts.hands_chart(log) is not None
    sections.show_process_map(log, coverage=0.8, period=flow.period_words(log))
    assert flow.top_paths(log)["cases"].sum() == 4 and len(flow.clean_flow_table(log))
    assert log.problems.table()["count"].sum() == 1 and log.problems.events_in == 9  # one open case
    assert flow.figures(log) == flow.figures(log.log) and flow.period(log)[0] == pd.Timestamp("2024-01-01 09:00")
