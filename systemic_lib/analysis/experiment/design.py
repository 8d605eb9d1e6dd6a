"""How the experiment was set up, read from its cases: did the two ways of working run alongside, or did the old
system's cases come before the team's (before and after)?

A fair experiment compares like with like over the same months (METHOD.md, "A fair experiment"). The design is read
from when each cohort's compared cases opened: the two ways of working ran **alongside** from the day both were
taking cases (the later of the two cohorts' first openings); where every baseline case opened before the team's
first case the comparison is **before and after**, and anything else that changed in between (the season, staff,
demand) is part of the difference; in between, it is **partly alongside**, with the baseline cases that opened
before the team began counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from systemic_lib import words

__all__ = ["ALONGSIDE", "PARTLY", "BEFORE_AFTER", "NEW_SERVICE", "NONE", "Design", "design_of"]

ALONGSIDE = "alongside"
PARTLY = "partly alongside"
BEFORE_AFTER = "before and after"
#: a new service built by experiment (the seed's hub): every case is the team's, and there is no old system
NEW_SERVICE = "new service"
NONE = "no comparison"


@dataclass(frozen=True)
class Design:
    """The experiment's design as its cases show it, with the dates and counts its sentence needs."""

    kind: str  #: ALONGSIDE, PARTLY, BEFORE_AFTER, NEW_SERVICE or NONE
    since: pd.Timestamp | None = None  #: the first day both ways of working were taking cases
    baseline_before: int = 0  #: baseline cases opened before ``since``
    baseline: tuple = (None, None)  #: the baseline's compared cases: first opened, last opened
    experiment: tuple = (None, None)  #: the experiment's compared cases: first opened, last opened

    @property
    def has_before(self) -> bool:
        """Some of the old system's cases came before the team began: a before-and-after chart has a 'before'."""
        return self.kind in (PARTLY, BEFORE_AFTER)

    @property
    def sentence(self) -> str:
        """'the two ways of working ran alongside from 1 July 2024', or what the comparison is instead."""
        if self.kind == ALONGSIDE:
            return f"the two ways of working ran alongside from {words.date(self.since)}"
        if self.kind == PARTLY:
            return (
                f"the two ways of working ran alongside from {words.date(self.since)}; "
                f"{words.count(self.baseline_before, 'baseline case')} opened before then"
            )
        if self.kind == BEFORE_AFTER:
            return (
                f"the old system's cases opened {words.period(*self.baseline)}, before the team's "
                f"({words.period(*self.experiment)}): a before-and-after comparison, so anything else that changed "
                "in between (the season, staff, demand) is part of the difference"
            )
        if self.kind == NEW_SERVICE:
            return "a new service built by experiment, with no old system to compare with"
        return "there are not two ways of working to compare"

    def figures(self) -> dict:
        """``experiment.json``'s ``design`` and ``alongside_from``."""
        return {
            "design": self.kind,
            "alongside_from": None if self.since is None else self.since.date().isoformat(),
            "baseline_opened_before": self.baseline_before if self.kind == PARTLY else None,
        }


def design_of(included: pd.DataFrame, start=None) -> Design:
    """The design of a comparison from its compared cases (``cohort`` and ``opened_at``) and the day the team began
    (``start``, council.yaml's; else its first case): the two ran alongside from the later of that day and the
    baseline's first case; baseline cases opened before then came before the team."""
    opened = pd.to_datetime(included["opened_at"])
    spans = {}
    for cohort in ("baseline", "experiment"):
        dates = opened[included["cohort"].eq(cohort).to_numpy()].dropna()
        spans[cohort] = (dates.min(), dates.max()) if len(dates) else (None, None)
    (b0, b1), e0 = spans["baseline"], spans["experiment"][0]
    if b0 is None or e0 is None:
        return Design(NONE, baseline=spans["baseline"], experiment=spans["experiment"])
    began = pd.Timestamp(start) if start is not None and not pd.isna(start) else e0
    since = max(began, b0).normalize()
    base = opened[included["cohort"].eq("baseline").to_numpy()].dropna()
    before = int((base < since).sum())
    if b1 < e0 or before == len(base):
        return Design(BEFORE_AFTER, baseline=spans["baseline"], experiment=spans["experiment"])
    return Design(ALONGSIDE if before == 0 else PARTLY, since, before, spans["baseline"], spans["experiment"])
