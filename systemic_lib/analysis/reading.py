"""One reading per measure: what a manager may be told about it, from the capability chart and nothing hidden.

A measure has several views (its weekly chart; for end-to-end time, the cases themselves), and each used to speak
for itself: one page said "a real change for the worse" from a run of weekly medians since broken, "a real
improvement" from a run of eight among six hundred cases, and "no significant change" on the badge. Here they are
judged once, by stated rules (METHOD.md "Readings that must stay true"), into a ``Reading`` that the headline, the
summary table, the chart's badge, the narration, the coach and ``measure.json`` all use:

* **improvement** / **concern** (or **change**, for a measure where neither way is better): a real, lasting change
  since the latest recorded change to the system. The weekly view shows it when the points since the change sit on
  one side of the old average for at least ``shift_points`` (7) in a row *up to the latest point* (a run since
  broken is a signal that did not last); for a series with a yearly pattern (``season``), when the weeks since the
  change differ from the same weeks a year earlier by more than chance allows (a Wilcoxon signed-rank test at 5%),
  so the season is never credited to a change. For end-to-end time, the cases opened since the change must agree
  (``measure_cases.cohort_view``: their median against the median of the cases opened before, with a bootstrap
  interval); where one view has too little data to judge, the other decides and the sentence says so.
* **no change**: no lasting change since the latest recorded change, or no recorded change and no special cause at
  the latest point (or only the season's).
* **not enough data**: no chart, or too few points since the change to tell.

With no recorded change in the data, a special cause at the latest point is read as improvement or concern (change,
when neither way is better) and the sentence says "find out what happened": a signal is never a new phase by itself.
The badge on the chart says what the latest point is ("Latest point: …"), which is a different question from the
reading and says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from systemic_lib.analysis import season as seasons
from systemic_lib.analysis.spc import XmrResult, xmr

__all__ = [
    "READINGS",
    "View",
    "Reading",
    "VARIATION_WORDS",
    "LATEST_WORDS",
    "change_view",
    "latest_point",
    "reading_of",
    "value_words",
    "range_words",
    "YEAR_ON_YEAR_LEVEL",
]

READINGS = ("improvement", "concern", "change", "no change", "not enough data")
#: A year-on-year comparison (Wilcoxon signed-rank test of each week against the same week a year earlier) calls a
#: change real below this two-sided p-value.
YEAR_ON_YEAR_LEVEL = 0.05

#: Plain words for the Making Data Count variation icons (also used on charts and in tables).
VARIATION_WORDS = {
    "common_cause": "No significant change (common cause)",
    "special_cause_improvement_high": "Improving (special cause, higher)",
    "special_cause_improvement_low": "Improving (special cause, lower)",
    "special_cause_concern_high": "Getting worse (special cause, higher)",
    "special_cause_concern_low": "Getting worse (special cause, lower)",
    "special_cause_neutral_high": "Unusually high (special cause)",
    "special_cause_neutral_low": "Unusually low (special cause)",
}
#: What the latest point is, for the badge ("Latest point: …") and the summary's "Latest point" column.
LATEST_WORDS = {
    "common_cause": "common cause, no signal",
    "special_cause_improvement_high": "improving (special cause, higher)",
    "special_cause_improvement_low": "improving (special cause, lower)",
    "special_cause_concern_high": "getting worse (special cause, higher)",
    "special_cause_concern_low": "getting worse (special cause, lower)",
    "special_cause_neutral_high": "unusually high (special cause)",
    "special_cause_neutral_low": "unusually low (special cause)",
    "seasonal_high": "high, as at this time every year",
    "seasonal_low": "low, as at this time every year",
}
_MEANING = {
    "improvement": "a real improvement",
    "concern": "a real change for the worse",
    "change": "a real change",
}


# ------------------------------------------------------------------------------------------------ figures in words
def value_words(value, unit: str, decimals: int = 0) -> str:
    """'29 days', '57%', '1,204 contacts'; 'unknown' when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    if abs(value) < 0.5 * 10**-decimals:
        value = 0.0  # no "-0"
    text = f"{value:,.{decimals}f}"
    if not unit:
        return text
    return f"{text}{unit}" if unit in ("%", "pp") else f"{text} {unit}"


