"""Understand demand: what citizens ask of a service, how much of it is failure demand, and what matters to them.

``load(stage)`` gives a ``DemandData`` (contacts with the council's rules applied, problems, period) for ``headline``,
``questions``, ``figures`` and ``period``. Each analysis function (``pareto``, ``channel_mix``, ``weekly``, ...) takes
the demand table (one row per contact) and works on its own; nothing here reads a file or draws (``charts/demand.py``,
``sections/demand.py``). Unclassified contacts are their own "unclassified" row in every count, never dropped.
Failure demand % is of the classified contacts; one-stop % of the contacts where one-stop was recorded.

Counting factorises each key column once and counts code combinations with ``numpy.bincount`` (``_count``);
``summary`` factorises once for the headline, Pareto, failure types, channel mix and weekly figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.analysis import agreement, season
from systemic_lib.analysis.demand_problems import NO_TYPE, data_problems
from systemic_lib.analysis.spc import XmrResult, xmr
from systemic_lib.data.classify import by_rules, provenance
from systemic_lib.data.contract import Problem, empty_frame
from systemic_lib.data.decisions import calibration
from systemic_lib.data.redact import redact_series
from systemic_lib.data.stages import Stage
from systemic_lib.errors import ContractError, SystemicError

__all__ = [
    "DemandData",
    "load",
    "headline",
    "questions",
    "figures",
    "findings",
    "period",
    "UNCLASSIFIED",
    "headline_figures",
    "pareto",
    "demand_types",
    "failure_types",
    "channel_mix",
    "weekly",
    "undated",
    "weekly_capability",
    "predictability",
    "season_sentence",
    "what_matters",
    "what_matters_recorded",
    "what_matters_caption",
    "WHAT_MATTERS_SHARE",
    "summary",
    "headline_sentence",
    "examples",
    "data_problems",
    "stage_contacts",
    "stage_problems",
    "caption",
    "period_caption",
    "service_names",
    "provenance",
    "by_team",
]

UNCLASSIFIED = "unclassified"
NOT_RECORDED = "(not recorded)"
NO_CHANNEL = "(no channel)"
NO_SERVICE = "(no service)"

_FILL = {
    "classification": UNCLASSIFIED,
    "demand_type": NO_TYPE,
    "failure_type": NOT_RECORDED,
    "channel": NO_CHANNEL,
    "service": NO_SERVICE,
}


# ------------------------------------------------------------------------------------------------ counting core
def _check(data: pd.DataFrame, columns) -> None:
    if not isinstance(data, pd.DataFrame):
        raise SystemicError("demand functions take the demand table (a DataFrame of contacts) as their first argument")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise SystemicError(
            f"the demand table has no column {', '.join(repr(c) for c in missing)}; "
            "load it with Council.table('demand') or add the column (see README, demand.csv)"
        )


def _week_starts(received_at: pd.Series) -> np.ndarray:
    """The Monday of each contact's week as datetime64[D] (NaT where the date is missing)."""
    days = received_at.to_numpy("datetime64[D]")
    nat = np.isnat(days)
    n = days.astype("int64")
    monday = n - (n + 3) % 7  # 1970-01-01 was a Thursday
    return np.where(nat, np.iinfo("int64").min, monday).view("datetime64[D]")


def _codes(data: pd.DataFrame, keys) -> dict:
    """Each key column factorised once: key -> (codes with 0 = missing, number of codes, labels)."""
    _check(data, [k for k in keys if k != "week"] + (["received_at"] if "week" in keys else []))
    out = {}
    for k in keys:
        if k == "week":  # weeks are a dense integer range already: no hashing needed
            days = _week_starts(data["received_at"])
            valid = ~np.isnat(days)
            n = days.view("int64")
            first = n[valid].min() if valid.any() else 0
            weeks = (n - first) // 7 + 1
            size = int(weeks[valid].max()) + 1 if valid.any() else 1
            labels = (np.datetime64(int(first), "D") + 7 * np.arange(size - 1)).astype("datetime64[D]")
            out[k] = (np.where(valid, weeks, 0).astype(np.int64), size, labels)
            continue
        column = data[k]
        if isinstance(column.dtype, pd.BooleanDtype):  # one_stop: 0 missing, 1 no, 2 yes
            arr = column.array
            c = np.where(arr._mask, -1, arr._data.astype(np.int64))
            out[k] = (c + 1, 3, np.array([False, True]))
            continue
        c, u = pd.factorize(column, use_na_sentinel=True)
        out[k] = (c.astype(np.int64) + 1, len(u) + 1, u)
    return out


