"""The box that opens the experiment page, in the seed's style: what changed, by how much, how sure, on how many
cases and how many are still open, in six to eight lines.

The seed's health & social care team put it as "The number of assessments, down 64%"; each line here says the same
for one measure, with the figures behind it, the cases it is compared on and the reading of its interval ("clear",
"could be noise"). The first line says who is compared with whom, over which months and how many cases are open.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from systemic_lib import words

__all__ = ["BOX_LINES", "box_lines", "measure_line"]

BOX_LINES = 8  #: at most: the opening line and up to seven measures, as the seed's box has

#: how each measure reads in the box: per case where it is a count, as the seed writes it
_NAMES = {
    "end_to_end_days": "End-to-end time",
    "assessments": "Assessments per case",
    "people": "People involved end to end, per case",
    "referrals": "Referrals per case",
    "total_hours": "Total hours per case",
    "face_to_face": "Face-to-face time, as a share of all hours",
    "demand_returns": "Demand expected to return",
    "handoffs": "Hand-offs per case",
}
_SURE = {
    "clear improvement": "a clear improvement",
    "clear worsening": "clearly worse",
    "could be noise": "could be noise",
    "no change": "no change",
}


def _how_much(r) -> str:
    """'down 75% (a median 78 to 19 days)', 'from 46% to 64%'."""
    if r["change_unit"] == "points":
        return f"from {words.percent(r['baseline'])} to {words.percent(r['experiment'])}"
    change = float(r["change"])
    way = "down" if change < 0 else "up" if change > 0 else "unchanged"
    size = f" {abs(change):.0f}%" if way != "unchanged" else ""
    median = "a median " if r["measure"] == "end_to_end_days" else ""
    unit = " days" if r["measure"] == "end_to_end_days" else ""
    return f"{way}{size} ({median}{words.figure(r['baseline'])} to {words.figure(r['experiment'])}{unit})"


def _on_what(r) -> str:
    """The cases behind the line: 'on closed cases', 'on every case (open ones counted as open)', 'on the cases
    judged (377 of 540 baseline, 367 of 367 of the team's)'."""
    if r["basis"] == "cases judged":
        return (
            f"on the cases judged ({words.number(r['n_baseline'])} of {words.number(r['cases_baseline'])} "
            f"baseline, {words.number(r['n_experiment'])} of {words.number(r['cases_experiment'])} of the team's)"
        )
    if r["measure"] == "end_to_end_days":
        return "on every case (open ones counted as open)"
    return f"on {r['basis']}"


def measure_line(r) -> str | None:
    """One line of the box for one comparison row; None where the change cannot be figured."""
    if not np.isfinite(float(r["change"])):
        return None
    sure = _SURE.get(r["reading"], r["reading"])
    name = _NAMES.get(r["measure"], r["name"])
    return f"{name}: {_how_much(r)}, {_on_what(r)}: {sure}."


def box_lines(comparison: pd.DataFrame, *, opening: str) -> list[str]:
    """The box: ``opening`` (who against whom, when, how many open), then one line per measure with a change, in the
    comparison's order, up to ``BOX_LINES`` lines in all."""
    lines = [opening]
    for _, r in comparison.iterrows():
        line = measure_line(r)
        if line is not None and len(lines) < BOX_LINES:
            lines.append(line)
    return lines
