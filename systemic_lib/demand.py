"""Understand demand: what citizens ask of a service, how much of it is failure demand, and what matters to them.

Every function takes the demand table (one row per contact, as ``Council.table("demand")`` returns it) first and
works on its own. Unclassified contacts stay visible in every count: they are their own "unclassified" row, never
dropped. Failure demand % is failure ÷ (value + failure), i.e. of the classified contacts; one-stop % is of the
contacts where one-stop was recorded.

Counting works on integer codes: each key column is factorised once, the codes of the columns a table needs are
combined and counted with ``numpy.bincount`` (``_count``), and the table is built from that small count. ``summary``
factorises once for the headline, Pareto, failure types, channel mix and weekly figures.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from .contract import ERROR, WARNING, Problem, find_table_file, parse_table, read_raw
from . import words
from .errors import SystemicError
from .redact import redact_series

__all__ = [
    "UNCLASSIFIED", "headline", "pareto", "failure_types", "channel_mix", "weekly", "predictability",
    "what_matters", "summary", "headline_sentence", "questions", "examples", "figures", "period",
    "pareto_chart", "failure_types_chart", "channel_chart", "weekly_chart", "data_problems", "stage_contacts",
    "COLOURS", "caption", "show_table", "service_names", "stage_problems", "period_caption",
]

UNCLASSIFIED = "unclassified"
NO_TYPE = "(no demand type)"
NOT_RECORDED = "(not recorded)"
NO_CHANNEL = "(no channel)"
NO_SERVICE = "(no service)"
#: value / failure / unclassified colours (blue, orange, grey: never red/amber/green).
COLOURS = {"value": "#2f7fc1", "failure": "#f28e2b", UNCLASSIFIED: "#b0b0b0"}

_FILL = {"classification": UNCLASSIFIED, "demand_type": NO_TYPE, "failure_type": NOT_RECORDED,
         "channel": NO_CHANNEL, "service": NO_SERVICE}
_NEEDED = ("received_at", "classification")


# ------------------------------------------------------------------------------------------------ counting core
def _check(data: pd.DataFrame, columns) -> None:
    if not isinstance(data, pd.DataFrame):
        raise SystemicError("demand functions take the demand table (a DataFrame of contacts) as their first argument")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise SystemicError(f"the demand table has no column {', '.join(repr(c) for c in missing)}; "
                            "load it with Council.table('demand') or add the column (see README, demand.csv)")


def _week_starts(received_at: pd.Series) -> np.ndarray:
    """The Monday of each contact's week as datetime64[D] (NaT where the date is missing)."""
    days = received_at.to_numpy("datetime64[D]")
    nat = np.isnat(days)
    n = days.astype("int64")
    monday = n - (n + 3) % 7  # 1970-01-01 was a Thursday
    return np.where(nat, np.iinfo("int64").min, monday).view("datetime64[D]")


def _key(data: pd.DataFrame, key: str):
    if key == "week":
        return _week_starts(data["received_at"])
    return data[key]


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
    """Contacts counted by every combination of ``keys`` that occurs; missing values get a readable label.

    ``week`` is the Monday of the contact's week; ``one_stop`` becomes yes / no / unknown.
    """
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
    out = {"contacts": contacts, "value": value, "failure": failure, "unclassified": contacts - value - failure,
           "failure_pct": _none(_pct(failure, value + failure))}
    if "one_stop" in cube.columns:
        by_stop = cube.groupby("one_stop")["count"].sum()
        yes, no = int(by_stop.get("yes", 0)), int(by_stop.get("no", 0))
        out.update(one_stop_pct=_none(_pct(yes, yes + no)), one_stop_recorded=yes + no)
    else:
        out.update(one_stop_pct=None, one_stop_recorded=0)
    return out


def headline(data: pd.DataFrame) -> dict:
    """Contacts, value, failure, unclassified, failure % (of classified) and one-stop % (of those recorded).

    Percentages are None when there is nothing to divide by; ``one_stop_recorded`` says how many contacts the
    one-stop % rests on.
    """
    keys = ("classification", "one_stop") if "one_stop" in data.columns else ("classification",)
    return _headline_from(_cube(data, keys))


