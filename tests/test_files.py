"""Atomic writes keep the old file whole; exports are safe to open in a spreadsheet."""

import os

import pandas as pd
import pytest

from systemic_lib.data.files import atomic_write_json, atomic_write_text, spreadsheet_safe, write_table_atomic


def test_atomic_write_replaces_and_keeps_previous(tmp_path):
    path = tmp_path / "demand.csv"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two", keep_previous=True)
    assert path.read_text() == "two"
    assert (tmp_path / "demand.csv.prev").read_text() == "one"


def test_a_crash_mid_write_leaves_the_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "demand.csv"
    atomic_write_text(path, "original")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_text(path, "half-written")
    assert path.read_text() == "original"
    assert [p.name for p in tmp_path.iterdir()] == ["demand.csv"]  # no temp file left behind


def test_spreadsheet_safe_defuses_formulas_only():
    frame = pd.DataFrame(
        {
            "verbatim": [
                '=HYPERLINK("http://x")',
                "+44 7700",
                "-1+cmd|' /C calc'!A0",
                "@SUM(A1)",
                "fine",
                None,
                "-71.0587",
            ],
            "n": [1, 2, 3, 4, 5, 6, 7],
        }
    )
    safe = spreadsheet_safe(frame)
    assert safe["verbatim"].tolist()[:5] == [
        '\'=HYPERLINK("http://x")',
        "'+44 7700",
        "'-1+cmd|' /C calc'!A0",
        "'@SUM(A1)",
        "fine",
    ]
    assert safe["verbatim"].iloc[6] == "-71.0587"  # a plain number stays a number
    assert pd.isna(safe["verbatim"].iloc[5])
    assert safe["n"].tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert frame["verbatim"].iloc[0].startswith("=")  # input untouched


def test_write_table_for_people_is_safe_but_data_files_are_exact(tmp_path):
    frame = pd.DataFrame({"verbatim": ["=cmd|' /C calc'!A0"]})
    write_table_atomic(frame, tmp_path / "export.xlsx", for_people=True)
    assert pd.read_excel(tmp_path / "export.xlsx")["verbatim"].iloc[0].startswith("'=")
    write_table_atomic(frame, tmp_path / "demand.csv")
    assert pd.read_csv(tmp_path / "demand.csv")["verbatim"].iloc[0] == "=cmd|' /C calc'!A0"


def test_json_handles_timestamps_and_numpy(tmp_path):
    import numpy as np

    path = atomic_write_json(tmp_path / "f.json", {"t": pd.Timestamp("2024-01-01"), "n": np.int64(3)})
    assert '"n": 3' in path.read_text() and "2024-01-01T00:00:00" in path.read_text()


