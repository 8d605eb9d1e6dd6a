"""``systemic chart``: a capability chart of one CSV column, its narration and signals, and clear errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from systemic_lib.analysis.spc import SpcInputError
from systemic_lib.cli.chart import chart_command, quick_chart

BASE = [75, 125] * 6  # mean 100, limits -33 / 233


@pytest.fixture
def csv_file(tmp_path):
    values = [29, 33] * 6 + [10.5, 13.5] * 6
    frame = pd.DataFrame(
        {"week": pd.date_range("2018-10-15", periods=24, freq="7D").strftime("%Y-%m-%d"), "days": values, "team": "a"}
    )
    path = tmp_path / "cases.csv"
    frame.to_csv(path, index=False)
    return path


def test_quick_chart_writes_png_beside_csv(csv_file):
    out = quick_chart(csv_file, value="days", date="week", phases=["2019-01-07"], improvement="decrease")
    assert out["chart"] == str(csv_file.with_name("cases_days.png"))
    assert csv_file.with_name("cases_days.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Since the change on 7 January 2019" in out["narration"]
    assert "real improvement, not noise" in out["narration"]
    json.dumps(out)
    assert out["phases"][1]["start"] == "2019-01-07" and out["phases"][1]["mean"] == 12
    # all 12 new points sit below the old mean of 31: a real change, in the better direction
    assert [p["change_vs_previous_phase"] for p in out["phases"]] == [None, "improvement"]


def test_quick_chart_svg_and_signals(tmp_path):
    path = tmp_path / "visits.csv"
    pd.DataFrame({"n": BASE + [250]}).to_csv(path, index=False)
    out = quick_chart(path, value="n", out=tmp_path / "sub" / "v.svg", improvement="increase")
    assert (tmp_path / "sub" / "v.svg").read_text().lstrip().startswith("<?xml")
    # mean (1200 + 250) / 13 = 111.54; MR-bar (11 × 50 + 125) / 12 = 56.25 → upper 111.54 + 149.63 = 261.2:
    # 250 is inside, so no outside-limits signal; nothing else either
    assert out["signals"] == []
    assert out["variation"] == "common_cause"


def test_quick_chart_clear_errors(csv_file, tmp_path):
    with pytest.raises(SpcInputError, match="no column 'hours'.*week, days, team"):
        quick_chart(csv_file, value="hours")
    with pytest.raises(SpcInputError, match="'team' .* not numeric: 'a' on line 2"):
        quick_chart(csv_file, value="team")
    with pytest.raises(SpcInputError, match=".png or .svg"):
        quick_chart(csv_file, value="days", out=tmp_path / "x.pdf")
    with pytest.raises(SpcInputError, match="2030-01-01 is outside the data"):
        quick_chart(csv_file, value="days", date="week", phases=["2030-01-01"])
    bad = tmp_path / "bad.csv"
    bad.write_text("when,v\n2024-01-01,1\nnot a date,2\n")
    with pytest.raises(SpcInputError, match="'not a date' on line 3"):
        quick_chart(bad, value="v", date="when")


def test_chart_command(csv_file, tmp_path):

    out = tmp_path / "c.svg"
    res = CliRunner().invoke(
        chart_command,
        [
            str(csv_file),
            "--value",
            "days",
            "--date",
            "week",
            "--phase",
            "2019-01-07",
            "--label",
            "the new team started",
            "--improvement",
            "decrease",
            "--out",
            str(out),
            "--unit",
            "days",
        ],
    )
    assert res.exit_code == 0, res.output
    assert out.exists()
    assert "Since the new team started on 7 January 2019" in res.output and '"signals"' in res.output
    bad = CliRunner().invoke(chart_command, [str(csv_file), "--value", "nope"])
    assert bad.exit_code == 1 and "no column 'nope'" in bad.output and "Traceback" not in bad.output
    js = CliRunner().invoke(chart_command, [str(csv_file), "--value", "days", "--json", "--out", str(out)])
    assert js.exit_code == 0 and json.loads(js.output)["chart"] == str(out)