def _pareto_from(cube: pd.DataFrame, by_service: bool) -> pd.DataFrame:
    group = (["service"] if by_service else []) + ["demand_type", "classification"]
    table = _sum(cube, group).rename(columns={"count": "contacts"})
    table = table.sort_values((["service"] if by_service else []) + ["contacts", "demand_type", "classification"],
                              ascending=([True] if by_service else []) + [False, True, True], kind="stable")
    if by_service:
        total = table.groupby("service")["contacts"].transform("sum")
        cum = table.groupby("service")["contacts"].cumsum()
    else:
        total = table["contacts"].sum()
        cum = table["contacts"].cumsum()
    table["pct"] = _pct(table["contacts"], total)
    table["cumulative_pct"] = _pct(cum, total)
    return table.reset_index(drop=True)


def pareto(data: pd.DataFrame, *, by_service: bool = False) -> pd.DataFrame:
    """Type and frequency: one row per demand type and classification, most frequent first, with % and cumulative %.

    A demand type split between value, failure and unclassified gets a row for each. With ``by_service`` the
    table is per service (its % of that service's contacts); otherwise it is for all the contacts given.
    """
    keys = (("service",) if by_service else ()) + ("demand_type", "classification")
    return _pareto_from(_cube(data, keys), by_service)


def _failure_types_from(cube: pd.DataFrame) -> pd.DataFrame:
    fail = cube[cube["classification"] == "failure"]
    table = _sum(fail, ["failure_type"]).rename(columns={"count": "contacts"})
    table = table.sort_values(["contacts", "failure_type"], ascending=[False, True], kind="stable")
    table["pct"] = _pct(table["contacts"], table["contacts"].sum())
    return table.reset_index(drop=True)


def failure_types(data: pd.DataFrame) -> pd.DataFrame:
    """Failure demand by failure type (what failed), largest first; % of failure demand. Blank = "(not recorded)"."""
    return _failure_types_from(_cube(data, ("classification", "failure_type")))


def _channel_from(cube: pd.DataFrame) -> pd.DataFrame:
    wide = _wide(cube, "channel")
    table = pd.DataFrame({"channel": wide.index.astype(str), "contacts": wide.sum(axis=1).to_numpy(),
                          "value": wide["value"].to_numpy(), "failure": wide["failure"].to_numpy(),
                          "unclassified": wide[UNCLASSIFIED].to_numpy()})
    table["pct"] = _pct(table["contacts"], table["contacts"].sum())
    table["failure_pct"] = _pct(table["failure"], table["value"] + table["failure"])
    table = table.astype({c: "int64" for c in ("contacts", "value", "failure", "unclassified")})
    return table.sort_values(["contacts", "channel"], ascending=[False, True], kind="stable").reset_index(drop=True)


def channel_mix(data: pd.DataFrame) -> pd.DataFrame:
    """Contacts per channel (% of all) with value, failure, unclassified and failure % per channel."""
    return _channel_from(_cube(data, ("channel", "classification")))


def _weekly_from(cube: pd.DataFrame) -> pd.DataFrame:
    dated = cube[cube["week"].notna()]
    undated = int(cube.loc[cube["week"].isna(), "count"].sum())
    if dated.empty:
        out = pd.DataFrame({"week": pd.Series(dtype="datetime64[s]"), **{c: pd.Series(dtype="int64") for c in
                            ("contacts", "value", "failure", "unclassified")}, "failure_pct": pd.Series(dtype=float)})
        out.attrs["undated"] = undated
        return out
    wide = _wide(dated, "week")
    weeks = pd.date_range(wide.index.min(), wide.index.max(), freq="7D", unit="s")
    wide = wide.reindex(index=weeks, fill_value=0)
    out = pd.DataFrame({"week": weeks, "contacts": wide.sum(axis=1).to_numpy(), "value": wide["value"].to_numpy(),
                        "failure": wide["failure"].to_numpy(), "unclassified": wide[UNCLASSIFIED].to_numpy()})
    out = out.astype({c: "int64" for c in ("contacts", "value", "failure", "unclassified")})
    out["failure_pct"] = _pct(out["failure"], out["value"] + out["failure"])
    out.attrs["undated"] = undated
    return out


