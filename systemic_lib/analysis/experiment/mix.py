"""The demand mix of each cohort: did the experiment team handle the same kinds of demand as the old system?

A comparison is fair only if both cohorts handled a like mix of demand: a team given the easier cases looks better
whatever it does. Each compared case gets a demand type, from ``cases.demand_type`` where the cases table has one,
else from its first linked contact (``demand.case_id``). The mix is tested with a chi-square test of independence
(``scipy.stats.chi2_contingency``) at 5%: below that, the mix differs materially and the comparison says so.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.data.contract import COHORTS

__all__ = ["DemandMix", "TEST_NAME", "ALPHA", "case_demand_types", "demand_mix", "mix_words"]

TEST_NAME = "chi-square test of independence"
ALPHA = 0.05  #: the mix differs materially when the test's p-value is below this


@dataclass
class DemandMix:
    """Each cohort's compared cases by demand type, and whether the mix differs (``differs`` None: not testable)."""

    table: pd.DataFrame  #: demand_type, baseline, experiment (cases), baseline_pct, experiment_pct
    typed: dict = field(default_factory=dict)  #: cohort -> cases with a known demand type
    source: str | None = None  #: "cases.csv", "linked contacts", or None when no case has a demand type
    p_value: float | None = None
    statistic: float | None = None
    dof: int | None = None
    differs: bool | None = None

    @property
    def warning(self) -> str | None:
        """The warning the report shows where the mix differs materially."""
        if not self.differs or self.p_value is None:
            return None
        return (
            f"The two cohorts handled a different mix of demand, a difference unlikely to be chance (tested at "
            f"the {ALPHA:.0%} level): part of any difference may come from the cases each handled, not from the way "
            'of working. Compare within matching demand types (basis "per demand type").'
        )

    def figures(self) -> dict:
        """``experiment.json``'s ``demand_mix``."""
        return {
            "source": self.source,
            "test": TEST_NAME,
            "alpha": ALPHA,
            "p_value": None if self.p_value is None else round(self.p_value, 4),
            "cases_with_type": self.typed,
            "types": [
                {"demand_type": t, "baseline": int(b), "experiment": int(e)}
                for t, b, e in zip(self.table["demand_type"], self.table["baseline"], self.table["experiment"])
            ],
        }


#: Where the demand types came from, in a reader's words (experiment.json keeps the file's name).
_SOURCE_WORDS = {"cases.csv": "the case records"}


def case_demand_types(
    cases: pd.DataFrame, contacts: pd.DataFrame | None, own: pd.Series | None = None
) -> tuple[pd.Series, str | None]:
    """Each case's demand type (index: ``cases.case_id``) and where it came from: ``own`` (the cases table's
    ``demand_type``) where given, else the case's first linked contact (``demand.case_id``, earliest
    ``received_at``, file order breaking ties)."""
    ids = cases["case_id"].astype(str)
    if own is not None and own.notna().any():
        return pd.Series(own.to_numpy(), index=ids.to_numpy()), "cases.csv"
    if contacts is None or contacts.empty or "case_id" not in contacts.columns:
        return pd.Series(None, index=ids.to_numpy(), dtype=object), None
    linked = contacts[contacts["case_id"].notna() & contacts["demand_type"].notna()]
    linked = linked.assign(_order=np.arange(len(linked))).sort_values(
        ["case_id", "received_at", "_order"], kind="stable", na_position="last"
    )
    first = linked.drop_duplicates("case_id")
    types = pd.Series(
        first["demand_type"].to_numpy(), index=first["case_id"].astype(str).to_numpy(), dtype=object
    ).reindex(ids.to_numpy())
    return types, "linked contacts" if types.notna().any() else None


def demand_mix(frame: pd.DataFrame, *, source: str | None = None) -> DemandMix:
    """The mix of a per-case frame with ``cohort`` and ``demand_type`` (its compared cases), and the test."""
    typed = frame[frame["demand_type"].notna() & frame["cohort"].isin(COHORTS)]
    counts = (
        typed.groupby(["demand_type", "cohort"])
        .size()
        .unstack("cohort", fill_value=0)
        .reindex(columns=list(COHORTS), fill_value=0)
    )
    counts = (
        counts.assign(_total=counts.sum(axis=1))
        .reset_index()
        .sort_values(["_total", "demand_type"], ascending=[False, True], kind="stable")
        .set_index("demand_type")
    )
    table = counts.drop(columns="_total").reset_index().rename_axis(None, axis=1)
    for c in COHORTS:
        total = table[c].sum()
        table[f"{c}_pct"] = table[c] / total * 100 if total else np.nan
    mix = DemandMix(table, {c: int(table[c].sum()) for c in COHORTS}, source if len(typed) else None)
    observed = table[list(COHORTS)].to_numpy()
    if len(table) >= 2 and (observed.sum(axis=0) > 0).all():
        from scipy.stats import chi2_contingency

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = chi2_contingency(observed)
        mix.statistic, mix.p_value, mix.dof = float(res.statistic), float(res.pvalue), int(res.dof)
        mix.differs = bool(mix.p_value < ALPHA)
    return mix


def mix_words(mix: DemandMix, *, warning: bool = True) -> str:
    """The mix and the test in words, for the report (``warning=False``: without the warning, shown apart)."""
    if mix.source is None:
        return (
            "No compared case has a demand type (neither a demand_type column in cases.csv nor contacts linked "
            "by demand.case_id), so the demand mix of the two cohorts cannot be checked."
        )
    base = (
        f"Demand types from {_SOURCE_WORDS.get(mix.source or '', mix.source)}: {words.count(mix.typed['baseline'], 'baseline case')} and "
        f"{words.count(mix.typed['experiment'], 'experiment case')} have one."
    )
    if mix.differs is None:
        return base + " Too few demand types or cases to test whether the mix differs."
    if mix.differs:
        return base + (" " + mix.warning if warning and mix.warning else "")
    if mix.p_value is None:
        return base
    return base + (f" The mix does not differ by more than chance would explain (tested at the {ALPHA:.0%} level).")
