"""Text alternatives for charts: what a chart shows, in words, from the same result it draws.

Each chart kind has one function here that takes what the chart was given (an ``XmrResult``, a table of bars, the
process map's steps and paths) and its title, and returns a :class:`Description`: the alt text (the chart's title,
then its key figures in a sentence or two) and, where the data are small enough to read, the table behind it, which
a report shows under the chart in a ``<details>`` a person can open. A chart calls ``attach(ax, description)`` before
it returns; the report helpers (``report.setup``) read it back with ``of(figure)`` when the figure is shown.

Nothing here draws or imports matplotlib: a description is words and a small table.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd

from systemic_lib import words

__all__ = [
    "Description",
    "MAX_TABLE_ROWS",
    "attach",
    "of",
    "plain_title",
    "empty",
    "capability",
    "pareto",
    "failure_types",
    "channels",
    "services_demand",
    "services_end_to_end",
    "steps_by_kind",
    "hands",
    "waiting",
    "demand_types",
    "spread",
    "demand_mix",
    "emerging_demand",
    "process_map",
]

#: A chart's data table is shown only up to this many rows (a per-case chart of 1,600 points is not a table to read).
MAX_TABLE_ROWS = 70
#: "Recently" on a capability chart: the last this many points.
RECENT_POINTS = 12


@dataclass
class Description:
    """What a chart shows in words (``alt``) and, if small enough, the table behind it (``table``, columns named for
    people) with its caption."""

    alt: str
    table: pd.DataFrame | None = None
    caption: str | None = None


_DESCRIBED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def attach(ax, description: Description):
    """Keep ``description`` with the figure ``ax`` is drawn on (several axes of one figure add theirs in order), or
    with any other picture (a Graphviz graph); returns ``ax`` so a chart can end with ``return attach(ax, ...)``."""
    _DESCRIBED.setdefault(getattr(ax, "figure", ax), []).append(description)
    return ax


def of(picture) -> list[Description]:
    """The descriptions attached to a figure's charts (or to a picture), in the order they were drawn ([] if
    none)."""
    return list(_DESCRIBED.get(picture, []))


def plain_title(title) -> str:
    """A chart title as one line of text (a two-line title joined with "; ")."""
    return "; ".join(line.strip() for line in str(title or "").splitlines() if line.strip())


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text.endswith((".", "?", "!")) else text + "."


def _alt(kind: str, title, *parts: str) -> str:
    """ "Bar chart: <title>. <part>. <part>." with empty parts left out."""
    head = f"{kind}: {plain_title(title)}" if plain_title(title) else kind
    return " ".join(_sentence(p) for p in (head, *parts) if p and p.strip())


def _value(value, unit: str | None) -> str:
    """A figure with its unit: "28 days", "45%", "95 contacts"."""
    text = words.figure(value)
    if not unit or text == words.MISSING:
        return text
    return f"{text}%" if unit.startswith("%") else f"{text} {unit}"


def _table(frame: pd.DataFrame | None, caption: str | None = None) -> tuple[pd.DataFrame | None, str | None]:
    if frame is None or frame.empty or len(frame) > MAX_TABLE_ROWS:
        return None, None
    return frame.reset_index(drop=True), caption


def empty(title, message: str) -> Description:
    """A chart with nothing to draw says why, as its axes do."""
    return Description(_alt("Chart", title, message))


# --------------------------------------------------------------------------------------------- capability charts
_SIGNAL_WORDS = {
    "improvement": "improvement",
    "concern": "concern",
    "neutral": "unusual",
    "common_cause": "",
}
_RULE_WORDS = {
    "outside_limits": "outside the limits",
    "trend": "in a run of 7 rising or falling",
    "two_of_three": "near a limit",
    "shift": "in a run of 7 on one side of the average",
}


def _when(value, has_dates: bool) -> str:
    if has_dates:
        return words.date(value, short=True)
    return f"point {int(value) + 1}"


def _months(dates) -> str:
    """ "March 2024", "March and June 2024", "Jan 2024, Jun 2024 and 2 more"."""
    months = list(dict.fromkeys(pd.Timestamp(d).strftime("%B %Y") for d in dates if not pd.isna(d)))
    if len(months) > 3:
        return ", ".join(months[:2]) + f" and {len(months) - 2} more months"
    return " and ".join([", ".join(months[:-1]), months[-1]]) if len(months) > 1 else (months[0] if months else "")


def _phase_words(phase: dict, unit: str | None, has_dates: bool, first: bool) -> str:
    since = "" if first else f"from {_when(phase['start'], has_dates)}, "
    if phase.get("mean") is None:
        return f"{since}no limits"
    if phase.get("upper") is None:
        return f"{since}one point, {_value(phase['mean'], unit)}"
    trial = " (trial limits, fewer than 12 points)" if phase.get("trial") else ""
    return (
        f"{since}mean {_value(phase['mean'], unit)}, process limits {words.figure(phase['lower'])} to "
        f"{_value(phase['upper'], unit)}{trial}"
    )


def _outside_words(points: pd.DataFrame, has_dates: bool) -> list[str]:
    out = []
    beyond = points[points["outside_limits"].astype(bool)]
    for side, label in (("above", "above the upper limit"), ("below", "below the lower limit")):
        rows = (
            beyond[beyond["value"] > beyond["upper"]] if side == "above" else beyond[beyond["value"] < beyond["lower"]]
        )
        if rows.empty:
            continue
        where = f" ({_months(rows['date'])})" if has_dates else ""
        out.append(f"{words.count(len(rows), 'point')} {label}{where}")
    return out


def _grain(points: pd.DataFrame, has_dates: bool) -> str:
    """What one point is, from the dates' spacing: "week", "month", else "point"."""
    if not has_dates or len(points) < 2:
        return "point"
    step = pd.Series(pd.to_datetime(points["date"])).diff().dt.days.median()
    return "week" if 6 <= step <= 8 else "month" if 27 <= step <= 32 else "point"


