"""End-to-end time defined once (systemic_lib.analysis.endtoend): start, end, open cases, Kaplan–Meier figures."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from systemic_lib.analysis import endtoend
from systemic_lib.data.contract import TABLES

from conftest import TESTSHIRE


def _csv(name, **dates):
    frame = pd.read_csv(io.StringIO(TESTSHIRE[name]))
    for col in dates:
        frame[col] = pd.to_datetime(frame[col])
    return frame


def _housing(frame):
    return frame[frame["service"] == "housing-repairs"]


def test_testshire_housing_by_hand():
    """R1 10 days, R2 4, R3 0.5 (closed_at), R4 open since 10 Jan, censored at the data's last date (20 Jan: 10
    days). KM: S(0.5) = 3/4, S(4) = 1/2, S(10) = 1/4 (R1 finishes, R4 censored, 2 at risk): median 4 days; the
    curve never falls to 0.15, so the 85th percentile is "more than 10 days"."""
    events = _housing(_csv("events.csv", timestamp=1))
    cases = _housing(_csv("cases.csv", opened_at=1, closed_at=1))
    e2e = endtoend.case_times(events=events, cases=cases)
    f = e2e.frame.set_index("case_id")
    assert list(f.index) == ["R1", "R2", "R3", "R4"]
    assert f["days"].tolist()[:3] == [10, 4, 0.5] and np.isnan(f.loc["R4", "days"])
    assert f["open"].tolist() == [False, False, False, True]
    assert f.loc["R4", "duration"] == 10
    assert e2e.data_end == pd.Timestamp("2024-01-20 09:00")
    assert e2e.starts() == {"contact": 0, "opened": 4, "first step": 0}  # a tie with the first step: opened
    s = e2e.survival()
    assert s.median == 4 and s.p85 is None and s.at_least(0.85) == 10 and s.at_least(0.5) is None
    figs = endtoend.figures(e2e)
    assert figs["median_days"] == 4 and figs["p85_days"] is None and figs["p85_at_least"] == 10
    assert figs["open_cases"] == 1 and figs["finished"] == 3 and figs["end_from"] == {"closed_at": 3}
    assert endtoend.figure_words(s.p85, s.at_least(0.85)) == "more than 10 days"
    assert "4 cases start when the case was opened" in figs["sentence"] and "1 case is still open" in figs["sentence"]


def test_start_is_the_citizens_first_contact_and_end_needs_closing():
    """Without cases.csv: A has a closing step (ends there), B has none (open, no partial time); A's citizen called
    two days before its first step, so A starts at the call."""
    events = pd.DataFrame(
        {
            "case_id": ["A", "A", "A", "B", "B"],
            "service": "s",
            "activity": ["Log", "Fix", "Tidy up", "Log", "Fix"],
            "timestamp": pd.to_datetime(["2024-01-03", "2024-01-08", "2024-01-09", "2024-01-04", "2024-01-06"]),
        }
    )
    contacts = pd.DataFrame(
        {"case_id": ["A", "A", None], "received_at": pd.to_datetime(["2024-01-02", "2024-01-01", "2023-12-01"])}
    )
    catalogue = pd.DataFrame(
        {
            "service": "s",
            "activity": ["Log", "Fix", "Tidy up"],
            "closes_case": pd.array([False, True, None], dtype="boolean"),
        }
    )
    e2e = endtoend.case_times(events=events, contacts=contacts, catalogue=catalogue)
    f = e2e.frame.set_index("case_id")
    assert f.loc["A", "start_from"] == "contact" and f.loc["A", "start"] == pd.Timestamp("2024-01-01")
    assert f.loc["A", "days"] == 7 and f.loc["A", "end"] == pd.Timestamp("2024-01-08")  # its closing step
    assert f.loc["B", "days"] == 2  # B's Fix closes it too
    no_catalogue = endtoend.case_times(events=events, contacts=contacts).frame.set_index("case_id")
    assert no_catalogue["open"].all() and no_catalogue["days"].isna().all()  # never a partial time
    assert no_catalogue.loc["B", "duration"] == 5  # censored at 9 Jan, the data's last date
    explicit = endtoend.case_times(events=events, closing=["Tidy up"]).frame.set_index("case_id")
    assert explicit.loc["A", "days"] == 6 and explicit.loc["B", "open"]


def test_a_case_closing_after_the_censoring_date_is_open_there():
    cases = pd.DataFrame(
        {"case_id": ["X"], "opened_at": pd.to_datetime(["2024-01-01"]), "closed_at": pd.to_datetime(["2024-03-01"])}
    )
    e2e = endtoend.case_times(cases=cases, data_end="2024-02-01")
    assert e2e.frame["open"].tolist() == [True] and e2e.frame["duration"].tolist() == [31]


def test_backwards_case_is_left_out():
    cases = pd.DataFrame(
        {
            "case_id": ["X", "Y"],
            "opened_at": pd.to_datetime(["2024-01-05", "2024-01-01"]),
            "closed_at": pd.to_datetime(["2024-01-01", "2024-01-03"]),
        }
    )
    e2e = endtoend.case_times(cases=cases)
    assert (
        e2e.backwards == 1
        and e2e.survival().n == 1
        and "closing before it starts left out" in endtoend.definition_sentence(e2e)
    )


def _seven_cases():
    """A-G by hand (dates in January 2024): A called on the 1st, closing steps on the 5th and 7th (the last counts);
    B opened 2nd, closed 10th (cases.csv wins over its closing step on the 5th); C never closes (service s, censored
    20th); D closes at a step council.yaml names for service t (4th); E is only in cases.csv, open (t, censored 15th);
    F closes (8th) before it opens (9th, tied with its first step: opened wins); G closes on the 16th, after t's
    censoring date, so it is open there."""
    d = lambda *days: pd.to_datetime([f"2024-01-{x:02d}" for x in days])
    events = pd.DataFrame(
        {
            "case_id": ["A", "A", "A", "B", "B", "B", "C", "D", "D", "F", "G", "G"],
            "service": ["s", "s", "s", "s", "s", "s", "s", "t", "t", "s", "t", "t"],
            "activity": ["Log", "Close", "Close", "Log", "Close", "Fix", "Log", "Log", "Done", "Log", "Log", "Done"],
            "timestamp": d(3, 5, 7, 4, 5, 6, 5, 2, 4, 9, 10, 16),
        }
    )
    cases = pd.DataFrame(
        {
            "case_id": ["B", "E", "F"],
            "service": ["s", "t", "s"],
            "opened_at": d(2, 3, 9),
            "closed_at": [pd.Timestamp("2024-01-10"), pd.NaT, pd.Timestamp("2024-01-08")],
        }
    )
    contacts = pd.DataFrame({"case_id": ["A", "A", "Z"], "received_at": d(2, 1, 1)})
    catalogue = pd.DataFrame(
        {
            "service": ["s", "s", "t"],
            "activity": ["Close", "Log", "Done"],
            "step_type": ["value", "value", "value"],
            "category": [None, None, None],
            "closes_case": [True, False, False],
        }
    )
    ends = {"s": pd.Timestamp("2024-01-20"), "t": pd.Timestamp("2024-01-15")}
    return dict(
        events=events, cases=cases, contacts=contacts, catalogue=catalogue, closing=[("t", "Done")], data_end=ends
    )


def test_flow_logs_per_case_path_is_the_same_definition():
    """FlowLog reduces its events per case from integer codes (``from_steps``); ``case_times`` from the same tables
    group-bys text ids. Both give the hand-computed table of ``_seven_cases``, row for row and type for type: every
    case counts (``case_ids``), the log's with steps first, then E, which is in cases.csv with no step yet."""
    from systemic_lib.analysis.flow import FlowLog

    t = _seven_cases()
    by_text = endtoend.case_times(**t)
    by_codes = FlowLog(
        t["events"],
        catalogue=t["catalogue"],
        cases=t["cases"],
        contacts=t["contacts"],
        data_end=t["data_end"],
        closing=t["closing"],
    ).end_to_end_cases
    assert by_codes.frame["case_id"].tolist() == list("ABCDFGE")
    in_order = by_codes.frame.set_index("case_id").loc[list("ABCDEFG")].reset_index()
    pd.testing.assert_frame_equal(in_order, by_text.frame, check_exact=True)
    assert (by_codes.n, by_codes.n_open, by_codes.end_from) == (by_text.n, by_text.n_open, by_text.end_from)
    f = by_text.frame.set_index("case_id")
    assert list(f.index) == list("ABCDEFG")
    assert f["start"].dt.day.tolist() == [1, 2, 5, 2, 3, 9, 10]
    assert f["start_from"].tolist() == [
        "contact",
        "opened",
        "first step",
        "first step",
        "opened",
        "opened",
        "first step",
    ]
    assert f["open"].tolist() == [False, False, True, False, True, False, True]
    assert f["days"].tolist()[:2] == [6, 8] and f.loc["D", "days"] == 2
    assert f["days"].isna().tolist() == [False, False, True, False, True, True, True]
    assert f["duration"].fillna(-1).tolist() == [6, 8, 15, 2, 12, -1, 5]  # F backwards: no time at all
    assert f["service"].tolist() == ["s", "s", "s", "t", "t", "s", "t"]
    for e2e in (by_text, by_codes):
        assert list(e2e.end_from.items()) == [("closing step", 2), ("closed_at", 1)]
        assert e2e.backwards == 1 and e2e.data_end == pd.Timestamp("2024-01-20")
    # KM: S(2) = 4/5 (D), G censored at 5, S(6) = 4/5 * 2/3 (A), S(8) = 4/5 * 2/3 * 1/2 (B): the median is 8 days
    assert by_codes.survival().median == 8


