"""What ``import demand`` and ``import cases`` share: one mapping vocabulary, one way to read, reject and write.

A mapping (YAML, ``systemic_lib/mappings/``) says which source column feeds each contract column (``columns``), how
dates are written (``date_format``) and in which zone (``local_timezone``, ``source_timezone``), how source values
become service ids (``service``), which rows to reject with a reason (``reject``), which source columns to carry as
they are (``keep``), and the XLSX ``sheet``. Layers: the council's ``council.yaml`` (``imports: {<table>: ...}``),
then ``--mapping``, then ``--map``/``--date-format`` options; later ones win.

Times: a time written with an offset (``2024-03-31T09:15:00+01:00``, ``...Z``) is converted to ``local_timezone``
(default Europe/London) and stored as a naive local time, as ``import events`` does. A naive time is taken as local,
unless ``source_timezone`` says the export writes naive times in another zone (a CRM that writes UTC without
saying so: ``source_timezone: UTC``); such times are converted too. A local time that a clock change makes
ambiguous takes its earlier reading; one that does not exist (the hour skipped in spring) moves forward.

Nothing is dropped silently: rows in = rows written + rows rejected; every rejected row goes to
``<table>.rejected.csv`` with its source row and reason, written for people (formula-like text defused).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, TypeVar

import click
import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from systemic_lib.data.contract import TABLES, read_csv_text, read_raw
from systemic_lib.data.files import atomic_write_text, locked, write_table_atomic
from systemic_lib.data.importers import read_mapping
from systemic_lib.errors import ImportMappingError, SystemicError
from systemic_lib.words import count as count_of

__all__ = [
    "ServiceSpec",
    "RejectSpec",
    "TableMapping",
    "layered_mapping",
    "read_source",
    "slug",
    "source_column",
    "format_words",
    "parse_dates",
    "Rejections",
    "services_of",
    "kept_columns",
    "read_previous",
    "write_rejected",
    "write_imported",
    "council_yaml",
    "council_services",
    "service_names",
    "pairs",
    "run_import",
    "echo_counts",
    "echo_files",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServiceSpec(_Model):
    column: str | None = None  #: the source column naming the service
    value: str | None = None  #: or one service id for every row
    values: dict[str, str] = Field(default_factory=dict)  #: source value -> service id (others: a slug)


class RejectSpec(_Model):
    column: str
    values: list[str]
    reason: str


class TableMapping(_Model):
    """What every import mapping has; a subclass names its ``TABLE`` and adds its own keys."""

    TABLE: ClassVar[str] = ""
    TEAM: ClassVar[tuple[str, ...]] = ()  #: columns the team owns: never read from an export
    REQUIRED: ClassVar[tuple[str, ...]] = ()  #: columns every mapping must fill (and ``service``, or a service spec)
    READY: ClassVar[str] = ""  #: the ready mapping a message suggests
    name: str = "custom"
    council: dict = Field(default_factory=dict)
    columns: dict[str, str] = Field(default_factory=dict)  #: contract column -> source column
    date_format: str | None = None  #: strftime format of the dates; None: YYYY-MM-DD HH:MM or DD/MM/YYYY
    local_timezone: str = "Europe/London"  #: the council's zone: times with an offset are converted to it
    source_timezone: str | None = None  #: the zone naive source times are written in (None: local)
    service: ServiceSpec | None = None
    reject: list[RejectSpec] = Field(default_factory=list)
    keep: dict[str, str] = Field(default_factory=dict)  #: new column -> source column, carried as it is
    sheet: str | None = None  #: XLSX sheet (default: the first)

    @field_validator("columns")
    @classmethod
    def _known(cls, v: dict) -> dict:
        team = [k for k in v if k in cls.TEAM]
        if team:
            raise ValueError(
                f"{', '.join(team)}: the team's judgement, kept in {cls.TABLE}.csv across imports, "
                "never read from an export; remove it from the mapping's columns"
            )
        names = cls.mappable()
        unknown = [k for k in v if k not in names]
        if unknown:
            what = f"{cls.TABLE} column"
            raise ValueError(
                f"{', '.join(unknown)} {'is not a ' + what if len(unknown) == 1 else 'are not ' + what + 's'}"
                f"; {cls.TABLE} columns are {', '.join(names)}"
            )
        return v

    @field_validator("local_timezone", "source_timezone")
    @classmethod
    def _zone(cls, v):
        if v is not None:
            try:
                pd.Timestamp("2024-01-01").tz_localize(v)
            except Exception:  # pytz / zoneinfo raise several types for an unknown name
                raise ValueError(f"'{v}' is not a time zone name (e.g. Europe/London, UTC, America/New_York)") from None
        return v

    @classmethod
    def mappable(cls) -> tuple[str, ...]:
        return tuple(c for c in TABLES[cls.TABLE].column_names if c not in cls.TEAM)


M = TypeVar("M", bound="TableMapping")


def layered_mapping(
    model: type[M],
    mapping=None,
    *,
    council_dir=None,
    columns: dict | None = None,
    date_format: str | None = None,
) -> M:
    """The council's ``imports: <table>`` entry, then ``mapping`` (a ready name, a YAML path or a dict), then the
    command line's ``columns`` / ``date_format``, merged (later wins) and validated; a mapping that leaves a
    required column unfilled is refused, naming the layers it came from and the fix."""
    table = model.TABLE
    layers: list[tuple[str, dict]] = []
    if council_dir is not None and (Path(council_dir) / "council.yaml").exists():
        try:
            spec = yaml.safe_load((Path(council_dir) / "council.yaml").read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ImportMappingError(f"{Path(council_dir) / 'council.yaml'}: not valid YAML ({exc})") from None
        own = dict((spec.get("imports") or {}).get(table) or {})
        if own.get("mapping") and mapping is None:
            layers.append(read_mapping(own.pop("mapping")))
        own.pop("mapping", None)
        own = {k: v for k, v in own.items() if k in model.model_fields}
        if own:
            layers.append((f"council.yaml imports: {table}", own))
    if mapping is not None:
        layers.append(read_mapping(mapping))
    cli: dict[str, object] = {}
    if columns:
        cli["columns"] = dict(columns)
    if date_format:
        cli["date_format"] = date_format
    if cli:
        layers.append(("the command line", cli))
    merged: dict = {}
    for _, layer in layers:
        for key, value in layer.items():
            if key == "columns" and isinstance(value, dict):
                merged["columns"] = {**merged.get("columns", {}), **value}
            else:
                merged[key] = value
    where = " + ".join(name for name, _ in layers) or "no mapping"
    try:
        result = model.model_validate(merged)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ImportMappingError(f"the {table} mapping ({where}) is not valid: " + "; ".join(lines)) from None
    missing = [c for c in model.REQUIRED if c not in result.columns]
    if result.service is None and "service" not in result.columns:
        missing.append("service")
    if missing:
        raise ImportMappingError(
            f"the {table} mapping ({where}) names no source column for {', '.join(missing)}. Use --mapping "
            f"{model.READY}, a mapping YAML, or --map " + " --map ".join(f"{m}=<source column>" for m in missing)
        )
    return result


MAX_COLUMNS = 1_000  #: a source with more columns than this is refused before it is read (an export has dozens)


def read_source(src, *, sheet: str | None = None) -> pd.DataFrame:
    """A CSV (plain or .gz) or XLSX file as text, every cell a string ("" when empty). A file with more than
    ``MAX_COLUMNS`` columns is refused at once, from its header (a 12 MB CSV of a million columns took 164 s and
    6.3 GB to read)."""
    src = Path(src)
    if not src.exists():
        raise SystemicError(f"{src}: no such file")
    name = src.name.lower()
    _refuse_wide(src, name, sheet)
    try:
        if name.endswith((".xlsx", ".xlsm")):
            raw = pd.read_excel(src, sheet_name=sheet or 0, dtype=str, keep_default_na=False, engine="openpyxl")
        elif name.endswith((".csv", ".csv.gz", ".txt")):
            raw, extra = read_csv_text(src)
            if extra:
                raise SystemicError(extra.problem(src.name).describe().removeprefix("ERROR: "))
        else:
            raise SystemicError(f"{src.name}: cannot tell the format; use a .csv, .csv.gz or .xlsx file")
    except UnicodeDecodeError:
        raise SystemicError(f"{src.name}: not UTF-8 text; save it as 'CSV UTF-8' and import again") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise SystemicError(f"{src.name}: cannot be read ({exc})") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    return raw


def _refuse_wide(src: Path, name: str, sheet: str | None) -> None:
    """Raise SystemicError when the source's header has more than ``MAX_COLUMNS`` columns."""
    import csv
    import gzip
    import io

    if name.endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook

        book = load_workbook(src, read_only=True)
        try:
            ws = book[sheet] if sheet and sheet in book.sheetnames else book.worksheets[0]
            count = ws.max_column or 0
        finally:
            book.close()
    elif name.endswith((".csv", ".csv.gz", ".txt")):
        opener = gzip.open if name.endswith(".gz") else open
        try:
            with opener(src, "rb") as fh:
                head = fh.readline(64 * 1024 * 1024)
            text = head.decode("utf-8-sig", errors="replace")
            count = len(next(csv.reader(io.StringIO(text)), []))
        except (OSError, csv.Error, EOFError):
            return  # read_csv says what is wrong with it
    else:
        return
    if count > MAX_COLUMNS:
        raise SystemicError(
            f"{src.name}: has {count:,} columns; an export read here has at most {MAX_COLUMNS:,}. Export only the "
            "columns the mapping reads (id, dates, service, channel, text), or check the file is the right one"
        )


