"""Rebase suggestions a person confirms (issue 24): where a signal on a capability chart starts within a few weeks of
a recorded change that is not a phase yet, suggest "a new phase from <date>?" with the evidence; where no recorded
change is near, say "find out what happened". Nothing here changes a chart: a phase starts only when a person accepts
(``council_edit.accept_phase`` writes it to council.yaml with who and when) and a declined suggestion is recorded
too (``council_edit.decline_phase``), so neither is offered again.

The rule (METHOD.md, "How the workbook settles these"), pure: a chart's result and the recorded changes in,
suggestions out.

* A **signal** is a shift (``spc``'s run of 7 or more points on one side of the mean) or a run of at least
  ``MIN_RUN_BEYOND_LIMIT`` consecutive points beyond the same process limit, in the chart's latest phase (the
  current limits: what the system predictably achieves now). A single point beyond a limit is a special cause to
  look into, not a new system. A measure with a yearly pattern is left out: seasons are not special causes to chase.
* A **recorded change** is a learning-log entry (what the team tried), a system condition marked changed with a
  date, or a system change in council.yaml. It is *near* a signal when its date is within ``REBASE_WINDOW_WEEKS``
  weeks of the signal's first point (before or after: a log is often written a little after the work changed).
* A signal near a change that is already a phase needs nothing (the chart already starts a new phase there). A
  signal near a change that is not a phase, and not declined before, is a **suggestion**: a new phase from the
  change's date (a phase starts at a known change, not at the first unusual point). A signal with no recorded change
  near is never a suggestion: it says "find out what happened".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from systemic_lib import words
from systemic_lib.analysis import spc

__all__ = [
    "REBASE_WINDOW_WEEKS",
    "MIN_RUN_BEYOND_LIMIT",
    "Recorded",
    "Signal",
    "Suggestion",
    "signals",
    "suggest",
    "window_sentence",
]

#: A recorded change is "near" a signal when it is at most this many weeks from the signal's first point.
REBASE_WINDOW_WEEKS = 4
#: A run of points beyond a limit is a signal to rebase on only when at least this many in a row are beyond it.
MIN_RUN_BEYOND_LIMIT = 2

SUGGESTED, FIND_OUT = "suggested", "find out"


@dataclass(frozen=True)
class Recorded:
    """A recorded change of a service: its ``date``, its ``words`` (redacted by the caller), where it is recorded
    (``source``: "learning log", "system condition SC-001", "council.yaml"), whether it is already a phase on the
    charts, and whether a person declined it as a phase (``declined``: who and when, in words)."""

    date: pd.Timestamp
    words: str
    source: str
    is_phase: bool = False
    declined: str = ""


@dataclass(frozen=True)
class Signal:
    """A run of unusual points on one chart: a ``shift`` (points on one side of the mean) or points ``beyond`` a
    limit; its first and last point, how many, which side, and what it means for the measure (improvement, concern
    or neutral)."""

    measure: str  #: the measure's id
    name: str  #: the measure's name as a sentence names it ("end-to-end time")
    kind: str  #: "shift" or "beyond"
    first: pd.Timestamp
    last: pd.Timestamp
    n: int
    side: str  #: "above" or "below"
    meaning: str
    grain: str = "week"

    @property
    def words(self) -> str:
        """'a shift: 9 weeks in a row below the average, from the week of 25 Nov 2024'."""
        when = f"the {self.grain} of {words.date(self.first, short=True)}"
        points = words.count(self.n, self.grain)
        if self.kind == "shift":
            return f"a shift: {points} in a row {self.side} the average, from {when}"
        limit = "upper" if self.side == "above" else "lower"
        return f"{points} in a row beyond the {limit} limit, from {when}"

    @property
    def span_end(self) -> pd.Timestamp:
        """The last day the first point covers (its week or its month)."""
        return self.first + (pd.offsets.MonthEnd(0) if self.grain == "month" else pd.Timedelta(days=6))


@dataclass(frozen=True)
class Suggestion:
    """What a signal calls for: ``status`` "suggested" (a new phase from ``change.date``, if a person accepts) or
    "find out" (no recorded change near: find out what happened)."""

    signal: Signal
    status: str
    change: Recorded | None = None
    weeks: int | None = None  #: whole weeks from the change to the signal's first point (negative: signal first)

    @property
    def phase_date(self) -> pd.Timestamp | None:
        return None if self.change is None else self.change.date

    @property
    def apart(self) -> str:
        """'2 weeks after a recorded change', '1 week before a recorded change', 'in the same week as a recorded
        change'."""
        if self.weeks is None:
            return ""
        if self.weeks == 0:
            return "in the same week as a recorded change"
        return f"{words.count(abs(self.weeks), 'week')} {'after' if self.weeks > 0 else 'before'} a recorded change"

    @property
    def question(self) -> str:
        """'A new phase from 13 Nov 2024?' ('' for "find out")."""
        if self.change is None:
            return ""
        return f"A new phase from {words.date(self.change.date, short=True)}?"

    @property
    def sentence(self) -> str:
        """The suggestion and its evidence, or "find out what happened", in one or two sentences."""
        s = self.signal
        if self.change is None:
            return (
                f"{s.name[0].upper()}{s.name[1:]} shows {s.words}, with no recorded change within "
                f"{words.count(REBASE_WINDOW_WEEKS, 'week')}: find out what happened. A signal is never a new "
                "phase by itself."
            )
        return f"{self.question} {self.evidence}"

    @property
    def evidence(self) -> str:
        """What a suggestion rests on: the signal, its first point, the recorded change, its date and how many weeks
        apart ('' for "find out")."""
        s, c = self.signal, self.change
        if c is None:
            return ""
        return (
            f"{s.name[0].upper()}{s.name[1:]} shows {s.words}, {self.apart}: \u201c{c.words}\u201d ({c.source}, "
            f"{words.date(c.date, short=True)}). The limits are recalculated only if a person accepts."
        )

    def figure(self) -> dict:
        """What measure.json holds of it."""
        s, c = self.signal, self.change
        return {
            "status": self.status,
            "phase_date": None if c is None else c.date.date().isoformat(),
            "question": self.question,
            "sentence": self.sentence,
            "signal": {
                "kind": s.kind,
                "first": s.first.date().isoformat(),
                "last": s.last.date().isoformat(),
                "points": s.n,
                "side": s.side,
                "meaning": s.meaning,
            },
            "change": None if c is None else {"date": c.date.date().isoformat(), "words": c.words, "source": c.source},
            "weeks_apart": self.weeks,
        }


