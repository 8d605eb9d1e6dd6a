"""Flow figures on a small hand-computed log, bad input, and equality with pm4py on the real receipt log."""

import numpy as np
import pandas as pd
import pytest

from systemic_lib.analysis import flow
from systemic_lib.config import SHARED_REAL_DATA

from conftest import needs_file, needs_pm4py

T = pd.Timestamp


def small_log():
    # Case A: Ask(w1) -> Check(w2) -> Ask(no worker, team t2) -> Fix(w3, t1); row 6 is out of file order.
    # Case B: Ask(w1) -> Fix(w1).
    return pd.DataFrame(
        {
            "case_id": ["A", "A", "A", "B", "B", "A"],
            "service": ["s"] * 6,
            "activity": ["Ask", "Check", "Ask", "Ask", "Fix", "Fix"],
            "timestamp": [
                T("2024-01-01 09:00"),
                T("2024-01-02 09:00"),
                T("2024-01-03 09:00"),
                T("2024-01-01 00:00"),
                T("2024-01-05 00:00"),
                T("2024-01-04 09:00"),
            ],
            "worker": ["w1", "w2", None, "w1", "w1", "w3"],
            "team": ["t1", "t2", "t2", "t1", "t1", "t1"],
            "hours": [1, 0.5, None, 2, 1, 1],
            "face_to_face": pd.array([True, False, None, False, True, False], dtype="boolean"),
        }
    )


CATALOGUE = pd.DataFrame(
    {
        "service": ["s"] * 3,
        "activity": ["Ask", "Check", "Fix"],
        "step_type": ["value", "waste", "value"],
        "category": ["contact", "check", "delivery"],
    }
)
#: The same catalogue with Fix marked as the step that meets the need: without cases.csv, what ends a case.
CLOSING = CATALOGUE.assign(closes_case=[False, False, True])


def test_case_table_hand_computed():
    ct = flow.case_table(small_log(), catalogue=CATALOGUE).set_index("case_id")
    assert list(flow.case_table(small_log(), catalogue=CATALOGUE).columns) == flow.CASE_COLUMNS
    a, b = ct.loc["A"], ct.loc["B"]
    assert a["first_at"] == T("2024-01-01 09:00") and a["last_at"] == T("2024-01-04 09:00")
    assert a["end_to_end_days"] == 3.0 and b["end_to_end_days"] == 4.0
    assert (a["steps"], a["value_steps"], a["waste_steps"], a["unclassified_steps"]) == (4, 3, 1, 0)
    assert a["handoffs"] == 2  # w1->w2 (worker), w2->none (team t2=t2: no), none->w3 (team t2->t1: yes)
    assert a["people"] == 3 and b["people"] == 1 and b["handoffs"] == 0
    assert a["rework"] == 1 and b["rework"] == 0
    assert a["touch_hours"] == 2.5 and a["face_to_face_hours"] == 1.0
    assert (a["n_contact"], a["n_check"], a["n_delivery"], a["n_rework"]) == (2, 1, 1, 0)
    assert {"n_hand_off", "n_chasing", "n_waiting", "n_assessment", "n_referral"} <= set(ct.columns)


def test_summary_and_paths_hand_computed():
    # Without cases.csv a case ends only at a step that closes it: with none marked, both cases are open and have
    # no end-to-end time (never a partial one).
    unmarked = flow.FlowLog(small_log(), catalogue=CATALOGUE).summary()
    assert unmarked["open_cases"] == 2 and unmarked["median_days"] is None and unmarked["mean_days"] is None
    assert unmarked["median_at_least"] == 4.0  # B has waited 4 days by the data's last date (5 Jan)
    log = flow.FlowLog(small_log(), catalogue=CLOSING)
    s = log.summary()
    assert (s["cases"], s["events"]) == (2, 6)
    # A ends at its Fix (3 days), B at its Fix (4 days). Kaplan–Meier: half have finished at 3 days, all at 4.
    assert s["median_days"] == 3.0 and s["p85_days"] == 4.0 and s["mean_days"] == 3.5 and s["open_cases"] == 0
    assert s["rework_share"] == 0.5 and s["mean_handoffs"] == 1.0 and s["mean_people"] == 2.0
    assert s["value_step_share"] == pytest.approx(5 / 6, abs=1e-4)
    assert [v["path"] for v in s["variants"]] == ["Ask → Check → Ask → Fix", "Ask → Fix"]
    assert s["clean_flow"]["clean"] == ["Ask", "Fix"] and s["clean_flow"]["clean_source"] == "observed"
    dfg = log.directly_follows.set_index(["from_activity", "to_activity"])
    assert dfg.loc[("Ask", "Fix"), "count"] == 2
    assert dfg.loc[("Ask", "Fix"), "median_wait_days"] == 2.5  # A: 1 day, B: 4 days
    assert dfg.loc[("Ask", "Check"), "count"] == 1
    assert log.problems.unsorted == 1
    per_service = flow.service_summary(small_log(), catalogue=CLOSING).set_index("service")
    assert per_service.loc["s", "median_days"] == 3.0 and per_service.loc["s", "cases"] == 2
    assert per_service.loc["s", "p85_days"] == 4.0 and per_service.loc["s", "open_cases"] == 0
    unmarked = flow.service_summary(small_log(), catalogue=CATALOGUE).set_index("service")
    assert np.isnan(unmarked.loc["s", "median_days"]) and unmarked.loc["s", "median_at_least"] == 4.0