def slug(text: pd.Series) -> pd.Series:
    """Service ids from names: lower case, words joined by hyphens ("Parks & Recreation" -> "parks-recreation")."""
    return (
        text.str.lower()
        .str.replace("&", " and ", regex=False)
        .str.replace(r"[^a-z0-9]+", "-", regex=True)
        .str.strip("-")
    )


def source_column(raw: pd.DataFrame, column: str, role: str, src: str) -> pd.Series:
    """One source column as trimmed text; a column the file lacks is named with the ones it has."""
    if column not in raw.columns:
        near = [c for c in raw.columns if column.lower() in c.lower() or c.lower() in column.lower()][:5]
        hint = f" (similar: {', '.join(near)})" if near else f" (it has: {', '.join(map(str, raw.columns[:20]))})"
        raise ImportMappingError(
            f"{src}: the mapping reads {role} from column '{column}', which the file does not "
            f"have{hint}. Fix the mapping's columns or use --map {role}=<column>."
        )
    return raw[column].astype(str).str.strip()


_FORMAT_WORDS = {
    "%m": "MM",
    "%d": "DD",
    "%Y": "YYYY",
    "%y": "YY",
    "%H": "HH",
    "%I": "hh",
    "%M": "mm",
    "%S": "ss",
    "%p": "AM/PM",
    "%z": "+HH:MM",
    "%f": "ffffff",
}
_OFFSET = r"(?:[+-]\d{2}:?\d{2}|Z)$"


