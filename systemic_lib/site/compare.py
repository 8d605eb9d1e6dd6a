"""Councils compared on the top index: the services two or more councils share, side by side, never ranked.

Regional learning is how the method spreads: a team learns most from another council's system for the same
service. ``compare_councils`` matches services across councils by id or by name (case, spaces and "&"/"and"
ignored) and, for each shared service, puts each council's figures side by side from the stage JSON already on
disk (nothing is recomputed here):

- failure demand % with its count (n of N classified contacts), its period and the share classified by rules;
- the end-to-end median (Kaplan–Meier, from ``flow.json``, else ``measure.json``) with its open cases, "more than
  N days" where half the cases are still open;
- small multiples of each council's capability chart of the same measure (``measure.json``'s points and phase
  limits) on ONE y axis, and one time axis where the councils' periods overlap.

Councils are listed in alphabetical order, never by a figure; there is no score, no "best", no colour for a
winner (METHOD.md: compare to learn, not to judge). Each council's period is shown, and a warning says where the
periods do not overlap. Inline SVG only, every label escaped.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from html import escape
from typing import Any

import pandas as pd

from systemic_lib import words

__all__ = [
    "normalise_name",
    "Entry",
    "CouncilFigures",
    "Multiples",
    "SharedService",
    "Comparison",
    "compare_councils",
    "match_services",
    "NOT_RANKED",
]

NOT_RANKED = (
    "Councils are listed in alphabetical order, side by side, and never in order of a figure: no score, "
    "no league table, no colour for a winner. The figures are here to learn how the system of each council "
    "for the same service works, not to judge one council against another."
)


def _num(value):
    """A finite number from JSON, or None (strings, booleans, NaN and missing keys give None)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def normalise_name(name) -> str:
    """A service name as compared across councils: lower case, "&" read as "and", runs of spaces (and -/_) as one.

    >>> normalise_name("  Waste &  Recycling ") == normalise_name("waste and recycling")
    True
    """
    text = str(name or "").lower().replace("&", " and ")
    return " ".join(re.sub(r"[\s_\-]+", " ", text).split())


# ------------------------------------------------------------------------------------------------ the inputs


@dataclass
class Entry:
    """One service of one council as the reports folder holds it: ``data`` maps a stage to its JSON (a dict)."""

    council_slug: str
    council_name: str
    service_id: str
    service_name: str
    data: dict = field(default_factory=dict)
    href: str | None = None  #: the council's page, relative to the top index


def _period(data) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    period = data.get("period") if isinstance(data, dict) else None
    if not isinstance(period, dict):
        return None, None
    try:
        start = pd.Timestamp(period["start"]) if period.get("start") else None
        end = pd.Timestamp(period["end"]) if period.get("end") else None
    except (ValueError, TypeError):
        return None, None
    return start, end


def _period_words(start, end) -> str:
    return words.period(start, end, short=True) if start is not None and end is not None else "period not known"


def _overlap(a: tuple, b: tuple) -> bool | None:
    """Whether two (start, end) periods share a day; None when either is not known."""
    if None in a or None in b:
        return None
    return a[0] <= b[1] and b[0] <= a[1]


# ------------------------------------------------------------------------------------------------ the figures


@dataclass
class CouncilFigures:
    """One council's row of a shared service: every figure with its count and period, as words."""

    council: str
    service: str
    href: str | None
    failure: str = words.MISSING  #: '59%'
    failure_count: str = ""  #: '6,336 of 10,801 classified contacts'
    failure_period: str = ""
    rules: str = words.MISSING  #: classified by the council's rules: '2% (202 of 10,801 contacts)'
    unclassified: str = ""  #: '12 contacts not yet classified' where there are any
    end_to_end: str = words.MISSING  #: '28 days', 'more than 40 days'
    open_cases: str = ""  #: still open: '168 of 1,558 cases'
    end_to_end_period: str = ""
    end_to_end_source: str = ""  #: 'flow report' or 'measure report'
    demand_span: tuple = (None, None)
    flow_span: tuple = (None, None)


