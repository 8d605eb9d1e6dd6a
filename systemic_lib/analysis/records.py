"""Changes read against the records: did the work change when the system was said to (METHOD.md "A change happened
only when the work shows it")?

A phase on a capability chart starts at a recorded change: a system change in council.yaml or a system condition
marked changed. The measures after it are then read as the change's doing, whether or not anything changed in the
work. So where a change names a step of the flow or a demand type, the records are checked:

* **a step** (an activity of the service): the share of the cases opened each week that pass through it (at least
  once, so far), before and since the change;
* **a demand type**: its contacts each week, before and since the change.

A change names a step or a demand type when council.yaml lists it under the change's ``targets``, or when the
change's words name it: a demand type when its whole phrase is in them; a step when a word of the step's name that
no other step of the service has, at least ``MIN_WORD`` letters long ("pre-inspection" in "Pre-inspection visit"),
is in them (a plural's "s" and a possessive's "'s" ignored). Each target's weekly series is charted on a capability
chart with a new phase at the change and read by the measures' rules (``reading.change_view``: a lasting change
needs 7 points in a row beyond the old average, up to the latest point): "the records show the change" only then.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.analysis.reading import change_view
from systemic_lib.analysis.season import yearly_pattern
from systemic_lib.analysis.spc import SpcInputError, XmrResult, xmr
from systemic_lib.analysis.weekly import weekly
from systemic_lib.data.redact import redact

__all__ = ["Target", "ChangeCheck", "check_changes", "named_steps", "named_demand_types", "MIN_WORD"]

#: A word of a step's name must be at least this long to name the step on its own.
MIN_WORD = 6
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


def _words(text: str) -> set[str]:
    """Lower-case words, hyphenated ones whole, a plural 's' and a possessive "'s" dropped."""
    out = set()
    for w in _WORD.findall(str(text).lower().replace("\u2019", "'")):
        w = w.removesuffix("'s")
        out.add(w[:-1] if len(w) > MIN_WORD and w.endswith("s") and not w.endswith("ss") else w)
    return out


def _phrase(text: str) -> str:
    return " ".join(_WORD.findall(str(text).lower().replace("\u2019", "'")))


def named_steps(text: str, steps) -> list[str]:
    """The steps (activity names) a change's words name (see the module docstring), in the order given."""
    steps = list(dict.fromkeys(str(s) for s in steps))
    said = _words(text)
    owners: dict[str, set[str]] = {}
    for step in steps:
        for w in _words(step):
            owners.setdefault(w, set()).add(step)
    found = []
    for step in steps:
        own = [w for w in _words(step) if len(w) >= MIN_WORD and owners[w] == {step}]
        if _phrase(step) in _phrase(text) or any(w in said for w in own):
            found.append(step)
    return found


def named_demand_types(text: str, types) -> list[str]:
    """The demand types whose whole phrase is in a change's words."""
    said = f" {_phrase(text)} "
    return [t for t in dict.fromkeys(str(t) for t in types) if _phrase(t) and f" {_phrase(t)} " in said]


@dataclass
class Target:
    """One step or demand type a change names, its weekly series (date, value, n) and chart with a phase at the
    change, its figures before and since, and whether the records show the change (``shows``)."""

    kind: str  #: "step" or "demand type"
    name: str
    why: str  #: "named in council.yaml" or "named in the change's words"
    series: pd.DataFrame
    result: XmrResult | None
    before: float | None
    after: float | None
    n_before: int
    n_after: int
    shows: bool
    sentence: str
    view: str = ""  #: the chart's view of the change (``reading.change_view``)

    @property
    def unit(self) -> str:
        return "%" if self.kind == "step" else "contacts"

    def figure(self) -> dict:
        r = lambda v: None if v is None or not np.isfinite(v) else round(float(v), 1)
        return {
            "kind": self.kind,
            "name": self.name,
            "why": self.why,
            "unit": "% of cases" if self.kind == "step" else "contacts a week",
            "before": r(self.before),
            "after": r(self.after),
            "cases_or_weeks_before": self.n_before,
            "cases_or_weeks_after": self.n_after,
            "records_show_the_change": self.shows,
            "sentence": self.sentence,
        }


