"""The council data contract: which tables a council folder holds and what their columns mean.

This module is the single source of truth: the README tables, the blank capture templates and the
validation all come from ``TABLES``. Reading a table parses it into typed columns and returns every
problem found, each with file, row, column and a fix. Errors stop a council; warnings keep the rows
and are counted.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pandera.pandas as pa

from systemic_lib.data.patterns import FIX as PATTERN_FIX
from systemic_lib.data.patterns import problem as pattern_problem
from systemic_lib.errors import ContractError

CLASSIFICATIONS = ("value", "failure")
FAILURE_TYPES = (
    "progress chasing",
    "not done",
    "not done right",
    "not understood",
    "wrong place",
    "complaint",
    "other",
)
CHANNELS = ("phone", "email", "web", "face to face", "letter", "app", "social media", "other")
STEP_TYPES = ("value", "waste")
CATEGORIES = (
    "contact",
    "assessment",
    "decision",
    "delivery",
    "referral",
    "hand-off",
    "check",
    "rework",
    "chasing",
    "waiting",
    "other",
)
COHORTS = ("baseline", "experiment")
YES_NO = ("yes", "no")
LEARNING_STATUS = ("open", "in hand", "changed", "parked", "designed out")
#: Statuses that say the condition no longer acts on the service: changed, or designed out (a service built by
#: experiment was made without it, or the team took it out as it learned). With a date, either starts a phase.
CHANGED_STATUS = ("changed", "designed out")
RAISED_IN = ("demand", "capability", "flow", "experiment")  #: the Check steps a system condition can be raised at
CONDITION_STATUS = LEARNING_STATUS


@dataclass(frozen=True)
class Column:
    """One column of a table. ``kind`` decides parsing: id, text, category, datetime, date, number, bool."""

    name: str
    kind: str
    description: str
    required: bool = False  #: the column must be present in the file
    values: tuple[str, ...] = ()  #: allowed values of a category (blank is always allowed)
    example: str = ""
    must_fill: bool = False  #: a blank cell is an error, not a warning
    minimum: float | None = None  #: a number below this is an error (hours cannot be negative)
    plausible_max: float | None = None  #: a number above this is a warning (over 24 hours on one step)


@dataclass(frozen=True)
class TableSpec:
    name: str
    description: str
    columns: tuple[Column, ...]
    unique: tuple[str, ...] = ()
    required_table: bool = False

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return {c.name: c for c in self.columns}[name]


TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec(
            "demand",
            "One row per contact a citizen made, by any channel, in the citizen's own words.",
            (
                Column("contact_id", "id", "Unique id of the contact.", True, example="C-000001", must_fill=True),
                Column("service", "id", "Service id from council.yaml.", True, example="housing-repairs"),
                Column(
                    "received_at",
                    "datetime",
                    "When the contact arrived (local time, YYYY-MM-DD HH:MM).",
                    True,
                    example="2024-03-04 09:15",
                ),
                Column(
                    "channel",
                    "text",
                    "How it arrived (phone, email, web, face to face, letter, app, ...).",
                    True,
                    CHANNELS,
                    "phone",
                ),
                Column(
                    "verbatim",
                    "text",
                    "What the citizen said, in their words.",
                    example="When will my repair be done? It's been three weeks.",
                ),
                Column(
                    "demand_type", "text", "Short phrase naming the demand.", example="when will my repair be done?"
                ),
                Column(
                    "classification",
                    "category",
                    "value or failure; blank = not yet classified.",
                    values=CLASSIFICATIONS,
                    example="failure",
                ),
                Column(
                    "failure_type",
                    "category",
                    "For failure demand: what failed.",
                    values=FAILURE_TYPES,
                    example="progress chasing",
                ),
                Column("what_matters", "text", "What matters to the citizen, in a few words.", example="knowing when"),
                Column(
                    "one_stop", "bool", "yes if resolved at the first point of contact.", values=YES_NO, example="no"
                ),
                Column("case_id", "id", "The case this contact belongs to, if any.", example="R-0001"),
                Column(
                    "classified_by",
                    "text",
                    "Who or what classified it: rule: and the rules.csv row that did "
                    "(rule:4), coach: and a name (classified with a coach), or source (classified in the file as "
                    "received); blank if not classified.",
                    example="coach:Sam",
                ),
            ),
            unique=("contact_id",),
        ),
        TableSpec(
            "events",
            "One row per step of a case: what was done, when it was completed, by whom.",
            (
                Column("case_id", "id", "Case the step belongs to.", True, example="R-0001"),
                Column("service", "id", "Service id from council.yaml.", True, example="housing-repairs"),
                Column("activity", "text", "The step, as named in activities.csv.", True, example="Diagnose repair"),
                Column(
                    "timestamp",
                    "datetime",
                    "When the step was completed (local time).",
                    True,
                    example="2024-03-04 10:00",
                ),
                Column("start", "datetime", "When work on the step started, if known.", example="2024-03-04 09:40"),
                Column("worker", "text", "Who did it.", example="W12"),
                Column("team", "text", "Their team.", example="Repairs desk"),
                Column(
                    "hours", "number", "Hands-on hours spent on the step.", example="0.5", minimum=0, plausible_max=24
                ),
                Column(
                    "face_to_face", "bool", "yes if the step was time with the citizen.", values=YES_NO, example="no"
                ),
            ),
        ),
        TableSpec(
            "cases",
            "One row per case (a citizen's need from first contact to being met).",
            (
                Column("case_id", "id", "Unique case id.", True, example="R-0001", must_fill=True),
                Column("service", "id", "Service id from council.yaml.", True, example="housing-repairs"),
                Column("opened_at", "datetime", "When the citizen first asked.", True, example="2024-03-04 09:15"),
                Column(
                    "closed_at", "datetime", "When the need was met; blank if still open.", example="2024-03-20 16:00"
                ),
                Column("wanted_by", "date", "When the citizen wanted it done.", example="2024-03-18"),
                Column(
                    "cohort",
                    "category",
                    "baseline (old system) or experiment (new team); blank if neither.",
                    values=COHORTS,
                    example="baseline",
                ),
                Column(
                    "demand_returns",
                    "bool",
                    "The team's judgement: will this demand come back?",
                    values=YES_NO,
                    example="yes",
                ),
                Column(
                    "demand_type",
                    "text",
                    "The citizen's demand, as in demand.csv; optional where contacts link "
                    "to the case (demand.case_id), used to compare like with like in an experiment.",
                    example="fix boiler",
                ),
            ),
            unique=("case_id",),
        ),
        TableSpec(
            "learning_log",
            "The experiment team's learning log: what we tried, what we learned, which system condition caused waste.",
            (
                Column("date", "date", "When.", True, example="2024-07-08", must_fill=True),
                Column("service", "id", "Service id from council.yaml.", True, example="housing-repairs"),
                Column("what_we_tried", "text", "What the team tried.", True, example="Diagnose on the first call"),
                Column("what_we_learned", "text", "What it taught us.", example="Most visits need no pre-inspection"),
                Column(
                    "system_condition",
                    "text",
                    "The rule, target, IT system, procedure or structure behind the waste.",
                    example="Pre-inspection rule for jobs over 250 pounds",
                ),
                Column("waste_caused", "text", "The waste it causes.", example="A second visit and 9 days waiting"),
                Column("who_can_change", "text", "Who can change it.", example="Head of Repairs"),
                Column(
                    "status",
                    "category",
                    "Where the change stands; designed out: the new way of working was built without it.",
                    values=LEARNING_STATUS,
                    example="open",
                ),
                Column(
                    "condition_id",
                    "id",
                    "The system condition this entry is about: an id in "
                    "system_conditions.csv (the condition's words are kept there, not here). Older logs wrote the "
                    "condition in system_condition instead; both are read.",
                    example="SC-001",
                ),
                Column(
                    "changed_at",
                    "date",
                    "With status changed or designed out: the date the condition was changed. Capability "
                    "charts of the service start a new phase there.",
                    example="",
                ),
                Column(
                    "demand_type",
                    "text",
                    "The demand type whose workflow the entry changed, as in demand.csv; blank for every type. "
                    "A new service's experiment page shows each type's workflow before and after its entries.",
                    example="",
                ),
            ),
        ),
        TableSpec(
            "system_conditions",
            "Check steps 5 and 6: the system conditions behind the waste the team saw, and the management thinking "
            "behind them; each raised at a step of Check and followed until it has changed.",
            (
                Column("id", "id", "Unique id of the system condition.", True, example="SC-001", must_fill=True),
                Column(
                    "service", "id", "Service id from council.yaml.", True, example="housing-repairs", must_fill=True
                ),
                Column("raised_at", "date", "When the team raised it.", True, example="2024-03-04"),
                Column("raised_in", "category", "The step of Check where the team saw it.", True, RAISED_IN, "demand"),
                Column(
                    "waste_seen",
                    "text",
                    "The waste or failure demand it causes, ideally naming the demand type or step.",
                    True,
                    example="Progress chasing (when will my repair be done?): 1 in 4 contacts",
                ),
                Column(
                    "system_condition",
                    "text",
                    "The rule, target, IT system, procedure or structure behind it.",
                    example="Jobs over 250 pounds wait for a pre-inspection",
                ),
                Column(
                    "thinking",
                    "text",
                    "The management thinking (assumption) behind the system condition.",
                    example="Surveyors must check spending or costs will run away",
                ),
                Column("who_can_change", "text", "Who can change it.", example="Head of Repairs"),
                Column(
                    "status",
                    "category",
                    "Where the change stands; designed out: the new way of working was built without it.",
                    values=CONDITION_STATUS,
                    example="changed",
                ),
                Column(
                    "changed_at",
                    "date",
                    "With status changed or designed out: the date the condition was changed. Capability "
                    "charts of the service start a new phase there, labelled with what changed.",
                    example="2024-09-02",
                ),
                Column(
                    "phase",
                    "bool",
                    "no to keep a changed condition off the capability charts (blank = yes).",
                    values=YES_NO,
                    example="yes",
                ),
                Column(
                    "what_changed",
                    "text",
                    "With status changed: what was changed, in a few words; it names the new phase on the "
                    "capability charts (blank: the condition's words, marked changed).",
                    example="pre-inspection over 250 pounds removed",
                ),
            ),
            unique=("id",),
        ),
        TableSpec(
            "activities",
            "The activity catalogue: each activity of a service as a value step or a waste step, with a category.",
            (
                Column(
                    "service", "id", "Service id from council.yaml.", True, example="housing-repairs", must_fill=True
                ),
                Column(
                    "activity",
                    "text",
                    "Activity name exactly as in events.",
                    True,
                    example="Diagnose repair",
                    must_fill=True,
                ),
                Column("step_type", "category", "value or waste.", True, STEP_TYPES, "value", must_fill=True),
                Column("category", "category", "What kind of step it is.", True, CATEGORIES, "assessment"),
                Column(
                    "closes_case",
                    "bool",
                    "yes if this step meets the need and so ends the case (a delivery "
                    "step); used to end cases that cases.csv does not close.",
                    values=YES_NO,
                    example="no",
                ),
            ),
            unique=("service", "activity"),
        ),
        TableSpec(
            "rules",
            "Classification rules for imported demand with no classification (first matching rule wins).",
            (
                Column("service", "id", "Service id, or blank for every service.", example=""),
                Column(
                    "column",
                    "text",
                    "Demand column the pattern is matched against.",
                    True,
                    example="demand_type",
                    must_fill=True,
                ),
                Column(
                    "pattern",
                    "text",
                    "Case-insensitive regular expression (RE2: no look-arounds or back-references; runs in linear time).",
                    True,
                    example="chas|when will",
                    must_fill=True,
                ),
                Column(
                    "classification", "category", "value or failure.", True, CLASSIFICATIONS, "failure", must_fill=True
                ),
                Column(
                    "failure_type",
                    "category",
                    "For failure: what failed.",
                    values=FAILURE_TYPES,
                    example="progress chasing",
                ),
            ),
        ),
    )
}

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One problem in a council's data: where it is and how to fix it."""

    file: str
    message: str
    fix: str = ""
    row: int | None = None  #: the row as a spreadsheet shows it (header is row 1)
    column: str | None = None
    severity: str = ERROR
    count: int = 1  #: how many rows share this problem (``row`` is the first)

    def describe(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column '{self.column}'"
        more = f" ({self.count} rows like this)" if self.count > 1 else ""
        fix = f" Fix: {self.fix}" if self.fix else ""
        return f"{self.severity.upper()}: {where}: {self.message}{more}.{fix}"


@dataclass
class ServiceCuts:
    """A table's rows cut by service once (``Table.cut_by_service``): each service's rows of the frame (the
    table's index kept: each row's position in the file) at their positions in the frame, and of the file's raw
    text (rows, their positions in the file's rows)."""

    positions: dict[str, np.ndarray]
    frames: dict[str, pd.DataFrame]
    raw: dict[str, tuple[pd.DataFrame, np.ndarray]] = field(default_factory=dict)


class Table:
    """A parsed table: its typed ``frame``, its ``problems`` (errors and warnings), the file it came from
    (``path``), the file's cells as text row for row (``raw``, for problems that quote the source; read from
    ``read_raw`` the first time it is asked for), and each service's rows cut once (``cuts``; ``redacted_cuts``:
    the same rows with their free text redacted, as a stage reads them), which the batch's kernel zygote makes
    before forking kernels (``data/preload.py``). ``cache_entry``: the table cache's entry it was loaded from;
    ``redacted``: its free text (frame, raw text and problems) is redacted already, as the table cache holds it."""

    def __init__(
        self,
        name: str,
        frame: pd.DataFrame,
        problems: list[Problem] | None = None,
        path: Path | None = None,
        raw: pd.DataFrame | None = None,
        *,
        read_raw: Callable[[], pd.DataFrame | None] | None = None,
        cache_entry: Path | None = None,
        redacted: bool = False,
    ):
        self.name = name
        self.frame = frame
        self.problems: list[Problem] = list(problems or [])
        self.path = path
        self._raw = raw
        self._read_raw = read_raw
        self.cache_entry = cache_entry
        self.redacted = redacted  #: its free text is already what a stage may show (the table cache's)
        self.cuts: ServiceCuts | None = None
        self.redacted_cuts: ServiceCuts | None = None

    def __repr__(self) -> str:
        return f"Table({self.name!r}, {len(self.frame)} rows, {len(self.problems)} problems, path={self.path})"

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def raw(self) -> pd.DataFrame | None:
        if self._raw is None and self._read_raw is not None:
            self._raw, self._read_raw = self._read_raw(), None
        return self._raw

    @property
    def has_raw(self) -> bool:
        """Whether the table has its raw text (without reading it to find out)."""
        return self._raw is not None or self._read_raw is not None

    def raw_of_service(self, service: str) -> tuple[pd.DataFrame, np.ndarray]:
        """(the raw text of the rows whose ``service`` cell is ``service``, their positions in the file's rows):
        from ``cuts`` when the table was cut by service, else cut here."""
        if self.cuts is not None and service in self.cuts.raw:
            return self.cuts.raw[service]
        raw = self.raw
        if raw is None:
            raise ValueError(f"the {self.name} table has no raw text")
        return raw_of_service(raw, service)

    def cut_by_service(self) -> ServiceCuts | None:
        """Each service's rows of the frame and of the raw text, cut once (None for a table with errors, no rows
        or no service column): every kernel forked after the batch's preload asks for one service's rows, which
        would otherwise be cut from the whole council's table in each."""
        frame, raw = self.frame, self.raw
        if self.errors or frame.empty or "service" not in frame.columns:
            return None
        groups = frame.groupby("service", sort=False, dropna=True).indices
        positions = {str(k): v for k, v in groups.items()}
        cuts = ServiceCuts(positions, cut(frame, positions))
        if raw is not None and "service" in raw.columns:
            keys = raw["service"].astype(str).str.strip()
            lines = {str(k): v for k, v in keys.groupby(keys.to_numpy(), sort=False).indices.items()}
            cuts.raw = {k: (rows.reset_index(drop=True), lines[k]) for k, rows in cut(raw, lines).items()}
        return cuts


class TableView(Protocol):
    """What a stage reads of a table, plain (``Table``) or with its free text redacted (``stages.RedactedTable``)."""

    name: str

    @property
    def frame(self) -> pd.DataFrame: ...

    @property
    def raw(self) -> pd.DataFrame | None: ...

    @property
    def problems(self) -> list[Problem]: ...

    @property
    def errors(self) -> list[Problem]: ...

    @property
    def path(self) -> Path | None: ...

    @property
    def has_raw(self) -> bool: ...

    def raw_of_service(self, service: str) -> tuple[pd.DataFrame, np.ndarray]: ...


def raw_of_service(raw: pd.DataFrame, service: str) -> tuple[pd.DataFrame, np.ndarray]:
    """(the rows of a table's raw text whose ``service`` cell is ``service``, their positions in the file's rows):
    one service's rows as ``Table.cut_by_service`` cuts every service's (all rows when there is no service
    column)."""
    positions = np.arange(len(raw))
    if "service" not in raw.columns:
        return raw, positions
    keep = raw["service"].astype(str).str.strip().eq(service).to_numpy()
    return raw[keep].reset_index(drop=True), positions[keep]


def cut(frame: pd.DataFrame, positions: dict[str, np.ndarray]) -> dict[str, pd.DataFrame]:
    """``{key: frame.take(rows)}`` for disjoint sets of row positions, in one take: the rows are put in key order
    once and each key's rows are a slice of that (a take per key costs a pass over every Arrow-backed text column,
    about a second for 57 services of 340,000 contacts)."""
    if not positions:
        return {}
    ordered = frame.take(np.concatenate(list(positions.values())))
    out, at = {}, 0
    for key, rows in positions.items():
        out[key] = ordered.iloc[at : at + len(rows)]
        at += len(rows)
    return out


def empty_frame(table: str) -> pd.DataFrame:
    """A typed frame with the table's columns and no rows."""
    spec = TABLES[table]
    return pd.DataFrame({c.name: pd.Series(dtype=_dtype(c.kind)) for c in spec.columns})


def _dtype(kind: str):
    return {
        "datetime": "datetime64[ns]",
        "date": "datetime64[ns]",
        "number": "float64",
        "bool": "boolean",
    }.get(kind, "str")


def find_table_file(folder: Path, table: str) -> Path | None:
    """The table's file in a council folder: ``<table>.csv`` or ``<table>.xlsx``."""
    for suffix in (".csv", ".xlsx"):
        path = folder / f"{table}{suffix}"
        if path.exists():
            return path
    return None


def read_raw(path: Path, table: str) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read a CSV or XLSX table as text, naming the file in every problem."""
    name = path.name
    if path.suffix.lower() == ".xlsx":
        try:
            sheets = pd.ExcelFile(path, engine="openpyxl").sheet_names
        except Exception as exc:  # openpyxl raises many types for a damaged file
            return None, [
                Problem(name, f"cannot be opened as an Excel workbook ({exc})", "save it again from Excel as .xlsx")
            ]
        if table not in sheets:
            return None, [
                Problem(
                    name,
                    f"has no sheet named '{table}' (it has: {', '.join(sheets)})",
                    f"rename the sheet that holds the data to '{table}'",
                )
            ]
        raw = pd.read_excel(path, sheet_name=table, dtype=str, keep_default_na=False, engine="openpyxl")
    else:
        try:
            raw, extra = read_csv_text(path)
            if extra:
                return None, [extra.problem(name)]
        except UnicodeDecodeError as exc:
            line = path.read_bytes()[: exc.start].count(b"\n") + 1
            return None, [
                Problem(
                    name,
                    f"is not UTF-8 text (byte {exc.start}, line {line})",
                    "open it in Excel and save as 'CSV UTF-8', or re-encode it as UTF-8",
                    row=line,
                )
            ]
        except pd.errors.EmptyDataError:
            return None, [Problem(name, "is empty (no header row)", "use the capture template in templates/capture/")]
        except pd.errors.ParserError as exc:
            return None, [Problem(name, f"is not a well-formed CSV ({exc})", "check quoting and the number of commas")]
    raw.columns = [str(c).strip() for c in raw.columns]
    return raw, []


@dataclass
class ExtraCells:
    """Rows of a CSV with a cell past the header's last column."""

    row: int  #: the first such row, as a spreadsheet shows it
    value: str
    rows: int

    def problem(self, file: str) -> Problem:
        return Problem(
            file,
            f"has a cell past the last column ('{self.value}'): there are more cells than column headings",
            "give the extra column a heading, or delete the extra cells",
            row=self.row,
            count=self.rows,
        )


def read_csv_text(path, **kwargs) -> tuple[pd.DataFrame, ExtraCells | None]:
    """A CSV file as text, every cell a string. Where every row has one cell more than the header (a trailing comma
    on every row, as some exports write), pandas takes the first column for the row labels and every value lands
    one column to the left, each blamed on the wrong column: such a file is read with the trailing empty cells left
    off, or, where one of them holds a value, returned with that cell (``ExtraCells``) to say so."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", **kwargs)
    if isinstance(raw.index, pd.RangeIndex):
        return raw, None
    wide = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", header=None, skiprows=1, **kwargs)
    last = wide.iloc[:, -1].astype(str).str.strip()
    filled = np.flatnonzero(last.ne("").to_numpy())
    if len(filled):
        return raw, ExtraCells(int(filled[0]) + 2, str(last.iloc[filled[0]]), len(filled))
    with warnings.catch_warnings():  # pandas warns that the trailing cells are left off: they are all empty
        warnings.simplefilter("ignore", pd.errors.ParserWarning)
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", index_col=False, **kwargs)
    return raw, None


def read_for_update(path: Path, table: str, action: str) -> pd.DataFrame:
    """A table file's cells as text, to change and write back (under the file's lock); an empty table with the
    contract's columns when the file does not exist yet. Raises ContractError, saying what could not be done
    (``action``, e.g. "add to"), when the file cannot be read."""
    if not path.exists():
        return pd.DataFrame(columns=TABLES[table].column_names, dtype=str)
    frame, problems = read_raw(path, table)
    if frame is None:
        raise ContractError(problems, f"cannot {action} {path.name}: " + "; ".join(p.describe() for p in problems))
    return frame


def parse_table(
    raw: pd.DataFrame, table: str, *, file: str, services: set[str] | None = None, today: pd.Timestamp | None = None
) -> Table:
    """Parse text columns into typed ones and collect every problem (errors and warnings)."""
    spec = TABLES[table]
    problems: list[Problem] = []
    today = today or pd.Timestamp.now().normalize() + pd.Timedelta(days=1)
    missing = [c.name for c in spec.columns if c.required and c.name not in raw.columns]
    for name in missing:
        problems.append(
            Problem(
                file,
                f"required column '{name}' is missing",
                f"add a column headed '{name}' ({spec.column(name).description})",
                column=name,
            )
        )
    if missing:
        return Table(table, empty_frame(table), problems)
    if raw.empty:
        problems.append(
            Problem(file, "has a header but no rows", "add data, or delete the file if the table is not used")
        )
    out = pd.DataFrame(index=raw.index)
    for col in spec.columns:
        if col.name not in raw.columns:
            out[col.name] = pd.Series(index=raw.index, dtype=_dtype(col.kind))
            continue
        text = raw[col.name].astype(str).str.strip()
        blank = text.eq("")
        parsed, bad = _parse_column(text, col)
        out[col.name] = parsed
        if bad.any():
            rows = np.flatnonzero(bad.to_numpy())
            example = text.iloc[rows[0]]
            lenient = col.kind in ("category", "bool")  # the row stays, counted as blank in this column
            problems.append(
                Problem(
                    file,
                    f"cannot read '{example}' as {_kind_words(col)}" + ("; counted as blank" if lenient else ""),
                    _kind_fix(col),
                    row=int(rows[0]) + 2,
                    column=col.name,
                    count=len(rows),
                    severity=WARNING if lenient else ERROR,
                )
            )
        problems += _implausible(parsed, col, file, today, checked_future=(table == "demand"))
        if col.kind == "datetime":
            problems += _mixed_offsets(text, col, file)
        if (col.required or col.must_fill) and blank.any():
            rows = np.flatnonzero(blank.to_numpy())
            sev = ERROR if col.must_fill else WARNING
            what = "is blank" + ("" if sev == ERROR else "; the row is kept and counted as missing this value")
            problems.append(
                Problem(
                    file,
                    what,
                    f"fill in '{col.name}'",
                    row=int(rows[0]) + 2,
                    column=col.name,
                    count=len(rows),
                    severity=sev,
                )
            )
    extra = [c for c in raw.columns if c not in spec.column_names]
    for col in extra:  # kept: councils may carry their own columns
        out[col] = raw[col]
    problems += _check_unique(out, spec, file)
    if services is not None and "service" in out.columns:
        unknown = out["service"].notna() & ~out["service"].isin(list(services)) & out["service"].ne("")
        if unknown.any() and table != "rules":
            rows = np.flatnonzero(unknown.to_numpy())
            names = ", ".join(sorted(out.loc[unknown, "service"].unique())[:5])
            problems.append(
                Problem(
                    file,
                    f"names services not in council.yaml ({names}); these rows are kept but "
                    "appear in no service report",
                    "add the service to council.yaml or correct the id",
                    row=int(rows[0]) + 2,
                    column="service",
                    count=len(rows),
                    severity=WARNING,
                )
            )
    if len(out):
        problems += _table_checks(out, table, file, today)
    out = out.reset_index(drop=True)
    return Table(table, out, problems)


def _table_checks(out: pd.DataFrame, table: str, file: str, today: pd.Timestamp) -> list[Problem]:
    """The checks one table has of its own: rules' patterns, conditions' changed dates, contacts in the future."""
    if table == "rules":
        return _rule_patterns(out, file)
    if table in ("system_conditions", "learning_log"):
        return _changed_dates(out, file, need_date=table == "system_conditions")
    if table == "demand":
        future = out["received_at"] >= today
        if future.any():
            rows = np.flatnonzero(future.to_numpy())
            return [
                Problem(
                    file,
                    f"has contacts dated in the future (first: {out['received_at'].iloc[rows[0]]})",
                    "check the date format (day and month swapped?)",
                    row=int(rows[0]) + 2,
                    column="received_at",
                    count=len(rows),
                    severity=WARNING,
                )
            ]
    return []


def _rule_patterns(rules: pd.DataFrame, file: str) -> list[Problem]:
    """Each rule whose pattern cannot be used (not a regular expression RE2 reads, or too long): an error with its
    row, found by ``systemic validate`` before any report runs it (``patterns.py``: every pattern runs in linear
    time)."""
    out = []
    for i, pattern in enumerate(rules["pattern"].astype(object)):
        if pattern is None or (not isinstance(pattern, str) and pd.isna(pattern)) or not str(pattern).strip():
            continue
        unusable = pattern_problem(str(pattern).strip())
        if unusable:
            out.append(Problem(file, unusable, PATTERN_FIX, row=i + 2, column="pattern"))
    return out


_CLASS_WORDS = {
    "value": "value",
    "v": "value",
    "val": "value",
    "value demand": "value",
    "valuedemand": "value",
    "failure": "failure",
    "f": "failure",
    "fail": "failure",
    "failure demand": "failure",
    "failuredemand": "failure",
}
_YES = {"yes", "y", "true", "1", "t"}
_NO = {"no", "n", "false", "0", "f"}


def normalise_category(text: pd.Series, col: Column) -> pd.Series:
    """Lower-case and trim a category; map the usual other spellings (``FAIL``, ``value demand``)."""
    low = text.str.strip().str.lower().str.replace(r"[\s_]+", " ", regex=True)
    if col.values == CLASSIFICATIONS:
        low = low.map(lambda v: _CLASS_WORDS.get(v, v))
    if col.values == CHANNELS:
        low = low.replace(
            {
                "telephone": "phone",
                "call": "phone",
                "e-mail": "email",
                "online": "web",
                "website": "web",
                "face-to-face": "face to face",
                "in person": "face to face",
                "post": "letter",
                "social": "social media",
            }
        )
    return low


def _parse_column(text: pd.Series, col: Column) -> tuple[pd.Series, pd.Series]:
    blank = text.eq("")
    kind = col.kind
    if kind in ("datetime", "date"):
        parsed = pd.to_datetime(text.where(~blank), format="ISO8601", errors="coerce", utc=True)
        bad = parsed.isna() & ~blank
        if bad.any():  # day-first UK dates as a council spreadsheet writes them
            retry = pd.to_datetime(text.where(bad), dayfirst=True, errors="coerce", format="mixed", utc=True)
            parsed = parsed.fillna(retry)
            bad = parsed.isna() & ~blank
        implausible = (parsed < pd.Timestamp("1900-01-01", tz="UTC")) | (parsed > pd.Timestamp("2200-01-01", tz="UTC"))
        parsed = parsed.mask(implausible)
        bad |= implausible.fillna(False)
        # Each value on its own terms: one with a UTC offset is converted to UK local time, one without is local
        # time as written (parsed as UTC above, so its wall clock is kept).
        offset = text.str.contains(_OFFSET, regex=True)
        local = parsed.dt.tz_localize(None).astype("datetime64[ns]")
        if offset.any():
            converted = parsed.dt.tz_convert("Europe/London").dt.tz_localize(None).astype("datetime64[ns]")
            local = local.where(~offset, converted)
        if kind == "date":
            local = local.dt.normalize()
        return local, bad
    if kind == "number":
        parsed = pd.to_numeric(text.where(~blank), errors="coerce").astype("float64")
        infinite = np.isinf(parsed)  # "inf", "1e400", a 400-digit number: not a quantity anyone recorded
        return parsed.mask(infinite), (parsed.isna() | infinite) & ~blank
    if kind == "bool":
        low = text.str.lower()
        parsed = pd.Series(pd.NA, index=text.index, dtype="boolean")
        parsed[low.isin(_YES)] = True
        parsed[low.isin(_NO)] = False
        return parsed, parsed.isna() & ~blank
    if kind == "category":
        norm = normalise_category(text, col)
        bad = ~norm.isin(col.values) & ~blank
        return norm.where(~blank & ~bad).astype("str"), bad
    if col.values == CHANNELS:
        text = normalise_category(text, col)
    return text.where(~blank).astype("str"), pd.Series(False, index=text.index)


# A UTC offset after a time of day ("10:00+01:00", "09:00:00Z"): a day-first date "04-07-2024" is not one.
# A plain string, not a compiled pattern, so that Arrow-backed text is searched in C (a compiled pattern makes
# pandas call Python's re once per value: 2 s for a 340,000-contact council). ASCII digits and white space,
# the same in either engine.
_OFFSET = r"[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?[ \t\n\r\f\v]*(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)$"
#: Dates before this are warned about (no council keeps digital records from before it).
EARLIEST_PLAUSIBLE = pd.Timestamp("1990-01-01")


def _implausible(parsed: pd.Series, col: Column, file: str, today: pd.Timestamp, *, checked_future: bool) -> list:
    """Values that read but make nonsense: negative or implausibly many hours; dates before 1990 or more than a
    year ahead."""
    found = []

    def say(mask, message, fix, severity):
        if mask.any():
            rows = np.flatnonzero(mask.to_numpy())
            found.append(
                Problem(
                    file,
                    message.format(parsed.iloc[rows[0]]),
                    fix,
                    row=int(rows[0]) + 2,
                    column=col.name,
                    count=len(rows),
                    severity=severity,
                )
            )

    if col.kind == "number":
        if col.minimum is not None:
            say(
                (parsed < col.minimum).fillna(False),
                "is negative (first: {:g})",
                f"write a number of at least {col.minimum:g}",
                ERROR,
            )
        if col.plausible_max is not None:
            say(
                (parsed > col.plausible_max).fillna(False),
                f"is over {col.plausible_max:g} on one row (first: {{:g}}); kept, but check it",
                "check the unit (hours, not minutes) and the decimal point",
                WARNING,
            )
    elif col.kind in ("datetime", "date"):
        say(
            (parsed < EARLIEST_PLAUSIBLE).fillna(False),
            "has dates before 1990 (first: {}); kept, but check them",
            "check the year (a blank date exported as 1900?)",
            WARNING,
        )
        if not (checked_future and col.name == "received_at"):
            say(
                (parsed > today + pd.Timedelta(days=365)).fillna(False),
                "has dates more than a year ahead (first: {}); kept, but check them",
                "check the year and the date format (day and month swapped?)",
                WARNING,
            )
    return found


def _mixed_offsets(text: pd.Series, col: Column, file: str) -> list:
    """A warning when a column mixes times with a UTC offset and times without one (each is read on its own terms,
    but the source may mean something else)."""
    written = text.ne("")
    offset = text.str.contains(_OFFSET, regex=True) & written
    if not offset.any() or offset.sum() == written.sum():
        return []
    rows = np.flatnonzero(
        (written & ~offset).to_numpy() if offset.iloc[np.flatnonzero(written.to_numpy())[0]] else offset.to_numpy()
    )
    return [
        Problem(
            file,
            f"mixes times with a UTC offset ({int(offset.sum())}) and times without one "
            f"({int((written & ~offset).sum())}, first different: '{text.iloc[rows[0]]}'); those with an "
            "offset are read as UK local time, the others as written",
            "write every time the same way: all local times, or all with their offset",
            row=int(rows[0]) + 2,
            column=col.name,
            count=len(rows),
            severity=WARNING,
        )
    ]


def _changed_dates(out: pd.DataFrame, file: str, *, need_date: bool) -> list:
    """A change date whose status is not changed (or designed out), or (``need_date``) a changed condition with no
    date: no phase. A condition designed out with no date was kept out from the start: no phase, and nothing to say."""
    changed, dated = out["status"].isin(CHANGED_STATUS).fillna(False), out["changed_at"].notna()
    checks = [
        (
            dated & ~changed,
            "has a changed_at date but its status is not changed or designed out, so no phase is drawn",
            "set status to changed (or designed out), or clear changed_at",
        )
    ]
    if need_date:  # an old learning log marks changes with no date: it keeps working as it did
        checks.append(
            (
                out["status"].eq("changed").fillna(False) & ~dated,
                "is marked changed with no changed_at, so no chart can show when",
                "write the date it was changed in changed_at (YYYY-MM-DD)",
            )
        )
    return [
        Problem(
            file,
            message,
            fix,
            row=int(np.flatnonzero(mask.to_numpy())[0]) + 2,
            column="changed_at",
            count=int(mask.sum()),
            severity=WARNING,
        )
        for mask, message, fix in checks
        if mask.any()
    ]


def _kind_words(col: Column) -> str:
    if col.kind == "category":
        return "one of: " + ", ".join(col.values)
    return {"datetime": "a date and time", "date": "a date", "number": "a number", "bool": "yes or no"}[col.kind]


def _kind_fix(col: Column) -> str:
    return {
        "datetime": "write dates as YYYY-MM-DD HH:MM (for example 2024-03-04 09:15)",
        "date": "write dates as YYYY-MM-DD (for example 2024-03-04)",
        "number": "write a plain number such as 1.5, with no units",
        "bool": "write yes or no",
        "category": f"use one of: {', '.join(col.values)} (or leave blank)",
    }.get(col.kind, "")


def _check_unique(frame: pd.DataFrame, spec: TableSpec, file: str) -> list[Problem]:
    if not spec.unique or frame.empty:
        return []
    keys = frame[list(spec.unique)]
    dup = keys.duplicated(keep="first") & keys.notna().all(axis=1)
    if not dup.any():
        return []
    rows = np.flatnonzero(dup.to_numpy())
    first = keys.iloc[rows[0]].tolist()
    what = " + ".join(spec.unique)
    return [
        Problem(
            file,
            f"{what} '{' / '.join(map(str, first))}' appears more than once",
            f"give each row its own {what}",
            row=int(rows[0]) + 2,
            column=spec.unique[0],
            count=len(rows),
        )
    ]


def pandera_schema(table: str) -> pa.DataFrameSchema:
    """The parsed table's schema, so notebooks and imports can check a frame they built themselves."""
    spec = TABLES[table]
    cols = {}
    for c in spec.columns:
        checks = [pa.Check.isin(list(c.values))] if c.kind == "category" and c.values else []
        dtype = {"datetime": "datetime64[ns]", "date": "datetime64[ns]", "number": float, "bool": "boolean"}.get(c.kind)
        cols[c.name] = pa.Column(
            dtype,
            checks=checks,
            nullable=not c.must_fill,
            required=c.required,
            unique=(spec.unique == (c.name,)),
            coerce=False,
        )
    return pa.DataFrameSchema(cols, strict=False)