def test_new_files_get_ordinary_permissions_and_replacements_keep_theirs(tmp_path):
    path = atomic_write_text(tmp_path / "a.csv", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    path.chmod(0o640)
    atomic_write_text(path, "y")
    assert path.stat().st_mode & 0o777 == 0o640


def _append_lines(path, who, n):
    import time

    from systemic_lib.data.files import locked

    for i in range(n):
        with locked(path):
            text = path.read_text()
            time.sleep(0.002)  # widen the read-modify-write window, as a slow save would
            atomic_write_text(path, text + f"{who}-{i}\n")


def test_locked_read_modify_write_loses_nobody_s_change(tmp_path):
    import multiprocessing as mp

    path = tmp_path / "demand.csv"
    atomic_write_text(path, "")
    ctx = mp.get_context("fork")
    coaches = [ctx.Process(target=_append_lines, args=(path, who, 25)) for who in ("ann", "bob")]
    for p in coaches:
        p.start()
    for p in coaches:
        p.join(30)
    lines = path.read_text().splitlines()
    assert sorted(lines) == sorted([f"{w}-{i}" for w in ("ann", "bob") for i in range(25)])


# ------------------------------------------------------------------ issue 13, items 1-3: nothing typed is corrupted
FORMULA = '=HYPERLINK("http://x","click")'


def test_xlsx_text_cells_are_written_as_text_never_formulas(tmp_path):
    """Item 1: formula-like text comes back as the same text, not as a live formula read back blank."""
    from openpyxl import load_workbook

    frame = pd.DataFrame(
        {"verbatim": [FORMULA, "+44 7700", "-1+2", "@SUM(A1)", "plain", None], "n": ["1", "2", "3", "4", "5", "6"]}
    )
    path = write_table_atomic(frame, tmp_path / "demand.xlsx")
    back = pd.read_excel(path, sheet_name="demand", dtype=str, keep_default_na=False)
    assert back["verbatim"].tolist() == [FORMULA, "+44 7700", "-1+2", "@SUM(A1)", "plain", ""]
    cell = load_workbook(path)["demand"]["A2"]
    assert cell.data_type == "s" and cell.value == FORMULA


def test_a_lone_carriage_return_in_a_cell_does_not_split_the_row(tmp_path):
    """Item 2: a verbatim holding a bare \\r (as Python's csv writes it) stays one row through a save."""
    frame = pd.DataFrame({"contact_id": ["C1", "C2"], "verbatim": ["line1\rline2", "a\r\nb"], "t": ["x", "y"]})
    path = write_table_atomic(frame, tmp_path / "demand.csv")
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert back["contact_id"].tolist() == ["C1", "C2"] and back["t"].tolist() == ["x", "y"]
    assert back["verbatim"].tolist() == ["line1\nline2", "a\nb"]


def test_saving_into_a_capture_template_keeps_its_sheets_validations_and_comments(tmp_path):
    """Item 3: one save into the template demand.xlsx keeps the about sheet, drop-down lists and header notes."""
    from openpyxl import load_workbook

    from systemic_lib.data.capture import workbook_bytes
    from systemic_lib.data.contract import TABLES

    path = tmp_path / "demand.xlsx"
    path.write_bytes(workbook_bytes(TABLES["demand"]))
    before = load_workbook(path)
    validations = len(before["demand"].data_validations.dataValidation)
    comments = sum(1 for c in before["demand"][1] if c.comment)
    assert validations and comments
    frame = pd.DataFrame([{c: "" for c in TABLES["demand"].column_names} | {"contact_id": "C1", "verbatim": FORMULA}])
    write_table_atomic(frame, path)
    after = load_workbook(path)
    assert after.sheetnames == before.sheetnames
    assert len(after["demand"].data_validations.dataValidation) == validations
    assert sum(1 for c in after["demand"][1] if c.comment) == comments
    back = pd.read_excel(path, sheet_name="demand", dtype=str, keep_default_na=False)
    assert len(back) == 1 and back["verbatim"].iloc[0] == FORMULA  # the example row was replaced, not kept


def test_a_write_killed_mid_way_leaves_no_copy_behind_after_the_next_write(tmp_path):
    """Issue 23: a process SIGKILLed while writing demand.csv left its temporary file (citizens' words) for good; the
    next write of the file removes it. A temporary file of a live writer is left alone."""
    import signal
    import subprocess
    import sys
    import textwrap

    target = tmp_path / "demand.csv"
    target.write_text("contact_id,verbatim\nC1,old\n")
    script = textwrap.dedent(f"""
        import os, signal
        from systemic_lib.data import files
        files.os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # killed just before the rename
        files.atomic_write_bytes({str(target)!r}, b"contact_id,verbatim\\n" + b"C2,ring 07700 900461\\n" * 100_000)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL
    strays = list(tmp_path.glob(".demand.csv.*.tmp"))
    assert len(strays) == 1 and strays[0].stat().st_size > 2_000_000  # what a killed write leaves
    live = tmp_path / f".demand.csv.{os.getpid()}.abc.tmp"  # this process writing meanwhile
    live.write_text("being written")
    atomic_write_text(target, "contact_id,verbatim\nC1,new\n")
    assert not strays[0].exists() and live.exists() and target.read_text().endswith("C1,new\n")