@dataclass
class ChangeCheck:
    """A recorded change and what the records say about it."""

    date: pd.Timestamp
    label: str
    source: str
    targets: list[Target] = field(default_factory=list)
    note: str = ""  #: why nothing could be checked

    @property
    def shown(self) -> bool | None:
        """True when the records show the change in every target, False when in none, None without targets."""
        if not self.targets:
            return None
        return all(t.shows for t in self.targets) if any(t.shows for t in self.targets) else False

    def sentences(self) -> list[str]:
        return [t.sentence for t in self.targets] or [self.note]

    def figure(self) -> dict:
        return {
            "date": self.date.date().isoformat(),
            "label": self.label,
            "source": self.source,
            "targets": [t.figure() for t in self.targets],
            "note": self.note or None,
        }


# ------------------------------------------------------------------------------------------------------ series
def _step_series(cases: pd.DataFrame, events: pd.DataFrame, step: str, *, start, end) -> pd.DataFrame:
    """Weekly share (%) of the cases opened each week that passed through ``step`` so far."""
    through = set(events.loc[events["activity"].astype("str") == step, "case_id"].astype("str"))
    hit = cases["case_id"].astype("str").isin(through)
    return weekly(cases, "opened_at", hit, pd.Series(True, index=cases.index), kind="pct", start=start, end=end)


def _type_series(contacts: pd.DataFrame, demand_type: str, *, start, end) -> pd.DataFrame:
    """Contacts of ``demand_type`` each week, over the weeks the service's contacts cover (part weeks left out)."""
    every = weekly(contacts, "received_at", None, None, kind="count", start=start, end=end)
    dated = contacts[contacts["received_at"].notna() & contacts["demand_type"].astype("str").eq(demand_type)]
    week = dated["received_at"].dt.to_period("W-SUN").dt.start_time
    counts = week.value_counts().reindex(pd.DatetimeIndex(every["date"]), fill_value=0)
    return pd.DataFrame({"date": every["date"], "value": counts.to_numpy(dtype=float), "n": every["n"].to_numpy()})


def _chart(series: pd.DataFrame, date: pd.Timestamp, *, bounded: bool) -> XmrResult | None:
    present = series[series["value"].notna()]
    if len(present) < 2 or not (present["date"].min() < date <= present["date"].max()):
        return None
    try:
        return xmr(
            series["value"],
            dates=series["date"],
            phase_starts=[date],
            improvement="neutral",
            floor=0,
            ceiling=100 if bounded else None,
        )
    except SpcInputError:
        return None


# ----------------------------------------------------------------------------------------------------- checking
def _target(kind: str, name: str, why: str, series: pd.DataFrame, date: pd.Timestamp, counts: tuple) -> Target:
    """A target's chart, figures and sentence: ``counts`` is (cases or contacts before, since)."""
    step = kind == "step"
    result = _chart(series, date, bounded=step)
    before_rows = series[(series["date"] < date) & series["value"].notna()]
    after_rows = series[(series["date"] >= date) & series["value"].notna()]
    if step:  # pooled over the cases, not an average of weekly shares
        cb, ca = counts
        before = 100 * cb[1] / cb[0] if cb[0] else None
        after = 100 * ca[1] / ca[0] if ca[0] else None
        n_before, n_after = cb[0], ca[0]
    else:
        before = float(before_rows["value"].mean()) if len(before_rows) else None
        after = float(after_rows["value"].mean()) if len(after_rows) else None
        n_before, n_after = len(before_rows), len(after_rows)
    view = None
    if result is not None:
        season = yearly_pattern(series["date"], series["value"]) if not step else None
        view = change_view(result, unit="%" if step else "contacts", decimals=0, season=season)
    shows = bool(view is not None and view.shows)
    when = words.date(date, short=True)
    label = f"{name} (a step the change names)" if step else f"\u201c{name}\u201d (a demand type the change names)"
    if before is None or after is None:
        return Target(
            kind,
            name,
            why,
            series,
            result,
            before,
            after,
            n_before,
            n_after,
            False,
            f"{label}: no records {'before' if before is None else 'since'} {when} to compare.",
        )
    if step:
        figures = (
            f"{before:.0f}% of the {words.number(n_before)} cases opened before {when}, {after:.0f}% of the "
            f"{words.number(n_after)} opened since"
        )
    else:
        pct = f", {(after / before - 1) * 100:+.0f}%" if before else ""
        figures = f"{before:.1f} contacts a week before {when}, {after:.1f} a week since{pct}"
    verdict = (
        "the records show the change"
        if shows
        else "too soon to tell from the records"
        if view is not None and not view.enough
        else "the records do not show the change yet"
    )
    return Target(
        kind,
        name,
        why,
        series,
        result,
        before,
        after,
        n_before,
        n_after,
        shows,
        f"{label}: {figures}: {verdict}.",
        view.sentence if view else "",
    )