def capability(
    result, *, title=None, unit: str | None = None, grain: str | None = None, phase_labels=()
) -> Description:
    """A capability chart (``spc.XmrResult``): its points, each phase's mean and process limits, what the latest
    points show and the points beyond the limits, e.g. "Capability chart: End-to-end time ... 61 weeks: mean 26
    days, process limits 17 to 35 days. No special cause in the last 12 points. 1 point above the upper limit (June
    2024)." The table lists every point with its special cause, up to ``MAX_TABLE_ROWS`` points."""
    points = result.points
    has_dates = result.has_dates
    charted = points[points["value"].notna()]
    n = len(charted)
    grain = grain or _grain(charted, has_dates)
    labels = list(phase_labels or [])
    phases = []
    for k, phase in enumerate(result.phases):
        label = f" ({labels[k - 1]})" if 0 < k <= len(labels) and labels[k - 1] else ""
        phases.append(_phase_words(phase, unit, has_dates, k == 0) + (label if k else ""))
    span = f"{words.count(n, grain)}" + (
        f" from {_when(charted['date'].iloc[0], True)} to {_when(charted['date'].iloc[-1], True)}"
        if has_dates and n
        else ""
    )
    recent = charted.tail(RECENT_POINTS)
    special = recent[recent["signal"].notna() & (recent["signal"] != "common_cause")]
    if special.empty:
        latest = f"No special cause in the last {words.count(len(recent), grain)}"
    else:
        kinds = sorted({_SIGNAL_WORDS.get(s, s) for s in special["signal"]} - {""})
        latest = f"{words.count(len(special), grain)} of the last {len(recent)} show a special cause" + (
            f" ({' and '.join(kinds)})" if kinds else ""
        )
    if n:
        last = charted.iloc[-1]
        latest += f"; the latest, {_when(last['date'] if has_dates else charted.index[-1], has_dates)}, is "
        latest += _value(last["value"], unit)
    text = _alt(
        "Capability chart",
        title,
        f"{span}: " + "; ".join(phases),
        latest,
        "; ".join(_outside_words(charted, has_dates)),
    )
    table = pd.DataFrame(
        {
            ("Date" if has_dates else "Point"): (
                [words.date(d, short=True) for d in charted["date"]] if has_dates else list(range(1, n + 1))
            ),
            (f"Value ({unit})" if unit else "Value"): charted["value"].to_numpy(),
            "Special cause": [
                ""
                if s in (None, "common_cause") or pd.isna(s)
                else f"{_SIGNAL_WORDS.get(s, s)}: {_RULE_WORDS.get(r, r)}"
                for s, r in zip(charted["signal"], charted["rule"])
            ],
        }
    )
    shown, caption = _table(table, "Each point on the chart")
    return Description(text, shown, caption)


