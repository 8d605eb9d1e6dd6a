"""Every chart carries a text alternative built from the result it draws: its title, then its key figure; a small
data table a reader can open; and text no smaller than the type scale. One test per chart kind."""

from __future__ import annotations

import re
import subprocess

import graphviz
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from systemic_lib.analysis import flow, joined
from systemic_lib.analysis.experiment.comparison import MEASURES
from systemic_lib.analysis.experiment.mix import DemandMix
from systemic_lib.analysis.experiment.over_time import Spread
from systemic_lib.analysis.spc import xmr
from systemic_lib.data.council import load_council
from systemic_lib.data.stages import Stage
from systemic_lib.display import report
from systemic_lib.display.charts import alt
from systemic_lib.display.charts import demand as demand_charts
from systemic_lib.display.charts import experiment as experiment_charts
from systemic_lib.display.charts import flow as flow_charts
from systemic_lib.display.charts import joined as joined_charts
from systemic_lib.display.charts import processmap as map_chart
from systemic_lib.display.charts import scan as scan_charts
from systemic_lib.display.charts.capability import capability_chart
from systemic_lib.display.charts.style import SMALL, stack_rows, wrap

from conftest import needs_dot
from joined_council import tables
from test_flow import CLOSING, small_log
from test_processmap import log as map_log

BASE = [75, 125] * 6  # mean 100, moving range 50: limits -33 and 233


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def described(ax) -> alt.Description:
    (d,) = alt.of(ax.figure)
    return d


def title_of(ax) -> str:
    return alt.plain_title(ax.get_title() or ax.get_title("left"))


def smallest_text(fig) -> float:
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes)


# ------------------------------------------------------------------------------------------- capability charts
def test_capability_alt_names_mean_limits_recent_signals_and_points_beyond_the_limits():
    dates = pd.date_range("2024-01-01", periods=15, freq="7D")  # 15 Mondays: 1 Jan to 8 Apr 2024
    ax = capability_chart(xmr([*BASE, 250, 100, -50], dates=dates, baseline_points=12), title="Visits", unit="visits")
    d = described(ax)
    assert d.alt.startswith("Capability chart: Visits. 15 weeks from 1 Jan 2024 to 8 Apr 2024: mean 100 visits, ")
    assert "process limits -33 to 233 visits" in d.alt
    # 25 Mar (250) is above the upper limit, 8 Apr (-50) below the lower one; both are in the last 12 weeks
    assert "2 weeks of the last 12 show a special cause (concern and improvement)" in d.alt
    assert "the latest, 8 Apr 2024, is -50 visits" in d.alt
    assert "1 point above the upper limit (March 2024); 1 point below the lower limit (April 2024)" in d.alt
    assert list(d.table.columns) == ["Date", "Value (visits)", "Special cause"]
    assert len(d.table) == 15 and d.table["Special cause"].iloc[12] == "improvement: outside the limits"


def test_capability_alt_names_each_phase_and_a_quiet_recent_run():
    values = [10, 12] * 6 + [20, 21] * 6
    dates = pd.date_range("2024-01-01", periods=24, freq="7D")
    result = xmr(values, dates=dates, phase_starts=["2024-03-25"])
    d = described(capability_chart(result, title="Waits", unit="days", phase_labels=["Team started"]))
    assert "mean 11 days, process limits 5.7 to 16 days" in d.alt
    assert "from 25 Mar 2024, mean 20 days, process limits 18 to 23 days (Team started)" in d.alt
    assert "No special cause in the last 12 weeks" in d.alt


def test_per_case_charts_count_cases_and_long_ones_have_no_table():
    values = list(np.resize([10.0, 30.0, 20.0], 200))
    d = described(capability_chart(xmr(values), title="Per case", unit="days", grain="case"))
    assert d.alt.startswith("Capability chart: Per case. 200 cases: mean 20 days")
    assert d.table is None  # 200 points are more than a reader's table (MAX_TABLE_ROWS)


# --------------------------------------------------------------------------------------------------- demand
@pytest.fixture
def repairs(testshire):
    return load_council(testshire).table("demand", service="housing-repairs")


