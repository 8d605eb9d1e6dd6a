"""Plain-English narration of a capability chart, written from the ``xmr`` result and nothing else.

One paragraph per chart for a manager: what the current system predictably achieves, whether a change is real, any
special causes in the current period, the target (if any), and how firm the limits are. It only says what the rules
support: limits are called predictable only for a phase without special causes and with firm (non-trial) limits; a
change is called real only when at least ``shift_points`` (7) of the latest points sit on one side of the old average.
The text is plain (no markup); the caller escapes it for HTML.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.analysis.reading import VARIATION_WORDS, against_season, change_view, latest_point, range_words
from systemic_lib.analysis.reading import value_words as _fmt
from systemic_lib.analysis.spc import MIN_LIMIT_POINTS, XmrResult

__all__ = ["narrate", "phase_label", "format_date", "VARIATION_WORDS", "ASSURANCE_WORDS"]

ASSURANCE_WORDS = {
    "pass": "Will consistently meet the target",
    "fail": "Will consistently miss the target",
    "hit_and_miss": "Hit and miss target",
}
_RULE_WORDS = {
    "outside_limits": "outside the process limits",
    "trend": "in a run of 7 or more rising or falling points",
    "two_of_three": "close to a limit (2 of 3 points in a row in the outer third, on one side)",
    "shift": "in a run of 7 or more on one side of the average",
}


def phase_label(phase_labels, k: int) -> str | None:
    """Label of phase ``k`` (k ≥ 1): a sequence labels the changes in order, a mapping is keyed by phase number."""
    if not phase_labels or k < 1:
        return None
    if isinstance(phase_labels, Mapping):
        label = phase_labels.get(k)
    elif isinstance(phase_labels, Sequence) and not isinstance(phase_labels, str):
        label = phase_labels[k - 1] if k - 1 < len(phase_labels) else None
    else:
        label = str(phase_labels) if k == 1 else None
    return str(label).strip() or None if label is not None else None


def format_date(value) -> str:
    """'7 January 2019' for a date; 'point 13' (1-based) for a position."""
    if isinstance(value, (pd.Timestamp, np.datetime64)) or hasattr(value, "strftime"):
        return words.date(value)
    return f"point {int(value) + 1}"


def _range(low: float, high: float, unit: str, decimals: int) -> str:
    return range_words(low, high, unit, decimals)


def _when_text(result: XmrResult, k: int, phase_labels) -> str:
    ph = result.phases[k]
    when = format_date(ph["start"])
    label = phase_label(phase_labels, k)
    if label is None:
        return f"Since the change at {when}" if when.startswith("point") else f"Since the change on {when}"
    on = "at" if when.startswith("point") else "on"
    if label[0].islower():
        return f"Since {label} {on} {when}"
    return f"Since the change \u201c{label}\u201d {on} {when}"


def narrate(
    result: XmrResult,
    *,
    measure: str = "end-to-end time",
    unit: str = "days",
    phase_labels=None,
    decimals: int = 0,
    season=None,
    change_words: str | None = None,
) -> str:
    """One paragraph describing the chart in ``result`` (the :class:`~systemic_lib.analysis.spc.XmrResult` of
    ``spc.xmr``). Whether the latest phase is a real change is ``reading.change_view``'s sentence, or
    ``change_words`` where the caller has weighed more than the chart (``reading.reading_of``). With a yearly
    pattern (``season``), the season's weeks are said to be the season, not special causes to chase."""
    if not isinstance(result, XmrResult):
        raise ValueError(f"narrate needs the result of systemic_lib.analysis.spc.xmr, not {type(result).__name__}")
    phases = result.phases
    k = len(phases) - 1
    cur = phases[k]
    points = result.points
    rows = points[points["phase"] == k]
    present = rows[rows["value"].notna()]
    n = len(present)
    has_dates = result.has_dates
    fmt = lambda v: _fmt(v, unit, decimals)
    sentences: list[str] = []

    # 1. The period and what the system achieves.
    if has_dates:
        first, last = present["date"].iloc[0], present["date"].iloc[-1]
        span = f"{words.count(n, 'point')} from {format_date(first)} to {format_date(last)}"
        short = f"{words.count(n, 'point')}, to {format_date(last)}"
    else:
        span = short = words.count(n, "point")
    opener = f"Over {span}" if k == 0 else f"{_when_text(result, k, phase_labels)} ({short})"
    rng = lambda a, b: _range(a, b, unit, decimals)
    special_rows = present[present["signal"].isin(["improvement", "concern", "neutral"])]
    if n == 0:
        sentences.append(f"{opener} there are no values for {measure} yet.")
    elif n == 1 or cur["upper"] is None:
        sentences.append(
            f"{opener}, {measure} was {fmt(present['value'].iloc[0])}: one point is too few to say "
            "what the system will do."
        )
    elif cur["upper"] == cur["lower"] and len(special_rows) == 0:
        sentences.append(
            f"{opener}, {measure} has been exactly {fmt(cur['mean'])} at every point: no variation "
            "at all, so the limits have no width."
        )
    elif cur["trial"]:
        sentences.append(
            f"{opener}, {measure} has averaged {fmt(cur['mean'])}, with trial limits of "
            f"{rng(cur['lower'], cur['upper'])}. These limits are provisional: they rest on "
            f"{cur['n_limits']} points and firm limits need at least {MIN_LIMIT_POINTS}."
        )
    elif len(special_rows) == 0:
        sentences.append(
            f"{opener}, {measure} has averaged {fmt(cur['mean'])} and will predictably fall between "
            f"{rng(cur['lower'], cur['upper']).replace(' to ', ' and ')}."
        )
    else:
        sentences.append(
            f"{opener}, {measure} has averaged {fmt(cur['mean'])} with process limits of "
            f"{rng(cur['lower'], cur['upper'])}, but special causes mean the system "
            "is not yet predictable."
        )

    # 2. Is the change real? The reading's rules: it must last to the latest point (reading.change_view).
    if k >= 1 and n >= 1 and phases[k - 1]["mean"] is not None:
        view = change_view(result, unit=unit, decimals=decimals, season=season)
        sentences.append(change_words if change_words is not None else view.sentence if view else "")
        narrower = _width_sentence(phases[k - 1], cur, unit, decimals)
        if narrower:
            sentences.append(narrower)

    # 3. Special causes in the current period (against the season, where the series has a yearly pattern).
    if n >= 2 and len(special_rows):
        if season is not None and has_dates:
            sentences.append(_seasonal_special_sentence(result, present, season, measure, fmt))
        else:
            sentences.append(_special_sentence(special_rows, present, result, fmt, has_dates))

    # 4. The target.
    sentences.append(_target_sentence(result, cur, fmt))

    sentences = [x for x in sentences if x]
    missing = result.missing
    if missing:
        sentences.append(f"{words.count(missing, 'missing value')} {words.plural(missing, 'was', 'were')} left out.")
    return " ".join(sentences)