# --------------------------------------------------------------------------------------------------- bar charts
def pareto(shown: pd.DataFrame, *, title=None) -> Description:
    """The Pareto of demand types (``demand.demand_types`` rows: demand_type, value, failure, unclassified, total,
    pct, cumulative_pct): the largest type, whether it is mostly value or failure, and how much the top three make."""
    if shown.empty:
        return empty(title, "No contacts in this period")
    top = shown.iloc[0]
    kind = "failure" if top["failure"] > top["value"] else "value"
    first = (
        f"The largest is \u201c{top['demand_type']}\u201d: {words.count(top['total'], 'contact')} "
        f"({words.percent(top['pct'])} of all), mostly {kind} demand"
    )
    three = (
        f"The top {min(3, len(shown))} make {words.percent(shown['cumulative_pct'].iloc[min(3, len(shown)) - 1])} "
        "of contacts"
        if len(shown) > 1
        else ""
    )
    table = pd.DataFrame(
        {
            "Demand type": shown["demand_type"],
            "Value demand": shown["value"],
            "Failure demand": shown["failure"],
            "Not yet classified": shown["unclassified"],
            "Contacts": shown["total"],
            "% of contacts": shown["pct"].round(0),
        }
    )
    return Description(_alt("Bar chart", title, first, three), *_table(table))


def failure_types(table: pd.DataFrame, *, title=None) -> Description:
    """Failure demand by type (failure_type, contacts, pct): the largest two."""
    if table.empty:
        return empty(title, "No failure demand classified in this period")
    parts = [
        f"\u201c{str(r.failure_type).capitalize()}\u201d {words.count(r.contacts, 'contact')} ({words.percent(r.pct)})"
        for r in table.head(2).itertuples()
    ]
    lead = f"Largest: {parts[0]} of failure demand" + (f"; then {parts[1]}" if len(parts) > 1 else "")
    shown = pd.DataFrame(
        {
            "What failed": table["failure_type"],
            "Contacts": table["contacts"],
            "% of failure demand": table["pct"].round(0),
        }
    )
    return Description(_alt("Bar chart", title, lead), *_table(shown))


def _largest_and_highest(names, counts, pcts, noun: str) -> str:
    counts, pcts = np.asarray(counts, dtype=float), np.asarray(pcts, dtype=float)
    i = int(np.nanargmax(counts))
    text = f"Most {noun}s: {names[i]}, {words.count(counts[i], noun)}"
    if not np.isnan(pcts[i]):
        text += f" ({words.percent(pcts[i])} failure demand)"
    if np.isfinite(pcts).any():
        j = int(np.nanargmax(pcts))
        if j != i:
            text += f"; the highest share of failure demand: {names[j]}, {words.percent(pcts[j])}"
    return text


def channels(table: pd.DataFrame, *, title=None) -> Description:
    """The channel mix (channel, contacts, value, failure, unclassified, failure_pct): the busiest channel and where
    failure demand is highest."""
    if table.empty:
        return empty(title, "No contacts in this period")
    lead = _largest_and_highest(list(table["channel"]), table["contacts"], table["failure_pct"], "contact")
    shown = pd.DataFrame(
        {
            "Channel": table["channel"],
            "Contacts": table["contacts"],
            "Value demand": table["value"],
            "Failure demand": table["failure"],
            "Not yet classified": table["unclassified"],
            "Failure demand %": table["failure_pct"].round(0),
        }
    )
    return Description(_alt("Bar chart", title, lead), *_table(shown))


