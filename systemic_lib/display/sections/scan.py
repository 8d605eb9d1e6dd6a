"""What the organisation scan page shows: the demand chart and table, the end-to-end chart and table, then each
service's notes and the data problems."""

from __future__ import annotations

from systemic_lib.analysis import endtoend, scan, start
from systemic_lib.display import report
from systemic_lib.display.charts.scan import demand_chart, end_to_end_chart
from systemic_lib.errors import SystemicError

__all__ = ["show_where_to_start", "show_demand", "show_end_to_end", "show_table", "show_notes", "show_problems"]

_CAPTIONS = {"demand": "Demand by service", "flow": "End to end and capability by service"}


def _show_chart(draw, data) -> None:
    import matplotlib.pyplot as plt

    draw(data, period_text=scan.period_caption(data))
    plt.show()


def show_where_to_start(data: scan.ScanData) -> None:
    """Where to start, as evidence: the services that lead on failure demand and on end-to-end time side by side
    (with each measure's runner-up, any service where an experiment team works, split by cohort, and the open system
    conditions), then the rule the sentence follows. Services left out for their data are in the data problems."""
    point = scan.starting_point(data)
    rows = start.evidence_rows(data.table, point, experiments=data.experiments, conditions=data.conditions)
    if len(rows):
        report.table(
            rows,
            caption=f"Where to start: the evidence side by side, {scan.period_caption(data)}",
            max_rows=max(10, len(rows)),
        )
    report.note(start.rule_sentence())


def show_demand(data: scan.ScanData) -> None:
    """Every service's contacts (value, failure, not yet classified) as bars, titled with the period."""
    _show_chart(demand_chart, data)


def show_end_to_end(data: scan.ScanData) -> None:
    """Every service's median and 85th-percentile end-to-end days as bars, titled with the period."""
    _show_chart(end_to_end_chart, data)


def show_table(data, *, part: str = "demand", caption: str | None = None) -> None:
    """One of the scan's two tables for people who don't code: ``part`` "demand" (contacts, failure demand, the
    largest failure demands) or "flow" (end-to-end days, hand-offs, people, capability). Missing figures show "—".
    The caption defaults to the part's, with the period and the number of services and contacts."""
    if part not in ("demand", "flow"):
        raise SystemicError(f"part must be 'demand' or 'flow', not {part!r}")
    rows = scan.demand_rows(data) if part == "demand" else scan.flow_rows(data)
    if caption is None and isinstance(data, scan.ScanData):
        caption = scan.caption(data, _CAPTIONS[part])
    if part == "flow" and isinstance(data, scan.ScanData) and data.end_to_end is not None:
        report.note(endtoend.definition_sentence(data.end_to_end))  # which start and end, with counts
    report.table(rows, caption=caption, max_rows=max(30, len(rows)))


def show_notes(data) -> None:
    """Each service's notes (what is missing and what to add), as plain notes; nothing if there are none."""
    for line in scan.notes(data):
        report.note(line)


def show_problems(stage, data: scan.ScanData) -> None:
    """The council's data problems the scan rests on (``scan.problems``), with counts; nothing if there are none."""
    report.problems(scan.problems(stage, data))
