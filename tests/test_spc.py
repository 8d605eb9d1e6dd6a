"""The XmR engine against hand-worked numbers and a published example.

Every expected number below is worked out by hand in the comments, not by running the code.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest

from systemic_lib.analysis.spc import SpcInputError, XmrResult, anhoj_limits, xmr

# A fixed baseline used by several tests: 75,125 alternating, 12 points.
#   mean = (75 + 125) / 2 = 100; every moving range = 50, so MR-bar = 50
#   limits = 100 ± 2.66 × 50 = 100 ± 133 → lower -33, upper 233
#   sigma = 50 / 1.128 = 44.3262; 2 sigma = 88.6525 → 2σ lines 11.3475 and 188.6525
BASE = [75, 125] * 6


# ----------------------------------------------------------------------------------------- published example
def test_wheeler_published_example():
    """Wheeler's individuals-chart data (reproduced in Tom Hopper's qcc tutorial)."""
    values = [5045, 4350, 4350, 3975, 4290, 4430, 4485, 4285, 3980, 3925, 3645, 3760, 3300, 3685, 3463, 5200]
    r = xmr(values)
    # sum = 66168 → mean = 66168 / 16 = 4135.5
    # moving ranges: 695, 0, 375, 315, 140, 55, 200, 305, 55, 280, 115, 460, 385, 222, 1737 → sum 5339
    # MR-bar = 5339 / 15 = 355.9333; 2.66 × 355.9333 = 946.7827
    # limits 4135.5 ± 946.7827 → 3188.7173, 5082.2827 (qcc's 3σ = 3 × MR-bar/1.128 gives 3188.87 / 5082.13:
    # the 2.66 constant is rounded from 3/1.128 = 2.6596)
    assert r.points["centre"].iloc[0] == pytest.approx(4135.5)
    assert r.points["upper"].iloc[0] == pytest.approx(5082.2827, abs=1e-3)
    assert r.points["lower"].iloc[0] == pytest.approx(3188.7173, abs=1e-3)
    # sigma = 355.9333 / 1.128 = 315.5437; 2σ lines 4135.5 ± 631.0875 = 3504.4125, 4766.5875
    assert r.points["lower_2s"].iloc[0] == pytest.approx(3504.4125, abs=1e-3)
    assert r.points["upper_2s"].iloc[0] == pytest.approx(4766.5875, abs=1e-3)
    assert pd.isna(r.points["moving_range"].iloc[0]) and r.points["moving_range"].iloc[-1] == 1737
    # 5200 > 5082.28: the last point is outside, above → improvement for a "higher is better" measure
    assert r.points["outside_limits"].tolist() == [False] * 15 + [True]
    assert r.variation == "special_cause_improvement_high"
    # points 9..15 (3980 ... 3463) are 7 in a row below 4135.5, after 4285 above → a shift
    assert r.points["shift"].tolist() == [False] * 8 + [True] * 7 + [False]
    # 3300 and 3463 are below the lower 2σ line 3504.41 and above the limit: 2 of the 3 points 13..15
    assert r.points.index[r.points["two_of_three"]].tolist() == [12, 14]
    assert r.points["rule"].iloc[12] == "two_of_three" and r.points["rule"].iloc[13] == "shift"
    assert r.points["signal"].iloc[12] == "concern"
    assert not r.points["trial"].any()


# ------------------------------------------------------------------------------------------------ shift rule
def test_shift_seven_points_flags_and_six_does_not():
    # 8 alternating points then a run at 12 preceded by a 4.
    seven = [16, 4] * 4 + [12] * 7
    # mean = (80 + 84) / 15 = 10.933; 12 is above it, 16 is above but the run is broken by the 4 before it
    # MRs: 7 × 12 + |12-4| = 8 + 6 × 0 = 92 → MR-bar 92/14 = 6.571 → limits 10.933 ± 17.48: nothing outside
    r = xmr(seven)
    assert r.points["shift"].tolist() == [False] * 8 + [True] * 7
    assert (r.points["rule"].iloc[8:] == "shift").all()
    assert (r.points["signal"].iloc[8:] == "improvement").all()
    six = [16, 4] * 4 + [12] * 6
    # mean = (80 + 72) / 14 = 10.857 < 12, run of 6 only
    assert not xmr(six).points["shift"].any()


def test_shift_setting_is_respected():
    six = [16, 4] * 4 + [12] * 6
    assert xmr(six, shift_points=6).points["shift"].sum() == 6


def test_point_on_the_mean_breaks_a_shift():
    broken = [6] * 6 + [14, 14, 14, 10, 14, 14, 14]
    # sum = 36 + 84 + 10 = 130 → mean 130 / 13 = 10 exactly; the 10 sits on the mean and splits 3 + 3
    r = xmr(broken)
    assert r.points["centre"].iloc[0] == 10
    assert not r.points["shift"].any()  # 6 sixes below: only 6
    whole = [6] * 6 + [14] * 7
    # mean = (36 + 98) / 13 = 10.31; seven 14s above it
    assert xmr(whole).points["shift"].tolist() == [False] * 6 + [True] * 7


# ------------------------------------------------------------------------------------------------ trend rule
def test_trend_seven_points_flags_and_six_does_not():
    seven = [4, 1, 2, 3, 4, 5, 6, 7, 4]
    # 1..7 is 7 points each strictly higher than the one before; 4→1 and 7→4 fall
    r = xmr(seven)
    assert r.points["trend"].tolist() == [False] + [True] * 7 + [False]
    six = [4, 1, 2, 3, 4, 5, 6, 4]
    assert not xmr(six).points["trend"].any()


def test_decreasing_trend_is_low_side():
    r = xmr([0, 7, 6, 5, 4, 3, 2, 1, 4], improvement="decrease")
    # 7..1 falls 7 points: a trend downwards, which is an improvement when lower is better
    assert r.points["trend"].tolist() == [False] + [True] * 7 + [False]
    assert (r.points.loc[r.points["rule"] == "trend", "signal"] == "improvement").all()


def test_tie_breaks_a_trend():
    tied = [1, 2, 3, 3, 4, 5, 6, 7]
    # 3 → 3 is not strictly higher: runs 1,2,3 (3 points) and 3,4,5,6,7 (5 points)
    assert not xmr(tied).points["trend"].any()
    tail_tie = [1, 2, 3, 4, 5, 6, 7, 7]
    # 1..7 is a trend of 7; the second 7 (a tie) is not part of it
    assert xmr(tail_tie).points["trend"].tolist() == [True] * 7 + [False]


def test_trend_does_not_cross_a_phase_boundary():
    values = [9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]
    assert xmr(values).points["trend"].sum() == 9  # 1..9
    # phase 0 = 9,1,2,3,4 (rising run 1..4: 4 points), phase 1 = 5,6,7,8,9,0 (5..9: 5 points): neither reaches 7
    assert not xmr(values, phase_starts=[5]).points["trend"].any()


# ------------------------------------------------------------------------------------------ outside limits
def test_point_exactly_on_a_limit_is_not_outside():
    # baseline fixes mean 100 and limits -33 / 233 from the first 12 points (see BASE)
    r = xmr(BASE + [233, 233.5, -33, -33.5], baseline_points=12)
    assert r.points["upper"].iloc[-1] == pytest.approx(233)
    assert r.points["lower"].iloc[-1] == pytest.approx(-33)
    assert r.points["outside_limits"].tolist() == [False] * 12 + [False, True, False, True]
    assert r.points["signal"].iloc[13] == "improvement" and r.points["signal"].iloc[15] == "concern"


def test_floor_clips_lower_limit():
    r = xmr(BASE, floor=0)
    assert (r.points["lower"] == 0).all()
    assert np.allclose(r.points["upper"], 233)
    # lower 2σ line 11.3475 is above the floor, so it stays
    assert r.points["lower_2s"].iloc[0] == pytest.approx(100 - 2 * 50 / 1.128)


# ----------------------------------------------------------------------------------------------- two of three
def test_two_of_three_beyond_two_sigma_flags_only_those_points():
    # 2σ upper line = 188.65, upper limit = 233 (see BASE); 200 and 210 are between them
    r = xmr(BASE + [200, 210, 100], baseline_points=12)
    assert r.points["two_of_three"].tolist() == [False] * 12 + [True, True, False]
    assert r.points["signal"].iloc[12] == "improvement"
    gap = xmr(BASE + [200, 100, 210], baseline_points=12)
    assert gap.points["two_of_three"].tolist() == [False] * 12 + [True, False, True]
    apart = xmr(BASE + [200, 100, 100, 210], baseline_points=12)
    assert not apart.points["two_of_three"].any()


def test_two_of_three_ignores_a_point_beyond_the_limit():
    # 250 > 233 is outside, so only 200 counts as "beyond 2σ within the limits": 1 of 3, no signal
    r = xmr(BASE + [200, 250, 100], baseline_points=12)
    assert not r.points["two_of_three"].any()
    assert r.points["outside_limits"].tolist() == [False] * 13 + [True, False]
    assert r.points["rule"].iloc[13] == "outside_limits"


def test_two_of_three_needs_same_side():
    # lower 2σ line = 100 - 88.65 = 11.35: 0 is beyond it on the low side, 200 on the high side
    r = xmr(BASE + [200, 0, 100], baseline_points=12)
    assert not r.points["two_of_three"].any()


# ----------------------------------------------------------------------------------------------------- phases
def test_phases_recalculate_and_drop_boundary_moving_range():
    values = [10, 12] * 6 + [20, 21] * 6
    r = xmr(values, phase_starts=[12])
    # phase 0: mean 11, MRs all 2 → limits 11 ± 5.32 = 5.68 / 16.32
    # phase 1: mean 20.5, MRs all 1 → limits 20.5 ± 2.66 = 17.84 / 23.16
    # (if the boundary MR |20 - 12| = 8 were kept, MR-bar would be (8 + 11) / 12 = 1.583)
    assert r.points["phase"].tolist() == [0] * 12 + [1] * 12
    assert pd.isna(r.points["moving_range"].iloc[12])
    assert r.points["upper"].iloc[0] == pytest.approx(16.32) and r.points["lower"].iloc[0] == pytest.approx(5.68)
    assert r.points["upper"].iloc[12] == pytest.approx(23.16) and r.points["lower"].iloc[12] == pytest.approx(17.84)
    ph = r.phases
    assert [p["mean"] for p in ph] == [11, 20.5]
    assert ph[1]["mean_moving_range"] == 1
    assert not r.points["outside_limits"].any()


def test_phase_start_dates_take_first_point_on_or_after():
    dates = pd.date_range("2024-01-01", periods=24, freq="7D")  # Mondays
    values = [10, 12] * 6 + [20, 21] * 6
    # 2024-03-20 is a Wednesday between week 11 (18 March) and week 12 (25 March) → phase from position 12
    r = xmr(values, dates=dates, phase_starts=["2024-03-20"])
    assert r.points["phase"].tolist() == [0] * 12 + [1] * 12
    assert r.phases[1]["start"] == pd.Timestamp("2024-03-25")
    assert r.points["date"].iloc[0] == pd.Timestamp("2024-01-01")


def test_phase_with_one_point_has_no_limits_and_is_trial():
    r = xmr([10, 12] * 6 + [30], phase_starts=[12])
    last = r.points.iloc[-1]
    assert last["centre"] == 30 and math.isnan(last["upper"]) and math.isnan(last["lower"])
    assert bool(last["trial"]) and last["signal"] == "common_cause"
    assert r.phases[1]["n"] == 1


# ------------------------------------------------------------------------------------------ baseline and trial
def test_baseline_fixes_limits_from_first_points():
    r = xmr(BASE + [300, 300, 300], baseline_points=12)
    # mean and limits from the 12 baseline points only: 100, -33, 233 (the 300s would raise the mean otherwise)
    assert (r.points["centre"] == 100).all()
    assert r.phases[0]["n_limits"] == 12
    assert r.points["outside_limits"].tolist() == [False] * 12 + [True] * 3
    # unfixed: mean = (1200 + 900) / 15 = 140
    assert xmr(BASE + [300, 300, 300]).points["centre"].iloc[0] == pytest.approx(140)


def test_baseline_needs_twelve_points():
    with pytest.raises(ValueError, match="at least 12"):
        xmr(BASE, baseline_points=11)


def test_fewer_than_twelve_points_gives_trial_limits():
    assert xmr(BASE[:11]).points["trial"].all()
    assert not xmr(BASE).points["trial"].any()
    r = xmr(BASE + [1, 2, 3], phase_starts=[12])
    assert r.points["trial"].tolist() == [False] * 12 + [True] * 3
    assert r.phases[1]["trial"] is True


# -------------------------------------------------------------------------------------------------- screening
def test_screening_off_by_default_and_on_when_asked():
    values = [10, 12] * 6 + [37]
    # sum = 132 + 37 = 169 → mean 13
    # MRs: 11 × 2 and |37 - 12| = 25 → sum 47 → MR-bar 47/12 = 3.91667
    # unscreened: 13 ± 2.66 × 3.91667 = 13 ± 10.41833 → 2.58167 / 23.41833
    off = xmr(values)
    assert off.points["upper"].iloc[0] == pytest.approx(23.41833, abs=1e-4)
    assert off.points["lower"].iloc[0] == pytest.approx(2.58167, abs=1e-4)
    # screening: 3.267 × 3.91667 = 12.796 → the 25 is dropped → MR-bar = 22 / 11 = 2 → 13 ± 5.32
    on = xmr(values, screen_moving_ranges=True)
    assert on.points["upper"].iloc[0] == pytest.approx(18.32)
    assert on.points["lower"].iloc[0] == pytest.approx(7.68)
    assert on.phases[0]["screened_moving_ranges"] == 1
    assert on.points["outside_limits"].iloc[-1]


# ---------------------------------------------------------------------------------------------------- constant
@pytest.mark.parametrize("level", [5, 0.1, 0])
def test_constant_series_zero_width_limits_no_signals(level):
    r = xmr([level] * 30, phase_starts=[15])
    assert np.allclose(r.points["upper"], level) and np.allclose(r.points["lower"], level)
    assert (r.points["signal"] == "common_cause").all()
    assert not r.points[["outside_limits", "shift", "trend", "two_of_three"]].to_numpy().any()
    assert r.variation == "common_cause"
    assert all(not a["signal"] and a["n_useful"] == 0 for a in r.anhoj)


# ------------------------------------------------------------------------------------------------------- Anhøj
def test_anhoj_thresholds_published_table():
    # longest run limit = round(log2 n) + 3: log2 10 = 3.32 → 6; log2 20 = 4.32 → 7; log2 30 = 4.91 → 8
    # min crossings = smallest k with P(X ≤ k) ≥ 0.05, X ~ Bin(n-1, ½):
    #  n=10: 2^9 = 512;  C(9,0..1) = 1+9 = 10 → 0.0195; + C(9,2) = 36 → 46/512 = 0.0898 → k = 2
    #  n=20: 2^19 = 524288; cum to k=5: 1+19+171+969+3876+11628 = 16664 → 0.0318; + C(19,6) = 27132 → 43796
    #        → 0.0835 → k = 6
    #  n=30: 2^29 = 536870912, 5% = 26843545.6; cum to k=9 = 16489546 (< 5%); + C(29,10) = 20030010 → 36519556
    #        → k = 10
    # Anhøj & Olesen (2014) table: n=10 → 6 / 2, n=20 → 7 / 6, n=30 → 8 / 10.
    assert anhoj_limits(10) == (6, 2)
    assert anhoj_limits(20) == (7, 6)
    assert anhoj_limits(30) == (8, 10)


def test_anhoj_longest_run_boundary_n10():
    # mean = 70/10 = 7: sides - +×7 - - → longest run 7 > 6, crossings 2 (not < 2) → signal
    r = xmr([0] + [10] * 7 + [0, 0])
    a = r.anhoj[0]
    assert (a["n_useful"], a["longest_run"], a["longest_run_limit"], a["n_crossings"]) == (10, 7, 6, 2)
    assert a["signal"] is True
    # mean = 60/10 = 6: sides - - +×6 - - → longest 6, not more than 6, crossings 2 → no signal
    a = xmr([0, 0] + [10] * 6 + [0, 0]).anhoj[0]
    assert (a["longest_run"], a["n_crossings"], a["signal"]) == (6, 2, False)


def test_anhoj_points_on_centre_are_not_useful_and_do_not_break_runs():
    # sum = 0 + 70 + 7 + 0 + 0 = 77 over 11 → mean 7; the 7 sits on the centre and is skipped
    a = xmr([0, 10, 10, 10, 7, 10, 10, 10, 10, 0, 0]).anhoj[0]
    assert (a["n_useful"], a["longest_run"], a["signal"]) == (10, 7, True)


def test_anhoj_crossings_boundary_n20():
    # blocks L3 H3 L3 H3 L3 H3 L2 (0 = low, 10 = high): mean 90/20 = 4.5, 6 crossings → not < 6
    six = [0] * 3 + [10] * 3 + [0] * 3 + [10] * 3 + [0] * 3 + [10] * 3 + [0] * 2
    a = xmr(six).anhoj[0]
    assert (a["n_useful"], a["n_crossings"], a["n_crossings_min"], a["signal"]) == (20, 6, 6, False)
    # blocks L4 H4 L3 H3 L3 H3: mean 100/20 = 5, 5 crossings < 6 → signal
    five = [0] * 4 + [10] * 4 + [0] * 3 + [10] * 3 + [0] * 3 + [10] * 3
    a = xmr(five).anhoj[0]
    assert (a["n_crossings"], a["signal"]) == (5, True)


def test_anhoj_per_phase():
    r = xmr([10, 12] * 15 + [1, 2] * 5, phase_starts=[30])
    assert [a["n_useful"] for a in r.anhoj] == [30, 10]
    assert r.anhoj[0]["n_crossings"] == 29 and r.anhoj[0]["n_crossings_min"] == 10


# ------------------------------------------------------------------------------------- direction and icons
def test_direction_sets_meaning():
    values = BASE + [250]
    assert xmr(values, baseline_points=12).points["signal"].iloc[-1] == "improvement"
    dec = xmr(values, baseline_points=12, improvement="decrease")
    assert dec.points["signal"].iloc[-1] == "concern" and dec.variation == "special_cause_concern_high"
    neu = xmr(values, baseline_points=12, improvement="neutral")
    assert neu.points["signal"].iloc[-1] == "neutral" and neu.variation == "special_cause_neutral_high"
    low = xmr(BASE + [-50], baseline_points=12, improvement="decrease")
    assert low.variation == "special_cause_improvement_low"
    with pytest.raises(ValueError, match="improvement must be one of"):
        xmr(values, improvement="up")


@pytest.mark.parametrize(
    "improvement, target, expected",
    [
        # limits -33 / 233 (BASE)
        ("increase", -40, "pass"),  # target below the lower limit: every point beats it
        ("increase", 240, "fail"),
        ("increase", 100, "hit_and_miss"),
        ("increase", 233, "hit_and_miss"),  # on the limit is inside
        ("decrease", 240, "pass"),
        ("decrease", -40, "fail"),
        ("neutral", 240, None),
        ("increase", None, None),
    ],
)
def test_assurance(improvement, target, expected):
    assert xmr(BASE, improvement=improvement, target=target).assurance == expected


# -------------------------------------------------------------------------------------------------- bad input
def test_missing_values_kept_as_rows_and_skipped():
    values = [10, np.nan, 12, 10, None, 12] + [10, 12] * 4
    r = xmr(values)
    assert len(r.points) == 14 and r.missing == 2 and r.n == 12
    # 12 numbers: mean 11; moving ranges join across the gaps: all 2 → limits 11 ± 5.32
    assert r.points["upper"].iloc[0] == pytest.approx(16.32)
    assert r.points["moving_range"].iloc[2] == 2 and pd.isna(r.points["moving_range"].iloc[1])
    assert pd.isna(r.points["signal"].iloc[1]) and pd.isna(r.points["signal"].iloc[4])
    assert r.points["upper"].iloc[1] == pytest.approx(16.32)  # the lines continue through a gap


def test_text_in_values_names_value_and_position():
    with pytest.raises(SpcInputError, match=r"'n/a' at position 2"):
        xmr([1, 2, "n/a", 4])
    r = xmr(["1", "2", "", "4"])  # numeric text is read; a blank is missing
    assert r.missing == 1


def test_fewer_than_two_points():
    with pytest.raises(SpcInputError, match="at least 2"):
        xmr([5])
    with pytest.raises(SpcInputError, match="at least 2"):
        xmr([5, np.nan, np.nan])


def test_unsorted_dates_are_sorted():
    r = xmr([3, 1, 2], dates=["2024-01-03", "2024-01-01", "2024-01-02"])
    assert r.points["value"].tolist() == [1, 2, 3]
    assert r.points["date"].is_monotonic_increasing


def test_duplicate_dates_named():
    with pytest.raises(SpcInputError, match="duplicate dates: 2024-01-02"):
        xmr([1, 2, 3], dates=["2024-01-01", "2024-01-02", "2024-01-02"])


def test_phase_start_outside_data_named():
    dates = pd.date_range("2024-01-01", periods=5)
    with pytest.raises(SpcInputError, match="2024-02-01 is outside the data"):
        xmr([1, 2, 3, 4, 5], dates=dates, phase_starts=["2024-02-01"])
    with pytest.raises(SpcInputError, match="outside the data"):
        xmr([1, 2, 3, 4, 5], phase_starts=[9])


def test_spc_input_error_is_a_value_error():
    assert issubclass(SpcInputError, ValueError)


# ------------------------------------------------------------------------------------------------------ speed
def test_hundred_thousand_points_under_a_second():
    x = np.random.default_rng(0).normal(50, 5, 100_000)
    xmr(x[:1000])  # warm up
    start = time.perf_counter()
    r = xmr(x, phase_starts=[50_000], screen_moving_ranges=True)
    assert time.perf_counter() - start < 1.0
    assert len(r.points) == 100_000


# ------------------------------------------------------------------------------------ change vs the old phase
def test_change_against_old_phase():
    # old phase 10, 12 → mean 11, limits 5.68 / 16.32
    seven_below = xmr([10, 12] * 6 + [9, 10] * 4, phase_starts=[12], improvement="decrease")
    change = seven_below.phases[1]["change"]
    # 8 new points all below 11, none below 5.68 → a run of 8 ≥ 7 → improvement (lower is better)
    assert change == {
        "old_mean": 11.0,
        "longest_run_beyond_old_mean": 8,
        "side": "low",
        "outside_old_limits": 0,
        "signal": "improvement",
    }
    six_below = xmr([10, 12] * 6 + [9, 10] * 3, phase_starts=[12], improvement="decrease")
    assert six_below.phases[1]["change"]["signal"] is None  # run of 6, nothing beyond the old limits
    one_out = xmr([10, 12] * 6 + [17, 11], phase_starts=[12], improvement="decrease")
    # 17 > 16.32 and 11 sits on the old mean
    assert one_out.phases[1]["change"]["signal"] == "concern"
    assert seven_below.phases[0]["change"] is None


# ------------------------------------------------------------------------------------------------ the result
def test_result_is_an_explicit_object_not_frame_attrs():
    r = xmr(
        [10, 12] * 6 + [9, 10] * 4,
        dates=pd.date_range("2024-01-01", periods=20, freq="7D"),
        phase_starts=["2024-03-25"],
        improvement="decrease",
        target=20,
    )
    assert isinstance(r, XmrResult) and r.has_dates and not xmr([1, 2]).has_dates
    assert r.points.attrs == {}  # nothing rides on DataFrame.attrs (pandas drops them)
    assert r.current is r.phases[-1] and r.current["start"] == pd.Timestamp("2024-03-25")
    # 20 points, none missing; settings kept as given
    assert (r.n, r.missing, r.improvement, r.target, r.floor, r.shift_points) == (20, 0, "decrease", 20.0, None, 7)
    assert [a["phase"] for a in r.anhoj] == [0, 1]
    with pytest.raises(AttributeError):
        r.variation = "common_cause"  # frozen


# ------------------------------------------------------------------ issue 13, item 10: no infinite limits
@pytest.mark.parametrize("values", [[1e308, -1e308] * 6, [1.7e308, 1.7e308, 1.6e308, 1.7e308]])
def test_values_near_the_float_limit_raise_instead_of_giving_infinite_limits(values):
    with pytest.raises(SpcInputError, match="too large"):
        xmr(values)
