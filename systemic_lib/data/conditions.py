"""System conditions and management thinking (Check steps 5 and 6): the council's ``system_conditions`` table.

A team raises a system condition at any step of Check ("why does this happen?"): the waste it saw, the rule, target,
IT system, procedure or structure behind it, the management thinking behind that, who can change it, and where the
change stands. ``add_condition`` appends one row (validated against the data contract; atomic, under the table's
lock, previous version kept, text a spreadsheet would run as a formula defused). ``conditions`` reads the table for
a service. The experiment's learning log used to keep the system conditions itself: ``migrate_learning_log`` copies
them into ``system_conditions`` once (idempotent), and until a council has migrated ``conditions`` also lists the
learning log's, so a council that only has a learning log keeps working. A learning-log entry now links to its
condition by ``condition_id``; the condition's words are kept here, once.

A condition marked ``changed`` with a ``changed_at`` date is a known change to the service's system: ``phases``
turns those (unless the team set ``phase`` to no) and council.yaml's ``system_changes`` into the phases every
capability chart of the service starts (``Stage.phases``). ``set_condition`` changes a condition's status, change
date or phase (atomic, under the lock).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from systemic_lib.data.contract import (
    CHANGED_STATUS,
    CONDITION_STATUS,
    ERROR,
    RAISED_IN,
    TABLES,
    WARNING,
    Problem,
    empty_frame,
    find_table_file,
    parse_table,
    read_raw,
    read_table,
)
from systemic_lib.data.council import load_council
from systemic_lib.data.files import locked, spreadsheet_safe, write_table_atomic
from systemic_lib.errors import ContractError, SystemicError

__all__ = [
    "EDITABLE",
    "FIELDS",
    "RAISED_IN",
    "STATUSES",
    "Phase",
    "add_condition",
    "conditions",
    "migrate_learning_log",
    "open_conditions",
    "from_learning_log",
    "phase_label",
    "phases",
    "remove_condition",
    "resolved_id",
    "set_condition",
    "words_of",
]

FIELDS = TABLES["system_conditions"].column_names
STATUSES = CONDITION_STATUS
TABLE = "system_conditions"
_NEW = "new system condition"
_OPEN = ("open", "in hand")


def add_condition(
    council_dir,
    *,
    service,
    raised_in,
    waste_seen,
    system_condition="",
    thinking="",
    who_can_change="",
    status="open",
    raised_at=None,
    changed_at=None,
    what_changed="",
) -> str:
    """Add a system condition raised at a step of Check; return its new id (``SC-001``, ``SC-002``, ...).

    Any problem (a service not in council.yaml, a step or status not in the contract, no waste seen) raises
    ContractError naming the field and the fix, and nothing is written. ``raised_at`` defaults to today.
    """
    council = load_council(council_dir)
    when = raised_at if isinstance(raised_at, str) else _date_text(raised_at or dt.date.today())  # text: checked below
    text = {
        "service": service,
        "raised_at": when,
        "raised_in": raised_in,
        "waste_seen": waste_seen,
        "system_condition": system_condition,
        "thinking": thinking,
        "who_can_change": who_can_change,
        "status": status,
        "changed_at": _date_text(changed_at),
        "what_changed": what_changed,
    }
    text = {k: "" if v is None else str(v).strip() for k, v in text.items()}
    with locked(council.path / TABLE):  # the same lock for .csv and .xlsx
        path = find_table_file(council.path, TABLE) or council.path / f"{TABLE}.csv"
        existing = _existing(path)
        text["id"] = _next_id(existing["id"])
        row = _validated(text, set(council.services))
        _write(path, existing, [row])
    return text["id"]


def conditions(council_dir_or_frame, service=None, *, learning_log: bool = True) -> pd.DataFrame:
    """The system conditions (typed, the contract's columns), for one service or all, oldest first.

    Given a council folder, the table is read (ContractError if it has errors) and, with ``learning_log``, the
    learning log's system conditions not yet in it are added (``raised_in`` experiment, ``id`` ``LL-<row>``): a
    council that only keeps a learning log still shows its conditions. Given a frame, it is only filtered.
    """
    if isinstance(council_dir_or_frame, pd.DataFrame):
        frame = council_dir_or_frame
    else:
        folder = Path(council_dir_or_frame)
        path = find_table_file(folder, TABLE)
        frame = empty_frame(TABLE)
        if path is not None:
            result = read_table(path, TABLE)
            if result.errors:
                raise ContractError(result.errors)
            frame = result.frame
        if learning_log:
            log_path = find_table_file(folder, "learning_log")
            if log_path is not None:
                log = read_table(log_path, "learning_log")
                if not log.errors:
                    frame = _with(frame, from_learning_log(log.frame, existing=frame))
    if service is not None:
        frame = frame[frame["service"] == service]
    return frame.sort_values(["raised_at", "id"], kind="stable", na_position="last").reset_index(drop=True)


def open_conditions(frame: pd.DataFrame) -> pd.DataFrame:
    """The conditions still to act on: status open, in hand or not set."""
    return frame[frame["status"].isna() | frame["status"].isin(_OPEN)].reset_index(drop=True)


def from_learning_log(log: pd.DataFrame, *, existing: pd.DataFrame | None = None) -> pd.DataFrame:
    """The learning log's system conditions as system_conditions rows (one per service and condition, the wording
    of its first entry): raised at its first entry, in the experiment, the waste and who can change it joined over
    its entries, the status of its latest entry with one. Conditions already in ``existing`` (same service, same
    words ignoring case and spacing) are left out."""
    out = empty_frame(TABLE)
    if log.empty:
        return out
    log = log.assign(_key=_key(log["system_condition"]), _row=log.index + 2)
    if "condition_id" in log:  # an entry linked to a system_conditions row is that row's, not a condition of its own
        log = log[log["condition_id"].isna()]
    log = log[log["_key"].ne("")].sort_values(["date", "_row"], kind="stable")
    if existing is not None and len(existing):
        known = set(zip(existing["service"].astype(str), _key(existing["system_condition"])))
        log = log[[(str(s), k) not in known for s, k in zip(log["service"], log["_key"])]]
    if log.empty:
        return out
    rows = []
    for (service, _), group in log.groupby([log["service"].astype(str), "_key"], sort=False):
        status = group["status"].dropna()
        changed = group["changed_at"].dropna() if "changed_at" in group else pd.Series(dtype="datetime64[ns]")
        rows.append(
            {
                "changed_at": changed.iloc[-1] if len(changed) else pd.NaT,
                "phase": pd.NA,
                "id": f"LL-{int(group['_row'].iloc[0])}",
                "service": service,
                "raised_at": group["date"].min(),
                "raised_in": "experiment",
                "waste_seen": _joined(group["waste_caused"]),
                "system_condition": str(group["system_condition"].iloc[0]).strip(),
                "thinking": pd.NA,
                "who_can_change": _joined(group["who_can_change"]),
                "status": status.iloc[-1] if len(status) else pd.NA,
                "what_changed": pd.NA,
            }
        )
    return _with(out, pd.DataFrame(rows))


def migrate_learning_log(council_dir) -> int:
    """Copy the learning log's system conditions into ``system_conditions`` (new ids, raised in the experiment) and
    link each learning-log entry to its condition by ``condition_id``, its own copy of the words cleared; return how
    many conditions were added. Running it again adds and changes nothing. Both writes are atomic, under the
    tables' locks, previous versions kept."""
    council = load_council(council_dir)
    log_path = find_table_file(council.path, "learning_log")
    if log_path is None:
        return 0
    with locked(council.path / "learning_log"), locked(council.path / TABLE):  # the log read and rewritten as one
        log = read_table(log_path, "learning_log", services=set(council.services))
        if log.errors:
            raise ContractError(
                log.errors,
                f"{log_path.name} has errors, so its system conditions were not copied: "
                + "; ".join(p.describe() for p in log.errors[:3]),
            )
        path = find_table_file(council.path, TABLE) or council.path / f"{TABLE}.csv"
        existing = _existing(path)
        parsed = parse_table(existing, TABLE, file=path.name).frame if len(existing) else empty_frame(TABLE)
        new = from_learning_log(log.frame, existing=parsed)
        rows = []
        ids = list(existing["id"])
        for _, r in new.iterrows():
            text = {
                k: _date_text(r[k]) if k in ("raised_at", "changed_at") else ("" if pd.isna(r[k]) else str(r[k]))
                for k in FIELDS
            }
            text["id"] = _next_id(ids)
            ids.append(text["id"])
            rows.append(text)
        if rows:
            _write(path, existing, rows)
        _link_learning_log(log_path, pd.concat([existing, pd.DataFrame(rows, columns=existing.columns)]))
    return len(rows)