def test_closes_case_is_an_optional_activities_column():
    col = next(c for c in TABLES["activities"].columns if c.name == "closes_case")
    assert col.kind == "bool" and not col.required


def test_completion_order_numbers_cases_by_end():
    frame = pd.DataFrame(
        {"end": pd.to_datetime(["2024-01-03", "2024-01-01", None, "2024-01-01"]), "days": [1.0, 2.0, np.nan, 3.0]}
    )
    done = endtoend.completion_order(frame)
    assert done["days"].tolist() == [2.0, 3.0, 1.0] and done["position"].tolist() == [1, 2, 3]


def _lifelines():
    """lifelines, or a skip; on CI (CI=true) a missing lifelines fails loudly: the Makefile installs it --no-deps."""
    from conftest import missing_oracle

    try:
        import lifelines
    except ImportError:
        missing_oracle("lifelines", "`make install` adds it with --no-deps (it pins pandas<3)")
    return lifelines


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_kaplan_meier_matches_lifelines(seed):
    lifelines = _lifelines()
    rng = np.random.default_rng(seed)
    n = 200
    d = np.round(rng.lognormal(2.5, 0.8, n), 1)
    e = rng.random(n) > (0.1 + 0.2 * seed)
    kmf = lifelines.KaplanMeierFitter().fit(d, e)
    ours = endtoend.survival(d, e)
    sf = kmf.survival_function_.iloc[1:, 0]  # lifelines starts at t=0
    np.testing.assert_allclose(ours.times, sf.index.to_numpy())
    np.testing.assert_allclose(ours.surviving, sf.to_numpy())
    theirs_median = kmf.median_survival_time_
    theirs_p85 = (
        lifelines.utils.qth_survival_times(0.15, kmf.survival_function_).iloc[0, 0]
        if hasattr(lifelines.utils.qth_survival_times(0.15, kmf.survival_function_), "iloc")
        else lifelines.utils.qth_survival_times(0.15, kmf.survival_function_)
    )
    assert (ours.median if ours.median is not None else np.inf) == theirs_median
    assert (ours.p85 if ours.p85 is not None else np.inf) == float(theirs_p85)


