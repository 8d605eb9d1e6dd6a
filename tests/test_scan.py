"""The organisation scan on a small hand-computed council: demand, end-to-end times, hand-offs, capability, where to
start, a service with no data, the JSON the index pages read, and the notebook."""

import json
import math
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from systemic_lib.analysis import flow, scan
from systemic_lib.data.council import load_council
from systemic_lib.display import report
from systemic_lib.display.charts.scan import demand_chart, end_to_end_chart
from systemic_lib.display.sections.scan import show_table

from conftest import TESTSHIRE, TESTSHIRE_SERVICES

# Testshire (conftest): housing repairs 10 dated contacts + 1 undated; value 4, failure 4 ("when will repair be done"
# 3, "repair not right" 1), unclassified 2 (C06 blank, C09 'weird'). Council tax: 1 failure. parking: not in
# council.yaml. Flow, housing repairs, first to last step: R1 10 days (W1 -> W2 -> W1: 2 hand-offs, 2 people); R2 4
# days (W1 -> W3: 1, 2); R3 0.5 days (W1 -> W1: 0, 1); R4 open in cases.csv (W1 -> W2: 1, 2), left out of end-to-end
# times but counted per case. Kaplan–Meier with R4 censored at its service's one censoring date (housing's last date,
# 20 Jan 09:00, R4's Inspect: 10 days; not the council's, T1's 1 Feb, which gave 22): S = 3/4, 1/2, 1/4 at 0.5, 4, 10
# days, so the median is 4 and the 85th percentile is not reached: "more than 10 days" (on the 3 closed cases alone
# it was 4 + 0.7 x 6 = 8.2, which left the open R4 out). Hand-offs
# (2+1+0+1)/4 = 1.0, people (2+2+1+2)/4 = 1.75. Council tax: T1 30 days (W5 -> W6: 1 hand-off, 2 people). Waste: no
# events at all.
SERVICES = TESTSHIRE_SERVICES


@pytest.fixture
def council(testshire):
    return load_council(testshire)


@pytest.fixture
def data(council):
    return scan.load(report.Stage(council.path, None, "organisation_scan"))


@pytest.fixture
def table(data):
    return data.table


# ------------------------------------------------------------------------------------------------ demand side
def test_demand_side_by_side(council):
    side = scan.demand_side(council.table("demand"), services=SERVICES)
    assert side["service"].tolist() == ["housing-repairs", "council-tax", "waste", "parking"]
    hr = side.iloc[0]
    assert (hr["contacts"], hr["value"], hr["failure"], hr["unclassified"]) == (10, 4, 4, 2)
    assert hr["failure_pct"] == pytest.approx(50)
    assert hr["top_failure_demands"] == ["when will repair be done", "repair not right"]
    assert hr["top_failure_counts"] == [3, 1]
    assert side.iloc[1]["failure_pct"] == pytest.approx(100)
    assert side.iloc[2]["contacts"] == 0 and math.isnan(side.iloc[2]["failure_pct"])  # waste: no contacts yet
    assert side.iloc[3]["service_name"] == "parking (not in council.yaml)"
    assert side["contacts"].sum() == 12  # every contact, the undated one and the unknown service's included


def test_demand_side_top_keeps_the_largest_failure_demands(council):
    side = scan.demand_side(council.table("demand"), services=SERVICES, top=1)
    assert side.iloc[0]["top_failure_demands"] == ["when will repair be done"]


# ------------------------------------------------------------------------------------------------ flow side
def test_flow_side_hand_computed(council):
    side = scan.flow_side(
        council.table("events"), services=SERVICES, catalogue=council.table("activities"), cases=council.table("cases")
    )
    hr, ct, waste = side.loc["housing-repairs"], side.loc["council-tax"], side.loc["waste"]
    assert (hr["cases"], hr["closed_cases"]) == (4, 3)  # R4 is open: counted, left out of the times
    assert hr["median_days"] == pytest.approx(4.0)
    assert np.isnan(hr["p85_days"]) and hr["p85_at_least"] == pytest.approx(10.0) and hr["open_cases"] == 1
    assert hr["mean_handoffs"] == pytest.approx(1.0)
    assert hr["mean_people"] == pytest.approx(1.75)
    assert (ct["cases"], ct["median_days"], ct["p85_days"], ct["mean_handoffs"]) == (1, 30.0, 30.0, 1.0)
    assert waste.isna().all()  # no events: nothing made up