def weekly(data: pd.DataFrame) -> pd.DataFrame:
    """Contacts per week (weeks start on Monday; empty weeks are 0) with value, failure and weekly failure %.

    Contacts with no ``received_at`` cannot be placed in a week: they are counted in ``attrs["undated"]``.
    """
    return _weekly_from(_cube(data, ("week", "classification")))


def summary(data: pd.DataFrame) -> dict:
    """Headline, Pareto, failure types, channel mix and weekly figures from one count over the contacts."""
    stop = ("one_stop",) if "one_stop" in data.columns else ()
    codes = _codes(data, ("demand_type", "classification", "failure_type", "channel", "week") + stop)
    return {"headline": _headline_from(_count(codes, ("classification",) + stop)),
            "pareto": _pareto_from(_count(codes, ("demand_type", "classification")), False),
            "failure_types": _failure_types_from(_count(codes, ("classification", "failure_type"))),
            "channels": _channel_from(_count(codes, ("channel", "classification"))),
            "weekly": _weekly_from(_count(codes, ("week", "classification")))}


def predictability(data: pd.DataFrame, *, top: int = 5, min_weeks: int = 8) -> pd.DataFrame:
    """For each of the ``top`` demand types: is its weekly volume predictable (a capability chart with no special
    cause)? Gives the range the system predictably produces (process limits, floored at 0).

    Fewer than ``min_weeks`` weeks of data: "too few weeks to tell" (``predictable`` is missing).
    """
    from .spc import xmr

    cube = _cube(data, ("demand_type", "classification", "week"))
    cols = ["demand_type", "classification", "contacts", "weeks", "per_week", "lower", "upper", "special_causes",
            "predictable", "verdict"]
    dated = cube[cube["week"].notna()]
    if dated.empty:
        return pd.DataFrame({c: [] for c in cols})
    weeks = pd.date_range(dated["week"].min(), dated["week"].max(), freq="7D", unit="s")
    per_type = _sum(cube, ["demand_type"]).sort_values(["count", "demand_type"], ascending=[False, True]).head(top)
    klass = _sum(cube, ["demand_type", "classification"]).sort_values("count", ascending=False)
    klass = klass.drop_duplicates("demand_type").set_index("demand_type")["classification"]
    mixed = _sum(cube, ["demand_type", "classification"]).groupby("demand_type").size() > 1
    grid = (_sum(dated[dated["demand_type"].isin(per_type["demand_type"])], ["demand_type", "week"])
            .pivot_table(index="week", columns="demand_type", values="count", fill_value=0)
            .reindex(index=weeks, fill_value=0))
    rows = []
    for name, contacts in zip(per_type["demand_type"], per_type["count"]):
        series = grid[name] if name in grid.columns else pd.Series(0, index=weeks)
        row = {"demand_type": name, "classification": "mixed" if mixed.get(name, False) else klass[name],
               "contacts": int(contacts), "weeks": len(weeks), "per_week": float(series.mean())}
        if len(weeks) < min_weeks:
            row.update(lower=np.nan, upper=np.nan, special_causes=0, predictable=pd.NA,
                       verdict=f"Too few weeks to tell ({len(weeks)} of the {min_weeks} needed)")
        else:
            chart = xmr(series.to_numpy(dtype=float), dates=weeks, improvement="neutral", floor=0)
            specials = int((chart["signal"] != "common_cause").sum())
            lower, upper = float(chart["lower"].iloc[-1]), float(chart["upper"].iloc[-1])
            row.update(lower=lower, upper=upper, special_causes=specials, predictable=specials == 0,
                       verdict=(f"Predictable: between {lower:,.0f} and {upper:,.0f} a week" if specials == 0 else
                                f"Not predictable: {words.count(specials, 'week')} show a special cause"))
        rows.append(row)
    out = pd.DataFrame(rows, columns=cols)
    out["predictable"] = out["predictable"].astype("boolean")
    return out


def _theme(text: pd.Series) -> pd.Series:
    return (text.astype("str").str.lower().str.replace(r"\s+", " ", regex=True)
            .str.strip(" .,;:!?-'\"").replace("", np.nan))


