"""Classification provenance: who or what classified each contact (``classified_by``), the share classified by rules
on the demand headline and the scan, the team-only Pareto, and demand, measure and scan agreeing on the classified
counts of one period.

Ruleshire (``RULESHIRE``), housing repairs, three whole weeks (Mon 1 Jan to Sun 21 Jan 2024), six contacts a week:
two "fix boiler" value in the file (source), one classified with a coach (failure, "coach:Sam"; value in week 3),
two "when will it be done" blank (rule on row 2: failure), one "odd thing" blank (no rule matches: unclassified).
Plus one contact on 25 Jan, outside the period. In the period: 18 contacts, classified 15 = 6 by rules + 3 coach +
6 source; value 7 (6 source + the week-3 coach one), failure 8 (6 rules + 2 coach), unclassified 3; 6 of 15 classified
by rules = 40%. Weekly failure %: 3/5, 3/5, 2/5 = 60, 60, 40 (mean 53.33...). Without the rules each week has only 3
classified contacts, below the measure stage's 5 a week, so it could chart nothing.
"""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest

from systemic_lib.analysis import demand, measure, scan
from systemic_lib.data import classify
from systemic_lib.data.stages import Stage
from systemic_lib.display.charts import demand as charts


def _ruleshire_demand() -> str:
    rows = ["contact_id,service,received_at,channel,verbatim,demand_type,classification,failure_type,classified_by"]
    n = 0
    for week in range(3):
        day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=7 * week)
        coach = "value," if week == 2 else "failure,not done"
        for demand_type, klass, by in (
            ("fix boiler", "value,", ""),
            ("fix boiler", "value,", ""),
            ("fix boiler" if week == 2 else "repair not right", coach, "coach:Sam"),
            ("when will it be done", ",", ""),
            ("when will it be done", ",", ""),
            ("odd thing", ",", ""),
        ):
            n += 1
            when = (day + pd.Timedelta(hours=9 + n % 6)).strftime("%Y-%m-%d %H:%M")
            rows.append(f"C{n:02d},housing-repairs,{when},phone,said {n},{demand_type},{klass},{by}")
    rows.append("C99,housing-repairs,2024-01-25 09:00,phone,late,when will it be done,,,")
    return "\n".join(rows) + "\n"


RULESHIRE = {
    "council.yaml": textwrap.dedent("""\
        name: Ruleshire Council
        services:
          - {id: housing-repairs, name: Housing repairs, purpose: Fix my home properly first time}
    """),
    "demand.csv": _ruleshire_demand(),
    "rules.csv": "service,column,pattern,classification,failure_type\n"
    ",demand_type,when will,failure,progress chasing\n"
    ",demand_type,^fix,value,\n",
}
PERIOD = {"period_start": "2024-01-01", "period_end": "2024-01-21"}


@pytest.fixture
def ruleshire(council_factory):
    return council_factory("ruleshire", base=RULESHIRE)


def test_apply_rules_records_the_rule_row():
    contacts = pd.DataFrame(
        {
            "demand_type": ["when will it be", "fix it", "odd"],
            "classification": [None, "value", None],
            "failure_type": [None, None, None],
            "classified_by": [None, "coach:Sam", None],
        }
    )
    result = classify.apply_rules(
        contacts, [{"column": "demand_type", "pattern": "when", "classification": "failure"}], first_row=2
    )
    assert result.frame["classified_by"].tolist()[:2] == ["rule:2", "coach:Sam"]
    assert pd.isna(result.frame["classified_by"].iloc[2])
    no_column = classify.apply_rules(
        contacts.drop(columns="classified_by"),
        [{"column": "demand_type", "pattern": "odd", "classification": "value"}],
        first_row=5,
    )
    assert no_column.frame["classified_by"].tolist()[2] == "rule:5"


