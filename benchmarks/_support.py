"""Helpers the benchmark scripts share (they are scripts, not a package: each puts this folder on sys.path)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for a server a benchmark starts (a Dask scheduler, `systemic coach`)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