def what_matters(data: pd.DataFrame, *, top: int = 10) -> pd.DataFrame:
    """The most frequent themes of what matters to citizens (the ``what_matters`` phrases, case and spacing
    ignored), with contacts and % of the contacts where what matters was recorded. ``attrs["not_recorded"]``
    counts the contacts with none."""
    _check(data, ["what_matters"])
    themes = _theme(data["what_matters"])
    counts = themes.value_counts()
    table = pd.DataFrame({"theme": counts.index.astype(str), "contacts": counts.to_numpy(dtype="int64")})
    table = table.sort_values(["contacts", "theme"], ascending=[False, True], kind="stable")
    table["pct"] = _pct(table["contacts"], counts.sum())
    table = table.head(top).reset_index(drop=True)
    table.attrs["not_recorded"] = int(themes.isna().sum())
    table.attrs["recorded"] = int(counts.sum())
    return table


# ------------------------------------------------------------------------------------------------ words for people
def period(data: pd.DataFrame) -> tuple:
    """First and last ``received_at`` (None, None with no dated contacts)."""
    _check(data, ["received_at"])
    dates = data["received_at"]
    if dates.notna().sum() == 0:
        return None, None
    return dates.min(), dates.max()


def _caption_period(data: pd.DataFrame) -> str:
    return words.period(*period(data), short=True, missing="no dated contacts")


def headline_sentence(data: pd.DataFrame, *, service_name: str = "this service") -> str:
    """The stage's headline in plain words, with its period and count, e.g. "In 2024, 41% of the 12,304 contacts
    to Housing repairs were failure demand." Says so when contacts are not yet classified."""
    h = headline(data)
    when = words.when(*period(data))
    n = h["contacts"]
    if n == 0:
        return (f"No contacts are recorded for {service_name} in this period: add them to demand.csv "
                "(see README, 'demand.csv') to see its demand.")
    classified = h["value"] + h["failure"]
    if classified == 0:
        return (f"{when}, {service_name} received {words.count(n, 'contact')}, none yet classified as value "
                "or failure demand: classify them with the classifier or a rules file.")
    pct = h["failure_pct"]
    if n == 1:
        return f"{when}, the one contact to {service_name} was {'failure' if h['failure'] else 'value'} demand."
    if h["unclassified"] == 0:
        return f"{when}, {pct:.0f}% of the {n:,} contacts to {service_name} were failure demand."
    return (f"{when}, {service_name} received {n:,} contacts; of the {words.number(classified, one='one')} classified so far, "
            f"{pct:.0f}% were failure demand ({h['unclassified']:,} not yet classified).")


def questions(data: pd.DataFrame, *, service_name: str = "this service") -> list[str]:
    """Three questions for the team, drawn from the data: the largest failure demand, where failure demand is
    highest, and what matters (or what is still unclassified). Always three; general ones fill any gap."""
    s = summary(data)
    h, par, ch = s["headline"], s["pareto"], s["channels"]
    out: list[str] = []
    fails = par[par["classification"] == "failure"]
    if len(fails):
        top = fails.iloc[0]
        out.append(f"The largest failure demand is \u201c{top['demand_type']}\u201d: {top['contacts']:,} contacts "
                   f"({top['pct']:.0f}% of all). What in the way we work causes citizens to contact us about this, "
                   "and what would stop it?")
    ft = s["failure_types"]
    ft = ft[ft["failure_type"] != NOT_RECORDED]
    if len(ft):
        top = ft.iloc[0]
        out.append(f"\u201c{top['failure_type'].capitalize()}\u201d is the most common kind of failure "
                   f"({top['contacts']:,} contacts, {top['pct']:.0f}% of failure demand). Which step of the flow "
                   "produces it?")
    busy = ch[(ch["value"] + ch["failure"]) >= 10].dropna(subset=["failure_pct"])
    if len(busy) > 1:
        worst = busy.sort_values(["failure_pct", "contacts"], ascending=False).iloc[0]
        out.append(f"Failure demand is highest by {worst['channel']} ({worst['failure_pct']:.0f}% of its classified "
                   "contacts). What are citizens contacting us about by that channel that we failed to do?")
    if h["contacts"] and h["unclassified"] / h["contacts"] >= 0.2:
        out.insert(min(1, len(out)), f"{h['unclassified']:,} contacts ({h['unclassified'] / h['contacts']:.0%}) are "
                   "not yet classified. Which of them are failure demand?")
    if "what_matters" in data.columns:
        wm = what_matters(data, top=1)
        if len(wm):
            out.append(f"Citizens most often said what matters is \u201c{wm['theme'].iloc[0]}\u201d "
                       f"({wm['contacts'].iloc[0]:,} contacts). How well does the current way of working serve it?")
    vals = par[par["classification"] == "value"]
    if len(vals):
        out.append(f"The largest value demand is \u201c{vals.iloc[0]['demand_type']}\u201d "
                   f"({vals.iloc[0]['contacts']:,} contacts). Could we meet it fully at the first contact?")
    out += [f"What do citizens want from {service_name}?", "How much of our demand is failure we caused?",
            "What matters to the citizens who contact us?"]
    return list(dict.fromkeys(out))[:3]


