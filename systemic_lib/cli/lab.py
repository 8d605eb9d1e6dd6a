"""JupyterLab's save hook for the workbook: a notebook of this project (``notebooks/*.ipynb``, the tracked ones) is
saved without its outputs, so that a run in JupyterLab never writes citizens' words (even redacted) or a council's
figures into the tracked notebooks. ``make lab`` sets it (``--ContentsManager.pre_save_hook``); ``make install`` also
sets nbstripout as git's filter for them, for notebooks saved by any other editor. Notebooks elsewhere keep their
outputs.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbstripout import strip_output

from systemic_lib import config

#: What nbstripout's command line strips beside outputs: saved widget state (it can hold a council's data) and
#: per-session cell metadata.
EXTRA_KEYS = [
    "metadata.signature",
    "metadata.widgets",
    "cell.metadata.collapsed",
    "cell.metadata.ExecuteTime",
    "cell.metadata.execution",
    "cell.metadata.heading_collapsed",
    "cell.metadata.hidden",
    "cell.metadata.scrolled",
]


def strip_outputs(model: dict, path: str = "", contents_manager=None, **_kwargs) -> None:
    """Strip outputs (and execution counts) from a notebook about to be saved under the project's notebooks folder;
    cell ids and metadata stay, as nbstripout's git filter leaves them (``--keep-id``)."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    root = Path(getattr(contents_manager, "root_dir", "") or ".")
    where = (root / path).resolve()
    if where.parent != config.NOTEBOOKS_DIR.resolve():
        return
    nb = nbformat.from_dict(model["content"])
    model["content"] = strip_output(nb, keep_output=False, keep_count=False, keep_id=True, extra_keys=EXTRA_KEYS)