def test_one_censoring_date_per_service():
    """Housing repairs' last dates: demand 18 Jan 09:00 (C09), events 20 Jan 09:00 (R4's Inspect), cases 11 Jan:
    20 Jan 09:00. Council tax: T1's 1 Feb 09:00. A period ending 15 Jan caps both at midnight after it (16 Jan)."""
    demand, events = _csv("demand.csv", received_at=1), _csv("events.csv", timestamp=1)
    cases = _csv("cases.csv", opened_at=1, closed_at=1)
    dates = endtoend.censor_dates(demand=demand, events=events, cases=cases)
    assert dates["housing-repairs"] == pd.Timestamp("2024-01-20 09:00")
    assert dates["council-tax"] == pd.Timestamp("2024-02-01 09:00")
    assert endtoend.censor_date(demand=_housing(demand), cases=_housing(cases)) == pd.Timestamp("2024-01-18 09:00")
    capped = endtoend.censor_dates(demand=demand, events=events, cases=cases, end="2024-01-15")
    assert capped["housing-repairs"] == capped["council-tax"] == pd.Timestamp("2024-01-16")
    # council-wide: each case censored at its own service's date
    e2e = endtoend.case_times(events=events, cases=cases, data_end=dates)
    assert e2e.frame.set_index("case_id").loc["R4", "duration"] == 10


