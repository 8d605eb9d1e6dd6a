"""reports/manifest.json: what every batch job did (status, seconds, error), read by the index pages.

Written by the batch after each job (``ManifestWriter``, atomically), merged with earlier runs' entries so that it
describes every report on disk, even when the run is interrupted or the disk fills up.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import shutil
from pathlib import Path

import click

from systemic_lib.config import ALL_STAGES
from systemic_lib.data.files import atomic_write_json

__all__ = ["ManifestWriter", "describe_error", "load_manifest", "storage_error", "sweep_stray_tmp", "write_manifest"]


def describe_error(error: dict | None) -> list[str]:
    """An error from the manifest as short lines: where it happened, then what it was."""
    if not error:
        return []
    lines = []
    if error.get("cell"):
        where = f"cell {error['cell']}"
        if error.get("execution_count"):
            where += f" (In [{error['execution_count']}])"
        if error.get("source"):
            where += f": {error['source']}"
        lines.append(where)
    lines.append(f"{error.get('name', 'Error')}: {error.get('message', '')}".rstrip(": "))
    lines += list(error.get("problems", []))
    return lines


_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
_NOT_ALLOWED = {errno.EACCES, errno.EPERM, errno.EROFS}


def storage_error(exc: BaseException | None) -> dict | None:
    """A full disk or a folder that may not be written, named as such (error name and message), or None.

    Looks through chained exceptions, since libraries re-raise with their own type."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL | _NOT_ALLOWED:
            where = exc.filename or "the reports folder"
            if exc.errno in _DISK_FULL:
                return {
                    "name": "DiskFull",
                    "message": f"no space left on the disk to write {where}: free some space (or write the "
                    "reports to another disk with --out) and run the batch again",
                }
            return {
                "name": "PermissionDenied",
                "message": f"not allowed to write {where} ({exc.strerror or 'read-only'}): choose a folder you "
                "can write with --out, or change its permissions",
            }
        exc = exc.__cause__ or exc.__context__
    return None


def sweep_stray_tmp(folder: Path, names=("manifest.json", "index.html")) -> None:
    """Remove ``.<name>.*.tmp`` files that a killed save of these files left in ``folder``."""
    for name in names:
        for stray in Path(folder).glob(f".{name}.*.tmp"):
            stray.unlink(missing_ok=True)


def _key(entry: dict) -> tuple:
    return entry.get("council"), entry.get("service"), entry.get("stage")


class ManifestWriter:
    """The manifest of one batch run, written after every job so that nothing finished is ever lost.

    Opened at the start of a run: earlier runs' entries are kept (a council that validates now loses its old
    "skipped" entry), the manifest as it was is kept once as manifest.json.prev, and stray ``.tmp`` files of a
    killed save are removed. ``add(results)`` replaces the entries of those jobs and rewrites the file atomically.
    """

    def __init__(self, out_dir, *, valid_councils=()):
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / "manifest.json"
        valid = set(valid_councils)
        old = load_manifest(self.out_dir)
        self.entries: dict[tuple, dict] = {
            _key(e): e
            for e in old.get("jobs", [])
            if isinstance(e, dict) and not (e.get("council") in valid and e.get("stage") is None)
        }
        #: each page printed to PDF (``systemic report --pdf``), by page: ok, or failed with its reason
        self.pdfs: dict[str, dict] = {
            str(e["page"]): e for e in old.get("pdfs", []) if isinstance(e, dict) and e.get("page")
        }
        if self.out_dir.is_dir():
            sweep_stray_tmp(self.out_dir)
            if self.path.exists():
                shutil.copy2(self.path, self.path.with_name("manifest.json.prev"))

    def add(self, results) -> Path:
        for r in results:
            entry = r.to_dict() if hasattr(r, "to_dict") else dict(r)
            self.entries.pop(_key(entry), None)
            self.entries[_key(entry)] = entry
        return self.write()

    def add_pdfs(self, entries) -> Path:
        """Record pages printed to PDF (``run.pdf.Printed.entries``), replacing earlier runs' entries of them."""
        for entry in entries:
            self.pdfs[str(entry["page"])] = dict(entry)
        return self.write()

    def write(self) -> Path:
        entries = sorted(
            self.entries.values(),
            key=lambda e: (
                str(e.get("council")),
                str(e.get("service") or ""),
                ALL_STAGES.index(e["stage"]) if e.get("stage") in ALL_STAGES else -1,
            ),
        )
        manifest = {
            "generated_at": dt.datetime.now().isoformat(timespec="seconds"),
            "reports_dir": str(self.out_dir),
            "jobs": entries,
        }
        if self.pdfs:
            manifest["pdfs"] = [self.pdfs[page] for page in sorted(self.pdfs)]
        return atomic_write_json(self.path, manifest)


def write_manifest(out_dir: Path, results, *, valid_councils=()) -> Path:
    """Merge this run's entries into reports/manifest.json (atomically, previous kept as manifest.json.prev).

    Entries of jobs not in this run (other councils, other stages) are kept, so the manifest describes every
    report on disk; a council that validates now loses its old "skipped" entry.
    """
    return ManifestWriter(out_dir, valid_councils=valid_councils).add(results)


def load_manifest(out_dir) -> dict:
    """reports/manifest.json, or an empty one if absent or unreadable (a warning says so)."""
    path = Path(out_dir) / "manifest.json"
    if not path.exists():
        return {"jobs": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("jobs"), list):
            return data
        raise ValueError("no 'jobs' list")
    except (OSError, ValueError) as exc:
        click.echo(
            f"Warning: {path} cannot be read ({exc}); starting a new manifest "
            f"(the old one is kept as manifest.json.prev).",
            err=True,
        )
        return {"jobs": []}
