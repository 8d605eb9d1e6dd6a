"""Plain English for reports: one rule for each kind of figure, with its boundaries."""

import datetime as dt

import numpy as np
import pandas as pd

from systemic_lib import words

T = pd.Timestamp


# ------------------------------------------------------------------------------------------------ dates
def test_dates_are_uk_style_and_never_zero_padded():
    assert words.date(T("2024-07-01")) == "1 July 2024"
    assert words.date("2024-07-01", short=True) == "1 Jul 2024"
    assert words.date(dt.date(2024, 12, 31)) == "31 December 2024"
    assert words.date(np.datetime64("2024-03-05")) == "5 March 2024"
    assert words.date(None) == words.date(pd.NaT) == ""


def test_stamp_says_the_day_and_time():
    assert words.stamp(dt.datetime(2024, 7, 1, 9, 5)) == "1 July 2024 at 09:05"
    assert words.stamp(None) == ""


def test_period():
    assert words.period(T("2024-01-01"), T("2024-12-31")) == "1 January 2024 to 31 December 2024"
    assert words.period("2024-01-01", "2024-12-31", short=True) == "1 Jan 2024 to 31 Dec 2024"
    assert words.period("2024-05-01", "2024-05-01") == "1 May 2024 to 1 May 2024"  # same day: both ends
    assert words.period("2024-01-01", None) == "from 1 January 2024"
    assert words.period(None, "2024-12-31", short=True) == "up to 31 Dec 2024"
    assert words.period(None, None) == words.period(pd.NaT, pd.NaT) == "no dated data"
    assert words.period(None, None, missing="no dated contacts") == "no dated contacts"


def test_when_opens_a_sentence_and_says_in_2024_for_a_whole_year():
    assert words.when(T("2024-01-02"), T("2024-12-30")) == "In 2024"
    assert words.when(T("2024-01-02"), T("2024-12-30"), capital=False) == "in 2024"
    assert words.when(T("2024-01-01"), T("2024-11-30")) == "From 1 January 2024 to 30 November 2024"
    assert words.when(T("2023-01-01"), T("2024-12-31")) == "From 1 January 2023 to 31 December 2024"
    assert words.when(T("2024-03-04"), T("2024-03-04")) == "From 4 March 2024 to 4 March 2024"
    assert words.when(None, None) == "Undated" and words.when(None, None, capital=False) == "undated"


# ------------------------------------------------------------------------------------------------ days and times
def test_days_are_whole_from_ten_and_one_decimal_below():
    assert [words.days(v) for v in (28.9, 10.0, 9.96, 9.94, 4.5, 0.25, 0.0, 1234.4)] == [
        "29",
        "10",
        "10",
        "9.9",
        "4.5",
        "0.2",
        "0.0",
        "1,234",
    ]
    assert words.days(np.float64(12.2)) == "12" and words.days(3) == "3.0"
    assert words.days(None) == words.days(float("nan")) == words.days("x") == words.days(True) == ""
    assert words.days(None, missing="\u2014") == "\u2014"


def test_duration_in_days_from_one_day_and_hours_below():
    assert words.duration(34.2) == "34 days"
    assert words.duration(10) == "10 days" and words.duration(9.9) == "9.9 days"
    assert words.duration(1.5) == "1.5 days" and words.duration(1) == "1.0 days"
    assert words.duration(0.99) == "23.8 hours" and words.duration(0.5) == "12.0 hours"
    assert words.duration(1 / 24) == "1.0 hours" and words.duration(0) == "0.0 hours"
    assert words.duration(None) == words.duration(float("nan")) == ""


def test_wait_goes_down_to_minutes_and_same_time():
    assert words.wait(34.2) == "34 days" and words.wait(9.96) == "10 days" and words.wait(1.0) == "1.0 days"
    assert words.wait(0.5) == "12.0 hours" and words.wait(1 / 24) == "1.0 hours"
    assert words.wait(0.01) == "14 min" and words.wait(1e-5) == "under 1 min"
    assert words.wait(0.0) == "same time" and words.wait(float("nan")) == words.wait(None) == ""


# ------------------------------------------------------------------------------------------------ counts
def test_count_and_plural():
    assert words.count(1, "contact") == "1 contact"
    assert words.count(2, "contact") == "2 contacts"
    assert words.count(0, "contact") == "0 contacts"
    assert words.count(12304, "contact") == "12,304 contacts"
    assert words.count(np.int64(1), "case") == "1 case" and words.count(1.0, "case") == "1 case"
    assert words.count(3, "entry", "entries") == "3 entries" and words.count(1, "entry", "entries") == "1 entry"
    assert words.plural(1, "sits", "sit") == "sits" and words.plural(2, "sits", "sit") == "sit"


def test_number():
    assert words.number(12304) == "12,304" and words.number(2.6) == "3"
    assert words.number(1, one="one") == "one" and words.number(2, one="one") == "2"
    assert words.number(None) == words.number(float("nan")) == ""


def test_percent_and_share():
    assert words.percent(41.2) == "41%" and words.percent(41.25, decimals=1) == "41.2%"
    assert words.percent(0) == "0%" and words.percent(100) == "100%"
    assert words.share(0.412) == "41%" and words.share(1) == "100%" and words.share(0.0) == "0%"
    assert words.percent(None) == words.share(float("nan")) == words.percent("x") == ""


def test_long_text_cells_are_truncated_in_every_table():
    """Issue 13, item 13: a 12 MB verbatim must not make a 12 MB report: 500 characters then an ellipsis."""
    frame = pd.DataFrame({"verbatim": ["x" * 12_000_000, "short", None], "n": [1, 2, 3]})
    shown = words.format_frame(frame)
    assert shown["verbatim"].iloc[0] == "x" * 500 + "…"
    assert shown["verbatim"].iloc[1] == "short" and shown["verbatim"].iloc[2] == words.MISSING
    assert words.format_frame(pd.DataFrame({"t": ["y" * 500]}))["t"].iloc[0] == "y" * 500