def range_words(low: float, high: float, unit: str, decimals: int = 0) -> str:
    """'3 to 21 days': the unit once, at the end."""
    return f"{value_words(low, '', decimals)} to {value_words(high, unit, decimals)}"


def _meaning(side: int, improvement: str) -> str:
    """'improvement', 'concern' or 'change' for a move to ``side`` (+1 up, -1 down) of a measure."""
    if improvement == "neutral":
        return "change"
    return "improvement" if (side > 0) == (improvement == "increase") else "concern"


# ------------------------------------------------------------------------------------------------------ the views
@dataclass
class View:
    """What one view of a measure shows about its latest recorded change: ``shows`` "improvement", "concern",
    "change" or None (no lasting change); ``enough`` False when there is too little since the change to judge; the
    sentence that says so, with its figures."""

    name: str  #: "weekly" (the chart's points, weekly or monthly), "year on year" or "per case"
    shows: str | None
    enough: bool
    sentence: str
    figures: dict = field(default_factory=dict)

    def figure(self) -> dict:
        return {
            "view": self.name,
            "shows": self.shows,
            "enough": self.enough,
            "sentence": self.sentence,
            **self.figures,
        }


def _runs(side: np.ndarray) -> tuple[int, int, int, int]:
    """(latest run length, its side, longest run length, its side) of non-zero sides."""
    last_side = int(side[-1]) if len(side) else 0
    run = 0
    if last_side != 0:
        breaks = np.flatnonzero(side != last_side)
        run = len(side) - (int(breaks[-1]) + 1 if len(breaks) else 0)
    longest, longest_side, current, prev = 0, 0, 0, 0
    for s in side:
        current = current + 1 if s != 0 and s == prev else (1 if s != 0 else 0)
        prev = s
        if current > longest:
            longest, longest_side = current, int(s)
    return run, last_side, longest, longest_side


def change_view(result: XmrResult, *, unit: str = "", decimals: int = 0, season=None) -> View | None:
    """The chart's own view of its latest phase against the one before (None without a recorded change): a real
    change only when it lasts to the latest point (see the module docstring); a seasonal weekly series is judged
    against the same weeks a year earlier instead (``year_on_year``)."""
    phases = result.phases
    k = len(phases) - 1
    if k < 1 or phases[k - 1]["mean"] is None:
        return None
    points = result.points
    rows = points[(points["phase"] == k) & points["value"].notna()]
    values = rows["value"].to_numpy(dtype=float)
    if season is not None and result.has_dates:
        return year_on_year(result, season, unit=unit, decimals=decimals)
    old, before = float(phases[k - 1]["mean"]), phases[k - 1]
    fmt = lambda v: value_words(v, unit, decimals)
    need = result.shift_points
    n = len(values)
    if n == 0:
        return View("weekly", None, False, "There is no point since the change yet.")
    tol = 1e-9 * (abs(old) + 1)
    side = np.where(values > old + tol, 1, np.where(values < old - tol, -1, 0))
    run, last_side, longest, longest_side = _runs(side)
    old_text = f"the old average of {fmt(old)}"
    figures = {"points_since": n, "latest_run": run, "longest_run": longest, "old_mean": old}
    if run >= need:
        shows = _meaning(last_side, result.improvement)
        where = "above" if last_side > 0 else "below"
        who = f"All {n} points since the change sit" if run == n else f"The last {run} points all sit"
        return View("weekly", shows, True, f"{who} {where} {old_text}: this is {_MEANING[shows]}, not noise.", figures)
    if longest >= need:
        where = "above" if longest_side > 0 else "below"
        return View(
            "weekly",
            None,
            True,
            f"A run of {longest} points after the change sat {where} {old_text}, but it has since been broken: "
            "the data do not show a lasting change.",
            figures,
        )
    limits = range_words(before["lower"], before["upper"], unit, decimals)
    beyond = _beyond_old_limits(values, before, old_text, result, limits)
    if beyond:
        return View("weekly", None, n >= need, beyond, figures)
    if last_side == 0:
        return View("weekly", None, n >= need, f"The latest point sits on {old_text}: no lasting change.", figures)
    where = "above" if last_side > 0 else "below"
    if n < need:
        return View(
            "weekly",
            None,
            False,
            f"{'The only point' if n == 1 else f'All {n} points'} since the change "
            f"{'sits' if n == 1 else 'sit'} {where} {old_text}"
            + (":" if run == n else ", but")
            + f" too soon to tell: at least {need} points in a row are needed.",
            figures,
        )
    who = "Only the latest point sits" if run == 1 else f"Only the last {run} points sit"
    return View(
        "weekly", None, True, f"{who} {where} {old_text}, so the data do not yet show a lasting change.", figures
    )


