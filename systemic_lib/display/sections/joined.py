"""Demand joined to flow on the flow and demand reports: the cost of waiting (sentence, chart, what is incomplete)
and design against demand (table and chart). Figures from ``joined``, pictures from ``charts.joined``, everything
shown through ``report`` (escaped). With no contact linked to a case, each says so plainly and draws nothing."""

from __future__ import annotations

from systemic_lib import words
from systemic_lib.analysis import joined
from systemic_lib.display import report
from systemic_lib.display.charts import joined as charts

__all__ = ["show_cost_of_waiting", "show_design_against_demand"]


def show_cost_of_waiting(data: joined.Joined):
    """The sentence with its count, the scatter with the fitted line, then the definition and what is incomplete;
    a plain note instead of a chart when no contact is linked to a case."""
    w = joined.cost_of_waiting(data)
    report.headline(joined.waiting_sentence(w))
    if not w.linked_cases:
        return None
    ax = charts.waiting_chart(w)
    report.note(" ".join(joined.waiting_notes(w)))
    return ax


def show_design_against_demand(data: joined.Joined):
    """For the top value-demand types: cases, end-to-end median (open count), most common path, clean flow and the
    share that followed it, as a table and a chart; a plain note when no case is linked to the demand that started
    it."""
    rows = joined.by_demand_type(data)
    if not rows:
        report.note(
            "No case is linked to the demand that started it (no value-demand contact names its case, and the "
            "case records carry no demand type), so there is no design against demand yet."
        )
        return None
    finished = sum(r["finished"] for r in rows)
    report.table(
        joined.design_table(data),
        percent=("% of finished cases that followed it",),
        decimals=0,
        caption=f"Design against demand: the top {'value demand' if len(rows) == 1 else f'{len(rows)} value demands'} "
        "and the cases they started "
        f"({sum(r['cases'] for r in rows):,} cases, {finished:,} finished). The clean flow is the value steps "
        "of the most common path (the steps the council classed as value), each once; the median is Kaplan–Meier, open cases "
        "counted as still waiting.",
    )
    w = joined.cost_of_waiting(data)
    return charts.demand_types_chart(rows, period=words.period(w.start, w.end))
