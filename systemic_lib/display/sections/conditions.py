"""The system conditions a team raised (Check steps 5 and 6), shown in the stage reports and the organisation scan.

Each stage report lists the conditions raised at its step, with counts by status; the organisation scan counts
the open ones by service. A council with no ``system_conditions`` file shows nothing (its reports are as they were).
Everything shown is read through the stage, so free text is redacted, and escaped by ``report``.
"""

from __future__ import annotations

import pandas as pd

from systemic_lib import words
from systemic_lib.data.conditions import STATUSES, open_conditions
from systemic_lib.display import report

__all__ = ["show_conditions", "show_open_by_service", "to_act_on", "STEP_WORDS"]

STEP_WORDS = {"demand": "demand", "capability": "capability", "flow": "flow", "experiment": "experiment"}
_NOT_SET = "not set"


def _read(stage) -> tuple[pd.DataFrame | None, list]:
    """The stage's system conditions (None if the council keeps none) and the table's problems."""
    if not stage.has("system_conditions"):
        return None, []
    frame, problems = stage.table_or_empty("system_conditions", period=False)
    return frame, problems or [p for p in stage.load("system_conditions").problems]


def _by_status(frame: pd.DataFrame) -> str:
    status = frame["status"].fillna(_NOT_SET)
    counts = status.value_counts()
    order = [s for s in (*STATUSES, _NOT_SET) if s in counts.index]
    return ", ".join(f"{words.figure(int(counts[s]))} {s}" for s in order)


def _text(value) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _named(row) -> str:
    """ "“<condition>” (open; the thinking behind it: “<thinking>”)", or the waste seen where the condition is not
    yet named."""
    status = _text(row["status"]) or _NOT_SET
    thinking = _text(row["thinking"])
    behind = f"the thinking behind it: \u201c{thinking}\u201d" if thinking else "the thinking behind it not yet named"
    condition = _text(row["system_condition"])
    if condition is None:
        return f"the waste \u201c{_text(row['waste_seen']) or words.MISSING}\u201d ({status}; condition not yet named)"
    return f"\u201c{condition}\u201d ({status}; {behind})"


def to_act_on(stage, raised_in: str | None, *, named: int = 2) -> list[str]:
    """For "What we found": the system conditions still to act on (open, in hand or status not set) raised at this
    step for the stage's service, or across every service for the organisation scan (``raised_in`` None), with how
    many, when they were raised, and the first ``named`` each beside the management thinking behind it; [] if the
    council keeps no system conditions or none is still to act on."""
    frame, _ = _read(stage)
    if frame is None:
        return []
    still = open_conditions(frame)
    if raised_in is not None:
        still = still[still["raised_in"] == raised_in]
    if still.empty:
        return []
    still = still.sort_values(["raised_at", "id"], kind="stable")
    where = f"raised at the {STEP_WORDS.get(raised_in, raised_in)} step" if raised_in else "across the services"
    when = words.period(still["raised_at"].min(), still["raised_at"].max(), short=True, missing="undated")
    first = "; ".join(_named(r) for _, r in still.head(named).iterrows())
    more = f"; and {words.number(len(still) - named)} more below" if len(still) > named else ""
    return [f"{words.count(len(still), 'system condition')} to act on, {where} ({when}): {first}{more}."]


def show_conditions(stage, raised_in: str) -> None:
    """The system conditions raised at this step for the stage's service: how many and where they stand, then each
    one (the waste seen, the condition, the thinking behind it, who can change it, its status)."""
    frame, problems = _read(stage)
    if frame is None:
        return
    step = STEP_WORDS.get(raised_in, raised_in)
    mine = frame[frame["raised_in"] == raised_in]
    report.heading("System conditions raised at this step", 3)
    if mine.empty:
        report.note(
            f'No system condition has been raised at the {step} step yet. When the team asks "why does '
            "this happen?\", add the answer to the council's system conditions (in the coach app, or in its table of "
            "system conditions)."
        )
    else:
        report.note(f"{words.count(len(mine), 'system condition')} raised at the {step} step: {_by_status(mine)}.")
        rows = mine.sort_values(["raised_at", "id"], kind="stable")
        table = pd.DataFrame(
            {
                "Waste seen": rows["waste_seen"],
                "System condition": rows["system_condition"],
                "Thinking behind it": rows["thinking"],
                "Who can change it": rows["who_can_change"],
                "Status": rows["status"].fillna(_NOT_SET),
                "Raised": rows["raised_at"].map(words.date),
            }
        )
        if rows["changed_at"].notna().any():  # a changed condition starts a phase on the capability charts
            table["Changed on"] = rows["changed_at"].map(lambda d: words.date(d) or words.MISSING)
        report.table(table, max_rows=max(30, len(rows)))
    report.problems(problems, title="Problems in system_conditions")


def show_open_by_service(stage) -> None:
    """For the organisation scan: the system conditions still to act on (open, in hand or not set), by service."""
    frame, problems = _read(stage)
    if frame is None:
        return
    report.heading("System conditions to act on", 2)
    still = open_conditions(frame)
    if still.empty:
        report.note("No system condition is open or in hand.")
    else:
        names = {s.id: s.name for s in stage.council.spec.services}
        status = still["status"].fillna(_NOT_SET)
        table = pd.crosstab(still["service"], status).reindex(columns=["open", "in hand", _NOT_SET], fill_value=0)
        table = table.loc[:, (table > 0).any()]
        table.insert(0, "Service", [names.get(s, s) for s in table.index])
        table["All to act on"] = table.drop(columns="Service").sum(axis=1)
        table = table.sort_values(["All to act on", "Service"], ascending=[False, True])
        table.columns = [str(c).capitalize() if c in ("open", "in hand", _NOT_SET) else c for c in table.columns]
        report.note(
            f"{words.count(len(still), 'system condition')} still to act on across "
            f"{words.count(len(table), 'service')}."
        )
        report.table(table.reset_index(drop=True), max_rows=max(30, len(table)))
    report.problems(problems, title="Problems in system_conditions")
