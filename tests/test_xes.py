"""The streaming XES reader: events in file order, trace attributes as ``case:`` columns, typed values, gzip or
plain, date-only offsets kept, and a malformed file named with a clear error."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from systemic_lib.data.importers.xes import read_xes
from systemic_lib.data.times import local_times
from systemic_lib.errors import SystemicError

XES = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <global scope="event"><string key="concept:name" value="DEFAULT"/></global>
  <classifier name="Activity" keys="concept:name"/>
  <trace>
    <string key="concept:name" value="case-1"/>
    <date key="endDate" value="2015-06-02T00:00:00.000+02:00"/>
    <event>
      <string key="concept:name" value="Receive application"/>
      <string key="org:resource" value="560464"/>
      <date key="time:timestamp" value="2015-06-01T00:00:00.000+02:00"/>
      <int key="step" value="1"/>
      <boolean key="urgent" value="true"/>
      <list key="nested"><string key="ignored" value="x"/></list>
    </event>
    <event>
      <string key="concept:name" value="Decide"/>
      <date key="time:timestamp" value="2015-06-02T10:30:00.000+02:00"/>
      <float key="cost" value="2.5"/>
      <boolean key="urgent" value="false"/>
    </event>
  </trace>
  <trace>
    <string key="concept:name" value="case-2"/>
    <event>
      <string key="concept:name" value="Receive application"/>
      <date key="time:timestamp" value="2015-01-05T00:00:00.000+01:00"/>
    </event>
  </trace>
</log>
"""


@pytest.fixture(params=["plain", "gz"])
def log_file(request, tmp_path):
    if request.param == "gz":
        path = tmp_path / "log.xes.gz"
        path.write_bytes(gzip.compress(XES.encode()))
    else:
        path = tmp_path / "log.xes"
        path.write_text(XES)
    return path


def test_one_row_per_event_in_file_order_with_trace_attributes(log_file):
    log = read_xes(log_file)
    assert len(log) == 3
    assert log["concept:name"].tolist() == ["Receive application", "Decide", "Receive application"]
    assert log["case:concept:name"].tolist() == ["case-1", "case-1", "case-2"]
    assert log["org:resource"].iloc[0] == "560464" and pd.isna(log["org:resource"].iloc[1])
    assert "ignored" not in log.columns and "nested" not in log.columns  # nested attributes are not applied


def test_values_are_typed_as_the_file_says(log_file):
    log = read_xes(log_file)
    assert log["step"].iloc[0] == 1 and pd.isna(log["step"].iloc[1])
    assert log["cost"].iloc[1] == 2.5
    assert log["urgent"].tolist()[:2] == [True, False] and pd.isna(log["urgent"].iloc[2])
    assert isinstance(log["time:timestamp"].dtype, pd.DatetimeTZDtype)


def test_date_only_events_keep_their_date_in_local_time(log_file):
    """Dutch midnight +02:00 (summer) and +01:00 (winter): through UTC they would become the day before at 22:00
    and 23:00; as local times they stay on their date."""
    log = read_xes(log_file)
    assert log["time:timestamp"].iloc[0] == pd.Timestamp("2015-05-31 22:00", tz="UTC")
    local, zoned = local_times(log["time:timestamp"], "Europe/Amsterdam")
    assert local.tolist() == [pd.Timestamp("2015-06-01"), pd.Timestamp("2015-06-02 10:30"), pd.Timestamp("2015-01-05")]
    assert zoned == 3
    end, _ = local_times(log["case:endDate"], "Europe/Amsterdam")
    assert end.iloc[0] == pd.Timestamp("2015-06-02")


@pytest.mark.parametrize(
    "text, words",
    [
        (XES[: len(XES) // 2], "not a well-formed XES file"),
        ("<notalog><trace/></notalog>", "not an XES log"),
        ("this is not xml at all", "not a well-formed XES file"),
    ],
)
def test_a_malformed_file_is_named_with_a_clear_error(tmp_path, text, words):
    path = tmp_path / "broken.xes"
    path.write_text(text)
    with pytest.raises(SystemicError, match=words) as info:
        read_xes(path)
    assert "broken.xes" in str(info.value)


def test_a_truncated_gzip_is_named(tmp_path):
    path = tmp_path / "cut.xes.gz"
    path.write_bytes(gzip.compress(XES.encode())[:200])
    with pytest.raises(SystemicError, match="cut.xes.gz"):
        read_xes(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(SystemicError, match="no such file"):
        read_xes(tmp_path / "nowhere.xes")
