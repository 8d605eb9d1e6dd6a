"""The flow report's sections: each ``show_*`` displays one part of notebooks/flow.ipynb from a ``flow.FlowData``.

Figures and sentences come from ``flow`` and ``processmap``, pictures from ``charts.flow`` and
``charts.processmap``; everything shown goes through ``report`` (escaped). Where there is too little to draw, a
section says so in a plain note instead of an empty chart.
"""

from __future__ import annotations

from systemic_lib import words
from systemic_lib.analysis import flow, processmap
from systemic_lib.display import report
from systemic_lib.display.charts import alt
from systemic_lib.display.charts import flow as charts
from systemic_lib.display.charts import processmap as map_chart

__all__ = [
    "show_summary",
    "show_end_to_end",
    "show_process_map",
    "show_value_waste",
    "show_hands",
    "show_paths",
    "show_questions",
    "show_checks",
]


def show_summary(data: flow.FlowData) -> None:
    """Tables not used for their errors, then the sentences behind the figures (which start and end, spread, steps,
    waste, rework); the headline opens the page in "What we found" (``flow.findings``)."""
    for name, errors in data.table_errors.items():
        report.problems(errors, title=f"{name}.csv has errors, so it is not used until they are fixed")
    if data.log.n_cases:
        report.note(" ".join(flow.summary_sentences(data)))


def show_end_to_end(data, *, target=None):
    """The end-to-end capability chart with the service's system changes as phases; a note below 2 finished cases."""
    log = flow.as_log(data)
    cases = flow.end_to_end_cases(data)
    finished = cases.n_finished
    if finished < 2:
        still = f" ({words.count(cases.n_open, 'case')} still open)" if cases.n_open else ""
        report.note(
            f"{'No case has' if finished == 0 else 'Only 1 case has'} finished{still}, so there is no chart "
            "of end-to-end time yet."
            if log.n_events
            else "No events recorded, so there is no chart of end-to-end time."
        )
        return None
    if cases.n_open:
        report.note(
            f"Each point is a finished case; {words.count(cases.n_open, 'open case')} "
            f"{'has' if cases.n_open == 1 else 'have'} no end-to-end time yet and {'is' if cases.n_open == 1 else 'are'} not on the chart."
        )
    return charts.end_to_end_chart(
        data,
        phase_starts=getattr(data, "phase_starts", ()),
        phase_labels=getattr(data, "phase_labels", None),
        target=target,
    )


def show_value_waste(data):
    """Steps by kind, or a note when no events are recorded."""
    if not flow.as_log(data).n_events:
        report.note("No events recorded, so there is no chart of value and waste steps.")
        return None
    return charts.value_waste_chart(data)


def show_hands(data):
    """Hand-offs and people per case, or a note when no events are recorded."""
    if not flow.as_log(data).n_events:
        report.note("No events recorded, so there is no chart of hand-offs and people.")
        return None
    return charts.hands_chart(data)


def show_process_map(
    data,
    *,
    coverage: float = flow.MAP_COVERAGE,
    max_activities: int | None = 30,
    title: str | None = None,
    period: str | None = None,
) -> bool:
    """Draw the map with its caption (``period`` defaults to the events' period); if Graphviz is missing, say so
    plainly and list the busiest paths instead. Returns drawn or not."""
    log = flow.as_log(data)
    if log.n_events == 0:
        report.note("No events to draw a process map from.")
        return False
    if not map_chart.dot_available():
        report.note(
            "The process map cannot be drawn here because Graphviz (the 'dot' program) is not installed. "
            "Ask whoever runs the workbook to install it (make install does, or: apt-get install graphviz). "
            "The busiest paths are listed below instead."
        )
        report.table(
            log.directly_follows.head(15)
            .assign(median_wait=lambda f: f["median_wait_days"].map(words.wait))
            .drop(columns=["median_wait_days"]),
            caption="Most frequent paths between steps",
        )
        return False
    view = processmap.map_view(log, coverage=coverage, max_activities=max_activities)
    graph = map_chart.process_map(view, title=title)
    report.picture(map_chart.render_svg(graph), alt.of(graph)[0], cls="chart map")
    report.note(processmap.map_caption(view, period=flow.period_words(log) if period is None else period))
    return True


def show_paths(data) -> None:
    """The most common paths, and the most common path beside the clean flow."""
    log = flow.as_log(data)
    report.table(
        flow.top_paths(log),
        caption=f"Most common paths, {flow.period_words(log)} ({log.n_cases:,} cases, "
        f"{log.n_variants:,} different paths)",
        percent=("% of cases",),
    )
    report.table(
        flow.clean_flow_table(log),
        caption="The most common path beside the clean flow: the path with no waste step that most finished cases "
        "followed (cases still open, or with a single step so far, are not counted)",
    )


def show_questions(data) -> None:
    report.questions(flow.questions(data))


def show_checks(data) -> None:
    """What was wrong with the events and what was done about it: the checks table, then the problems found, both
    for analysts (they name the council's files and columns, as a fix needs)."""
    p = flow.as_log(data).problems
    report.html(
        f'<div class="for-analysts"><p class="caption">Checks on {p.events_in:,} events as recorded (for analysts)'
        f"</p>{report.table_html(p.table())}</div>"
    )
    report.problems(p.as_problems())
