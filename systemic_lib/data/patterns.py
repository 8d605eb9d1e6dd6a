"""Patterns a council writes (``rules.csv``, a measure's ``matching:`` in ``council.yaml``), run in linear time.

A pattern is a case-insensitive regular expression matched against citizens' words. Python's own regular expressions
backtrack: ``^(\\w+\\s?)*$`` takes time exponential in the length of a text it does not match, and even ``\\w+x``
takes time quadratic in a long token (20,000 characters: 25 s), so one rule could hang a report until the notebook's
time limit. These patterns run on RE2 instead (the engine pyarrow ships, as ``pyarrow.compute.match_substring_regex``),
which takes time linear in the text for every pattern. RE2 reads the usual syntax (alternatives, classes, repeats,
groups, ``\\b``, ``(?i)``) but not look-arounds or back-references; ``problem(pattern)`` says so before a pattern is
used, and ``systemic validate`` names the file, row and a fix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["problem", "contains", "FIX", "MAX_LENGTH"]

MAX_LENGTH = 1000  #: characters: a pattern longer than this is refused (a rule is a few words)

#: How to fix a pattern that ``problem`` refuses.
FIX = (
    "write the words to look for as plain alternatives (e.g. 'when will|chasing'); look-arounds ((?=, (?<=, (?!) "
    "and back-references (\\1) are not supported"
)

_PROBE = pa.array([""], type=pa.string())


def problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used, in words for a council's analyst; None when it can."""
    if len(pattern) > MAX_LENGTH:
        return f"pattern is {len(pattern):,} characters long (at most {MAX_LENGTH:,})"
    try:
        pc.match_substring_regex(_PROBE, pattern=pattern, ignore_case=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        reason = str(exc).split(":", 1)[-1].strip() or "not understood"
        return f"pattern '{pattern}' is not a valid regular expression here ({reason})"
    return None


def contains(values: pd.Series, pattern: str) -> np.ndarray:
    """Whether each value holds a match of ``pattern`` (case-insensitive), in time linear in the text; a missing
    value matches nothing. Raises ValueError for a pattern ``problem`` refuses."""
    why = problem(pattern)
    if why:
        raise ValueError(why)
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    text = values.astype(object).where(values.notna(), None)
    array = pa.array(
        [v if v is None or isinstance(v, str) else str(v) for v in text.to_numpy()], type=pa.large_string()
    )
    hit = pc.match_substring_regex(array, pattern=pattern, ignore_case=True)
    return hit.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