def _beyond_old_limits(values: np.ndarray, before: dict, old_text: str, result: XmrResult, limits: str) -> str | None:
    """The sentence for points since the change beyond the old limits (None when there are none). It points one way
    only when every such point lies on one side and the points since the change average on that side of the old
    average too; points beyond both limits (or beyond one while the new points average on the other side of the old
    average) say the system varies more than it did, not that it moved."""
    upper, lower = before.get("upper"), before.get("lower")
    high = int((values > upper).sum()) if upper is not None and np.isfinite(upper) else 0
    low = int((values < lower).sum()) if lower is not None and np.isfinite(lower) else 0
    if not high and not low:
        return None
    count, need = high + low, result.shift_points
    said = (
        f"{count} of the {len(values)} points since the change {'is' if count == 1 else 'are'} beyond the old "
        f"limits of {limits}"
    )
    side = 0 if high and low else 1 if high else -1
    moved = float(np.mean(values)) - float(before["mean"])
    if side != 0 and moved * side > 0:
        where = "above" if side > 0 else "below"
        return (
            f"{said}, which the old system would rarely produce: this points to "
            f"{_MEANING[_meaning(side, result.improvement)]}; {need} or more points in a row {where} {old_text} "
            "would confirm it."
        )
    if side == 0:
        why = f" ({high} above, {low} below)"
    else:
        way = "below" if moved < 0 else "above" if moved > 0 else "on"
        why = f", yet the points since the change average {way} {old_text}"
    return (
        f"{said}{why}: the system varies more than it did, which is not a move either way; {need} or more points "
        f"in a row on one side of {old_text} would show a lasting change."
    )


