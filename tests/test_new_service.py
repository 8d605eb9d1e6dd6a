"""A new service built by experiment (issue 25): the hub has no old system, and its experiment page shows demand as it
emerged, a workflow per demand type changing at its learning-log entries, capability since the start and the
learning log; the status ``designed out``; the managers' summary says which conditions made it work. Hubshire's
figures are worked out by hand in ``hub_council``'s docstring."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import nbformat
import pandas as pd
import pytest
from hub_council import hub_files

from systemic_lib.analysis import experiment as ex
from systemic_lib.data import conditions as sc
from systemic_lib.data.contract import CONDITION_STATUS, LEARNING_STATUS
from systemic_lib.data.council import validate_council
from systemic_lib.display import report
from systemic_lib.display.charts import experiment as charts
from systemic_lib.display.sections import experiment as sections

from conftest import run_notebook


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def hub(council_factory):
    return council_factory("hubshire", base=hub_files())


def _load(folder, **kwargs):
    return ex.load(report.start(folder, "hub", stage="experiment"), resamples=50, **kwargs)


# ------------------------------------------------------------------------------------------------ no old system
@pytest.mark.parametrize("declared", [True, False])
def test_a_hub_with_no_old_system_reads_as_a_new_service(council_factory, shown, declared):
    """Today the page says 'there are no baseline cases to compare with: mark old-system cases with cohort
    baseline' and every measure 'no cases to compare'. A new service, declared or with every case the team's, has
    nothing to mark: no baseline wording anywhere on its page."""
    data = _load(council_factory(base=hub_files(declared=declared)))
    assert data.design.kind == "new service" and data.new_service is not None and data.has_experiment
    figures = ex.figures(data)
    assert figures["design"] == "new service" and figures["measures"] == []
    assert figures["new_service"]["cases"] == 224 and figures["new_service"]["open_cases"] == 3
    assert ex.headline(data) == (
        "Since 4 November 2024 the Hub team has built a new service, Community hub, by experiment: 242 contacts in "
        f"6 weeks and 224 cases (3 still open); a citizen's need is now predictably met within "
        f"{figures['new_service']['end_to_end_per_case']['predictably_within_days']:.1f} days of their first contact."
    )
    for show in (
        sections.show_headline,
        sections.show_data_checks,
        sections.show_new_service,
        sections.show_comparison,
        sections.show_distributions,
        sections.show_before_after,
        sections.show_learning_log,
        sections.show_summary,
        sections.show_questions,
    ):
        show(data)
    page = "".join(shown)
    assert "baseline" not in page.lower() and "old-system" not in page and "no cases to compare" not in page
    assert "there is no old system to compare with" in page
    for heading in ("What the team built", "Demand as it emerged", "A workflow for each demand", "What made it work"):
        assert heading in page
    assert "What the service predictably achieves now: a citizen&#x27;s need met within" in page


def test_the_box_says_what_was_built_in_eight_lines_at_most(hub):
    lines = ex.box(_load(hub))
    assert 6 <= len(lines) <= 8
    assert lines[0].startswith("The Hub team started Community hub on 4 November 2024 with 4 people recording")
    assert "in 6 weeks it took 242 contacts and 224 cases, 3 still open" in lines[0]
    assert lines[1] == (
        "Demand emerged: I need food from week 1; I need my prescription from week 2; I need emergency support "
        "from week 3."
    )
    assert (
        "Failure demand: 18 of 242 classified contacts (7%) were its own failures: where is my food parcel? (18)."
        in lines
    )
    assert (
        "Workflow, I need food: from 4 steps and 3 people a case to 2 and 1, a median 4.0 days end to end to 1.0 days."
        in lines
    )
    assert lines[-1].startswith("Conditions designed out: 2 (Structure: each department takes only its own demand;")


# ------------------------------------------------------------------------------------------------ demand emerging
def test_demand_emerges_by_type_week_by_week_with_its_own_failure_demand(hub):
    """Today the page has no view of demand since the start. Week 1: food only (21); week 2: food 21, prescriptions
    14, chasing 4; from week 3 emergency support 7 a week. 18 chasing contacts are the hub's own failure demand."""
    ns = _load(hub).new_service
    weekly = ns.weekly.set_index("week")
    assert list(weekly.index) == list(pd.date_range("2024-11-04", periods=6, freq="7D"))
    assert weekly["I need food"].tolist() == [21] * 6
    assert weekly["I need my prescription"].tolist() == [0] + [14] * 5
    assert weekly["I need emergency support"].tolist() == [0, 0] + [7] * 4
    assert weekly["failure demand"].tolist() == [0, 4, 3, 4, 3, 4]
    types = ns.types.set_index("demand_type")
    assert types.loc["I need food", "week_no"] == 1 and types.loc["I need my prescription", "week_no"] == 2
    assert types.loc["I need emergency support", "week_no"] == 3
    assert (
        types.loc["where is my food parcel?", "kind"] == "failure"
        and types.loc["where is my food parcel?", "contacts"] == 18
    )
    # the mix shifts: food is all of the first 4 weeks' value... and less of the last 4
    assert types.loc["I need food", "first_pct"] > types.loc["I need food", "last_pct"]
    assert (ns.contacts, ns.classified, ns.failure) == (242, 242, 18)
    assert ex.new_service.failure_words(ns).startswith(
        "18 of 242 classified contacts (7%) were the service's own failure demand"
    )
    ax = charts.emerging_demand_chart(ns)
    assert "242 contacts, 6 weeks" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "I need food",
        "I need my prescription",
        "I need emergency support",
        "failure demand (its own)",
    ]