def _count(codes: dict, keys) -> pd.DataFrame:
    """Contacts counted by every combination of ``keys`` that occurs, from factorised codes."""
    keys = tuple(keys)
    combined, total = None, 1
    for k in keys:
        c, size, _ = codes[k]
        combined = c if combined is None else combined * size + c
        total *= size
    if combined is None or len(combined) == 0:
        return pd.DataFrame({**{k: pd.Series(dtype=object) for k in keys}, "count": pd.Series(dtype="int64")})
    if total <= 4_000_000:
        counts = np.bincount(combined, minlength=total)
        idx = np.flatnonzero(counts)
        cnt = counts[idx]
    else:
        idx, cnt = np.unique(combined, return_counts=True)
    out = {}
    for k in reversed(keys):
        _, size, u = codes[k]
        out[k] = _decode(k, idx % size, u)
        idx = idx // size
    frame = pd.DataFrame({k: out[k] for k in keys})
    frame["count"] = cnt.astype("int64")
    return frame


def _cube(data: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
    """Contacts by every combination of ``keys`` that occurs (``week``: its Monday; ``one_stop``: yes/no/unknown)."""
    return _count(_codes(data, keys), keys)


def _decode(key: str, code: np.ndarray, uniques) -> pd.Series:
    if key == "week":
        arr = np.append(np.array([np.datetime64("NaT", "s")]), np.asarray(uniques, dtype="datetime64[s]"))
        return pd.Series(arr[code])
    if key == "one_stop":
        words = np.array(["unknown"] + ["yes" if bool(v) else "no" for v in uniques], dtype=object)
        return pd.Series(words[code])
    arr = np.array([_FILL.get(key, NOT_RECORDED)] + [str(v) for v in uniques], dtype=object)
    return pd.Series(arr[code])


def _sum(cube: pd.DataFrame, by) -> pd.DataFrame:
    return cube.groupby(list(by), sort=False, observed=True)["count"].sum().reset_index()


def _wide(cube: pd.DataFrame, by: str) -> pd.DataFrame:
    """Counts by ``by`` with one column each for value, failure and unclassified."""
    wide = cube.groupby([by, "classification"], sort=True)["count"].sum().unstack("classification", fill_value=0)
    return wide.reindex(columns=["value", "failure", UNCLASSIFIED], fill_value=0)


def _pct(part, whole):
    """part ÷ whole × 100, NaN where whole is 0 (works on scalars and arrays)."""
    part = np.asarray(part, dtype=float)
    whole = np.asarray(whole, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(whole > 0, part / np.where(whole > 0, whole, 1) * 100, np.nan)
    return out if out.ndim else float(out)


def _none(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


# -------------------------------------------------------------------------------------------------- the figures
def _headline_from(cube: pd.DataFrame) -> dict:
    by_class = cube.groupby("classification")["count"].sum()
    value = int(by_class.get("value", 0))
    failure = int(by_class.get("failure", 0))
    contacts = int(cube["count"].sum())
    out = {
        "contacts": contacts,
        "value": value,
        "failure": failure,
        "unclassified": contacts - value - failure,
        "failure_pct": _none(_pct(failure, value + failure)),
    }
    if "one_stop" in cube.columns:
        by_stop = cube.groupby("one_stop")["count"].sum()
        yes, no = int(by_stop.get("yes", 0)), int(by_stop.get("no", 0))
        out.update(one_stop_pct=_none(_pct(yes, yes + no)), one_stop_recorded=yes + no)
    else:
        out.update(one_stop_pct=None, one_stop_recorded=0)
    return out


def headline_figures(data: pd.DataFrame) -> dict:
    """Contacts, value, failure, unclassified, failure % (of classified) and one-stop % (of those recorded).

    Percentages are None when there is nothing to divide by; ``one_stop_recorded`` says how many contacts the
    one-stop % rests on.
    """
    keys = ("classification", "one_stop") if "one_stop" in data.columns else ("classification",)
    return _headline_from(_cube(data, keys))


def _pareto_from(cube: pd.DataFrame, by_service: bool) -> pd.DataFrame:
    group = (["service"] if by_service else []) + ["demand_type", "classification"]
    table = _sum(cube, group).rename(columns={"count": "contacts"})
    table = table.sort_values(
        (["service"] if by_service else []) + ["contacts", "demand_type", "classification"],
        ascending=([True] if by_service else []) + [False, True, True],
        kind="stable",
    )
    if by_service:
        total = table.groupby("service")["contacts"].transform("sum")
        cum = table.groupby("service")["contacts"].cumsum()
    else:
        total = table["contacts"].sum()
        cum = table["contacts"].cumsum()
    table["pct"] = _pct(table["contacts"], total)
    table["cumulative_pct"] = _pct(cum, total)
    return table.reset_index(drop=True)


def by_team(data: pd.DataFrame) -> pd.DataFrame:
    """The contacts without those a rule classified (``classified_by`` ``rule:<row>``): the team's own judgement."""
    return data[~by_rules(data)] if "classified_by" in data.columns else data


def pareto(data: pd.DataFrame, *, by_service: bool = False, team_only: bool = False) -> pd.DataFrame:
    """Type and frequency: one row per demand type and classification, most frequent first, with % and cumulative %.

    A demand type split between value, failure and unclassified gets a row for each. With ``by_service`` the
    table is per service (its % of that service's contacts); otherwise it is for all the contacts given. With
    ``team_only`` the contacts a rule classified are left out (``by_team``)."""
    data = by_team(data) if team_only else data
    keys = (("service",) if by_service else ()) + ("demand_type", "classification")
    return _pareto_from(_cube(data, keys), by_service)


def _failure_types_from(cube: pd.DataFrame) -> pd.DataFrame:
    fail = cube[cube["classification"] == "failure"]
    table = _sum(fail, ["failure_type"]).rename(columns={"count": "contacts"})
    table = table.sort_values(["contacts", "failure_type"], ascending=[False, True], kind="stable")
    table["pct"] = _pct(table["contacts"], table["contacts"].sum())
    return table.reset_index(drop=True)


def demand_types(data: pd.DataFrame, *, team_only: bool = False) -> pd.DataFrame:
    """One row per demand type (value, failure and unclassified contacts side by side, so a type split between them
    is one row), with its total, % of all contacts and cumulative %, most frequent first: the Pareto chart's bars.
    ``team_only`` leaves out the contacts a rule classified."""
    wide = (
        pareto(data, team_only=team_only)
        .pivot_table(
            index="demand_type", columns="classification", values="contacts", aggfunc="sum", fill_value=0, observed=True
        )
        .reindex(columns=["value", "failure", UNCLASSIFIED], fill_value=0)
    )
    wide["total"] = wide.sum(axis=1)
    wide = wide.reset_index().sort_values(["total", "demand_type"], ascending=[False, True], kind="stable")
    wide["pct"] = _pct(wide["total"], wide["total"].sum())
    wide["cumulative_pct"] = wide["pct"].cumsum()
    return wide


def failure_types(data: pd.DataFrame) -> pd.DataFrame:
    """Failure demand by failure type (what failed), largest first; % of failure demand. Blank = "(not recorded)"."""
    return _failure_types_from(_cube(data, ("classification", "failure_type")))


def _channel_from(cube: pd.DataFrame) -> pd.DataFrame:
    wide = _wide(cube, "channel")
    table = pd.DataFrame(
        {
            "channel": wide.index.astype(str),
            "contacts": wide.sum(axis=1).to_numpy(),
            "value": wide["value"].to_numpy(),
            "failure": wide["failure"].to_numpy(),
            "unclassified": wide[UNCLASSIFIED].to_numpy(),
        }
    )
    table["pct"] = _pct(table["contacts"], table["contacts"].sum())
    table["failure_pct"] = _pct(table["failure"], table["value"] + table["failure"])
    table = table.astype({c: "int64" for c in ("contacts", "value", "failure", "unclassified")})
    return table.sort_values(["contacts", "channel"], ascending=[False, True], kind="stable").reset_index(drop=True)


def channel_mix(data: pd.DataFrame) -> pd.DataFrame:
    """Contacts per channel (% of all) with value, failure, unclassified and failure % per channel."""
    return _channel_from(_cube(data, ("channel", "classification")))


def _weekly_from(cube: pd.DataFrame) -> pd.DataFrame:
    dated = cube[cube["week"].notna()]
    if dated.empty:
        return pd.DataFrame(
            {
                "week": pd.Series(dtype="datetime64[s]"),
                **{c: pd.Series(dtype="int64") for c in ("contacts", "value", "failure", "unclassified")},
                "failure_pct": pd.Series(dtype=float),
            }
        )
    wide = _wide(dated, "week")
    weeks = pd.date_range(wide.index.min(), wide.index.max(), freq="7D", unit="s")
    wide = wide.reindex(index=weeks, fill_value=0)
    out = pd.DataFrame(
        {
            "week": weeks,
            "contacts": wide.sum(axis=1).to_numpy(),
            "value": wide["value"].to_numpy(),
            "failure": wide["failure"].to_numpy(),
            "unclassified": wide[UNCLASSIFIED].to_numpy(),
        }
    )
    out = out.astype({c: "int64" for c in ("contacts", "value", "failure", "unclassified")})
    out["failure_pct"] = _pct(out["failure"], out["value"] + out["failure"])
    return out


def weekly(data: pd.DataFrame) -> pd.DataFrame:
    """Contacts per week (weeks start on Monday; empty weeks are 0) with value, failure and weekly failure %.

    Contacts with no ``received_at`` cannot be placed in a week: ``undated`` counts them.
    """
    return _weekly_from(_cube(data, ("week", "classification")))


def undated(data: pd.DataFrame) -> int:
    """Contacts with no ``received_at``: counted everywhere, but in no week."""
    _check(data, ["received_at"])
    return int(data["received_at"].isna().sum())


def weekly_capability(table: pd.DataFrame, *, measure: str = "contacts", changes=()) -> tuple[XmrResult, list]:
    """The capability chart (``spc.xmr``) of a ``weekly`` table's ``measure`` ("contacts", or "failure_pct": lower
    is better, at most 100), a new phase at each known system change inside the weeks; returns ``(chart, changes
    used)``."""

    if measure not in ("contacts", "failure_pct"):
        raise SystemicError("weekly_chart measure must be 'contacts' or 'failure_pct'")
    inside = [c for c in changes if table["week"].min() < pd.Timestamp(c.date) <= table["week"].max()]
    chart = xmr(
        table[measure].to_numpy(dtype=float),
        dates=table["week"],
        phase_starts=[pd.Timestamp(c.date) for c in inside],
        improvement="neutral" if measure == "contacts" else "decrease",
        floor=0,
        ceiling=100 if measure == "failure_pct" else None,
    )
    return chart, inside


def summary(data: pd.DataFrame) -> dict:
    """Headline, Pareto, failure types, channel mix and weekly figures from one count over the contacts."""
    stop = ("one_stop",) if "one_stop" in data.columns else ()
    codes = _codes(data, ("demand_type", "classification", "failure_type", "channel", "week") + stop)
    return {
        "headline": _headline_from(_count(codes, ("classification",) + stop)),
        "pareto": _pareto_from(_count(codes, ("demand_type", "classification")), False),
        "failure_types": _failure_types_from(_count(codes, ("classification", "failure_type"))),
        "channels": _channel_from(_count(codes, ("channel", "classification"))),
        "weekly": _weekly_from(_count(codes, ("week", "classification"))),
        "undated": undated(data),
    }


def predictability(data: pd.DataFrame, *, top: int = 5, min_weeks: int = 8, changes=()) -> pd.DataFrame:
    """For each of the ``top`` demand types: is its weekly volume predictable (a capability chart with no special
    cause, a new phase at each known system change in ``changes``: objects with a ``date`` and ``label``)? Gives the
    range the system predictably produces (the latest phase's process limits, floored at 0).

    A demand type with a yearly pattern (``season.yearly_pattern``: a year or more of weeks, the same months high
    every year) is said to be seasonal, and its weeks are judged against the usual level for their time of year: the
    season's weeks are not special causes to chase. Fewer than ``min_weeks`` weeks of data: "too few weeks to tell"
    (``predictable`` is missing)."""

    cube = _cube(data, ("demand_type", "classification", "week"))
    cols = [
        "demand_type",
        "classification",
        "contacts",
        "weeks",
        "per_week",
        "lower",
        "upper",
        "special_causes",
        "predictable",
        "verdict",
    ]
    dated = cube[cube["week"].notna()]
    if dated.empty:
        return pd.DataFrame({c: [] for c in cols})
    weeks = pd.date_range(dated["week"].min(), dated["week"].max(), freq="7D", unit="s")
    per_type = _sum(cube, ["demand_type"]).sort_values(["count", "demand_type"], ascending=[False, True]).head(top)
    klass = _sum(cube, ["demand_type", "classification"]).sort_values("count", ascending=False)
    klass = klass.drop_duplicates("demand_type").set_index("demand_type")["classification"]
    mixed = _sum(cube, ["demand_type", "classification"]).groupby("demand_type").size() > 1
    grid = (
        _sum(dated[dated["demand_type"].isin(per_type["demand_type"])], ["demand_type", "week"])
        .pivot_table(index="week", columns="demand_type", values="count", fill_value=0)
        .reindex(index=weeks, fill_value=0)
    )
    inside = sorted(
        {pd.Timestamp(c.date): c.label for c in changes if weeks[0] < pd.Timestamp(c.date) <= weeks[-1]}.items()
    )
    rows = []
    for name, contacts in zip(per_type["demand_type"], per_type["count"]):
        series = grid[name] if name in grid.columns else pd.Series(0, index=weeks)
        row = {
            "demand_type": name,
            "classification": "mixed" if mixed.get(name, False) else klass[name],
            "contacts": int(contacts),
            "weeks": len(weeks),
            "per_week": float(series.mean()),
        }
        if len(weeks) < min_weeks:
            row.update(
                lower=np.nan,
                upper=np.nan,
                special_causes=0,
                predictable=pd.NA,
                verdict=f"Too few weeks to tell ({len(weeks)} of the {min_weeks} needed)",
            )
        else:
            row.update(_week_by_week(series.to_numpy(dtype=float), weeks, inside))
        rows.append(row)
    out = pd.DataFrame(rows, columns=cols)
    out["predictable"] = out["predictable"].astype("boolean")
    return out


def season_sentence(data) -> str:
    """Whether the service's weekly contacts have a yearly pattern (``season.yearly_pattern``), in one sentence for
    the chart of demand over time ("" when they have none, or cover less than a year)."""
    data, _ = _frame(data)
    table = weekly(data)
    if len(table) < 2:
        return ""
    yearly = season.yearly_pattern(table["week"], table["contacts"])
    return yearly.sentence("demand per week") if yearly is not None else ""


def _week_by_week(values: np.ndarray, weeks: pd.DatetimeIndex, changes: list) -> dict:
    """One demand type's weekly chart, judged: its latest limits, special causes (against the season where it has
    a yearly pattern) and the verdict in words."""
    starts = [d for d, _ in changes]
    yearly = season.yearly_pattern(weeks, values)
    chart = xmr(values, dates=weeks, phase_starts=starts, improvement="neutral", floor=0)
    judged = chart
    if yearly is not None:
        judged = xmr(season.adjusted(weeks, values, yearly), dates=weeks, phase_starts=starts, improvement="neutral")
    specials = int((judged.points["signal"] != "common_cause").sum())
    lower, upper = float(chart.points["lower"].iloc[-1]), float(chart.points["upper"].iloc[-1])
    since = ""
    if changes:
        date, label = changes[-1]
        since = f" since {words.date(date, short=True)} (\u201c{label}\u201d)"
    if yearly is not None:
        ran = " and ".join(
            f"{way} in {season.month_words(months)}"
            for way, months in (("high", yearly.high), ("low", yearly.low))
            if months
        )
        years = " and ".join(str(y) for y in yearly.years)
        verdict = f"Seasonal: {ran} in {years}; " + (
            "no week stands out for its time of year"
            if specials == 0
            else f"{words.count(specials, 'week')} {words.plural(specials, 'stands', 'stand')} out even for its "
            "time of year"
        )
    elif specials == 0:
        verdict = f"Predictable{since}: between {lower:,.0f} and {upper:,.0f} a week"
    else:
        verdict = f"Not predictable: {words.count(specials, 'week')} {words.plural(specials, 'shows', 'show')} a special cause"
    return {
        "lower": lower,
        "upper": upper,
        "special_causes": specials,
        "predictable": specials == 0,
        "verdict": verdict,
    }


def _theme(text: pd.Series) -> pd.Series:
    return (
        text.astype("str").str.lower().str.replace(r"\s+", " ", regex=True).str.strip(" .,;:!?-'\"").replace("", np.nan)
    )


def what_matters(data: pd.DataFrame, *, top: int = 10) -> pd.DataFrame:
    """The most frequent themes of what matters to citizens (the ``what_matters`` phrases, case and spacing
    ignored), with contacts and % of the contacts where what matters was recorded (``what_matters_recorded``)."""
    _check(data, ["what_matters"])
    themes = _theme(data["what_matters"])
    counts = themes.value_counts()
    table = pd.DataFrame({"theme": counts.index.astype(str), "contacts": counts.to_numpy(dtype="int64")})
    table = table.sort_values(["contacts", "theme"], ascending=[False, True], kind="stable")
    table["pct"] = _pct(table["contacts"], counts.sum())
    return table.head(top).reset_index(drop=True)


def what_matters_recorded(data: pd.DataFrame) -> tuple[int, int]:
    """Contacts with what matters recorded, and with none: ``(recorded, not recorded)``."""
    _check(data, ["what_matters"])
    return len(data) - (none := int(_theme(data["what_matters"]).isna().sum())), none


#: The what-matters table's share column, as people read it: a share of the contacts with what matters recorded.
WHAT_MATTERS_SHARE = "% of contacts with what matters recorded"


def what_matters_caption(data) -> str:
    """The what-matters table's caption, with the count its shares are of: "What matters, 1 Jan 2024 to 30 Mar 2025
    (5,259 of the 10,801 contacts have what matters recorded)". A share of all contacts would read 1,435 of 5,259
    as "27% of contacts" of 10,801."""
    frame, _ = _frame(data)
    n = len(frame)
    recorded = what_matters_recorded(frame)[0] if "what_matters" in frame.columns else 0
    said = (
        f"all {n:,} contacts have what matters recorded"
        if recorded == n and n > 1
        else f"{recorded:,} of the {words.count(n, 'contact')} {'has' if recorded == 1 else 'have'} what matters recorded"
    )
    return f"What matters, {_caption_period(frame)} ({said})"


# ------------------------------------------------------------------------------------------------ words for people
def _frame(data: DemandData | pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """The contacts and service name of a ``DemandData``, or a bare demand table (old notebooks pass one)."""
    if isinstance(data, DemandData):
        return data.contacts, data.service_name
    return data, None


def period(data: DemandData | pd.DataFrame) -> tuple:
    """First and last ``received_at`` of the contacts (None, None with no dated contacts)."""
    data, _ = _frame(data)
    _check(data, ["received_at"])
    dates = data["received_at"]
    if dates.notna().sum() == 0:
        return None, None
    return dates.min(), dates.max()


def _caption_period(data: pd.DataFrame) -> str:
    return words.period(*period(data), short=True, missing="no dated contacts")


def headline(data: DemandData | pd.DataFrame, *, service_name: str | None = None) -> str:
    """The stage's headline in plain words, with its period and count, e.g. "In 2024, 41% of the 12,304 contacts
    to Housing repairs were failure demand." Says so when contacts are not yet classified."""
    data, name = _frame(data)
    service_name = service_name or name or "this service"
    h = headline_figures(data)
    when = words.when(*period(data))
    n = h["contacts"]
    if n == 0:
        return (
            f"No contacts are recorded for {service_name} in this period: add them to demand.csv "
            "(see README, 'demand.csv') to see its demand."
        )
    classified = h["value"] + h["failure"]
    if classified == 0:
        return (
            f"{when}, {service_name} received {words.count(n, 'contact')}, none yet classified as value "
            "or failure demand: classify them with the classifier or a rules file."
        )
    pct = h["failure_pct"]
    ruled = provenance(data)["rules_pct"]
    rules = f", of which {words.figure(ruled)}% classified by rules" if ruled else ""
    if n == 1:
        return f"{when}, the one contact to {service_name} was {'failure' if h['failure'] else 'value'} demand."
    if h["unclassified"] == 0:
        return f"{when}, {pct:.0f}% of the {n:,} contacts to {service_name} were failure demand" + (
            f" (all classified{rules})." if ruled else "."
        )
    so_far = (
        f"{classified:,} classified so far ({rules[2:]}): {pct:.0f}% of those"
        if ruled
        else f"of the {words.number(classified, one='one')} classified so far, {pct:.0f}%"
    )
    return (
        f"{when}, {service_name} received {n:,} contacts; {so_far} were failure demand "
        f"({h['unclassified']:,} not yet classified)."
    )


def headline_sentence(data, *, service_name: str = "this service") -> str:
    """``headline`` under the name the first notebooks used."""
    return headline(data, service_name=service_name)


def questions(data: DemandData | pd.DataFrame, *, service_name: str | None = None) -> list[str]:
    """Three questions for the team, drawn from the data: the largest failure demand, where failure demand is
    highest, and what matters (or what is still unclassified). Always three; general ones fill any gap."""
    data, name = _frame(data)
    service_name = service_name or name or "this service"
    s = summary(data)
    h, par, ch = s["headline"], s["pareto"], s["channels"]
    out: list[str] = []
    fails = par[par["classification"] == "failure"]
    if len(fails):
        top = fails.iloc[0]
        out.append(
            f"The largest failure demand is \u201c{top['demand_type']}\u201d: {top['contacts']:,} contacts "
            f"({top['pct']:.0f}% of all). What in the way we work causes citizens to contact us about this, "
            "and what would stop it?"
        )
    ft = s["failure_types"]
    ft = ft[ft["failure_type"] != NOT_RECORDED]
    if len(ft):
        top = ft.iloc[0]
        out.append(
            f"\u201c{top['failure_type'].capitalize()}\u201d is the most common kind of failure "
            f"({top['contacts']:,} contacts, {top['pct']:.0f}% of failure demand). Which step of the flow "
            "produces it?"
        )
    busy = ch[(ch["value"] + ch["failure"]) >= 10].dropna(subset=["failure_pct"])
    if len(busy) > 1:
        worst = busy.sort_values(["failure_pct", "contacts"], ascending=False).iloc[0]
        out.append(
            f"Failure demand is highest by {worst['channel']} ({worst['failure_pct']:.0f}% of its classified "
            "contacts). What are citizens contacting us about by that channel that we failed to do?"
        )
    if h["contacts"] and h["unclassified"] / h["contacts"] >= 0.2:
        out.insert(
            min(1, len(out)),
            f"{h['unclassified']:,} contacts ({h['unclassified'] / h['contacts']:.0%}) are "
            "not yet classified. Which of them are failure demand?",
        )
    if "what_matters" in data.columns:
        wm = what_matters(data, top=1)
        if len(wm):
            recorded = what_matters_recorded(data)[0]
            out.append(
                f"Citizens most often said what matters is \u201c{wm['theme'].iloc[0]}\u201d "
                f"({wm['contacts'].iloc[0]:,} of the {recorded:,} contacts with what matters recorded). How well "
                "does the current way of working serve it?"
            )
    vals = par[par["classification"] == "value"]
    if len(vals):
        out.append(
            f"The largest value demand is \u201c{vals.iloc[0]['demand_type']}\u201d "
            f"({vals.iloc[0]['contacts']:,} contacts). Could we meet it fully at the first contact?"
        )
    out += [
        f"What do citizens want from {service_name}?",
        "How much of our demand is failure we caused?",
        "What matters to the citizens who contact us?",
    ]
    return list(dict.fromkeys(out))[:3]


def examples(data: pd.DataFrame, *, n: int = 5) -> pd.DataFrame:
    """A few example verbatims, redacted: one per demand type, largest failure demands first, then value demands.
    Contacts with no verbatim are skipped (they are counted in the data problems). No ids are shown."""
    _check(data, ["verbatim", "demand_type", "classification"])
    cols = ["demand_type", "classification", "verbatim"]
    said = data[data["verbatim"].notna() & data["verbatim"].astype("str").str.strip().ne("")]
    # A "verbatim" that only repeats the demand type (imported case titles often do) says nothing in the citizen's
    # words: it is not shown. Very short ones ("PRINTED") are shown only when nothing fuller is there.
    plain = lambda s: s.astype("str").str.lower().str.replace(r"[^0-9a-z]+", " ", regex=True).str.strip()
    words = plain(said["verbatim"])
    keep = words != plain(said["demand_type"].fillna(""))
    said, words = said[keep], words[keep]
    if said.empty:
        return pd.DataFrame({c: pd.Series(dtype=str) for c in cols})
    frame = pd.DataFrame(
        {
            "demand_type": said["demand_type"].fillna(NO_TYPE),
            "classification": said["classification"].fillna(UNCLASSIFIED),
            "verbatim": said["verbatim"],
            "thin": words.str.count(" ").lt(2).to_numpy(),
        }
    )  # fewer than 3 words (single-spaced)
    rank = pareto(data).reset_index().rename(columns={"index": "rank"})[["demand_type", "classification", "rank"]]
    order = {"failure": 0, "value": 1, UNCLASSIFIED: 2}
    frame = frame.merge(rank, on=["demand_type", "classification"], how="left")
    frame["order"] = frame["classification"].map(order)
    frame = frame.sort_values(["thin", "order", "rank"], kind="stable").drop_duplicates(
        ["demand_type", "classification"]
    )
    out = frame.head(n)[cols].reset_index(drop=True)
    out["verbatim"] = redact_series(out["verbatim"].astype("str"))
    return out


def figures(data: DemandData | pd.DataFrame) -> dict:
    """The key figures for ``demand.json``: headline counts, types, channels, failure types and what matters."""
    calibrated = data.calibration if isinstance(data, DemandData) else None
    data, _ = _frame(data)
    s = summary(data)
    r = lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), 1)
    h = s["headline"]
    types = [
        {"demand_type": t, "classification": c, "count": int(k)}
        for t, c, k in zip(s["pareto"]["demand_type"], s["pareto"]["classification"], s["pareto"]["contacts"])
    ]
    channels = [
        {
            "channel": row.channel,
            "contacts": int(row.contacts),
            "value": int(row.value),
            "failure": int(row.failure),
            "unclassified": int(row.unclassified),
            "failure_pct": r(row.failure_pct),
        }
        for row in s["channels"].itertuples()
    ]
    ftypes = [
        {"failure_type": f, "count": int(k)}
        for f, k in zip(s["failure_types"]["failure_type"], s["failure_types"]["contacts"])
    ]
    wm = what_matters(data) if "what_matters" in data.columns else pd.DataFrame(columns=["theme", "contacts"])
    wk = s["weekly"]
    return {
        "contacts": h["contacts"],
        "value": h["value"],
        "failure": h["failure"],
        "unclassified": h["unclassified"],
        "failure_pct": r(h["failure_pct"]),
        "one_stop_pct": r(h["one_stop_pct"]),
        "one_stop_recorded": h["one_stop_recorded"],
        "types": types,
        "channels": channels,
        "failure_types": ftypes,
        "what_matters": [{"theme": t, "count": int(k)} for t, k in zip(wm["theme"], wm["contacts"])],
        "what_matters_recorded": what_matters_recorded(data)[0] if "what_matters" in data.columns else 0,
        "weeks": len(wk),
        "mean_per_week": r(wk["contacts"].mean()) if len(wk) else None,
        "undated": s["undated"],
        "classified_by_rules": provenance(data)["rule"],
        **({"agreement": agreement_figures(calibrated)} if calibrated is not None and len(calibrated) else {}),
    }


def agreement_words(data) -> list[str]:
    """How far the team agreed in its latest calibration round, in sentences with their n (none without one)."""
    labels = data.calibration if isinstance(data, DemandData) else None
    if labels is None or labels.empty:
        return []
    started = words.date(pd.Timestamp(labels["started_at"].iloc[0]))
    said = agreement.sentences(agreement.agreement(labels))
    return [
        f"In a calibration round of the coach's workshop started on {started}, everyone classified the same "
        "contacts. " + said[0],
        *said[1:],
    ]


def agreement_figures(labels: pd.DataFrame | None) -> dict | None:
    """How far the team agreed in its latest calibration round (None without one): Fleiss' kappa on value or
    failure and per label, each with its n, and when the round started."""
    if labels is None or labels.empty:
        return None
    a = agreement.agreement(labels)
    r = lambda v: None if v is None else round(float(v), 2)
    return {
        "started": str(labels["started_at"].iloc[0])[:10],
        "contacts": a.classification.contacts,
        "people": a.classification.people,
        "kappa_value_or_failure": r(a.classification.kappa),
        "kappa_by_label": {k: r(v.kappa) for k, v in sorted(a.per_label.items())},
        "contacts_split": len(a.split),
    }


def findings(data) -> list[str]:
    """What we found, for the top of the page: the headline, then the largest failure demand and its share of
    failure demand, what matters most (of the contacts with what matters recorded) and the one-stop %, each with
    its count and period; the same figures as ``figures``."""
    frame, _ = _frame(data)
    out = [headline(data)]
    if frame.empty:
        return out
    s = summary(frame)
    when = _caption_period(frame)
    failure = s["headline"]["failure"]
    fails = s["pareto"][s["pareto"]["classification"] == "failure"]
    if failure and len(fails):
        top = fails.iloc[0]
        out.append(
            f"The largest failure demand is \u201c{top['demand_type']}\u201d: {top['contacts']:,} of the "
            f"{words.count(failure, 'failure demand contact')} ({words.percent(100 * top['contacts'] / failure)}), "
            f"{when}."
        )
    if "what_matters" in frame.columns:
        recorded = what_matters_recorded(frame)[0]
        wm = what_matters(frame, top=1)
        if recorded and len(wm):
            out.append(
                f"What matters most to citizens is \u201c{wm['theme'].iloc[0]}\u201d: said in "
                f"{wm['contacts'].iloc[0]:,} of the {words.count(recorded, 'contact')} with what matters recorded "
                f"({words.percent(wm['pct'].iloc[0])}), {when}."
            )
    h = s["headline"]
    if h["one_stop_recorded"]:
        out.append(
            f"{words.percent(h['one_stop_pct'])} of the {words.count(h['one_stop_recorded'], 'contact')} where it was "
            f"recorded were resolved at the first point of contact (one-stop), {when}."
        )
    return out


def period_caption(data) -> str:
    """The data's period in short words: "1 Jan 2024 to 31 Dec 2024" (or "no dated contacts")."""
    return _caption_period(_frame(data)[0])


def caption(data, what: str) -> str:
    """A caption with the period and count, e.g. "Type and frequency, 1 Jan 2024 to 31 Dec 2024 (12,304 contacts)"."""
    data, _ = _frame(data)
    return f"{what}, {_caption_period(data)} ({len(data):,} contacts)"


# ------------------------------------------------------------------------------------------- the stage's own data
@dataclass
class DemandData:
    """What the demand stage read for one service and period: its contacts (the council's rules applied to
    unclassified ones, as every stage reads them), the rules result, the data's and the rules' problems, and the
    contacts' first and last date."""

    contacts: pd.DataFrame
    service_name: str = "this service"
    rules: object | None = None  #: ``classify.RulesResult``; None without a usable rules table
    rules_problems: list[Problem] = field(default_factory=list)
    data_problems: list[Problem] = field(default_factory=list)
    period: tuple = (None, None)
    changes: list = field(default_factory=list)  #: the service's known system changes (council.yaml)
    services: dict[str, str] = field(default_factory=dict)  #: service id -> name, for the explorer
    #: the latest calibration round of the coach's workshop (``decisions.calibration``): who said what on which
    #: contact, for how far the team agrees (``analysis.agreement``)
    calibration: pd.DataFrame | None = None

    @property
    def problems(self) -> list[Problem]:
        """The demand data's problems, then the rules table's."""
        return self.data_problems + self.rules_problems


def load(stage: Stage) -> DemandData:
    """The demand stage's data for a ``stages.Stage``: ``stage.contacts()`` (read once, rules applied) and the
    demand data's problems. A demand table with errors gives no contacts; its errors are in the problems."""
    try:
        got = stage.contacts()
        contacts, rules, rules_problems = got.frame, got.rules, list(got.problems)
    except ContractError:
        contacts, rules, rules_problems = empty_frame("demand"), None, []
    return DemandData(
        contacts,
        stage.service_name,
        rules,
        rules_problems,
        data_problems(stage),
        period(contacts),
        stage.phases(),
        service_names(stage.council),
        calibration(stage.council.path, stage.service_id),
    )


def service_names(council) -> dict[str, str]:
    """Service id -> name, in council.yaml order."""
    return {s.id: s.name for s in council.spec.services}


def stage_contacts(stage):
    """``(contacts, rules)`` as the first notebooks read them (``rules`` None without a rules table; only its
    ``problems`` when that table has errors): now ``stage.contacts()``."""
    got = stage.contacts()
    if got.rules is None and got.problems:
        return got.frame, SimpleNamespace(problems=list(got.problems), report=pd.DataFrame(), classified=0)
    return got.frame, got.rules


def stage_problems(stage, rules=None) -> list[Problem]:
    """The stage's data problems: its demand data's, then the rules table's (if rules were applied)."""
    return data_problems(stage) + (list(rules.problems) if rules is not None else [])
