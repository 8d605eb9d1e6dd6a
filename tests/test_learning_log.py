"""Learning log: grouping by system condition, and adding a validated entry atomically."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from systemic_lib.data import learning_log as ll
from systemic_lib.data.contract import read_table
from systemic_lib.errors import ContractError, SystemicError

YAML = """\
name: Testshire Council
services:
  - id: care
    name: Health and social care
    purpose: Help me live well at home
"""
HEADER = "date,service,what_we_tried,what_we_learned,system_condition,waste_caused,who_can_change,status\n"


def _council(tmp_path: Path, log: str | None = None) -> Path:
    folder = tmp_path / "testshire"
    folder.mkdir()
    (folder / "council.yaml").write_text(YAML)
    if log is not None:
        (folder / "learning_log.csv").write_text(log)
    return folder


def _log(rows) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["date", "system_condition", "what_we_learned", "waste_caused", "who_can_change", "status"]
    )
    frame["date"] = pd.to_datetime(frame["date"])
    frame["service"] = "care"
    frame["what_we_tried"] = "something"
    return frame


def test_grouped_by_system_condition_latest_status_open_first():
    log = _log(
        [
            ("2024-07-01", "Panel for every case", "One talk is enough", "Two weeks waiting", "Head of ASC", "open"),
            ("2024-07-09", "panel for  every case", "Panels add nothing", "A second assessment", "Head of ASC", None),
            ("2024-07-03", "Central booking", "We can book", "A week's wait", "Director", "changed"),
            ("2024-07-04", "IT form needs 40 fields", None, None, None, "in hand"),
            ("2024-07-05", None, "Citizens want one name", None, None, None),
            ("2024-07-20", "Central booking", None, None, "Director", "open"),
        ]
    )
    grouped = ll.by_system_condition(log)
    assert grouped["system_condition"].tolist() == [
        "Panel for every case",
        "Central booking",
        "IT form needs 40 fields",
        ll.NO_CONDITION,
    ]
    panel = grouped.iloc[0]
    assert panel["entries"] == 2 and panel["status"] == "open"  # the latest entry with a status
    assert panel["waste_caused"] == "Two weeks waiting; A second assessment"
    assert panel["who_can_change"] == "Head of ASC"
    assert grouped.set_index("system_condition").loc["Central booking", "status"] == "open"  # reopened later
    assert grouped["entries"].sum() == len(log)  # nothing dropped
    act = ll.conditions_to_act_on(log)
    assert ll.NO_CONDITION not in act["system_condition"].tolist()
    assert act["system_condition"].tolist() == ["Panel for every case", "Central booking", "IT form needs 40 fields"]


def test_entries_table_keeps_every_entry_grouped():
    log = _log(
        [
            ("2024-07-02", "B rule", "x", None, None, None),
            ("2024-07-01", None, "y", None, None, "open"),
            ("2024-07-01", "A rule", "z", None, None, "parked"),
        ]
    )
    table = ll.entries_table(log)
    assert table["System condition"].tolist() == ["A rule", "B rule", ll.NO_CONDITION]
    assert table["Status"].tolist() == ["parked", "not set", "open"]
    assert ll.by_system_condition(log.iloc[:0]).empty and ll.entries_table(log.iloc[:0]).empty


ENTRY = {
    "date": dt.date(2024, 7, 8),
    "service": "care",
    "what_we_tried": "Assess once, together",
    "what_we_learned": "One conversation is enough",
    "system_condition": "Eligibility panel",
    "waste_caused": "Two weeks waiting",
    "who_can_change": "Head of Adult Social Care",
    "status": "In hand",
}


def test_add_entry_creates_then_appends_keeping_the_previous_version(tmp_path):
    folder = _council(tmp_path)
    path = ll.add_entry(folder, ENTRY)
    assert path == folder / "learning_log.csv" and not (folder / "learning_log.csv.prev").exists()
    ll.add_entry(folder, {**ENTRY, "date": "2024-07-09", "what_we_tried": "=cmd|' /C calc'!A0", "status": ""})
    assert (folder / "learning_log.csv.prev").read_text().count("\n") == 2
    result = read_table(path, "learning_log", services={"care"})
    assert not result.problems
    frame = result.frame
    assert len(frame) == 2
    assert frame["status"].tolist()[0] == "in hand"  # normalised spelling
    assert frame["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-07-08", "2024-07-09"]
    assert frame["what_we_tried"].iloc[1] == "=cmd|' /C calc'!A0"  # a council's own file: text kept as written


def test_add_entry_keeps_existing_rows_and_extra_columns_as_written(tmp_path):
    existing = HEADER.rstrip("\n") + ",owner\n08/07/2024,care,Old idea,,,,,open,Sam\n"
    folder = _council(tmp_path, existing)
    ll.add_entry(folder, ENTRY)
    text = (folder / "learning_log.csv").read_text().splitlines()
    assert text[1] == "08/07/2024,care,Old idea,,,,,open,Sam"  # untouched
    assert text[2] == (
        '2024-07-08,care,"Assess once, together",One conversation is enough,Eligibility panel,'
        "Two weeks waiting,Head of Adult Social Care,in hand,"
    )


@pytest.mark.parametrize(
    "change, column",
    [
        ({"date": None}, "date"),
        ({"date": "31/02/2024"}, "date"),
        ({"what_we_tried": "  "}, "what_we_tried"),
        ({"service": "housing"}, "service"),
        ({"service": ""}, "service"),
        ({"status": "done"}, "status"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_entries_are_refused_naming_the_field_and_nothing_is_written(tmp_path, change, column):
    folder = _council(tmp_path, HEADER + "2024-07-01,care,First,,,,,open\n")
    before = (folder / "learning_log.csv").read_bytes()
    with pytest.raises(ContractError) as info:
        ll.add_entry(folder, {**ENTRY, **change})
    assert any(p.column == column for p in info.value.problems)
    assert all(p.fix for p in info.value.problems)
    assert (folder / "learning_log.csv").read_bytes() == before
    assert not (folder / "learning_log.csv.prev").exists()


def test_add_entry_to_an_xlsx_log_keeps_its_other_sheets(tmp_path):
    from openpyxl import Workbook, load_workbook

    folder = _council(tmp_path)
    book = Workbook()
    sheet = book.active
    sheet.title = "learning_log"
    sheet.append(HEADER.strip().split(","))
    sheet.append(["2024-07-01", "care", "First", None, None, None, None, "open"])
    book.create_sheet("notes")["A1"] = "keep me"
    book.save(folder / "learning_log.xlsx")
    path = ll.add_entry(folder, ENTRY)
    assert path.suffix == ".xlsx" and (folder / "learning_log.xlsx.prev").exists()
    again = load_workbook(path)
    assert again["notes"]["A1"].value == "keep me"
    frame = read_table(path, "learning_log", services={"care"}).frame
    assert frame["what_we_tried"].tolist() == ["First", "Assess once, together"]


def test_unreadable_existing_log_is_not_overwritten(tmp_path):
    folder = _council(tmp_path)
    (folder / "learning_log.csv").write_bytes(b"date,service,what_we_tried\n\xff\xfe,care,x\n")
    with pytest.raises(ContractError, match="not UTF-8"):
        ll.add_entry(folder, ENTRY)
    with pytest.raises(SystemicError):
        ll.add_entry(folder, ["not", "a", "dict"])


# ------------------------------------------------------------------ issue 13: what the team types is never corrupted
FORMULA = '=HYPERLINK("http://x","click")'


def test_formula_like_text_in_an_xlsx_log_is_kept_as_text(tmp_path):
    """Item 1: an entry starting with '=' is written as text, read back as written (not blank)."""
    from openpyxl import Workbook

    folder = _council(tmp_path)
    book = Workbook()
    book.active.title = "learning_log"
    book.active.append(HEADER.strip().split(","))
    book.save(folder / "learning_log.xlsx")
    ll.add_entry(folder, {**ENTRY, "what_we_learned": FORMULA, "system_condition": "=1+1", "waste_caused": "@x"})
    frame = read_table(folder / "learning_log.xlsx", "learning_log", services={"care"}).frame
    assert frame[["what_we_learned", "system_condition", "waste_caused"]].iloc[0].tolist() == [FORMULA, "=1+1", "@x"]


def test_formula_like_text_in_a_csv_log_is_kept_as_text(tmp_path):
    folder = _council(tmp_path, HEADER)
    ll.add_entry(folder, {**ENTRY, "what_we_learned": FORMULA})
    assert read_table(folder / "learning_log.csv", "learning_log").frame["what_we_learned"].iloc[0] == FORMULA


def test_a_lone_carriage_return_in_the_log_does_not_break_the_next_entry(tmp_path):
    """Item 2: a row holding "a\\rb" (as Python's csv writes it), then add_entry: the log still validates."""
    import csv

    folder = _council(tmp_path)
    with open(folder / "learning_log.csv", "w", newline="") as fh:
        w = csv.writer(fh)  # quotes the \r (its line end is \r\n)
        w.writerow(HEADER.strip().split(","))
        w.writerow(["2024-07-01", "care", "line1\rline2", "", "", "", "", "open"])
    ll.add_entry(folder, ENTRY)
    result = read_table(folder / "learning_log.csv", "learning_log", services={"care"})
    assert not result.errors
    assert result.frame["what_we_tried"].tolist() == ["line1\nline2", ENTRY["what_we_tried"]]


def test_entries_read_their_condition_by_id_and_keep_their_own_words_without_one():
    from systemic_lib.data.learning_log import with_condition_text

    log = pd.DataFrame(
        {
            "system_condition": ["Old words", None, "Own words", None],
            "condition_id": ["SC-001", "SC-002", None, "SC-404"],
        }
    )
    conds = pd.DataFrame(
        {"id": ["SC-001", "SC-002"], "system_condition": ["The rule", None], "waste_seen": ["x", "Chasing calls"]}
    )
    got = with_condition_text(log, conds)["system_condition"].tolist()
    assert got[:3] == ["The rule", "Chasing calls", "Own words"] and pd.isna(got[3])
    assert with_condition_text(log, None) is log  # no conditions table: as written
    assert with_condition_text(log.drop(columns="condition_id"), conds)["system_condition"].tolist()[0] == "Old words"
