"""What the measure page shows, in order: the summary table, then each measure's heading, capability chart and
narration (or the note saying why it has no chart)."""

from __future__ import annotations

from systemic_lib import words
from systemic_lib.analysis import endtoend, markers, measure, measure_cases, rebase
from systemic_lib.analysis.measure import MeasureData, MeasureResult
from systemic_lib.display import report
from systemic_lib.display.charts.measure import case_chart, chart, target_chart

__all__ = ["show_summary", "show", "show_all", "show_per_case", "show_checks", "rebase_sentences"]


def show_summary(data: MeasureData) -> None:
    """One row per measure (latest phase's mean and limits, variation, assurance), captioned with the period."""
    report.table(measure.measure_summary(data), caption=measure.summary_caption(data))


def show(r: MeasureResult) -> None:
    """Heading, chart and narration of one measure in a notebook (or its note when there is no chart)."""
    import matplotlib.pyplot as plt

    report.heading(r.name, level=3)
    if r.result is None:
        report.note(r.note or f"No data for {r.name}.")
        return
    chart(r)
    plt.show()
    report.note(r.narration)
    if r.markers:
        report.note(markers.sentence(r.markers))
    for said in rebase_sentences(r):
        report.note(said)
    if r.changes_outside:
        report.note(
            "Recorded system changes outside these data (no phase drawn): "
            + "; ".join(f"{c['label']} ({c['date']})" for c in r.changes_outside)
        )


def rebase_sentences(r: MeasureResult) -> list[str]:
    """The measure's rebase suggestions (``rebase``) as the page says them: a new phase to accept in the coach's
    Capability step, or "find out what happened"; the rule once, after them."""
    if not r.suggestions:
        return []
    said = [
        (
            f"Suggested: {s.sentence} Accept or decline it in the coach app's Capability step."
            if s.change
            else s.sentence
        )
        for s in r.suggestions
    ]
    return [*said, rebase.window_sentence()]


def show_all(data) -> None:
    """``show`` every measure in order (``data`` a MeasureData or, from older notebooks, its list of results)."""
    for r in data.results if isinstance(data, MeasureData) else data:
        show(r)
        if r.id == "end_to_end_days" and isinstance(data, MeasureData):
            show_per_case(data)


def show_per_case(data: MeasureData) -> None:
    """End-to-end time per case beside the weekly median: which start and end, the chart of individual cases and
    its narration (or the note saying why there is no chart)."""
    import matplotlib.pyplot as plt

    cap = data.per_case
    if cap is None:
        return
    report.heading("End-to-end time per case", level=3)
    report.note(endtoend.definition_sentence(cap.cases))
    if cap.result is None:
        report.note(cap.note or "No finished case yet.")
        return
    e2e = next((r for r in data.results if r.id == "end_to_end_days"), None)
    case_chart(cap, reading=e2e.reading if e2e is not None else None)
    plt.show()
    report.note(measure_cases.sentence(cap) + " " + cap.narration)


def show_checks(data: MeasureData) -> None:
    """Each recorded change read against the records (``records``): the steps and demand types it names, their
    share or count before and since, and their weekly chart across the change. Nothing when there is no change."""
    import matplotlib.pyplot as plt

    if not data.checks:
        return
    report.heading("Changes read against the records")
    report.note(
        "Where a change names a step of the flow or a demand type, the records say whether the work changed: the "
        "share of cases passing through the step, or the contacts of that type, before and since the change. A "
        "measure that moves after a change the records do not show may have moved for another reason."
    )
    for check in data.checks:
        report.heading(f"{words.date(check.date)}: {check.label}", level=3)
        for sentence in check.sentences():
            report.note(sentence)
        for target in check.targets:
            if target_chart(target, check.label) is not None:
                plt.show()
