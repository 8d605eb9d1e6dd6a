"""Capture templates: they read back through the contract, carry drop-downs, and are the same bytes every time."""

from __future__ import annotations

import datetime as dt
import shutil
import zipfile

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from systemic_lib import config
from systemic_lib.data.capture import templates_command, write_capture_templates
from systemic_lib.data.contract import TABLES, read_table
from systemic_lib.data.council import MEASURES, load_council


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    folder = tmp_path_factory.mktemp("capture")
    write_capture_templates(folder)
    return folder


def test_one_csv_and_one_workbook_per_table_plus_council_yaml(out):
    expected = {f"{t}.{ext}" for t in TABLES for ext in ("csv", "xlsx")} | {"council.yaml", "README.md"}
    assert {p.name for p in out.iterdir()} == expected


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
@pytest.mark.parametrize("table", list(TABLES))
def test_template_reads_back_through_the_contract(out, table, suffix):
    result = read_table(out / f"{table}{suffix}", table)
    assert [p.describe() for p in result.problems] == []
    assert list(result.frame.columns) == TABLES[table].column_names
    assert len(result.frame) == 1  # the example row
    for col in TABLES[table].columns:  # the example survives the round trip, typed
        value = result.frame[col.name].iloc[0]
        if col.example == "":
            continue
        if col.kind in ("datetime", "date"):
            assert value == dt.datetime.fromisoformat(col.example)
        elif col.kind == "number":
            assert value == float(col.example)
        elif col.kind == "bool":
            assert bool(value) == (col.example == "yes")
        else:
            assert value == col.example


@pytest.mark.parametrize("table", list(TABLES))
def test_workbook_layout_notes_and_drop_downs(out, table):
    spec = TABLES[table]
    wb = load_workbook(out / f"{table}.xlsx")
    assert wb.sheetnames[0] == table and "about" in wb.sheetnames
    ws = wb[table]
    assert ws.freeze_panes == "A2"
    lists = {}
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            lists[rng.coord] = dv
    for i, col in enumerate(spec.columns, start=1):
        head = ws.cell(row=1, column=i)
        assert head.value == col.name and head.font.b
        assert head.comment is not None and col.description in head.comment.text
        letter = get_column_letter(i)
        dv = lists.get(f"{letter}2:{letter}1048576")
        if col.values:
            assert dv is not None, f"{table}.{col.name} has no drop-down"
            assert dv.type == "list" and dv.formula1 == '"' + ",".join(col.values) + '"'
            assert dv.showErrorMessage
            assert dv.errorStyle == ("stop" if col.kind in ("category", "bool") else "warning")
            assert not dv.showDropDown  # (in Excel's file format, True would hide the arrow)
        else:
            assert dv is None
    if any(c.kind == "datetime" for c in spec.columns):
        first = next(i for i, c in enumerate(spec.columns, start=1) if c.kind == "datetime")
        assert isinstance(ws.cell(row=2, column=first).value, dt.datetime)
    about = [row[0].value for row in wb["about"].iter_rows(min_row=5)]
    assert about == spec.column_names


def test_categorical_columns_all_get_drop_downs(out):
    covered = 0
    for table, spec in TABLES.items():
        ws = load_workbook(out / f"{table}.xlsx")[table]
        covered += len(ws.data_validations.dataValidation)
        assert len(ws.data_validations.dataValidation) == sum(1 for c in spec.columns if c.values)
    assert covered >= 10


def test_same_bytes_every_time(out, tmp_path):
    write_capture_templates(tmp_path)
    for path in sorted(out.iterdir()):
        assert path.read_bytes() == (tmp_path / path.name).read_bytes(), path.name
    with zipfile.ZipFile(out / "demand.xlsx") as zf:
        assert {i.date_time for i in zf.infolist()} == {(2024, 1, 1, 0, 0, 0)}
        assert b"2024-01-01T00:00:00Z" in zf.read("docProps/core.xml")


def test_council_yaml_template_is_a_valid_council(out, tmp_path):
    shutil.copy(out / "council.yaml", tmp_path / "council.yaml")
    council = load_council(tmp_path)
    svc = next(iter(council.services.values()))
    assert svc.purpose and {m.id for m in svc.measures} == set(MEASURES)
    text = (out / "council.yaml").read_text(encoding="utf-8")
    assert "experiment:" in text and "system_changes:" in text
    for measure in MEASURES:
        assert measure in text


def test_committed_templates_match_the_contract(out):
    """templates/capture is generated: if this fails, run `systemic templates` and commit the result."""
    committed = config.TEMPLATES_DIR / "capture"
    for path in sorted(out.iterdir()):
        assert (committed / path.name).read_bytes() == path.read_bytes(), f"templates/capture/{path.name} is stale"


def test_templates_command(tmp_path):
    result = CliRunner().invoke(templates_command, ["--out", str(tmp_path / "t")])
    assert result.exit_code == 0, result.output
    assert "demand.xlsx" in result.output
    assert (tmp_path / "t" / "cases.xlsx").exists()


def test_the_template_folder_is_itself_a_valid_council(out):
    """council.yaml and the example rows agree (services, ids), so a copied folder validates before editing."""
    from systemic_lib.data.council import validate_council

    assert [p.describe() for p in validate_council(out)] == []
    council = load_council(out)
    for table in TABLES:
        frame = council.table(table)
        assert len(frame) == 1
        if table != "rules":
            assert set(frame["service"]) <= set(council.services)
