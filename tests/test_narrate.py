"""Narration says what the chart supports, in plain words, and no more."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from systemic_lib.analysis.narrate import format_date, narrate, phase_label
from systemic_lib.analysis.spc import xmr


def _issue_example(n_new: int = 12):
    # old system: 29, 33 alternating → mean 31, every MR 4 (limits 31 ± 10.64)
    # new team:   10.5, 13.5 alternating → mean 12, every MR 3 → limits 12 ± 7.98 = 4.02 / 19.98 → "4 and 20"
    values = [29, 33] * 6 + [10.5, 13.5] * (n_new // 2)
    dates = pd.date_range("2018-10-15", periods=len(values), freq="7D")  # 13th point = 7 January 2019
    return xmr(values, dates=dates, phase_starts=["2019-01-07"], improvement="decrease")


def test_issue_example_sentence():
    text = narrate(_issue_example(), phase_labels=["the new team started"])
    # 12 new points from 7 January 2019: the last is 7 Jan + 11 weeks = 25 March 2019
    assert text.startswith(
        "Since the new team started on 7 January 2019 (12 points, to 25 March 2019), end-to-end time has averaged "
        "12 days and will predictably fall between 4 and 20 days."
    )
    assert (
        "All 12 points since the change sit below the old average of 31 days: this is a real improvement, "
        "not noise." in text
    )
    assert "provisional" not in text


def test_trial_limits_and_short_series_are_provisional():
    # old: 29, 33 → mean 31, limits 31 ± 2.66 × 4 = 20.36 / 41.64; new: 25.5, 28.5 × 3 → below 31, inside old limits
    values = [29, 33] * 6 + [25.5, 28.5] * 3
    r = xmr(
        values,
        dates=pd.date_range("2018-10-15", periods=18, freq="7D"),
        phase_starts=["2019-01-07"],
        improvement="decrease",
    )
    text = narrate(r, phase_labels=["the new team started"])
    # 6 points < 12 → trial; 6 < 7 in a row below the old mean → too soon to call
    assert "trial limits of" in text and "provisional" in text and "6 points" in text
    assert "predictably" not in text
    assert "too soon" in text and "not noise" not in text


def test_points_beyond_old_limits_point_to_a_change():
    # the new team's 6 points (10.5, 13.5) are all below the old lower limit 20.36: evidence, not yet a run of 7
    text = narrate(_issue_example(n_new=6), phase_labels=["the new team started"])
    assert "6 of the 6 points since the change are beyond the old limits of 20 to 42 days" in text
    assert "points to a real improvement" in text and "not noise" not in text


def test_no_change_claimed_when_points_straddle_old_average():
    # old mean 11 (10, 12 alternating); new points 9, 13, 9, 13, ... straddle it, none beyond 5.68 / 16.32
    r = xmr([10, 12] * 6 + [9, 13] * 6, phase_starts=[12], improvement="decrease")
    text = narrate(r, unit="days")
    assert "do not yet show" in text
    assert "not noise" not in text
    assert "at point 13" in text  # no dates: the change is named by its position (1-based)


def test_special_causes_named_and_no_predictability_claim():
    # Wheeler's data: last point 5200 above the upper limit 5082 (see test_spc)
    values = [5045, 4350, 4350, 3975, 4290, 4430, 4485, 4285, 3980, 3925, 3645, 3760, 3300, 3685, 3463, 5200]
    text = narrate(xmr(values), measure="monthly output", unit="")
    assert "Over 16 points" in text
    assert "averaged 4,136" in text and "3,189 to 5,082" in text  # 4135.5 rounds up; limits from test_spc
    assert "not yet predictable" in text and "predictably fall" not in text
    assert "1 point is outside the process limits" in text
    assert "latest point (5,200, point 16) is unusually high, which is good" in text


@pytest.mark.parametrize(
    "target, words",
    [(-40, "consistently be met"), (240, "consistently be missed"), (100, "hit and miss")],
)
def test_target_sentence(target, words):
    # limits -33 / 233 for 75, 125 alternating (mean 100, MR-bar 50)
    text = narrate(xmr([75, 125] * 6, target=target), measure="visits", unit="")
    assert words in text


def test_missing_values_and_percent_unit():
    r = xmr([40, np.nan, 44] + [40, 44] * 6, improvement="decrease")
    text = narrate(r, measure="failure demand", unit="%")
    assert "1 missing value was left out." in text
    assert "averaged 42%" in text  # (40 + 44) / 2


def test_one_point_phase():
    text = narrate(xmr([10, 12] * 6 + [30], phase_starts=[12]), unit="days")
    assert "one point is too few" in text


def test_capitalised_label_is_quoted():
    text = narrate(_issue_example(), phase_labels={1: "Experiment team"})
    assert text.startswith("Since the change \u201cExperiment team\u201d on 7 January 2019")


def test_helpers():
    assert format_date(pd.Timestamp("2019-01-07")) == "7 January 2019"
    assert format_date(12) == "point 13"
    assert phase_label(["a", "b"], 2) == "b" and phase_label(["a"], 2) is None and phase_label(None, 1) is None


def test_rejects_other_frames():
    with pytest.raises(ValueError, match="spc.xmr"):
        narrate(pd.DataFrame({"value": [1, 2]}))


def test_constant_series_says_no_variation():
    text = narrate(xmr([10] * 14), measure="demand per week", unit="contacts")
    assert "has been exactly 10 contacts at every point" in text and "predictably" not in text


def test_narration_says_whether_the_limits_narrowed_or_widened_after_the_change():
    # before: MR 4 → limits 31 ± 10.64, 21.28 apart; after: MR 3 → 12 ± 7.98, 15.96 apart: narrower
    text = narrate(_issue_example(), phase_labels=["the new team started"])
    assert (
        "The limits are narrower than before the change (16 days apart, were 21 days): the system is more "
        "predictable." in text
    )
    # before MR 2 (10.64 apart), after MR 4 (21.28 apart): wider; percentages are percentage points apart
    wider = narrate(xmr([50, 52] * 6 + [49, 53] * 6, phase_starts=[12]), unit="%", measure="failure demand")
    assert (
        "The limits are wider than before the change (21 percentage points apart, were 11 percentage points): "
        "the system is less predictable." in wider
    )
    # within a tenth: nothing said; one phase: nothing said
    same = narrate(xmr([10, 12] * 6 + [20, 22] * 6, phase_starts=[12]))
    assert "limits are" not in same and "limits are" not in narrate(xmr([10, 12] * 6))
