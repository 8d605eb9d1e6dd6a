"""Plain English for reports: dates, periods, days and durations, counts and percentages.

One set of rules for every stage, so a council manager reads the same figure the same way on every page:
- dates in UK style, never zero-padded: "1 July 2024", or "1 Jul 2024" in captions and tables (``short=True``);
- end-to-end days as a number: whole days from 10 up ("29"), one decimal below ("4.5");
- a duration with its unit: days from 1 day up, hours below ("7.2 hours", not "0.3 days");
- a count with its noun in the right number: "1 contact", "12,304 contacts";
- percentages as whole numbers: "41%".
Missing values (None, NaN, NaT, non-numbers) give "" (or the ``missing`` text) and never raise; a table cell with
nothing in it shows ``MISSING`` ("—"), the same in reports and widgets (``format_frame``).
"""

from __future__ import annotations

import math
import numbers

import pandas as pd

__all__ = [
    "MISSING",
    "date",
    "stamp",
    "period",
    "when",
    "number",
    "figure",
    "signed",
    "days",
    "duration",
    "wait",
    "count",
    "plural",
    "percent",
    "share",
    "format_frame",
    "is_missing",
]

MISSING = "\u2014"
"""What a table cell or a figure shows when there is no value: an em dash, on every page and widget."""


def _num(value) -> float | None:
    """A finite number, or None (booleans, strings, NaN and None give None)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _date(value) -> pd.Timestamp | None:
    if value is None:
        return None
    value = pd.Timestamp(value)
    return None if pd.isna(value) else value


# ------------------------------------------------------------------------------------------------ dates
def date(value, *, short: bool = False) -> str:
    """ "1 July 2024" ("1 Jul 2024" with ``short``); "" when missing."""
    d = _date(value)
    if d is None:
        return ""
    return f"{d.day} {d:%b %Y}" if short else f"{d.day} {d:%B %Y}"


def stamp(value) -> str:
    """When something was made: "1 July 2024 at 14:05"."""
    d = _date(value)
    return "" if d is None else f"{date(d)} at {d:%H:%M}"


def period(start, end, *, short: bool = False, missing: str = "no dated data") -> str:
    """ "1 January 2024 to 31 December 2024" ("1 Jan 2024 to 31 Dec 2024" with ``short``); "from 1 January 2024" or
    "up to 31 December 2024" when one end is open; ``missing`` when neither is known. A same-day period keeps both
    ends ("1 May 2024 to 1 May 2024")."""
    first, last = _date(start), _date(end)
    if first is None and last is None:
        return missing
    if last is None:
        return f"from {date(first, short=short)}"
    if first is None:
        return f"up to {date(last, short=short)}"
    return f"{date(first, short=short)} to {date(last, short=short)}"


def when(start, end, *, capital: bool = True) -> str:
    """A period to open a sentence: "In 2024" when the data run from January to December of one year, else "From 1
    January 2024 to 31 March 2024"; "Undated" without dates. ``capital=False`` for mid-sentence."""
    first, last = _date(start), _date(end)
    if first is None or last is None:
        text = "undated"
    elif first.year == last.year and first.month == 1 and last.month == 12:
        text = f"in {first.year}"
    else:
        text = f"from {period(first, last)}"
    return text[0].upper() + text[1:] if capital else text


# ------------------------------------------------------------------------------------------------ numbers
def number(value, *, one: str | None = None) -> str:
    """A whole number with thousands separators ("12,304"); ``one`` instead of 1 if given ("the one contact");
    "" when missing."""
    v = _num(value)
    if v is None:
        return ""
    if one is not None and v == 1:
        return one
    return f"{v:,.0f}"


def figure(value, *, decimals: int = 1, missing: str = MISSING) -> str:
    """A measured figure in a comparison: whole from 10 up ("41", "1,204"), else ``decimals`` places without a
    trailing zero ("12.5", "0.9", "3")."""
    v = _num(value)
    if v is None:
        return missing
    text = f"{v:,.0f}" if abs(v) >= 10 else f"{v:,.{decimals}f}"
    return text[:-2] if text.endswith(".0") else text


