"""The cost-of-waiting and design-against-demand charts: what they draw, the same picture every render, counts and
period in the title, and demand-type names drawn literally (a ``$`` never starts mathtext)."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest

from systemic_lib.analysis import flow, joined
from systemic_lib.data.stages import Stage
from systemic_lib.display.charts import joined as charts

from joined_council import tables


@pytest.fixture
def data(council_factory):
    return flow.load(
        Stage(
            council_factory("linkshire", base={}, **tables(roof="<b>roof</b> $5 fee, $x", boiler="boiler")),
            "housing-repairs",
            "flow",
        )
    ).joined


def test_waiting_chart_draws_each_case_and_the_fitted_line(data):
    w = joined.cost_of_waiting(data)
    ax = charts.waiting_chart(w)
    assert (
        ax.get_title()
        == "Failure contacts per case against weeks open, 1 January 2024 to 29 January 2024 (32 linked cases)"
    )
    finished, still_open = ax.collections
    assert len(finished.get_offsets()) == 28 and len(still_open.get_offsets()) == 4
    (line,) = ax.lines
    assert np.allclose(line.get_ydata(), [0.0, 2.0])  # 0.5 a week from 0 to 4 weeks
    assert "+0.50 failure contacts a week" in line.get_label()
    # the jitter is seeded for the drawing: two renders give the same points, and the global state is untouched
    state = np.random.get_state()[1].copy()
    again = charts.waiting_chart(w).collections[0].get_offsets()
    assert np.array_equal(np.asarray(again), np.asarray(finished.get_offsets()))
    assert np.array_equal(state, np.random.get_state()[1])
    assert (
        np.abs(np.asarray(finished.get_offsets())[:, 1] - w.per_case.loc[~w.per_case["open"], "failure_contacts"]).max()
        <= 0.2
    )
    plt.close("all")


def test_no_line_below_30_cases_and_a_plain_axes_with_no_links(council_factory):
    few = joined.cost_of_waiting(
        flow.load(Stage(council_factory("few", base={}, **tables(29)), "housing-repairs", "flow")).joined
    )
    ax = charts.waiting_chart(few)
    assert not ax.lines and any("Fewer than 30 linked cases" in t.get_text() for t in ax.texts)
    empty = joined.Waiting(few.per_case.iloc[:0], None, None, 0, 0, 0, 0, 0, 0, 0, None, None)
    ax = charts.waiting_chart(empty)
    assert [t.get_text() for t in ax.texts] == ["No contact is linked to a case"]
    plt.close("all")


def test_demand_types_chart_names_are_literal_text(data):
    rows = joined.by_demand_type(data)
    ax = charts.demand_types_chart(rows, period="1 January 2024 to 29 January 2024")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["boiler", r"<b>roof</b> \$5 fee, \$x"]
    notes = [t.get_text() for t in ax.texts]
    assert (
        notes[0] == " 21 days (20 cases, 4 open, 38% clean flow)"
        and notes[1] == " 7.0 days (12 cases, 0 open, 75% clean flow)"
    )
    roof = ax.get_yticklabels()[1]
    assert roof._preprocess_math(roof.get_text()) == ("<b>roof</b> $5 fee, $x", False)  # drawn as written
    assert roof._preprocess_math("<b>roof</b> $5 fee, $x")[1] is True  # unescaped, "$5 fee, $" would be maths
    ax.figure.savefig(io.BytesIO(), format="png")
    plt.close("all")
