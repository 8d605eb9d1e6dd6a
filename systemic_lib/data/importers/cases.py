"""Import a case-management or CRM export (one row per case) into a council folder as ``cases.csv``.

``systemic import cases SRC --council DIR --mapping boston311_cases|FILE.yaml [--map COLUMN=SOURCE ...] [--replace]``

The mapping vocabulary is ``import demand``'s (``importers/common.py``): ``columns`` (case_id, service, opened_at,
closed_at, wanted_by, demand_type), ``date_format``, ``local_timezone``/``source_timezone``, ``service``,
``reject``, ``keep``, ``sheet``, and the council's ``imports: {cases: ...}`` in council.yaml. One key is its own:
``status: {column, open: [...], closed: [...]}``, the export's status column and which of its values mean open or
closed.

Open and closed, decided:
- A case with no close date is open; a case whose status is open stays open even if the export gives a close date
  (a reopened case keeps its old one): ``closed_at`` is left blank and the count is said. A close is never made up.
- A case whose status is closed but with no close date is **rejected** ("closed with no close date"): keeping it
  open would say a citizen is still waiting, which the export says is false, and its end-to-end time cannot be
  measured. Fix the export, or list that status under ``status: open`` if such cases really are open.
- A status the mapping lists neither as open nor as closed is rejected, naming the value.

Other rejections, each with its reason in ``cases.rejected.csv``: the mapping's ``reject`` rules, a blank case id,
no service, a service council.yaml does not list (when it exists), an unreadable opened/closed/wanted-by date,
closed before opened, and a case id seen before (the first row wins). Rows in = written + rejected.

A re-import keeps the team's judgements for every case still in the source: ``cohort`` and ``demand_returns``
(which a mapping may not read), any contract column the mapping does not fill (``wanted_by``, ``demand_type``) and
any column the team added (notes); ``--replace`` discards them. The read-merge-write holds the file's lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import click
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from systemic_lib.data.contract import TABLES
from systemic_lib.data.importers.common import (
    Rejections,
    TableMapping,
    council_services,
    council_yaml,
    echo_files,
    kept_columns,
    layered_mapping,
    parse_dates,
    read_source,
    run_import,
    service_names,
    services_of,
    source_column,
    write_imported,
)

__all__ = [
    "CasesMapping",
    "StatusSpec",
    "load_mapping",
    "convert",
    "keep_judgements",
    "import_cases",
    "cases_command",
    "TEAM",
]

CASE_COLUMNS = TABLES["cases"].column_names
#: The measure a council.yaml written from cases gives each service (and a re-import suggests where it is missing).
END_TO_END = {"id": "end_to_end_days", "direction": "decrease"}
#: What the team judges about a case; a mapping cannot read these and a re-import keeps them.
TEAM = ("cohort", "demand_returns")


class StatusSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    column: str  #: the source column holding the case's status
    open: list[str] = Field(default_factory=list)  #: values meaning the case is still open
    closed: list[str] = Field(default_factory=list)  #: values meaning it is closed (it needs a close date)


class CasesMapping(TableMapping):
    """A column mapping for ``systemic import cases`` (see systemic_lib/mappings/boston311_cases.yaml)."""

    TABLE: ClassVar[str] = "cases"
    REQUIRED: ClassVar[tuple[str, ...]] = ("case_id", "opened_at")
    READY: ClassVar[str] = "boston311_cases"
    TEAM: ClassVar[tuple[str, ...]] = TEAM
    status: StatusSpec | None = None


def load_mapping(
    mapping=None, *, council_dir=None, columns: dict | None = None, date_format: str | None = None
) -> CasesMapping:
    """The mapping to use (the council's ``imports: cases``, then ``mapping``, then the command line; later wins)."""
    return layered_mapping(CasesMapping, mapping, council_dir=council_dir, columns=columns, date_format=date_format)


def _quoted(text: pd.Series, column: str) -> pd.Series:
    return column + " '" + text + "'"


def convert(raw: pd.DataFrame, mapping: CasesMapping, *, src: str = "source", known_services=None) -> dict:
    """Map source rows onto the cases table. Returns ``cases``, ``rejected`` (source rows + ``source_row`` +
    ``reason``), ``service_names`` and ``report`` (counts; rows_in = written + rejected). ``known_services``: the
    ids council.yaml lists; a case of any other service is rejected (None: no council.yaml, every service goes)."""
    cols = mapping.columns
    why = Rejections(raw)
    why.mapping_rules(mapping.reject, src)
    ids = source_column(raw, cols["case_id"], "case_id", src)
    why.blank_ids(ids, cols["case_id"], "no case id", "case")
    services, names = services_of(raw, mapping, src)
    service_from = (
        mapping.service.column
        if mapping.service is not None and mapping.service.column
        else cols.get("service", "service")
    )
    why.reject(
        services.isna(),
        "no service",
        f"{service_from} is blank: every case needs its service; fill it in "
        "the export or give the mapping a service: value",
    )
    if known_services is not None:
        unknown = services.notna() & ~services.isin(list(known_services))
        why.reject(
            unknown,
            "service not in council.yaml",
            "service '"
            + services.fillna("")
            + "' ("
            + service_from
            + " '"
            + names
            + "') is not in council.yaml: add it there, or map that value to a listed service "
            "in the mapping's service: values",
        )
    times = {}
    zoned = 0
    for col, short in (
        ("opened_at", "opened time cannot be read"),
        ("closed_at", "closed time cannot be read"),
        ("wanted_by", "wanted-by date cannot be read"),
    ):
        if col in cols:
            text = source_column(raw, cols[col], col, src)
            times[col], z = parse_dates(
                text,
                mapping.date_format,
                local_timezone=mapping.local_timezone,
                source_timezone=mapping.source_timezone,
            )
            zoned += z
            why.unreadable_dates(times[col], text, cols[col], short, mapping.date_format)
        else:
            times[col] = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    closed = times["closed_at"]
    reopened = pd.Series(False, index=raw.index)
    if mapping.status is not None:
        st = mapping.status
        status = source_column(raw, st.column, "the status", src)
        is_open = status.isin([str(v).strip() for v in st.open])
        is_closed = status.isin([str(v).strip() for v in st.closed])
        why.reject(
            ~is_open & ~is_closed,
            "status not known",
            st.column + " '" + status + "' is neither an open nor a closed status in the mapping: add it to "
            "the mapping's status: open or status: closed",
        )
        no_date = closed.isna() & (
            source_column(raw, cols["closed_at"], "closed_at", src).eq("") if "closed_at" in cols else True
        )
        why.reject(
            is_closed & no_date,
            "closed with no close date",
            st.column + " '" + status + "' but " + cols.get("closed_at", "no closed_at column") + " is blank: "
            "a closed case needs the date it closed (none is made up); fix the export, or list this status "
            "under status: open if such cases are still open",
        )
        reopened = is_open & closed.notna()
        closed = closed.where(~is_open)  # an open case stays open: its old close date is not its end
    if "closed_at" in cols:
        before = closed.notna() & times["opened_at"].notna() & (closed < times["opened_at"])
        why.reject(
            before,
            "closed before opened",
            _quoted(source_column(raw, cols["closed_at"], "closed_at", src), cols["closed_at"])
            + " is before "
            + _quoted(source_column(raw, cols["opened_at"], "opened_at", src), cols["opened_at"])
            + ": fix one of the two dates in the export",
        )
    why.repeated_ids(ids, cols["case_id"], "case id repeated")

    keep = why.alive
    rows = raw[keep]
    cases = pd.DataFrame(
        {
            "case_id": ids[keep],
            "service": services[keep],
            "opened_at": times["opened_at"][keep],
            "closed_at": closed[keep],
            "wanted_by": times["wanted_by"][keep].dt.normalize(),
        },
        index=rows.index,
    )
    if "demand_type" in cols:
        cases["demand_type"] = source_column(rows, cols["demand_type"], "demand_type", src).replace("", np.nan)
    for col in CASE_COLUMNS:
        if col not in cases:
            cases[col] = np.nan
    cases = kept_columns(cases[list(CASE_COLUMNS)], rows, mapping, src).reset_index(drop=True)
    cases["wanted_by"] = cases["wanted_by"].dt.strftime("%Y-%m-%d")

    report = {
        "rows_in": len(raw),
        "written": len(cases),
        "rejected": int((~keep).sum()),
        "rejected_by_reason": why.counts(),
        "times_converted_to_local": zoned,
        "open": int(cases["closed_at"].isna().sum()),
        "closed": int(cases["closed_at"].notna().sum()),
        "open_with_close_date": int((reopened & keep).sum()),
        "no_opened_at": int(cases["opened_at"].isna().sum()),
    }
    return {
        "cases": cases,
        "rejected": why.frame(),
        "service_names": service_names(services[keep], names[keep]),
        "report": report,
    }


def keep_judgements(cases: pd.DataFrame, previous: pd.DataFrame, mapping: CasesMapping) -> tuple[pd.DataFrame, dict]:
    """``cases`` with the team's work from ``previous`` (the file being replaced, as text) for every case still in
    the source: ``cohort``, ``demand_returns``, contract columns the mapping does not fill and the team's own
    columns. Counts: ``kept`` (cases with a judgement kept), ``added`` (new in the source), ``removed`` (gone)."""
    prev = previous.assign(case_id=previous["case_id"].astype(str).str.strip())
    prev = prev[prev["case_id"].ne("")].drop_duplicates("case_id").set_index("case_id")
    ids = cases["case_id"].astype(str).str.strip()
    present = ids.isin(prev.index)
    owned = [
        c
        for c in CASE_COLUMNS
        if c in prev.columns
        and (c in TEAM or (c not in mapping.columns and c not in ("case_id", "service", "opened_at", "closed_at")))
    ]
    owned += [c for c in prev.columns if c not in CASE_COLUMNS and c not in cases.columns]  # the team's own columns
    out = cases.copy()
    judged = pd.Series(False, index=cases.index)
    for col in owned:
        values = ids.map(prev[col].astype(str).str.strip()).where(present).replace("", np.nan)
        out[col] = values
        judged |= values.notna()
    return out, {
        "kept": int(judged.sum()),
        "added": int((~present).sum()),
        "removed": int((~prev.index.isin(set(ids))).sum()),
    }


def import_cases(
    src,
    council_dir,
    *,
    mapping=None,
    columns: dict | None = None,
    date_format: str | None = None,
    out=None,
    replace: bool = False,
) -> dict:
    """Import ``src`` into ``council_dir`` (``cases.csv`` unless ``out``); returns the counts and files written."""
    folder = Path(council_dir)
    spec = load_mapping(mapping, council_dir=folder, columns=columns, date_format=date_format)
    raw = read_source(src, sheet=spec.sheet)
    known = council_services(folder) if (folder / "council.yaml").exists() else None
    result = convert(raw, spec, src=Path(src).name, known_services=known)
    folder.mkdir(parents=True, exist_ok=True)
    cases, written = write_imported(
        Path(out) if out else folder / "cases.csv",
        result["cases"],
        result,
        table="cases",
        id_column="case_id",
        replace=replace,
        merge=lambda frame, previous: keep_judgements(frame, previous, spec),
    )
    report = result["report"]
    if not (folder / "council.yaml").exists():
        written.append(
            str(
                council_yaml(
                    folder, spec, cases["service"], result["service_names"], Path(src).name, "cases", [END_TO_END]
                )
            )
        )
    elif known:
        report["services_without_end_to_end"] = sorted(
            sid for sid in set(cases["service"].dropna()) if "end_to_end_days" not in known.get(sid, [])
        )
    report["written_files"] = written
    return report


@click.command("cases")
@click.argument("src", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--council",
    "council_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Council folder to write into (created if missing; its council.yaml, if any, lists the services "
    "a case may belong to).",
)
@click.option("--mapping", default=None, help="Ready mapping (boston311_cases) or a mapping YAML file.")
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="COLUMN=SOURCE",
    help="Map one cases column (case_id, service, opened_at, closed_at, wanted_by, demand_type) from a "
    "source column (repeatable); wins over the mapping.",
)
@click.option(
    "--date-format",
    default=None,
    help="How the dates are written, e.g. '%m/%d/%Y %I:%M:%S %p' (default: YYYY-MM-DD HH:MM or DD/MM/YYYY HH:MM).",
)
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="Output file (default DIR/cases.csv).")
@click.option(
    "--replace",
    is_flag=True,
    help="Discard the team's judgements (cohort, demand_returns, notes) in the "
    "existing file (default: keep them for every case still in the source).",
)
def cases_command(src, council_dir, mapping, maps, date_format, out, replace):
    """Import a case-management or CRM export (CSV, .csv.gz or XLSX, one row per case) as cases.csv.

    A case with no close date, or an open status, stays open; a closed status with no close date is rejected.
    Rows in = written + rejected; each rejected row is in cases.rejected.csv with its source row and reason."""
    r = run_import(
        import_cases,
        src,
        council_dir,
        maps=maps,
        noun="case",
        kept_words="judgements",
        mapping=mapping,
        date_format=date_format,
        out=out,
        replace=replace,
    )
    click.echo(
        f"  Open {r['open']:,} (no close date, or an open status: kept open, never given a close), "
        f"closed {r['closed']:,}."
    )
    if r["open_with_close_date"]:
        click.echo(
            f"  {r['open_with_close_date']:,} cases the export calls open had a close date: kept open, the "
            "old close date left out (a reopened case)."
        )
    if r["no_opened_at"]:
        click.echo(
            f"  {r['no_opened_at']:,} cases with no opened time: kept; their end-to-end time starts at their "
            "first recorded step, if any."
        )
    if r["times_converted_to_local"]:
        click.echo(f"  {r['times_converted_to_local']:,} times converted to local time.")
    if r.get("services_without_end_to_end"):
        click.echo(
            f"  End-to-end time is not a measure of {', '.join(r['services_without_end_to_end'])} in "
            "council.yaml: add '- {id: end_to_end_days, direction: decrease}' under a service's measures to "
            "chart it."
        )
    echo_files(r)