def test_every_stage_censors_an_open_case_at_the_same_date(testshire):
    """R4 (opened 10 Jan, open) is 10 days old on flow, measure and the scan alike (it was 10, 8 and 22)."""
    from systemic_lib.analysis import flow, measure, scan
    from systemic_lib.display import report

    stage = lambda name, svc="housing-repairs": report.Stage(testshire, svc, name)
    f = flow.load(stage("flow")).end_to_end_cases
    m = measure.load(stage("measure")).per_case.cases
    for e2e in (f, m):
        assert e2e.data_end == pd.Timestamp("2024-01-20 09:00")
        assert e2e.frame.set_index("case_id").loc["R4", "duration"] == 10
    s = scan.load(report.Stage(testshire, None, "organisation_scan")).table.set_index("service")
    assert s.loc["housing-repairs", "p85_at_least"] == 10
    assert endtoend.stage_censor_date(stage("flow")) == pd.Timestamp("2024-01-20 09:00")


def test_closes_case_in_council_yaml_ends_cases_without_cases_csv(council_factory):
    """Testshire without cases.csv: with housing's ``closes_case: [Fix]`` R1, R2 and R3 end at their Fix (10, 4 and
    0.5 days from their first step) and R4 (no Fix) is open; without it every case is open. A closing activity no
    step has is a council.yaml error naming the key and the activity."""
    from systemic_lib.analysis import flow
    from systemic_lib.data.council import load_council, validate_council
    from systemic_lib.display import report

    yaml_text = TESTSHIRE["council.yaml"].replace(
        "purpose: Fix my home properly first time}", "purpose: Fix my home properly first time, closes_case: [Fix]}"
    )
    path = council_factory("closing", council_yaml=yaml_text, cases=None)
    assert load_council(path).service("housing-repairs").closes_case == ["Fix"]
    e2e = flow.load(report.Stage(path, "housing-repairs", "flow")).end_to_end_cases
    f = e2e.frame.set_index("case_id")
    assert f["days"].tolist()[:3] == [10, 4, 0.5] and f["open"].tolist() == [False, False, False, True]
    assert e2e.end_from == {"closing step": 3}
    plain = flow.load(report.Stage(council_factory("plain", cases=None), "housing-repairs", "flow"))
    assert plain.end_to_end_cases.n_open == 4
    wrong = council_factory("wrong", council_yaml=yaml_text.replace("[Fix]", "[Fixx]"))
    problems = [p for p in validate_council(wrong) if p.file == "council.yaml"]
    assert len(problems) == 1 and problems[0].column == "services.0.closes_case.0"
    assert "closes_case names activity 'Fixx'" in problems[0].message and "housing-repairs" in problems[0].message