# ------------------------------------------------------------------------------------------------ workflows
def test_each_demand_types_workflow_changes_at_its_learning_log_entry(hub):
    """Today the page shows no workflow per demand type. Food changes on 18 November (the entry about it): 42 cases
    before (4 steps, 3 people, 4 days, through the eligibility check), 84 after (2 steps, 1 person, 1 day, 3 open).
    The entry of 2 December is about every type but changed nothing (open), so it splits no workflow; prescriptions
    and emergency support have one stretch each."""
    ns = _load(hub).new_service
    flows = {wf.demand_type: wf for wf in ns.workflows}
    assert list(flows) == ["I need food", "I need my prescription", "I need emergency support"]
    food = flows["I need food"].stretches
    assert food["from"].dt.date.astype(str).tolist() == ["2024-11-04", "2024-11-18"]
    assert food["cases"].tolist() == [42, 84] and food["open"].tolist() == [0, 3]
    assert food["steps"].tolist() == [4, 2] and food["people"].tolist() == [3, 1]
    assert food["median_days"].tolist() == [pytest.approx(4, abs=0.01), pytest.approx(1, abs=0.01)]
    assert food["path"].tolist() == [
        "Take the call → Check eligibility → Pass to the food bank → Deliver food",
        "Take the call → Deliver food",
    ]
    assert "designed out: Rule: proof of eligibility before a food parcel" in food["change"].iloc[1]
    assert len(flows["I need my prescription"].stretches) == 1 and len(flows["I need emergency support"].stretches) == 1
    table = ex.new_service.workflow_table(flows["I need food"])
    assert table["Cases (open)"].tolist() == ["42 (0)", "84 (3)"]
    saved = ex.figures(_load(hub))["new_service"]["workflows"][0]["stretches"]
    assert saved[0]["change"] is None and saved[1]["steps"] == 2


def test_an_entry_about_every_type_that_changed_the_system_splits_every_workflow(council_factory):
    files = hub_files()
    files["learning_log.csv"] = files["learning_log.csv"].replace(
        "Head of Digital,open,,", "Head of Digital,designed out,2024-12-02,"
    )
    ns = _load(council_factory(base=files)).new_service
    for wf in ns.workflows:
        assert pd.Timestamp("2024-12-02") in set(wf.stretches["from"]), wf.demand_type