def _target_sentence(result: XmrResult, cur: Mapping, fmt) -> str:
    assurance = result.assurance
    if assurance is None or result.target is None:
        return ""
    t = fmt(result.target)
    hedge = "; this is provisional while the limits are trial limits" if cur["trial"] else ""
    if assurance == "pass":
        return f"The target of {t} sits outside the limits on the good side, so it will consistently be met{hedge}."
    if assurance == "fail":
        return (
            f"The target of {t} sits outside the limits on the wrong side, so it will consistently "
            f"be missed until the system changes{hedge}."
        )
    return (
        f"The target of {t} sits inside the limits, so it will be met at some points and "
        f"missed at others by chance alone: hit and miss{hedge}."
    )


def _width_sentence(before: Mapping, now: Mapping, unit: str, decimals: int) -> str:
    """Whether the limits narrowed (a more predictable system) or widened since the change: said only when both
    phases have limits and the width moved by at least a tenth."""

    def width(ph):
        low, high = ph.get("lower"), ph.get("upper")
        if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
            return None
        return high - low

    old, new = width(before), width(now)
    if old is None or new is None or old <= 0 or abs(new - old) < 0.1 * old:
        return ""
    hedge = " (trial limits, so provisional)" if now.get("trial") else ""
    fmt = lambda v: _fmt(v, "percentage points" if unit == "%" else unit, decimals)
    if new < old:
        return (
            f"The limits are narrower than before the change ({fmt(new)} apart, were {fmt(old)}){hedge}: the "
            "system is more predictable."
        )
    return (
        f"The limits are wider than before the change ({fmt(new)} apart, were {fmt(old)}){hedge}: the system is "
        "less predictable."
    )


def _special_sentence(
    special_rows: pd.DataFrame, present: pd.DataFrame, result: XmrResult, fmt, has_dates: bool
) -> str:
    counts = special_rows["rule"].value_counts()
    parts = []
    for rule in ("outside_limits", "trend", "two_of_three", "shift"):
        c = int(counts.get(rule, 0))
        if c:
            parts.append(f"{c} {'point is' if c == 1 else 'points are'} {_RULE_WORDS[rule]}")
    kinds = sorted(set(special_rows["signal"]))
    kind_text = {"improvement": "improvement", "concern": "concern", "neutral": "unusual variation"}
    kind = " and ".join(kind_text[s] for s in kinds)
    text = f"Special causes in this period ({kind}): {'; '.join(parts)}."
    last = present.iloc[-1]
    if last["signal"] in ("improvement", "concern", "neutral"):
        when = format_date(last["date"]) if has_dates else format_date(present.index[-1])
        variation = result.variation or ""
        high = "unusually high" if variation.endswith("_high") else "unusually low"
        meaning = {"improvement": ", which is good", "concern": ", which is a concern"}.get(last["signal"], "")
        text += f" The latest point ({fmt(last['value'])}, {when}) is {high}{meaning}: worth finding out why."
    return text


def _seasonal_special_sentence(result: XmrResult, present: pd.DataFrame, season, measure: str, fmt) -> str:
    """The yearly pattern said once, then only what stands out even for the time of year, and the latest point."""
    k = len(result.phases) - 1
    adjusted = against_season(result, season).points
    standing = adjusted[(adjusted["phase"] == k) & adjusted["signal"].isin(["improvement", "concern", "neutral"])]
    text = season.sentence(measure)
    text += (
        " Against the usual level for its time of year, no point in this period stands out."
        if standing.empty
        else f" Against the usual level for its time of year, {words.count(len(standing), 'point')} in this period "
        f"{words.plural(len(standing), 'stands', 'stand')} out."
    )
    last = present.iloc[-1]
    latest = latest_point(result, season)
    when = format_date(last["date"])
    if latest.startswith("seasonal"):
        high = "high" if latest.endswith("high") else "low"
        text += (
            f" The latest point ({fmt(last['value'])}, {when}) is {high} for the chart's average but usual for the "
            "time of year: not a cause to chase."
        )
    elif latest != "common_cause":
        high = "unusually high" if latest.endswith("_high") else "unusually low"
        meaning = {"improvement": ", which is good", "concern": ", which is a concern"}.get(last["signal"], "")
        text += (
            f" The latest point ({fmt(last['value'])}, {when}) is {high} even for the time of year{meaning}: worth "
            "finding out why."
        )
    return text