def test_pareto_alt_names_the_largest_demand_type_and_its_share(repairs):
    ax = demand_charts.pareto_chart(repairs, ax=Figure().add_subplot())
    d = described(ax)
    # 'fix boiler': 2 value + 2 not yet classified of 10 contacts; the top three make 9 of 10
    assert d.alt.startswith(f"Bar chart: {title_of(ax)}.")
    assert "The largest is \u201cfix boiler\u201d: 4 contacts (40% of all), mostly value demand" in d.alt
    assert "The top 3 make 90% of contacts" in d.alt
    assert d.table["Contacts"].tolist() == [4, 3, 2, 1]


def test_failure_channel_and_weekly_alts_name_their_key_figures(repairs):
    d = described(demand_charts.failure_types_chart(repairs, ax=Figure().add_subplot()))
    assert re.search(r"Largest: \u201c.+\u201d 3 contacts \(75%\) of failure demand", d.alt), d.alt
    d = described(demand_charts.channel_chart(repairs, ax=Figure().add_subplot()))
    assert re.search(r"Most contacts: \w[\w ]*, \d+ contacts", d.alt), d.alt
    d = described(demand_charts.weekly_chart(repairs, ax=Figure().add_subplot()))
    assert d.alt.startswith("Capability chart: Contacts per week") and "weeks from 1 Jan 2024" in d.alt


def test_a_chart_of_nothing_says_why_in_its_alt(repairs):
    d = described(demand_charts.pareto_chart(repairs.iloc[:0], ax=Figure().add_subplot()))
    assert d.alt.startswith("Chart: Top 0 of 0 demand types") and d.alt.endswith(". No contacts in this period.")
    assert d.table is None


# ------------------------------------------------------------------------------------------------------ flow
def test_flow_alts_name_waste_share_and_most_common_hands():
    log = flow.FlowLog(small_log(), catalogue=CLOSING)
    d = described(flow_charts.value_waste_chart(log))
    assert "of classified steps are waste" in d.alt and "The largest kind is" in d.alt
    d = described(flow_charts.hands_chart(log))
    assert d.alt.startswith("Bar chart: Hand-offs and people per case") and "Most often a case had" in d.alt
    assert set(d.table.columns) == {"Per case", "Cases with this many hand-offs", "Cases with this many people"}


def test_process_map_alt_names_the_busiest_step_and_arrow():
    graph = map_chart.process_map(map_log(), coverage=1.0)
    (d,) = alt.of(graph)
    # Ask happens 13 times (10 cases + 3 returns); Ask -> Fix 10 times, one day apart
    assert d.alt.startswith("Process map: 4 steps of 4 drawn, with the arrows between them (11 cases, 27 steps).")
    assert "The busiest step is Ask (13 times, a value step)" in d.alt
    assert "the busiest arrow is Ask to Fix (10 times, median wait 1.0 days)" in d.alt
    assert {"From", "To", "Times", "Median wait"} == set(d.table.columns)


def test_a_long_flow_is_drawn_in_rows_that_fill_the_column():
    needs_dot()
    steps = [f"Step number {i}" for i in range(12)]
    rows = [
        (f"C{c}", a, pd.Timestamp("2024-01-01") + pd.Timedelta(days=c + k))
        for c in range(5)
        for k, a in enumerate(steps)
    ]
    ev = pd.DataFrame(rows, columns=["case_id", "activity", "timestamp"]).assign(service="s")
    svg = map_chart.render_svg(map_chart.process_map(flow.FlowLog(ev), coverage=1.0))
    width, height = (float(v) for v in re.search(r'width="([\d.]+)pt" height="([\d.]+)pt"', svg).groups())
    assert width <= map_chart.COLUMN_PT  # never wider than the column: its text keeps the type scale
    assert height < width  # in rows, not a strip 14 steps tall


def test_a_map_dot_cannot_route_is_still_drawn(monkeypatch):
    """dot's spline router fails on some wrapped maps (BPIC 2015's building permits: "triangulation failed ... lost
    a5 a26 edge"): the map is drawn with straight arrows rather than the page failing."""
    needs_dot()
    real_pipe = graphviz.Digraph.pipe

    def pipe(self, *args, **kwargs):
        if kwargs.get("format") == "svg" and self.graph_attr.get("splines") != "line":
            raise subprocess.CalledProcessError(1, ["dot", "-Tsvg"], stderr="Error: lost a5 a26 edge")
        return real_pipe(self, *args, **kwargs)

    monkeypatch.setattr(graphviz.Digraph, "pipe", pipe)
    svg = map_chart.render_svg(map_chart.process_map(map_log(), coverage=1.0))
    assert svg.lstrip().startswith("<?xml") and ">Ask" in svg