# ------------------------------------------------------------------------------------------------ capability
def test_capability_since_the_start_has_phases_only_at_the_recorded_changes(hub):
    """One recorded change (eligibility designed out on 18 November): the per-case chart and the weekly contacts
    each get that one phase; the condition kept out from the start (no date) is no phase."""
    data = _load(hub)
    ns = data.new_service
    assert [p.date.isoformat() for p in ns.changes] == ["2024-11-18"]
    assert [c["date"] for c in ns.capability.changes] == [pd.Timestamp("2024-11-18")]
    assert ns.volume_labels == ["Rule: proof of eligibility before a food par\u2026 (designed out)"]
    assert len(ns.volume.phases) == 2 and ns.volume_weeks["value"].tolist() == [21, 39, 45, 46, 45, 46]
    now = ns.predictably()
    assert now.startswith("What the service predictably achieves now: a citizen's need met within ")
    assert "closed since 18 November 2024 (Rule: proof of eligibility before a food parcel); 3 cases still open." in now
    assert ex.figures(data)["new_service"]["predictably_now"] == now


# ------------------------------------------------------------------------------------------------ designed out
def test_designed_out_is_a_status_that_starts_a_phase_only_with_a_date(council_factory, tmp_path):
    assert "designed out" in LEARNING_STATUS and "designed out" in CONDITION_STATUS
    frame = pd.DataFrame(
        {
            "id": ["SC-001", "SC-002", "SC-003"],
            "service": "hub",
            "system_condition": ["Eligibility rule", "Department silos", "Call scripts"],
            "waste_seen": "x",
            "status": ["designed out", "designed out", "in hand"],
            "changed_at": [pd.Timestamp("2024-11-18"), pd.NaT, pd.NaT],
            "phase": pd.NA,
        }
    )
    assert [(p.date.isoformat(), p.label) for p in sc.phases((), frame)] == [
        ("2024-11-18", "Eligibility rule (designed out)")
    ]
    # a condition kept out from the start has no date and no warning; the learning log validates clean
    assert [p for p in validate_council(council_factory("valid", base=hub_files())) if p.column == "changed_at"] == []
    form = __import__("systemic_lib.coach.condition_form", fromlist=["ConditionForm"])
    assert "designed out" in form.LEARNING_STATUS


def test_the_managers_summary_says_which_conditions_made_it_work(hub):
    """Rolling in, not copying: the summary lists the conditions designed out (with what was learned), not a
    procedure, and on the page and in the coach app alike."""
    data = _load(hub)
    html = sections.summary_html(data)
    assert "What made it work" in html and "copy its conditions, not its procedures" in html
    assert "<b>Structure: each department takes only its own demand</b>: designed out (kept out from the start)" in html
    assert "<b>Rule: proof of eligibility before a food parcel</b>: designed out (since 18 November 2024)" in html
    assert "compared with" not in html and "baseline" not in html
    from systemic_lib.coach import managers

    coach = managers.summary_html(hub, "hub")
    assert "What made it work: copy the conditions, not the procedure" in coach
    assert "Rule: proof of eligibility before a food parcel" in coach and "What the experiment shows" not in coach