def _link_learning_log(log_path: Path, table: pd.DataFrame) -> None:
    """Give every learning-log entry that names a condition in words the ``condition_id`` of the system_conditions
    row with those words (same service), and clear its own copy: the words are kept once, in system_conditions."""
    raw, problems = read_raw(log_path, "learning_log")
    if raw is None or "system_condition" not in raw:
        return
    ids = {
        (str(s).strip(), k): str(i)
        for s, k, i in zip(table["service"], _key(table["system_condition"]), table["id"])
        if k
    }
    if "condition_id" not in raw:
        raw["condition_id"] = ""
    unlinked = raw["condition_id"].fillna("").astype(str).str.strip().eq("")
    found = pd.Series(
        [ids.get((str(s).strip(), k), "") for s, k in zip(raw["service"], _key(raw["system_condition"]))],
        index=raw.index,
    )
    link = unlinked & found.ne("")
    if not link.any():
        return
    raw.loc[link, "condition_id"] = found[link]
    raw.loc[link, "system_condition"] = ""
    write_table_atomic(raw.fillna(""), log_path, keep_previous=True, sheet="learning_log")


#: What a team may correct in a system condition it raised (its id, service and when it was raised stay).
EDITABLE = ("raised_in", "waste_seen", "system_condition", "thinking", "who_can_change", "status", "what_changed")