def format_words(fmt: str | None) -> str:
    """A strftime format as a person writes it ("%d/%m/%Y" -> "DD/MM/YYYY")."""
    if fmt is None:
        return "YYYY-MM-DD HH:MM or DD/MM/YYYY HH:MM"
    return re.sub(r"%[a-zA-Z]", lambda m: _FORMAT_WORDS.get(m.group(0), m.group(0)), fmt)


def _to_local(parsed: pd.Series, local: str) -> pd.Series:
    return parsed.dt.tz_convert(local).dt.tz_localize(None).astype("datetime64[ns]")


def parse_dates(
    text: pd.Series, fmt: str | None, *, local_timezone: str = "Europe/London", source_timezone: str | None = None
) -> tuple[pd.Series, int]:
    """Naive local times from source text (NaT for blank or unreadable); and how many were converted between zones."""
    blank = text.eq("")
    zoned = text.str.contains(_OFFSET, regex=True, na=False) & ~blank
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    if zoned.any():
        z = pd.to_datetime(text[zoned], format=fmt or "ISO8601", utc=True, errors="coerce")
        out[zoned] = _to_local(z, local_timezone)
    plain = ~zoned & ~blank
    if plain.any():
        t = text[plain]
        if fmt:
            parsed = pd.to_datetime(t, format=fmt, errors="coerce")
        else:
            parsed = pd.to_datetime(t, format="ISO8601", errors="coerce")
            bad = parsed.isna()
            if bad.any():
                parsed = parsed.fillna(pd.to_datetime(t.where(bad), dayfirst=True, format="mixed", errors="coerce"))
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):  # a format with %z
            parsed = _to_local(parsed, local_timezone)
        parsed = parsed.astype("datetime64[ns]")
        if source_timezone and source_timezone != local_timezone:
            ok = parsed.notna()
            zoned_src = parsed[ok].dt.tz_localize(
                source_timezone, ambiguous=np.ones(int(ok.sum()), dtype=bool), nonexistent="shift_forward"
            )
            parsed[ok] = _to_local(zoned_src, local_timezone)
            zoned = zoned | (plain & ok.reindex(text.index, fill_value=False))
        out[plain] = parsed
    return out, int((zoned & out.notna()).sum())


