"""What the demand report shows, section by section, from ``demand.load``'s data: the headline, the Pareto, failure
types, channels, weekly demand, predictability, what matters, the citizens' words, questions and data problems.

A chart with no contact to draw becomes a plain note instead of empty axes. Each ``show_*`` displays (escaped HTML,
or a chart the notebook shows under the cell) and returns nothing.
"""

from __future__ import annotations

import pandas as pd

from systemic_lib import words
from systemic_lib.analysis import demand
from systemic_lib.display import report
from systemic_lib.display.charts import demand as charts

__all__ = [
    "show_table",
    "show_headline",
    "show_pareto_chart",
    "show_pareto",
    "show_failure_types_chart",
    "show_channel_chart",
    "show_channels",
    "show_weekly_chart",
    "show_predictability",
    "show_what_matters",
    "show_examples",
    "show_questions",
    "show_problems",
]

_PEOPLE = {
    "demand_type": "Demand type",
    "classification": "Value or failure",
    "contacts": "Contacts",
    "pct": "% of contacts",
    "cumulative_pct": "Cumulative %",
    "failure_type": "What failed",
    "channel": "Channel",
    "value": "Value",
    "failure": "Failure",
    "unclassified": "Unclassified",
    "failure_pct": "Failure demand %",
    "theme": "What matters",
    "verbatim": "What the citizen said (redacted)",
    "service_name": "Service",
    "per_week": "Mean per week",
    "verdict": "Is it predictable?",
}

_KINDS = {
    "value": "Value demand",
    "failure": "Failure demand",
    "mixed": "Some contacts value, some failure",
    "unclassified": "Not yet classified",
}


def show_table(table: pd.DataFrame, *, caption: str | None = None, max_rows: int = 20) -> None:
    """Show a demand table to people who don't code: plain column names, % signs, escaped HTML."""
    drop = [
        c
        for c in ("service", "weeks", "lower", "upper", "special_causes", "predictable")
        if c in table.columns and ("service_name" in table.columns or c != "service")
    ]
    if table.empty:
        report.note(f"{caption}: nothing to list." if caption else "Nothing to list.")
        return
    shown = table.drop(columns=drop)
    if "classification" in shown.columns:
        shown = shown.assign(classification=shown["classification"].map(_KINDS).fillna(shown["classification"]))
    shown = shown.rename(columns=_PEOPLE)
    percent = [v for k, v in _PEOPLE.items() if k.endswith("pct") and v in shown.columns]
    report.table(shown, caption=caption, max_rows=max_rows, percent=tuple(percent), decimals=0)


def _no_contacts(data: demand.DemandData, what: str) -> bool:
    """True, with a plain note instead of an empty chart, when there is no contact at all."""
    if len(data.contacts):
        return False
    report.note(f"No contacts in this period, so there is no {what}.")
    return True


def show_headline(data: demand.DemandData) -> None:
    report.headline(demand.headline(data))


def show_pareto_chart(data: demand.DemandData) -> None:
    """The Pareto of demand types (a note when there are no contacts) and, where rules classified any contact, the
    team-only Pareto beside it (the team's own judgement, rules' contacts left out)."""
    if _no_contacts(data, "chart of demand types"):
        return
    charts.pareto_chart(data.contacts)
    share = demand.provenance(data.contacts)
    if share["rule"]:
        report.note(
            f"{share['rule']:,} of the {share['classified']:,} classified contacts "
            f"({words.figure(share['rules_pct'])}%) were classified by rules, not by the team. The second chart "
            "leaves them out: the team's own judgement."
        )
        charts.pareto_chart(data.contacts, team_only=True)
    agreed = demand.agreement_words(data)
    if agreed:  # how far the team agrees on its own classifications (a calibration round)
        report.note(" ".join(agreed))


def show_pareto(data: demand.DemandData) -> None:
    """Type and frequency as a table."""
    show_table(demand.pareto(data.contacts), caption=demand.caption(data, "Type and frequency"))


def show_failure_types_chart(data: demand.DemandData) -> None:
    if not _no_contacts(data, "chart of failure demand"):
        charts.failure_types_chart(data.contacts)


def show_channel_chart(data: demand.DemandData) -> None:
    if not _no_contacts(data, "chart of channels"):
        charts.channel_chart(data.contacts)


def show_channels(data: demand.DemandData) -> None:
    show_table(demand.channel_mix(data.contacts), caption=demand.caption(data, "Channel mix"))


def show_weekly_chart(data: demand.DemandData, *, measure: str = "contacts") -> None:
    """Weekly contacts (or ``measure="failure_pct"``: weekly failure demand %) on a capability chart, a new phase at
    each of the service's known system changes."""
    what = "weekly chart of " + ("contacts" if measure == "contacts" else "failure demand")
    if not _no_contacts(data, what):
        charts.weekly_chart(data.contacts, measure=measure, changes=data.changes)
        said = demand.season_sentence(data) if measure == "contacts" else ""
        if said:
            import matplotlib.pyplot as plt

            plt.show()  # the chart first, then what it shows
            report.note(said)


def show_predictability(data: demand.DemandData) -> None:
    show_table(
        demand.predictability(data.contacts, changes=data.changes),
        caption=demand.caption(data, "Largest demand types, week by week"),
    )


def show_what_matters(data: demand.DemandData) -> None:
    """The largest themes of what matters, each a share of the contacts with what matters recorded (said in the
    caption and the column), never of all contacts."""
    table = demand.what_matters(data.contacts).rename(columns={"pct": demand.WHAT_MATTERS_SHARE})
    if table.empty:
        report.note(f"{demand.what_matters_caption(data)}: nothing to list.")
        return
    shown = table.rename(columns=_PEOPLE)
    report.table(shown, caption=demand.what_matters_caption(data), percent=(demand.WHAT_MATTERS_SHARE,), decimals=0)


def show_examples(data: demand.DemandData) -> None:
    show_table(demand.examples(data.contacts), caption=demand.caption(data, "Example verbatims"))


def show_questions(data: demand.DemandData) -> None:
    report.questions(demand.questions(data))


def show_problems(data: demand.DemandData) -> None:
    """The demand data's problems, then the rules table's."""
    report.problems(data.problems)