def set_condition(council_dir, condition_id: str, *, status=None, changed_at=None, phase=None, **texts) -> None:
    """Change a system condition: where it stands (``status``, the date it was ``changed_at``, ``what_changed``,
    whether its change shows as a ``phase`` on the capability charts: True/False) and its words (any of
    ``EDITABLE``). Only the fields given are written (atomic, under the table's lock, previous version kept); a
    ``changed_at`` of "" clears the date. A learning-log condition (``LL-<row>``) is migrated first, and its new id
    used. ContractError names a bad value; SystemicError an id the table does not have."""
    unknown = sorted(set(texts) - set(EDITABLE))
    if unknown:
        raise SystemicError(f"a system condition has no field {', '.join(unknown)} to change")
    council = load_council(council_dir)
    condition_id = resolved_id(council.path, condition_id)
    given = {
        "status": status,
        "changed_at": None if changed_at is None else ("" if changed_at == "" else _date_text(changed_at)),
        "phase": None if phase is None else ("yes" if phase else "no"),
        **{k: "" if v is None else str(v).strip() for k, v in texts.items()},
    }
    given = {k: v for k, v in given.items() if v is not None}
    with locked(council.path / TABLE):
        path, existing, at = _located(council.path, condition_id)
        row = {**existing.loc[at].astype(str).to_dict(), **given}
        result = parse_table(pd.DataFrame([row], dtype=str), TABLE, file=path.name)
        bad = [
            replace(p, row=int(at) + 2, severity=ERROR)
            for p in result.problems
            if p.column in given and (p.severity == ERROR or p.message.startswith("cannot read"))
        ]  # not the status/date warning
        if "waste_seen" in given and not given["waste_seen"]:
            bad.append(Problem(path.name, "is blank", "say what waste the condition causes", column="waste_seen"))
        if bad:
            raise ContractError(bad)
        for col in ("status", "raised_in"):
            if given.get(col):
                given[col] = result.frame[col].iloc[0]  # "Changed" -> "changed"
        for col in given:
            if col not in existing:
                existing[col] = ""
        changed = existing.astype(str).fillna("")
        changed.loc[at, list(given)] = list(given.values())
        if path.suffix.lower() != ".xlsx":
            changed = spreadsheet_safe(changed)
        write_table_atomic(changed, path, keep_previous=True)


