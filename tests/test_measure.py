"""The measure stage: weekly series from a council, phases at system changes, summary, figures, explorer, notebook."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from systemic_lib.analysis import measure
from systemic_lib.data.council import load_council
from systemic_lib.data.stages import Stage
from systemic_lib.display.charts.measure import chart

YAML = textwrap.dedent("""\
    name: Testshire Council
    services:
      - id: housing-repairs
        name: Housing repairs
        purpose: Fix my home properly, first time
        measures:
          - id: end_to_end_days
            direction: decrease
            target: 20
          - id: failure_demand_pct
            direction: decrease
          - id: weekly_demand
          - id: one_stop_pct
          - id: delivered_when_wanted_pct
      - id: council-tax
        name: Council tax
        purpose: Pay the right amount, easily
    system_changes:
      - {date: 2024-03-25, label: Experiment team started, services: [housing-repairs]}
      - {date: 2025-06-01, label: Later change}
""")
MONDAY = pd.Timestamp("2024-01-01")


def build(folder: Path, *, weeks: int = 24, change_week: int = 12, yaml_text: str = YAML, cases: bool = True):
    """24 weeks of Housing repairs; the system changes on Monday 25 March 2024 (week 12).

    Each week: five cases opened on Monday 10:00 taking 30/32 days (alternating by week) before the change and 10/12
    after (five, so that the week has enough behind it and the measure stays weekly);
    10 contacts (Mon-Fri, 2 a day), of which 4/5 failure before and 1/2 after, and 6 resolved at first contact.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "council.yaml").write_text(yaml_text)
    case_rows, demand_rows = [], []
    for w in range(weeks):
        before = w < change_week
        days = (30 if w % 2 == 0 else 32) if before else (10 if w % 2 == 0 else 12)
        opened = MONDAY + pd.Timedelta(weeks=w, hours=10)
        case_rows += [
            {
                "case_id": f"R{w}-{k}",
                "service": "housing-repairs",
                "opened_at": f"{opened:%Y-%m-%d %H:%M}",
                "closed_at": f"{opened + pd.Timedelta(days=days):%Y-%m-%d %H:%M}",
                "wanted_by": "",
                "cohort": "",
            }
            for k in range(5)
        ]
        fails = (4 if w % 2 == 0 else 5) if before else (1 if w % 2 == 0 else 2)
        for i in range(10):
            t = MONDAY + pd.Timedelta(weeks=w, days=i // 2, hours=9 + i % 2)
            demand_rows.append(
                {
                    "contact_id": f"C{w}-{i}",
                    "service": "housing-repairs",
                    "received_at": f"{t:%Y-%m-%d %H:%M}",
                    "channel": "phone",
                    "classification": "failure" if i < fails else "value",
                    "one_stop": "yes" if i < 6 else "no",
                }
            )
    if cases:
        pd.DataFrame(case_rows).to_csv(folder / "cases.csv", index=False)
    pd.DataFrame(demand_rows).to_csv(folder / "demand.csv", index=False)
    return folder


def series(council, service: str, measure_id: str, **kwargs) -> tuple[pd.DataFrame, str]:
    """``measure.measure_series`` of the table ``measure.load`` reads for it: the service's contacts (rules applied)
    or cases, whole."""
    stage = Stage(council, service, "measure")
    table = (
        stage.contacts(period=False).frame
        if measure.TABLE_OF[measure_id] == "demand"
        else stage.table("cases", period=False)
    )
    return measure.measure_series(table, measure_id, **kwargs)


def results_of(council, service: str) -> list:
    """The measures of one service, as the notebook builds them (``measure.load``)."""
    return measure.load(Stage(council, service, "measure")).results


@pytest.fixture
def council(tmp_path):
    return load_council(build(tmp_path / "testshire"))


@pytest.fixture
def results(council):
    return results_of(council, "housing-repairs")


def _by_id(results):
    return {r.id: r for r in results}


# ------------------------------------------------------------------------------------------------- series
def test_end_to_end_is_weekly_median_by_opening_week(tmp_path, council):
    s, _ = series(council, "housing-repairs", "end_to_end_days")
    assert len(s) == 24 and s["date"].iloc[0] == MONDAY and (s["date"].dt.day_of_week == 0).all()
    assert s["value"].tolist()[:3] == [30, 32, 30] and s["value"].tolist()[12:14] == [10, 12]
    folder = tmp_path / "three"
    folder.mkdir()
    (folder / "council.yaml").write_text(YAML)
    pd.DataFrame(
        {
            "case_id": ["a", "b", "c", "d", "e", "f", "g", "h", "i"],
            "service": "housing-repairs",
            "opened_at": [
                "2024-01-01 10:00",
                "2024-01-08 10:00",
                "2024-01-09 10:00",
                "2024-01-10 10:00",
                "2024-01-15 10:00",
                "2024-01-15 10:00",
                "2024-01-16 10:00",
                "2024-01-22 10:00",
                "2024-01-22 10:00",
            ],
            "closed_at": [
                "2024-01-03 10:00",
                "2024-01-17 10:00",
                "2024-02-18 10:00",
                "2024-01-14 10:00",
                "2024-01-20 10:00",
                "2024-01-22 10:00",
                "",
                "2024-03-02 10:00",
                "",
            ],
        }
    ).to_csv(folder / "cases.csv", index=False)
    s, _ = series(load_council(folder), "housing-repairs", "end_to_end_days", grain="week")
    # data end = latest timestamp = closed 2 March 10:00
    # week of 1 Jan: a, 2 days → 2
    # week of 8 Jan: b 9, c 40, d 4 days → median 9 (not the mean 17.7)
    # week of 15 Jan: e 5, f 7, g still open at 46 days old → sorted 5, 7, (≥46): the median 7 is certain
    # week of 22 Jan: h 40 days, i open at 40 days old → median needs both: unknown, and the last week → left out
    assert s["value"].tolist() == [2, 9, 7] and s["n"].tolist() == [1, 3, 3]


def test_percentages_and_counts(council):
    fd, _ = series(council, "housing-repairs", "failure_demand_pct")
    assert fd["value"].tolist()[:2] == [40, 50] and fd["value"].tolist()[12:14] == [10, 20]  # 4/10, 5/10, 1/10
    assert (series(council, "housing-repairs", "weekly_demand")[0]["value"] == 10).all()
    assert (series(council, "housing-repairs", "one_stop_pct")[0]["value"] == 60).all()


def test_small_weeks_are_missing_and_part_weeks_not_counted(tmp_path):
    folder = tmp_path / "small"
    folder.mkdir()
    (folder / "council.yaml").write_text(YAML)
    # Thu 4 Jan: 4 contacts (a part week: Thu-Sun = 4 days), week of 8 Jan: 6, week of 15 Jan: 4 on Monday only
    times = ["2024-01-04 09:00"] * 4 + ["2024-01-08 09:00"] * 3 + ["2024-01-12 09:00"] * 3 + ["2024-01-15 09:00"] * 4
    pd.DataFrame(
        {
            "contact_id": [f"C{i}" for i in range(14)],
            "service": "housing-repairs",
            "received_at": times,
            "channel": "phone",
            "classification": ["failure", "value"] * 7,
        }
    ).to_csv(folder / "demand.csv", index=False)
    c = load_council(folder)
    fd, _ = series(c, "housing-repairs", "failure_demand_pct", grain="week")  # the weekly rules
    # 4 classified contacts < 5 → missing; 6 → 3/6 = 50%; 4 → missing
    assert np.isnan(fd["value"].iloc[0]) and fd["value"].iloc[1] == 50 and np.isnan(fd["value"].iloc[2])
    wd, _ = series(c, "housing-repairs", "weekly_demand", grain="week")
    # first week covered 4 days (Thu-Sun) and last 1 day (Mon): both left out
    assert wd["date"].tolist() == [pd.Timestamp("2024-01-08")] and wd["value"].tolist() == [6]


def test_delivered_when_wanted(tmp_path):
    folder = tmp_path / "wanted"
    folder.mkdir()
    (folder / "council.yaml").write_text(YAML)
    rows = []
    for w in range(3):
        for i in range(5):  # 5 cases a week closed Wednesday; wanted by Tuesday for the first w+1, Friday after
            closed = MONDAY + pd.Timedelta(weeks=w, days=2, hours=15)
            wanted = closed - pd.Timedelta(days=1) if i <= w else closed + pd.Timedelta(days=2)
            rows.append(
                {
                    "case_id": f"{w}-{i}",
                    "service": "housing-repairs",
                    "opened_at": "2023-12-01 09:00",
                    "closed_at": f"{closed:%Y-%m-%d %H:%M}",
                    "wanted_by": f"{wanted:%Y-%m-%d}",
                }
            )
    rows.append(
        {
            "case_id": "same-day",
            "service": "housing-repairs",
            "opened_at": "2023-12-01 09:00",
            "closed_at": "2024-01-17 18:00",
            "wanted_by": "2024-01-17",
        }
    )  # on the day wanted: delivered
    pd.DataFrame(rows).to_csv(folder / "cases.csv", index=False)
    s, _ = series(load_council(folder), "housing-repairs", "delivered_when_wanted_pct")
    # week 0: 4 of 5 on time = 80%; week 1: 3/5 = 60%; week 2: 2/5 + the same-day case = 3/6 = 50%
    assert s["value"].tolist() == [80, 60, 50]


# ------------------------------------------------------------------------------------------------- results
def test_phase_at_system_change_shows_improvement(results):
    e2e = _by_id(results)["end_to_end_days"]
    phases = e2e.result.phases
    # before: 30/32 → mean 31, MR 2 → 31 ± 5.32; after: 10/12 → mean 11 → 5.68 / 16.32
    assert [p["mean"] for p in phases] == [31, 11]
    assert phases[1]["lower"] == pytest.approx(5.68) and phases[1]["upper"] == pytest.approx(16.32)
    assert phases[1]["change"]["signal"] == "improvement"
    assert e2e.changes == [{"date": "2024-03-25", "label": "Experiment team started", "phase_start": "2024-03-25"}]
    assert e2e.changes_outside == [{"date": "2025-06-01", "label": "Later change"}]
    assert "real improvement, not noise" in e2e.narration
    assert e2e.result.assurance == "pass"  # target 20 > upper 16.32, lower is better


def test_failure_demand_limits_floored_at_zero(results):
    fd = _by_id(results)["failure_demand_pct"]
    ph = fd.result.phases
    # before: 40/50 → 45 ± 26.6 = 18.4 / 71.6; after: 10/20 → 15 ± 26.6 → lower -11.6 shown at 0
    assert ph[0]["lower"] == pytest.approx(18.4) and ph[0]["upper"] == pytest.approx(71.6)
    assert ph[1]["lower"] == 0 and ph[1]["upper"] == pytest.approx(41.6)


def test_mid_week_change_starts_next_week_and_same_week_changes_merge(tmp_path):
    yaml_text = YAML.replace(
        "  - {date: 2024-03-25, label: Experiment team started, services: [housing-repairs]}\n",
        "  - {date: 2024-03-20, label: New team, services: [housing-repairs]}\n"
        "  - {date: 2024-03-22, label: New letters}\n",
    )
    assert "New letters" in yaml_text
    c = load_council(build(tmp_path / "t", yaml_text=yaml_text))
    e2e = _by_id(results_of(c, "housing-repairs"))["end_to_end_days"]
    # Wednesday 20 and Friday 22 March both start the phase on Monday 25 March
    assert e2e.phase_labels == ["New team / New letters"]
    assert e2e.result.phases[1]["start"] == pd.Timestamp("2024-03-25")


def test_no_data_gives_notes_not_errors(council, tmp_path):
    ct = results_of(council, "council-tax")  # names no measures: all five, none with data
    assert [r.id for r in ct] == [
        "end_to_end_days",
        "failure_demand_pct",
        "weekly_demand",
        "one_stop_pct",
        "delivered_when_wanted_pct",
    ]
    assert all(r.result is None and r.note for r in ct)
    json.dumps(measure.measure_figures(ct))
    assert measure.headline(ct, "Council tax").startswith("No measure of Council tax")
    no_cases = load_council(build(tmp_path / "nocases", cases=False))
    e2e = _by_id(results_of(no_cases, "housing-repairs"))["end_to_end_days"]
    assert e2e.note.startswith("No cases recorded for Housing repairs")


def test_contacts_only_in_part_weeks_give_a_note_not_weeks_of_zero(tmp_path):
    """Boston's Veterans: 5 contacts from Friday 13 to Tuesday 31 March; the whole weeks between hold none."""
    folder = tmp_path / "few"
    folder.mkdir()
    (folder / "council.yaml").write_text(YAML)
    times = ["2015-03-13 09:00", "2015-03-14 10:00", "2015-03-15 11:00", "2015-03-30 09:00", "2015-03-31 09:00"]
    pd.DataFrame(
        {
            "contact_id": [f"C{i}" for i in range(5)],
            "service": "housing-repairs",
            "received_at": times,
            "channel": "phone",
            "classification": "value",
        }
    ).to_csv(folder / "demand.csv", index=False)
    c = load_council(folder)
    wd, _ = series(c, "housing-repairs", "weekly_demand")
    assert wd["value"].tolist() == [0, 0]  # 16 and 23 March, whole weeks with no contact
    r = _by_id(results_of(c, "housing-repairs"))["weekly_demand"]
    assert r.result is None and r.period == (None, None)
    assert r.note == (
        "Demand per week for Housing repairs: its 5 contacts (13 Mar 2015 to 31 Mar 2015) fall only in "
        "part weeks at the start and end of the data, so there are not 2 whole weeks to chart."
    )


def test_failure_demand_reads_contacts_with_the_council_rules_as_the_demand_stage_does(tmp_path):
    """The measure stage counts failure demand on the contacts the demand stage counts: hand classifications, then
    the council's rules.csv for the unclassified (it used to read demand without the rules)."""
    folder = build(tmp_path / "ruled")
    demand = pd.read_csv(folder / "demand.csv", dtype=str, keep_default_na=False)
    blank = demand["contact_id"].str.endswith(("-8", "-9"))  # two value contacts a week left unclassified
    demand.loc[blank, "classification"] = ""
    demand.to_csv(folder / "demand.csv", index=False)
    (folder / "rules.csv").write_text("service,column,pattern,classification,failure_type\n,channel,phone,failure,\n")
    c = load_council(folder)
    data = measure.load(Stage(c, "housing-repairs", "measure"))
    fd = _by_id(data.results)["failure_demand_pct"]
    # week 0: 4 failure by hand + 2 by the rule = 6 of 10 classified; week 1: 5 + 2 = 7 of 10 (without the rules:
    # 4 of 8 = 50% and 5 of 8 = 62.5%); after the change 1 + 2 = 3 and 2 + 2 = 4 of 10
    assert fd.series["value"].tolist()[:2] == [60, 70] and fd.series["value"].tolist()[12:14] == [30, 40]
    assert (fd.series["n"] == 10).all()
    contacts = Stage(c, "housing-repairs", "demand").contacts().frame  # what the demand stage counts
    assert int(fd.series["n"].sum()) == int(contacts["classification"].isin(["value", "failure"]).sum()) == 240
    assert data.rules_problems == [] and data.problems == []


def test_table_with_errors_gives_a_note(tmp_path):
    folder = build(tmp_path / "bad")
    text = (folder / "cases.csv").read_text().replace("2024-01-01 10:00", "not a date", 1)
    (folder / "cases.csv").write_text(text)
    e2e = _by_id(results_of(load_council(folder), "housing-repairs"))["end_to_end_days"]
    assert e2e.result is None and "cases.csv has problems" in e2e.note


# ------------------------------------------------------------------------------------------------- outputs
def test_summary_table(results):
    table = measure.measure_summary(results)
    assert list(table.columns) == [
        "Measure",
        "Unit",
        "Points",
        "Current mean",
        "Lower limit",
        "Upper limit",
        "Latest point",
        "Reading",
        "Assurance",
        "Since",
    ]
    row = table.iloc[0]
    assert row["Measure"] == "End-to-end time (weekly median)" and row["Current mean"] == 11 and row["Points"] == 24
    assert row["Assurance"] == "Will consistently meet the target" and row["Since"] == "25 Mar 2024"
    assert row["Latest point"] == "common cause, no signal" and row["Reading"] == "real improvement"
    assert table.iloc[4]["Reading"].startswith("Delivered when the citizen wanted for Housing repairs")


def test_figures_are_json_with_the_contract_keys(results):
    figures = json.loads(json.dumps(measure.measure_figures(results)))
    e2e = figures["measures"]["end_to_end_days"]
    for key in ("name", "direction", "phases", "last_point_signal", "variation", "assurance"):
        assert key in e2e
    assert e2e["direction"] == "decrease" and e2e["last_point_signal"] == "common_cause"
    assert {"start": "2024-03-25", "mean": 11.0}.items() <= e2e["phases"][1].items()
    assert {"start", "mean", "lower", "upper"} <= set(e2e["phases"][0])
    assert e2e["change_signal"] == "improvement"
    assert figures["measures"]["delivered_when_wanted_pct"]["phases"] == []
    assert measure.period(results) == (MONDAY, pd.Timestamp("2024-06-16"))
    assert "a real improvement in end-to-end time and failure demand" in measure.headline(results, "Housing repairs")
    assert figures["measures"]["end_to_end_days"]["reading"]["value"] == "improvement"


def test_figures_carry_the_charted_points_for_the_councils_compared(results):
    """Weekly end-to-end medians by hand: 30/32 days alternating for 12 weeks, then 10/12 (build's docstring)."""
    figures = json.loads(json.dumps(measure.measure_figures(results)))
    points = figures["measures"]["end_to_end_days"]["points"]
    assert len(points) == 24 == figures["measures"]["end_to_end_days"]["n_points"]
    assert points[0] == {"date": "2024-01-01", "value": 30.0, "signal": points[0]["signal"]}
    assert [p["value"] for p in points[:4]] == [30.0, 32.0, 30.0, 32.0]
    assert [p["value"] for p in points[12:14]] == [10.0, 12.0] and points[-1]["date"] == "2024-06-10"
    assert {p["signal"] for p in points} <= {"common_cause", "improvement", "concern", "neutral"}
    failure = figures["measures"]["failure_demand_pct"]["points"]
    assert [p["value"] for p in failure[:2]] == [40.0, 50.0] and [p["value"] for p in failure[12:14]] == [10.0, 20.0]
    assert figures["measures"]["delivered_when_wanted_pct"]["points"] == []


def test_chart_title_names_period_and_count(results):
    e2e = _by_id(results)["end_to_end_days"]
    assert measure.chart_title(e2e) == (
        "End-to-end time (weekly median, by week opened), 1 Jan 2024 to 16 Jun 2024 (24 weeks, 120 cases opened)"
    )
    ax = chart(e2e)
    assert ax.get_title(loc="left") == measure.chart_title(e2e)
    assert chart(_by_id(results)["delivered_when_wanted_pct"]) is None


# ------------------------------------------------------------------------------------------------ explorer
def test_explorer_adds_moves_and_removes_boundaries(results):
    from systemic_lib.display.widgets.measure import MeasureExplorer

    ex = MeasureExplorer(results)
    assert ex.measure.value == "end_to_end_days"
    assert ex.phases.options == ("25 Mar 2024: Experiment team started",)
    assert ex.image.value[:4] == b"\x89PNG"
    assert "real improvement" in ex.narration.value
    # add a what-if boundary at week 6 (12 Feb): phases 0-5, 6-11, 12-23 → means 31, 31, 11
    ex.week.value = pd.Timestamp("2024-02-12")
    ex.label.value = "Phone menu"
    ex.add.click()
    assert ex.phases.options == ("12 Feb 2024: Phone menu", "25 Mar 2024: Experiment team started")
    assert [p["mean"] for p in ex.current.result.phases] == [31, 31, 11]
    assert "Since the change \u201cExperiment team started\u201d" in ex.narration.value
    # move the experiment boundary to 22 April (week 16): phase 6-15 = 6 × 31 + 4 × 11 → (186 + 44) / 10 = 23
    ex.phases.index = 1
    ex.week.value = pd.Timestamp("2024-04-22")
    ex.move.click()
    assert [p["mean"] for p in ex.current.result.phases] == [31, 23, 11]
    assert "Experiment team started (moved from 25 Mar 2024)" in ex.narration.value
    ex.phases.index = 0
    ex.remove.click()
    assert ex.phases.options == ("22 Apr 2024: Experiment team started (moved from 25 Mar 2024)",)
    ex.measure.value = "failure_demand_pct"  # a new measure starts again from the recorded changes
    assert ex.current.id == "failure_demand_pct"
    assert ex.phases.options == ("25 Mar 2024: Experiment team started",)
    ex.reset.click()
    assert len(ex.current.result.phases) == 2


def test_explorer_without_data(council):
    from systemic_lib.display.widgets.measure import MeasureExplorer

    ex = MeasureExplorer(results_of(council, "council-tax"))
    assert "No measure" in ex.message.value


# ------------------------------------------------------------------------------------------------ notebook
NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "measure.ipynb"


def test_notebook_follows_conventions():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    first, params = nb.cells[0], nb.cells[1]
    # findings first: the title alone, then "What we found" (opening.show) straight after the data is loaded; the
    # definitions and the questions a team should ask close the page, in "About this page"
    assert first.cell_type == "markdown" and first.source.startswith("# ") and len(first.source.splitlines()) == 1
    about = [c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## About this page")]
    assert len(about) == 1 and "Questions a team should ask" in about[0]
    assert any(c.source.rstrip().endswith("findings(data))") for c in nb.cells[3:5] if c.cell_type == "code")
    assert params.metadata.get("tags") == ["parameters"]
    names = [line.split("=")[0].strip() for line in params.source.splitlines()]
    assert names == ["council_dir", "service", "period_start", "period_end", "output_dir", "cache_dir"]
    code = [c.source for c in nb.cells[2:] if c.cell_type == "code"]
    assert 'stage="measure"' in code[0]
    assert all(len(src.splitlines()) <= 6 for src in code)
    assert not any("for " in src or "pd." in src for src in code)  # no logic in the notebook
    assert "data = measure.load(stage)" in code[0]
    assert code[-1].startswith("stage.save(measure.figures(data), period=measure.period(data))")


@pytest.mark.slow
def test_notebook_runs_and_writes_measure_json(tmp_path, run_stage_notebook):
    folder = build(tmp_path / "testshire")
    figures, shown = run_stage_notebook("measure", council_dir=str(folder), service="housing-repairs")
    assert figures["stage"] == "measure"
    assert figures["measures"]["end_to_end_days"]["change_signal"] == "improvement"
    assert figures["period"] == {"start": "2024-01-01", "end": "2024-06-16"}
    assert "Traceback" not in shown and "<h3>End-to-end time</h3>" in shown and "Measures of Housing repairs, " in shown


# ---------------------------------------------------------------------------------------------------- grain
def _demand(folder: Path, days_per_week: int, weeks: int, *, yaml_text: str = YAML) -> Path:
    """One contact a weekday, Monday onwards, on the first ``days_per_week`` days of each week from 1 Jan 2024."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "council.yaml").write_text(yaml_text)
    times = [MONDAY + pd.Timedelta(weeks=w, days=d, hours=9) for w in range(weeks) for d in range(days_per_week)]
    pd.DataFrame(
        {
            "contact_id": [f"C{i}" for i in range(len(times))],
            "service": "housing-repairs",
            "received_at": [f"{t:%Y-%m-%d %H:%M}" for t in times],
            "channel": "phone",
            "classification": "value",
        }
    ).to_csv(folder / "demand.csv", index=False)
    return folder


def test_grain_threshold_is_a_median_week_of_five():
    weekly = lambda n: pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=len(n), freq="7D"),
            "value": 1.0,
            "n": n,
        }
    )
    assert measure.choose_grain(weekly([5, 5, 4])) == "week"  # median 5
    assert measure.choose_grain(weekly([4, 4, 5])) == "month"  # median 4
    assert measure.choose_grain(weekly([5, 4])) == "month"  # median 4.5
    assert measure.choose_grain(weekly([0, 9, 0, 9, 0])) == "month"  # empty weeks count 0
    assert measure.choose_grain(weekly([0, 0])) == "week"  # nothing behind it at all: no chart either way


def test_exactly_five_a_week_stays_weekly(tmp_path):
    c = load_council(_demand(tmp_path / "five", 5, 12))
    wd, wd_grain = series(c, "housing-repairs", "weekly_demand")
    assert wd_grain == "week" and len(wd) == 12 and (wd["value"] == 5).all()
    r = _by_id(results_of(c, "housing-repairs"))["weekly_demand"]
    assert r.grain == "week" and r.name == "Demand per week" and not r.narration.startswith("Each point")
    assert measure.chart_title(r) == "Demand per week, 1 Jan 2024 to 24 Mar 2024 (12 weeks, 60 contacts)"
    assert measure.measure_figures([r])["measures"]["weekly_demand"]["grain"] == "week"


def test_four_a_week_is_charted_by_calendar_month(tmp_path):
    c = load_council(_demand(tmp_path / "four", 4, 12))
    wd, wd_grain = series(c, "housing-repairs", "weekly_demand")
    # Mon-Thu for 12 weeks from Mon 1 Jan to Thu 21 Mar 2024. January: 4 whole weeks (16) + Mon-Wed 29-31 Jan (3) = 19.
    # February: Thu 1 Feb (1) + 4 weeks from 5 Feb (16, the last Mon-Thu 26-29 Feb) = 17. March: covered 1-21 March,
    # 10 days short of its 31 (more than 3): a part month, left out.
    assert wd_grain == "month"
    assert wd["date"].tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01")]
    assert wd["value"].tolist() == [19, 17] and wd["n"].tolist() == [19, 17]
    r = _by_id(results_of(c, "housing-repairs"))["weekly_demand"]
    assert r.id == "weekly_demand" and r.grain == "month" and r.name == "Demand per month"
    assert r.spoken == "demand per month" and r.period == (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-29"))
    assert measure.chart_title(r) == (
        "Demand per month, 1 Jan 2024 to 29 Feb 2024 (2 months, 36 contacts)\n"
        "Monthly, because fewer than 5 contacts a week"
    )
    assert r.narration.startswith("Each point is one calendar month (monthly, because fewer than 5 contacts a week). ")
    assert "demand per month" in r.narration
    entry = json.loads(json.dumps(measure.measure_figures([r])))["measures"]["weekly_demand"]
    assert entry["grain"] == "month" and entry["name"] == "Demand per month" and entry["n_points"] == 2
    table = measure.measure_summary([r])
    assert list(table.columns)[2] == "Points" and table.iloc[0]["Points"] == 2
    assert table.iloc[0]["Measure"] == "Demand per month"
    # the same data, asked for weeks, give the weekly series: 4 a week (the last week, Mon-Thu only, is a part week)
    weekly, weekly_grain = series(c, "housing-repairs", "weekly_demand", grain="week")
    assert weekly_grain == "week" and len(weekly) == 11 and (weekly["value"] == 4).all()


def test_sparse_end_to_end_is_a_monthly_median_by_month_opened(tmp_path):
    folder = tmp_path / "sparse"
    folder.mkdir()
    (folder / "council.yaml").write_text(YAML)
    # opened (days taken): Jan 3 (10), 10 (20), 24 (30); Feb 7 (5), 21 (15); Mar 6 (8) — at most one case a week
    cases = [
        ("2024-01-03", 10),
        ("2024-01-10", 20),
        ("2024-01-24", 30),
        ("2024-02-07", 5),
        ("2024-02-21", 15),
        ("2024-03-06", 8),
    ]
    pd.DataFrame(
        [
            {
                "case_id": f"R{i}",
                "service": "housing-repairs",
                "opened_at": f"{d} 10:00",
                "closed_at": f"{pd.Timestamp(d) + pd.Timedelta(days=n):%Y-%m-%d} 10:00",
            }
            for i, (d, n) in enumerate(cases)
        ]
    ).to_csv(folder / "cases.csv", index=False)
    c = load_council(folder)
    s, s_grain = series(c, "housing-repairs", "end_to_end_days")
    # medians by month opened: January 10, 20, 30 → 20; February 5, 15 → 10; March 8
    assert s_grain == "month"
    assert s["date"].tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01"), pd.Timestamp("2024-03-01")]
    assert s["value"].tolist() == [20, 10, 8] and s["n"].tolist() == [3, 2, 1]
    # weekly, 10 weeks from 1 Jan to 4 Mar hold 6 cases: a median week of 1 (below 5)
    assert series(c, "housing-repairs", "end_to_end_days", grain="week")[0]["n"].median() == 1
    r = _by_id(results_of(c, "housing-repairs"))["end_to_end_days"]
    assert r.grain == "month" and r.name == "End-to-end time" and r.spoken == "end-to-end time (monthly median)"
    assert measure.chart_title(r) == (
        "End-to-end time (by month opened), 1 Jan 2024 to 31 Mar 2024 (3 months, 6 "
        "cases opened)\nMonthly median, because fewer than 5 cases a week"
    )
    assert chart(r).get_title(loc="left") == measure.chart_title(r)
    assert r.narration.startswith(
        "Each point is one calendar month (monthly median, because fewer than 5 cases a week). "
    )
    assert measure.measure_summary([r]).iloc[0]["Measure"] == "End-to-end time (by month)"


def test_monthly_phase_starts_at_the_first_month_on_or_after_the_change(tmp_path):
    yaml_text = YAML.replace("2024-03-25, label: Experiment team started", "2024-03-15, label: New team")
    c = load_council(_demand(tmp_path / "phases", 4, 26, yaml_text=yaml_text))
    wd = _by_id(results_of(c, "housing-repairs"))["weekly_demand"]
    # 1 Jan to Thu 27 Jun 2024, Mon-Thu: January to May whole months; June covered 27 days of 30, within 3: kept
    assert wd.grain == "month" and wd.series["date"].dt.month.tolist() == [1, 2, 3, 4, 5, 6]
    # Friday 15 March falls inside March: the phase starts with April, the first month on or after the change
    assert wd.changes == [{"date": "2024-03-15", "label": "New team", "phase_start": "2024-04-01"}]
    assert [p["start"] for p in wd.result.phases] == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-04-01")]
    assert measure.measure_figures([wd])["measures"]["weekly_demand"]["phases"][1]["start"] == "2024-04-01"
    # a change on the 1st of a month starts the phase with that month; the explorer's recompute keeps the grain
    moved = wd.recompute([pd.Timestamp("2024-03-01")], ["On the first"])
    assert moved.grain == "month" and moved.changes[0]["phase_start"] == "2024-03-01"
    assert moved.result.phases[1]["start"] == pd.Timestamp("2024-03-01")


def test_dense_sample_style_data_stays_weekly(results):
    # build(): 5 cases and 10 contacts every week, like the sample councils: every measure weekly, as before
    charted = [r for r in results if r.result is not None]
    assert len(charted) == 4 and {r.grain for r in results} == {"week"}
    assert {m["grain"] for m in measure.measure_figures(results)["measures"].values()} == {"week"}
    assert "(by month)" not in "".join(measure.measure_summary(results)["Measure"])
    assert _by_id(results)["weekly_demand"].name == "Demand per week"


@pytest.mark.slow
def test_sample_councils_stay_weekly(tmp_path):
    from systemic_lib.data.sample import write_sample_councils

    folder = next(f for f in write_sample_councils(tmp_path) if f.name == "northshire")
    c = load_council(folder)
    for sid in c.services:
        grains = {r.id: r.grain for r in results_of(c, sid) if r.result is not None}
        assert set(grains.values()) == {"week"}, (sid, grains)


# ------------------------------------------------------------------------------ changed system conditions as phases
NO_CHANGES = YAML.split("system_changes:")[0]
#: A label with markup and a dollar sign: escaped in HTML/SVG, and never read as matplotlib maths.
RULE = "Rule: every repair <b>pre-inspected</b> over $250"
LABEL = f"{RULE} (changed)"  # a condition marked changed, with no words for what changed, names its phase so
CONDITIONS = (
    "id,service,raised_at,raised_in,waste_seen,system_condition,thinking,who_can_change,status,changed_at,"
    "phase\n"
    f"SC-001,housing-repairs,2024-02-01,flow,A second visit,{RULE},,Head of Repairs,changed,2024-03-25,{{}}\n"
    "SC-002,housing-repairs,2024-02-01,flow,Waiting,Open rule,,,open,,\n"
)


def conditions_council(tmp_path, phase: str = "", yaml_text: str = NO_CHANGES) -> Path:
    folder = build(tmp_path / "t", yaml_text=yaml_text)
    (folder / "system_conditions.csv").write_text(CONDITIONS.format(phase))
    return folder


def test_a_changed_condition_starts_a_phase_at_its_date_in_measure_json_and_the_chart(tmp_path):
    import matplotlib.pyplot as plt

    folder = conditions_council(tmp_path)
    data = measure.load(Stage(folder, "housing-repairs", "measure"))
    e2e = _by_id(data.results)["end_to_end_days"]
    # the same hand computation as a council.yaml change on that date: 31 ± 5.32 before, 11 after
    assert [p["mean"] for p in e2e.result.phases] == [31, 11]
    assert e2e.changes == [{"date": "2024-03-25", "label": LABEL, "phase_start": "2024-03-25"}]
    assert "real improvement, not noise" in e2e.narration and RULE in e2e.narration
    figures = json.loads(json.dumps(measure.figures(data)))
    assert figures["phases_used"] == [{"date": "2024-03-25", "label": LABEL, "source": "system condition SC-001"}]
    assert figures["measures"]["end_to_end_days"]["phases"][1]["label"] == LABEL
    assert figures["end_to_end_per_case"]["phases"][1]["label"] == LABEL  # the per-case chart too
    ax = chart(e2e)
    label = next(t for t in ax.texts if t.get_gid() == "phase_label_1")
    assert label.get_text().replace("\n", " ").startswith(LABEL)  # wrapped to the chart, every word kept
    import io

    svg = io.BytesIO()
    ax.figure.savefig(svg, format="svg")
    plt.close(ax.figure)
    text = svg.getvalue().decode()
    assert "&lt;b&gt;pre-inspected&lt;/b&gt;" in text and "<b>pre" not in text


def test_a_condition_turned_off_adds_no_phase(tmp_path):
    data = measure.load(Stage(conditions_council(tmp_path, phase="no"), "housing-repairs", "measure"))
    e2e = _by_id(data.results)["end_to_end_days"]
    assert len(e2e.result.phases) == 1 and e2e.changes == []
    assert measure.figures(data)["phases_used"] == []


def test_council_yaml_changes_and_changed_conditions_are_phases_together(tmp_path):
    yaml_text = NO_CHANGES + (
        "system_changes:\n"
        "  - {date: 2024-03-25, label: Experiment team started, services: [housing-repairs]}\n"
        "  - {date: 2024-05-06, label: Later change}\n"
    )
    data = measure.load(Stage(conditions_council(tmp_path, yaml_text=yaml_text), "housing-repairs", "measure"))
    assert measure.figures(data)["phases_used"] == [
        {"date": "2024-03-25", "label": "Experiment team started", "source": "council.yaml"},
        {"date": "2024-03-25", "label": LABEL, "source": "system condition SC-001"},
        {"date": "2024-05-06", "label": "Later change", "source": "council.yaml"},
    ]
    e2e = _by_id(data.results)["end_to_end_days"]
    assert e2e.phase_labels == [f"Experiment team started / {LABEL}", "Later change"]  # one phase a week


def test_a_learning_log_entry_marked_changed_with_a_date_is_a_phase(tmp_path):
    folder = build(tmp_path / "t", yaml_text=NO_CHANGES)
    (folder / "learning_log.csv").write_text(
        "date,service,what_we_tried,what_we_learned,system_condition,waste_caused,who_can_change,status,changed_at\n"
        "2024-03-01,housing-repairs,Fix on the first visit,,Pre-inspection rule,,,changed,2024-03-25\n"
        "2024-03-02,housing-repairs,Ring back,,Call-back rule,,,changed,\n"
    )  # no date: no phase
    data = measure.load(Stage(folder, "housing-repairs", "measure"))
    assert measure.figures(data)["phases_used"] == [
        {"date": "2024-03-25", "label": "Pre-inspection rule (changed)", "source": "system condition LL-2"}
    ]
    assert [p["mean"] for p in _by_id(data.results)["end_to_end_days"].result.phases] == [31, 11]


def test_the_organisation_scan_starts_the_same_phase_at_a_changed_condition(tmp_path):
    """The scan's capability column reads the same phases as the measure stage: its end-to-end capability is the
    per-case chart's latest phase, which starts at the changed condition's date."""
    from systemic_lib.analysis import scan

    folder = conditions_council(tmp_path)
    per_case = measure.figures(measure.load(Stage(folder, "housing-repairs", "measure")))["end_to_end_per_case"]
    stage = Stage(folder, None, "organisation_scan")
    assert [p.source for p in stage.phases("housing-repairs")] == ["system condition SC-001"]
    cap = scan.load(stage).table.set_index("service").loc["housing-repairs", "end_to_end_capability"]
    assert len(per_case["phases"]) == 2
    assert cap["mean"] == pytest.approx(per_case["phases"][-1]["mean"], abs=0.01)
    off = Stage(conditions_council(tmp_path / "off", phase="no"), None, "organisation_scan")
    assert off.phases("housing-repairs") == []


def test_findings_count_the_points_and_period_of_the_latest_phase(tmp_path):
    """What we found says the latest phase's mean and limits (11 days since the change on 25 Mar 2024), so its count
    and period are that phase's, not the whole series' (which starts before the change)."""
    data = measure.load(Stage(conditions_council(tmp_path), "housing-repairs", "measure"))
    e2e = _by_id(data.results)["end_to_end_days"]
    since = e2e.result.points[e2e.result.points["phase"] == 1]
    n = int(since["value"].notna().sum())
    line = next(s for s in measure.findings(data) if s.startswith(e2e.name))
    assert line.startswith(f"{e2e.name}: 11 days on average")
    assert f"({n} weeks, 25 Mar 2024 to " in line, line
