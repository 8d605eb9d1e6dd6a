"""Measures derived from purpose: a service's own measures, defined in council.yaml, computed by hand.

Repairsville has one service and ten cases, all opened on Mon 1 Jan 2024: R1-R5 close in the week of 8 Jan (one a
day), R6-R10 in the week of 15 Jan. Contacts: one opening contact per case (1 Jan, linked), repeat contacts linked to
R2 (10 days after closing), R3 (40 days after: outside 30 days), R7 (5 days after) and R8 (1 day after), and one
unlinked contact on 1 Mar, so every case's 30 days have passed within the contacts.

* No repeat contact within 30 days: week of 8 Jan 4 of 5 (R2 repeats) = 80%; week of 15 Jan 3 of 5 (R7, R8) = 60%.
* Right first time (no rework step): R1 and R4 have a Revisit (rework) -> week of 8 Jan 3/5 = 60%; R6 -> 4/5 = 80%.
"""

import textwrap

import pandas as pd
import pytest

from systemic_lib.analysis import custom_measures, measure
from systemic_lib.data.council import MeasureSpec, load_council
from systemic_lib.data.stages import Stage
from systemic_lib.errors import ContractError

YAML = textwrap.dedent("""\
    name: Repairsville
    services:
      - id: repairs
        name: Repairs
        purpose: Fix my home properly, first time
        measures:
          - id: failure_demand_pct
          - id: fixed_for_good
            name: Cases with no repeat contact within 30 days of closing
            direction: increase
            share:
              of: cases
              by: closed_at
              matching: {no_contact_within_days: 30}
          - id: right_first_time
            name: Right first time
            direction: increase
            share:
              of: cases
              by: closed_at
              matching: {no_step_of_category: rework}
""")


def _files():
    cases = ["case_id,service,opened_at,closed_at"]
    closes = {}
    for i in range(1, 11):
        day = pd.Timestamp("2024-01-08") + pd.Timedelta(days=(i - 1) % 5 + (7 if i > 5 else 0))
        closes[i] = day + pd.Timedelta(hours=12)
        cases.append(f"R{i},repairs,2024-01-01 09:00,{closes[i]:%Y-%m-%d %H:%M}")
    demand = ["contact_id,service,received_at,channel,demand_type,classification,case_id"]
    for i in range(1, 11):
        demand.append(f"C{i},repairs,2024-01-01 09:00,phone,fix my boiler,value,R{i}")
    for n, (i, days) in enumerate([(2, 10), (3, 40), (7, 5), (8, 1)], start=11):
        demand.append(
            f"C{n},repairs,{closes[i] + pd.Timedelta(days=days):%Y-%m-%d %H:%M},phone,when will it be done,failure,R{i}"
        )
    demand.append("C99,repairs,2024-03-01 10:00,phone,fix a leak,value,")
    events = ["case_id,service,activity,timestamp"]
    for i in range(1, 11):
        events.append(f"R{i},repairs,Visit,2024-01-05 10:00")
        if i in (1, 4, 6):
            events.append(f"R{i},repairs,Revisit,2024-01-06 10:00")
    activities = "service,activity,step_type,category\nrepairs,Visit,value,delivery\nrepairs,Revisit,waste,rework\n"
    return {
        "council_yaml": YAML,
        "cases": "\n".join(cases) + "\n",
        "demand": "\n".join(demand) + "\n",
        "events": "\n".join(events) + "\n",
        "activities": activities,
    }


@pytest.fixture
def repairsville(council_factory):
    return council_factory("repairsville", base={}, **_files())


def test_no_repeat_contact_and_right_first_time_by_hand(repairsville):
    data = measure.load(Stage(repairsville, "repairs", "measure"))
    by_id = {r.id: r for r in data.results}
    fixed, rft = by_id["fixed_for_good"], by_id["right_first_time"]
    assert fixed.series["value"].tolist() == [80.0, 60.0] and fixed.series["n"].tolist() == [5, 5]
    assert rft.series["value"].tolist() == [60.0, 80.0]
    assert fixed.grain == "week" and fixed.unit == "%" and fixed.direction == "increase"
    figures = measure.figures(data)["measures"]
    assert figures["fixed_for_good"]["name"] == "Cases with no repeat contact within 30 days of closing"
    assert figures["fixed_for_good"]["phases"][0]["mean"] == pytest.approx(70.0)
    assert figures["right_first_time"]["phases"][0]["mean"] == pytest.approx(70.0)
    assert figures["right_first_time"]["target"] is None
    assert "right first time" in rft.narration.lower()
    assert "2 weeks, 10 cases closed" in measure.chart_title(fixed)
    summary = measure.measure_summary(data)
    assert "Right first time" in summary["Measure"].tolist()