def year_on_year(result: XmrResult, season, *, unit: str = "", decimals: int = 0) -> View:
    """A seasonal series' latest phase against the same weeks a year earlier (52 weeks before, in an earlier phase):
    a real change when the weeks differ from their year-earlier weeks by more than chance allows (a two-sided
    Wilcoxon signed-rank test of the differences at 5%), in the direction of the median difference."""
    from scipy.stats import wilcoxon

    phases = result.phases
    k = len(phases) - 1
    points = result.points[result.points["value"].notna()]
    values = pd.Series(points["value"].to_numpy(dtype=float), index=pd.DatetimeIndex(points["date"]))
    phase = pd.Series(points["phase"].to_numpy(), index=values.index)
    since = values[phase == k]
    earlier_dates = since.index - pd.Timedelta(days=364)
    earlier = values.reindex(earlier_dates)
    earlier_phase = phase.reindex(earlier_dates)
    ok = (earlier.notna() & (earlier_phase < k)).to_numpy()
    now, then = since.to_numpy()[ok], earlier.to_numpy()[ok]
    n = int(ok.sum())
    need = result.shift_points
    pattern = "the series has a yearly pattern"
    figures: dict = {"pairs": n, "points_since": len(since)}
    if n < need:
        return View(
            "year on year",
            None,
            False,
            f"Because {pattern}, the weeks since the change are compared with the same weeks a year earlier; only "
            f"{n} of them {'has' if n == 1 else 'have'} a week a year earlier to compare with (at least {need} "
            "are needed), so the change cannot yet be told from the season.",
            figures,
        )
    higher, lower = int((now > then).sum()), int((now < then).sum())
    total_then = float(then.sum())
    change_pct = (float(now.sum()) / total_then - 1) * 100 if total_then else float("nan")
    diff = now - then
    p = float(wilcoxon(diff).pvalue) if np.any(diff != 0) else 1.0
    figures.update(higher=higher, lower=lower, change_pct=round(change_pct, 1), p_value=round(p, 4))
    pct = f", {change_pct:+.0f}% in all".replace("-0%", "0%").replace("+0%", "0%") if np.isfinite(change_pct) else ""
    compared = (
        f"Because {pattern}, the weeks since the change are compared with the same weeks a year earlier: "
        f"{higher} of {n} were higher and {lower} lower{pct}"
    )
    if p < YEAR_ON_YEAR_LEVEL:
        shows = _meaning(1 if np.median(diff) > 0 else -1, result.improvement)
        return View("year on year", shows, True, f"{compared}, more than chance allows: {_MEANING[shows]}.", figures)
    return View(
        "year on year",
        None,
        True,
        f"{compared}, no more than chance allows: the change cannot be told from the season yet.",
        figures,
    )


# ------------------------------------------------------------------------------------------------ the latest point
def latest_point(result: XmrResult, season=None) -> str:
    """What the latest point is, as a key of ``LATEST_WORDS``: its variation icon, or "seasonal_high" /
    "seasonal_low" when its special cause is the season (its month runs that way every year and, against the usual
    level for its time of year, the point is common cause)."""
    variation = result.variation
    if variation == "common_cause" or season is None or not result.has_dates:
        return variation
    side = 1 if variation.endswith("_high") else -1
    present = result.points[result.points["value"].notna()]
    last = present["date"].iloc[-1]
    if not season.explains(last, side):
        return variation
    if against_season(result, season).variation == "common_cause":
        return "seasonal_high" if side > 0 else "seasonal_low"
    return variation


def against_season(result: XmrResult, season) -> XmrResult:
    """The same chart of the series divided by its month's usual level (``season.adjusted``), with the same phases:
    what stands out even for the time of year."""
    points = result.points
    dates = pd.DatetimeIndex(points["date"])
    values = seasons.adjusted(dates, points["value"].to_numpy(dtype=float), season)
    starts = [ph["start"] for ph in result.phases[1:]]
    return xmr(values, dates=dates, phase_starts=starts, improvement=result.improvement, floor=result.floor)


# ---------------------------------------------------------------------------------------------------- the reading
@dataclass
class Reading:
    """The one reading of a measure (see the module docstring): ``value`` (one of ``READINGS``), the sentence that
    says it with its figures and how sure, the latest point (``latest``, a key of ``LATEST_WORDS``), the change it
    judges (date and label; None without one), the views it weighed and the yearly pattern, if any."""

    value: str
    sentence: str
    latest: str = "common_cause"
    change: dict | None = None
    views: list[View] = field(default_factory=list)
    season: seasons.Season | None = None
    measure: str = ""  #: how the measure reads mid-sentence
    conclusion: str = ""  #: where two views were weighed, the sentence that weighs them

    @property
    def badge(self) -> str:
        """'Latest point: common cause, no signal'."""
        return f"Latest point: {LATEST_WORDS.get(self.latest, self.latest)}" if self.latest else ""

    @property
    def latest_words(self) -> str:
        return LATEST_WORDS.get(self.latest, self.latest or "")

    @property
    def words(self) -> str:
        """The reading in two or three words, for tables: 'real improvement', 'no lasting change'."""
        return {
            "improvement": "real improvement",
            "concern": "real change for the worse",
            "change": "real change",
            "no change": "no lasting change" if self.change else "no change recorded",
            "not enough data": "not enough data",
        }[self.value]

    def figure(self) -> dict:
        return {
            "value": self.value,
            "sentence": self.sentence,
            "latest_point": self.latest,
            "change": self.change,
            "views": [v.figure() for v in self.views],
            "season": self.season.figure() if self.season is not None else None,
        }


