"""Blank capture templates for a council's data: one CSV and one Excel workbook per table, and a council.yaml.

Everything comes from the data contract (``contract.TABLES``), so the templates always match what
``systemic validate`` checks. Each workbook has a sheet named after its table with a bold, frozen header, a note on
every heading saying what goes in the column, one example row, drop-down lists for the columns that take a fixed
set of values, and a second sheet ``about`` listing the columns for people who print it. The files are the same
bytes every time they are written, so regenerating them never shows up as a change in git.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import click
import pandas as pd
from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.writer.excel import ExcelWriter

from systemic_lib import config
from systemic_lib.data.contract import TABLES, Column, TableSpec
from systemic_lib.data.council import MEASURES
from systemic_lib.data.files import atomic_write_bytes, atomic_write_text

FIXED_TIME = dt.datetime(2024, 1, 1)  #: the workbook's created/modified date, so that output is byte-identical
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_LAST_ROW = 1_048_576  #: drop-downs cover the whole column below the header


def _required(col: Column) -> str:
    return "yes, never blank" if col.must_fill else ("yes" if col.required else "no")


def _kind(col: Column) -> str:
    return {
        "id": "an id (text)",
        "text": "text",
        "category": "one of a list",
        "datetime": "date and time",
        "date": "date",
        "number": "a number",
        "bool": "yes or no",
    }[col.kind]


def _note(col: Column) -> str:
    """The note on a column heading: what goes in it, whether it is required, its format and allowed values."""
    lines = [col.description, f"Required: {_required(col)}."]
    if col.kind == "datetime":
        lines.append("Format: YYYY-MM-DD HH:MM (local time).")
    elif col.kind == "date":
        lines.append("Format: YYYY-MM-DD.")
    elif col.kind == "number":
        lines.append("A plain number, no units.")
    if col.values:
        more = " (or something else)" if col.kind == "text" else ""
        lines.append(f"Choose from the list: {', '.join(col.values)}{more}.")
    return "\n".join(lines)


def _example_cell(col: Column):
    """The example value typed as Excel would hold it: real dates and numbers, text otherwise."""
    if col.example == "":
        return None
    if col.kind == "datetime":
        return pd.Timestamp(col.example).to_pydatetime()
    if col.kind == "date":
        return pd.Timestamp(col.example).to_pydatetime()
    if col.kind == "number":
        return float(col.example)
    return col.example


def _validation(col: Column) -> DataValidation:
    """A drop-down list. Categories and yes/no refuse other values; a text column with suggestions only warns."""
    strict = col.kind in ("category", "bool")
    dv = DataValidation(
        type="list",
        formula1='"' + ",".join(col.values) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="stop" if strict else "warning",
        showInputMessage=True,
    )
    dv.promptTitle = col.name[:32]
    dv.prompt = col.description[:255]
    dv.errorTitle = f"Not a known {col.name}"[:32]
    dv.error = (
        f"Use one of: {', '.join(col.values)}."
        if strict
        else f"Usually one of: {', '.join(col.values)}. Keep your value only if none fits."
    )[:255]
    return dv


def workbook_bytes(table: TableSpec) -> bytes:
    """The capture workbook of one table, as the bytes of an .xlsx file (always the same bytes)."""
    wb = Workbook()
    ws = wb.active
    ws.title = table.name
    for i, col in enumerate(table.columns, start=1):
        letter = get_column_letter(i)
        head = ws.cell(row=1, column=i, value=col.name)
        head.font = Font(bold=True)
        head.fill = _HEADER_FILL
        note = Comment(_note(col), "systemic")
        note.width, note.height = 300, 130
        head.comment = note
        cell = ws.cell(row=2, column=i, value=_example_cell(col))
        if col.kind == "datetime":
            cell.number_format = "yyyy-mm-dd hh:mm"
        elif col.kind == "date":
            cell.number_format = "yyyy-mm-dd"
        ws.column_dimensions[letter].width = min(max(len(col.name), len(col.example), 10) + 3, 60)
        if col.values:
            dv = _validation(col)
            dv.add(f"{letter}2:{letter}{_LAST_ROW}")
            ws.add_data_validation(dv)
    ws.freeze_panes = "A2"

    about = wb.create_sheet("about")
    about.append([f"{table.name}: {table.description}"])
    about["A1"].font = Font(bold=True)
    about.append(
        [
            f"Fill in the sheet '{table.name}' (one row per line of data; the second row is an example "
            "to overwrite). Save as .xlsx, or as CSV UTF-8."
        ]
    )
    about.append([])
    about.append(["column", "required", "type", "meaning", "allowed values", "example"])
    for cell in about[4]:
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
    for col in table.columns:
        about.append([col.name, _required(col), _kind(col), col.description, ", ".join(col.values), col.example])
    for letter, width in zip("ABCDEF", (18, 16, 14, 60, 40, 30)):
        about.column_dimensions[letter].width = width
    for row in about.iter_rows(min_row=5):
        row[3].alignment = Alignment(wrap_text=True, vertical="top")

    wb.properties.creator = "systemic"
    wb.properties.lastModifiedBy = "systemic"
    wb.properties.created = wb.properties.modified = FIXED_TIME
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).write_data()  # not save_workbook: it stamps the current time
    return _fixed_zip(raw.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """The same archive with fixed entry times, so that the file's bytes do not depend on when it was written."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            fixed.create_system = 3
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def csv_text(table: TableSpec) -> str:
    """The CSV template of one table: the header and one example row."""
    frame = pd.DataFrame([[c.example for c in table.columns]], columns=table.column_names)
    return frame.to_csv(index=False, lineterminator="\n")


