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
from systemic_lib.analysis.spc import MIN_LIMIT_POINTS, XmrResult

__all__ = ["narrate", "phase_label", "format_date", "VARIATION_WORDS", "ASSURANCE_WORDS"]

#: Plain words for the Making Data Count icons (also used on charts and in tables).
VARIATION_WORDS = {
    "common_cause": "No significant change (common cause)",
    "special_cause_improvement_high": "Improving (special cause, higher)",
    "special_cause_improvement_low": "Improving (special cause, lower)",
    "special_cause_concern_high": "Getting worse (special cause, higher)",
    "special_cause_concern_low": "Getting worse (special cause, lower)",
    "special_cause_neutral_high": "Unusually high (special cause)",
    "special_cause_neutral_low": "Unusually low (special cause)",
}
ASSURANCE_WORDS = {
    "pass": "Will consistently meet the target",
    "fail": "Will consistently miss the target",
    "hit_and_miss": "Hit and miss target",
}
_RULE_WORDS = {
    "outside_limits": "outside the process limits",
    "trend": "in a run of 7 or more rising or falling points",
    "two_of_three": "close to a limit (2 of 3 beyond two sigma)",
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


def _fmt(value: float, unit: str, decimals: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    if abs(value) < 0.5 * 10**-decimals:
        value = 0.0  # no "-0"
    text = f"{value:,.{decimals}f}"
    if not unit:
        return text
    return f"{text}{unit}" if unit in ("%", "pp") else f"{text} {unit}"


def _range(low: float, high: float, unit: str, decimals: int) -> str:
    """'3 to 21 days': the unit once, at the end."""
    return f"{_fmt(low, '', decimals)} to {_fmt(high, unit, decimals)}"


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
    result: XmrResult, *, measure: str = "end-to-end time", unit: str = "days", phase_labels=None, decimals: int = 0
) -> str:
    """One paragraph describing the chart in ``result`` (the :class:`~systemic_lib.analysis.spc.XmrResult` of ``spc.xmr``)."""
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

    # 2. Is the change real? Compare the latest points with the previous phase's average.
    if k >= 1 and n >= 1 and phases[k - 1]["mean"] is not None:
        old = phases[k - 1]["mean"]
        sentences.append(
            _change_sentence(
                present["value"].to_numpy(), old, result, fmt, cur.get("change"), phases[k - 1], unit, decimals
            )
        )

        narrower = _width_sentence(phases[k - 1], cur, unit, decimals)
        if narrower:
            sentences.append(narrower)

    # 3. Special causes in the current period.
    if n >= 2 and len(special_rows):
        sentences.append(_special_sentence(special_rows, present, result, fmt, has_dates))

    # 4. The target.
    assurance = result.assurance
    if assurance is not None and result.target is not None:
        t = fmt(result.target)
        hedge = "; this is provisional while the limits are trial limits" if cur["trial"] else ""
        if assurance == "pass":
            sentences.append(
                f"The target of {t} sits outside the limits on the good side, so it will consistently be met{hedge}."
            )
        elif assurance == "fail":
            sentences.append(
                f"The target of {t} sits outside the limits on the wrong side, so it will consistently "
                f"be missed until the system changes{hedge}."
            )
        else:
            sentences.append(
                f"The target of {t} sits inside the limits, so it will be met at some points and "
                f"missed at others by chance alone: hit and miss{hedge}."
            )

    missing = result.missing
    if missing:
        sentences.append(f"{words.count(missing, 'missing value')} {words.plural(missing, 'was', 'were')} left out.")
    return " ".join(sentences)


def _change_sentence(
    values: np.ndarray,
    old: float,
    result: XmrResult,
    fmt,
    change: Mapping | None = None,
    before: Mapping | None = None,
    unit: str = "",
    decimals: int = 0,
) -> str:
    need = result.shift_points
    tol = 1e-9 * (abs(old) + 1)
    side = np.where(values > old + tol, 1, np.where(values < old - tol, -1, 0))
    last_side = side[-1]
    run = 0
    if last_side != 0:
        breaks = np.flatnonzero(side != last_side)
        run = len(side) - (breaks[-1] + 1 if len(breaks) else 0)
    where = "above" if last_side > 0 else "below"
    improvement = result.improvement
    if improvement == "neutral":
        meaning = "a real change"
    elif (last_side > 0) == (improvement == "increase"):
        meaning = "a real improvement"
    else:
        meaning = "a real change for the worse"
    old_text = f"the old average of {fmt(old)}"
    if run == 0:
        return f"The latest point sits on {old_text}, so the data do not yet show a real change."
    who = f"All {run} points since the change" if run == len(values) else f"The last {run} points"
    if run == 1 and len(values) == 1:
        who = "The only point since the change"
    if run >= need:
        verb = "all sit" if run != len(values) else "sit"
        return f"{who} {verb} {where} {old_text}: this is {meaning}, not noise."
    if change and change.get("signal") and before is not None:
        where = "above" if change["side"] == "high" else "below"
        meaning = {"improvement": "a real improvement", "concern": "a real change for the worse"}.get(
            change["signal"], "a real change"
        )
        if change["longest_run_beyond_old_mean"] >= need:
            return (
                f"A run of {change['longest_run_beyond_old_mean']} points since the change sat {where} "
                f"{old_text}, which the old system would rarely produce: this was {meaning}, though that run "
                "has since been broken."
            )
        c = change["outside_old_limits"]
        old_limits = _range(before["lower"], before["upper"], unit, decimals)
        return (
            f"{c} of the {len(values)} points since the change {'is' if c == 1 else 'are'} beyond the old "
            f"limits of {old_limits}, which the old system would rarely produce: this points to {meaning}; "
            f"{need} or more points in a row {where} {old_text} would confirm it."
        )
    if run == len(values):
        return (
            f"{who} {'sits' if run == 1 else 'sit'} {where} {old_text}, but it is too soon to call it "
            f"{meaning}: at least {need} points in a row are needed."
        )
    return (
        f"Only the last {words.count(run, 'point')} {words.plural(run, 'sits', 'sit')} {where} {old_text}, "
        f"so the data do not yet show {meaning.replace('a real', 'a lasting')}."
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
