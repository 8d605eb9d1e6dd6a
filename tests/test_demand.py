"""The demand stage's figures on a small hand-computed council, and each bad input of issue 3."""

import math

import nbformat
import numpy as np
import pandas as pd
import pytest

from systemic_lib import config
from systemic_lib.analysis import demand
from systemic_lib.data.contract import ERROR, WARNING
from systemic_lib.data.council import load_council
from systemic_lib.display import report
from systemic_lib.errors import SystemicError

from conftest import TESTSHIRE

# Testshire (tests/conftest.py), housing repairs: 10 contacts; value 4 (C01 C04 C07 C12), failure 4 (C02 C03 C05
# C08), unclassified 2 (C06, C09 whose 'weird' spelling is unknown). One-stop yes 3 (C01 C04 C09), no 4 (C02 C03 C05
# C08), unknown 3. C12 has no date; C11 names 'parking', not a service in council.yaml.


@pytest.fixture
def council(testshire):
    return load_council(testshire)


@pytest.fixture
def repairs(council):
    return council.table("demand", service="housing-repairs")


def test_headline_figures(repairs):
    h = demand.headline_figures(repairs)
    assert (h["contacts"], h["value"], h["failure"], h["unclassified"]) == (10, 4, 4, 2)
    assert h["failure_pct"] == pytest.approx(50.0)  # 4 / (4 + 4), unclassified left out of the %
    assert h["one_stop_pct"] == pytest.approx(300 / 7)  # yes 3 of the 7 recorded
    assert h["one_stop_recorded"] == 7


def test_headline_of_nothing_has_no_percentages(repairs):
    h = demand.headline_figures(repairs.iloc[:0])
    assert h["contacts"] == 0 and h["failure_pct"] is None and h["one_stop_pct"] is None


def test_pareto_is_sorted_with_percent_and_cumulative(repairs):
    p = demand.pareto(repairs)
    assert p[["demand_type", "classification", "contacts"]].values.tolist() == [
        ["when will repair be done", "failure", 3],
        ["fix boiler", "unclassified", 2],
        ["fix boiler", "value", 2],
        ["fix roof", "value", 2],
        ["repair not right", "failure", 1],
    ]
    assert p["pct"].tolist() == pytest.approx([30, 20, 20, 20, 10])
    assert p["cumulative_pct"].tolist() == pytest.approx([30, 50, 70, 90, 100])


def test_pareto_per_service_and_council_wide(council):
    everyone = council.table("demand")
    wide = demand.pareto(everyone)
    assert wide["contacts"].sum() == 12  # every contact, parking (not in council.yaml) included
    per = demand.pareto(everyone, by_service=True)
    tax = per[per["service"] == "council-tax"]
    assert tax[["demand_type", "contacts", "pct", "cumulative_pct"]].values.tolist() == [["wrong bill", 1, 100, 100]]
    hr = per[per["service"] == "housing-repairs"]
    assert hr["cumulative_pct"].iloc[-1] == pytest.approx(100)
    assert hr["contacts"].sum() == 10


def test_failure_types(repairs):
    f = demand.failure_types(repairs)
    assert f[["failure_type", "contacts"]].values.tolist() == [["progress chasing", 3], ["not done right", 1]]
    assert f["pct"].tolist() == pytest.approx([75, 25])


def test_failure_with_no_failure_type_is_counted_as_not_recorded(repairs):
    d = repairs.copy()
    d.loc[d["contact_id"] == "C05", "failure_type"] = np.nan
    f = demand.failure_types(d)
    assert dict(zip(f["failure_type"], f["contacts"])) == {"progress chasing": 3, demand.NOT_RECORDED: 1}


def test_channel_mix_with_failure_pct_per_channel(repairs):
    c = demand.channel_mix(repairs).set_index("channel")
    assert c.loc["phone", ["contacts", "value", "failure", "unclassified"]].tolist() == [7, 2, 3, 2]
    assert c.loc["phone", "failure_pct"] == pytest.approx(60)
    assert c.loc["email", "failure_pct"] == pytest.approx(50)
    assert c.loc["web", "failure_pct"] == pytest.approx(0)
    assert c["pct"].tolist() == pytest.approx([70, 20, 10])