def test_joined_alts_name_the_rate_and_each_demand(council_factory):
    stage = Stage(council_factory("linkshire", base={}, **tables()), "housing-repairs", "flow")
    data = flow.load(stage).joined
    d = described(joined_charts.waiting_chart(joined.cost_of_waiting(data)))
    assert "each extra week open brings +0.50 failure contacts" in d.alt and "One dot per case (32)" in d.alt
    rows = joined.by_demand_type(data)
    d = described(joined_charts.demand_types_chart(rows))
    assert d.alt.count("\u201c") == len(rows) and "Median end to end:" in d.alt


# ------------------------------------------------------------------------------------------ scan, experiment
def test_scan_alts_name_the_busiest_service_and_the_longest_wait():
    scan = pd.DataFrame(
        {
            "service_name": ["Housing benefit and council tax support", "Bins"],
            "contacts": [100, 300],
            "value": [40, 90],
            "failure": [60, 200],
            "unclassified": [0, 10],
            "failure_pct": [60.0, 69.0],
            "median_days": [31.0, 11.0],
            "p85_days": [np.nan, 17.0],
            "median_at_least": [np.nan, np.nan],
            "p85_at_least": [120.0, np.nan],
            "cases": [50, 80],
            "open_cases": [12, 0],
        }
    )
    ax = scan_charts.demand_chart(scan)
    assert "Most contacts: Bins, 300 contacts (69% failure demand)" in described(ax).alt
    # never cut: the long name is wrapped onto lines, every word kept
    assert [t.get_text() for t in ax.get_yticklabels()][0].replace("\n", " ") == scan["service_name"][0]
    d = described(scan_charts.end_to_end_chart(scan))
    # the 85% is not reached while 12 of 50 cases are open: "more than", as the bar's label says
    assert "Longest: Housing benefit and council tax support, median 31 days, 85% within more than 120 days" in d.alt
    assert "shortest: Bins, median 11 days" in d.alt
    assert d.table["85% within (days)"].tolist() == ["more than 120", "17"]
    assert d.table["Still open"].tolist() == [12, 0]


def test_experiment_alts_name_each_cohort():
    spread = Spread(
        MEASURES[0],
        pd.DataFrame({"cohort": ["baseline"] * 3 + ["experiment"] * 2, "value": [10, 20, 30, 4, 6]}),
        {"baseline": 3, "experiment": 2},
        None,
        pd.Timestamp("2024-01-01"),
        pd.Timestamp("2024-06-30"),
    )
    d = described(experiment_charts.distribution_chart(spread))
    assert "baseline median 20 days (3 cases); experiment median 5 days (2 cases)" in d.alt
    mix = DemandMix(
        pd.DataFrame(
            {
                "demand_type": ["a", "b"],
                "baseline": [6, 4],
                "experiment": [3, 1],
                "baseline_pct": [60.0, 40.0],
                "experiment_pct": [75.0, 25.0],
            }
        ),
        {"baseline": 10, "experiment": 4},
    )
    d = described(experiment_charts.demand_mix_chart(mix))
    assert "Largest: \u201ca\u201d, 60% of baseline and 75% of experiment cases" in d.alt


# ------------------------------------------------------------------------------------ the figure on the page
def test_figure_html_names_the_svg_with_its_alt_and_opens_its_table():
    ax = capability_chart(xmr(BASE, dates=pd.date_range("2024-01-01", periods=12, freq="7D")), title="<Visits>")
    html = report.chart_html(ax.figure)
    assert html.startswith('<figure class="chart"><svg') and "No description" not in html
    label = re.search(r'<svg[^>]*role="img" aria-labelledby="([^"]+)"', html).group(1)
    title = re.search(rf'<title id="{label}">(.*?)</title>', html).group(1)
    assert title.startswith("Capability chart: &lt;Visits&gt;. 12 weeks")  # escaped, and in step with the title
    assert '<details class="chart-data"><summary>Each point on the chart</summary><table' in html
    assert "<?xml" not in html and "DOCTYPE" not in html and "font-family" not in html
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)) and all(i.startswith("chart") for i in ids)  # unique on the page


