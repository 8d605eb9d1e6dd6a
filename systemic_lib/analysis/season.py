"""A yearly pattern in a weekly series: the same months running high (or low) every year (METHOD.md "Readings that
must stay true": seasons are not special causes to chase).

A capability chart compares each week with one average, so a series that rises every winter shows runs of weeks
"above the average" that the chart's rules flag as special causes. They are the season, not events to chase, and
a change that starts a phase in autumn gets the credit (or blame) for the winter. ``yearly_pattern`` says whether a
series has such a pattern, by a rule a manager can check:

* the series covers a year or more (its first and last week at least 52 weeks apart);
* each calendar month's weeks (a week belongs to the month holding its Thursday; a month needs 3 of them) are
  compared with the usual level: the typical month of the first 52 weeks (the median of their months' averages, so
  that the seasonal months themselves do not drag the other months to "high" or "low"); a month runs **high** when
  its average is more than ``MONTH_SIGMAS`` (0.75) sigma (the chart's sigma: mean moving range / 1.128) above it,
  **low** when as far below;
* there is a yearly pattern when at least one calendar month seen in two or more years ran high (or low) in every
  one of them, and no month seen twice ran high one year and low another.

A month's average of four weeks moves by about half a sigma by chance, so the same month beyond 0.75 sigma on the
same side in two years running happens by chance in about one series in a hundred for each month seen twice.
``Season.index`` is each month's average as a share of the usual level; ``adjusted`` divides a series by it, so that
what is left is the week against the usual level for its time of year. Weekly series only: a month is one point of a monthly series, too little to tell a season.
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
#: How far (in the chart's sigmas) a month's average must sit from the first year's to run high or low.
MONTH_SIGMAS = 0.75


@dataclass(frozen=True)
class Season:
    """A yearly pattern: the months that ran high (``high``) or low (``low``) every year they were seen, the ones of
    them seen in two or more years (``confirmed``) and those years, and each month's level as a share of the first
    year's average (``index``, 1.0 usual)."""

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
        """'Demand per week has a yearly pattern: it ran high from January to March in both 2024 and 2025 (and from
        November to December in 2024), so weeks in those months are the season, not special causes to chase.'"""
        years = " and ".join(str(y) for y in self.years)
        both = "both" if len(self.years) == 2 else "each of"
        seen = [m for m in self.confirmed if m in self.high]
        low = [m for m in self.confirmed if m in self.low]
        parts = []
        if seen:
            parts.append(f"it ran high {month_words(seen, span=True)} in {both} {years}")
        if low:
            parts.append(f"{'and low' if parts else 'it ran low'} {month_words(low, span=True)} in {both} {years}")
        once = [m for m in self.high if m not in self.confirmed]
        also = f" (and high {month_words(once, span=True)} in {self.first_year})" if once and seen else ""
        return (
            f"{what[0].upper() + what[1:]} has a yearly pattern: {' '.join(parts)}{also}, so weeks in those months "
            "are the season, not special causes to chase."
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
    thursday = frame["date"] + pd.Timedelta(days=3)
    first = (frame["date"] < frame["date"].iloc[0] + pd.Timedelta(days=364)).to_numpy()
    frame = frame.assign(year=thursday.dt.year, month=thursday.dt.month)
    months = frame.groupby(["year", "month"])["value"].agg(["mean", "size"])
    months = months[months["size"] >= MIN_WEEKS_IN_MONTH]
    # the usual level: the typical month of the first year (its median), which a few seasonal months do not move
    first_months = frame[first].groupby(["year", "month"])["value"].agg(["mean", "size"])
    first_months = first_months[first_months["size"] >= MIN_WEEKS_IN_MONTH]
    ref = float(first_months["mean"].median()) if len(first_months) else float("nan")
    if not np.isfinite(sigma) or sigma <= 0 or not np.isfinite(ref) or ref == 0:
        return None
    dev = (months["mean"] - ref) / sigma
    side = np.where(dev > MONTH_SIGMAS, 1, np.where(dev < -MONTH_SIGMAS, -1, 0))
    sides = pd.Series(side, index=months.index).groupby(level="month").agg(list)
    confirmed: list = []
    years: set = set()
    for month, seen in sides.items():
        if len(seen) < 2:
            continue
        if 1 in seen and -1 in seen:
            return None  # high one year, low another: no yearly pattern
        if seen[0] != 0 and all(s == seen[0] for s in seen):
            confirmed.append(int(month))
            years.update(int(y) for y in months.loc[(slice(None), month), :].index.get_level_values("year"))
    if not confirmed:
        return None
    high = tuple(int(m) for m, seen in sides.items() if all(s == 1 for s in seen))
    low = tuple(int(m) for m, seen in sides.items() if all(s == -1 for s in seen))
    index = (months["mean"] / ref).groupby(level="month").mean()
    return Season(
        high,
        low,
        tuple(confirmed),
        tuple(sorted(years)),
        {int(m): float(v) for m, v in index.items()},
        int(frame["year"].iloc[0]),
    )


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
