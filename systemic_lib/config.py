"""One place for paths. Everything else asks here where things live."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("SYSTEMIC_ROOT", Path(__file__).resolve().parent.parent))
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
TEMPLATES_DIR = PROJECT_ROOT / "templates"
DATA_DIR = PROJECT_ROOT / "data"
COUNCILS_DIR = DATA_DIR / "councils"
REPORTS_DIR = PROJECT_ROOT / "reports"
SHARED_REAL_DATA = PROJECT_ROOT.parent / "shared" / "data" / "real"


def importable(pythonpath: str | None) -> str:
    """``$PYTHONPATH`` for a process that must import this ``systemic_lib`` (a kernel, the kernel zygote): the
    project root first, unless it is there already."""
    root = str(PROJECT_ROOT)
    paths = [p for p in (pythonpath or "").split(os.pathsep) if p]
    return os.pathsep.join(paths if root in paths else [root, *paths])


#: The batch's table cache: parsed council tables, which hold citizens' words, so never inside the reports folder.
CACHE_DIR = Path(
    os.environ.get("SYSTEMIC_CACHE_DIR")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "systemic" / "tables"
)

#: A TLS Dask cluster's certificates (``systemic certs``): keys, so never committed (.gitignore).
CERTS_DIR = PROJECT_ROOT / "certs"

#: The notebooks the batch runs, in method order. ``organisation_scan`` runs once per council.
STAGES = ("demand", "flow", "experiment", "measure")
COUNCIL_STAGE = "organisation_scan"
KERNEL_NAME = "systemic"
STAGE_NAMES = {
    "demand": "Understand demand",
    "flow": "Map flow",
    "experiment": "Experiment",
    "measure": "Measure",
    "organisation_scan": "Organisation scan",
}
"""Plain words for each notebook, in method order."""
ALL_STAGES = (*STAGES, COUNCIL_STAGE)
