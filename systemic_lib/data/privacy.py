"""What is private in a council's tables: the free text that is redacted before a report shows it or the table cache
keeps it.

Every free-text column (a contract column of kind text: verbatim, what matters, demand type, channel; the learning
log's and system conditions' text; activity, worker and team names) and any column a council adds of its own is
redacted (``redact.redact_series``). Rules are not: their patterns are the council's, not a citizen's words. The
stages read every table through ``redacted`` (``stages.Stage``) and the table cache stores only ``redacted`` copies
(``cache.py``), so a citizen's phone number never leaves the council's folder.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from systemic_lib.data.contract import TABLES, Problem
from systemic_lib.data.redact import redact, redact_series

__all__ = ["REDACTED", "redacted", "redact_columns", "redacted_columns", "redacted_problems"]

#: The free-text columns redacted, by table (and any column a council adds of its own).
REDACTED = {name: tuple(c.name for c in t.columns if c.kind == "text") for name, t in TABLES.items() if name != "rules"}


def redacted(name: str, frame: pd.DataFrame | None, *, raw: bool = False) -> pd.DataFrame | None:
    """``frame`` (a table ``name``) with personal identifiers taken out of its free-text columns; ``raw`` (the
    table's cells as written, to quote a problem's source): out of every column but its ids, as a phone number typed
    into a date column is quoted when the date cannot be read."""
    if frame is None or frame.empty:
        return frame
    return redact_columns(name, frame, raw=raw)


def redact_columns(name: str, frame: pd.DataFrame, *, raw: bool = False) -> pd.DataFrame:
    """``redacted`` for any frame, empty or not: a slice of a table is given the same dtypes as the whole table
    redacted and then sliced (redaction works value by value, so the values are the same too)."""
    columns = redacted_columns(name, frame, raw=raw)
    if not columns:
        return frame
    out = frame.copy()
    for col in columns:
        out[col] = redact_series(out[col])
    return out


def redacted_columns(name: str, frame: pd.DataFrame, *, raw: bool = False) -> list[str]:
    """The columns of ``frame`` (a table ``name``) that are redacted: its text columns and any the council added
    (``raw``: every column but the ids)."""
    if name not in REDACTED:
        return []
    if raw:
        ids = {c.name for c in TABLES[name].columns if c.kind == "id"} | {"_row"}
        return [c for c in frame.columns if c not in ids]
    known = set(TABLES[name].column_names) | {"_row"}
    return [
        c
        for c in frame.columns
        if c in REDACTED[name]
        or (c not in known and (frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])))
    ]


def redacted_problems(problems: list[Problem]) -> list[Problem]:
    """Problems whose words may quote a cell ("cannot read '07700 900123' as a date"), redacted."""
    return [replace(p, message=redact(p.message), fix=redact(p.fix)) for p in problems]
