"""A streaming XES reader: one flat frame of events, trace attributes prefixed ``case:`` (as pm4py names them).

Parsed with ``xml.etree.ElementTree.iterparse``, clearing each trace once read, so memory holds the columns and not
the XML tree. Reads plain ``.xes`` and gzipped ``.xes.gz``. Values stay as typed by the file: ``date`` attributes as
timestamps (offsets kept as read; ``local_times`` turns them into naive local times), ``int``/``float`` as numbers,
``boolean`` as booleans, everything else as text. Nested attribute children (lists, containers) and the log's
``global`` defaults are not applied.
"""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from systemic_lib.errors import SystemicError

_TYPES = {"string", "date", "int", "float", "boolean", "id"}


def _open(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_xes(path, *, case_prefix: str = "case:") -> pd.DataFrame:
    """Read an XES log (plain or gzipped) into one row per event, in file order.

    Trace attributes become ``case:<key>`` columns repeated on each event of the trace.
    """
    path = Path(path)
    if not path.exists():
        raise SystemicError(f"{path}: no such file")
    ev_cols: dict[str, tuple[list, list]] = {}  # key -> (row numbers, values)
    tr_cols: dict[str, tuple[list, list]] = {}  # key -> (trace numbers, values)
    kinds: dict[str, str] = {}
    trace_of_event: list[int] = []
    n_events = n_traces = 0
    depth_trace = depth_event = False
    attr_depth = 0  # > 0 while inside an attribute element (its children are nested attributes)
    root = None
    local: dict[str, str] = {}  # tag -> tag without namespace (a few distinct tags, millions of elements)
    try:
        with _open(path) as fh:
            for action, elem in ET.iterparse(fh, events=("start", "end")):
                tag = local.get(elem.tag)
                if tag is None:
                    tag = local[elem.tag] = _local(elem.tag)
                if action == "start":
                    if root is None:
                        root = elem
                        continue
                    if tag in _TYPES or tag in ("list", "container"):
                        attr_depth += 1
                        if attr_depth > 1 or tag in ("list", "container"):
                            continue
                        key = elem.get("key")
                        if key is None:
                            continue
                        if depth_event:
                            col = ev_cols.setdefault(key, ([], []))
                            col[0].append(n_events)
                            col[1].append(elem.get("value"))
                            kinds.setdefault(key, tag)
                        elif depth_trace:
                            col = tr_cols.setdefault(key, ([], []))
                            col[0].append(n_traces)
                            col[1].append(elem.get("value"))
                            kinds.setdefault(case_prefix + key, tag)
                    elif tag == "event" and depth_trace:
                        depth_event = True
                    elif tag == "trace":
                        depth_trace = True
                    elif tag == "global" or tag == "classifier" or tag == "extension":
                        attr_depth += 1  # skip everything inside
                else:
                    if tag in _TYPES or tag in ("list", "container", "global", "classifier", "extension"):
                        attr_depth -= 1
                    elif tag == "event" and depth_event:
                        depth_event = False
                        trace_of_event.append(n_traces)
                        n_events += 1
                        elem.clear()
                    elif tag == "trace":
                        depth_trace = False
                        n_traces += 1
                        elem.clear()
                        if root is not None:
                            root.clear()
    except ET.ParseError as exc:
        raise SystemicError(f"{path.name}: not a well-formed XES file ({exc}); check the file is complete") from None
    except (EOFError, OSError, zlib.error) as exc:  # a truncated or damaged .gz
        raise SystemicError(
            f"{path.name}: cannot be read as a gzipped XES file ({exc}); download or copy it again"
        ) from None
    if root is None or _local(root.tag) != "log":
        raise SystemicError(f"{path.name}: not an XES log (the first element should be <log>)")
    data = {}
    for key, (rows, values) in ev_cols.items():
        data[key] = _fill(n_events, rows, values)
    trace_idx = np.asarray(trace_of_event, dtype=np.int64)
    for key, (rows, values) in tr_cols.items():
        per_trace = _fill(n_traces, rows, values)
        data[case_prefix + key] = per_trace[trace_idx] if n_events else per_trace[:0]
    frame = pd.DataFrame(data, index=pd.RangeIndex(n_events))
    for col in frame.columns:
        frame[col] = _typed(frame[col], kinds.get(col, "string"))
    return frame


def _fill(n: int, rows: list, values: list) -> np.ndarray:
    out = np.full(n, None, dtype=object)
    out[np.asarray(rows, dtype=np.int64)] = values
    return out


def _typed(values: pd.Series, kind: str) -> pd.Series:
    if kind == "date":
        return pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    if kind in ("int", "float"):
        return pd.to_numeric(values, errors="coerce")
    if kind == "boolean":
        low = values.str.lower()
        return low.map({"true": True, "false": False}).astype("boolean")
    return values.astype("str").where(values.notna())