def services_demand(scan: pd.DataFrame, *, title=None) -> Description:
    """The organisation scan's demand by service (service_name, contacts, value, failure, unclassified,
    failure_pct)."""
    if scan.empty or scan["contacts"].sum() == 0:
        return empty(title, "No contacts recorded")
    lead = _largest_and_highest(list(scan["service_name"]), scan["contacts"], scan["failure_pct"], "contact")
    shown = pd.DataFrame(
        {
            "Service": scan["service_name"],
            "Contacts": scan["contacts"],
            "Value demand": scan["value"],
            "Failure demand": scan["failure"],
            "Not yet classified": scan["unclassified"],
            "Failure demand %": pd.to_numeric(scan["failure_pct"], errors="coerce").round(0),
        }
    )
    return Description(_alt("Bar chart", title, lead), *_table(shown))


def _days_or_more(days, at_least, *, unit: bool = True) -> str:
    """'31 days', or 'more than 120 days' where too many cases are still open for the figure to be reached ('31',
    'more than 120' in a table whose column names the unit)."""
    said = words.duration if unit else words.days
    if not words.is_missing(days):
        return said(days)
    return words.MISSING if words.is_missing(at_least) else f"more than {said(at_least)}"


def _column(known: pd.DataFrame, name: str) -> pd.Series:
    return known[name] if name in known else pd.Series(np.nan, index=known.index)


def services_end_to_end(known: pd.DataFrame, *, title=None) -> Description:
    """The organisation scan's end-to-end days by service (service_name, median_days, p85_days, and where the scan
    gives them median_at_least, p85_at_least, cases, open_cases): the longest and the shortest median, "more than N"
    where a median is not reached because too many cases are still open."""
    median = _column(known, "median_days").fillna(_column(known, "median_at_least"))
    timed = known[median.notna()]
    if timed.empty:
        return empty(title, "No end-to-end times recorded")
    at_least, p85_least = _column(known, "median_at_least"), _column(known, "p85_at_least")

    def said(i) -> str:
        row = known.loc[i]
        return (
            f"{row['service_name']}, median {_days_or_more(row['median_days'], at_least[i])}, 85% within "
            f"{_days_or_more(row['p85_days'], p85_least[i])}"
        )

    longest, shortest = median[timed.index].idxmax(), median[timed.index].idxmin()
    lead = f"Longest: {said(longest)}"
    if len(timed) > 1:
        lead += f"; shortest: {said(shortest).split(', 85%')[0]}"
    columns = {
        "Service": known["service_name"],
        "Median (days)": [_days_or_more(m, a, unit=False) for m, a in zip(known["median_days"], at_least)],
        "85% within (days)": [_days_or_more(p, a, unit=False) for p, a in zip(known["p85_days"], p85_least)],
    }
    if "cases" in known:
        columns["Cases"] = known["cases"]
    if "open_cases" in known:
        columns["Still open"] = known["open_cases"]
    elif "closed_cases" in known:
        columns["Closed cases"] = known["closed_cases"]
    return Description(_alt("Bar chart", title, lead), *_table(pd.DataFrame(columns)))


def steps_by_kind(counts: pd.DataFrame, *, title=None) -> Description:
    """Steps by kind (category, steps, step_type): the share of waste among classified steps and the largest kind."""
    if counts.empty:
        return empty(title, "No steps recorded")
    kinds = counts.groupby("step_type")["steps"].sum()
    classified = kinds.get("value", 0) + kinds.get("waste", 0)
    share = f"{words.share(kinds.get('waste', 0) / classified)} of classified steps are waste" if classified else ""
    top = counts.loc[counts["steps"].idxmax()]
    lead = f"The largest kind is {top['category']}: {words.count(top['steps'], 'step')} ({top['step_type']})"
    shown = pd.DataFrame(
        {"Kind of step": counts["category"], "Steps": counts["steps"], "Value or waste": counts["step_type"]}
    )
    return Description(_alt("Bar chart", title, share, lead), *_table(shown))