def test_flow_side_agrees_with_the_flow_report(council):
    """The scan's figures are the flow report's for the same service (same FlowLog rules)."""
    side = scan.flow_side(
        council.table("events"), services=SERVICES, catalogue=council.table("activities"), cases=council.table("cases")
    )
    one = flow.figures(
        flow.FlowLog(
            council.table("events", service="housing-repairs"),
            catalogue=council.table("activities"),
            cases=council.table("cases", service="housing-repairs"),  # as flow.load reads them
        )
    )
    for key in ("median_days", "p85_days", "mean_handoffs", "mean_people", "cases", "open_cases"):
        expected = np.nan if one[key] is None else one[key]  # not reached: None in JSON, NaN in the table
        assert side.loc["housing-repairs", key] == pytest.approx(expected, nan_ok=True)


def test_flow_side_with_no_events_is_all_missing():
    side = scan.flow_side(None, services=SERVICES)
    assert list(side.index) == list(SERVICES) and side.isna().all().all()


def test_end_to_end_from_a_cases_export_alone(council_factory):
    """No events, only cases.csv (a case-management export): K1-K3 closed after 2, 4 and 6 days, K4 opened 4 Jan
    and open, censored at the service's last date (9 Jan): 5 days. Kaplan-Meier: S = 3/4 at 2, 1/2 at 4 (K4 leaves
    the risk set at 5), 0 at 6: median 4, 85th percentile 6. Hand-offs and people: not recorded, so missing."""
    cases = (
        "case_id,service,opened_at,closed_at\n"
        "K1,housing-repairs,2024-01-01 09:00,2024-01-03 09:00\nK2,housing-repairs,2024-01-02 09:00,2024-01-06 09:00\n"
        "K3,housing-repairs,2024-01-03 09:00,2024-01-09 09:00\nK4,housing-repairs,2024-01-04 09:00,\n"
    )
    path = council_factory("casesonly", cases=cases, events=None, demand=None)
    data = scan.load(report.Stage(path, None, "organisation_scan"))
    hr = data.table.set_index("service").loc["housing-repairs"]
    assert (hr["cases"], hr["closed_cases"], hr["open_cases"]) == (4, 3, 1)
    assert (hr["median_days"], hr["p85_days"]) == (4.0, 6.0)
    assert pd.isna(hr["mean_handoffs"]) and pd.isna(hr["mean_people"])
    assert data.end_to_end is not None and data.end_to_end.n_open == 1


# ------------------------------------------------------------------------------------------------ capability
def _weekly(values, start="2024-01-01"):
    return pd.DataFrame(
        {
            "date": pd.date_range(start, periods=len(values), freq="7D"),
            "value": np.asarray(values, dtype=float),
            "n": 10,
        }
    )


def test_capability_is_the_latest_phase_mean_and_limits():
    # 14 weeks alternating 10, 12: mean 11, every moving range 2, limits 11 +/- 2.66 x 2 = 5.68 and 16.32
    cap = scan.capability(_weekly([10, 12] * 7), measure_id="end_to_end_days")
    assert cap["mean"] == pytest.approx(11) and cap["lower"] == pytest.approx(5.68)
    assert cap["upper"] == pytest.approx(16.32)
    assert (cap["weeks"], cap["trial"], cap["stable"], cap["phase"], cap["since"]) == (14, False, True, 0, "2024-01-01")
    assert scan.capability_words(cap, "days") == "predictably 5.7\u201316 days (mean 11)"


def test_capability_starts_a_phase_at_a_system_change_and_says_since():
    # 6 weeks around 30, then a change on 12 Feb 2024 (week 7) and 8 weeks alternating 40, 50: mean 45,
    # moving range 10, limits 45 +/- 26.6; only 8 points behind them, so provisional (trial)
    values = [30, 32, 30, 32, 30, 32] + [40, 50] * 4
    cap = scan.capability(
        _weekly(values), measure_id="failure_demand_pct", changes=[(pd.Timestamp("2024-02-12"), "New team")]
    )
    assert (cap["mean"], cap["lower"], cap["upper"]) == (45.0, 18.4, 71.6)
    assert (cap["since"], cap["phase"], cap["label"], cap["weeks"], cap["trial"]) == (
        "2024-02-12",
        1,
        "New team",
        8,
        True,
    )
    assert scan.capability_words(cap, "%") == "18\u201372% (mean 45) since 12 Feb 2024; provisional, 8 weeks"


