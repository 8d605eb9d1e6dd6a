"""The batch's table cache: each council table read, parsed and validated once, then loaded from Parquet.

A council loaded with a cache folder (``load_council(path, cache_dir=...)``: the batch hands its folder to its
planning and, as the ``cache_dir`` parameter, to every notebook it runs) has ``Council.load`` ask ``cached_table``
instead of parsing the file: the batch's validation of a council fills the cache, and every
notebook of that council then loads the parsed table, its problems (file, row, column, as parsed) and the file's
raw text (loaded only if asked for) instead of re-reading and re-validating the file.

An entry is keyed by a hash of the source file's bytes, the table, the council's service ids and the parsing code,
so a changed file (or a new version of the data contract) is read afresh. An entry is only used when its Parquet
copy reads back identical to the parsed table (checked once, when written); otherwise the file is parsed as usual.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

import pandas as pd

from systemic_lib.data.contract import Problem, Table

KEEP_DAYS = 14  #: entries not used for this long are removed by ``prune``


@lru_cache(maxsize=1)
def _code_version() -> str:
    """A hash of the code that parses tables: a new data contract makes every entry stale."""
    from systemic_lib.data import contract

    digest = hashlib.sha256(Path(contract.__file__).read_bytes())
    digest.update(pd.__version__.encode())
    return digest.hexdigest()[:16]


def key(path: Path, table: str, services) -> str:
    """The entry for this file's content, read as this table for these services."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    digest.update(f"\0{table}\0{','.join(sorted(services or ()))}\0{path.suffix.lower()}\0{_code_version()}".encode())
    return f"{table}-{digest.hexdigest()[:40]}"


def cached_table(path: Path, table: str, services, read: Callable[[], Table], root: Path | None) -> Table:
    """The parsed table from the cache folder ``root``, or ``read()`` (which parses the file) stored there for next
    time; ``read()`` alone without a cache folder (JupyterLab, `systemic validate`)."""
    if root is None:
        return read()
    path = Path(path)
    entry = Path(root) / key(path, table, services)
    if (entry / "meta.json").exists():
        try:
            return _load(entry, path, table)
        except Exception:
            shutil.rmtree(entry, ignore_errors=True)
    result = read()
    try:
        _store(entry, result)
    except Exception:
        pass
    return result


def derived(result: Table, tag: str, make, *, wait: bool = True) -> pd.DataFrame | None:
    """A frame made from a table (the stages' redacted copy), kept in the table's cache entry, so that it is made
    once per entry instead of in every notebook: read from ``<entry>/<tag>.parquet`` when there, else ``make()``,
    stored there when it reads back identical. A table that did not come from the cache: ``make()``.

    ``tag`` must name everything the frame depends on besides the table (e.g. a hash of the code that makes it).
    Only what ``make`` returns is stored: the stages store redacted text here, never text the entry lacks.

    Processes making the same frame at once take turns (a lock file in the entry): the later ones read what the
    first stored. ``wait=False``: None instead of waiting while another process makes it."""
    entry = result.cache_entry
    if entry is None:
        return make()
    path = entry / f"{tag}.parquet"
    found = _read_derived(path)
    if found is not None:
        return found
    try:
        lock = open(entry / f".{tag}.lock", "a+")
    except OSError:  # a read-only cache: made here, not stored
        return make()
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return None
        found = _read_derived(path)  # stored while this process waited
        if found is not None:
            return found
        return _make_derived(entry, path, tag, make)


def _read_derived(path: Path) -> pd.DataFrame | None:
    if path.exists():
        try:
            return pd.read_parquet(path)
        except Exception:
            path.unlink(missing_ok=True)
    return None


def _make_derived(entry: Path, path: Path, tag: str, make) -> pd.DataFrame:
    frame = make()
    tmp = entry / f".{tag}.{os.getpid()}.tmp"
    try:
        frame.to_parquet(tmp)
        _assert_same(frame, pd.read_parquet(tmp))
        os.replace(tmp, path)
    except Exception:
        tmp.unlink(missing_ok=True)
    return frame


def _load(entry: Path, path: Path, table: str) -> Table:
    meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
    if not meta.get("faithful"):
        raise ValueError("entry does not round-trip")
    frame = pd.read_parquet(entry / "frame.parquet")
    problems = [Problem(**p) for p in meta["problems"]]
    raw = entry / "raw.parquet"
    read_raw = (lambda: pd.read_parquet(raw) if raw.exists() else None) if meta.get("raw") else None
    os.utime(entry / "meta.json")  # used: kept by prune
    return Table(table, frame, problems, path, read_raw=read_raw, cache_entry=entry)


def _store(entry: Path, result: Table) -> None:
    """Write an entry into a temporary folder, check it reads back identical, then rename it into place."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.parent / f".{entry.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        faithful = True
        try:
            result.frame.to_parquet(tmp / "frame.parquet")
            _assert_same(result.frame, pd.read_parquet(tmp / "frame.parquet"))
            if result.raw is not None:
                result.raw.to_parquet(tmp / "raw.parquet")
                _assert_same(result.raw, pd.read_parquet(tmp / "raw.parquet"))
        except Exception:
            faithful = False
        meta = {
            "table": result.name,
            "file": result.path.name if result.path else None,
            "faithful": faithful,
            "raw": result.raw is not None,
            "problems": [asdict(p) for p in result.problems],
            "written_at": time.time(),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        try:
            os.rename(tmp, entry)
        except OSError:  # another process stored the same entry first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _assert_same(original: pd.DataFrame, copy: pd.DataFrame) -> None:
    """Raise unless ``copy`` (read back from Parquet) is ``original`` exactly: dtypes, labels and every value."""
    if list(original.dtypes.astype(str)) != list(copy.dtypes.astype(str)) or original.attrs:
        raise ValueError("dtypes differ")
    same_labels = all(
        type(a) is type(b) and a.dtype == b.dtype and a.equals(b)
        for a, b in ((original.index, copy.index), (original.columns, copy.columns))
    )
    if not (
        same_labels
        and original.flags.allows_duplicate_labels == copy.flags.allows_duplicate_labels
        and original.equals(copy)
    ):
        raise ValueError("values differ")


def prune(root: Path, *, keep_days: float = KEEP_DAYS) -> int:
    """Remove entries not used for ``keep_days`` (and stray temporary folders); returns how many went."""
    if not root.is_dir():
        return 0
    cutoff = time.time() - keep_days * 86400
    removed = 0
    for entry in root.iterdir():
        meta = entry / "meta.json"
        try:
            stale = entry.name.startswith(".") and entry.stat().st_mtime < time.time() - 3600
            stale = stale or (meta.exists() and meta.stat().st_mtime < cutoff)
        except OSError:
            continue
        if stale:
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed
