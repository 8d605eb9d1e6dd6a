"""The measure stage's charts: one measure's capability chart, titled with its period, grain and count, and the
end-to-end time per case (capability per case)."""

from __future__ import annotations

from systemic_lib import words
from systemic_lib.analysis.measure import MeasureResult, chart_title
from systemic_lib.display.charts.capability import capability_chart

__all__ = ["chart", "case_chart"]


def chart(r: MeasureResult, ax=None):
    """The measure's capability chart (an Axes), or None when it has no chart (see ``r.note``)."""
    if r.result is None:
        return None
    return capability_chart(r.result, ax=ax, title=chart_title(r), unit=r.unit, phase_labels=r.phase_labels)


def case_chart(cap, ax=None):
    """End-to-end time per case (``measure_cases.CaseCapability``) on its capability chart, cases in order of
    completion, or None when there are too few finished cases (see ``cap.note``)."""
    if cap is None or cap.result is None:
        return None
    done = cap.finished
    title = (
        f"End-to-end time per case, from the citizen's first contact ({len(done):,} finished cases"
        + (f"; {cap.n_open:,} still open, not shown" if cap.n_open else "")
        + ")"
    )
    ax = capability_chart(cap.result, ax=ax, title=title, unit="days", phase_labels=cap.phase_labels or None)
    ax.set_xlabel(
        f"finished cases in order of completion (the first on {words.date(done['end'].iloc[0], short=True)}"
        f", the last on {words.date(done['end'].iloc[-1], short=True)})"
    )
    return ax