def not_enough(sentence: str) -> Reading:
    return Reading("not enough data", sentence, latest="")


def reading_of(
    result: XmrResult | None,
    *,
    measure: str,
    unit: str = "",
    decimals: int = 0,
    season=None,
    change: dict | None = None,
    per_case: View | None = None,
    note: str | None = None,
) -> Reading:
    """The reading of one measure from its chart (``result``; None gives "not enough data" with ``note``), the
    change that starts its latest phase (``change``: date and label), its yearly pattern and, for end-to-end time,
    the view of the cases themselves (``per_case``, from ``measure_cases.cohort_view``)."""
    if result is None:
        return not_enough(note or f"There is not enough data to chart {measure} yet.")
    latest = latest_point(result, season)
    weekly = change_view(result, unit=unit, decimals=decimals, season=season)
    if weekly is None:
        return _without_change(result, measure, latest, season)
    views = [weekly] + ([per_case] if per_case is not None else [])
    value, conclusion = _reconcile(weekly, per_case, measure)
    sentence = " ".join(v.sentence for v in views) + (f" {conclusion}" if conclusion else "")
    return Reading(value, sentence, latest, change, views, season, measure, conclusion)


def _without_change(result: XmrResult, measure: str, latest: str, season) -> Reading:
    if latest.startswith("seasonal"):
        return Reading(
            "no change",
            f"No change to the system is recorded in these data. The latest point of {measure} is "
            f"{LATEST_WORDS[latest]}: the season, not a cause to chase.",
            latest,
            season=season,
            measure=measure,
        )
    if latest == "common_cause":
        return Reading(
            "no change",
            f"No change to the system is recorded in these data, and the latest point of {measure} shows no special "
            "cause.",
            latest,
            season=season,
            measure=measure,
        )
    signal = "improvement" if "_improvement_" in latest else "concern" if "_concern_" in latest else "change"
    return Reading(
        signal,
        f"The latest point of {measure} is {LATEST_WORDS[latest]}, with no recorded change to the system nearby: "
        "find out what happened before acting on it.",
        latest,
        season=season,
        measure=measure,
    )


def _reconcile(weekly: View, per_case: View | None, measure: str) -> tuple[str, str]:
    """One value and the sentence that concludes it, from the chart's view and, for end-to-end time, the cases'
    view ("" when the chart's view alone decides)."""
    if per_case is None:
        return ("not enough data" if not weekly.enough else weekly.shows or "no change"), ""
    if not weekly.enough and not per_case.enough:
        return "not enough data", "Neither view has enough since the change to tell yet."
    if not per_case.enough:
        value = weekly.shows or "no change"
        return value, f"So the weekly medians decide: {_said(value, measure)}."
    if not weekly.enough:
        value = per_case.shows or "no change"
        return value, f"So the cases themselves decide: {_said(value, measure)}."
    if weekly.shows == per_case.shows:
        value = weekly.shows or "no change"
        agree = "The weekly medians and the cases agree" if weekly.shows else "Neither view shows a lasting change"
        return value, f"{agree}: {_said(value, measure)}."
    if weekly.shows and per_case.shows:
        return "no change", "The weekly medians and the cases point different ways, so neither is a real change yet."
    shown, other = ("weekly medians", "cases themselves") if weekly.shows else ("cases themselves", "weekly medians")
    return "no change", f"The {shown} show a change the {other} do not, so it is not yet a real change in {measure}."


def _said(value: str, measure: str) -> str:
    return f"{_MEANING[value]} in {measure}" if value in _MEANING else f"no lasting change in {measure}"
