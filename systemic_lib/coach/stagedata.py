"""Each stage's data and charts for the coach app, computed once per state of the council folder, ahead of need.

A step of the app shows what a stage module computes (``measure.load(stage)``, ``demand.load(stage)``, ...) and
charts drawn from it. Computing them when a step opens made the app slow (the managers' summary took 11 s: four
stage loads, each reading and redacting its tables, and eight charts). Here, per kernel:

* the council is read once (``preload.here()``; again only after one of its files changes), so every stage reads
  its tables from memory;
* each stage's data and each chart image are kept, keyed by the folder's state (its files' sizes and modification
  times): a step opened again, or the summary after the capability step, reuses them; a file the team changed
  (a condition, a system change, a fold of the workshop's decisions) makes them afresh;
* ``warm(service)`` computes them in one background thread while the coach talks through the first steps; a step
  that needs one still being made waits for it rather than making it twice.

Nothing here computes a figure: the stage modules do; this module only decides when.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from systemic_lib.data import preload
from systemic_lib.data.stages import Stage

#: The stage modules behind the steps, imported when first needed (they pull in pandas-heavy code).
LOADERS = {
    "measure": "systemic_lib.analysis.measure",
    "demand": "systemic_lib.analysis.demand",
    "flow": "systemic_lib.analysis.flow",
    "experiment": "systemic_lib.analysis.experiment",
}
#: Seconds after the app opens before the later steps are computed: the page's own first requests go first.
WARM_AFTER = 2.0
_HELD: dict[str, StageData] = {}
_HELD_LOCK = threading.Lock()


def stamp(folder: Path) -> tuple:
    """The state of a council folder's files (name, size, modification time): what the kept data depend on."""
    out = []
    for entry in sorted(Path(folder).iterdir()):
        if entry.is_file() and not entry.name.endswith((".prev", ".lock")):
            st = entry.stat()
            out.append((entry.name, st.st_size, st.st_mtime_ns))
    return tuple(out)


class StageData:
    """The kept stage data and charts of one council folder (one per folder per kernel: ``of(folder)``)."""

    def __init__(self, folder):
        self.folder = Path(folder).resolve()
        self._lock = threading.Lock()
        self._kept: dict[tuple, Future] = {}
        self._stamp: tuple | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="coach-warm")

    def _fresh(self) -> tuple:
        """The folder's state now; everything kept for an older state is dropped, and the council read again."""
        now = stamp(self.folder)
        with self._lock:
            if now != self._stamp:
                self._kept = {}
                self._stamp = now
                preload.here().read(self.folder, None)
        return now

    def _get(self, key: tuple, make):
        """What ``make()`` returns, kept under ``key`` for the folder's present state; made once (another thread
        asking meanwhile waits for it)."""
        full = (self._fresh(), *key)
        with self._lock:
            future = self._kept.get(full)
            mine = future is None
            if future is None:
                future = self._kept[full] = Future()
        if mine:
            try:
                future.set_result(make())
            except BaseException as exc:
                with self._lock:
                    self._kept.pop(full, None)
                future.set_exception(exc)
        return future.result()

    def data(self, stage: str, service: str):
        """``<stage>.load(Stage(folder, service, stage))``, kept."""
        import importlib

        module = importlib.import_module(LOADERS[stage])
        return self._get(("data", stage, service), lambda: module.load(Stage(self.folder, service, stage)))

    def image(self, key: tuple, make) -> str:
        """A chart's ``<img>`` markup (``make()`` draws it), kept under ``key``."""
        return self._get(("image", *key), make)

    def warm(self, service: str, *, then=()) -> None:
        """Compute every stage's data for ``service`` in the background, then call each of ``then`` (charts a step
        will show) with this object."""

        def work():
            time.sleep(WARM_AFTER)  # the page's own first requests go first
            try:  # the rest of the kernel (the person's clicks) before the warming
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
            except (AttributeError, OSError):
                pass
            for name in LOADERS:
                try:
                    self.data(name, service)
                except Exception:
                    continue
            for step in then:
                try:
                    step(self)
                except Exception:
                    continue

        self._pool.submit(work)


def of(folder) -> StageData:
    """The kept stage data of a council folder in this kernel."""
    key = str(Path(folder).resolve())
    with _HELD_LOCK:
        if key not in _HELD:
            _HELD[key] = StageData(key)
        return _HELD[key]