def examples(data: pd.DataFrame, *, n: int = 5) -> pd.DataFrame:
    """A few example verbatims, redacted: one per demand type, largest failure demands first, then value demands.
    Contacts with no verbatim are skipped (they are counted in the data problems). No ids are shown."""
    _check(data, ["verbatim", "demand_type", "classification"])
    cols = ["demand_type", "classification", "verbatim"]
    said = data[data["verbatim"].notna() & data["verbatim"].astype("str").str.strip().ne("")]
    # A "verbatim" that only repeats the demand type (imported case titles often do) says nothing in the citizen's
    # words: it is not shown. Very short ones ("PRINTED") are shown only when nothing fuller is there.
    plain = lambda s: s.astype("str").str.lower().str.replace(r"[^0-9a-z]+", " ", regex=True).str.strip()  # noqa: E731
    said = said[plain(said["verbatim"]) != plain(said["demand_type"].fillna(""))]
    if said.empty:
        return pd.DataFrame({c: pd.Series(dtype=str) for c in cols})
    frame = pd.DataFrame({"demand_type": said["demand_type"].fillna(NO_TYPE),
                          "classification": said["classification"].fillna(UNCLASSIFIED),
                          "verbatim": said["verbatim"]})
    rank = pareto(data).reset_index().rename(columns={"index": "rank"})[["demand_type", "classification", "rank"]]
    order = {"failure": 0, "value": 1, UNCLASSIFIED: 2}
    frame = frame.merge(rank, on=["demand_type", "classification"], how="left")
    frame["order"] = frame["classification"].map(order)
    frame["thin"] = plain(frame["verbatim"]).str.split().str.len() < 3
    frame = frame.sort_values(["thin", "order", "rank"], kind="stable").drop_duplicates(["demand_type",
                                                                                          "classification"])
    out = frame.head(n)[cols].reset_index(drop=True)
    out["verbatim"] = redact_series(out["verbatim"].astype("str"))
    return out


def figures(data: pd.DataFrame) -> dict:
    """The key figures for ``demand.json``: headline counts, types, channels, failure types and what matters."""
    s = summary(data)
    r = lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), 1)  # noqa: E731
    h = s["headline"]
    types = [{"demand_type": t, "classification": c, "count": int(k)} for t, c, k in
             zip(s["pareto"]["demand_type"], s["pareto"]["classification"], s["pareto"]["contacts"])]
    channels = [{"channel": row.channel, "contacts": int(row.contacts), "value": int(row.value),
                 "failure": int(row.failure), "unclassified": int(row.unclassified), "failure_pct": r(row.failure_pct)}
                for row in s["channels"].itertuples()]
    ftypes = [{"failure_type": f, "count": int(k)} for f, k in
              zip(s["failure_types"]["failure_type"], s["failure_types"]["contacts"])]
    wm = what_matters(data) if "what_matters" in data.columns else pd.DataFrame(columns=["theme", "contacts"])
    wk = s["weekly"]
    return {"contacts": h["contacts"], "value": h["value"], "failure": h["failure"],
            "unclassified": h["unclassified"], "failure_pct": r(h["failure_pct"]),
            "one_stop_pct": r(h["one_stop_pct"]), "one_stop_recorded": h["one_stop_recorded"],
            "types": types, "channels": channels, "failure_types": ftypes,
            "what_matters": [{"theme": t, "count": int(k)} for t, k in zip(wm["theme"], wm["contacts"])],
            "weeks": len(wk), "mean_per_week": r(wk["contacts"].mean()) if len(wk) else None,
            "undated": wk.attrs.get("undated", 0)}


