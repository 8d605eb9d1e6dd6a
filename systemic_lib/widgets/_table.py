"""Tables inside widgets: escaped, numbers rounded as in the reports, cells spaced so columns can be told apart."""

from __future__ import annotations

import pandas as pd

__all__ = ["html_table"]

_STYLE = ("<style>.systemic-widget-table{border-collapse:collapse;margin:4px 0}"
          ".systemic-widget-table th,.systemic-widget-table td{padding:3px 12px;text-align:left;"
          "border-bottom:1px solid #e0e0e0}.systemic-widget-table th{border-bottom:1px solid #999}</style>")


def html_table(frame: pd.DataFrame, *, decimals: int = 1, formats: dict | None = None) -> str:
    """``frame`` as an HTML table string: floats to ``decimals`` places with thousands separators, integers with
    separators, blanks for missing values, every value escaped. ``formats`` maps a column to its own formatter."""
    shown = frame.copy()
    formats = formats or {}
    for col in shown.columns:
        if col in formats:
            shown[col] = shown[col].map(lambda v, f=formats[col]: "" if _missing(v) else f(v))
        elif pd.api.types.is_float_dtype(shown[col]):
            shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else f"{v:,.{decimals}f}")
        elif pd.api.types.is_integer_dtype(shown[col]):
            shown[col] = shown[col].map(lambda v: f"{v:,}")
    body = shown.to_html(index=False, escape=True, border=0, classes="systemic-widget-table", na_rep="")
    return _STYLE + body


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False