def hands(h: pd.DataFrame, *, title=None) -> Description:
    """Hand-offs and people per case (label, handoffs, people): the most common number of each."""
    if h.empty:
        return empty(title, "No cases")
    parts = []
    for col, noun in (("handoffs", "hand-offs"), ("people", "different people")):
        i = int(np.argmax(h[col].to_numpy()))
        parts.append(f"{h['label'].iloc[i]} {noun} ({words.count(h[col].iloc[i], 'case')})")
    lead = f"Most often a case had {parts[0]} and {parts[1]}"
    shown = pd.DataFrame(
        {
            "Per case": h["label"],
            "Cases with this many hand-offs": h["handoffs"],
            "Cases with this many people": h["people"],
        }
    )
    return Description(_alt("Bar chart", title, lead), *_table(shown))


# ---------------------------------------------------------------------------------------------- demand and flow
def waiting(w, *, title=None) -> Description:
    """The cost of waiting (``joined.Waiting``): one dot per linked case; the fitted rate and the open cases."""
    if not w.linked_cases:
        return empty(title, "No contact is linked to a case")
    rate = (
        f"The least-squares line: each extra week open brings {w.rate:+.2f} failure contacts"
        if w.rate is not None
        else "Too few linked cases for a line"
    )
    is_open = int(w.per_case["open"].sum()) if "open" in w.per_case else 0
    dots = f"One dot per case ({words.number(w.linked_cases)}); {words.count(is_open, 'case')} still open, drawn hollow"
    return Description(_alt("Scatter chart", title, dots, rate))


def demand_types(rows: list[dict], *, title=None) -> Description:
    """Design against demand: the end-to-end median of the cases each value demand started."""
    if not rows:
        return empty(title, "No case is linked to the demand that started it")
    said = []
    for r in rows:
        more = "more than " if r["median_days"] is None and r.get("at_least") is not None else ""
        days = r["median_days"] if r["median_days"] is not None else r.get("at_least")
        said.append(
            f"\u201c{r['demand_type']}\u201d {more}{words.duration(days, missing=words.MISSING)} "
            f"({words.count(r['cases'], 'case')}, {words.number(r['open'])} open)"
        )
    shown = pd.DataFrame(
        {
            "Demand that started the case": [r["demand_type"] for r in rows],
            "Cases": [r["cases"] for r in rows],
            "Still open": [r["open"] for r in rows],
            "End-to-end median (days)": [r["median_days"] for r in rows],
        }
    )
    return Description(_alt("Bar chart", title, "Median end to end: " + "; ".join(said)), *_table(shown))


# -------------------------------------------------------------------------------------------------- experiment
def spread(s, *, title=None) -> Description:
    """One measure's spread per cohort (``experiment.Spread``): each cohort's median (or share) and its cases."""
    cohorts = list(s.counts)
    said, rows = [], []
    for c in cohorts:
        n = s.counts.get(c, 0)
        if s.shares is not None:
            value = s.shares.get(c) if hasattr(s.shares, "get") else None
            said.append(f"{c} {words.percent(value) or words.MISSING} of {words.count(n, 'case')}")
            rows.append({"Cohort": c, "Cases": n, "Share (%)": value})
            continue
        v = s.values.loc[s.values["cohort"] == c, "value"] if len(s.values) else pd.Series(dtype=float)
        median = float(v.median()) if len(v) else None
        q1, q3 = (float(v.quantile(0.25)), float(v.quantile(0.75))) if len(v) else (None, None)
        said.append(f"{c} median {_value(median, s.unit)} ({words.count(n, 'case')})")
        rows.append({"Cohort": c, "Cases": n, "Median": median, "Middle half from": q1, "Middle half to": q3})
    kind = "Bar chart" if s.shares is not None else "Box plot"
    return Description(_alt(kind, title or s.measure.name, "; ".join(said)), *_table(pd.DataFrame(rows)))


