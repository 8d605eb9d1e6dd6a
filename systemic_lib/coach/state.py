"""Where the team stopped: the current step and service, per council, in ``<council>/.systemic/coach.json``.

Written atomically under the file lock, so a browser that reloads (or a second browser) resumes at the same step.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from systemic_lib.coach import STEP_IDS
from systemic_lib.data import files

STATE_FILE = Path(".systemic") / "coach.json"


def path(council_dir) -> Path:
    return Path(council_dir) / STATE_FILE


def read(council_dir) -> dict:
    """``{"step": ..., "service": ...}``: the first step and no service if the team has not started."""
    try:
        data = json.loads(path(council_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    step = data.get("step") if data.get("step") in STEP_IDS else STEP_IDS[0]
    return {**data, "step": step, "service": data.get("service") or None}


def save(council_dir, **changes) -> dict:
    """Merge ``changes`` into the saved state (read, change, write under the lock); returns the new state."""
    target = path(council_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    with files.locked(target):
        state = read(council_dir)
        state.update(changes)
        state["updated_at"] = dt.datetime.now().isoformat(timespec="seconds")
        files.atomic_write_json(target, state)
    return state