def test_capability_with_special_causes_is_not_called_predictable():
    cap = scan.capability(_weekly([10, 12] * 7 + [60]), measure_id="end_to_end_days")
    assert cap["stable"] is False
    assert scan.capability_words(cap, "days").endswith("; not yet predictable")
    assert not scan.capability_words(cap, "days").startswith("predictably")


def test_capability_with_too_few_weeks_has_a_note_not_an_error():
    cap = scan.capability(_weekly([10.0, np.nan, np.nan]), measure_id="end_to_end_days")
    assert cap["mean"] is None and cap["weeks"] == 1
    assert cap["note"] == "only 1 week with enough data (a capability chart needs at least 2)"
    assert scan.capability_words(cap, "days") == scan.DASH
    empty = scan.capability(_weekly([]), measure_id="failure_demand_pct")
    assert empty["weeks"] == 0 and empty["note"]


# ------------------------------------------------------------------------------------------------ the whole scan
def test_scan_of_the_council(table):
    assert table["service"].tolist() == ["housing-repairs", "council-tax", "waste", "parking"]
    hr = table.set_index("service").loc["housing-repairs"]
    assert (hr["contacts"], hr["failure"], hr["cases"], hr["median_days"]) == (10, 4, 4, 4.0)
    # End-to-end capability is per case (measure_cases, as measure.json's end_to_end_per_case): 3 finished cases (R1,
    # R2, R3; R4 is open), fewer than the 10 a per-case chart needs
    cap = hr["end_to_end_capability"]
    assert cap["mean"] is None and cap["grain"] == "case" and cap["weeks"] == 3
    assert cap["note"] == "only 3 finished cases in the period (a per-case chart needs at least 10)"
    assert (
        "No capability chart of end-to-end time yet: only 3 finished cases in the period (a per-case chart "
        "needs at least 10)." in hr["notes"]
    )


def test_where_to_start_names_no_service_too_small_to_judge(data, table):
    """Testshire's services have at most 8 classified contacts and 4 cases: below MIN_CLASSIFIED (30) and MIN_CASES
    (30). The old score named council tax on 1 failure contact and 1 case; now no service is named, each is listed
    with why, and parking (not in council.yaml) as well. (Where to start on real sizes: tests/test_start.py.)"""
    point = scan.starting_point(data)
    assert point.services == [] and not point.close_call
    assert point.sentence.startswith("No service can be named yet: none has 30 classified contacts")
    kinds = {e["service"]: e["kind"] for e in point.excluded}
    assert kinds == {
        "housing-repairs": "too small",
        "council-tax": "too small",
        "waste": "too small",
        "parking": "unknown",
    }
    assert scan.start_with(table) is None and scan.where_to_start(table) == point.sentence


def test_where_to_start_with_nothing_recorded(council):
    services = {"housing-repairs": "Housing repairs", "council-tax": "Council tax"}
    nothing = scan.organisation_scan(council.table("demand").iloc[:0], services=services)
    assert scan.where_to_start(nothing).startswith("No contacts or end-to-end times are recorded for any service")
    assert scan.start_with(nothing) is None


def test_service_with_no_events_or_demand_shows_dash_and_a_note(table):
    waste = table.set_index("service").loc["waste"]
    assert waste["notes"] == [
        "No contacts recorded: add demand.csv rows for this service to see its failure demand.",
        "No events recorded: add events.csv to see end-to-end times, hand-offs and people per case.",
    ]
    flow_rows = scan.flow_rows(table).set_index("Service").loc["Waste collection"]
    assert set(flow_rows) == {scan.DASH}
    demand_rows = scan.demand_rows(table).set_index("Service").loc["Waste collection"]
    assert set(demand_rows) == {scan.DASH}
    assert (
        "Waste collection: No events recorded: add events.csv to see end-to-end times, hand-offs and people "
        "per case." in scan.notes(table)
    )
    parking = table.set_index("service").loc["parking"]
    assert parking["notes"][0].startswith("Not a service in council.yaml")
    assert "parking (not in council.yaml)" not in scan.flow_rows(table)["Service"].tolist()


