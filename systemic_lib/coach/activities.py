"""The flow step's write: the team's value/waste marks into the council's activity catalogue (``activities.csv``,
or ``.xlsx`` if that is what the council keeps), atomically, under the lock, with the previous version kept.

Marked activities keep their category and every other column and row; new ones are added with a blank category.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from systemic_lib.data import files
from systemic_lib.data.contract import STEP_TYPES, TABLES, find_table_file, read_for_update
from systemic_lib.errors import SystemicError


def mark_steps(council_dir, service: str, marks: dict[str, str]) -> Path:
    """Set ``step_type`` (value or waste) for each activity of ``service`` in ``marks``; returns the file."""
    bad = {a: t for a, t in marks.items() if t not in STEP_TYPES}
    if bad:
        raise SystemicError(f"a step is value or waste, not {', '.join(sorted(set(bad.values())))}")
    folder = Path(council_dir)
    with files.locked(folder / "activities"):  # the same lock for .csv and .xlsx
        path = find_table_file(folder, "activities") or folder / "activities.csv"
        frame = read_for_update(path, "activities", "mark steps in")
        frame = frame.astype(str)
        for col in TABLES["activities"].column_names:
            if col not in frame:
                frame[col] = ""
        new = []
        for activity, step_type in marks.items():
            mine = (frame["service"].str.strip() == service) & (frame["activity"].str.strip() == activity)
            if mine.any():
                frame.loc[mine, "step_type"] = step_type
            else:
                new.append(
                    {**{c: "" for c in frame.columns}, "service": service, "activity": activity, "step_type": step_type}
                )
        if new:
            frame = pd.concat([frame, pd.DataFrame(new, dtype=str)], ignore_index=True)
        return files.write_table_atomic(frame, path, keep_previous=True)
