"""A council's measures on one page: ``reports/<council>/measures.html``, services down and measures across.

Each cell is one measure of one service as its ``measure.json`` holds it (nothing is computed here): the latest point
with its date, the variation icon the capability chart draws for it (and the assurance icon only where the team set
a target), the current limits (the latest phase's), the last three points as a small inline SVG with a text
alternative, and one plain sentence (the measure's reading where ``measure.json`` holds one, else the first sentence
of its narration). End-to-end time per case (``end_to_end_per_case``) sits beside the weekly end-to-end time.

Services are listed as on the council's index (council.yaml's order, from the organisation scan). The page never
ranks services: a small script sorts them by name or groups them by what one measure's latest point shows (never by
a figure) and filters them; without it the table reads the same, in the index's order. Every text is escaped by the
template and redacted again here (``redact``), like every page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape
from urllib.parse import quote

from systemic_lib import words
from systemic_lib.analysis.narrate import ASSURANCE_WORDS
from systemic_lib.analysis.reading import LATEST_WORDS
from systemic_lib.data.redact import redact

__all__ = ["Icon", "MeasureCell", "MeasureColumn", "MeasureRow", "MeasuresPage", "measures_page", "icon_of", "PER_CASE"]

PER_CASE = "end_to_end_per_case"  #: the column of end-to-end time per case, beside the weekly end-to-end time
_E2E = "end_to_end_days"
#: The order a service's rows are grouped in by what one measure's latest point shows (a grouping, not a ranking).
GROUPS = ("concern", "neutral", "improvement", "seasonal", "common_cause", "no chart", "not measured")


def _num(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _text(value) -> str:
    """A text from measure.json for the page: redacted (escaped later by the template)."""
    return redact(str(value)) if value is not None and value != "" else ""


@dataclass
class Icon:
    """An icon as the capability chart draws it: its key (``spc`` variation or assurance), its words and the
    meaning its colour stands for (improvement, concern, neutral, common_cause)."""

    key: str
    words: str
    meaning: str


def _dict_at(block: dict, key: str) -> dict:
    """``block[key]`` where it is a dict (a JSON object), else an empty one."""
    value = block.get(key)
    return value if isinstance(value, dict) else {}


def icon_of(measure: dict) -> Icon | None:
    """The variation icon of one measure of ``measure.json`` (or its ``end_to_end_per_case`` block), as its chart's
    badge shows it: what the latest point is (the reading's ``latest_point`` where there is one, else
    ``variation``). None without a chart."""
    reading = _dict_at(measure, "reading")
    key = reading.get("latest_point") or measure.get("variation")
    if not isinstance(key, str) or not key:
        return None
    meaning = next((m for m in ("improvement", "concern", "neutral") if f"_{m}_" in key), "common_cause")
    if key.startswith("seasonal"):
        meaning = "seasonal"
    return Icon(key, f"Latest point: {LATEST_WORDS.get(key, key.replace('_', ' '))}", meaning)


def _assurance(measure: dict, target) -> Icon | None:
    key = measure.get("assurance")
    if target is None or not isinstance(key, str) or key not in ASSURANCE_WORDS:
        return None  # the assurance icon only where the team set a target
    meaning = {"pass": "improvement", "fail": "concern"}.get(key, "common_cause")
    return Icon(key, ASSURANCE_WORDS[key], meaning)


@dataclass
class MeasureColumn:
    id: str
    name: str
    unit: str = ""


@dataclass
class MeasureCell:
    """One measure of one service; ``status`` "charted", "no chart" (with ``sentence`` saying why) or "not
    measured" (the service does not name this measure)."""

    column: str
    status: str = "not measured"
    name: str = ""  #: the measure's own name where it differs from its column's
    latest: str = ""  #: "29 days"
    latest_when: str = ""  #: "week of 17 Feb 2025", "case 1,390, finished 28 Mar 2025"
    icon: Icon | None = None
    assurance: Icon | None = None
    limits: str = ""  #: "21 to 37 days"
    limits_since: str = ""  #: "since 2 Sep 2024, 25 weeks" (and "trial limits")
    sparkline: str = ""  #: inline SVG, every text escaped
    sparkline_words: str = ""  #: the sparkline's text alternative
    sentence: str = ""
    #: rebase suggestions from measure.json (``phase_suggestions``): (status, sentence), status "suggested" (a new
    #: phase a person may accept) or "find out" (no recorded change near the signal)
    suggestions: list[tuple[str, str]] = field(default_factory=list)

    @property
    def group(self) -> str:
        if self.status != "charted":
            return self.status
        return self.icon.meaning if self.icon else "no chart"


@dataclass
class MeasureRow:
    id: str
    name: str
    href: str | None  #: the service's measure report, relative to the page
    period: str = ""
    cells: list[MeasureCell] = field(default_factory=list)
    note: str = ""  #: why a service has no measures on the page (its measure report failed or is missing)


@dataclass
class MeasuresPage:
    slug: str
    name: str
    columns: list[MeasureColumn]
    rows: list[MeasureRow]