class Rejections:
    """Why each source row is rejected: the first reason wins; ``short`` words count, ``full`` words explain."""

    def __init__(self, raw: pd.DataFrame):
        self.raw = raw
        self.kind = pd.Series("", index=raw.index, dtype=object)
        self.reason = pd.Series("", index=raw.index, dtype=object)
        self.source_row = pd.Series(np.arange(len(raw)) + 2, index=raw.index)  # the spreadsheet's row number

    def reject(self, mask: pd.Series, short: str, full) -> None:
        mask = mask & self.kind.eq("")
        self.kind[mask] = short
        self.reason[mask] = full[mask] if isinstance(full, pd.Series) else full

    @property
    def alive(self) -> pd.Series:
        return self.kind.eq("")

    def mapping_rules(self, specs: list[RejectSpec], src: str) -> None:
        for spec in specs:
            values = source_column(self.raw, spec.column, f"the rejection rule ({spec.reason})", src)
            self.reject(
                values.isin([str(v).strip() for v in spec.values]),
                spec.reason,
                spec.reason + " (" + spec.column + " is '" + values + "')",
            )

    def blank_ids(self, ids: pd.Series, column: str, short: str, what: str) -> None:
        self.reject(ids.eq(""), short, f"{column} is blank: every {what} needs its own id")

    def unreadable_dates(self, when: pd.Series, text: pd.Series, column: str, short: str, fmt: str | None) -> None:
        self.reject(
            when.isna() & text.ne(""), short, column + " '" + text + f"' is not a date written {format_words(fmt)}"
        )

    def repeated_ids(self, ids: pd.Series, column: str, short: str) -> None:
        """A second row with an id already seen (among rows still kept) is rejected, naming the first row."""
        alive = self.alive
        dup = ids.where(alive).duplicated(keep="first") & alive
        if dup.any():
            first_row = self.source_row[alive].groupby(ids[alive]).transform("min")
            self.reject(
                dup,
                short,
                column
                + " '"
                + ids
                + "' appears again (first at source row "
                + first_row.reindex(ids.index).fillna(0).astype(int).astype(str)
                + ")",
            )

    def frame(self) -> pd.DataFrame:
        """The rejected source rows, with ``source_row`` first and ``reason`` last."""
        gone = ~self.alive
        rejected = self.raw[gone].copy()
        rejected.insert(0, "source_row", self.source_row[gone])
        rejected["reason"] = self.reason[gone]
        return rejected.reset_index(drop=True)

    def counts(self) -> dict:
        return {k: int(v) for k, v in self.kind[~self.alive].value_counts().items()}