def council_yaml_text() -> str:
    """A council.yaml to copy and fill in, with a note on every key."""
    measures = ", ".join(MEASURES)
    return f"""\
# council.yaml: the council and its services, for the systemic workbook.
# Copy this file into your council's folder (next to demand.csv, events.csv, ...), replace the example values
# and keep the keys. Anything after a # is a note. Check the folder with:  systemic validate <folder>

name: Example Borough Council            # the council's name, as reports should show it

services:                                # one entry per service (at least one)
  - id: housing-repairs                  # lower-case letters, digits and hyphens; the same id in every table
    name: Housing repairs                # the name people use
    purpose: Fix my home properly, first time, at a time that suits me   # in the citizen's terms
    measures:                            # measures from purpose; ids: {measures}
      - id: end_to_end_days
        direction: decrease              # increase (higher is better), decrease (lower is better) or neutral
      - id: failure_demand_pct
        direction: decrease
      - id: weekly_demand
        direction: neutral
      - id: one_stop_pct
        direction: increase
      - id: delivered_when_wanted_pct    # needs wanted_by in cases.csv
        direction: increase
      # A measure of your own, derived from the purpose (remove the # signs): the % of rows of a table (share)
      # or rows a week (count), by the week of a date column (by), counting the rows "matching" picks:
      # column + pattern (or equals), no_contact_within_days (cases), no_step_of_category (cases).
      # - id: fixed_for_good
      #   name: Cases with no repeat contact within 30 days of closing   # in the citizen's terms
      #   direction: increase
      #   share: {{of: cases, by: closed_at, matching: {{no_contact_within_days: 30}}}}
      # - id: right_first_time
      #   name: Right first time (no rework step)
      #   direction: increase
      #   share: {{of: cases, by: closed_at, matching: {{no_step_of_category: rework}}}}
      # No target: a measure shows what the system predictably achieves; set target: only where the citizen's
      # purpose gives one, never an arbitrary number to manage to.
    # experiment:                        # optional: an experiment team on this service (remove the # signs)
    #   start: 2024-07-01                # the day the team took its first case (YYYY-MM-DD)
    #   team: Repairs experiment team
    #   design: new service              # only for a new service built by experiment (a hub): no old system

system_changes: []                       # known changes to the system; capability charts start a new phase there
# system_changes:                        # for example (remove the # signs and the [] line above):
#   - date: 2024-07-01
#     label: Experiment team started
#     services: [housing-repairs]        # optional; leave out for a change to every service
"""


def readme_text() -> str:
    lines = [
        "# Capture templates",
        "",
        "Blank templates for a council's data, generated from the data contract by `systemic templates`",
        "(do not edit them by hand: edit `systemic_lib/data/contract.py` and run the command again).",
        "",
        "- `council.yaml`: the council, its services, their purpose and measures. Copy it first.",
        "- one CSV and one Excel workbook per table. In the workbooks, point at a column heading to read what goes",
        "  in it, and use the drop-down lists where a column takes a fixed set of values. The second row is an",
        "  example: overwrite it. The `about` sheet lists every column.",
        "",
        "| file | what one row is | required columns |",
        "|---|---|---|",
    ]
    for t in TABLES.values():
        req = ", ".join(f"`{c.name}`" for c in t.columns if c.required)
        lines.append(f"| `{t.name}.csv` / `{t.name}.xlsx` | {t.description} | {req} |")
    return "\n".join(lines) + "\n"


def write_capture_templates(out_dir=None) -> list[Path]:
    """Write every capture template into ``out_dir`` (default ``templates/capture``); returns the files written."""
    out = Path(out_dir) if out_dir is not None else config.TEMPLATES_DIR / "capture"
    written = [
        atomic_write_text(out / "council.yaml", council_yaml_text()),
        atomic_write_text(out / "README.md", readme_text()),
    ]
    for table in TABLES.values():
        written.append(atomic_write_text(out / f"{table.name}.csv", csv_text(table)))
        written.append(atomic_write_bytes(out / f"{table.name}.xlsx", workbook_bytes(table)))
    return written


@click.command("templates")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for the templates (default: templates/capture in the project).",
)
def templates_command(out_dir):
    """Write blank capture templates (CSV, Excel with drop-down lists, council.yaml) for a council's data."""
    files = write_capture_templates(out_dir)
    click.echo(f"Wrote {len(files)} capture templates to {files[0].parent}:")
    for path in files:
        click.echo(f"  {path.name}")