# ------------------------------------------------------------------------------------------------------ words
def _value(value, unit: str) -> str:
    v = _num(value)
    if v is None:
        return ""
    if unit == "days":
        return words.duration(v)
    if unit == "%":
        return f"{words.figure(v)}%"
    return f"{words.figure(v)} {unit}".strip()


def _day(value) -> str:
    """'24 Feb 2025'; '' for a value that is not a date."""
    try:
        return words.date(value, short=True)
    except (ValueError, TypeError):
        return ""


def _first_sentence(text) -> str:
    """The first sentence of a narration that says what the measure does (not what one point is)."""
    if not isinstance(text, str):
        return ""
    parts = [p.strip() for p in text.replace("\n", " ").split(". ") if p.strip()]
    parts = [p for p in parts if not p.startswith("Each point is")] or parts
    if not parts:
        return ""
    first = parts[0]
    return first if first.endswith((".", "!", "?")) else first + "."


def _sentence(measure: dict) -> str:
    reading = measure.get("reading")
    if isinstance(reading, dict) and isinstance(reading.get("sentence"), str) and reading["sentence"]:
        return reading["sentence"]
    return _first_sentence(measure.get("narration")) or _first_sentence(measure.get("note"))


def _suggestions(measure: dict) -> list[tuple[str, str]]:
    """The measure's rebase suggestions as measure.json holds them: (status, sentence) each."""
    out = []
    for s in measure.get("phase_suggestions") or []:
        if isinstance(s, dict) and s.get("status") in ("suggested", "find out") and isinstance(s.get("sentence"), str):
            out.append((str(s["status"]), _text(s["sentence"])))
    return out


def _limits(phase: dict, unit: str) -> str:
    """'21 to 37 days', '44 to 71%': the unit once, at the end."""
    lower, upper = _num(phase.get("lower")), _num(phase.get("upper"))
    if lower is None or upper is None:
        return ""
    if unit == "days":
        return f"{words.days(lower)} to {words.days(upper)} days"
    return f"{words.figure(lower)} to {words.figure(upper)}" + ("%" if unit == "%" else f" {unit}".rstrip())


# ------------------------------------------------------------------------------------------------- sparkline
_SW, _SH, _PAD = 84, 26, 3
_COLOURS: dict[str, str] | None = None


def _colour(key: str) -> str:
    global _COLOURS
    if _COLOURS is None:
        from systemic_lib.display.charts.style import PALETTE  # the one palette, read only when a line is drawn

        _COLOURS = dict(PALETTE)
    return _COLOURS.get(key, _COLOURS["common_cause"])


def sparkline(values: list[float], signals: list[str | None], phase: dict, words_: str) -> str:
    """The last points as a small line with the current mean (solid) and limits (dashed), each point coloured as the
    capability chart colours it; ``words_`` is its text alternative."""
    lower, upper, mean = (_num(phase.get(k)) for k in ("lower", "upper", "mean"))
    span = [v for v in (*values, lower, upper, mean) if v is not None]
    lo, hi = min(span), max(span)
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    step = (_SW - 2 * _PAD) / max(len(values) - 1, 1)

    def y(v: float) -> float:
        return round(_PAD + (_SH - 2 * _PAD) * (1 - (v - lo) / (hi - lo)), 1)

    label = escape(words_)
    out = [
        f'<svg class="spark" viewBox="0 0 {_SW} {_SH}" width="{_SW}" height="{_SH}" role="img" '
        f'aria-label="{label}" xmlns="http://www.w3.org/2000/svg"><title>{label}</title>'
    ]
    for v, dash in ((lower, ' stroke-dasharray="3 2"'), (upper, ' stroke-dasharray="3 2"'), (mean, "")):
        if v is not None:
            out.append(f'<line x1="0" x2="{_SW}" y1="{y(v)}" y2="{y(v)}" stroke="{_colour("limit")}"{dash}/>')
    xs = [round(_PAD + i * step, 1) for i in range(len(values))]
    if len(values) > 1:
        line = " ".join(f"{x},{y(v)}" for x, v in zip(xs, values))
        out.append(f'<polyline points="{line}" fill="none" stroke="{_colour("line")}"/>')
    for x, v, s in zip(xs, values, signals):
        out.append(f'<circle cx="{x}" cy="{y(v)}" r="2.4" fill="{_colour(s or "common_cause")}"/>')
    out.append("</svg>")
    return "".join(out)