def test_flow_table_in_words(table):
    rows = scan.flow_rows(table).set_index("Service")
    assert rows.loc["Housing repairs"].tolist() == ["4", "4.0", "more than 10", "1", "1.0 / 1.8", scan.DASH, scan.DASH]
    assert rows.loc["Council tax"].tolist()[:5] == ["1", "30", "30", "0", "1.0 / 2.0"]
    demand_rows = scan.demand_rows(table).set_index("Service")
    assert demand_rows.loc["Housing repairs"].tolist() == [
        "10",
        "4 (50%)",
        "2",
        "when will repair be done (3); repair not right (1)",
    ]


def test_figures_keep_the_old_keys_and_add_the_new(data, table):
    whole = scan.figures(data)  # what organisation_scan.json holds besides the meta
    assert list(whole) == ["contacts", "classified_by_rules", "where_to_start", "start_with", "services"]
    assert (whole["contacts"], whole["start_with"], whole["classified_by_rules"]) == (12, None, 0)
    assert list(whole["where_to_start"]) == ["services", "close_call", "excluded", "sentence", "rule"]
    assert whole["where_to_start"]["sentence"] == scan.where_to_start(data) == scan.headline(data)
    figs = whole["services"]
    text = json.dumps(figs, allow_nan=False)  # no NaN reaches organisation_scan.json
    assert json.loads(text) == figs
    hr = figs[0]
    assert {
        k: hr[k]
        for k in (
            "service",
            "service_name",
            "contacts",
            "value",
            "failure",
            "unclassified",
            "failure_pct",
            "top_failure_demands",
        )
    } == {
        "service": "housing-repairs",
        "service_name": "Housing repairs",
        "contacts": 10,
        "value": 4,
        "failure": 4,
        "unclassified": 2,
        "failure_pct": 50.0,
        "top_failure_demands": ["when will repair be done", "repair not right"],
    }
    assert hr["classified_by_rules"] == 0  # Testshire has no rules.csv
    assert (
        hr["cases"],
        hr["closed_cases"],
        hr["median_days"],
        hr["p85_days"],
        hr["mean_handoffs"],
        hr["mean_people"],
    ) == (4, 3, 4.0, None, 1.0, 1.8)
    assert (hr["open_cases"], hr["p85_at_least"], hr["median_at_least"]) == (1, 10.0, None)
    assert hr["end_to_end_capability"] is None and hr["failure_capability"] is None
    waste = figs[2]
    assert (waste["contacts"], waste["failure_pct"], waste["cases"], waste["median_days"]) == (0, None, None, None)
    assert len(waste["notes"]) == 2


def test_figures_carry_capability_in_words(council):
    caps = {
        "housing-repairs": {"end_to_end_days": scan.capability(_weekly([10, 12] * 7), measure_id="end_to_end_days")}
    }
    table = scan.organisation_scan(council.table("demand"), services=SERVICES, capabilities=caps)
    cap = scan.service_figures(table)[0]["end_to_end_capability"]
    assert cap["words"] == "predictably 5.7\u201316 days (mean 11)"
    assert (cap["lower"], cap["upper"], cap["stable"]) == (5.68, 16.32, True)


def test_broken_events_are_left_out_with_their_problem_never_raised(council_factory):
    folder = council_factory(events=TESTSHIRE["events.csv"] + "R9,housing-repairs,Fix,not a date,W1,Desk\n")
    stage = report.Stage(folder, None, "organisation_scan")
    data = scan.load(stage)
    table = data.table
    assert table["cases"].isna().all()  # events unusable until fixed
    assert table.set_index("service").loc["housing-repairs", "contacts"] == 10  # demand still shown
    problems = scan.problems(stage, data)
    assert any(p.file == "events.csv" and p.column == "timestamp" for p in problems)


def test_period_and_captions(data):
    assert scan.period(data) == (pd.Timestamp("2024-01-01 09:00"), pd.Timestamp("2024-02-01 09:00"))
    assert scan.period_caption(data) == "1 Jan 2024 to 1 Feb 2024"  # contacts to 18 Jan, events to 1 Feb
    assert (
        scan.caption(data, "Demand by service") == "Demand by service, 1 Jan 2024 to 1 Feb 2024 (3 services, "
        "12 contacts)"
    )


