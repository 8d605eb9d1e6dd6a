"""One reading per measure (issue 19, items 2 and 5): the weekly view and the cases agree before a sentence says a
change is real, a run since broken is no lasting change, the badge says what the latest point is, changes are read
against the records, and a season is never a special cause to chase.

The trap councils are built from the sample's own services and changes (``sample.write_council``), so each test
reads the very data the sentence used to be wrong about."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from systemic_lib.analysis import demand, measure, measure_cases, reading, season
from systemic_lib.analysis.reading import View, change_view, reading_of
from systemic_lib.analysis.records import named_demand_types, named_steps
from systemic_lib.analysis.spc import xmr
from systemic_lib.data import sample
from systemic_lib.data.stages import Stage

WEEKS = pd.date_range("2024-01-01", periods=40, freq="7D")


def _chart(values, *, change_at: int | None = 20, improvement: str = "decrease"):
    dates = WEEKS[: len(values)]
    starts = [dates[change_at]] if change_at is not None else []
    return xmr(values, dates=dates, phase_starts=starts, improvement=improvement)


# ----------------------------------------------------------------------------------------------- the weekly view
def test_a_run_since_broken_is_no_lasting_change():
    # old: 28/29 alternating (mean 28.5); after the change 8 weeks above it, then back around it
    values = [28, 29] * 10 + [30] * 8 + [28, 29] * 6
    view = change_view(_chart(values))
    assert view.shows is None and view.enough
    assert "A run of 8 points after the change sat above the old average" in view.sentence
    assert "has since been broken: the data do not show a lasting change" in view.sentence
    assert "real change for the worse" not in view.sentence


def test_a_run_that_lasts_to_the_latest_point_is_real():
    values = [28, 29] * 10 + [20, 21] * 5
    view = change_view(_chart(values))
    assert view.shows == "improvement" and "All 10 points since the change sit below" in view.sentence


def test_points_beyond_both_old_limits_point_no_way_and_agree_with_the_reading():
    # Westmere repairs' "delivered when wanted" (21 points since the change, old limits 3 to 46%): one week at 48%,
    # one at 0%, the new average below the old one. Today the sentence said "this points to a real improvement"
    # while the reading (and the page's headline) said "no lasting change".
    values = [28, 29] * 10 + [28, 29, 40, 28, 29, 15, 28, 29, 28, 29]
    change = {"date": str(WEEKS[20].date()), "label": "pre-inspection removed"}
    r = reading_of(_chart(values, improvement="increase"), measure="delivered when wanted", unit="%", change=change)
    assert r.value == "no change" and r.words == "no lasting change"
    assert "points to" not in r.sentence and "real improvement" not in r.sentence
    assert "2 of the 10 points since the change are beyond the old limits" in r.sentence
    assert "(1 above, 1 below): the system varies more than it did" in r.sentence


def test_points_beyond_one_old_limit_while_the_rest_fall_the_other_way_point_no_way():
    values = [28, 29] * 10 + [40, 27, 26, 29, 26, 27, 29, 26, 27, 26]
    view = change_view(_chart(values, improvement="increase"), unit="%")
    assert "1 of the 10 points since the change is beyond the old limits" in view.sentence
    assert "yet the points since the change average below the old average" in view.sentence
    assert "points to" not in view.sentence


def test_points_beyond_one_old_limit_on_the_side_they_moved_point_that_way():
    values = [28, 29] * 10 + [40, 29, 30, 28, 31, 29, 28, 30, 29, 30]
    view = change_view(_chart(values, improvement="increase"), unit="%")
    assert view.shows is None
    assert "1 of the 10 points since the change is beyond the old limits" in view.sentence
    assert "this points to a real improvement; 7 or more points in a row above" in view.sentence


def test_too_few_points_since_the_change_is_not_enough_data():
    values = [28, 29] * 10 + [27, 27.5, 27]
    r = reading_of(_chart(values), measure="end-to-end time", unit="days")
    assert r.value == "not enough data" and "too soon to tell" in r.sentence


# ------------------------------------------------------------------------------------------------ two views, one
def _per_case(shows, enough=True):
    return View("per case", shows, enough, f"Cases: {shows or 'could be noise'}.")


@pytest.mark.parametrize(
    ("per_case", "expected", "said"),
    [
        (_per_case("improvement"), "improvement", "The weekly medians and the cases agree"),
        (_per_case(None), "no change", "The weekly medians show a change the cases themselves do not"),
        (_per_case("concern"), "no change", "point different ways"),
        (_per_case(None, enough=False), "improvement", "So the weekly medians decide"),
    ],
)
def test_a_real_change_needs_both_views_or_says_which_and_why(per_case, expected, said):
    values = [28, 29] * 10 + [20, 21] * 5  # the weekly medians: a lasting fall
    r = reading_of(_chart(values), measure="end-to-end time", unit="days", per_case=per_case, change={"date": "x"})
    assert r.value == expected and said in r.sentence
    assert per_case.sentence in r.sentence


def test_no_recorded_change_a_special_cause_says_find_out_what_happened():
    values = [28, 29] * 10 + [40] * 8
    r = reading_of(_chart(values, change_at=None), measure="end-to-end time", unit="days")
    assert r.value == "concern" and r.change is None
    assert "no recorded change to the system nearby: find out what happened" in r.sentence
    assert r.badge == "Latest point: getting worse (special cause, higher)"


def test_the_cases_view_compares_the_cases_opened_before_and_since_with_an_interval():
    rng = np.random.default_rng(1)
    n = 400
    start = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.uniform(0, 300, n), unit="D")
    days = np.where(start < pd.Timestamp("2024-06-01"), 30, 20) + rng.normal(0, 3, n)
    frame = pd.DataFrame({"start": start, "duration": days, "open": False})
    view = measure_cases.cohort_view(frame, "2024-06-01")
    assert view.shows == "improvement" and "clearly shorter" in view.sentence
    same = frame.assign(duration=30 + rng.normal(0, 3, n))
    view = measure_cases.cohort_view(same, "2024-06-01")
    assert view.shows is None and view.enough and "could be noise" in view.sentence
    few = measure_cases.cohort_view(frame.head(12), "2024-06-01")
    assert not few.enough and "Too few cases" in few.sentence


# --------------------------------------------------------------------------------------------------- the seasons
def test_a_yearly_pattern_needs_the_same_months_high_in_two_years():
    weeks = pd.date_range("2024-01-01", periods=65, freq="7D")
    month = (weeks + pd.Timedelta(days=3)).month
    rng = np.random.default_rng(3)
    winter = np.where(np.isin(month, [1, 2, 3, 11, 12]), 130, 100) + rng.normal(0, 4, len(weeks))
    found = season.yearly_pattern(weeks, winter)
    assert found is not None and {1, 2, 3} <= set(found.confirmed)
    assert "ran high from January to March in both 2024 and 2025" in found.sentence("demand per week")
    flat = 100 + rng.normal(0, 4, len(weeks))
    assert season.yearly_pattern(weeks, flat) is None
    assert season.yearly_pattern(weeks[:40], winter[:40]) is None  # less than a year


# ------------------------------------------------------------------------------------------------ named targets
def test_a_change_names_a_step_by_a_word_no_other_step_has():
    steps = ["Log repair", "Pre-inspection visit", "Visit to repair", "Post-inspection", "Raise works order"]
    text = "Rule: every job over 250 pounds waits for a surveyor's pre-inspection"
    assert named_steps(text, steps) == ["Pre-inspection visit"]
    assert named_steps("Experiment team started in adult social care", steps + ["Pass to locality team"]) == []
    assert named_demand_types(
        "Stop the letters that cause I don't understand my bill calls", ["I don't understand my bill", "bill"]
    ) == [
        "I don't understand my bill",
        "bill",
    ]


# ------------------------------------------------------------------------------------- councils built for the trap
def _council(tmp_path, slug: str, service, changes=(), *, index: int, rules: bool = False):
    plan = sample.CouncilPlan(
        slug, slug.title(), (sample.ServicePlan(*service, changes),), ("Brook Street", "Eastgate"), rules=rules
    )
    return sample.write_council(plan, tmp_path / slug, seed=2024, index=index)


@pytest.fixture(scope="module")
def eastbrook_tax(tmp_path_factory):
    """Eastbrook's council tax: plain-English letters from 2 September 2024 (the sample's data, rebuilt alone)."""
    folder = _council(
        tmp_path_factory.mktemp("trap"),
        "eastbrook",
        (sample.COUNCIL_TAX, 9000, 0.6, sample._PHONE_HEAVY),
        (sample.PLAIN_LETTERS,),
        index=1,
        rules=True,
    )
    return folder, measure.load(Stage(folder, "council-tax", "measure"))


def test_eastbrook_council_tax_leads_with_one_reading_not_a_broken_run(eastbrook_tax):
    folder, data = eastbrook_tax
    e2e = next(r for r in data.results if r.id == "end_to_end_days")
    headline = measure.headline(data)
    # today: "a real change for the worse in end-to-end time" from a run of weekly medians since broken
    assert "real change for the worse" not in headline and "no lasting change in end-to-end time" in headline
    assert e2e.reading.value == "no change"
    assert "has since been broken: the data do not show a lasting change" in e2e.narration
    # the per-case paragraph used to say "a real improvement"; it now compares the cases opened before and since
    assert "real improvement" not in data.per_case.narration
    assert "Cases opened since the change took a median of 28.3 days, against 28.0 days" in data.per_case.narration
    assert "could be noise" in e2e.reading.sentence and "Neither view shows a lasting change" in e2e.reading.sentence
    # the badge says what the latest point is, and the phase line says the reading, not a broken run
    from systemic_lib.display.charts.measure import chart

    ax = chart(e2e)
    texts = {t.get_gid(): t.get_text() for t in ax.texts}
    assert texts["variation_badge"] == "Latest point: common cause, no signal"
    assert texts["phase_label_1"].endswith("no lasting change")
    # the per-case chart on the same page: its phase line says the same reading, never "real improvement"
    from systemic_lib.display.charts.measure import case_chart

    cases = {t.get_gid(): t.get_text() for t in case_chart(data.per_case, reading=e2e.reading).texts}
    assert cases["phase_label_1"].endswith("no lasting change") and cases["variation_badge"].startswith("Latest point")
    every = " ".join([*texts.values(), *cases.values(), headline, e2e.narration, data.per_case.narration])
    assert "No significant change" not in every and "real improvement" not in every
    figures = json.loads(json.dumps(measure.figures(data)))
    entry = figures["measures"]["end_to_end_days"]["reading"]
    assert entry["value"] == "no change" and [v["view"] for v in entry["views"]] == ["weekly", "per case"]
    assert {"value", "sentence", "latest_point", "change", "views", "season"} <= set(entry)


def test_the_per_case_limits_sit_beside_the_weekly_ones_in_every_summary(eastbrook_tax):
    folder, data = eastbrook_tax
    table = measure.measure_summary(data)
    assert table["Measure"].tolist()[:2] == ["End-to-end time (weekly median)", "End-to-end time (per case)"]
    per_case = table.iloc[1]
    current = data.per_case.result.current
    assert per_case["Upper limit"] == current["upper"] and per_case["Points"] == len(data.per_case.finished)
    assert per_case["Reading"] == table.iloc[0]["Reading"] == "no lasting change"
    from systemic_lib.coach import managers
    from systemic_lib.coach.capability import charts_html

    summary = managers.summary_html(folder, "council-tax")
    assert "End-to-end time (per case)" in summary and "no lasting change" in summary
    assert "real change for the worse" not in summary and "real improvement" not in summary
    coach = charts_html(folder, "council-tax")
    assert "Reading: no lasting change." in coach and "real change for the worse" not in coach


def test_the_plain_letters_are_read_against_the_demand_they_target(eastbrook_tax):
    _, data = eastbrook_tax
    (check,) = data.checks
    (target,) = check.targets
    # the change that worked: "I don't understand my bill" fell from 22.3 to 6.9 contacts a week
    assert target.kind == "demand type" and target.why == "named in council.yaml"
    assert target.sentence == (
        "\u201cI don't understand my bill\u201d (a demand type the change names): 22.3 contacts a week before 2 Sep "
        "2024, 6.9 a week since, -69%: the records show the change."
    )
    assert target.result is not None and len(target.result.phases) == 2
    figure = measure.figures(data)["changes_checked"][0]["targets"][0]
    assert figure["records_show_the_change"] is True and figure["before"] == 22.3 and figure["after"] == 6.9


@pytest.fixture(scope="module")
def westmere_repairs(tmp_path_factory):
    """Westmere's repairs: the surveyor's pre-inspection rule marked changed on 4 November 2024 (SC-001)."""
    folder = _council(
        tmp_path_factory.mktemp("trap"), "westmere", (sample.HOUSING_REPAIRS, 7000, 0.62, sample._PHONE_HEAVY), index=2
    )
    return folder, measure.load(Stage(folder, "housing-repairs", "measure"))


def test_a_change_the_records_do_not_show_gets_no_credit(westmere_repairs):
    _, data = westmere_repairs
    (check,) = data.checks
    (target,) = check.targets
    assert target.kind == "step" and target.name == "Pre-inspection visit"
    assert target.sentence.startswith("Pre-inspection visit (a step the change names): 45% of the ")
    assert target.sentence.endswith("44% of the 632 opened since: the records do not show the change yet.")
    # the winter rise after 4 November is the season Northshire shows too: not a real change in demand
    demand_ = next(r for r in data.results if r.id == "weekly_demand")
    assert demand_.season is not None and demand_.reading.value != "change"
    assert "this is a real change, not noise" not in demand_.narration
    assert "cannot be told from the season yet" in demand_.reading.sentence


@pytest.fixture(scope="module")
def northshire_repairs(tmp_path_factory):
    folder = _council(
        tmp_path_factory.mktemp("trap"),
        "northshire",
        (sample.HOUSING_REPAIRS, 4800, 0.45, sample._PHONE_HEAVY),
        index=0,
    )
    return folder


def test_a_seasonal_week_is_not_called_unusual(northshire_repairs):
    data = measure.load(Stage(northshire_repairs, "housing-repairs", "measure"))
    weekly = next(r for r in data.results if r.id == "weekly_demand")
    # today: "The latest point (101 contacts, 24 March 2025) is unusually high: worth finding out why."
    assert "101 contacts, 24 March 2025" in weekly.narration
    assert "worth finding out why" not in weekly.narration
    assert "has a yearly pattern: it ran high from January to March in both 2024 and 2025" in weekly.narration
    assert weekly.reading.latest == "seasonal_high" and weekly.reading.value == "no change"
    assert weekly.reading.badge == "Latest point: high, as at this time every year"


def test_seasonal_demand_types_are_not_called_unpredictable(northshire_repairs):
    data = demand.load(Stage(northshire_repairs, "housing-repairs", "demand"))
    table = demand.predictability(data.contacts, changes=data.changes)
    # today every large demand type here is "Not predictable"
    seasonal = table[table["verdict"].str.startswith("Seasonal: high in")]
    assert len(seasonal) >= 3
    assert not table["verdict"].str.startswith("Not predictable").all()
    assert "has a yearly pattern" in demand.season_sentence(data)


def test_latest_words_cover_every_variation_icon():
    from systemic_lib.analysis.narrate import VARIATION_WORDS

    assert set(VARIATION_WORDS) <= set(reading.LATEST_WORDS)


def test_a_dated_condition_is_a_marker_on_every_chart_never_a_phase(westmere_repairs):
    """Issue 24, item 2: SC-001, raised on 11 March 2024 and changed on 4 November 2024, is marker 1 at its raising
    on each chart; the only phase is its change."""
    folder, data = westmere_repairs
    e2e = next(r for r in data.results if r.id == "end_to_end_days")
    first = e2e.markers[0]
    assert (first.number, first.date.date().isoformat(), first.source) == (1, "2024-03-11", "system condition SC-001")
    assert first.text == "Condition raised: Rule: every job over 250 pounds waits for a surveyor's pre-inspection"
    entry = measure.figures(data)["measures"]["end_to_end_days"]
    assert entry["markers"][0] == first.figure()
    assert [p["start"] for p in entry["phases"]][1:] == ["2024-11-04"]
    from systemic_lib.coach.capability import charts_html
    from systemic_lib.display.charts.measure import chart

    assert "marker_1" in {t.get_gid() for t in chart(e2e).texts}
    assert "Marked on the chart: 1, 11 Mar 2024: Condition raised: Rule: every job over 250 pounds" in charts_html(
        folder, "housing-repairs"
    ).replace("&#x27;", "'")