def services_of(rows: pd.DataFrame, mapping: TableMapping, src: str) -> tuple[pd.Series, pd.Series]:
    """The service id of each row, and the source name it came from (a fixed value, a value map, else a slug)."""
    if mapping.service is not None and mapping.service.value:
        fixed = pd.Series(mapping.service.value, index=rows.index)
        return fixed, fixed
    column = (
        mapping.service.column if mapping.service is not None and mapping.service.column else mapping.columns["service"]
    )
    names = source_column(rows, column, "service", src)
    values = mapping.service.values if mapping.service is not None else {}
    mapped = names.map(values).astype(object)
    return mapped.where(mapped.notna(), slug(names)).replace("", np.nan), names


def kept_columns(frame: pd.DataFrame, rows: pd.DataFrame, mapping: TableMapping, src: str) -> pd.DataFrame:
    """``frame`` with the mapping's ``keep`` columns carried from the source as they are."""
    for new, column in mapping.keep.items():
        frame[new] = source_column(rows, column, f"the kept column {new}", src).replace("", np.nan)
    return frame


def read_previous(out: Path, table: str, id_column: str) -> pd.DataFrame:
    """The file a re-import replaces, as text, for the team's work in it; unreadable or id-less: say how to go on."""
    previous, problems = read_raw(out, table)
    if previous is None:
        raise SystemicError(
            f"{out.name} cannot be read, so the team's work in it cannot be kept ("
            + "; ".join(p.describe() for p in problems)
            + "). Fix it, or import with "
            "--replace to discard it"
        )
    if id_column not in previous.columns:
        raise SystemicError(
            f"{out.name} has no {id_column} column, so the team's work in it cannot be matched to "
            f"the source: fix its header, or import with --replace to discard it"
        )
    return previous


def write_rejected(out: Path, rejected: pd.DataFrame) -> Path | None:
    """``<stem>.rejected.csv`` beside ``out``, for people (formula-like text defused); rewritten, empty, when a
    previous import left one and none is rejected now. Its path if written, else None."""
    path = out.with_name(f"{out.name.split('.')[0]}.rejected.csv")
    if len(rejected) or path.exists():
        return write_table_atomic(rejected, path, for_people=True)
    return None


def write_imported(
    out: Path, frame: pd.DataFrame, result: dict, *, table: str, id_column: str, replace: bool, merge, finish=None
) -> tuple[pd.DataFrame, list[str]]:
    """Write an import's table to ``out`` and its rejected rows beside it; the frame written and the files.

    Under ``out``'s lock (the one the classifier and the team's edits take): the previous file's team work is
    carried over by ``merge(frame, previous) -> (frame, counts)`` unless ``replace``; ``finish(frame)`` runs last
    (demand: its rules); rows in = written + rejected is checked; the write is atomic and keeps ``.prev``."""
    report = result["report"]
    out.parent.mkdir(parents=True, exist_ok=True)
    with locked(out):
        changes = {"kept": 0, "added": len(frame), "removed": 0, "replaced": bool(replace and out.exists())}
        if out.exists() and not replace:
            frame, counts = merge(frame, read_previous(out, table, id_column))
            changes.update(counts)
        if finish is not None:
            frame = finish(frame)
        report.update(changes)
        assert report["rows_in"] == report["written"] + report["rejected"], "import lost rows"
        written = [str(write_table_atomic(frame, out, sheet=table))]
    rejected_file = write_rejected(out, result["rejected"])
    if rejected_file is not None:
        written.append(str(rejected_file))
    report["output"] = str(out)
    report["rejected_file"] = str(rejected_file) if len(result["rejected"]) else None
    return frame, written


