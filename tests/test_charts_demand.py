"""The demand charts: each title says the period and the count, colours carry value / failure / unclassified, and a
chart with nothing to draw says so in words."""

import pytest
from matplotlib.figure import Figure

from systemic_lib.data.council import load_council
from systemic_lib.display.charts import demand as charts
from systemic_lib.display.charts.style import PALETTE
from systemic_lib.errors import SystemicError

CHARTS = [charts.pareto_chart, charts.failure_types_chart, charts.channel_chart, charts.weekly_chart]


@pytest.fixture
def repairs(testshire):
    return load_council(testshire).table("demand", service="housing-repairs")


def _title(ax) -> str:
    return ax.get_title() or ax.get_title("left")  # the capability chart titles on the left


@pytest.mark.parametrize("chart", CHARTS)
def test_charts_return_axes_with_period_and_count(repairs, chart):
    ax = chart(repairs, ax=Figure().add_subplot())
    title = _title(ax)
    assert "1 Jan 2024 to 18 Jan 2024" in title
    assert "contacts" in title


def test_pareto_chart_colours_value_and_failure(repairs):
    ax = charts.pareto_chart(repairs, ax=Figure().add_subplot())
    colours = {tuple(round(c, 3) for c in p.get_facecolor()[:3]) for p in ax.patches}
    assert len(colours) == 3  # value, failure, unclassified
    from matplotlib.colors import to_rgb

    assert colours == {tuple(round(c, 3) for c in to_rgb(PALETTE[k])) for k in ("value", "failure", "unclassified")}


def test_weekly_chart_of_failure_pct_and_charts_of_nothing(repairs):
    ax = charts.weekly_chart(repairs, measure="failure_pct", ax=Figure().add_subplot())
    assert "Failure demand %" in _title(ax)
    for chart in CHARTS:
        assert chart(repairs.iloc[:0], ax=Figure().add_subplot()) is not None
    with pytest.raises(SystemicError, match="contacts' or 'failure_pct"):
        charts.weekly_chart(repairs, measure="volume")


def test_a_chart_of_nothing_says_so_in_words(repairs):
    ax = charts.pareto_chart(repairs.iloc[:0], ax=Figure().add_subplot())
    assert [t.get_text() for t in ax.texts] == ["No contacts in this period"]
    ax = charts.weekly_chart(repairs.iloc[:2], ax=Figure().add_subplot())  # two contacts in one week
    assert [t.get_text() for t in ax.texts] == ["Fewer than two weeks of data: no chart yet"]


def test_pareto_chart_has_one_bar_per_demand_type(repairs):
    # Housing repairs: 'fix boiler' is 2 value (C01 C07) + 2 unclassified (C06, C09) = 4 contacts on ONE bar;
    # 'when will repair be done' 3 failure; 'fix roof' 2 value; 'repair not right' 1 failure.
    ax = charts.pareto_chart(repairs, ax=Figure().add_subplot())
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["fix boiler", "when will repair be done", "fix roof", "repair not right"]
    widths = {}
    for p in ax.patches:
        row = round(p.get_y() + p.get_height() / 2)
        widths[labels[row]] = widths.get(labels[row], 0) + p.get_width()
    assert widths == {"fix boiler": 4, "when will repair be done": 3, "fix roof": 2, "repair not right": 1}