def demand_mix(table: pd.DataFrame, *, title=None) -> Description:
    """Each cohort's demand mix (demand_type, baseline_pct, experiment_pct): the largest type in each."""
    if table.empty:
        return empty(title, "No compared case has a demand type")
    top = table.iloc[0]
    lead = (
        f"Largest: \u201c{top['demand_type']}\u201d, {words.percent(top['baseline_pct'])} of baseline and "
        f"{words.percent(top['experiment_pct'])} of experiment cases"
    )
    shown = pd.DataFrame(
        {
            "Demand type": table["demand_type"],
            "Baseline %": table["baseline_pct"].round(0),
            "Experiment %": table["experiment_pct"].round(0),
        }
    )
    return Description(_alt("Bar chart", title, lead), *_table(shown))


def emerging_demand(weekly: pd.DataFrame, *, title=None) -> Description:
    """A new service's contacts week by week by demand type (week, one column per value demand type, "not yet
    classified", "failure demand"): the busiest week, the largest value demand type and the service's own failure
    demand, with the weeks in a table."""
    if weekly.empty:
        return empty(title, "No contacts recorded since the start")
    counts = weekly.drop(columns=["week"])
    per_week = counts.sum(axis=1)
    busiest = int(per_week.idxmax())
    parts = [
        f"The busiest week began {words.date(weekly['week'].iloc[busiest])}: "
        f"{words.count(int(per_week.iloc[busiest]), 'contact')}"
    ]
    value_types = [c for c in counts.columns if c not in ("not yet classified", "failure demand")]
    if value_types:
        top = counts[value_types].sum().sort_values(ascending=False, kind="stable")
        parts.append(
            f"The largest value demand is \u201c{top.index[0]}\u201d: {words.count(int(top.iloc[0]), 'contact')}"
        )
    total = int(per_week.sum())
    failure = int(counts["failure demand"].sum()) if "failure demand" in counts else 0
    parts.append(f"Its own failure demand: {words.count(failure, 'contact')} of {words.count(total, 'contact')}")
    shown = pd.DataFrame({"Week beginning": [words.date(w) for w in weekly["week"]], "Contacts": per_week.to_numpy()})
    return Description(_alt("Stacked bar chart", title, *parts), *_table(shown))


# ------------------------------------------------------------------------------------------------- process maps
def process_map(nodes: pd.DataFrame, edges: pd.DataFrame, *, title: str, start: str, end: str) -> Description:
    """A process map (``processmap.map_elements``: nodes activity, events, step_type; edges from_activity,
    to_activity, count, median_wait_days): the busiest step and the busiest path between two steps; the table lists
    every arrow."""
    lead = ""
    if len(nodes):
        busiest = nodes.loc[nodes["events"].idxmax()]
        lead = f"The busiest step is {busiest['activity']} ({words.count(busiest['events'], 'time')}, a {busiest['step_type']} step)"
    inner = edges[~edges["from_activity"].eq(start) & ~edges["to_activity"].eq(end)] if len(edges) else edges
    path = ""
    if len(inner):
        e = inner.loc[inner["count"].idxmax()]
        wait = words.wait(e["median_wait_days"])
        path = (
            f"the busiest arrow is {e['from_activity']} to {e['to_activity']} ({words.count(e['count'], 'time')}"
            + (f", median wait {wait}" if wait else "")
            + ")"
        )
    shown = pd.DataFrame(
        {
            "From": edges["from_activity"],
            "To": edges["to_activity"],
            "Times": edges["count"],
            "Median wait": [words.wait(w) or words.MISSING for w in edges["median_wait_days"]],
        }
    )
    parts = "; ".join(p for p in (lead, path) if p)
    return Description(_alt("Process map", title, parts), *_table(shown, "Every arrow on the map"))