def test_every_page_counts_a_services_cases_the_same(council_factory):
    """One count per service on every page (issue 19: flow said 168 open of 1,558, measure 173 of 1,563 for the same
    service). Testshire's housing repairs plus R5, in cases.csv but with no step recorded yet: 5 cases, 2 open (R4,
    R5) on the flow report, in the measure stage's per-case figures, behind the demand report's cost of waiting and
    in the organisation scan; the flow report's paths and map still describe the 4 cases with steps."""

    from systemic_lib.analysis import flow, joined, measure, scan
    from systemic_lib.data.stages import Stage

    yaml = TESTSHIRE["council.yaml"].replace(
        "purpose: Fix my home properly first time}",
        "purpose: Fix my home properly first time, measures: [{id: end_to_end_days}]}",
    )
    path = council_factory(council_yaml=yaml, cases=TESTSHIRE["cases.csv"] + "R5,housing-repairs,2024-01-19 09:00,\n")
    one = lambda name: Stage(path, "housing-repairs", name)
    f = flow.figures(flow.load(one("flow")))
    assert (f["cases"], f["open_cases"], f["cases_with_steps"]) == (5, 2, 4)
    assert (f["end_to_end"]["cases"], f["end_to_end"]["open_cases"]) == (5, 2)
    assert "1 of these cases has no step recorded yet" in " ".join(flow.summary_sentences(flow.load(one("flow"))))
    per_case = measure.load(one("measure")).per_case.cases
    assert (per_case.n, per_case.n_open) == (5, 2)
    assert (joined.load(one("demand")).cases.n, joined.load(one("demand")).cases.n_open) == (5, 2)
    everyone = endtoend.stage_cases(one("measure"))
    assert (everyone.n, everyone.n_open) == (5, 2)
    assert endtoend.count_words(everyone) == "5 cases, 2 still open"
    hr = next(
        s
        for s in scan.figures(scan.load(Stage(path, None, "organisation_scan")))["services"]
        if s["service"] == "housing-repairs"
    )
    assert (hr["cases"], hr["open_cases"], hr["closed_cases"]) == (5, 2, 3)


def test_a_period_keeps_the_cases_open_in_it():
    """``in_period``: a case belongs to a period when it was open at some time in it; the definition's counts (how
    each end was known) are recounted for the cases kept."""
    t = _seven_cases()
    every = endtoend.case_times(**t)
    kept = endtoend.in_period(every, "2024-01-06", "2024-01-09")
    f = every.frame.set_index("case_id")
    expected = [
        c
        for c in f.index
        if not (f.loc[c, "end"] < pd.Timestamp("2024-01-06")) and not (f.loc[c, "start"] >= pd.Timestamp("2024-01-10"))
    ]
    assert kept.frame["case_id"].tolist() == expected
    assert sum(kept.end_from.values()) == kept.n_finished
    assert endtoend.in_period(every) is every


def test_a_period_gives_every_page_the_same_count(testshire):
    """With a period (6 to 31 Jan 2024), housing repairs has the cases open at some time in it: R1 (closed 11 Jan),
    R2 (closed 6 Jan) and R4 (open); R3 closed on 5 Jan. The flow report, the scan and ``stage_cases`` agree."""
    from systemic_lib.analysis import flow, scan
    from systemic_lib.data.stages import Stage

    period = dict(period_start="2024-01-06", period_end="2024-01-31")
    f = flow.figures(flow.load(Stage(testshire, "housing-repairs", "flow", **period)))
    assert (f["cases"], f["open_cases"]) == (3, 1)
    everyone = endtoend.stage_cases(Stage(testshire, "housing-repairs", "measure", **period))
    assert sorted(everyone.frame["case_id"]) == ["R1", "R2", "R4"] and everyone.n_open == 1
    hr = (
        scan.load(Stage(testshire, None, "organisation_scan", **period))
        .table.set_index("service")
        .loc["housing-repairs"]
    )
    assert (hr["cases"], hr["open_cases"]) == (3, 1)
