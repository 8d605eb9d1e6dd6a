"""The experiment team's learning log: what we tried, what we learned, and the system conditions behind the waste.

``by_system_condition`` groups the log for the report (one row per system condition, open ones first);
``conditions_to_act_on`` is what senior managers must change; ``add_entry`` validates a new entry against the data
contract and appends it to the council's ``learning_log`` file atomically, keeping the previous version.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import replace
from pathlib import Path

import pandas as pd

from systemic_lib.data.contract import (
    ERROR,
    LEARNING_STATUS,
    TABLES,
    Problem,
    find_table_file,
    parse_table,
    read_for_update,
)
from systemic_lib.data.council import load_council
from systemic_lib.data.files import atomic_write_bytes, locked, write_table_atomic
from systemic_lib.errors import ContractError, SystemicError

__all__ = [
    "NO_CONDITION",
    "with_condition_text",
    "by_system_condition",
    "conditions_to_act_on",
    "entries_table",
    "add_entry",
    "validate_entry",
    "FIELDS",
]

NO_CONDITION = "(no system condition recorded)"
NOT_SET = "not set"
#: Statuses that still need a manager to act, in the order the report lists them.
TO_ACT_ON = ("open", "in hand", NOT_SET)
_STATUS_ORDER = {s: i for i, s in enumerate(("open", "in hand", NOT_SET, "changed", "designed out", "parked"))}
FIELDS = TABLES["learning_log"].column_names
_ENTRY_FILE = "new learning log entry"


def _joined(values: pd.Series) -> str:
    seen = dict.fromkeys(v.strip() for v in values.dropna().astype(str) if v.strip())
    return "; ".join(seen)


def with_condition_text(log: pd.DataFrame, conditions: pd.DataFrame | None) -> pd.DataFrame:
    """The log with each entry's ``system_condition`` read from the system condition it links to (``condition_id``,
    an id in ``system_conditions``): the condition is kept once, there. An entry with no link, or a link to an id the
    table does not have, keeps the words it wrote itself (an older log), so a council that has only a learning log
    reads as it always did."""
    if (
        log.empty
        or "condition_id" not in log
        or conditions is None
        or conditions.empty
        or log["condition_id"].isna().all()
    ):
        return log
    from systemic_lib.data.conditions import words_of

    text = pd.Series(words_of(conditions).to_numpy(), index=conditions["id"].astype(str)).replace("", pd.NA)
    text = text[~text.index.duplicated()]
    linked = log["condition_id"].astype("str").str.strip().map(text)
    out = log.copy()
    own = log["system_condition"]
    out["system_condition"] = linked.where(linked.notna(), own).astype(own.dtype)
    return out


def by_system_condition(data: pd.DataFrame) -> pd.DataFrame:
    """One row per system condition: entries, dates, waste, who can change it, latest status, what was learned.

    Entries with no system condition are grouped under ``NO_CONDITION`` (kept, never dropped). The status is that of
    the most recent entry with a status. Conditions still to act on come first, then the most often found.
    """
    cols = [
        "system_condition",
        "entries",
        "first_noted",
        "last_noted",
        "status",
        "waste_caused",
        "who_can_change",
        "what_we_learned",
    ]
    if data.empty:
        return pd.DataFrame(columns=cols)
    log = data.copy()
    cond = log["system_condition"].astype("str").fillna("").str.strip()
    log["_key"] = cond.str.lower().str.replace(r"\s+", " ", regex=True)
    log["_shown"] = cond
    blank = log["_key"].eq("")
    log.loc[blank, ["_key", "_shown"]] = NO_CONDITION
    log = log.sort_values("date", kind="stable")
    g = log.groupby("_key", sort=False)
    latest_status = log.dropna(subset=["status"]).groupby("_key")["status"].last()
    out = pd.DataFrame(
        {
            "system_condition": g["_shown"].first(),
            "entries": g.size(),
            "first_noted": g["date"].min().dt.date,
            "last_noted": g["date"].max().dt.date,
            "status": latest_status.reindex(g.size().index).fillna(NOT_SET),
            "waste_caused": g["waste_caused"].agg(_joined),
            "who_can_change": g["who_can_change"].agg(_joined),
            "what_we_learned": g["what_we_learned"].agg(_joined),
        }
    )
    out["_order"] = out["status"].map(_STATUS_ORDER).fillna(len(_STATUS_ORDER))
    out["_none"] = out["system_condition"].eq(NO_CONDITION)
    out = out.sort_values(["_none", "_order", "entries", "first_noted"], ascending=[True, True, False, True])
    return out[cols].reset_index(drop=True)


def conditions_to_act_on(data: pd.DataFrame) -> pd.DataFrame:
    """The named system conditions whose latest status is open, in hand or not set: what managers must change."""
    grouped = by_system_condition(data)
    keep = grouped["status"].isin(TO_ACT_ON) & grouped["system_condition"].ne(NO_CONDITION)
    return grouped[keep].reset_index(drop=True)


def entries_table(data: pd.DataFrame) -> pd.DataFrame:
    """Every entry for the report, grouped by system condition (then by date), with plain column names."""
    if data.empty:
        return pd.DataFrame(
            columns=[
                "System condition",
                "Date",
                "What we tried",
                "What we learned",
                "Waste caused",
                "Who can change it",
                "Status",
            ]
        )
    log = data.copy()
    log["system_condition"] = log["system_condition"].fillna(NO_CONDITION).replace("", NO_CONDITION)
    log["_none"] = log["system_condition"].eq(NO_CONDITION)
    log = log.sort_values(["_none", "system_condition", "date"], kind="stable")
    return (
        pd.DataFrame(
            {
                "System condition": log["system_condition"],
                "Date": log["date"].dt.date,
                "What we tried": log["what_we_tried"],
                "What we learned": log["what_we_learned"],
                "Waste caused": log["waste_caused"],
                "Who can change it": log["who_can_change"],
                "Status": log["status"].fillna(NOT_SET),
            }
        )
        .fillna("")
        .reset_index(drop=True)
    )


# ------------------------------------------------------------------------------------------------ adding an entry
def _as_text(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def validate_entry(council_dir, entry: dict) -> dict:
    """The entry as it would be written, or ContractError naming each field to fix; nothing is written."""
    return _validate(entry, set(load_council(council_dir).services))[0]


def _validate(entry: dict, services: set[str]) -> tuple[dict, pd.Series]:
    """The entry as the text to write and as parsed values; every problem raises ContractError (naming the field)."""
    if not isinstance(entry, dict):
        raise SystemicError("a learning log entry is a dict of field: value")
    unknown = sorted(set(entry) - set(FIELDS))
    problems: list[Problem] = [
        Problem(
            _ENTRY_FILE,
            f"has a field '{k}' that the learning log does not have",
            f"use only: {', '.join(FIELDS)}",
            column=k,
        )
        for k in unknown
    ]
    text = {k: _as_text(entry.get(k)) for k in FIELDS}
    result = parse_table(pd.DataFrame([text], dtype=str), "learning_log", file=_ENTRY_FILE, services=services)
    # For a single new entry every problem is an error: a blank required field, an unknown service or status.
    problems += [
        replace(p, row=None, count=1, severity=ERROR)
        for p in result.problems
        if "has a header but no rows" not in p.message
    ]
    for col in ("service", "what_we_tried"):
        if not text[col] and not any(p.column == col for p in problems):
            problems.append(Problem(_ENTRY_FILE, "is blank", f"fill in '{col}'", column=col))
    if problems:
        raise ContractError(problems)
    parsed = result.frame.iloc[0]
    text["date"] = parsed["date"].strftime("%Y-%m-%d")
    if text["status"]:
        text["status"] = parsed["status"]  # the normalised spelling (e.g. "In hand" -> "in hand")
    if text["changed_at"]:
        text["changed_at"] = parsed["changed_at"].strftime("%Y-%m-%d")
    return text, parsed


def add_entry(council_dir, entry: dict) -> Path:
    """Validate ``entry`` against the data contract and append it to the council's learning log; return the file.

    ``entry`` maps learning-log fields (date, service, what_we_tried, what_we_learned, system_condition, waste_caused,
    who_can_change, status) to values; dates may be ``datetime.date`` or "YYYY-MM-DD". Any problem (a blank date,
    service or what we tried, a service not in council.yaml, an unknown status or field) raises ContractError naming
    the field and the fix, and nothing is written. The file (``learning_log.csv``, or ``.xlsx`` if that is what the
    council keeps) is replaced atomically; the previous version is kept as ``<name>.prev``.
    """
    council = load_council(council_dir)
    text, _ = _validate(entry, set(council.services))
    with locked(council.path / "learning_log"):  # the same lock for .csv and .xlsx
        path = find_table_file(council.path, "learning_log") or council.path / "learning_log.csv"
        if path.suffix.lower() == ".xlsx" and path.exists():
            _append_xlsx(path, text)
            return path
        existing = read_for_update(path, "learning_log", "add to")
        # a column the file lacks is added only when the entry fills it: an older log stays as it was written
        columns = dict.fromkeys([*existing.columns, *(c for c in FIELDS if text.get(c) or not len(existing))])
        row = pd.DataFrame([{c: text.get(c, "") for c in columns}], dtype=str)
        frame = pd.concat([existing.astype(str), row], ignore_index=True).fillna("")
        return write_table_atomic(frame, path, keep_previous=True)


def _append_xlsx(path: Path, text: dict) -> None:
    """Append one row to the ``learning_log`` sheet, keeping other sheets and formatting; atomic, previous kept."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise SystemicError(
            f"{path.name}: cannot be opened as an Excel workbook ({exc}); save it again from Excel as .xlsx"
        ) from None
    if "learning_log" not in book.sheetnames:
        raise SystemicError(f"{path.name}: has no sheet named 'learning_log'; rename the sheet that holds the log")
    sheet = book["learning_log"]
    header = [str(c.value).strip() if c.value is not None else "" for c in sheet[1]]
    missing = [c for c in FIELDS if c not in header]
    for name in missing:  # a column the sheet lacks is added at the end
        header.append(name)
        sheet.cell(row=1, column=len(header), value=name)
    sheet.append([text.get(h, "") or None for h in header])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"  # text, never a formula, whatever it starts with
    buf = io.BytesIO()
    book.save(buf)
    atomic_write_bytes(path, buf.getvalue(), keep_previous=True)


STATUSES = LEARNING_STATUS
