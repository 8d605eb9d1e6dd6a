"""Weekly series shared by the measures (systemic_lib.analysis.weekly): the end-to-end median by opening week."""

from __future__ import annotations

import numpy as np
import pandas as pd

from systemic_lib.analysis import weekly


def test_end_to_end_median_by_week_only_where_certain():
    """Cases by opening week, the data ending 31 Jan (f's closing); every time at midnight.

    * 1 Jan: a 2 days, b 4 days (l closes before it opens: left out, not counted) → even count: (2 + 4) / 2 = 3;
    * 8 Jan: c 1, d 2, e open at 21 days old → sorted 1, 2, (≥ 21): the median 2 is certain;
    * 15 Jan: f 16, g open at 15 days → the median needs g's time: unknown;
    * 22 Jan: h 2, i 8, j open at only 5 days → j may finish before 8 days and move the median: unknown;
    * 29 Jan: k 1 → 1.
    """
    cases = pd.DataFrame(
        {
            "opened_at": pd.to_datetime(
                [
                    "2024-01-01",
                    "2024-01-02",
                    "2024-01-03",
                    "2024-01-08",
                    "2024-01-08",
                    "2024-01-10",
                    "2024-01-15",
                    "2024-01-16",
                    "2024-01-22",
                    "2024-01-22",
                    "2024-01-26",
                    "2024-01-29",
                ]
            ),
            "closed_at": pd.to_datetime(
                [
                    "2024-01-03",
                    "2024-01-06",
                    "2024-01-02",
                    "2024-01-09",
                    "2024-01-10",
                    None,
                    "2024-01-31",
                    None,
                    "2024-01-24",
                    "2024-01-30",
                    None,
                    "2024-01-30",
                ]
            ),
        }
    )
    s = weekly.end_to_end(cases)
    assert s["date"].dt.day.tolist() == [1, 8, 15, 22, 29]
    assert s["n"].tolist() == [2, 3, 2, 3, 1]
    value = s["value"].to_numpy()
    assert value[[0, 1, 4]].tolist() == [3, 2, 1] and np.isnan(value[2]) and np.isnan(value[3])
    # by month: 11 cases (l left out), closed sorted 1, 1, 2, 2, 2, 4, 8, 16, then 3 open (the youngest 5 days old):
    # the middle (6th) value is 4 days, certain as 4 ≤ 5
    m = weekly.end_to_end(cases, grain="month")
    assert m["value"].tolist() == [4] and m["n"].tolist() == [11]