def remove_condition(council_dir, condition_id: str) -> dict:
    """Remove a system condition the team raised by mistake (atomic, under the lock; the previous version of the
    table is kept, so it can be brought back). Refused while learning-log entries link to it: set its status
    instead (parked). Returns the removed row."""
    council = load_council(council_dir)
    condition_id = resolved_id(council.path, condition_id)
    with locked(council.path / TABLE):
        path, existing, at = _located(council.path, condition_id)
        log_path = find_table_file(council.path, "learning_log")
        if log_path is not None:
            log, _ = read_raw(log_path, "learning_log")
            if log is not None and "condition_id" in log:
                linked = int(log["condition_id"].fillna("").astype(str).str.strip().eq(condition_id).sum())
                if linked:
                    raise SystemicError(
                        f"{condition_id} is not removed: {linked} learning-log "
                        f"entr{'y links' if linked == 1 else 'ies link'} to it. Set its status to parked instead."
                    )
        removed = existing.loc[at].astype(str).to_dict()
        write_table_atomic(existing.drop(index=at).astype(str).fillna(""), path, keep_previous=True)
    return removed


def _located(folder: Path, condition_id: str) -> tuple[Path, pd.DataFrame, int]:
    """The table's file, its rows as text and the index of ``condition_id`` (SystemicError if it has none)."""
    path = find_table_file(folder, TABLE)
    existing = _existing(path) if path is not None else _existing(folder / f"{TABLE}.csv")
    at = existing.index[existing["id"].astype(str).str.strip() == str(condition_id)]
    if path is None or not len(at):
        raise SystemicError(f"no system condition {condition_id} in {TABLE}: pick one the table has")
    return path, existing, at[0]


def resolved_id(council_dir, condition_id: str) -> str:
    """The id of a condition in ``system_conditions``: a learning-log condition (``LL-<row>``, as ``conditions``
    lists an unmigrated log) is migrated first (``migrate_learning_log``) and its new id returned."""
    if not str(condition_id).startswith("LL-"):
        return str(condition_id)
    before = conditions(council_dir, learning_log=True)
    text = before.loc[before["id"] == condition_id, ["service", "system_condition"]]
    migrate_learning_log(council_dir)
    after = conditions(council_dir, learning_log=False)
    if len(text):
        after = after[
            (after["service"] == text["service"].iloc[0])
            & (_key(after["system_condition"]) == _key(text["system_condition"]).iloc[0])
        ]
    if text.empty or after.empty:
        raise SystemicError(f"no system condition {condition_id}: reload the page and pick it again")
    return str(after["id"].iloc[0])


def words_of(frame: pd.DataFrame) -> pd.Series:
    """Each condition in words: its system condition, or the waste seen where the condition is not written."""
    text = frame["system_condition"].astype("str").fillna("").str.strip()
    return text.where(text.ne(""), frame["waste_seen"].astype("str").fillna("").str.strip())


@dataclass(frozen=True)
class Phase:
    """A known change to a service's system, where its capability charts start a new phase: ``date``, ``label``
    (shown on the chart and in the narration) and ``source`` (council.yaml, or the system condition's id)."""

    date: dt.date
    label: str
    source: str
    text: str = ""  #: the change in full words (a condition's label is cut to fit the chart)
    targets: tuple[str, ...] = ()  #: steps or demand types council.yaml says the change is meant to affect

    def figure(self) -> dict:
        return {"date": self.date.isoformat(), "label": self.label, "source": self.source}


_LABEL_WIDTH = 60
_CHANGED = " (changed)"


def phase_label(row, text: str) -> str:
    """A changed condition's phase, named by what changed ("pre-inspection over 250 pounds removed"), or where the
    team did not say, by the condition marked changed (or designed out): never the condition's words alone, which read as if the rule
    had been brought in then."""
    said = _said(row)
    if said:
        return _clipped(said, _LABEL_WIDTH)
    text = " ".join(text.split()) or f"system condition {row['id']}"
    mark = f" ({row['status']})" if row.get("status") in CHANGED_STATUS else _CHANGED
    return _clipped(text, _LABEL_WIDTH - len(mark)) + mark


def _said(row) -> str:
    """What the team said changed, in one line ("" where they did not)."""
    said = row.get("what_changed") if hasattr(row, "get") else None
    return "" if said is None or (not isinstance(said, str) and pd.isna(said)) else " ".join(str(said).split())