# ------------------------------------------------------------------------------------------------ the notebook
@pytest.mark.slow
def test_the_hubs_experiment_notebook_renders_its_page(hub, tmp_path):
    figures, shown = run_notebook("experiment", tmp_path / "hub", council_dir=str(hub), service="hub")
    nb = nbformat.read(tmp_path / "hub" / "experiment.executed.ipynb", 4)
    images = sum(
        '<figure class="chart' in str(o.get("data", {}).get("text/html", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    assert images == 3  # demand as it emerged, end-to-end time per case, contacts a week (inline SVG figures)
    assert figures["design"] == "new service" and figures["new_service"]["weeks"] == 6
    assert "no baseline" not in shown.lower() and "mark old-system cases" not in shown
    assert "How the service was built: the learning log" in shown and "Capability since the start" in shown
    assert json.dumps(figures)  # plain JSON: no NaN anywhere
    assert "NaN" not in json.dumps(figures)


def _texts(widget) -> str:
    """Every piece of text a coach step's widgets show."""
    own = widget.value if isinstance(getattr(widget, "value", None), str) else ""
    return own + " ".join(_texts(c) for c in getattr(widget, "children", ()))


def test_the_coach_experiment_step_reads_as_a_new_service(hub):
    """The coach app's Experiment step: the team builds a new service, no comparison and no baseline wording; its
    learning-log form offers designed out and the demand type an entry changed."""
    from types import SimpleNamespace

    from systemic_lib.coach import learning
    from systemic_lib.coach.readiness import check

    step = learning.build(SimpleNamespace(folder=hub, service="hub", readiness=check(hub)))
    text = _texts(step)
    assert "The team builds a new service by experiment" in text and "has built a new service, Community hub" in text
    assert "baseline" not in text.lower() and "old system" not in text
    form = next(
        c
        for c in step.children
        if getattr(c, "children", None) and any(getattr(x, "description", "") == "Demand type" for x in c.children)
    )
    status = next(x for x in form.children if getattr(x, "description", "") == "Status")
    assert "designed out" in status.options


def test_a_new_service_with_only_cases_and_events_says_what_it_can(council_factory, shown):
    """No demand table and no learning log: the page still reads as a new service, says there is nothing to show
    where there is nothing, and raises nothing."""
    files = {**hub_files(), "demand.csv": None, "learning_log.csv": None}
    data = _load(council_factory("thin", base=files))
    assert data.new_service is not None and data.new_service.contacts == 0
    sections.show_headline(data)
    sections.show_new_service(data)
    sections.show_learning_log(data)
    page = "".join(shown)
    assert "baseline" not in page.lower() and "A workflow for each demand" in page
    assert json.dumps(ex.figures(data)) and "NaN" not in json.dumps(ex.figures(data))


# ------------------------------------------------------------------------------------------------ the organisation scan
@pytest.mark.parametrize("declared", [True, False])
def test_the_scan_says_a_new_service_is_not_named_because_it_is_new_not_split_by_way_of_working(
    council_factory, declared
):
    """Today the scan says of the hub 'an experiment team has worked there since 4 November 2024. Its end-to-end time
    by way of working: the experiment team, median ...', as if an old system ran beside it. A new service (declared,
    or every case the team's) has one way of working: the scan says it is new and gives its own end-to-end time."""
    from systemic_lib.analysis import scan, start
    from systemic_lib.data.stages import Stage

    files = hub_files(declared=declared)
    files["council.yaml"] += "  - id: repairs\n    name: Housing repairs\n    purpose: Fix my home\n"
    at = pd.date_range("2024-11-04 10:00", periods=80, freq="12h")
    files["demand.csv"] += "".join(
        f"R{i:04d},repairs,{t:%Y-%m-%d %H:%M},phone,Fix it,{kind} repair,{kind},{'progress chasing' if i % 2 else ''},\n"
        for i, t in enumerate(at)
        for kind in ["failure" if i % 2 else "value"]
    )
    files["cases.csv"] += "".join(
        f"RC{i:03d},repairs,{t:%Y-%m-%d %H:%M},{t + pd.Timedelta(days=10):%Y-%m-%d %H:%M},\n" for i, t in enumerate(at)
    )
    data = scan.load(Stage(council_factory(base=files), None, "organisation_scan"))
    assert data.experiments["hub"]["new_service"] is True
    point = scan.starting_point(data)
    assert point.services == ["repairs"]
    assert [e["reason"] for e in point.excluded if e["service"] == "hub"] == [
        "a new service built by experiment since 4 November 2024"
    ]
    assert (
        "Community hub is not named: it is a new service, built by experiment since 4 November 2024, with no old "
        "system to compare. Its end-to-end time: median " in point.sentence
    )
    assert "(224 cases, 3 still open)." in point.sentence and "by way of working" not in point.sentence
    rows = start.evidence_rows(data.table, point, experiments=data.experiments).set_index("Service")
    assert rows.loc["Community hub", "Experiment"].startswith("a new service built by experiment: median ")