# --------------------------------------------------------------------------------------------------------- charts
def _new_ax(ax, height=3.6):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(9, height), layout="constrained")
    return ax


def _empty(ax, title: str, message: str):
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#555555")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def _no_contacts(data: pd.DataFrame, ax, what: str) -> bool:
    """True (and a plain note instead of an empty chart) when there is no contact at all and no Axes was given."""
    if ax is not None or len(data):
        return False
    from . import report

    report.note(f"No contacts in this period, so there is no {what}.")
    return True


def _short(text: str, width: int = 42) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def pareto_chart(data: pd.DataFrame, *, top: int = 15, ax=None, title: str | None = None):
    """The Pareto of demand types: one bar per type, most frequent first, split into value, failure and not yet
    classified contacts (so a type's unclassified contacts sit on its own bar, not on a second one); returns the Axes.
    """
    if _no_contacts(data, ax, "chart of demand types"):
        return None
    wide = (pareto(data).pivot_table(index="demand_type", columns="classification", values="contacts",
                                     aggfunc="sum", fill_value=0, observed=True)
            .reindex(columns=["value", "failure", UNCLASSIFIED], fill_value=0))
    wide["total"] = wide.sum(axis=1)
    wide = wide.reset_index().sort_values(["total", "demand_type"], ascending=[False, True], kind="stable")
    wide["pct"] = _pct(wide["total"], wide["total"].sum())
    wide["cumulative_pct"] = wide["pct"].cumsum()
    shown = wide.head(top)
    ax = _new_ax(ax, height=max(2.5, 0.32 * len(shown) + 1.2))
    title = title or (f"Top {len(shown)} of {len(wide)} demand types, {_caption_period(data)} "
                      f"({len(data):,} contacts)")
    if shown.empty:
        return _empty(ax, title, "No contacts in this period")
    y = np.arange(len(shown))
    left = np.zeros(len(shown))
    for klass in ("value", "failure", UNCLASSIFIED):
        counts = shown[klass].to_numpy()
        if counts.any():
            ax.barh(y, counts, left=left, color=COLOURS[klass], gid=f"bars_{klass}")
        left += counts
    ax.set_yticks(y, [_short(t) for t in shown["demand_type"]])
    ax.invert_yaxis()
    for yi, (k, p, cp) in enumerate(zip(shown["total"], shown["pct"], shown["cumulative_pct"])):
        ax.text(k, yi, f" {k:,} ({p:.0f}%, cum. {cp:.0f}%)", va="center", fontsize=8)
    ax.set_xlim(0, shown["total"].max() * 1.35)
    ax.set_xlabel("contacts")
    _legend(ax, [k for k in ("value", "failure", UNCLASSIFIED) if shown[k].any()])
    ax.set_title(title)
    return ax


def _legend(ax, present):
    from matplotlib.patches import Patch

    handles = [Patch(color=COLOURS[c], label=f"{c} demand" if c != UNCLASSIFIED else c)
               for c in ("value", "failure", UNCLASSIFIED) if c in set(present)]
    ax.legend(handles=handles, loc="lower right", frameon=False, fontsize=8)


def failure_types_chart(data: pd.DataFrame, *, ax=None, title: str | None = None):
    """Failure demand by failure type as horizontal bars; returns the Axes."""
    if _no_contacts(data, ax, "chart of failure demand"):
        return None
    table = failure_types(data)
    ax = _new_ax(ax, height=max(2.2, 0.35 * len(table) + 1.2))
    title = title or (f"Failure demand by type, {_caption_period(data)} ({int(table['contacts'].sum()):,} "
                      "failure contacts)")
    if table.empty:
        return _empty(ax, title, "No failure demand classified in this period")
    y = np.arange(len(table))
    ax.barh(y, table["contacts"], color=COLOURS["failure"])
    ax.set_yticks(y, table["failure_type"])
    ax.invert_yaxis()
    for yi, (k, p) in enumerate(zip(table["contacts"], table["pct"])):
        ax.text(k, yi, f" {k:,} ({p:.0f}%)", va="center", fontsize=8)
    ax.set_xlim(0, table["contacts"].max() * 1.25)
    ax.set_xlabel("failure demand contacts")
    ax.set_title(title)
    return ax