def _clipped(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "\u2026"


def phases(system_changes=(), frame: pd.DataFrame | None = None) -> list[Phase]:
    """The phases of a service's capability charts: council.yaml's ``system_changes`` and every condition in
    ``frame`` (system_conditions rows, learning-log ones included) marked changed (or designed out) with a
    ``changed_at`` date and not turned off (``phase`` no), labelled with what changed (``phase_label``). The same
    date and label once; by date."""
    found = [
        Phase(pd.Timestamp(c.date).date(), str(c.label), "council.yaml", str(c.label), tuple(c.targets or ()))
        for c in system_changes
    ]
    if frame is not None and len(frame):
        on = (
            frame["status"].isin(CHANGED_STATUS).fillna(False)
            & frame["changed_at"].notna()
            & frame["phase"].fillna(True).astype(bool)
        )
        shown = frame[on]
        for (_, row), text in zip(shown.iterrows(), words_of(shown)):
            full = _said(row) or " ".join(text.split()) or f"system condition {row['id']}"
            label = phase_label(row, text)
            found.append(Phase(pd.Timestamp(row["changed_at"]).date(), label, f"system condition {row['id']}", full))
    seen, out = set(), []
    for p in sorted(found, key=lambda p: (p.date, p.source != "council.yaml", p.label)):
        if (p.date, p.label.casefold()) not in seen:
            seen.add((p.date, p.label.casefold()))
            out.append(p)
    return out


# ------------------------------------------------------------------------------------------------------ writing
def _existing(path: Path) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame(columns=FIELDS, dtype=str)
    raw, problems = read_raw(path, TABLE)
    if raw is None:
        raise ContractError(problems, f"cannot add to {path.name}: " + "; ".join(p.describe() for p in problems))
    for col in FIELDS:
        if col not in raw.columns:
            raw[col] = ""
    return raw


def _write(path: Path, existing: pd.DataFrame, rows: list[dict]) -> None:
    new = pd.DataFrame([{c: r.get(c, "") for c in existing.columns} for r in rows], columns=existing.columns, dtype=str)
    if path.suffix.lower() != ".xlsx":  # a workbook stores text as text; a CSV cell "=..." would run in Excel
        new = spreadsheet_safe(new)
    frame = pd.concat([existing.astype(str), new], ignore_index=True).fillna("")
    write_table_atomic(frame, path, keep_previous=True)


def _validated(text: dict, services: set[str]) -> dict:
    """The row as it will be written (normalised spellings), or ContractError naming every problem."""
    result = parse_table(pd.DataFrame([text], dtype=str), TABLE, file=_NEW, services=services)
    problems: list[Problem] = [
        replace(p, row=None, count=1, severity=ERROR)
        for p in result.problems
        if "has a header but no rows" not in p.message and not (p.column == "changed_at" and p.severity == WARNING)
    ]  # said in the report
    for col in ("service", "raised_in", "waste_seen"):
        if not text[col] and not any(p.column == col for p in problems):
            problems.append(
                Problem(_NEW, "is blank", f"fill in '{col}' ({TABLES[TABLE].column(col).description})", column=col)
            )
    if problems:
        raise ContractError(problems)
    parsed = result.frame.iloc[0]
    for col in ("raised_in", "status"):
        if text[col]:
            text[col] = parsed[col]  # "In hand" -> "in hand"
    text["raised_at"] = parsed["raised_at"].strftime("%Y-%m-%d")
    return text


def _next_id(ids) -> str:
    numbers = pd.Series(list(ids), dtype=str).str.extract(r"^SC-(\d+)$", expand=False).dropna().astype(int)
    return f"SC-{(numbers.max() if len(numbers) else 0) + 1:03d}"


def _date_text(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    try:
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    except (TypeError, ValueError):
        raise SystemicError(f"'{value}' is not a date: write it as YYYY-MM-DD") from None


def _key(values: pd.Series) -> pd.Series:
    return values.astype("str").fillna("").str.strip().str.lower().str.replace(r"\s+", " ", regex=True).fillna("")


def _joined(values: pd.Series):
    seen = dict.fromkeys(v.strip() for v in values.dropna().astype(str) if v.strip())
    return "; ".join(seen) if seen else pd.NA


def _with(frame: pd.DataFrame, more: pd.DataFrame) -> pd.DataFrame:
    """Rows appended, keeping the typed columns (an empty frame adds nothing and changes no type)."""
    if more.empty:
        return frame
    if frame.empty:
        return more.astype(frame.dtypes.to_dict()) if set(frame.columns) <= set(more.columns) else more
    return pd.concat([frame, more.astype(frame.dtypes.reindex(more.columns).dropna().to_dict())], ignore_index=True)
