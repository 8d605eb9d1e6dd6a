"""The measure explorer's own layout and table, driven from Python (its boundary logic is tested in test_measure)."""

from __future__ import annotations

import textwrap

import pandas as pd

from systemic_lib.analysis import measure
from systemic_lib.data.council import load_council
from systemic_lib.data.stages import Stage
from systemic_lib.display.widgets.measure import MeasureExplorer

YAML = textwrap.dedent("""\
    name: Testshire Council
    services:
      - id: repairs
        name: Repairs
        purpose: Fix my home
        measures:
          - {id: end_to_end_days, direction: decrease}
    system_changes:
      - {date: 2024-03-25, label: A new way of working that the team named at length}
""")


def test_summary_is_rounded_and_labels_fit(tmp_path):
    # five like cases a week (enough for a weekly chart): 30, 31, 31 days before the change (week 12), 10, 11, 11
    # after: the current mean is 10.67
    rows = []
    for w in range(24):
        opened = pd.Timestamp("2024-01-01 10:00") + pd.Timedelta(weeks=w)
        days = (30, 31, 31)[w % 3] - (20 if w >= 12 else 0)
        rows += [
            {
                "case_id": f"R{w}-{k}",
                "service": "repairs",
                "opened_at": f"{opened:%Y-%m-%d %H:%M}",
                "closed_at": f"{opened + pd.Timedelta(days=days):%Y-%m-%d %H:%M}",
            }
            for k in range(5)
        ]
    (tmp_path / "council.yaml").write_text(YAML)
    pd.DataFrame(rows).to_csv(tmp_path / "cases.csv", index=False)
    ex = MeasureExplorer(measure.load(Stage(load_council(tmp_path), "repairs", "measure")))
    assert ex.measure.value == "end_to_end_days"
    assert ">10.7<" in ex.table.value and "10.66" not in ex.table.value  # as the report rounds it
    assert ex.phases.options == ("25 Mar 2024: A new way of working that the team named at length",)
    assert ex.phases.layout.width and ex.reset.layout.width  # the change's label and "Recorded changes" in full


def test_chart_is_shown_before_the_words_that_describe_it(tmp_path):
    test_summary_is_rounded_and_labels_fit(tmp_path)
    ex = MeasureExplorer(measure.load(Stage(load_council(tmp_path), "repairs", "measure")))
    order = []
    for name in ("image", "narration", "table"):
        getattr(ex, name).observe(lambda change, n=name: order.append(n), names="value")
    ex.phases.index = 0
    ex.week.value = pd.Timestamp("2024-02-12")
    ex.move.click()  # the recorded change, moved to 12 February: chart, summary and narration all change
    assert order == ["image", "table", "narration"]
    assert "on 12 February 2024" in ex.narration.value and "12 Feb 2024" in ex.table.value


def test_explorer_on_a_monthly_measure_picks_months(tmp_path):
    # one case a week (fewer than 5): end-to-end time is charted by calendar month, and the explorer moves
    # boundaries between months; a what-if boundary mid-month starts the phase with the next month
    rows = []
    for w in range(26):
        opened = pd.Timestamp("2024-01-01 10:00") + pd.Timedelta(weeks=w)
        days = (30, 31, 31)[w % 3] - (20 if w >= 12 else 0)
        rows.append(
            {
                "case_id": f"R{w}",
                "service": "repairs",
                "opened_at": f"{opened:%Y-%m-%d %H:%M}",
                "closed_at": f"{opened + pd.Timedelta(days=days):%Y-%m-%d %H:%M}",
            }
        )
    (tmp_path / "council.yaml").write_text(YAML)
    pd.DataFrame(rows).to_csv(tmp_path / "cases.csv", index=False)
    results = measure.load(Stage(load_council(tmp_path), "repairs", "measure"))
    ex = MeasureExplorer(results)
    assert ex.current.grain == "month" and ex.week.description == "Month"
    assert ex.add.description == "Add boundary at month"
    assert [label for label, _ in ex.week.options][:3] == ["1 Jan 2024", "1 Feb 2024", "1 Mar 2024"]
    # the recorded change on 25 March starts the phase with April
    assert ex.phases.options == ("1 Apr 2024: A new way of working that the team named at length",)
    ex.add_boundary(pd.Timestamp("2024-02-10"), "Mid-February")
    assert [p["start"] for p in ex.current.result.phases] == [
        pd.Timestamp("2024-01-01"),
        pd.Timestamp("2024-03-01"),
        pd.Timestamp("2024-04-01"),
    ]
    assert ex.image.value[:4] == b"\x89PNG" and "calendar month" in ex.narration.value
