"""The batch's table cache: each council table read, parsed, validated and redacted once, then loaded from Parquet.

A council loaded with a cache folder (``load_council(path, cache_dir=...)``: the batch hands its folder to its
planning and, as the ``cache_dir`` parameter, to every notebook it runs) has ``Council.load`` ask ``cached_table``
instead of parsing the file: the batch's validation of a council fills the cache, and every notebook of that council
then loads the table, its problems (file, row, column, as parsed) and the file's raw text
(loaded only if asked for) instead of re-reading and re-validating the file.

What the cache holds is what the stages read, never more: every free-text column of a table and of its raw text is
redacted before it is written (``privacy.redacted``), and so is every problem's message; a table loaded from the cache
says so (``Table.redacted``), and the stages do not redact it again. Rules match the citizen's words as written, so
which rule matches which contact is worked out from the file itself and kept beside the table (``derived``), as
booleans. So the cache holds no identifier a citizen wrote, and no text a stage does not show.

Private and checked: the cache folder is made readable by its owner only (0700, its files 0600). Every file of an
entry is signed with a keyed hash (HMAC-SHA256) under a key kept outside the cache (``~/.config/systemic/cache.key``,
0600, made on first use); an entry whose files do not match their signatures, such as a tampered frame, is removed
and the council's file read again, never shown. An entry records the council folder it came from: ``prune`` (run at
the end of every batch) removes the entries of a council folder that no longer exists, and any entry unused for
``KEEP_DAYS`` days.

An entry is keyed by a hash of the source file's bytes, the table, the council's service ids and the code that
parses and redacts it, so a changed file (or a new version of the data contract or of the redaction) is read afresh.
An entry is only used when its Parquet copy reads back identical to the table it stores (checked once, when written).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

import pandas as pd

from systemic_lib.data.contract import Problem, Table
from systemic_lib.data.privacy import redacted, redacted_problems

KEEP_DAYS = 14  #: entries not used for this long are removed by ``prune``
KEY_ENV = "SYSTEMIC_CACHE_KEY_FILE"  #: where the signing key is kept (default ``~/.config/systemic/cache.key``)


@lru_cache(maxsize=1)
def _code_version() -> str:
    """A hash of the code that parses and redacts tables: a new data contract or redaction makes every entry
    stale."""
    from systemic_lib.data import contract, privacy, redact

    digest = hashlib.sha256()
    for module in (contract, privacy, redact):
        digest.update(Path(str(module.__file__)).read_bytes())
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


# ------------------------------------------------------------------------------------------- privacy and signatures
def _key_file() -> Path:
    configured = os.environ.get(KEY_ENV)
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "systemic" / "cache.key"


@lru_cache(maxsize=4)
def _signing_key(where: str) -> bytes:
    """The cache's signing key (32 random bytes), made on first use, readable by its owner only."""
    path = Path(where)
    try:
        found = path.read_bytes()
        if len(found) >= 32:
            return found
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(32))
    try:
        os.link(tmp, path)  # the first process to make the key wins; the others read it
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


def _sign(data: bytes) -> str:
    return hmac.new(_signing_key(str(_key_file())), data, hashlib.sha256).hexdigest()


def _signed(path: Path) -> bool:
    """Whether ``path`` matches the signature written beside it (``<name>.sig``)."""
    try:
        return hmac.compare_digest(_sign(path.read_bytes()), path.with_name(path.name + ".sig").read_text())
    except OSError:
        return False


def _write_signed(path: Path) -> None:
    """Sign ``path`` (already written) and make both files private."""
    sig = path.with_name(path.name + ".sig")
    sig.write_text(_sign(path.read_bytes()))
    for p in (path, sig):
        os.chmod(p, 0o600)


