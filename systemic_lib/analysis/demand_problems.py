"""Problems in a council's demand data, for one service or all: the data contract's checks, cut to the service's
rows, plus what the demand stage warns about (no verbatim, no demand type, not yet classified, failure with no
failure type), each with a count and its first row in the file. ``demand.data_problems`` is this function."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from systemic_lib import words
from systemic_lib.data.contract import ERROR, WARNING, Problem, parse_table
from systemic_lib.data.stages import Stage

__all__ = ["data_problems", "NO_TYPE"]

NO_TYPE = "(no demand type)"


def data_problems(stage: Stage) -> list[Problem]:
    """Problems in the demand data of the stage's service (council-wide when it has none): the contract's checks
    plus contacts with no verbatim, no demand type, not yet classified, or failure with no failure type; each with
    a count and its first row in the file.

    Built from the council's table as read once (``stage.load("demand")``: its text cells and problems, redacted);
    nothing is read again, and only the service's rows are redacted."""
    council, service = stage.council, stage.service_id
    result = council.load("demand")
    if result.path is None:
        return []
    if not result.has_raw:
        return list(result.problems)
    file = result.path.name
    if service is None:
        raw = result.raw
        if raw is None:
            return list(result.problems)
        positions = np.arange(len(raw))
        problems, frame = list(result.problems), result.frame
    else:
        raw, positions = result.raw_of_service(service)
        parsed = parse_table(raw, "demand", file=file, services=set(council.services))
        problems, frame = parsed.problems, parsed.frame

    def where(row):  # a row of the service's subset back to the file's row
        return None if row is None else int(positions[row - 2]) + 2

    out = [replace(p, row=where(p.row)) for p in problems]
    if not frame.empty:
        text_blank = lambda col: frame[col].isna() | frame[col].astype("str").str.strip().eq("")
        checks = [
            (
                text_blank("verbatim"),
                "verbatim",
                "has contacts with no verbatim (the citizen's words); they are counted but cannot be read",
                "record what the citizen said, in their words",
            ),
            (
                text_blank("demand_type"),
                "demand_type",
                f"has contacts with no demand type; they are counted as '{NO_TYPE}'",
                "name each demand in a short phrase",
            ),
            _unclassified(stage, frame),
            (
                frame["classification"].eq("failure") & frame["failure_type"].isna(),
                "failure_type",
                "has failure demand with no failure type",
                "say what failed (progress chasing, not done, ...)",
            ),
        ]
        for mask, column, message, fix in checks:
            mask = np.asarray(mask, dtype=bool)
            if mask.any():
                first = int(np.flatnonzero(mask)[0])
                out.append(
                    Problem(
                        file,
                        message,
                        fix,
                        row=int(positions[first]) + 2,
                        column=column,
                        count=int(mask.sum()),
                        severity=WARNING,
                    )
                )
    return sorted(out, key=lambda p: p.severity != ERROR)


def _unclassified(stage, frame) -> tuple:
    """The check for contacts not yet classified, counted after the council's rules, as every figure counts them: a
    contact a rule classified is classified (the demand report says how many), so "all classified" on the page is
    never beside "202 counted as unclassified" here. Only what is still unclassified is flagged."""
    blank = frame["classification"].isna().to_numpy(dtype=bool)
    ruled = 0
    if isinstance(stage, Stage) and blank.any():
        try:
            after = stage.contacts(period=False).frame
        except Exception:
            after = None
        if after is not None and len(after) == len(frame):  # the same rows, in the file's order
            ruled = int((blank & after["classification"].notna().to_numpy(dtype=bool)).sum())
            blank = blank & after["classification"].isna().to_numpy(dtype=bool)
    by_rules = f" (the council's rules classified {words.count(ruled, 'other')})" if ruled else ""
    return (
        blank,
        "classification",
        f"has contacts not yet classified as value or failure; they are counted as unclassified{by_rules}",
        "classify them with the classifier or add rules.csv",
    )
