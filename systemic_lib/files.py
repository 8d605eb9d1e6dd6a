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

    With ``keep_previous`` the file being replaced is kept as ``<name>.prev``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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
    return atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=_json_default) + "\n", **kwargs)


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


def write_table_atomic(frame: pd.DataFrame, path, *, keep_previous: bool = True, for_people: bool = False) -> Path:
    """Write a table (CSV or XLSX by suffix) atomically with the previous version kept.

    ``for_people=True`` is for exports opened in a spreadsheet: formula-like text is defused. A council's own
    data files are written as they are, so that reading them back gives the same text.
    """
    path = Path(path)
    safe = spreadsheet_safe(frame) if for_people else frame
    if path.suffix.lower() == ".xlsx":
        import io

        buf = io.BytesIO()
        safe.to_excel(buf, index=False, sheet_name=path.stem, engine="openpyxl")
        data = buf.getvalue()
    else:
        data = safe.to_csv(index=False, date_format="%Y-%m-%d %H:%M:%S").encode("utf-8")
    return atomic_write_bytes(path, data, keep_previous=keep_previous)