def _private_folder(path: Path) -> None:
    """Make ``path`` (and the cache folder above it) a folder only its owner can read."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(path, 0o700)
    except PermissionError:  # not ours: entries are still signed and checked before use
        pass


# ------------------------------------------------------------------------------------------------------- tables
def _signed_reader(path: Path) -> Callable[[], pd.DataFrame | None]:
    """A table's raw text (redacted, only needed to quote a problem's source), read from its Parquet copy when first
    asked for, once checked against its signature."""

    def read() -> pd.DataFrame | None:
        if not path.exists():
            return None
        if not _signed(path):
            raise ValueError(f"{path} does not match its signature")
        return pd.read_parquet(path)

    return read


def cached_table(path: Path, table: str, services, read: Callable[[], Table], root: Path | None) -> Table:
    """The table from the cache folder ``root`` (redacted), or ``read()`` (which parses the file: the table as
    written, for this process only) stored there, redacted, for next time; ``read()`` alone without a cache folder
    (JupyterLab, `systemic validate`)."""
    if root is None:
        return read()
    path = Path(path)
    entry = Path(root) / key(path, table, services)
    if (entry / "meta.json").exists():
        try:
            return _load(entry, path, table)
        except Exception:  # damaged, tampered or half-written: read the file again
            shutil.rmtree(entry, ignore_errors=True)
    result = read()
    try:
        _store(entry, result)
    except Exception:
        pass
    return result


def derived(result: Table, tag: str, make, *, wait: bool = True) -> pd.DataFrame | None:
    """A frame made from a table (which rule matches which contact), kept in the table's cache entry, so that it is
    made once per entry instead of in every notebook: read from ``<entry>/<tag>.parquet`` when there and signed, else
    ``make()``, stored there (signed) when it reads back identical. A table that did not come from the cache:
    ``make()``.

    ``tag`` must name everything the frame depends on besides the table (e.g. a hash of the rules). Only what the
    stages may show belongs here (never a citizen's words: the entry holds redacted text only).

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
        os.chmod(lock.name, 0o600)
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
            if _signed(path):
                return pd.read_parquet(path)
        except Exception:
            pass
        path.unlink(missing_ok=True)
    return None


def _make_derived(entry: Path, path: Path, tag: str, make) -> pd.DataFrame:
    frame = make()
    tmp = entry / f".{tag}.{os.getpid()}.tmp"
    try:
        frame.to_parquet(tmp)
        _assert_same(frame, pd.read_parquet(tmp))
        _write_signed(tmp)
        os.replace(tmp.with_name(tmp.name + ".sig"), path.with_name(path.name + ".sig"))
        os.replace(tmp, path)
    except Exception:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".sig").unlink(missing_ok=True)
    return frame


def _load(entry: Path, path: Path, table: str) -> Table:
    meta_path = entry / "meta.json"
    if not _signed(meta_path) or not _signed(entry / "frame.parquet"):
        raise ValueError("entry does not match its signatures")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if not meta.get("faithful") or not meta.get("redacted"):
        raise ValueError("entry does not round-trip")
    frame = pd.read_parquet(entry / "frame.parquet")
    problems = [Problem(**p) for p in meta["problems"]]
    read_raw = _signed_reader(entry / "raw.parquet") if meta.get("raw") else None
    os.utime(meta_path)  # used: kept by prune
    return Table(table, frame, problems, path, read_raw=read_raw, cache_entry=entry, redacted=True)


def _store(entry: Path, result: Table) -> None:
    """Write an entry, redacted and signed, into a temporary folder, check it reads back identical, then rename it
    into place."""
    _private_folder(entry.parent)
    tmp = entry.parent / f".{entry.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o700)
    try:
        frame, raw = redacted(result.name, result.frame), redacted(result.name, result.raw, raw=True)
        if frame is None:
            raise ValueError(f"{result.name}: no table to keep")
        faithful = True
        try:
            frame.to_parquet(tmp / "frame.parquet")
            _assert_same(frame, pd.read_parquet(tmp / "frame.parquet"))
            if raw is not None:
                raw.to_parquet(tmp / "raw.parquet")
                _assert_same(raw, pd.read_parquet(tmp / "raw.parquet"))
        except Exception:
            faithful = False
        meta = {
            "table": result.name,
            "file": result.path.name if result.path else None,
            "council": str(Path(result.path).resolve().parent) if result.path else None,
            "faithful": faithful,
            "redacted": True,
            "raw": raw is not None,
            "problems": [asdict(p) for p in redacted_problems(result.problems)],
            "written_at": time.time(),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        for name in ("meta.json", "frame.parquet", "raw.parquet"):
            if (tmp / name).exists():
                _write_signed(tmp / name)
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
    """Remove entries not used for ``keep_days``, entries of a council folder (or file) that no longer exists, and
    stray temporary folders; returns how many went."""
    if not root.is_dir():
        return 0
    cutoff = time.time() - keep_days * 86400
    removed = 0
    for entry in root.iterdir():
        if entry.is_file():
            continue
        meta = entry / "meta.json"
        try:
            stale = entry.name.startswith(".") and entry.stat().st_mtime < time.time() - 3600
            stale = stale or (meta.exists() and (meta.stat().st_mtime < cutoff or _source_gone(meta)))
        except OSError:
            continue
        if stale:
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed


def _source_gone(meta: Path) -> bool:
    """Whether the council file an entry was read from is gone (the council deleted, or the table removed)."""
    try:
        found = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    council, file = found.get("council"), found.get("file")
    return bool(council and file) and not (Path(council) / file).exists()


def clear(council_dir: Path | str, root: Path | None) -> int:
    """Remove every entry of the cache folder ``root`` read from the council folder ``council_dir`` (when a council
    is deleted or its data withdrawn); returns how many went."""
    if root is None or not root.is_dir():
        return 0
    target = str(Path(council_dir).resolve())
    removed = 0
    for meta in root.glob("*/meta.json"):
        try:
            if json.loads(meta.read_text(encoding="utf-8")).get("council") == target:
                shutil.rmtree(meta.parent, ignore_errors=True)
                removed += 1
        except (OSError, ValueError):
            continue
    return removed
