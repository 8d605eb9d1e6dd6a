"""A yearly pattern in a weekly series: the same months running high (or low) every year (METHOD.md "Readings that
must stay true": seasons are not special causes to chase).

A capability chart compares each week with one average, so a series that rises every winter shows runs of weeks
"above the average" that the chart's rules flag as special causes. They are the season, not events to chase, and
a change that starts a phase in autumn gets the credit (or blame) for the winter. ``yearly_pattern`` says whether a
series has such a pattern, by a rule a manager can check:

* the series covers a year or more (its first and last week at least 52 weeks apart);
* each calendar month's weeks (a week belongs to the month holding its Thursday; a month needs 3 of them) are
  compared with the usual level: the typical month of the first 52 weeks (the median of their months' averages, so
  that the seasonal months themselves do not drag the other months to "high" or "low"). A month runs **high** when
  its average sits more than ``z`` standard errors above it (the chart's sigma, mean moving range / 1.128, divided
  by the square root of the month's weeks), **low** when as far below;
* only months seen in two or more years can show a season: a month runs that way every year when it is high (or
  low) in every year it was seen, and ``z`` allows for chance across all the months so compared (``CHANCE``: the
  chance that some month runs the same way in both of two years by noise alone is 2 %, shared out over the months;
  for 3 months compared z is 1.57, for 12 it is 1.90);
* there is a yearly pattern when at least one month runs high (or low) every year, and no month ran high one year
  and low another. A month seen in one year only is never part of the pattern, however it ran: one year cannot
  tell a season from a change to the system or an event.

Without the allowance (one comparison per month at a fixed 0.75 sigma) a flat series of two years read as seasonal
about one time in eight (13% of 400 simulated flat series of weekly counts); with it, 3.5% at 65 weeks, 4.0% at two
years and 0.8% at three.
``Season.index`` is each month's average as a share of the usual level (every month seen, in the pattern or not:
a series with a season is read against the level of each time of year it has shown); ``adjusted`` divides a series
by it, so that what is left is the week against the usual level for its time of year. Weekly series only: a month is one point of a monthly series, too little to tell a season.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Season", "yearly_pattern", "adjusted", "month_words", "MONTHS"]

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
#: A month needs this many weeks behind its average.
MIN_WEEKS_IN_MONTH = 3
#: The chance, shared out over the months seen in two or more years, that noise alone makes some month run the same
#: way in both of two years (a Bonferroni allowance: each month may do so by chance with CHANCE / months).
CHANCE = 0.02


@dataclass(frozen=True)
class Season:
    """A yearly pattern: the months seen in two or more years that ran high (``high``) or low (``low``) in every one
    of them (together ``confirmed``), those years, and each month's level as a share of the usual level
    (``index``, 1.0 usual)."""

    high: tuple[int, ...]
    low: tuple[int, ...]
    confirmed: tuple[int, ...]
    years: tuple[int, ...]
    index: dict[int, float]
    first_year: int = 0  #: the year the data start in

    def side(self, month: int) -> int:
        """+1 for a month that runs high every year, -1 for one that runs low, 0 otherwise."""
        return 1 if month in self.high else -1 if month in self.low else 0

    def explains(self, when, side: int) -> bool:
        """True when a point on ``side`` (+1 high, -1 low) of the average in the week of ``when`` is the season."""
        return side != 0 and self.side(week_month(pd.Timestamp(when))) == side

    def sentence(self, what: str) -> str:
        """'Demand per week has a yearly pattern: it ran high from January to March in both 2024 and 2025, so weeks in
        those months are the season, not special causes to chase.'"""
        years = " and ".join(str(y) for y in self.years)
        both = "both" if len(self.years) == 2 else "each of"
        seen = [m for m in self.confirmed if m in self.high]
        low = [m for m in self.confirmed if m in self.low]
        parts = []
        if seen:
            parts.append(f"it ran high {month_words(seen, span=True)} in {both} {years}")
        if low:
            parts.append(f"{'and low' if parts else 'it ran low'} {month_words(low, span=True)} in {both} {years}")
        return (
            f"{what[0].upper() + what[1:]} has a yearly pattern: {' '.join(parts)}, so weeks in those months are the "
            "season, not special causes to chase."
        )

    def figure(self) -> dict:
        return {
            "high_months": [MONTHS[m - 1] for m in self.high],
            "low_months": [MONTHS[m - 1] for m in self.low],
            "seen_in_years": list(self.years),
        }


def week_month(when: pd.Timestamp) -> int:
    """The calendar month a week (given by its Monday) belongs to: the month of its Thursday."""
    return int((when + pd.Timedelta(days=3)).month)