def test_figures_drawn_twice_are_the_same_bytes():
    draw = lambda: capability_chart(xmr(BASE, dates=pd.date_range("2024-01-01", periods=12, freq="7D")))
    a, b = (report.figure_html(report._svg.figure_svg(draw().figure), []) for _ in range(2))
    assert re.sub(r"chart\d+-", "", a) == re.sub(r"chart\d+-", "", b)


def test_dense_points_are_one_small_image_and_text_stays_text():
    ax = capability_chart(xmr(list(np.resize([10.0, 30.0, 20.0], 1600))), title="Per case", grain="case")
    svg = report._svg.figure_svg(ax.figure)
    assert svg.count("<image") == 1 and svg.count("<use") < 50  # the 1,600 dots are one image
    assert len(svg) < 80_000 and ">Per case</text>" in svg


# ------------------------------------------------------------------------------------------------ type scale
def test_no_chart_text_is_smaller_than_the_type_scale(repairs):
    report.setup()
    log = flow.FlowLog(small_log(), catalogue=CLOSING)
    dates = pd.date_range("2024-01-01", periods=24, freq="7D")
    capability = capability_chart(
        xmr([10, 12] * 6 + [20, 21] * 6, dates=dates, phase_starts=["2024-03-25"], target=15, baseline_points=12),
        title="Waits",
        phase_labels=["A change with a long name that wraps"],
    )
    for ax in (
        capability,
        demand_charts.pareto_chart(repairs),
        demand_charts.channel_chart(repairs),
        flow_charts.value_waste_chart(log),
        flow_charts.hands_chart(log),
    ):
        assert smallest_text(ax.figure) >= SMALL, title_of(ax)


def test_phase_labels_close_together_are_stacked_never_on_top_of_each_other():
    dates = pd.date_range("2024-01-01", periods=40, freq="7D")
    result = xmr(
        list(np.resize([10.0, 12.0], 40)), dates=dates, phase_starts=["2024-04-01", "2024-04-15", "2024-04-29"]
    )
    ax = capability_chart(result, phase_labels=["First change to the system", "Second change", "Third change"])
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts if (t.get_gid() or "").startswith("phase_label")]
    assert len(boxes) == 3
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)


def test_stack_rows_and_wrap():
    assert stack_rows([0.0, 0.05, 0.5, 0.52], [0.2, 0.2, 0.1, 0.1]) == [0, 1, 0, 1]
    assert stack_rows([0.0, 0.3], [0.2, 0.2]) == [0, 0]
    assert wrap("Housing benefit and council tax support", 24) == "Housing benefit and\ncouncil tax support"
    assert wrap("short") == "short"


def test_a_new_services_emerging_demand_alt_names_its_busiest_week_and_largest_demand():
    weekly = pd.DataFrame(
        {
            "week": pd.to_datetime(["2024-07-01", "2024-07-08", "2024-07-15"]),
            "report a leak": [3, 9, 4],
            "book a visit": [1, 2, 2],
            "not yet classified": [0, 1, 0],
            "failure demand": [0, 2, 1],
        }
    )
    d = alt.emerging_demand(weekly, title="Contacts a week by demand type since 1 July 2024 (25 contacts, 3 weeks)")
    assert d.alt.startswith("Stacked bar chart: Contacts a week by demand type since 1 July 2024")
    assert "The busiest week began 8 July 2024: 14 contacts" in d.alt
    assert "The largest value demand is \u201creport a leak\u201d: 16 contacts" in d.alt
    assert "Its own failure demand: 3 contacts of 25 contacts" in d.alt
    assert d.table["Contacts"].tolist() == [4, 14, 7]


def test_two_arrow_labels_drawn_on_each_other_are_seen():
    """Northshire's health and social care map drew '268' over '11 days' in rows of 12 steps: render_svg tries
    fewer steps to a row until no two labels overlap."""

    def svg(*texts):
        return "".join(
            f'<text text-anchor="middle" x="{x}" y="{y}" font-family="Helvetica" font-size="10.00">{t}</text>'
            for x, y, t in texts
        )

    assert map_chart._labels_overlap(svg((197.3, -308.86, "268"), (218.8, -311.86, "11 days")))
    assert not map_chart._labels_overlap(svg((197.3, -308.86, "268"), (279.3, -159.86, "11 days")))
    assert not map_chart._labels_overlap(svg((234.8, -587.85, "Assess"), (234.8, -573.85, "1,563")))  # two lines