# ------------------------------------------------------------------------------------------------------ cells
def _weekly_cell(column: MeasureColumn, m: dict) -> MeasureCell:
    cell = MeasureCell(column.id, name="" if m.get("name") == column.name else _text(m.get("name")))
    points = [p for p in m.get("points") or [] if isinstance(p, dict) and _num(p.get("value")) is not None]
    phases = [p for p in m.get("phases") or [] if isinstance(p, dict)]
    cell.sentence = _text(_sentence(m))
    if not points or not phases:
        cell.status = "no chart"
        return cell
    unit, grain = str(m.get("unit") or ""), str(m.get("grain") or "week")
    cell.status = "charted"
    cell.suggestions = _suggestions(m)
    last = points[-1]
    cell.latest = _value(last["value"], unit)
    cell.latest_when = f"{grain} of {_day(last.get('date'))}"
    cell.icon = icon_of(m)
    cell.assurance = _assurance(m, m.get("target"))
    phase = phases[-1]
    cell.limits = _limits(phase, unit)
    n = phase.get("n")
    cell.limits_since = (
        f"since {_day(phase.get('start'))}"
        + (f", {words.count(n, grain)}" if isinstance(n, int) else "")
        + ("; trial limits" if phase.get("trial") else "")
    )
    tail = points[-3:]
    said = ", ".join(f"{_value(p['value'], unit)} ({_day(p.get('date'))})" for p in tail)
    cell.sparkline_words = f"Last {words.count(len(tail), grain)}: {said}"
    cell.sparkline = sparkline([p["value"] for p in tail], [p.get("signal") for p in tail], phase, cell.sparkline_words)
    return cell


def _per_case_cell(block: dict, weekly: dict | None) -> MeasureCell:
    """End-to-end time per case: the last cases charted (``last_points``), the per-case limits and icon."""
    cell = MeasureCell(PER_CASE)
    weekly = weekly or {}
    reading = _dict_at(weekly, "reading")
    views = [v for v in reading.get("views") or [] if isinstance(v, dict) and v.get("view") == "per case"]
    cell.sentence = _text(views[0].get("sentence") if views else _first_sentence(block.get("narration")))
    cell.sentence = cell.sentence or _text(_first_sentence(block.get("note")))
    points = [p for p in block.get("last_points") or [] if isinstance(p, dict) and _num(p.get("value")) is not None]
    phases = [p for p in block.get("phases") or [] if isinstance(p, dict)]
    if not points or not phases:
        cell.status = "no chart"
        return cell
    cell.status = "charted"
    last = points[-1]
    cell.latest = _value(last["value"], "days")
    cell.latest_when = f"case {words.number(last.get('case'))}, finished {_day(last.get('finished'))}"
    cell.icon = icon_of({"variation": block.get("variation")})
    cell.assurance = _assurance(block, weekly.get("target"))
    phase = phases[-1]
    cell.limits = _limits(phase, "days")
    first = phase.get("first_case")
    cell.limits_since = (
        (f"since case {words.number(first)}" if first is not None else "")
        + (f", {words.count(phase.get('n'), 'case')}" if isinstance(phase.get("n"), int) else "")
        + ("; trial limits" if phase.get("trial") else "")
    ).lstrip(", ")
    said = ", ".join(f"{_value(p['value'], 'days')} (case {words.number(p.get('case'))})" for p in points)
    cell.sparkline_words = f"Last {words.count(len(points), 'case')} finished: {said}"
    cell.sparkline = sparkline(
        [p["value"] for p in points], [p.get("signal") for p in points], phase, cell.sparkline_words
    )
    return cell


# ------------------------------------------------------------------------------------------------------- page
def _columns(measures: list[dict]) -> list[MeasureColumn]:
    """Every measure any service names, in the order the services name them; per case right after end-to-end."""
    out: dict[str, MeasureColumn] = {}
    for data in measures:
        items = _dict_at(data, "measures")
        for mid, m in items.items():
            if isinstance(m, dict) and mid not in out:
                out[mid] = MeasureColumn(mid, _text(m.get("name") or mid), str(m.get("unit") or ""))
            if mid == _E2E and isinstance(data.get(PER_CASE), dict) and PER_CASE not in out:
                out[PER_CASE] = MeasureColumn(PER_CASE, "End-to-end time per case", "days")
    return list(out.values())


def _row(service_id: str, name: str, data: dict | None, columns: list[MeasureColumn], status: str) -> MeasureRow:
    row = MeasureRow(service_id, _text(name), None)
    if not isinstance(data, dict):
        row.note = {
            "failed": "The measure report failed: see the council's index.",
            "skipped": "The measure report was skipped: see the council's index.",
        }.get(status, "No measure report yet.")
        row.cells = [MeasureCell(c.id) for c in columns]
        return row
    row.href = f"{quote(service_id)}/measure.html"
    period = _dict_at(data, "period")
    row.period = words.period(period.get("start"), period.get("end"), short=True) if period else ""
    items = _dict_at(data, "measures")
    for c in columns:
        if c.id == PER_CASE and isinstance(data.get(PER_CASE), dict):
            row.cells.append(_per_case_cell(data[PER_CASE], items.get(_E2E)))
        elif isinstance(items.get(c.id), dict):
            row.cells.append(_weekly_cell(c, items[c.id]))
        else:
            row.cells.append(MeasureCell(c.id))
    return row


def measures_page(slug: str, name: str, services: list[tuple[str, str, dict | None, str]]) -> MeasuresPage:
    """The page of one council from its services in the council's order: (id, name, measure.json or None, status
    of the measure report: ok, failed, skipped or missing)."""
    columns = _columns([data for _, _, data, _ in services if isinstance(data, dict)])
    rows = [_row(sid, sname, data, columns, status) for sid, sname, data, status in services]
    return MeasuresPage(slug, _text(name), columns, rows)
