"""Writes that people depend on: atomic, with the previous version kept, safe to open in Excel."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def atomic_write_bytes(path, data: bytes, *, keep_previous: bool = False) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half of one.

    With ``keep_previous`` the file being replaced is kept as ``<name>.prev``. The temporary file is named with the
    writing process's id; one left by a process that was killed mid-write (SIGKILL runs no clean-up: a 2 MB copy of
    citizens' words stayed beside demand.csv) is removed by the next write of the same file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stray_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else _default_mode())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if keep_previous and path.exists():
            shutil.copy2(path, path.with_name(path.name + ".prev"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def sweep_stray_temporaries(path) -> int:
    """Remove the temporary files of ``path`` (``.<name>.<pid>.<random>.tmp``) whose writing process is gone;
    returns how many."""
    path = Path(path)
    prefix = f".{path.name}."
    removed = 0
    try:
        strays = [p for p in path.parent.iterdir() if p.name.startswith(prefix) and p.name.endswith(".tmp")]
    except OSError:
        return 0
    for stray in strays:
        pid = stray.name[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            stray.unlink(missing_ok=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@contextmanager
def locked(path):
    """Hold an exclusive lock for a read-modify-write of ``path`` (two people saving at once both keep their change).

    The lock is a ``.<name>.lock`` file beside it; it only orders writers that use this function.
    """
    path = Path(path)
    with open(path.with_name(f".{path.name}.lock"), "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_text(path, text: str, **kwargs) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), **kwargs)


def atomic_write_json(path, data, **kwargs) -> Path:
    return atomic_write_text(
        path, json.dumps(data, indent=2, ensure_ascii=False, default=_json_default) + "\n", **kwargs
    )


def _json_default(obj):
    if isinstance(obj, (pd.Timestamp,)):
        return obj.isoformat()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula (=, +, -, @) with a quote."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            s = out[col]
            text = s.astype(str)
            # A plain signed number ("-71.06") is data, not a formula: leave it readable as a number.
            risky = s.notna() & text.str.startswith(_FORMULA_START) & ~text.str.fullmatch(r"[+-]?\d+(?:\.\d+)?")
            if risky.any():
                out[col] = s.astype(object).where(~risky, "'" + s.astype(str))
    return out


def write_table_atomic(
    frame: pd.DataFrame, path, *, keep_previous: bool = True, for_people: bool = False, sheet: str | None = None
) -> Path:
    """Write a table (CSV or XLSX by suffix) atomically with the previous version kept.

    ``for_people=True`` is for exports opened in a spreadsheet: formula-like text is defused. A council's own
    data files are written as they are, so that reading them back gives the same text: in a workbook every text
    cell is stored as text (never as a formula), and a workbook that already exists (a capture template) keeps its
    other sheets, drop-down lists and header notes, only the table's sheet (``sheet``, default the file's stem)
    being rewritten. In a CSV, line breaks inside a cell are written as ``\\n`` and quoted, so no cell can split a row.
    """
    path = Path(path)
    safe = spreadsheet_safe(frame) if for_people else frame
    if path.suffix.lower() == ".xlsx":
        data = xlsx_bytes(safe, path, sheet or path.stem)
    else:
        data = _one_line_break(safe).to_csv(index=False, date_format="%Y-%m-%d %H:%M:%S").encode("utf-8")
    return atomic_write_bytes(path, data, keep_previous=keep_previous)


def _one_line_break(frame: pd.DataFrame) -> pd.DataFrame:
    """Carriage returns inside text cells as ``\\n``: pandas quotes a cell holding ``\\n`` but not one holding a lone
    ``\\r``, which a reader then takes as the end of the row."""
    out = frame
    for col in frame.columns:
        s = frame[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            has_cr = s.astype("str").str.contains("\r", regex=False, na=False)
            if has_cr.any():
                if out is frame:
                    out = frame.copy()
                out[col] = s.where(
                    ~has_cr, s.astype("str").str.replace("\r\n", "\n", regex=False).str.replace("\r", "\n", regex=False)
                )
    return out


def _cell_value(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return value.item()
    return value


def xlsx_bytes(frame: pd.DataFrame, path=None, sheet: str = "Sheet1") -> bytes:
    """``frame`` as workbook bytes, text cells typed as text so that "=..." is never run as a formula.

    If ``path`` is an existing workbook with a sheet named ``sheet``, that workbook is updated in place: the sheet's
    header and rows are rewritten and everything else (other sheets, data validations, comments, widths) is kept.
    """
    import io

    from openpyxl import Workbook, load_workbook

    book = None
    if path is not None and Path(path).exists():
        try:
            book = load_workbook(path)
        except Exception:  # a damaged workbook: write a fresh one (the previous file is kept as .prev)
            book = None
    if book is not None and sheet in book.sheetnames:
        ws = book[sheet]
    elif book is not None:
        ws = book.create_sheet(sheet)
    else:
        book = Workbook()
        ws = book.active
        ws.title = sheet
    old_rows, old_cols = ws.max_row, ws.max_column
    header = [str(c) for c in frame.columns]
    for j, name in enumerate(header, start=1):
        cell = ws.cell(row=1, column=j)
        if cell.value != name:
            cell.value = name
        cell.data_type = "s"
    columns = [frame[c].tolist() for c in frame.columns]
    is_time = [pd.api.types.is_datetime64_any_dtype(frame[c]) for c in frame.columns]
    for i in range(len(frame)):
        for j, values in enumerate(columns, start=1):
            value = _cell_value(values[i])
            cell = ws.cell(row=i + 2, column=j)
            cell.value = value
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
            elif is_time[j - 1] and value is not None:
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
    for r in range(len(frame) + 2, old_rows + 1):  # rows the table no longer has
        for j in range(1, max(old_cols, len(header)) + 1):
            ws.cell(row=r, column=j).value = None
    for j in range(len(header) + 1, old_cols + 1):  # columns it no longer has
        for r in range(1, min(old_rows, len(frame) + 1) + 1):
            ws.cell(row=r, column=j).value = None
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