def _demand_words(row: CouncilFigures, demand) -> None:
    if not isinstance(demand, dict):
        row.failure_period = "no demand report"
        return
    row.demand_span = _period(demand)
    row.failure_period = _period_words(*row.demand_span)
    pct, failure, value = _num(demand.get("failure_pct")), _num(demand.get("failure")), _num(demand.get("value"))
    contacts, unclassified = _num(demand.get("contacts")), _num(demand.get("unclassified"))
    if pct is not None:
        row.failure = words.percent(pct)
    if failure is not None and value is not None:
        row.failure_count = f"{words.number(failure)} of {words.count(failure + value, 'classified contact')}"
    if unclassified:
        row.unclassified = f"{words.count(unclassified, 'contact')} not yet classified"
    rules = _num(demand.get("classified_by_rules"))
    if rules is not None and contacts:
        share = words.percent(100 * rules / contacts)
        row.rules = f"{share} ({words.number(rules)} of {words.count(contacts, 'contact')})"
    elif rules is not None:
        row.rules = words.count(rules, "contact")


def _end_to_end_words(row: CouncilFigures, flow, measure) -> None:
    """From flow.json (the flow report's Kaplan–Meier median), else measure.json's end_to_end_per_case."""
    source: str | None = None
    e2e: Any = None  # JSON
    span: tuple = (None, None)
    if isinstance(flow, dict):
        e2e = flow.get("end_to_end") if isinstance(flow.get("end_to_end"), dict) else {}
        e2e = {
            "median_days": flow.get("median_days", e2e.get("median_days")),
            "median_at_least": flow.get("median_at_least", e2e.get("median_at_least")),
            "open_cases": e2e.get("open_cases", flow.get("open_cases")),
            "cases": e2e.get("cases", flow.get("cases")),
        }
        source, span = "flow report", _period(flow)
    elif isinstance(measure, dict) and isinstance(measure.get("end_to_end_per_case"), dict):
        e2e = measure["end_to_end_per_case"].get("definition")
        source, span = "measure report", _period(measure)
    row.flow_span = span
    if not isinstance(e2e, dict):
        row.end_to_end_period = "no flow report"
        return
    row.end_to_end_source = source or ""
    row.end_to_end_period = _period_words(*span)
    median, at_least = _num(e2e.get("median_days")), _num(e2e.get("median_at_least"))
    if median is not None:
        row.end_to_end = words.duration(median)
    elif at_least is not None:
        row.end_to_end = f"more than {words.duration(at_least)}"
    open_cases, cases = _num(e2e.get("open_cases")), _num(e2e.get("cases"))
    if open_cases is not None and cases is not None:
        row.open_cases = f"{words.number(open_cases)} of {words.count(cases, 'case')}"
    elif open_cases is not None:
        row.open_cases = words.count(open_cases, "case")


def council_figures(entry: Entry) -> CouncilFigures:
    row = CouncilFigures(entry.council_name, entry.service_name, entry.href)
    _demand_words(row, entry.data.get("demand"))
    _end_to_end_words(row, entry.data.get("flow"), entry.data.get("measure"))
    return row


def _period_warnings(rows: list[CouncilFigures]) -> list[str]:
    """'Failure demand: Eastbrook (1 Jan 2024 to 30 Mar 2025) and Westmere (…) do not overlap: …' per pair."""
    out = []
    for label, attr, what in (("Failure demand", "demand_span", "demand"), ("End-to-end time", "flow_span", "cases")):
        for i, a in enumerate(rows):
            for b in rows[i + 1 :]:
                if _overlap(getattr(a, attr), getattr(b, attr)) is False:
                    out.append(
                        f"{label}: the periods of {a.council} ({_period_words(*getattr(a, attr))}) and "
                        f"{b.council} ({_period_words(*getattr(b, attr))}) do not overlap, so the figures "
                        f"describe {what} at different times."
                    )
    return out


# ------------------------------------------------------------------------------------------ small multiples


@dataclass
class Panel:
    council: str
    caption: str  #: '1 Jan 2024 to 30 Mar 2025 (65 weeks); latest mean 29 days, limits 21 to 37'
    svg: str  #: inline SVG, every text escaped