def signed(value, *, missing: str = MISSING) -> str:
    """A change as a whole number with its sign: "+14", "-64"; "0" for no change."""
    v = _num(value)
    if v is None:
        return missing
    r = round(v)
    return "0" if r == 0 else f"{r:+d}"


def days(value, *, missing: str = "") -> str:
    """End-to-end days as a number: whole days from 10 up ("29", "1,234"), one decimal below ("9.9", "0.0")."""
    v = _num(value)
    if v is None:
        return missing
    return f"{v:,.0f}" if round(v, 1) >= 10 else f"{v:.1f}"


def duration(value, *, missing: str = "") -> str:
    """A time in days with its unit: "29 days", "4.5 days" (the ``days`` rule) from 1 day up; hours below a day
    ("7.2 hours", "0.0 hours"), never "0.3 days"."""
    v = _num(value)
    if v is None:
        return missing
    if v >= 1:
        return f"{days(v)} days"
    return f"{v * 24:,.1f} hours"


def wait(value) -> str:
    """A wait between two steps: like ``duration`` from an hour up, minutes below ("14 min", "under 1 min"), and
    "same time" for none (not "0 min", a precision date-only logs do not have)."""
    v = _num(value)
    if v is None:
        return ""
    if v * 24 >= 1:
        return duration(v)
    if v <= 0:
        return "same time"
    minutes = v * 24 * 60
    return f"{minutes:.0f} min" if minutes >= 1 else "under 1 min"


def plural(n, noun: str, plural_form: str | None = None) -> str:
    """``noun`` for exactly 1, else its plural (``plural_form`` or noun + "s")."""
    return noun if n == 1 else plural_form or noun + "s"


def count(n, noun: str, plural_form: str | None = None) -> str:
    """ "1 contact", "0 contacts", "12,304 contacts"; give ``plural_form`` for irregular nouns ("entries")."""
    return f"{number(n)} {plural(n, noun, plural_form)}"


def percent(value, *, decimals: int = 0) -> str:
    """A value already in percent: 41.2 -> "41%"; "" when missing."""
    v = _num(value)
    return "" if v is None else f"{v:.{decimals}f}%"


def share(value, *, decimals: int = 0) -> str:
    """A fraction as a percentage: 0.412 -> "41%"; "" when missing."""
    v = _num(value)
    return "" if v is None else f"{v:.{decimals}%}"


# ------------------------------------------------------------------------------------------------ tables
def is_missing(value) -> bool:
    """None, NaN, NaT or pd.NA: a value a page shows as ``MISSING`` (anything pandas cannot judge is not missing)."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_frame(frame: pd.DataFrame, *, percent=(), decimals: int = 1, formats: dict | None = None) -> pd.DataFrame:
    """A table's cells as the text people read, for report and widget tables alike: ``percent`` columns "41.0%",
    floats to ``decimals`` places and integers with thousands separators, ``formats`` a column's own formatter,
    and ``MISSING`` in every empty cell. Text is cut at ``LONGEST_TEXT`` characters with "…", otherwise left as it is
    (escaping is the page's job)."""
    shown = frame.copy()
    formats = formats or {}
    for col in shown.columns:
        values = shown[col]
        if col in formats:
            fmt = formats[col]
        elif col in percent:
            fmt = lambda v: f"{v:.{decimals}f}%"
        elif pd.api.types.is_bool_dtype(values):
            fmt = str
        elif pd.api.types.is_float_dtype(values):
            fmt = lambda v: f"{v:,.{decimals}f}"
        elif pd.api.types.is_integer_dtype(values):
            fmt = lambda v: f"{v:,}"
        else:
            fmt = _clip
        shown[col] = values.map(lambda v, f=fmt: MISSING if is_missing(v) else (f(v) if f else v)).astype(object)
    return shown


#: The longest text a table cell shows: a 12 MB verbatim must not make a 12 MB report.
LONGEST_TEXT = 500


def _clip(value):
    """Text longer than ``LONGEST_TEXT`` characters cut there with "…"; anything else as it is."""
    if isinstance(value, str) and len(value) > LONGEST_TEXT:
        return value[:LONGEST_TEXT] + "…"
    return value
