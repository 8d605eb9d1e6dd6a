"""The data contract refuses numbers and times that make nonsense (issue 13, item 9).

Hours must be finite and not negative (errors); more than 24 on one step is implausible (a warning). Dates before
1990 or more than a year in the future are warnings. Times with and without a UTC offset in one column are each
read on their own terms (offset: converted to UK local time; none: local as written), and the mix is a warning.
"""

from __future__ import annotations

import pandas as pd
import pytest

from systemic_lib.data.contract import ERROR, WARNING, parse_table

TODAY = pd.Timestamp("2024-12-01")


def events(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {
        "case_id": [f"R-{i}" for i in range(n)],
        "service": ["repairs"] * n,
        "activity": ["Fix"] * n,
        "timestamp": ["2024-03-04 10:00"] * n,
        "hours": ["0.5"] * n,
    }
    return pd.DataFrame({**base, **columns}, dtype=str)


def problems(frame, column, table="events"):
    result = parse_table(frame, table, file=f"{table}.csv", today=TODAY)
    return result, [p for p in result.problems if p.column == column]


@pytest.mark.parametrize("hours", ["1e400", "inf", "-inf", "NaN", "9" * 400, "-5"])
def test_non_finite_and_negative_hours_are_errors(hours):
    _, found = problems(events(hours=["0.5", hours]), "hours")
    assert [p.severity for p in found] == [ERROR] and found[0].row == 3, found


def test_more_than_24_hours_on_one_step_is_a_warning_and_kept():
    result, found = problems(events(hours=["0.5", "30", "24"]), "hours")
    assert [(p.severity, p.row, p.count) for p in found] == [(WARNING, 3, 1)]
    assert result.frame["hours"].tolist() == [0.5, 30.0, 24.0]


@pytest.mark.parametrize("when, row", [("1900-01-01 10:00", 3), ("2199-06-01 10:00", 3), ("1989-12-31 23:00", 3)])
def test_dates_before_1990_or_far_in_the_future_are_warnings(when, row):
    result, found = problems(events(timestamp=["2024-03-04 10:00", when]), "timestamp")
    assert [(p.severity, p.row) for p in found] == [(WARNING, row)], found
    assert len(result.frame) == 2 and result.frame["timestamp"].notna().all()


def test_ordinary_dates_raise_nothing():
    _, found = problems(events(timestamp=["1990-01-01 10:00", "2025-06-01 10:00"]), "timestamp")
    assert found == []


def test_times_with_and_without_an_offset_are_each_read_on_their_own_terms():
    """A summer time without an offset is local as written; one with an offset is converted to UK local time,
    wherever the first offset appears (here after 60 rows without one)."""
    plain = ["2024-07-01 10:00"] * 60
    mixed = plain + ["2024-07-01 10:00+01:00", "2024-07-01 09:00Z", "2024-07-01T11:00:00+02:00"]
    result, found = problems(events(timestamp=mixed), "timestamp")
    assert set(result.frame["timestamp"]) == {pd.Timestamp("2024-07-01 10:00")}
    assert [p.severity for p in found] == [WARNING] and "offset" in found[0].message
    # and the other way round: offsets first, then plain times
    result, _ = problems(events(timestamp=list(reversed(mixed))), "timestamp")
    assert set(result.frame["timestamp"]) == {pd.Timestamp("2024-07-01 10:00")}


def test_one_kind_of_time_throughout_is_not_warned_about():
    for times in (["2024-07-01 10:00"] * 3, ["2024-07-01 09:00Z", "2024-07-01 10:00+01:00", "2024-01-01 10:00Z"]):
        result, found = problems(events(timestamp=times), "timestamp")
        assert found == [] and result.frame["timestamp"].iloc[0] == pd.Timestamp("2024-07-01 10:00")


def test_a_day_first_date_is_not_mistaken_for_an_offset():
    result, found = problems(events(timestamp=["04-07-2024", "2024-07-04 10:00"]), "timestamp")
    assert found == [] and result.frame["timestamp"].iloc[0] == pd.Timestamp("2024-07-04")


def test_a_trailing_comma_on_every_row_is_read_as_if_it_were_not_there(tmp_path):
    """Issue 23: with one more cell on every row than the header has columns, pandas took the first column for row
    labels and every value was blamed on the column to its left. Empty trailing cells are left off; a trailing cell
    holding a value is an error naming its row."""
    from systemic_lib.data.contract import read_table

    path = tmp_path / "demand.csv"
    path.write_text(
        "contact_id,service,received_at,channel\nC1,waste,2024-01-02 09:00,phone,\nC2,waste,2024-01-03 09:00,web,\n"
    )
    read = read_table(path, "demand")
    assert read.problems == [] and read.frame["contact_id"].tolist() == ["C1", "C2"]
    assert read.frame["channel"].tolist() == ["phone", "web"]
    path.write_text(
        "contact_id,service,received_at,channel\nC1,waste,2024-01-02 09:00,phone,\nC2,waste,2024-01-03 09:00,web,x\n"
    )
    (problem,) = read_table(path, "demand").problems
    assert problem.row == 3 and "'x'" in problem.message and "past the last column" in problem.message
