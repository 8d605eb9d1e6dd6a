"""Weekly (or monthly) series of a measure, from dated rows: counts, medians and shares, with the measure stage's rules
for part weeks and thin weeks (see ``measure``); shared by the built-in measures and a service's own
(``custom_measures``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from systemic_lib.data.council import within_period

__all__ = ["MIN_WEEKLY_COUNT", "MONTH_SLACK_DAYS", "choose_grain", "weekly", "end_to_end"]

MIN_WEEKLY_COUNT = 5
#: A first or last month of demand counts the data miss more than this many days of is left out (a part month).
MONTH_SLACK_DAYS = 3


def _week(ts: pd.Series, grain: str = "week") -> pd.Series:
    """The start of each timestamp's week (Monday) or, with grain "month", its calendar month (the 1st)."""
    return ts.dt.to_period("W-SUN" if grain == "week" else "M").dt.start_time


def _periods(first, last, grain: str) -> pd.DatetimeIndex:
    return pd.date_range(first, last, freq="7D" if grain == "week" else "MS")


def _period_days(start: pd.Timestamp, grain: str) -> int:
    return 7 if grain == "week" else start.days_in_month


def _whole(covered: int, start: pd.Timestamp, grain: str) -> bool:
    """A first or last period of a count is whole enough: 5 of a week's 7 days, all but 3 days of a month."""
    if grain == "week":
        return covered >= 5
    return covered >= _period_days(start, grain) - MONTH_SLACK_DAYS


def _weekly(
    frame: pd.DataFrame,
    when: str,
    num: pd.Series | None,
    den: pd.Series | None,
    *,
    kind: str,
    start=None,
    end=None,
    grain: str = "week",
) -> pd.DataFrame:
    """Weekly (or monthly) series from rows dated by ``when``: 'median' of num, 'pct' num/den, or 'count' of rows."""
    frame = frame[frame[when].notna()]
    if start is not None or end is not None:
        frame = within_period(frame, when, start, end)
    if frame.empty:
        return pd.DataFrame(
            {"date": pd.Series(dtype="datetime64[ns]"), "value": pd.Series(dtype=float), "n": pd.Series(dtype=int)}
        )
    week = _week(frame[when], grain)
    weeks = _periods(week.min(), week.max(), grain)
    if kind == "count":
        n = frame.groupby(week).size().reindex(weeks, fill_value=0)
        value = n.astype(float)
        first, last = frame[when].min().normalize(), frame[when].max().normalize()
        keep = pd.Series(True, index=weeks)
        first_end = weeks[0] + pd.Timedelta(days=_period_days(weeks[0], grain) - 1)
        if not _whole((first_end - first).days + 1, weeks[0], grain):
            keep.iloc[0] = False
        if not _whole((last - weeks[-1]).days + 1, weeks[-1], grain):
            keep.iloc[-1] = False
        value, n = value[keep.to_numpy()], n[keep.to_numpy()]
    elif kind == "median":
        if num is None:
            raise ValueError("a median series needs num")
        grouped = num.loc[frame.index].groupby(week)
        value = grouped.median().reindex(weeks)
        n = grouped.size().reindex(weeks, fill_value=0)
    else:
        if num is None or den is None:
            raise ValueError("a % series needs num and den")
        d = den.loc[frame.index].astype(bool)
        top = num.loc[frame.index][d].astype(float).groupby(week[d]).sum().reindex(weeks, fill_value=0.0)
        n = d[d].groupby(week[d]).size().reindex(weeks, fill_value=0)
        value = (100.0 * top / n.replace(0, np.nan)).where(n >= MIN_WEEKLY_COUNT)
    return pd.DataFrame(
        {"date": value.index, "value": value.to_numpy(dtype=float), "n": n.to_numpy(dtype=int)}
    ).reset_index(drop=True)


def _end_to_end(table: pd.DataFrame, *, start=None, end=None, grain: str = "week") -> pd.DataFrame:
    """Weekly (or monthly) median end-to-end days by opening week (month); weeks whose median is not yet certain are
    left out."""
    cases = table[table["opened_at"].notna()]
    if start is not None or end is not None:
        cases = within_period(cases, "opened_at", start, end)
    data_end = pd.concat([table["opened_at"], table["closed_at"]]).max()
    if end is not None:
        data_end = min(data_end, pd.Timestamp(end) + pd.Timedelta(days=1))
    days = (cases["closed_at"] - cases["opened_at"]).dt.total_seconds() / 86400
    cases = cases[~(days < 0)]  # a case closed before it opened is a data error; validate reports it
    days = days[cases.index]
    is_open = cases["closed_at"].isna() | (cases["closed_at"] > data_end)
    age = (data_end - cases["opened_at"]).dt.total_seconds() / 86400
    if cases.empty:
        return pd.DataFrame(
            {"date": pd.Series(dtype="datetime64[ns]"), "value": pd.Series(dtype=float), "n": pd.Series(dtype=int)}
        )
    week = _week(cases["opened_at"], grain)
    # An open case will take at least its age so far. The median is certain when the upper middle value (sorted,
    # open cases last) is a closed case no longer than the youngest open case's age: however long the open cases
    # take, they sort above it and the median cannot move.
    # Per week at once (numpy over the cases sorted by week, then closed days): a loop over weeks indexed pandas
    # Series a few hundred times a report.
    code, labels = pd.factorize(week, sort=True)
    shut = ~is_open.to_numpy(dtype=bool)
    n_all = np.bincount(code, minlength=len(labels))
    n_closed = np.bincount(code[shut], minlength=len(labels))
    order = np.lexsort((days.to_numpy(dtype=float)[shut], code[shut]))
    closed_days = days.to_numpy(dtype=float)[shut][order]
    first = np.cumsum(n_closed) - n_closed  # where each week's sorted closed days begin
    youngest = pd.Series(age.to_numpy(dtype=float)[~shut]).groupby(code[~shut]).min().reindex(range(len(labels)))
    youngest = np.where(n_all > n_closed, youngest.to_numpy(dtype=float), np.inf)  # no open case: nothing moves it
    upper_mid = n_all // 2
    ok = upper_mid < n_closed
    hi = closed_days[np.where(ok, first + upper_mid, 0)] if len(closed_days) else np.zeros(len(labels))
    lo = closed_days[np.where(ok, first + np.maximum(upper_mid - 1, 0), 0)] if len(closed_days) else hi
    ok &= hi <= youngest
    mid = np.where(n_all % 2 == 1, hi, (lo + hi) / 2)
    known = dict(zip(labels[ok], mid[ok].tolist()))
    weeks = _periods(week.min(), week.max(), grain)
    value = pd.Series(known, dtype=float).reindex(weeks)
    n = week.value_counts().reindex(weeks, fill_value=0)
    frame = pd.DataFrame({"date": weeks, "value": value.to_numpy(dtype=float), "n": n.to_numpy(dtype=int)})
    filled = np.flatnonzero(frame["value"].notna().to_numpy())
    return frame.iloc[: filled[-1] + 1 if len(filled) else 0].reset_index(drop=True)


def choose_grain(weekly: pd.DataFrame) -> str:
    """ "week" when the median week of a weekly series has at least ``MIN_WEEKLY_COUNT`` cases or contacts behind it
    (its ``n``; empty weeks count 0), else "month". A series with nothing behind it stays weekly (no chart anyway)."""
    if weekly.empty or weekly["n"].sum() == 0:
        return "week"
    return "week" if float(np.median(weekly["n"].to_numpy(dtype=float))) >= MIN_WEEKLY_COUNT else "month"


weekly, end_to_end = _weekly, _end_to_end