def council_yaml(
    folder: Path,
    mapping: TableMapping,
    services: pd.Series,
    names: dict,
    source: str,
    command: str,
    measures: Sequence[dict],
) -> Path:
    """Write a council.yaml listing the services found in the data (most rows first), each with ``measures``, for
    the team to edit."""
    order = services.value_counts()
    listed = [
        {
            "id": sid,
            "name": names.get(sid, sid.replace("-", " ").capitalize()),
            "purpose": "State the purpose of this service in the citizen's terms",
            "measures": [dict(m) for m in measures],
        }
        for sid in order.index
    ]
    if not listed:
        listed = [
            {
                "id": "imported-service",
                "name": "Imported service",
                "purpose": "State the purpose of this service in the citizen's terms",
            }
        ]
    spec = {
        "name": mapping.council.get("name", folder.name.replace("-", " ").title()),
        "services": listed,
        "imports": {
            mapping.TABLE: {"mapping": mapping.name, "source": source, "imported": dt.date.today().isoformat()}
        },
    }
    text = (
        f"# Written by systemic import {command} from the services found in the data; write each purpose in the\n"
        "# citizen's terms and edit names freely.\n" + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
    )
    return atomic_write_text(folder / "council.yaml", text)


def service_names(services: pd.Series, names: pd.Series) -> dict:
    """Service id -> the source name most rows give it."""
    return (
        pd.DataFrame({"id": services, "name": names})
        .dropna()
        .groupby("id")["name"]
        .agg(lambda s: s.value_counts().index[0])
        .to_dict()
    )


def council_services(folder: Path) -> dict[str, list[str]] | None:
    """The service ids council.yaml lists, each with its measure ids (None when it cannot be read)."""
    from systemic_lib.data.council import load_council

    try:
        return {sid: [m.id for m in s.measures] for sid, s in load_council(folder).services.items()}
    except SystemicError:
        return None


def pairs(values) -> dict:
    """``--map COLUMN=SOURCE`` options as a dict."""
    out = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"'{item}' should be COLUMN=SOURCE, e.g. contact_id=CASE_ENQUIRY_ID")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def run_import(importer, src, council_dir, *, maps, noun: str, kept_words: str, **options) -> dict:
    """A command's body: run ``importer`` (its errors become the command's message) and echo the summary's opening."""
    try:
        r = importer(src, council_dir, columns=pairs(maps), **options)
    except SystemicError as exc:
        raise click.ClickException(str(exc)) from None
    echo_counts(r, src, noun, kept_words)
    return r


def echo_counts(r: dict, src, noun: str, kept_words: str) -> None:
    """The summary's opening: rows in, written, rejected (by reason), and what a re-import kept."""
    click.echo(
        f"Read {r['rows_in']:,} rows from {Path(src).name}: wrote {count_of(r['written'], noun)} to "
        f"{r['output']}, rejected {r['rejected']:,}."
    )
    if r["kept"] or r["removed"] or (r["added"] != r["written"]):
        click.echo(
            f"  Kept the team's {kept_words} on {count_of(r['kept'], noun)} still in the source; added "
            f"{r['added']:,} new, removed {r['removed']:,} no longer in it (--replace discards the team's "
            f"{kept_words})."
        )
    elif r["replaced"]:
        click.echo(f"  Replaced the previous file and any {kept_words} in it (kept as .prev).")
    for why, count in r["rejected_by_reason"].items():
        click.echo(f"  Rejected {count:,}: {why}.")
    if r["rejected_file"]:
        click.echo(f"  Each rejected row, with its reason: {r['rejected_file']}")


def echo_files(r: dict) -> None:
    if r.get("services_not_in_council_yaml"):
        click.echo(f"  Services not in council.yaml: {', '.join(r['services_not_in_council_yaml'])}: add them.")
    click.echo(f"  Wrote {', '.join(r['written_files'])}.")