@dataclass
class Multiples:
    """One measure of one shared service: a capability chart per council on one y axis (and one time axis where
    the councils' periods overlap)."""

    measure_id: str
    name: str
    unit: str
    ymin: float
    ymax: float
    shared_time: bool
    step: float = 1.0  #: between the y axis's ticks
    panels: list[Panel] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  #: councils with no chart of this measure, and why

    @property
    def axis_words(self) -> str:
        time = (
            "one time axis (the councils' periods overlap)"
            if self.shared_time
            else "each council's own time axis: their periods do not overlap"
        )
        low, high = _tick(self.ymin, self.step), _tick(self.ymax, self.step)
        low = _unit(low, self.unit) if self.unit == "%" else low
        return f"one y axis for every council, {low} to {_unit(high, self.unit)}; {time}"


def _unit(text: str, unit: str) -> str:
    """'80%', '12 days', '3' (no unit)."""
    return f"{text}%" if unit == "%" else f"{text} {unit}" if unit else text


def _tick(v: float, step: float) -> str:
    """An axis label with as many decimals as the tick step needs: step 2.5 gives "17.5", step 20 gives "80"."""
    text = f"{step:g}"
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 0
    return f"{v:,.{decimals}f}"


def _nice_axis(lo: float, hi: float, ticks: int = 4) -> tuple[float, float, float]:
    """(low, high, step): the data range widened to round steps, about ``ticks`` of them."""
    if hi <= lo:
        lo, hi = lo - 1, hi + 1
    raw = (hi - lo) / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step, step


def _chart_points(entry_measure: dict) -> list[tuple[pd.Timestamp, float, str]]:
    out = []
    for p in entry_measure.get("points") or []:
        if not isinstance(p, dict) or _num(p.get("value")) is None:
            continue
        try:
            out.append((pd.Timestamp(p["date"]), float(p["value"]), str(p.get("signal") or "")))
        except (KeyError, ValueError, TypeError):
            continue
    return out


def _phases(entry_measure: dict) -> list[dict]:
    out = []
    for ph in entry_measure.get("phases") or []:
        try:
            out.append(
                {
                    "start": pd.Timestamp(ph["start"]),
                    "end": pd.Timestamp(ph["end"]),
                    "mean": _num(ph.get("mean")),
                    "lower": _num(ph.get("lower")),
                    "upper": _num(ph.get("upper")),
                }
            )
        except (KeyError, ValueError, TypeError):
            continue
    return out


_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 320, 170, 42, 10, 8, 22


