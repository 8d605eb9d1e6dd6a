"""Tables inside widgets: escaped, numbers rounded as in the reports, cells spaced so columns can be told apart."""

from __future__ import annotations

import pandas as pd

from systemic_lib import words

__all__ = ["html_table"]

_STYLE = (
    "<style>.systemic-widget-table{border-collapse:collapse;margin:4px 0}"
    ".systemic-widget-table th,.systemic-widget-table td{padding:3px 12px;text-align:left;"
    "border-bottom:1px solid #e0e0e0}.systemic-widget-table th{border-bottom:1px solid #999}</style>"
)


def html_table(frame: pd.DataFrame, *, decimals: int = 1, formats: dict | None = None) -> str:
    """``frame`` as an HTML table string, its cells formatted by ``words.format_frame`` as in the reports, every
    value escaped. ``formats`` maps a column to its own formatter."""
    shown = words.format_frame(frame, decimals=decimals, formats=formats)
    body = shown.to_html(index=False, escape=True, border=0, classes="systemic-widget-table", na_rep=words.MISSING)
    return _STYLE + body