def test_charts_say_period_and_count(data, table):
    ax = demand_chart(data, ax=Figure().add_subplot(), period_text=scan.period_caption(data))
    assert ax.get_title() == "Demand by service, 1 Jan 2024 to 1 Feb 2024 (12 contacts)"
    ax = end_to_end_chart(table, ax=Figure().add_subplot())
    assert ax.get_title() == "End-to-end days by service (5 cases, 1 still open)"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Housing repairs", "Council tax", "Waste collection"]
    # issue 19: the bars are Kaplan–Meier from the citizen's first contact, open cases counted, never "first to last
    # step (closed cases)"
    label = ax.get_xlabel()
    assert "first to last step" not in label and "closed cases" not in label
    assert label == "days from the citizen's first contact to the case closing (open cases counted as still waiting)"
    assert "median 4.0, 85% within more than 10" in ax.texts[0].get_text()  # R4 open: the 85% is not reached


def test_end_to_end_chart_without_events(council):
    nothing = scan.organisation_scan(council.table("demand").iloc[:0], services=SERVICES)
    ax = end_to_end_chart(nothing, ax=Figure().add_subplot())
    assert "No end-to-end times" in ax.texts[0].get_text()


def test_show_table_rejects_an_unknown_part(table):
    with pytest.raises(Exception, match="part must be"):
        show_table(table, part="everything")