def _svg(label: str, points, phases, y: tuple[float, float, float], x: tuple[pd.Timestamp, pd.Timestamp]) -> str:
    """One small capability chart: points and line, each phase's mean (solid) and limits (dashed)."""
    from systemic_lib.display.charts.style import (
        PALETTE,
        TEXT_COLOUR,
    )  # the one palette; imported only when there is a chart to draw

    lo, hi, step = y
    x0, x1 = x
    span = max((x1 - x0).total_seconds(), 1.0)
    pw, ph = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def sx(t) -> float:
        return round(_LEFT + pw * (t - x0).total_seconds() / span, 1)

    def sy(v) -> float:
        return round(_TOP + ph * (1 - (v - lo) / (hi - lo)), 1)

    def colour(signal: str) -> str:
        return PALETTE.get(signal, PALETTE["common_cause"])

    parts = [
        f'<svg class="multiple" viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(label)}" '
        f'data-ymin="{lo:g}" data-ymax="{hi:g}" data-xmin="{x0.date().isoformat()}" '
        f'data-xmax="{x1.date().isoformat()}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
        f'<g font-size="10" fill="{TEXT_COLOUR}" font-family="sans-serif">',
    ]
    n_ticks = int(round((hi - lo) / step))
    for i in range(n_ticks + 1):
        v = lo + i * step
        parts.append(
            f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{sy(v)}" y2="{sy(v)}" stroke="{PALETTE["grid"]}"/>'
            f'<text x="{_LEFT - 4}" y="{sy(v) + 3}" text-anchor="end">{escape(_tick(v, step))}</text>'
        )
    base = _H - _BOTTOM
    parts.append(
        f'<text x="{_LEFT}" y="{base + 14}">{escape(words.date(x0, short=True))}</text>'
        f'<text x="{_W - _RIGHT}" y="{base + 14}" text-anchor="end">'
        f"{escape(words.date(x1, short=True))}</text></g>"
    )
    for i, p in enumerate(phases):
        a, b = sx(max(p["start"], x0)), sx(min(p["end"], x1))
        if i:
            parts.append(
                f'<line x1="{a}" x2="{a}" y1="{_TOP}" y2="{base}" stroke="{PALETTE["limit"]}" stroke-width="0.6"/>'
            )
        if p["mean"] is not None:
            parts.append(
                f'<line x1="{a}" x2="{b}" y1="{sy(p["mean"])}" y2="{sy(p["mean"])}" '
                f'stroke="{PALETTE["centre"]}" stroke-width="1.2"/>'
            )
        for limit in (p["lower"], p["upper"]):
            if limit is not None:
                parts.append(
                    f'<line x1="{a}" x2="{b}" y1="{sy(limit)}" y2="{sy(limit)}" '
                    f'stroke="{PALETTE["limit"]}" stroke-dasharray="4 3"/>'
                )
    line = " ".join(f"{sx(t)},{sy(v)}" for t, v, _ in points)
    parts.append(f'<polyline points="{line}" fill="none" stroke="{PALETTE["line"]}" stroke-width="1"/>')
    # every point on the line; a special cause also as a dot in the capability chart's colour for its meaning
    parts += [
        f'<circle cx="{sx(t)}" cy="{sy(v)}" r="2.2" fill="{colour(s)}"/>'
        for t, v, s in points
        if s in ("improvement", "concern", "neutral")
    ]
    parts.append("</svg>")
    return "".join(parts)


def _grain_words(grain) -> tuple[str, str]:
    return ("month", "months") if grain == "month" else ("week", "weeks")


def _multiples(entries: list[Entry], measure_id: str) -> Multiples | None:
    charted: list[tuple[Entry, dict, list, list]] = []  # (entry, measure dict, points, phases)
    missing = []
    for e in entries:
        m = (e.data.get("measure") or {}).get("measures") if isinstance(e.data.get("measure"), dict) else None
        m = m.get(measure_id) if isinstance(m, dict) else None
        points = _chart_points(m) if isinstance(m, dict) else []
        if not isinstance(m, dict) or len(points) < 2:
            missing.append(
                f"{e.council_name}: no capability chart of this measure"
                + (f" ({m['note']})" if isinstance(m, dict) and isinstance(m.get("note"), str) else "")
            )
            continue
        charted.append((e, m, points, _phases(m)))
    if len(charted) < 2:
        return None
    units = {str(m.get("unit") or "") for _, m, _, _ in charted}
    if len(units) > 1:
        return None  # the same id measured in different units is not the same measure
    values = [v for _, _, pts, _ in charted for _, v, _ in pts]
    values += [
        lim for _, _, _, phs in charted for p in phs for lim in (p["lower"], p["upper"], p["mean"]) if lim is not None
    ]
    y = _nice_axis(min(values), max(values))
    spans = [(pts[0][0], pts[-1][0]) for _, _, pts, _ in charted]
    shared = all(_overlap(a, b) for i, a in enumerate(spans) for b in spans[i + 1 :])
    name = str(charted[0][1].get("name") or measure_id)
    out = Multiples(measure_id, name, units.pop(), y[0], y[1], shared, step=y[2], missing=missing)
    whole = (min(s[0] for s in spans), max(s[1] for s in spans))
    for (e, m, pts, phs), span in zip(charted, spans):
        one, many = _grain_words(m.get("grain"))
        caption = f"{words.period(*span, short=True)} ({len(pts)} {one if len(pts) == 1 else many})"
        last = phs[-1] if phs else None
        if last and last["mean"] is not None:
            caption += f"; latest mean {_unit(words.figure(last['mean']), out.unit)}"
            if last["lower"] is not None and last["upper"] is not None:
                low = words.figure(last["lower"])
                caption += (
                    f", limits {_unit(low, out.unit) if out.unit == '%' else low} to "
                    f"{_unit(words.figure(last['upper']), out.unit)}"
                )
        label = f"{e.council_name}, {e.service_name}: {name}, {caption}"
        out.panels.append(Panel(e.council_name, caption, _svg(label, pts, phs, y, whole if shared else span)))
    return out