def test_bad_input_is_counted_not_dropped_silently():
    ev = small_log()
    bad = pd.DataFrame(
        {
            "case_id": [None, "C", "A", "D"],
            "service": ["s"] * 4,
            "activity": ["Ask", "Ask", "Ask", "Mystery"],
            "timestamp": [T("2024-01-01"), pd.NaT, T("2024-01-01 09:00"), T("2024-02-01")],
            "worker": [None, None, "w1", None],
            "team": [None, None, "t1", None],
            "hours": [None, None, 1, None],
            "face_to_face": pd.array([None, None, True, None], dtype="boolean"),
        }
    )
    log = flow.FlowLog(
        pd.concat([ev, bad], ignore_index=True),
        catalogue=CATALOGUE,
        cases=pd.DataFrame({"case_id": ["A", "B", "D"], "closed_at": [T("2024-01-04"), T("2024-01-05"), pd.NaT]}),
    )
    p = log.problems
    assert (p.no_case_id, p.no_timestamp, p.duplicates, p.single_event_cases, p.open_cases) == (1, 1, 1, 1, 1)
    assert p.first_row["Events with no case id"] == 8 and p.first_row["Events with no date/time"] == 9
    assert p.unclassified.to_dict("records") == [{"service": "s", "activity": "Mystery", "events": 1}]
    assert log.n_events == 10 - 3
    ct = log.case_table.set_index("case_id")
    assert ct.loc["D", "unclassified_steps"] == 1 and ct.loc["D", "end_to_end_days"] == 0
    assert log.summary()["closed_cases"] == 2  # D is open: left out of end-to-end times
    assert any("Mystery" in pr.fix for pr in p.as_problems())


def test_mixed_time_zones_become_local_dates():
    ev = pd.DataFrame(
        {
            "case_id": ["A", "A", "B"],
            "service": "s",
            "activity": ["x", "y", "x"],
            "timestamp": ["2024-06-01T00:00:00+02:00", "2024-06-03 10:00", "2024-12-01T00:00:00+01:00"],
        }
    )
    log = flow.FlowLog(ev, local_zone="Europe/Amsterdam")
    assert log.problems.zone_converted == 2
    ct = log.case_table.set_index("case_id")
    assert ct.loc["A", "first_at"] == T("2024-06-01 00:00") and ct.loc["B", "first_at"] == T("2024-12-01")


def test_missing_required_column_names_the_file():
    with pytest.raises(Exception, match="events.csv.*timestamp"):
        flow.FlowLog(pd.DataFrame({"case_id": ["A"], "activity": ["x"]}))


def test_variants_hash_matches_exact_grouping():
    rng = np.random.default_rng(3)
    n = 20_000
    ev = pd.DataFrame(
        {
            "case_id": rng.integers(0, 3000, n).astype(str),
            "activity": rng.choice(list("abcd"), n),
            "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s"),
        }
    )
    log = flow.FlowLog(ev)
    srt = ev.sort_values(["case_id", "timestamp"], kind="stable")
    exact = srt.groupby("case_id")["activity"].agg(" → ".join).value_counts()
    v = log.variants(top=None)
    assert len(v) == len(exact) and v["cases"].sum() == ev["case_id"].nunique()
    assert dict(zip(v["path"], v["cases"])) == exact.to_dict()