def test_a_case_whose_30_days_have_not_passed_is_not_counted_yet(council_factory):
    files = _files()
    files["demand"] = "\n".join(line for line in files["demand"].splitlines() if not line.startswith("C99")) + "\n"
    folder = council_factory("early", base={}, **files)
    fixed = {r.id: r for r in measure.load(Stage(folder, "repairs", "measure")).results}["fixed_for_good"]
    # the contacts now end with R3's repeat (17 Feb), 30 days after every case closed: the same shares
    assert fixed.series["value"].tolist() == [80.0, 60.0]
    files["demand"] = "\n".join(line for line in files["demand"].splitlines() if not line.startswith("C12")) + "\n"
    cases = pd.read_csv(pd.io.common.StringIO(files["cases"]), parse_dates=["closed_at"])
    contacts = pd.read_csv(pd.io.common.StringIO(files["demand"]), parse_dates=["received_at"])
    spec = MeasureSpec.model_validate(
        {
            "id": "x",
            "name": "X",
            "share": {"of": "cases", "by": "closed_at", "matching": {"no_contact_within_days": 30}},
        }
    )
    rows = custom_measures.counted(spec, {"cases": cases, "demand": contacts})
    # contacts end 20 Jan 12:00 (R7's repeat): no case has had 30 days yet, so none counts
    assert not rows.counts.any()


def test_share_of_contacts_about_a_demand_type():
    days = pd.date_range("2024-01-01 09:00", periods=14, freq="D")
    contacts = pd.DataFrame(
        {
            "received_at": days,
            "demand_type": [
                "Boiler broken",
                "leak",
                "BOILER noise",
                "leak",
                "door",
                "leak",
                "leak",
                "boiler",
                "boiler",
                "leak",
                "leak",
                "leak",
                "leak",
                "boiler",
            ],
        }
    )
    spec = MeasureSpec.model_validate(
        {
            "id": "about_boilers",
            "name": "Contacts about boilers",
            "direction": "neutral",
            "share": {"of": "demand", "matching": {"column": "demand_type", "pattern": "boiler"}},
        }
    )
    results = measure.measure_results({"demand": contacts}, service_name="Repairs", specs=[spec])
    # week of 1 Jan: 2 of 7 mention a boiler; week of 8 Jan: 3 of 7
    assert results[0].series["value"].round(4).tolist() == [round(200 / 7, 4), round(300 / 7, 4)]
    assert results[0].result is not None and results[0].unit == "%"


def test_a_measure_whose_tables_are_missing_says_so(council_factory):
    files = _files()
    files["events"] = None
    folder = council_factory("noevents", base={}, **files)
    rft = {r.id: r for r in measure.load(Stage(folder, "repairs", "measure")).results}["right_first_time"]
    assert rft.result is None and "events.csv" in rft.note


@pytest.mark.parametrize(
    "bad, message, line",
    [
        ("share: {of: demnd, matching: {column: demand_type, pattern: x}}", "unknown table 'demnd'", 10),
        ("share: {of: cases, matching: {column: colour, pattern: x}}", "unknown column 'colour'", 10),
        ("share: {of: cases, by: received_at, matching: {no_step_of_category: rework}}", "unknown date column", 10),
        ("share: {of: demand, matching: {no_contact_within_days: 30}}", "use of: cases", 10),
        ("share: {of: cases, matching: {column: case_id}}", "needs either pattern or equals", 10),
        ("share: {of: cases, matching: {no_step_of_category: rewrk}}", "unknown step category 'rewrk'", 10),
    ],
)
def test_validation_names_the_file_and_line(council_factory, bad, message, line):
    yaml_text = YAML.split("      - id: fixed_for_good")[0] + f"      - id: mine\n        name: Mine\n        {bad}\n"
    folder = council_factory("bad", base={}, council_yaml=yaml_text)
    with pytest.raises(ContractError) as exc:
        load_council(folder)
    problem = exc.value.problems[0]
    assert message in problem.message
    assert problem.file == f"bad/council.yaml line {line}"


def test_built_in_and_unknown_ids():
    assert MeasureSpec(id="end_to_end_days").name == "End-to-end time"
    with pytest.raises(ValueError, match="unknown measure 'speed'"):
        MeasureSpec(id="speed")
    with pytest.raises(ValueError, match="needs a name"):
        MeasureSpec.model_validate({"id": "mine", "count": {"of": "demand"}})