def channel_chart(data: pd.DataFrame, *, ax=None, title: str | None = None):
    """Channel mix as stacked bars (value, failure, unclassified) with each channel's failure %; returns the Axes."""
    if _no_contacts(data, ax, "chart of channels"):
        return None
    table = channel_mix(data)
    ax = _new_ax(ax, height=max(2.2, 0.4 * len(table) + 1.2))
    title = title or f"Contacts by channel, {_caption_period(data)} ({len(data):,} contacts)"
    if table.empty:
        return _empty(ax, title, "No contacts in this period")
    y = np.arange(len(table))
    left = np.zeros(len(table))
    for klass, col in (("value", "value"), ("failure", "failure"), (UNCLASSIFIED, "unclassified")):
        ax.barh(y, table[col], left=left, color=COLOURS[klass], label=f"{klass} demand" if klass != UNCLASSIFIED
                else klass)
        left += table[col].to_numpy()
    ax.set_yticks(y, table["channel"])
    ax.invert_yaxis()
    for yi, (k, fp) in enumerate(zip(table["contacts"], table["failure_pct"])):
        words = f" {k:,}" + ("" if np.isnan(fp) else f" ({fp:.0f}% failure)")
        ax.text(k, yi, words, va="center", fontsize=8)
    ax.set_xlim(0, table["contacts"].max() * 1.35)
    ax.set_xlabel("contacts")
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    ax.set_title(title)
    return ax


def weekly_chart(data: pd.DataFrame, *, measure: str = "contacts", ax=None, title: str | None = None,
                 changes=()):
    """Weekly demand on a capability chart (``spc.xmr`` + ``charts.capability_chart``): ``measure`` is "contacts"
    (demand per week) or "failure_pct" (weekly failure demand %, lower is better). ``changes`` are the known system
    changes (council.yaml ``system_changes``): a new phase starts at each. Returns the Axes."""
    if measure not in ("contacts", "failure_pct"):
        raise SystemicError("weekly_chart measure must be 'contacts' or 'failure_pct'")
    if _no_contacts(data, ax, "weekly chart of " + ("contacts" if measure == "contacts" else "failure demand")):
        return None
    table = weekly(data)
    what = "Contacts per week" if measure == "contacts" else "Failure demand % per week (of classified contacts)"
    title = title or f"{what}, {_caption_period(data)} ({len(data) - table.attrs.get('undated', 0):,} dated contacts)"
    series = table[measure]
    usable = series.notna()
    if usable.sum() < 2:
        return _empty(_new_ax(ax), title, "Fewer than two weeks of data: no chart yet")
    from .charts import capability_chart
    from .spc import xmr

    inside = [c for c in changes if table["week"].min() < pd.Timestamp(c.date) <= table["week"].max()]
    chart = xmr(series.to_numpy(dtype=float), dates=table["week"], phase_starts=[pd.Timestamp(c.date) for c in inside],
                improvement="neutral" if measure == "contacts" else "decrease", floor=0,
                ceiling=100 if measure == "failure_pct" else None)
    return capability_chart(chart, ax=ax, title=title, unit="contacts" if measure == "contacts" else "%",
                            phase_labels=[c.label for c in inside] or None)


_PEOPLE = {"demand_type": "Demand type", "classification": "Value or failure", "contacts": "Contacts",
           "pct": "% of contacts", "cumulative_pct": "Cumulative %", "failure_type": "What failed",
           "channel": "Channel", "value": "Value", "failure": "Failure", "unclassified": "Unclassified",
           "failure_pct": "Failure demand %", "theme": "What matters", "verbatim": "What the citizen said (redacted)",
           "service_name": "Service", "per_week": "Mean per week",
           "verdict": "Is it predictable?"}


def period_caption(data: pd.DataFrame) -> str:
    """The data's period in short words: "1 Jan 2024 to 31 Dec 2024" (or "no dated contacts")."""
    return _caption_period(data)


def caption(data: pd.DataFrame, what: str) -> str:
    """A caption with the period and count, e.g. "Type and frequency, 1 Jan 2024 to 31 Dec 2024 (12,304 contacts)"."""
    return f"{what}, {_caption_period(data)} ({len(data):,} contacts)"


