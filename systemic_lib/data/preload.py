"""Councils read ahead: what the batch's kernel zygote holds before it forks a council's kernels.

A worker renders the notebooks of one council in a row; the zygote (``kernels.py``) reads that council once
(``Preloaded.read``: every table, cut by service, and each service's rows of every table with free text redacted)
and every kernel forked after it starts with the tables in memory (shared, copy-on-write) instead of reading,
decoding, cutting and redacting them again. ``Preloaded`` is handed to council loading through its one hook
(``council.read_from``): ``load_council`` of the same, unchanged folder with the same table cache starts from it.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from systemic_lib.data.contract import TABLES, find_table_file
from systemic_lib.data.council import Council, load_council, read_from
from systemic_lib.data.stages import redacted_cuts

KEEP = (
    2  #: councils held (least recently asked for goes first): the workers sharing a zygote move on at different times
)


def stamp(path: Path, cache_dir: Path | None) -> tuple:
    """What a council read ahead depends on: each file in its folder (name, size, modification time) and the table
    cache it was read through."""
    files = []
    for entry in sorted(path.iterdir()):
        if entry.is_file():
            st = entry.stat()
            files.append((entry.name, st.st_size, st.st_mtime_ns))
    return str(cache_dir), tuple(files)


class Preloaded:
    """The councils this process has read ahead, each with its stamp (``stamp``); ``install()`` hands them to
    council loading."""

    def __init__(self, keep: int = KEEP):
        self.keep = keep
        self._held: OrderedDict[tuple[str, str], tuple[tuple, Council]] = OrderedDict()

    def install(self) -> Preloaded:
        """Make ``load_council`` in this process (and every process forked from it) start from these councils."""
        read_from(self)
        return self

    @staticmethod
    def uninstall() -> None:
        read_from(None)

    def folders(self) -> list[str]:
        """The council folders held, least recently asked for first."""
        return [folder for folder, _ in self._held]

    def council(self, path: Path, cache_dir: Path | None) -> Council | None:
        """The council read from ``path`` with the table cache ``cache_dir``, if held and unchanged since."""
        held = self._held.get((str(path), str(cache_dir)))
        if held is None or held[0] != stamp(path, cache_dir):
            return None
        return held[1]

    def read(self, path: Path | str, cache_dir: Path | str | None) -> None:
        """Read a council and every table it has (with the raw text) and cut each by service; a table from the table
        cache is redacted already (the cache holds redacted text only), so its cuts are what a stage shows
        (``redacted_cuts``); without a table cache, kernels redact their own service's rows."""
        path = Path(path).resolve()
        cache = Path(cache_dir) if cache_dir else None
        key = (str(path), str(cache))
        held = self._held.pop(key, None)
        now = stamp(path, cache)
        if held is not None and held[0] == now:
            self._held[key] = held  # the most recently asked for
            self._redact_cuts(held[1])
            return
        while len(self._held) >= self.keep:
            self._held.popitem(last=False)
        council = load_council(path, cache_dir=cache)  # from the files or the table cache: it is held no more
        for name in TABLES:
            if find_table_file(path, name) is not None:
                table = council.load(name)
                table.cuts = table.cut_by_service()
        self._redact_cuts(council)
        if stamp(path, cache) == now:  # not changed while it was read
            self._held[key] = (now, council)

    @staticmethod
    def _redact_cuts(council: Council) -> None:
        for table in council.loaded().values():
            if table.redacted_cuts is None:
                table.redacted_cuts = redacted_cuts(table, wait=False)


_HERE: Preloaded | None = None


def here() -> Preloaded:
    """This process's councils read ahead, installed for council loading on first use: the coach app's kernel reads
    its council once (``here().read(folder, None)``) and every step starts from it."""
    global _HERE
    if _HERE is None:
        _HERE = Preloaded().install()
    return _HERE