@pytest.fixture(scope="module")
def receipt():
    path = SHARED_REAL_DATA / "wabo-receipt" / "receipt.xes.gz"
    needs_file(path)
    pm4py = needs_pm4py()
    log = pm4py.read_xes(str(path))
    log = log.sort_values(["case:concept:name", "time:timestamp"], kind="stable").reset_index(drop=True)
    return pm4py, log


def test_receipt_equals_pm4py(receipt):
    pm4py, log = receipt
    ev = pd.DataFrame(
        {
            "case_id": log["case:concept:name"],
            "activity": log["concept:name"],
            "timestamp": log["time:timestamp"],
            "worker": log["org:resource"],
        }
    )
    ours = flow.FlowLog(ev, local_zone="Europe/Amsterdam")
    assert ours.n_cases == log["case:concept:name"].nunique() == 1434
    assert ours.n_events == len(log) == 8577
    dfg, starts, ends = pm4py.discover_dfg(log)
    mine = {(r.from_activity, r.to_activity): r.count for r in ours.directly_follows.itertuples()}
    assert mine == dict(dfg)
    stats = ours.activity_stats
    assert {a: s for a, s in zip(stats["activity"], stats["starts"]) if s} == dict(starts)
    assert {a: e for a, e in zip(stats["activity"], stats["ends"]) if e} == dict(ends)
    assert ours.n_variants == len(pm4py.get_variants(log)) == 116
    durations = np.sort(np.asarray(pm4py.get_all_case_durations(log)))
    # durations in local time differ from UTC ones only across a clock change; compare in UTC
    utc = flow.FlowLog(ev.assign(timestamp=ev["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None)))
    assert np.allclose(np.sort(utc.case_table["end_to_end_days"].to_numpy() * 86400), durations)


def test_summary_says_when_almost_every_case_has_its_own_path():
    """BPIC 2015: 1,170 paths for 1,199 cases. The list of paths then describes a case or two each: say so."""
    rows = []
    for i in range(30):  # 30 cases, 25 different paths (cases 0-5 share one)
        steps = ["Ask", "Decide"] if i < 6 else ["Ask"] + [f"Step {i}"] + ["Decide"]
        rows += [
            {"case_id": f"C{i:02d}", "activity": a, "timestamp": T("2024-01-01") + pd.Timedelta(days=k)}
            for k, a in enumerate(steps)
        ]
    log = flow.FlowLog(pd.DataFrame(rows))
    assert log.n_variants == 25
    text = " ".join(flow.summary_sentences(log))
    assert (
        "Almost every case took a path of its own (25 different paths for 30 cases; the most common was taken by 6)"
    ) in text
    shared = pd.DataFrame(
        [
            {"case_id": f"C{i:02d}", "activity": a, "timestamp": T("2024-01-01") + pd.Timedelta(days=k)}
            for i in range(30)
            for k, a in enumerate(["Ask", "Step 1" if i % 2 else "Step 2", "Decide"])
        ]
    )
    assert "path of its own" not in " ".join(flow.summary_sentences(flow.FlowLog(shared)))  # 30 cases, 2 paths


def test_short_cases_are_told_in_hours_everywhere():
    """The receipt log: a median of 0.9 hours must not read '0.0 days or less' in the sentence under the headline."""
    rows = pd.DataFrame(
        {
            "case_id": ["A", "A", "B", "B", "C", "C"],
            "activity": ["Ask", "Fix"] * 3,
            "timestamp": [
                T("2024-01-01 09:00"),
                T("2024-01-01 09:30"),
                T("2024-01-02 09:00"),
                T("2024-01-02 10:00"),
                T("2024-01-03 09:00"),
                T("2024-01-13 09:00"),
            ],
        }
    )
    log = flow.FlowLog(
        rows,
        catalogue=pd.DataFrame(
            {
                "activity": ["Ask", "Fix"],
                "step_type": "value",
                "category": ["contact", "delivery"],
                "closes_case": [False, True],
            }
        ),
    )
    assert flow.headline(log).startswith("Cases took a median 1.0 hours end to end")
    text = " ".join(flow.summary_sentences(log))
    assert "Half the 3 finished cases took 1.0 hours or less" in text


def test_a_cases_export_with_no_steps_still_gives_end_to_end_time(council_factory, run_stage_notebook):
    """cases.csv alone (a case-management export, no events): the flow report says its flow cannot be mapped and
    gives the end-to-end time of the cases by the one definition. K1-K3 closed after 2, 4, 6 days; K4 open, censored
    at the service's last date in the council's tables (18 Jan): Kaplan-Meier median 4 days, 85th percentile not
    reached (more than 14 days)."""
    cases = (
        "case_id,service,opened_at,closed_at\n"
        "K1,housing-repairs,2024-01-01 09:00,2024-01-03 09:00\nK2,housing-repairs,2024-01-02 09:00,2024-01-06 09:00\n"
        "K3,housing-repairs,2024-01-03 09:00,2024-01-09 09:00\nK4,housing-repairs,2024-01-04 09:00,\n"
    )
    path = council_factory("casesonly", cases=cases, events=None)
    figures, html = run_stage_notebook("flow", council_dir=str(path), service="housing-repairs")
    e2e = figures["end_to_end"]
    assert (e2e["cases"], e2e["open_cases"], e2e["median_days"], e2e["p85_at_least"]) == (4, 1, 4.0, 14.0)
    assert figures["cases"] == 4  # every case counts, as on every page
    assert figures["cases_with_steps"] == 0  # no case has a recorded step
    assert "From the 4 cases in cases.csv alone, cases took a median 4.0 days end to end (1 case still open)" in html
    assert "so its flow cannot be mapped" in html and "Traceback" not in html


def test_the_clean_flow_counts_only_finished_cases_with_more_than_one_step():
    """Northshire repairs' "clean flow (14 cases)" was "Log repair" alone: 14 open cases only logged so far. Here 5
    open cases have only been logged (no waste: the most common waste-free path before), 3 finished cases went
    Ask -> Fix and 4 finished cases went Ask -> Check -> Fix. The clean flow is Ask -> Fix, followed by 3 finished
    cases, and the table says "finished cases"."""
    rows = [(f"O{i}", "Ask", T("2024-01-10") + pd.Timedelta(hours=i)) for i in range(5)]
    for i in range(3):
        rows += [(f"F{i}", "Ask", T("2024-01-01")), (f"F{i}", "Fix", T("2024-01-03"))]
    for i in range(4):
        rows += [(f"W{i}", a, T("2024-01-01") + pd.Timedelta(days=k)) for k, a in enumerate(["Ask", "Check", "Fix"])]
    ev = pd.DataFrame(rows, columns=["case_id", "activity", "timestamp"]).assign(service="s")
    log = flow.FlowLog(ev, catalogue=CLOSING)
    c = log.clean_flow()
    assert (c["clean"], c["clean_cases"], c["clean_source"], c["finished_cases"]) == (["Ask", "Fix"], 3, "observed", 7)
    assert (c["actual"], c["actual_cases"]) == (["Ask"], 5)  # the most common path is still said as it is
    assert "clean flow (3 finished cases)" in list(flow.clean_flow_table(log).columns)
    only_open = flow.FlowLog(ev[ev["case_id"].str.startswith("O")], catalogue=CLOSING).clean_flow()
    assert (only_open["clean_cases"], only_open["clean_source"]) == (0, "waste removed")


def test_the_checks_say_what_end_to_end_time_does_with_single_event_and_open_cases():
    """Issue 19: "single-event cases: kept, with an end-to-end time of 0 days" when all 78 were open, and "open cases:
    left out of end-to-end times" beside a Kaplan–Meier figure that counts them. Here 3 cases have one step so far,
    2 of them open (no close date) and 1 closed 6 days after it opened."""
    ev = pd.DataFrame(
        {
            "case_id": ["A", "B", "C", "D", "D"],
            "activity": ["Ask", "Ask", "Ask", "Ask", "Fix"],
            "timestamp": [T("2024-01-01"), T("2024-01-02"), T("2024-01-03"), T("2024-01-01"), T("2024-01-02")],
            "service": "s",
        }
    )
    cases = pd.DataFrame(
        {
            "case_id": list("ABCD"),
            "service": "s",
            "opened_at": [T("2024-01-01"), T("2024-01-02"), T("2024-01-03"), T("2024-01-01")],
            "closed_at": [T("2024-01-07"), pd.NaT, pd.NaT, T("2024-01-02")],
        }
    )
    log = flow.FlowLog(ev, catalogue=CATALOGUE, cases=cases)
    done = log.problems.table().set_index("check")["what was done"]
    single = done["Cases with a single event"]
    assert "0 days" not in single and "2 still open" in single and "first contact to the case closing" in single
    assert log.end_to_end_cases.frame.set_index("case_id").loc["A", "days"] == 6.0  # the one definition, not 0
    opened = done["Open cases (no end yet)"]
    assert "left out" not in opened and "still waiting" in opened
    assert log.problems.open_cases == 2