def show_table(table: pd.DataFrame, *, caption: str | None = None, max_rows: int = 20) -> None:
    """Show a demand table to people who don't code: plain column names, % signs, escaped HTML."""
    from . import report

    drop = [c for c in ("service", "weeks", "lower", "upper", "special_causes", "predictable") if c in table.columns
            and ("service_name" in table.columns or c != "service")]
    if table.empty:
        report.note(f"{caption}: nothing to list." if caption else "Nothing to list.")
        return
    shown = table.drop(columns=drop).rename(columns=_PEOPLE)
    percent = [v for k, v in _PEOPLE.items() if k.endswith("pct") and v in shown.columns]
    report.table(shown, caption=caption, max_rows=max_rows, percent=tuple(percent), decimals=0)


def service_names(council) -> dict[str, str]:
    """Service id -> name, in council.yaml order."""
    return {s.id: s.name for s in council.spec.services}


# ------------------------------------------------------------------------------------------- the stage's own data
def stage_contacts(stage):
    """The stage's contacts (its service and period) with the council's rules applied to unclassified contacts.

    Returns ``(contacts, rules_result)``; ``rules_result`` is None when the council has no rules table. Hand
    classifications always win over rules.
    """
    from .classify import apply_rules

    contacts = stage.table("demand")
    if not stage.council.has_table("rules"):
        return contacts, None
    rules = stage.council.load("rules")
    if rules.errors:
        return contacts, _RulesNotUsed(rules.problems)
    result = apply_rules(contacts, rules.frame, file=rules.path.name if rules.path else "rules.csv")
    return result.frame, result


class _RulesNotUsed:
    """The rules table has errors: nothing was applied; its problems say why."""

    def __init__(self, problems):
        self.problems = list(problems)
        self.report = pd.DataFrame()
        self.classified = 0


def stage_problems(stage, rules=None) -> list[Problem]:
    """The stage's data problems: its demand data's, then the rules table's (if rules were applied)."""
    service = stage.service.id if stage.service else None
    return data_problems(stage.council, service=service) + (list(rules.problems) if rules is not None else [])


def data_problems(council, *, service: str | None = None) -> list[Problem]:
    """Problems in the demand data of one service (or all): the contract's checks plus contacts with no verbatim,
    no demand type, not yet classified, or failure with no failure type; each with a count and the first row."""
    path = find_table_file(council.path, "demand")
    if path is None:
        return []
    raw, problems = read_raw(path, "demand")
    if raw is None:
        return problems
    positions = np.arange(len(raw))
    if service is not None and "service" in raw.columns:
        keep = raw["service"].astype(str).str.strip().eq(service).to_numpy()
        raw, positions = raw[keep].reset_index(drop=True), positions[keep]
    parsed = parse_table(raw, "demand", file=path.name, services=set(council.services))

    def where(row):  # a row of the service's subset back to the file's row
        return None if row is None else int(positions[row - 2]) + 2

    out = [replace(p, row=where(p.row)) for p in parsed.problems]
    frame = parsed.frame
    if not frame.empty:
        text_blank = lambda col: frame[col].isna() | frame[col].astype("str").str.strip().eq("")  # noqa: E731
        checks = [
            (text_blank("verbatim"), "verbatim", "has contacts with no verbatim (the citizen's words); they are "
             "counted but cannot be read", "record what the citizen said, in their words"),
            (text_blank("demand_type"), "demand_type", "has contacts with no demand type; they are counted as "
             f"'{NO_TYPE}'", "name each demand in a short phrase"),
            (frame["classification"].isna(), "classification", "has contacts not yet classified as value or "
             "failure; they are counted as unclassified", "classify them with the classifier or add rules.csv"),
            (frame["classification"].eq("failure") & frame["failure_type"].isna(), "failure_type",
             "has failure demand with no failure type", "say what failed (progress chasing, not done, ...)"),
        ]
        for mask, column, message, fix in checks:
            mask = mask.to_numpy(dtype=bool)
            if mask.any():
                first = int(np.flatnonzero(mask)[0])
                out.append(Problem(path.name, message, fix, row=int(positions[first]) + 2, column=column,
                                   count=int(mask.sum()), severity=WARNING))
    return sorted(out, key=lambda p: p.severity != ERROR)