# ------------------------------------------------------------------------------------------------ matching


@dataclass
class SharedService:
    """A service two or more councils share: each council's figures side by side, warnings, small multiples."""

    name: str
    ids: list[str]
    rows: list[CouncilFigures]
    warnings: list[str] = field(default_factory=list)  #: periods that do not overlap, charts that cannot be drawn
    multiples: list[Multiples] = field(default_factory=list)


@dataclass
class Comparison:
    shared: list[SharedService]
    alone: list[str]  #: councils that share no service with another council
    councils: int = 0

    @property
    def statement(self) -> str:
        return NOT_RANKED


def match_services(entries: list[Entry]) -> list[list[Entry]]:
    """Groups of services of two or more councils that share an id (case and spaces ignored) or a name
    (``normalise_name``); a group holds every service so linked, each group in alphabetical order of council."""
    parent = list(range(len(entries)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[tuple, int] = {}
    for i, e in enumerate(entries):
        for key in (("id", str(e.service_id).strip().lower()), ("name", normalise_name(e.service_name))):
            if not key[1]:
                continue
            if key in first:
                parent[find(i)] = find(first[key])
            else:
                first[key] = i
    groups: dict[int, list[Entry]] = {}
    for i, e in enumerate(entries):
        groups.setdefault(find(i), []).append(e)
    shared = [
        sorted(g, key=lambda e: (normalise_name(e.council_name), e.council_slug, e.service_id))
        for g in groups.values()
        if len({e.council_slug for e in g}) > 1
    ]
    return sorted(shared, key=lambda g: (normalise_name(g[0].service_name), g[0].service_id))


def _measure_ids(group: list[Entry]) -> list[str]:
    """Measure ids charted by two or more councils of the group, in the order the first council lists them."""
    seen: dict[str, int] = {}
    for e in group:
        measures = (e.data.get("measure") or {}).get("measures") if isinstance(e.data.get("measure"), dict) else None
        for mid, m in measures.items() if isinstance(measures, dict) else ():
            if isinstance(m, dict) and len(m.get("points") or []) >= 2:
                seen[mid] = seen.get(mid, 0) + 1
    return [mid for mid, n in seen.items() if n >= 2]


def _without_points(measure) -> bool:
    """A measure.json written before the points were added to it (its charts cannot be drawn here)."""
    measures = measure.get("measures") if isinstance(measure, dict) else None
    return isinstance(measures, dict) and any(
        isinstance(m, dict) and m.get("phases") and "points" not in m for m in measures.values()
    )


def compare_councils(entries: list[Entry]) -> Comparison | None:
    """The comparison across councils of the services they share; None when fewer than two councils have reports."""
    councils = {e.council_slug: e.council_name for e in entries}
    if len(councils) < 2:
        return None
    shared, groups = [], match_services(entries)
    for group in groups:
        names = sorted({e.service_name for e in group}, key=normalise_name)
        rows = [council_figures(e) for e in group]
        service = SharedService(
            " / ".join(names), sorted({e.service_id for e in group}), rows, warnings=_period_warnings(rows)
        )
        for mid in _measure_ids(group):
            multiples = _multiples(group, mid)
            if multiples is not None:
                service.multiples.append(multiples)
        older = [e.council_name for e in group if _without_points(e.data.get("measure"))]
        if older:
            service.warnings.append(
                f"No capability chart of {', '.join(older)}: its measure report was rendered "
                "before measure.json carried the charted points; run systemic report again."
            )
        shared.append(service)
    in_groups = {e.council_slug for g in groups for e in g}
    alone = sorted((name for slug, name in councils.items() if slug not in in_groups), key=normalise_name)
    return Comparison(shared, alone, len(councils))
