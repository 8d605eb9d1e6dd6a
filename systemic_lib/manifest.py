"""reports/manifest.json: what every batch job did (status, seconds, error), read by the index pages.

Written by the batch after each run, merged with earlier runs' entries so it describes every report on disk.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from .config import ALL_STAGES
from .files import atomic_write_json

__all__ = ["describe_error", "load_manifest", "write_manifest"]

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


def write_manifest(out_dir: Path, results, *, valid_councils=()) -> Path:
    """Merge this run's entries into reports/manifest.json (atomically, previous kept as manifest.json.prev).

    Entries of jobs not in this run (other councils, other stages) are kept, so the manifest describes every
    report on disk; a council that validates now loses its old "skipped" entry.
    """
    path = Path(out_dir) / "manifest.json"
    old = load_manifest(out_dir)
    new_keys = {(r.council, r.service, r.stage) for r in results}
    valid = set(valid_councils)
    kept = [e for e in old.get("jobs", []) if isinstance(e, dict)
            and (e.get("council"), e.get("service"), e.get("stage")) not in new_keys
            and not (e.get("council") in valid and e.get("stage") is None)]
    entries = kept + [r.to_dict() for r in results]
    entries.sort(key=lambda e: (str(e.get("council")), str(e.get("service") or ""),
                                ALL_STAGES.index(e["stage"]) if e.get("stage") in ALL_STAGES else -1))
    manifest = {"generated_at": dt.datetime.now().isoformat(timespec="seconds"), "reports_dir": str(out_dir),
                "jobs": entries}
    return atomic_write_json(path, manifest, keep_previous=True)


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
        click.echo(f"Warning: {path} cannot be read ({exc}); starting a new manifest "
                   f"(the old one is kept as manifest.json.prev).", err=True)
        return {"jobs": []}
