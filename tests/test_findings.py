"""What we found: every stage page and the scan open with the service's purpose and a few plain sentences built from
the page's own figures, each with its count and period, then the system conditions to act on beside the thinking
behind them. Testshire's figures are hand-computed (conftest)."""

from __future__ import annotations

import re

import pandas as pd
from test_sections_conditions import raise_some

from systemic_lib.analysis import demand, experiment, flow, measure, scan
from systemic_lib.display import report
from systemic_lib.display.sections import conditions, opening

PERIOD = re.compile(r"\d{1,2} (Jan|January) 2024 to \d{1,2} (Jan|January|Feb|February) 2024")


def _stage(folder, stage, service="housing-repairs"):
    return report.Stage(folder, service, stage)


def test_demand_findings_name_the_largest_failure_demand_what_matters_and_one_stop(testshire):
    found = demand.findings(demand.load(_stage(testshire, "demand")))
    assert found[0] == demand.headline(demand.load(_stage(testshire, "demand")))
    # 3 of the 4 failure contacts are "when will repair be done"; 2 of the 5 with what matters say "knowing when";
    # 3 of the 7 contacts with one-stop recorded were resolved at the first contact
    assert found[1] == (
        "The largest failure demand is \u201cwhen will repair be done\u201d: 3 of the 4 failure demand contacts "
        "(75%), 1 Jan 2024 to 18 Jan 2024."
    )
    assert "\u201cknowing when\u201d: said in 2 of the 5 contacts with what matters recorded (40%)" in found[2]
    assert found[3].startswith("43% of the 7 contacts where it was recorded were resolved at the first point")
    assert all(PERIOD.search(s) and re.search(r"\d", s) for s in found)


def test_flow_findings_say_end_to_end_with_its_open_cases_hands_waste_and_rework(testshire):
    found = flow.findings(flow.load(_stage(testshire, "flow")))
    assert found[0] == (
        "End to end, half take 4.0 days or less and more than 15% take longer than 10 days (4 cases, counting the "
        "1 still open as still waiting; 1 January 2024 to 20 January 2024)."
    )
    assert "1.0 hand-offs and 1.8 different people" in found[1] and "22% of the classified steps" in found[2]
    assert found[3].startswith("No case went back through a step")
    assert 3 <= len(found) <= 5 and all(PERIOD.search(s) for s in found)


def test_measure_experiment_and_scan_findings(testshire):
    assert measure.findings(measure.load(_stage(testshire, "measure"))) == [
        "No measure of Housing repairs has enough data for a capability chart yet."
    ]
    (none,) = experiment.findings(experiment.load(_stage(testshire, "experiment")))
    assert none.startswith("No experiment yet:") and "(4 cases on file, 1 January 2024 to 20 January 2024)" in none
    assert "council.yaml" not in none and "cohort" not in none  # no set-up instructions for a manager
    found = scan.findings(scan.load(_stage(testshire, "organisation_scan", None)))
    assert found[0] == scan.headline(scan.load(_stage(testshire, "organisation_scan", None)))
    assert "56% of the 9 classified contacts were failure demand, 1 Jan 2024 to" in found[1]
    assert len(found) == 2  # the services the rule leaves out (too small to judge) are never named


def _weekly_demand(per_week: list[int]) -> str:
    rows = ["contact_id,service,received_at,channel,demand_type,classification"]
    for week, n in enumerate(per_week):
        for k in range(n):
            day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=7 * week + k % 5, hours=9)
            kind = "value" if k % 3 else "failure"
            rows.append(f"C{week}-{k},housing-repairs,{day:%Y-%m-%d %H:%M},phone,fix it,{kind}")
    return "\n".join(rows) + "\n"


def test_a_measure_is_called_predictable_only_without_special_causes(council_factory):
    steady = [10, 12] * 10  # 20 weeks, no signal
    spiky = steady[:15] + [60] + steady[16:]  # week 16 far above the limits
    for weeks, predictable in ((steady, True), (spiky, False)):
        folder = council_factory(f"weeks{predictable}", demand=_weekly_demand(weeks), events=None, cases=None)
        found = measure.findings(measure.load(_stage(folder, "measure")))
        line = next(s for s in found if s.startswith("Demand per week:"))
        # mean 11, mean moving range 2: limits 11 ± 2.66 × 2 = 5.7 to 16
        assert ("predictably between 5.7 contacts and 16 contacts" in line) is predictable, line
        assert ("but special causes mean it is not yet predictable" in line) is not predictable, line
        assert "(20 weeks, 1 Jan 2024 to 19 May 2024)" in line


def test_system_conditions_to_act_on_stand_beside_their_thinking(testshire):
    raise_some(testshire)
    (said,) = conditions.to_act_on(_stage(testshire, "demand"), "demand")
    assert said == (
        "2 system conditions to act on, raised at the demand step (1 Feb 2024 to 2 Feb 2024): "
        "\u201cRepairs booked by the contact centre\u201d (open; the thinking behind it: \u201cCall handling is "
        "cheaper\u201d); the waste \u201cWrong trade sent\u201d (in hand; condition not yet named)."
    )
    assert conditions.to_act_on(_stage(testshire, "flow"), "flow") == []  # its one condition is changed
    (council,) = conditions.to_act_on(_stage(testshire, "organisation_scan", None), None)
    assert council.startswith("3 system conditions to act on, across the services") and "1 more below" in council


def test_the_opening_shows_purpose_findings_and_conditions_escaped(testshire, shown):
    raise_some(testshire)
    opening.show(_stage(testshire, "demand"), ["<b>bold</b> finding, 3 contacts"])
    html = shown[0]
    assert html.startswith('<section class="opening" aria-labelledby="what-we-found"><p class="purpose">')
    assert '<h2 id="what-we-found">What we found</h2>' in html
    assert "&lt;b&gt;bold&lt;/b&gt; finding" in html and "<b>" not in html
    assert "Call handling is cheaper" in html
    shown.clear()
    opening.show(_stage(testshire, "organisation_scan", None), ["One finding"])
    assert "What each service is for" in shown[0] and "<dt>Housing repairs</dt>" in shown[0]