def window_sentence() -> str:
    """How the rule reads on a page."""
    return (
        f"A signal (a shift, or {MIN_RUN_BEYOND_LIMIT} or more points in a row beyond a limit) that starts within "
        f"{words.count(REBASE_WINDOW_WEEKS, 'week')} of a recorded change not yet a phase is offered as a new phase "
        "for a person to accept or decline; nothing changes until they do. A signal with no recorded change that "
        "near is never a new phase: find out what happened."
    )


# ------------------------------------------------------------------------------------------------------ signals
def _runs(flags: list[bool], sides: list[int]) -> list[tuple[int, int]]:
    """(first, last) positions of each run of flagged points on one side."""
    out, start = [], None
    for i, (flag, side) in enumerate(zip(flags, sides)):
        if start is not None and (not flag or side != sides[start]):
            out.append((start, i - 1))
            start = None
        if flag and start is None:
            start = i
    if start is not None:
        out.append((start, len(flags) - 1))
    return out


def signals(result: spc.XmrResult, *, measure: str, name: str, grain: str = "week") -> list[Signal]:
    """The shifts and runs beyond a limit in the chart's latest phase (points with dates only), by first point; runs
    that overlap on the same side are one signal (the one that starts first)."""
    if not result.has_dates:
        return []
    pts = result.points[result.points["value"].notna()]
    pts = pts[pts["phase"] == pts["phase"].max()] if len(pts) else pts
    if pts.empty:
        return []
    sides = [1 if v > c else -1 for v, c in zip(pts["value"], pts["centre"])]
    dates = list(pts["date"])
    found = []
    for kind, column, least in (("shift", "shift", 1), ("beyond", "outside_limits", MIN_RUN_BEYOND_LIMIT)):
        flags = [bool(f) for f in pts[column]]
        for a, b in _runs(flags, sides):
            if b - a + 1 < least:
                continue
            side = "above" if sides[a] > 0 else "below"
            found.append(
                Signal(measure, name, kind, dates[a], dates[b], b - a + 1, side, _meaning(result, sides[a]), grain)
            )
    kept: list[Signal] = []
    for s in sorted(found, key=lambda s: (s.first, s.kind != "shift")):
        if not any(k.side == s.side and k.first <= s.last and s.first <= k.last for k in kept):
            kept.append(s)  # a run beyond a limit inside a shift on the same side is the same signal
    return kept


def _meaning(result: spc.XmrResult, side: int) -> str:
    if result.improvement == "neutral":
        return "neutral"
    good = 1 if result.improvement == "increase" else -1
    return "improvement" if side == good else "concern"


# -------------------------------------------------------------------------------------------------- suggestions
def _distance_days(signal: Signal, when: pd.Timestamp) -> int:
    """Days between a change and the span of the signal's first point (0 when the change falls inside it)."""
    if signal.first <= when <= signal.span_end:
        return 0
    return int(min(abs((when - signal.first).days), abs((when - signal.span_end).days)))


def suggest(found: list[Signal], changes: list[Recorded]) -> list[Suggestion]:
    """What each signal calls for: nothing when a phase already starts near it (or a person declined the change
    near it); a suggestion of the nearest change not yet a phase; else "find out what happened". One suggestion per
    change (the earliest signal near it speaks for it; a measure's later signals near the same change add nothing)."""
    out: list[Suggestion] = []
    offered: set[pd.Timestamp] = set()
    for s in found:
        near = sorted(
            (c for c in changes if _distance_days(s, pd.Timestamp(c.date)) <= REBASE_WINDOW_WEEKS * 7),
            key=lambda c: (_distance_days(s, pd.Timestamp(c.date)), c.date),
        )
        if any(c.is_phase or c.declined for c in near):
            continue  # already a phase there, or a person said it is not one
        if not near:
            out.append(Suggestion(s, FIND_OUT))
            continue
        change = near[0]
        if change.date in offered:
            continue
        offered.add(change.date)
        days = (s.first - change.date).days
        weeks = int(math.copysign(math.floor(abs(days) / 7 + 0.5), days))
        out.append(Suggestion(s, SUGGESTED, change, weeks))
    return out
