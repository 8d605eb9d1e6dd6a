"""A yearly pattern (analysis/season.py): the same months high (or low) in two years is a season, said once and never
a special cause to chase (METHOD.md "Readings that must stay true"); anything less is no pattern."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from systemic_lib.analysis import reading, season
from systemic_lib.analysis.spc import xmr

WEEKS = pd.date_range("2024-01-01", periods=70, freq="7D")
MONTH = (WEEKS + pd.Timedelta(days=3)).month


def _series(high=(), low=(), *, seed=5, level=100.0, lift=30.0, noise=3.0):
    rng = np.random.default_rng(seed)
    values = np.full(len(WEEKS), level) + rng.normal(0, noise, len(WEEKS))
    values[np.isin(MONTH, high)] += lift
    values[np.isin(MONTH, low)] -= lift
    return values


def test_months_that_run_low_every_year_are_a_season_too():
    # (the rest of the year sits above the first year's average, by less than 0.75 sigma with this much noise)
    found = season.yearly_pattern(WEEKS, _series(low=(1, 2), noise=8.0))
    assert found is not None and found.low == (1, 2) and found.confirmed == (1, 2) and not found.high
    assert found.side(1) == -1 and found.side(6) == 0
    assert "it ran low in January and February in both 2024 and 2025" in found.sentence("demand per week")
    assert found.figure() == {"high_months": [], "low_months": ["January", "February"], "seen_in_years": [2024, 2025]}


def test_a_month_high_one_year_and_low_the_next_is_no_pattern():
    values = _series()
    first, second = (MONTH == 1) & (WEEKS.year == 2024), (MONTH == 1) & (WEEKS.year == 2025)
    values[first] += 30
    values[second] -= 30
    assert season.yearly_pattern(WEEKS, values) is None


def test_a_high_month_seen_once_is_no_pattern_on_its_own():
    values = _series()
    values[(MONTH == 6) & (WEEKS.year == 2024)] += 30  # one June only: an event, not a season
    assert season.yearly_pattern(WEEKS, values) is None


def test_a_month_high_in_one_year_only_is_not_part_of_the_pattern():
    # a real winter (January to March high in 2024 and 2025) and one high October, seen once: today the sentence
    # said "(and high in October in 2024)" and an October week read "high, as at this time every year"
    values = _series(high=(1, 2, 3))
    values[(MONTH == 10) & (WEEKS.year == 2024)] += 30
    found = season.yearly_pattern(WEEKS, values)
    assert found is not None and found.confirmed == (1, 2, 3) and found.high == (1, 2, 3)
    assert found.side(10) == 0 and not found.explains(pd.Timestamp("2024-10-14"), 1)
    assert "October" not in found.sentence("demand per week")


TWO_YEARS = pd.date_range("2024-01-01", periods=104, freq="7D")


def test_the_months_compared_share_one_allowance_for_chance():
    # two years, twelve months compared: June a little high (1.7 standard errors of a month) in both years. Without
    # an allowance for comparing twelve months, today's rule (0.75 sigma, one comparison per month) called that a
    # season; it is what noise gives somewhere among twelve months about one time in eight
    month = (TWO_YEARS + pd.Timedelta(days=3)).month
    values = 100 + 4.0 * (-1) ** np.arange(len(TWO_YEARS))
    values[month == 6] += 6.0
    assert season.yearly_pattern(TWO_YEARS, values) is None
    values[month == 6] += 6.0  # twice that (3.3 standard errors each year) is a season
    found = season.yearly_pattern(TWO_YEARS, values)
    assert found is not None and found.high == (6,)


def test_noise_alone_is_rarely_a_season():
    rng = np.random.default_rng(11)
    found = [season.yearly_pattern(TWO_YEARS, rng.poisson(100, len(TWO_YEARS))) for _ in range(200)]
    assert sum(f is not None for f in found) / len(found) <= 0.06  # today: 0.13 (one in eight)


def test_a_demand_type_that_runs_low_is_not_called_high():
    from systemic_lib.analysis import demand

    # today the week-by-week table said "Seasonal: high in January and February" of months that ran low
    verdict = demand._week_by_week(_series(low=(1, 2), noise=8.0), WEEKS, [])["verdict"]
    assert verdict.startswith("Seasonal: low in January and February in 2024 and 2025;"), verdict


def test_adjusted_divides_each_week_by_its_months_usual_level():
    values = _series(high=(1, 2, 3))
    found = season.yearly_pattern(WEEKS, values)
    assert found is not None and found.index[1] > 1.2 and abs(found.index[7] - 1) < 0.2
    out = season.adjusted(WEEKS, values, found)
    january = MONTH == 1
    assert out[january].mean() == pytest.approx(values[january].mean() / found.index[1])
    # against the usual level for the time of year, winter weeks sit with the rest
    assert abs(out[january].mean() - out[MONTH == 7].mean()) < 8


@pytest.mark.parametrize(
    ("months", "span", "said"),
    [
        ([1, 2, 3], False, "January to March"),
        ([11, 12, 1, 2, 3], False, "November to March"),
        ([1, 3, 7], False, "January, March and July"),
        ([6, 7], True, "in June and July"),
        ([3], True, "in March"),
        ([11, 12, 1], True, "from November to January"),
    ],
)
def test_month_words(months, span, said):
    assert season.month_words(months, span=span) == said


def test_a_winter_week_is_the_season_not_a_special_cause():
    weeks = WEEKS[:65]  # 1 January 2024 to 24 March 2025
    values = _series(high=(1, 2, 3))[:65]
    values[-1] = values[np.isin(MONTH[:65], [1, 2, 3])].max() + 4  # the latest week: the highest winter week yet
    chart = xmr(values, dates=weeks, improvement="decrease")
    # the chart alone reads the winter as "getting worse": a cause to chase
    assert chart.variation == "special_cause_concern_high"
    found = season.yearly_pattern(weeks, values)
    assert found is not None and 3 in found.high
    assert reading.latest_point(chart, found) == "seasonal_high"
    r = reading.reading_of(chart, measure="demand", unit="contacts", season=found)
    assert r.value == "no change" and r.badge == "Latest point: high, as at this time every year"
    assert "the season, not a cause to chase" in r.sentence and "find out what happened" not in r.sentence


def test_a_high_week_in_a_month_that_is_not_high_every_year_is_still_a_special_cause():
    weeks = pd.date_range("2024-01-01", periods=80, freq="7D")  # to July 2025
    month = (weeks + pd.Timedelta(days=3)).month
    rng = np.random.default_rng(5)
    values = 100 + rng.normal(0, 3, len(weeks)) + np.where(np.isin(month, [1, 2, 3]), 30, 0)
    values[-1] = 160
    chart = xmr(values, dates=weeks, improvement="decrease")
    found = season.yearly_pattern(weeks, values)
    assert found is not None and month[-1] == 7
    assert reading.latest_point(chart, found) == "special_cause_concern_high"
    r = reading.reading_of(chart, measure="demand", unit="contacts", season=found)
    assert r.value == "concern" and "find out what happened" in r.sentence


def _winter(lift_since_change: float = 0.0):
    """Weekly demand from October 2023 to March 2025, high every November to March, with a change on 4 November 2024
    (and, given ``lift_since_change``, a real move since)."""
    weeks = pd.date_range("2023-10-02", periods=78, freq="7D")  # to 24 March 2025
    month = (weeks + pd.Timedelta(days=3)).month
    rng = np.random.default_rng(11)
    values = 100 + rng.normal(0, 5, len(weeks)) + np.where(np.isin(month, [11, 12, 1, 2, 3]), 25, 0)
    change = pd.Timestamp("2024-11-04")
    values[weeks >= change] += lift_since_change
    return weeks, values, change


def test_the_winter_after_a_change_is_not_credited_to_the_change():
    weeks, values, change = _winter()
    chart = xmr(values, dates=weeks, phase_starts=[change], improvement="decrease")
    # the chart alone: the winter weeks since the change all sit above the (mostly summer) old average
    assert reading.change_view(chart, unit="contacts").shows == "concern"
    found = season.yearly_pattern(weeks, values)
    assert found is not None and {11, 12, 1, 2, 3} <= set(found.high)
    view = reading.change_view(chart, unit="contacts", season=found)
    assert view.name == "year on year" and view.shows is None and view.enough
    assert "compared with the same weeks a year earlier" in view.sentence
    assert view.sentence.endswith("no more than chance allows: the change cannot be told from the season yet.")


def test_a_real_change_in_a_seasonal_series_is_seen_against_the_year_before():
    weeks, values, change = _winter(lift_since_change=-20)
    chart = xmr(values, dates=weeks, phase_starts=[change], improvement="decrease")
    found = season.yearly_pattern(weeks, values)
    assert found is not None
    view = reading.change_view(chart, unit="contacts", season=found)
    assert view.shows == "improvement" and view.figures["lower"] > view.figures["higher"]
    assert view.sentence.endswith("more than chance allows: a real improvement.")
    r = reading.reading_of(chart, measure="demand", unit="contacts", season=found, change={"date": "2024-11-04"})
    assert r.value == "improvement" and r.views[0].sentence == view.sentence


def test_no_change_year_on_year_is_written_0_not_minus_0():
    # Westmere repairs' end-to-end time read "4 of 9 were higher and 5 lower, -0% in all"
    weeks, values, change = _winter()
    since = np.flatnonzero(weeks >= change)
    paired = since[weeks[since] - pd.Timedelta(days=364) >= weeks[0]]
    for k, i in enumerate(paired):
        values[i] = values[i - 52] + (3.0 if k % 2 else -3.2)
    chart = xmr(values, dates=weeks, phase_starts=[change], improvement="decrease")
    found = season.yearly_pattern(weeks, values)
    assert found is not None
    view = reading.change_view(chart, unit="contacts", season=found)
    assert view.name == "year on year" and -0.5 < view.figures["change_pct"] < 0
    assert ", 0% in all" in view.sentence and "-0%" not in view.sentence