# ------------------------------------------------------------------------------------------------ notebook
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def test_notebook_follows_conventions():
    nb = nbformat.read(NOTEBOOKS / "organisation_scan.ipynb", as_version=4)
    first, params = nb.cells[0], nb.cells[1]
    # findings first: the title alone, then "What we found" (opening.show) straight after the data is loaded; the
    # definitions and the questions a team should ask close the page, in "About this page"
    assert first.cell_type == "markdown" and first.source.startswith("# ") and len(first.source.splitlines()) == 1
    about = [c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## About this page")]
    assert len(about) == 1 and "Questions a team should ask" in about[0]
    assert any(c.source.rstrip().endswith("findings(data))") for c in nb.cells[3:5] if c.cell_type == "code")
    assert params.metadata.get("tags") == ["parameters"]
    assert [line.split("=")[0].strip() for line in params.source.splitlines()] == [
        "council_dir",
        "service",
        "period_start",
        "period_end",
        "output_dir",
        "cache_dir",
    ]
    assert nb.metadata["kernelspec"]["name"] == "systemic"
    code = [c.source for c in nb.cells[2:] if c.cell_type == "code"]
    assert 'stage="organisation_scan"' in code[0] and "data = scan.load(stage)" in code[0]
    assert all(len(src.splitlines()) <= 6 for src in code)
    assert not any("for " in src or "pd." in src for src in code)  # no logic in the notebook
    assert code[-1].startswith("stage.save(scan.figures(data), period=scan.period(data))")


@pytest.mark.slow
def test_organisation_scan_notebook(council, run_stage_notebook):
    figures, shown = run_stage_notebook("organisation_scan", council_dir=str(council.path), service=None)
    assert figures["stage"] == "organisation_scan" and figures["contacts"] == 12
    assert [s["service"] for s in figures["services"]] == ["housing-repairs", "council-tax", "waste", "parking"]
    assert figures["services"][0]["failure_pct"] == 50.0 and figures["services"][0]["median_days"] == 4.0
    assert figures["where_to_start"]["sentence"].startswith("No service can be named yet")
    assert figures["start_with"] is None and figures["where_to_start"]["services"] == []
    assert figures["period"] == {"start": "2024-01-01", "end": "2024-02-01"}
    assert "is not named where to start: too little to judge" in shown and "parking" in shown
    assert "Services are compared on failure demand only with at least 30 classified contacts" in shown
    assert "Waste collection: No events recorded" in shown and scan.DASH in shown
    assert "85% within (days)" in shown and "Traceback" not in shown


def test_council_rules_classify_unclassified_contacts_as_on_the_demand_report(council_factory):
    folder = council_factory(
        rules="service,column,pattern,classification,failure_type\n,demand_type,boiler,failure,not done\n"
    )
    stage = report.Stage(folder, None, "organisation_scan")
    table = scan.load(stage).table
    hr = table.set_index("service").loc["housing-repairs"]
    # C06 (blank) and C09 ('weird') become failure by the rule; hand classifications stay (C01, C07 value)
    assert (hr["value"], hr["failure"], hr["unclassified"]) == (4, 6, 0)
    assert hr["failure_pct"] == pytest.approx(60)


def test_capability_of_a_monthly_measure_counts_months_and_says_by_month():
    # a sparse service's series comes by calendar month (measure.measure_series returns the grain): the same limits,
    # but the words count months and say so
    monthly = pd.DataFrame(
        {"date": pd.date_range("2024-01-01", periods=14, freq="MS"), "value": [10.0, 12.0] * 7, "n": 8}
    )
    cap = scan.capability(monthly, measure_id="end_to_end_days", grain="month")
    assert (cap["grain"], cap["weeks"], cap["mean"]) == ("month", 14, 11)
    assert scan.capability_words(cap, "days") == "predictably 5.7\u201316 days (mean 11); by month"
    trial = scan.capability(monthly.iloc[:8], measure_id="end_to_end_days", grain="month")
    assert scan.capability_words(trial, "days") == "5.7\u201316 days (mean 11); provisional, 8 months"
    few = monthly.iloc[:1]
    assert scan.capability(few, measure_id="end_to_end_days", grain="month")["note"] == (
        "only 1 month with enough data (a capability chart needs at least 2)"
    )
    assert scan.capability(_weekly([10, 12] * 7), measure_id="end_to_end_days")["grain"] == "week"


def test_end_to_end_starts_at_the_citizens_contact_and_is_stated(council_factory):
    """Testshire with C01 (1 Jan 09:00) linked to R2 (opened 2 Jan 09:00, closed 6 Jan 09:00): R2 takes 5 days from
    the citizen's call, not 4. KM: R3 0.5 -> 3/4, R2 5 -> 1/2: the median is 5 days."""
    demand = TESTSHIRE["demand.csv"].replace("one_stop\n", "one_stop,case_id\n", 1)
    demand = (
        "\n".join(
            line + (",R2" if line.startswith("C01,") else ",") if i else line
            for i, line in enumerate(demand.strip().split("\n"))
        )
        + "\n"
    )
    path = council_factory("linked", demand=demand)
    data = scan.load(report.Stage(path, None, "organisation_scan"))
    hr = data.table.set_index("service").loc["housing-repairs"]
    assert hr["median_days"] == 5 and hr["open_cases"] == 1
    assert data.end_to_end.starts()["contact"] == 1
    from systemic_lib.analysis import endtoend

    sentence = endtoend.definition_sentence(data.end_to_end)  # the scan page states it above the end-to-end table
    assert "1 of 5 cases start at the citizen's first contact" in sentence and "1 case is still open" in sentence


def test_end_to_end_capability_is_per_case_as_on_the_measure_stage(council_factory):
    """12 cases opened 10 days apart, each closed after 5, 6, 7, 5, 6, 7, ... days (so they finish in order): mean
    6 days; moving ranges 1, 1, 2 repeated (11 of them, sum 14): mean 14/11, limits 6 ± 2.66 x 14/11 = 2.61 to 9.39.
    The scan's column is the measure stage's per-case chart: the same limits as measure.json's."""
    from systemic_lib.analysis import measure

    rows = ["case_id,service,opened_at,closed_at"]
    start = pd.Timestamp("2024-01-01 09:00")
    for i, d in enumerate([5, 6, 7] * 4):
        opened = start + pd.Timedelta(days=10 * i)
        rows.append(f"K{i:02d},housing-repairs,{opened:%Y-%m-%d %H:%M},{opened + pd.Timedelta(days=d):%Y-%m-%d %H:%M}")
    path = council_factory("percase", cases="\n".join(rows) + "\n", events=None)
    table = scan.load(report.Stage(path, None, "organisation_scan")).table.set_index("service")
    cap = table.loc["housing-repairs", "end_to_end_capability"]
    assert (cap["mean"], cap["lower"], cap["upper"], cap["grain"], cap["weeks"]) == (6.0, 2.61, 9.39, "case", 12)
    assert scan.capability_words(cap, "days") == "predictably 2.6\u20139.4 days (mean 6.0)"
    per_case = measure.figures(measure.load(report.Stage(path, "housing-repairs", "measure")))["end_to_end_per_case"]
    assert per_case["phases"][-1]["upper"] == pytest.approx(cap["upper"], abs=0.01)
