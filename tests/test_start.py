"""Where to start, as evidence (systemic_lib.analysis.start): the traps of issue 19, each on a council built for it.

Each council is written by ``_council``: per service, N value and M failure contacts over 1 Jan to 30 Jun 2024 and
cases of given lengths (all closed unless said), so every figure below is countable by hand.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from systemic_lib.analysis import scan, start
from systemic_lib.data.stages import Stage
from systemic_lib.display.sections import scan as section

T0 = pd.Timestamp("2024-01-01 09:00")


def _council(council_factory, name: str, services: dict, *, experiment: str | None = None, yaml_extra: str = ""):
    """``services``: id -> dict(name, value, failure, days: [end-to-end days of closed cases], opened: [the day
    each opened, counted from 1 Jan 2024; default the case's index], open: number of open cases opened 1 Jun 2024,
    cohorts: {case index: cohort}). Returns a council-wide Stage."""
    demand = ["contact_id,service,received_at,channel,verbatim,demand_type,classification,failure_type"]
    cases = ["case_id,service,opened_at,closed_at,cohort"]
    k = 0
    for sid, spec in services.items():
        for kind in ("value", "failure"):
            for _ in range(spec.get(kind, 0)):
                at = T0 + pd.Timedelta(hours=7 * k)
                failure = "progress chasing" if kind == "failure" else ""
                demand.append(f"C{k:06d},{sid},{at:%Y-%m-%d %H:%M},phone,words,{kind} type,{kind},{failure}")
                k += 1
        cohorts = spec.get("cohorts", {})
        for i, days in enumerate(spec.get("days", [])):
            opened = T0 + pd.Timedelta(days=spec["opened"][i] if "opened" in spec else i % 150)
            closed = opened + pd.Timedelta(days=days)
            cases.append(f"{sid}-{i},{sid},{opened:%Y-%m-%d %H:%M},{closed:%Y-%m-%d %H:%M},{cohorts.get(i, '')}")
        for i in range(spec.get("open", 0)):
            cases.append(f"{sid}-open-{i},{sid},2024-06-01 09:00,,{cohorts.get(('open', i), '')}")
    yaml = [f"name: {name}", "services:"]
    for sid, spec in services.items():
        yaml.append(f"  - id: {sid}\n    name: {json.dumps(spec['name'])}\n    purpose: Help the citizen")
        if sid == experiment:
            yaml.append("    experiment: {start: 2024-04-01, team: Home first team}")
    folder = council_factory(
        name.lower().replace(" ", "-"),
        base={},
        council_yaml="\n".join(yaml) + "\n" + yaml_extra,
        demand="\n".join(demand) + "\n",
        cases="\n".join(cases) + "\n",
    )
    return Stage(folder, None, "organisation_scan")


def test_eastbrook_a_close_score_never_hides_two_and_a_half_times_the_failure_demand(council_factory):
    """Eastbrook: the old score named Planning by 0.017 (1.419 against 1.402) though council tax had 2.4 times its
    failure demand. Here council tax has 240 failure contacts of 400 classified, planning 100 of 200; planning's
    cases take 70 days, council tax's 28. Both lead, on different evidence: both are named, side by side, and no
    single winner is declared."""
    stage = _council(
        council_factory,
        "Eastbrook",
        {
            "council-tax": {"name": "Council tax", "value": 160, "failure": 240, "days": [28] * 60},
            "planning": {"name": "Planning", "value": 100, "failure": 100, "days": [70] * 40},
            "parking": {"name": "Parking permits", "value": 150, "failure": 50, "days": [9] * 50},
        },
    )
    data = scan.load(stage)
    point = scan.starting_point(data)
    assert point.services == ["council-tax", "planning"] and not point.close_call
    assert scan.period_caption(data) == "1 Jan 2024 to 21 Aug 2024"  # contacts every 7 hours
    assert point.sentence == (
        "From 1 Jan 2024 to 21 Aug 2024, Council tax had the most failure demand (240 of 400 classified contacts, "
        "60%) and Planning the longest end-to-end time (median 70 days; 40 cases). They lead on different "
        "evidence: compare them side by side before choosing."
    )
    assert not point.sentence.startswith("Start with")
    saved = scan.figures(data)["where_to_start"]
    assert saved["services"] == ["council-tax", "planning"] and saved["close_call"] is False
    assert saved["sentence"] == point.sentence and saved["excluded"] == []


def test_northshire_never_sends_managers_where_an_experiment_already_runs(council_factory):
    """Northshire: the scan sent managers to adult social care, where an experiment team had worked since July, on a
    "69 days" that mixed the team's cases with the old system's. Here social care's cases before 1 Apr took 80 days,
    the old system's alongside 80, the team's 20: it is not named, and its end-to-end time is split by cohort."""
    alongside = {i: "baseline" for i in range(45, 60)}
    team = {i: "experiment" for i in range(60, 80)}
    days = [80] * 45 + [80] * 15 + [20] * 20
    opened = list(range(45)) + [100 + i for i in range(35)]  # 45 before 1 Apr (day 91), 35 from 10 Apr
    stage = _council(
        council_factory,
        "Northshire",
        {
            "repairs": {"name": "Housing repairs", "value": 100, "failure": 80, "days": [25] * 50},
            "social-care": {
                "name": "Adult social care",
                "value": 60,
                "failure": 90,
                "days": days,
                "opened": opened,
                "cohorts": {**alongside, **team},
            },
        },
        experiment="social-care",
    )
    data = scan.load(stage)
    point = scan.starting_point(data)
    assert "social-care" not in point.services
    assert point.services == ["repairs"]
    assert [e["kind"] for e in point.excluded if e["service"] == "social-care"] == ["experiment"]
    assert "Adult social care is not named: an experiment team has worked there since 1 April 2024." in point.sentence
    cohorts = {c["label"]: c for c in data.experiments["social-care"]["cohorts"]}
    assert cohorts["the experiment team"]["cases"] == 20 and cohorts["the experiment team"]["median_days"] == 20
    assert sum(c["cases"] for c in cohorts.values()) == 80
    assert "the experiment team, median 20 days (20 cases)" in point.sentence
    rows = start.evidence_rows(data.table, point, experiments=data.experiments)
    assert rows.set_index("Service").loc["Adult social care", "Named"] == "for comparison"
    assert "the experiment team, median 20 days" in rows.set_index("Service").loc["Adult social care", "Experiment"]
    assert "(experiment team since 1 Apr 2024" in " ".join(scan.flow_rows(data)["Service"])


def test_a_catch_all_category_is_never_named_and_is_a_data_problem(council_factory):
    """A real casework import told managers to start with a 281-contact catch-all category ("Please choose an
    issue...") because its few cases were old. Here it has 281 contacts, 200 of them failure, and 35 cases of 400
    days: it would lead on both. It is never named; the data problems say why and how to fix it."""
    stage = _council(
        council_factory,
        "Casework",
        {
            "please-choose": {"name": "Please choose an issue...", "value": 81, "failure": 200, "days": [400] * 35},
            "housing": {"name": "Housing advice", "value": 120, "failure": 90, "days": [30] * 60},
            "unassigned": {"name": "Unassigned", "value": 10, "failure": 300, "days": [500] * 40},
            "other": {"name": "Other", "value": 10, "failure": 250, "days": [10] * 40},
        },
    )
    data = scan.load(stage)
    point = scan.starting_point(data)
    assert point.services == ["housing"]
    assert {e["service"] for e in point.excluded if e["kind"] == "catch-all"} == {
        "please-choose",
        "unassigned",
        "other",
    }
    for name in ("Please choose", "Unassigned", "Other"):
        assert name not in point.sentence
    problems = [p.message for p in scan.problems(stage, data)]
    assert any(
        m.startswith("\u201cPlease choose an issue...\u201d is not named where to start: a catch-all") for m in problems
    )


@pytest.mark.parametrize(
    "name",
    ["Please choose an issue...", "Select one", "Unassigned", "Other", "Others", "Miscellaneous", "Not yet assigned"],
)
def test_catch_all_names(name):
    assert start.is_catch_all("x", name)


@pytest.mark.parametrize("name", ["Housing repairs", "Mother and baby unit", "Brothers' support", "Council tax"])
def test_services_are_not_catch_alls(name):
    assert not start.is_catch_all("service-id", name)


def test_a_service_too_small_to_judge_is_never_named(council_factory):
    """MIN_CLASSIFIED and MIN_CASES: a service with 20 classified contacts (all failure) and 10 cases of 300 days
    would have led on both shares; it is not named, and says what is missing."""
    stage = _council(
        council_factory,
        "Smalltown",
        {
            "tiny": {"name": "Tiny service", "value": 0, "failure": 20, "days": [300] * 10},
            "bins": {"name": "Bins", "value": 200, "failure": 60, "days": [10] * 80},
        },
    )
    point = scan.starting_point(scan.load(stage))
    assert point.services == ["bins"]
    assert point.sentence.startswith("From 1 Jan 2024 to ")
    assert "Bins led on both failure demand (60 of 260 classified contacts, 23%) and end-to-end time" in point.sentence
    tiny = next(e for e in point.excluded if e["service"] == "tiny")
    assert tiny["kind"] == "too small" and "20 classified contacts and 10 cases" in tiny["reason"]


def test_a_close_call_is_said_and_both_are_named(council_factory, shown):
    """Failure contacts 100 and 95 (within 10%): a close call; the rule is stated on the page."""
    stage = _council(
        council_factory,
        "Closeby",
        {
            "a": {"name": "Service A", "value": 100, "failure": 100, "days": [40] * 40},
            "b": {"name": "Service B", "value": 100, "failure": 95, "days": [20] * 40},
        },
    )
    data = scan.load(stage)
    point = scan.starting_point(data)
    assert point.services == ["a", "b"] and point.close_call
    assert "A close call: Service B has almost as much failure demand (95 of 195 classified contacts, 49%)." in (
        point.sentence
    )
    section.show_where_to_start(data)
    page = "\n".join(shown)
    assert "Where to start: the evidence side by side" in page
    assert "within 10% of the leader" in page