def read_table(path: Path, table: str, *, services: set[str] | None = None) -> Table:
    """Read and parse one table file; problems name the file."""
    raw, problems = read_raw(path, table)
    if raw is None:
        return Table(table, empty_frame(table), problems, path)
    parsed = parse_table(raw, table, file=path.name, services=services)
    result = Table(table, parsed.frame, parsed.problems, path, raw)
    if not result.errors:
        try:
            pandera_schema(table).validate(result.frame, lazy=True)
        except pa.errors.SchemaErrors as exc:  # a parsing gap, not the user's fault: still say where
            for _, fc in exc.failure_cases.head(10).iterrows():
                result.problems.append(
                    Problem(
                        path.name,
                        f"failed check {fc['check']} with value {fc['failure_case']}",
                        column=str(fc["column"]),
                    )
                )
    return result


def markdown_tables() -> str:
    """The contract as Markdown, one table per file: what README.md shows (a test keeps them in step)."""
    parts = []
    for t in TABLES.values():
        unique = f" Unique: {' + '.join(t.unique)}." if t.unique else ""
        lines = [
            f"#### `{t.name}.csv` / `{t.name}.xlsx` (sheet `{t.name}`)",
            "",
            t.description + unique,
            "",
            "| column | required | type | meaning | example |",
            "|---|---|---|---|---|",
        ]
        for c in t.columns:
            kind = c.kind + (f": {', '.join(c.values)}" if c.values and c.kind in ("category", "bool") else "")
            req = "yes, never blank" if c.must_fill else ("yes" if c.required else "")
            lines.append(f"| `{c.name}` | {req} | {kind} | {c.description} | {c.example} |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"