def test_weekly_volume_and_failure_pct(repairs):
    w = demand.weekly(repairs)
    assert w["week"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-01", "2024-01-08", "2024-01-15"]
    assert w["contacts"].tolist() == [3, 3, 3]
    assert w["failure"].tolist() == [2, 1, 1]
    assert w["failure_pct"].tolist() == pytest.approx([200 / 3, 50, 50])
    assert demand.undated(repairs) == 1  # C12 has no received_at: counted, not placed
    assert demand.summary(repairs)["undated"] == 1
    assert not w.attrs  # no result rides on DataFrame.attrs (pandas drops them)


def test_weekly_fills_empty_weeks_with_zero(repairs):
    d = repairs[repairs["contact_id"].isin(["C01", "C08"])]
    w = demand.weekly(d)
    assert w["contacts"].tolist() == [1, 0, 1]
    assert math.isnan(w["failure_pct"].iloc[1])


def test_what_matters_themes(repairs):
    t = demand.what_matters(repairs)
    assert t[["theme", "contacts"]].values.tolist() == [["knowing when", 2], ["warm home", 2], ["dry home", 1]]
    assert t["pct"].tolist() == pytest.approx([40, 40, 20])
    assert demand.what_matters_recorded(repairs) == (5, 5)  # recorded, not recorded
    assert not t.attrs


def test_summary_agrees_with_each_function(repairs):
    s = demand.summary(repairs)
    assert s["headline"] == demand.headline_figures(repairs)
    pd.testing.assert_frame_equal(s["pareto"], demand.pareto(repairs))
    pd.testing.assert_frame_equal(s["channels"], demand.channel_mix(repairs))
    pd.testing.assert_frame_equal(s["weekly"], demand.weekly(repairs))
    pd.testing.assert_frame_equal(s["failure_types"], demand.failure_types(repairs))


def test_predictability_of_a_steady_and_a_spiking_demand():
    weeks = pd.date_range("2024-01-01", periods=20, freq="7D")
    steady = np.array([10, 11, 9, 10, 12, 10, 9, 11, 10, 10, 11, 9, 10, 12, 10, 9, 11, 10, 10, 11])
    spike = np.full(20, 3)
    spike[15] = 40
    rows = []
    for kind, counts, klass in (("steady", steady, "value"), ("spiky", spike, "failure")):
        for week, k in zip(weeks, counts):
            rows += [{"received_at": week + pd.Timedelta(hours=9), "demand_type": kind, "classification": klass}] * k
    data = pd.DataFrame(rows)
    p = demand.predictability(data, top=2).set_index("demand_type")
    assert bool(p.loc["steady", "predictable"]) is True
    assert p.loc["steady", "per_week"] == pytest.approx(steady.mean())
    assert p.loc["steady", "verdict"].startswith("Predictable: between")
    assert bool(p.loc["spiky", "predictable"]) is False
    assert p.loc["spiky", "special_causes"] >= 1


def test_predictability_says_too_few_weeks(repairs):
    p = demand.predictability(repairs)
    assert p["verdict"].str.startswith("Too few weeks").all()
    assert p["predictable"].isna().all()


def test_headline_sentence_names_period_count_and_unclassified(repairs):
    text = demand.headline_sentence(repairs, service_name="Housing repairs")
    assert text == (
        "From 1 January 2024 to 18 January 2024, Housing repairs received 10 contacts; of the 8 "
        "classified so far, 50% were failure demand (2 not yet classified)."
    )
    classified = repairs[repairs["classification"].notna()]
    assert demand.headline_sentence(classified, service_name="Housing repairs").endswith(
        "50% of the 8 contacts to Housing repairs were failure demand."
    )


def test_headline_sentence_for_a_whole_year_and_for_no_data():
    d = pd.DataFrame(
        {
            "received_at": pd.to_datetime(["2024-01-03", "2024-12-30"]),
            "classification": ["failure", "value"],
            "one_stop": pd.array([True, None], dtype="boolean"),
        }
    )
    assert demand.headline_sentence(d, service_name="X") == "In 2024, 50% of the 2 contacts to X were failure demand."
    assert demand.headline_sentence(d.iloc[:0], service_name="X").startswith("No contacts are recorded for X")


def test_three_questions_from_the_data(repairs):
    qs = demand.questions(repairs, service_name="Housing repairs")
    assert len(qs) == 3
    assert "when will repair be done" in qs[0] and "3 contacts" in qs[0]
    assert "not yet classified" in qs[1]  # 2 of 10 unclassified (20%)
    assert demand.questions(repairs.iloc[:0]) and len(demand.questions(repairs.iloc[:0])) == 3


def test_examples_are_redacted_and_carry_no_ids(repairs):
    ex = demand.examples(repairs, n=10)
    assert list(ex.columns) == ["demand_type", "classification", "verbatim"]
    text = " ".join(ex["verbatim"])
    assert "07700" not in text and "[phone]" in text
    assert "C0" not in " ".join(ex.astype(str).to_numpy().ravel())
    only = demand.examples(repairs[repairs["contact_id"] == "C07"])
    assert only["verbatim"].tolist() == ["Boiler again at [postcode]"]
    assert ex["classification"].iloc[0] == "failure"
    assert ex["demand_type"].iloc[0] == "when will repair be done"


def test_examples_leave_out_verbatims_that_only_repeat_the_demand_type(repairs):
    """Imported case titles (Boston 311) mostly repeat the request type: that is not the citizen's words."""
    rows = repairs.copy()
    rows["verbatim"] = rows["demand_type"].str.upper() + "!"  # the type again, in other case and punctuation
    assert demand.examples(rows).empty
    rows.loc[rows["contact_id"] == "C05", "verbatim"] = "PRINTED"  # a thin title: shown only when nothing fuller
    rows.loc[rows["contact_id"] == "C01", "verbatim"] = "The boiler broke on Sunday night"
    ex = demand.examples(rows)
    assert ex["verbatim"].tolist() == ["The boiler broke on Sunday night", "PRINTED"]
    assert ex["demand_type"].tolist() == ["fix boiler", "repair not right"]


def test_figures_for_demand_json(repairs):
    f = demand.figures(repairs)
    for key in ("contacts", "value", "failure", "unclassified", "failure_pct", "one_stop_pct", "types", "channels"):
        assert key in f
    assert (f["contacts"], f["failure_pct"], f["one_stop_pct"]) == (10, 50.0, 42.9)
    assert f["types"][0] == {"demand_type": "when will repair be done", "classification": "failure", "count": 3}
    assert sum(t["count"] for t in f["types"]) == 10
    assert {c["channel"] for c in f["channels"]} == {"phone", "email", "web"}


def test_missing_column_is_named():
    with pytest.raises(SystemicError, match="no column 'classification'"):
        demand.headline_figures(pd.DataFrame({"received_at": []}))


# -------------------------------------------------------------------------------------------------- stage contract
def test_load_gives_the_stage_contacts_problems_and_period(council):
    data = demand.load(report.Stage(council, "housing-repairs", "demand"))
    assert isinstance(data, demand.DemandData)
    assert len(data.contacts) == 10 and data.service_name == "Housing repairs"
    assert data.period == (pd.Timestamp("2024-01-01 09:00"), pd.Timestamp("2024-01-18 09:00"))
    assert demand.period(data) == data.period
    assert data.rules is None and data.rules_problems == [] and data.changes == []
    assert data.services == {
        "housing-repairs": "Housing repairs",
        "council-tax": "Council tax",
        "waste": "Waste collection",
    }
    assert _find(data.problems, "classification", "not yet classified").count == 2


def test_headline_questions_and_figures_take_the_stage_data(council, repairs):
    data = demand.load(report.Stage(council, "housing-repairs", "demand"))
    assert (
        demand.headline(data)
        == demand.headline_sentence(repairs, service_name="Housing repairs")
        == (
            "From 1 January 2024 to 18 January 2024, Housing repairs received 10 contacts; of the 8 classified so far, "
            "50% were failure demand (2 not yet classified)."
        )
    )
    assert demand.questions(data) == demand.questions(repairs, service_name="Housing repairs")
    assert demand.figures(data) == demand.figures(repairs)
    assert demand.figures(data)["undated"] == 1
    assert demand.caption(data, "Channel mix") == "Channel mix, 1 Jan 2024 to 18 Jan 2024 (10 contacts)"


def test_load_applies_the_council_rules_once_and_keeps_their_problems(council):
    (council.path / "rules.csv").write_text(
        "service,column,pattern,classification,failure_type\n"
        ",demand_type,boiler,value,\n,demand_type,when will,value,\n"
    )
    stage = report.Stage(council.path, "housing-repairs", "demand")
    data = demand.load(stage)
    assert data.contacts is stage.contacts().frame  # the same contacts every stage reads
    assert data.rules.classified == 2
    h = demand.headline_figures(data.contacts)
    assert (h["value"], h["failure"], h["unclassified"]) == (6, 4, 0)
    assert data.rules_problems == list(data.rules.problems)
    assert data.problems == data.data_problems + data.rules_problems


def test_contacts_the_rules_classified_are_not_called_unclassified(council):
    """Issue 19: "all classified" in the headline beside "202 counted as unclassified" in the data problems. The
    rules classify C06 and C09, the two contacts left blank: the headline says all are classified and no problem
    says any is counted as unclassified. With one rule only (C09 stays), the problem counts 1 and says the rules
    classified the other."""
    (council.path / "rules.csv").write_text(
        "service,column,pattern,classification,failure_type\n,demand_type,boiler,value,\n"
    )
    data = demand.load(report.Stage(council.path, "housing-repairs", "demand"))
    assert "all classified" in demand.headline(data)
    assert not [p for p in data.data_problems if "counted as unclassified" in p.message]
    (council.path / "rules.csv").write_text(
        "service,column,pattern,classification,failure_type\n,verbatim,^x$,value,\n"
    )
    data = demand.load(report.Stage(council.path, "housing-repairs", "demand"))
    left = [p for p in data.data_problems if "counted as unclassified" in p.message]
    assert demand.headline_figures(data.contacts)["unclassified"] == 1
    assert [(p.count, p.message) for p in left] == [
        (
            1,
            "has contacts not yet classified as value or failure; they are counted as unclassified (the council's "
            "rules classified 1 other)",
        )
    ]


def test_what_matters_shares_say_what_they_are_of(council, shown):
    """Issue 19: "What matters: a time that suits me, 27% of contacts" was 1,435 of the 5,259 contacts with what
    matters recorded, under a caption counting all 10,801. Testshire's repairs: 5 of the 10 contacts have it."""
    from systemic_lib.display.sections import demand as sections

    data = demand.load(report.Stage(council.path, "housing-repairs", "demand"))
    assert demand.what_matters_caption(data) == (
        "What matters, 1 Jan 2024 to 18 Jan 2024 (5 of the 10 contacts have what matters recorded)"
    )
    assert demand.figures(data)["what_matters_recorded"] == 5
    sections.show_what_matters(data)
    assert "% of contacts with what matters recorded" in shown[-1]
    assert "5 of the 10 contacts have what matters recorded" in shown[-1]
    assert ">% of contacts<" not in shown[-1]


def test_rules_with_errors_are_not_used_and_say_why(council):
    (council.path / "rules.csv").write_text("service,column,pattern,classification\n,demand_type,(,maybe\n")
    stage = report.Stage(council.path, "housing-repairs", "demand")
    data = demand.load(stage)
    assert data.rules is None and [p for p in data.rules_problems if p.severity == ERROR]
    assert demand.headline_figures(data.contacts)["unclassified"] == 2
    _, rules = demand.stage_contacts(stage)  # the old pair keeps the problems too
    assert rules.classified == 0 and rules.problems == data.rules_problems
    assert demand.stage_problems(stage, rules) == data.problems


def test_a_demand_table_with_errors_gives_no_contacts_and_its_errors(council_factory):
    folder = council_factory(demand=TESTSHIRE["demand.csv"].replace("C02,", "C01,"))  # a duplicate contact id
    data = demand.load(report.Stage(folder, "housing-repairs", "demand"))
    assert data.contacts.empty and demand.period(data) == (None, None)
    assert [p for p in data.problems if p.severity == ERROR and p.column == "contact_id"]
    assert demand.figures(data)["contacts"] == 0
    assert demand.headline(data).startswith("No contacts are recorded for Housing repairs")


# ------------------------------------------------------------------------------------------------------- bad input
def _find(problems, column, words):
    hits = [p for p in problems if p.column == column and words in p.message]
    assert hits, f"no problem on {column} mentioning {words!r}: {[p.describe() for p in problems]}"
    return hits[0]


def test_data_problems_for_one_service_with_counts_and_rows(council):
    probs = demand.data_problems(report.Stage(council, "housing-repairs", "demand"))
    spelling = _find(probs, "classification", "cannot read 'weird'")
    assert (spelling.row, spelling.count, spelling.severity) == (10, 1, WARNING)  # C09 is on row 10
    no_date = _find(probs, "received_at", "is blank")
    assert (no_date.row, no_date.count) == (13, 1)  # C12 on row 13: its row in the file, not in the service
    no_words = _find(probs, "verbatim", "no verbatim")
    assert (no_words.row, no_words.count) == (7, 1)
    unclassified = _find(probs, "classification", "not yet classified")
    assert unclassified.count == 2
    assert not [p for p in probs if "parking" in p.message]  # another service's problem is not this one's


def test_data_problems_council_wide_name_unknown_services(council):
    probs = demand.data_problems(report.Stage(council, None, "organisation_scan"))
    unknown = _find(probs, "service", "not in council.yaml")
    assert "parking" in unknown.message and unknown.count == 1 and unknown.row == 12


def test_data_problems_read_no_file_again(council, monkeypatch):
    stage = report.Stage(council, "housing-repairs", "demand")
    stage.load("demand")  # read once, as the stage does
    from systemic_lib.data import contract

    monkeypatch.setattr(contract, "read_raw", lambda *a, **k: pytest.fail("data_problems read the file again"))
    assert _find(demand.data_problems(stage), "verbatim", "no verbatim").row == 7


def test_future_dates_are_reported_and_kept(council_factory):
    folder = council_factory(
        demand=TESTSHIRE["demand.csv"] + "C13,housing-repairs,2099-05-01 09:00,phone,From the "
        "future,fix boiler,value,,,\n"
    )
    stage = report.Stage(folder, "housing-repairs", "demand")
    future = _find(demand.data_problems(stage), "received_at", "future")
    assert (future.row, future.count) == (14, 1)
    assert demand.headline_figures(stage.table("demand"))["contacts"] == 11


def test_unknown_spellings_stay_visible_as_unclassified(repairs):
    # C09 'weird' is neither value nor failure: it is counted, as unclassified, in every table
    assert demand.headline_figures(repairs)["unclassified"] == 2
    assert demand.channel_mix(repairs)["unclassified"].sum() == 2
    assert demand.weekly(repairs)["unclassified"].sum() == 2
    assert demand.pareto(repairs).query("classification == 'unclassified'")["contacts"].sum() == 2


def test_stage_contacts_apply_council_rules_to_unclassified_only(council):
    (council.path / "rules.csv").write_text(
        "service,column,pattern,classification,failure_type\n"
        ",demand_type,boiler,value,\n,demand_type,when will,value,\n"
    )
    from systemic_lib.display import report

    stage = report.Stage(council.path, "housing-repairs", "demand")
    contacts, rules = demand.stage_contacts(stage)
    h = demand.headline_figures(contacts)
    assert (h["value"], h["failure"], h["unclassified"]) == (6, 4, 0)  # C06, C09 by rule; hand failures kept
    assert rules.classified == 2
    assert rules.report.set_index("row").loc[3, "disagrees_with_hand"] == 3


# -------------------------------------------------------------------------------------------------------- notebooks
@pytest.mark.parametrize("name, stage", [("demand", "demand")])  # organisation_scan: tests/test_scan.py
def test_notebooks_follow_conventions(name, stage):
    nb = nbformat.read(config.NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
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
    code = [c.source for c in nb.cells[2:] if c.cell_type == "code"]
    assert f'stage="{stage}"' in code[0] and "demand.load(stage)" in code[0]
    assert all(len(src.splitlines()) <= 6 for src in code)
    assert not any("for " in src or "pd." in src for src in code)  # no logic in the notebook
    assert code[-1] == "stage.save(demand.figures(data), period=demand.period(data))"


@pytest.mark.slow
def test_demand_notebook_renders_and_saves_demand_json(testshire, run_stage_notebook):
    figures, shown = run_stage_notebook("demand", council_dir=str(testshire), service="housing-repairs")
    assert (figures["stage"], figures["service"]) == ("demand", "housing-repairs")
    assert (figures["contacts"], figures["value"], figures["failure"], figures["unclassified"]) == (10, 4, 4, 2)
    assert (figures["failure_pct"], figures["one_stop_pct"]) == (50.0, 42.9)
    assert figures["types"][0] == {"demand_type": "when will repair be done", "classification": "failure", "count": 3}
    assert figures["period"] == {"start": "2024-01-01", "end": "2024-01-18"}
    assert "Housing repairs received 10 contacts" in shown
    assert "Questions for the team" in shown and "cannot read &#x27;weird&#x27;" in shown
    assert "[phone]" in shown and "07700" not in shown  # verbatims redacted
    assert "&lt;b&gt;now&lt;/b&gt;" in shown and "<b>now" not in shown  # and escaped
    assert "C02" not in shown  # no contact ids in a report


@pytest.mark.slow
def test_demand_notebook_for_a_service_with_no_contacts(testshire, run_stage_notebook):
    figures, shown = run_stage_notebook("demand", council_dir=str(testshire), service="waste")
    assert figures["contacts"] == 0 and figures["failure_pct"] is None and figures["types"] == []
    assert "No contacts are recorded for Waste collection" in shown
    assert shown.count("No contacts in this period, so there is no") == 5  # notes, not empty charts


def test_headline_sentence_of_one_contact_reads_as_english():
    d = pd.DataFrame(
        {
            "received_at": pd.to_datetime(["2024-03-04", "2024-03-05"]),
            "classification": ["failure", None],
            "one_stop": pd.array([None, None], dtype="boolean"),
        }
    )
    assert (
        demand.headline_sentence(d.iloc[:1], service_name="X")
        == "From 4 March 2024 to 4 March 2024, the one contact to X was failure demand."
    )
    assert "of the one classified so far, 100% were failure demand (1 not yet classified)" in demand.headline_sentence(
        d, service_name="X"
    )