def test_stage_contacts_mark_source_and_leave_unclassified_blank(ruleshire):
    contacts = Stage(ruleshire, "housing-repairs", "demand", "2024-01-01", "2024-01-21").contacts()
    by = contacts.frame["classified_by"].fillna("")
    assert by.value_counts().to_dict() == {"source": 6, "coach:Sam": 3, "rule:2": 6, "": 3}
    assert contacts.frame.loc[by.eq(""), "classification"].isna().all()
    assert classify.provenance(contacts.frame) == {
        "classified": 15,
        "rule": 6,
        "coach": 3,
        "source": 6,
        "not_recorded": 0,
        "rules_pct": 40.0,
    }


def test_team_only_pareto_leaves_out_what_rules_classified(ruleshire):
    data = demand.load(Stage(ruleshire, "housing-repairs", "demand", "2024-01-01", "2024-01-21"))
    everyone = demand.pareto(data.contacts)
    team = demand.pareto(data.contacts, team_only=True)
    assert everyone["contacts"].sum() == 18 and team["contacts"].sum() == 12
    assert "when will it be done" in set(everyone["demand_type"]) - set(team["demand_type"])
    assert demand.demand_types(data.contacts, team_only=True)["total"].sum() == 12
    ax = charts.pareto_chart(data.contacts, team_only=True)
    assert "team's judgement only, 6 classified by rules left out" in ax.get_title()
    assert "(12 contacts" in ax.get_title()


def test_headline_says_the_share_classified_by_rules(ruleshire):
    data = demand.load(Stage(ruleshire, "housing-repairs", "demand", "2024-01-01", "2024-01-21"))
    assert demand.headline(data) == (
        "From 1 January 2024 to 15 January 2024, Housing repairs received 18 contacts; "
        "15 classified so far (of which 40% classified by rules): 53% of those were "
        "failure demand (3 not yet classified)."
    )
    assert demand.figures(data)["classified_by_rules"] == 6
    rows = scan.demand_rows(scan.load(Stage(ruleshire, None, "organisation_scan", "2024-01-01", "2024-01-21")).table)
    assert rows.set_index("Service").loc["Housing repairs", "Classified"] == "15, of which 40% classified by rules"


def test_demand_measure_and_scan_agree_on_classified_counts(ruleshire, run_stage_notebook):
    """The three stages, rendered as the batch does for the same period, report the same classified contacts."""
    d, d_html = run_stage_notebook("demand", council_dir=str(ruleshire), service="housing-repairs", **PERIOD)
    s, _ = run_stage_notebook("organisation_scan", council_dir=str(ruleshire), service=None, **PERIOD)
    m, _ = run_stage_notebook("measure", council_dir=str(ruleshire), service="housing-repairs", **PERIOD)
    assert (d["contacts"], d["value"], d["failure"], d["unclassified"], d["classified_by_rules"]) == (18, 7, 8, 3, 6)
    assert "of which 40% classified by rules" in d_html
    assert "the team&#x27;s own judgement" in d_html or "the team's own judgement" in d_html
    hr = s["services"][0]
    assert (hr["contacts"], hr["value"], hr["failure"], hr["unclassified"], hr["classified_by_rules"]) == (
        18,
        7,
        8,
        3,
        6,
    )
    assert s["classified_by_rules"] == 6
    # The measure stage's weekly failure demand % rests on the same 5 classified contacts a week (3, 3 and 2 failure):
    # without the rules there would be 3 a week, too few to chart.
    fd = m["measures"]["failure_demand_pct"]
    assert fd["n_points"] == 3
    assert fd["phases"][0]["mean"] == pytest.approx((60 + 60 + 40) / 3)
    got = measure.load(Stage(ruleshire, "housing-repairs", "measure", "2024-01-01", "2024-01-21")).contacts
    inside = got[got["received_at"] < "2024-01-22"]
    assert classify.provenance(inside)["rule"] == 6
    assert inside["classification"].value_counts().to_dict() == {"failure": 8, "value": 7}