def _sigma(values: np.ndarray) -> float:
    if len(values) < 2:
        return float("nan")
    return float(np.mean(np.abs(np.diff(values)))) / 1.128


def yearly_pattern(dates, values) -> Season | None:
    """The yearly pattern of a weekly series (``dates`` the weeks' Mondays), or None when it has none or covers less
    than a year (see the module docstring for the rule)."""
    frame = pd.DataFrame(
        {"date": pd.to_datetime(pd.Series(list(dates))), "value": pd.Series(list(values), dtype=float)}
    )
    frame = frame.dropna().sort_values("date")
    if len(frame) < 2 or (frame["date"].iloc[-1] - frame["date"].iloc[0]).days < 364:
        return None
    sigma = _sigma(frame["value"].to_numpy())
    first = (frame["date"] < frame["date"].iloc[0] + pd.Timedelta(days=364)).to_numpy()
    thursday = frame["date"] + pd.Timedelta(days=3)
    frame = frame.assign(year=thursday.dt.year, month=thursday.dt.month)
    months = _month_means(frame)
    # the usual level: the typical month of the first year (its median), which a few seasonal months do not move
    first_months = _month_means(frame[first])
    ref = float(first_months["mean"].median()) if len(first_months) else float("nan")
    if not np.isfinite(sigma) or sigma <= 0 or not np.isfinite(ref) or ref == 0:
        return None
    years_seen = months.groupby(level="month").size()
    compared = int((years_seen >= 2).sum())
    if compared == 0:
        return None
    dev = (months["mean"] - ref) / (sigma / np.sqrt(months["size"]))
    z = month_z(compared)
    side = np.where(dev > z, 1, np.where(dev < -z, -1, 0))
    sides = pd.Series(side, index=months.index).groupby(level="month").agg(list)
    confirmed: list[int] = []
    for month, seen in sides.items():
        if len(seen) < 2:
            continue  # one year cannot tell a season from a change or an event
        if 1 in seen and -1 in seen:
            return None  # high one year, low another: no yearly pattern
        if seen[0] != 0 and all(s == seen[0] for s in seen):
            confirmed.append(int(month))
    if not confirmed:
        return None
    years = sorted({int(y) for y, m in months.index if m in confirmed})
    index = (months["mean"] / ref).groupby(level="month").mean()
    return Season(
        tuple(m for m in confirmed if sides[m][0] == 1),
        tuple(m for m in confirmed if sides[m][0] == -1),
        tuple(confirmed),
        tuple(years),
        {int(m): float(v) for m, v in index.items()},
        int(frame["year"].iloc[0]),
    )


def month_z(compared: int) -> float:
    """How many standard errors from the usual level a month's average must sit to run high or low, with
    ``compared`` months seen in two or more years: each may run the same way in both of two years by chance with
    ``CHANCE / compared``, that is 2 x q^2 with q the one-sided chance beyond z."""
    from scipy.stats import norm

    return float(norm.isf(np.sqrt(CHANCE / (2 * compared))))


def _month_means(frame: pd.DataFrame) -> pd.DataFrame:
    """Each (year, month)'s average and number of weeks, for months with at least ``MIN_WEEKS_IN_MONTH`` weeks."""
    months = frame.groupby(["year", "month"])["value"].agg(["mean", "size"])
    return months[months["size"] >= MIN_WEEKS_IN_MONTH]


def adjusted(dates, values, season: Season) -> np.ndarray:
    """The series against the usual level for its time of year: each week divided by its month's ``index`` (a
    month the data never show is left as it is)."""
    months = [week_month(pd.Timestamp(d)) for d in dates]
    factor = np.array([season.index.get(m, 1.0) or 1.0 for m in months], dtype=float)
    return np.asarray(values, dtype=float) / factor


def month_words(months, *, span: bool = False) -> str:
    """'January to March' for consecutive months (across the new year too: 'November to March'), else 'January,
    March and July'; with ``span`` each run reads 'from November to March' and a single month 'in March'."""
    chosen = sorted({int(m) for m in months})
    if not chosen:
        return ""
    runs: list[list[int]] = []
    for m in chosen:
        if runs and m == runs[-1][-1] + 1:
            runs[-1].append(m)
        else:
            runs.append([m])
    if len(runs) > 1 and runs[0][0] == 1 and runs[-1][-1] == 12:  # December runs on into January
        runs[0] = runs.pop() + runs[0]
    parts = []
    for r in runs:
        joint = " and " if len(r) == 2 else " to "
        text = MONTHS[r[0] - 1] if len(r) == 1 else f"{MONTHS[r[0] - 1]}{joint}{MONTHS[r[-1] - 1]}"
        parts.append(text if not span else f"from {text}" if len(r) > 2 else f"in {text}")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