def _step_counts(cases: pd.DataFrame, events: pd.DataFrame, step: str, date: pd.Timestamp, start, end) -> tuple:
    through = set(events.loc[events["activity"].astype("str") == step, "case_id"].astype("str"))
    frame = cases[cases["opened_at"].notna()]
    if start is not None:
        frame = frame[frame["opened_at"] >= pd.Timestamp(start)]
    if end is not None:
        frame = frame[frame["opened_at"] < pd.Timestamp(end) + pd.Timedelta(days=1)]
    hit = frame["case_id"].astype("str").isin(through)
    early = frame["opened_at"] < date
    return (int(early.sum()), int((hit & early).sum())), (int((~early).sum()), int((hit & ~early).sum()))


def check_changes(
    phases,
    *,
    contacts: pd.DataFrame | None = None,
    cases: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    steps=(),
    start=None,
    end=None,
) -> list[ChangeCheck]:
    """Each recorded change (``conditions.Phase``: date, label, source, text, targets) read against the records:
    the steps and demand types it names, each with its weekly series, chart and sentence. ``steps``: the service's
    activity names (its catalogue, else its events'); ``contacts``, ``cases`` and ``events`` the service's tables
    (None when the council has none)."""
    steps = list(
        dict.fromkeys(
            [str(s) for s in steps]
            + ([] if events is None else list(events["activity"].dropna().astype("str").unique()))
        )
    )
    types = [] if contacts is None else list(contacts["demand_type"].dropna().astype("str").unique())
    out = []
    for phase in phases:
        date = pd.Timestamp(phase.date)
        text = getattr(phase, "text", "") or phase.label
        named = list(getattr(phase, "targets", ()) or ())
        check = ChangeCheck(date, phase.label, phase.source)
        chosen: list[tuple[str, str, str]] = []
        for name in named:
            kind = "step" if name in steps else "demand type" if name in types else None
            if kind is None:
                check.note += (
                    f"council.yaml names \u201c{redact(name)}\u201d, which is neither a step nor a demand type in the "
                    "records. "
                )
                continue
            chosen.append((kind, name, "named in council.yaml"))
        chosen += [("step", s, "named in the change's words") for s in named_steps(text, steps) if s not in named]
        chosen += [
            ("demand type", t, "named in the change's words") for t in named_demand_types(text, types) if t not in named
        ]
        for kind, name, why in chosen:
            if kind == "step" and (cases is None or events is None):
                check.note += (
                    f"The change names the step {redact(name)}, but there are no cases with their steps to check it "
                    "against. "
                )
                continue
            if kind == "step":
                series = _step_series(cases, events, name, start=start, end=end)
                counts = _step_counts(cases, events, name, date, start, end)
            else:
                series = _type_series(contacts, name, start=start, end=end)
                counts = ()
            check.targets.append(_target(kind, name, why, series, date, counts))
        if not check.targets and not check.note:
            check.note = (
                "The change names no step or demand type in the records, so only the measures can show whether it "
                "happened (the council's settings can name them under the change's targets)."
            )
        check.note = check.note.strip()
        out.append(check)
    return out
