"""The learning log and the system conditions on the capability charts (issue 24): every learning-log entry and every
system condition with a date, as a small numbered marker at its date.

A marker is not a phase: it never recalculates the limits (a phase starts only at a recorded change, see
``conditions.phases``). It puts what the team tried, and the conditions it raised, beside the points, so that a
shift can be read against what happened then. Each marker says what it is ("Tried: …", "Condition raised: …"), with
its date and where it comes from; its words are redacted like every free text, and the caller escapes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from systemic_lib import words
from systemic_lib.data.redact import redact

__all__ = ["Marker", "markers", "within", "sentence", "MAX_WORDS"]

#: A marker's words are cut to this many characters (the full text is in the learning log or conditions table).
MAX_WORDS = 90


@dataclass(frozen=True)
class Marker:
    """One numbered marker: ``number`` (1, 2, … by date), ``date``, ``text`` (redacted, cut to ``MAX_WORDS``) and
    ``source`` ("learning log" or "system condition SC-001")."""

    number: int
    date: pd.Timestamp
    text: str
    source: str

    @property
    def label(self) -> str:
        """'3 Jun 2024: Tried: diagnose on the first call'."""
        return f"{words.date(self.date, short=True)}: {self.text}"

    def figure(self) -> dict:
        return {"number": self.number, "date": self.date.date().isoformat(), "text": self.text, "source": self.source}


def _cut(text: str) -> str:
    text = " ".join(str(redact(text)).split())
    return text if len(text) <= MAX_WORDS else text[: MAX_WORDS - 1].rstrip() + "\u2026"


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series("", index=frame.index, dtype="object")
    return frame[name].astype("object").where(frame[name].notna(), "").astype("str").str.strip()


def _log_entries(log: pd.DataFrame | None, service: str) -> list[tuple[pd.Timestamp, str, str]]:
    if log is None or log.empty or "date" not in log.columns:
        return []
    own = log[log["service"].astype("str").eq(service) & log["date"].notna()]
    tried, learned = _column(own, "what_we_tried"), _column(own, "what_we_learned")
    out = []
    for date, tried_, learned_ in zip(own["date"], tried, learned):
        said = tried_ or learned_
        if said:
            out.append((pd.Timestamp(date), f"Tried: {said}", "learning log"))
    return out


def _raised(conditions: pd.DataFrame | None, service: str) -> list[tuple[pd.Timestamp, str, str]]:
    if conditions is None or conditions.empty or "raised_at" not in conditions.columns:
        return []
    own = conditions[conditions["service"].astype("str").eq(service) & conditions["raised_at"].notna()]
    text, waste = _column(own, "system_condition"), _column(own, "waste_seen")
    ids = _column(own, "id")
    out = []
    for date, c, w, i in zip(own["raised_at"], text, waste, ids):
        said = c or w
        if said:
            out.append((pd.Timestamp(date), f"Condition raised: {said}", f"system condition {i}".strip()))
    return out


def markers(service: str, *, learning_log: pd.DataFrame | None = None, conditions=None) -> list[Marker]:
    """The service's learning-log entries (by ``date``: what the team tried) and system conditions (by
    ``raised_at``: the condition, or the waste seen), numbered by date (the learning log first on the same day)."""
    found = _log_entries(learning_log, service) + _raised(conditions, service)
    found.sort(key=lambda e: (e[0], e[2] != "learning log"))
    return [Marker(k, date.normalize(), _cut(text), source) for k, (date, text, source) in enumerate(found, 1)]


def within(found: list[Marker], start, end) -> list[Marker]:
    """The markers dated from ``start`` to ``end`` (a chart's first and last day), keeping their numbers."""
    if start is None or end is None:
        return []
    first, last = pd.Timestamp(start), pd.Timestamp(end)
    return [m for m in found if first <= m.date <= last]


def sentence(found: list[Marker]) -> str:
    """'Marked on the chart: 1, 3 Jun 2024: Tried: …; 2, 8 Jul 2024: Condition raised: …. Markers do not change the
    limits.' ('' without markers)."""
    if not found:
        return ""
    listed = "; ".join(f"{m.number}, {m.label}" for m in found)
    return f"Marked on the chart: {listed}. Markers do not change the limits."
