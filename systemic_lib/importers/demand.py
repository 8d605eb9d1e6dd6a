"""Import real contact records (a 311 extract, a CRM export) into a council folder as ``demand.csv``.

``systemic import demand SRC --council DIR [--mapping boston311|FILE.yaml] [--map COLUMN=SOURCE ...] [--out FILE]``

A mapping says which source column feeds each demand column, how dates are written, how source values become service
ids and channels, which rows are not citizens' demand (rejected with a reason), which extra columns to keep, and
rules that classify contacts as value or failure. It comes from a ready mapping (``systemic_lib/mappings/``), a
YAML file, the council's ``council.yaml`` (``imports: {demand: {...}}``) or ``--map`` options, later ones winning.

Nothing is dropped silently: rows in = rows written + rows rejected, and every rejected row is written to
``<out stem>.rejected.csv`` beside the output with its source row and a ``reason``. Writes are atomic and keep the
previous version. A council folder with no ``council.yaml`` gets one listing the services found in the data.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import click
import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..classify import apply_rules, rules_frame
from ..contract import CHANNELS, TABLES, normalise_category, read_raw, read_table
from ..words import count as count_of
from ..errors import ImportMappingError, SystemicError
from ..files import atomic_write_text, locked, write_table_atomic
from . import read_mapping

DEMAND_COLUMNS = TABLES["demand"].column_names
CLASSIFIED_BY = "classified_by"

__all__ = ["DemandMapping", "load_mapping", "read_source", "convert", "import_demand", "demand_command", "slug",
           "keep_decisions", "DECISIONS"]

#: What the team decides about a contact: a re-import keeps these for every contact still in the source.
DECISIONS = ("classification", "failure_type", "what_matters", CLASSIFIED_BY)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServiceSpec(_Model):
    column: str | None = None  #: the source column naming the service
    value: str | None = None  #: or one service id for every row
    values: dict[str, str] = Field(default_factory=dict)  #: source value -> service id (others: a slug)


class ChannelSpec(_Model):
    values: dict[str, str] = Field(default_factory=dict)  #: source value -> contract channel


class RejectSpec(_Model):
    column: str
    values: list[str]
    reason: str


class DemandMapping(_Model):
    """A column mapping for ``systemic import demand`` (see systemic_lib/mappings/boston311.yaml)."""

    name: str = "custom"
    council: dict = Field(default_factory=dict)
    columns: dict[str, str] = Field(default_factory=dict)  #: demand column -> source column
    date_format: str | None = None  #: strftime format of received_at; None: YYYY-MM-DD HH:MM or DD/MM/YYYY
    service: ServiceSpec | None = None
    channel: ChannelSpec = Field(default_factory=ChannelSpec)
    reject: list[RejectSpec] = Field(default_factory=list)
    keep: dict[str, str] = Field(default_factory=dict)  #: new column -> source column, carried as it is
    rules: list[dict] = Field(default_factory=list)
    sheet: str | None = None  #: XLSX sheet (default: the first)

    @field_validator("columns")
    @classmethod
    def _known(cls, v: dict) -> dict:
        unknown = [k for k in v if k not in DEMAND_COLUMNS]
        if unknown:
            raise ValueError(f"{', '.join(unknown)} {'is not a demand column' if len(unknown) == 1 else 'are not demand columns'}; "
                             f"demand columns are {', '.join(DEMAND_COLUMNS)}")
        return v


def load_mapping(mapping=None, *, council_dir=None, columns: dict | None = None,
                 date_format: str | None = None) -> DemandMapping:
    """The mapping to use: the council's ``imports: demand`` entry, then ``mapping`` (a ready name, a YAML path or a
    dict), then ``columns`` / ``date_format`` from the command line; later ones win."""
    layers: list[tuple[str, dict]] = []
    if council_dir is not None and (Path(council_dir) / "council.yaml").exists():
        try:
            spec = yaml.safe_load((Path(council_dir) / "council.yaml").read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ImportMappingError(f"{Path(council_dir) / 'council.yaml'}: not valid YAML ({exc})") from None
        own = dict((spec.get("imports") or {}).get("demand") or {})
        if own.get("mapping") and mapping is None:
            layers.append(read_mapping(own.pop("mapping")))
        own.pop("mapping", None)
        own = {k: v for k, v in own.items() if k in DemandMapping.model_fields}
        if own:
            layers.append(("council.yaml imports: demand", own))
    if mapping is not None:
        layers.append(read_mapping(mapping))
    cli = {}
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
        result = DemandMapping.model_validate(merged)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ImportMappingError(f"the demand mapping ({where}) is not valid: " + "; ".join(lines)) from None
    missing = [c for c in ("contact_id", "received_at") if c not in result.columns]
    if result.service is None and "service" not in result.columns:
        missing.append("service")
    if missing:
        raise ImportMappingError(
            f"the demand mapping ({where}) names no source column for {', '.join(missing)}. Use --mapping boston311, "
            "a mapping YAML, or --map " + " --map ".join(f"{m}=<source column>" for m in missing))
    return result


def read_source(src, *, sheet: str | None = None) -> pd.DataFrame:
    """A CSV (plain or .gz) or XLSX file as text, every cell a string ("" when empty)."""
    src = Path(src)
    if not src.exists():
        raise SystemicError(f"{src}: no such file")
    name = src.name.lower()
    try:
        if name.endswith((".xlsx", ".xlsm")):
            raw = pd.read_excel(src, sheet_name=sheet or 0, dtype=str, keep_default_na=False, engine="openpyxl")
        elif name.endswith((".csv", ".csv.gz", ".txt")):
            raw = pd.read_csv(src, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        else:
            raise SystemicError(f"{src.name}: cannot tell the format; use a .csv, .csv.gz or .xlsx file")
    except UnicodeDecodeError:
        raise SystemicError(f"{src.name}: not UTF-8 text; save it as 'CSV UTF-8' and import again") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise SystemicError(f"{src.name}: cannot be read ({exc})") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    return raw


def slug(text: pd.Series) -> pd.Series:
    """Service ids from names: lower case, words joined by hyphens ("Parks & Recreation" -> "parks-recreation")."""
    return (text.str.lower().str.replace("&", " and ", regex=False).str.replace(r"[^a-z0-9]+", "-", regex=True)
            .str.strip("-"))


def _source(raw: pd.DataFrame, column: str, role: str, src: str) -> pd.Series:
    if column not in raw.columns:
        near = [c for c in raw.columns if column.lower() in c.lower() or c.lower() in column.lower()][:5]
        hint = f" (similar: {', '.join(near)})" if near else f" (it has: {', '.join(map(str, raw.columns[:20]))})"
        raise ImportMappingError(f"{src}: the mapping reads {role} from column '{column}', which the file does not "
                                 f"have{hint}. Fix the mapping's columns or use --map {role}=<column>.")
    return raw[column].astype(str).str.strip()


_FORMAT_WORDS = {"%m": "MM", "%d": "DD", "%Y": "YYYY", "%y": "YY", "%H": "HH", "%I": "hh", "%M": "mm", "%S": "ss",
                 "%p": "AM/PM"}


def _format_words(fmt: str | None) -> str:
    if fmt is None:
        return "YYYY-MM-DD HH:MM or DD/MM/YYYY HH:MM"
    return re.sub(r"%[a-zA-Z]", lambda m: _FORMAT_WORDS.get(m.group(0), m.group(0)), fmt)


def _dates(text: pd.Series, fmt: str | None) -> pd.Series:
    blank = text.eq("")
    if fmt:
        return pd.to_datetime(text.where(~blank), format=fmt, errors="coerce").astype("datetime64[ns]")
    parsed = pd.to_datetime(text.where(~blank), format="ISO8601", errors="coerce")
    bad = parsed.isna() & ~blank
    if bad.any():
        parsed = parsed.fillna(pd.to_datetime(text.where(bad), dayfirst=True, format="mixed", errors="coerce"))
    return parsed.astype("datetime64[ns]")


def convert(raw: pd.DataFrame, mapping: DemandMapping, *, src: str = "source", today=None) -> dict:
    """Map source rows onto the demand table. Returns ``demand``, ``rejected`` (source rows + ``source_row`` +
    ``reason``), ``service_names`` (id -> source name) and ``report`` (counts; rows_in = written + rejected)."""
    n = len(raw)
    cols = mapping.columns
    index = raw.index
    kind = pd.Series("", index=index, dtype=object)  # why a row is rejected: short words for the counts
    reason = pd.Series("", index=index, dtype=object)  # ... and in full, with the value

    def reject(mask: pd.Series, short: str, full):
        mask = mask & kind.eq("")
        kind[mask] = short
        reason[mask] = full[mask] if isinstance(full, pd.Series) else full

    for spec in mapping.reject:
        values = _source(raw, spec.column, f"the rejection rule ({spec.reason})", src)
        reject(values.isin([str(v).strip() for v in spec.values]), spec.reason,
               spec.reason + " (" + spec.column + " is '" + values + "')")
    ids = _source(raw, cols["contact_id"], "contact_id", src)
    reject(ids.eq(""), "no contact id", f"{cols['contact_id']} is blank: every contact needs its own id")
    when_text = _source(raw, cols["received_at"], "received_at", src)
    when = _dates(when_text, mapping.date_format)
    bad_date = when.isna() & when_text.ne("")
    reject(bad_date, "received time cannot be read",
           cols["received_at"] + " '" + when_text + f"' is not a date written {_format_words(mapping.date_format)}")
    source_row = pd.Series(np.arange(n) + 2, index=index)
    alive = kind.eq("")
    dup = ids.where(alive).duplicated(keep="first") & alive
    if dup.any():
        first_row = source_row[alive].groupby(ids[alive]).transform("min")
        reject(dup, "contact id repeated", cols["contact_id"] + " '" + ids + "' appears again (first at source row "
               + first_row.reindex(index).fillna(0).astype(int).astype(str) + ")")

    keep = kind.eq("").to_numpy()
    rows = raw[keep]
    demand = pd.DataFrame(index=rows.index)
    demand["contact_id"] = ids[keep]
    if mapping.service is not None and mapping.service.value:
        names = pd.Series(mapping.service.value, index=rows.index)
        services = pd.Series(mapping.service.value, index=rows.index)
    else:
        column = mapping.service.column if mapping.service is not None and mapping.service.column else cols["service"]
        names = _source(rows, column, "service", src)
        values = mapping.service.values if mapping.service is not None else {}
        mapped = names.map(values).astype(object)
        services = mapped.where(mapped.notna(), slug(names)).replace("", np.nan)
    demand["service"] = services
    demand["received_at"] = when[keep]
    if "channel" in cols:
        chan_text = _source(rows, cols["channel"], "channel", src)
        mapped = chan_text.map(mapping.channel.values).astype(object)
        demand["channel"] = mapped.where(mapped.notna(), normalise_category(
            chan_text, TABLES["demand"].column("channel"))).replace("", np.nan)
    for col in ("verbatim", "demand_type", "classification", "failure_type", "what_matters", "one_stop", "case_id"):
        if col in cols:
            demand[col] = _source(rows, cols[col], col, src).replace("", np.nan)
    for col in ("classification", "failure_type"):
        if col in demand:
            norm = normalise_category(demand[col].fillna(""), TABLES["demand"].column(col))
            demand[col] = norm.where(norm.isin(TABLES["demand"].column(col).values))
    for col in DEMAND_COLUMNS:
        if col not in demand:
            demand[col] = np.nan
    demand = demand[DEMAND_COLUMNS]
    for new, column in mapping.keep.items():
        demand[new] = _source(rows, column, f"the kept column {new}", src).replace("", np.nan)
    demand = demand.reset_index(drop=True)
    for col in ("classification", "failure_type"):
        demand[col] = demand[col].astype("str")

    report = {"rows_in": n, "written": len(demand), "rejected": int((~keep).sum()),
              "rejected_by_reason": {k: int(v) for k, v in kind[~keep].value_counts().items()},
              "no_received_at": int(demand["received_at"].isna().sum()),
              "future": int((demand["received_at"] >= (today or pd.Timestamp.now().normalize() + pd.Timedelta(days=1))).sum()),
              "no_verbatim": int(demand["verbatim"].isna().sum()),
              "no_service": int(demand["service"].isna().sum()),
              "channels_not_in_contract": sorted(set(demand["channel"].dropna()) - set(CHANNELS))}
    service_names = (pd.DataFrame({"id": services, "name": names}).dropna()
                     .groupby("id")["name"].agg(lambda s: s.value_counts().index[0]).to_dict())
    rejected = raw[~keep].copy()
    rejected.insert(0, "source_row", source_row[~keep])
    rejected["reason"] = reason[~keep]
    return {"demand": demand, "rejected": rejected.reset_index(drop=True), "service_names": service_names,
            "report": report}


def classify_imported(demand: pd.DataFrame, mapping: DemandMapping, council_dir) -> tuple[pd.DataFrame, list]:
    """Classify the unclassified contacts: the council's own rules.csv first, then the mapping's rules."""
    results = []
    council_rules = Path(council_dir) / "rules.csv"
    if council_rules.exists():
        table = read_table(council_rules, "rules")
        if table.errors:
            raise SystemicError("rules.csv has errors, fix them before importing:\n"
                                + "\n".join(p.describe() for p in table.errors))
        r = apply_rules(demand, table.frame, file="rules.csv", mark=CLASSIFIED_BY)
        demand = r.frame
        results.append(r)
    if mapping.rules:
        r = apply_rules(demand, mapping.rules, file=f"mapping {mapping.name} (rules)", first_row=1, mark=CLASSIFIED_BY)
        demand = r.frame
        results.append(r)
    return demand, results


def _council_yaml(folder: Path, mapping: DemandMapping, demand: pd.DataFrame, names: dict, source: str) -> str:
    order = demand["service"].value_counts()
    services = [{"id": sid, "name": names.get(sid, sid.replace("-", " ").capitalize()),
                 "purpose": "State the purpose of this service in the citizen's terms",
                 "measures": [{"id": "failure_demand_pct", "direction": "decrease"},
                              {"id": "weekly_demand", "direction": "neutral"}]} for sid in order.index]
    if not services:
        services = [{"id": "imported-service", "name": "Imported service",
                     "purpose": "State the purpose of this service in the citizen's terms"}]
    spec = {"name": mapping.council.get("name", folder.name.replace("-", " ").title()), "services": services,
            "imports": {"demand": {"mapping": mapping.name, "source": source,
                                   "imported": dt.date.today().isoformat()}}}
    return ("# Written by systemic import demand from the services found in the data; write each purpose in the\n"
            "# citizen's terms and edit names freely.\n" + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))


def keep_decisions(demand: pd.DataFrame, previous: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """``demand`` with the team's decisions from ``previous`` (the file being replaced, as text) carried over.

    For each contact still in ``demand``, a previous row the team decided (a classification, failure type or what
    matters not set by a rule) keeps those cells and ``classified_by``; columns the team added (notes) are carried
    for every contact still present. Returns the frame and counts: ``kept`` (contacts whose decisions were kept),
    ``added`` (contacts new in the source) and ``removed`` (contacts no longer in it).
    """
    if "contact_id" not in previous.columns:
        raise SystemicError("the demand file being replaced has no contact_id column, so the team's decisions "
                            "cannot be matched: fix it, or import with --replace to discard them")
    prev = previous.assign(contact_id=previous["contact_id"].astype(str).str.strip())
    prev = prev[prev["contact_id"].ne("")].drop_duplicates("contact_id").set_index("contact_id")
    ids = demand["contact_id"].astype(str).str.strip()
    present = ids.isin(prev.index)
    by_rule = (prev[CLASSIFIED_BY].astype(str).str.strip().str.lower().str.startswith("rule")
               if CLASSIFIED_BY in prev.columns else pd.Series(False, index=prev.index))
    decided_cols = [c for c in DECISIONS[:3] if c in prev.columns]
    decided = prev[decided_cols].apply(lambda c: c.astype(str).str.strip().ne("")).any(axis=1) & ~by_rule
    team = present & ids.map(decided).fillna(False).astype(bool)
    out = demand.copy()
    if team.any():
        rows = prev.loc[ids[team]]
        for col in DECISIONS:
            if col not in rows.columns:
                continue
            values = rows[col].astype(str).str.strip().to_numpy()
            if col in ("classification", "failure_type"):
                spec = TABLES["demand"].column(col)
                norm = normalise_category(pd.Series(values), spec)
                values = norm.where(norm.isin(spec.values)).to_numpy()
            else:
                values = pd.Series(values).replace("", np.nan).to_numpy()
            if col not in out.columns:
                out[col] = np.nan
            out[col] = out[col].astype(object)
            out.loc[team.to_numpy(), col] = values
    for col in [c for c in prev.columns if c not in out.columns and c not in DEMAND_COLUMNS]:  # the team's own columns
        out[col] = ids.map(prev[col]).where(present).replace("", np.nan)
    for col in ("classification", "failure_type"):
        out[col] = out[col].astype("str")
    counts = {"kept": int(team.sum()), "added": int((~present).sum()),
              "removed": int((~prev.index.isin(set(ids))).sum())}
    return out, counts


def import_demand(src, council_dir, *, mapping=None, columns: dict | None = None, date_format: str | None = None,
                  out=None, today=None, replace: bool = False) -> dict:
    """Import ``src`` into ``council_dir`` (``demand.csv`` unless ``out``); returns the counts and files written.

    Re-importing over an existing file keeps the team's decisions for contacts still in the source (see
    ``keep_decisions``) unless ``replace``; the whole read-merge-write holds the file's lock, as a classifier save
    does, so neither loses the other's work."""
    folder = Path(council_dir)
    spec = load_mapping(mapping, council_dir=folder, columns=columns, date_format=date_format)
    raw = read_source(src, sheet=spec.sheet)
    result = convert(raw, spec, src=Path(src).name, today=today)
    folder.mkdir(parents=True, exist_ok=True)
    out = Path(out) if out else folder / "demand.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with locked(out):
        demand = result["demand"]
        changes = {"kept": 0, "added": len(demand), "removed": 0, "replaced": bool(replace and out.exists())}
        if out.exists() and not replace:
            previous, problems = read_raw(out, "demand")
            if previous is None:
                raise SystemicError(f"{out.name} cannot be read, so the team's decisions in it cannot be kept ("
                                    + "; ".join(p.describe() for p in problems) + "). Fix it, or import with "
                                    "--replace to discard it")
            demand, counts = keep_decisions(demand, previous)
            changes.update(counts)
        demand, rule_results = classify_imported(demand, spec, folder)
        report = result["report"]
        report.update(changes)
        report["classified_by_rules"] = sum(r.classified for r in rule_results)
        report["value"] = int(demand["classification"].eq("value").sum())
        report["failure"] = int(demand["classification"].eq("failure").sum())
        report["unclassified"] = int(demand["classification"].isna().sum())
        report["rule_problems"] = [p.describe() for r in rule_results for p in r.problems]
        assert report["rows_in"] == report["written"] + report["rejected"], "import lost rows"
        written = [str(write_table_atomic(demand, out, sheet="demand"))]
    rejected_path = out.with_name(f"{out.name.split('.')[0]}.rejected.csv")
    if len(result["rejected"]) or rejected_path.exists():
        written.append(str(write_table_atomic(result["rejected"], rejected_path, for_people=True)))
    if not (folder / "council.yaml").exists():
        atomic_write_text(folder / "council.yaml", _council_yaml(folder, spec, demand, result["service_names"],
                                                                 Path(src).name))
        written.append(str(folder / "council.yaml"))
    else:
        from ..council import load_council

        try:
            known = set(load_council(folder).services)
            report["services_not_in_council_yaml"] = sorted(set(demand["service"].dropna()) - known)
        except SystemicError:
            report["services_not_in_council_yaml"] = []
    if spec.rules and not (folder / "rules.csv").exists():  # the council sees, and can edit, the rules used
        write_table_atomic(rules_frame(spec.rules), folder / "rules.csv")
        written.append(str(folder / "rules.csv"))
    report["written_files"] = written
    report["output"] = str(out)
    report["rejected_file"] = str(rejected_path) if len(result["rejected"]) else None
    return report


def _pairs(values) -> dict:
    out = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"'{item}' should be COLUMN=SOURCE, e.g. contact_id=CASE_ENQUIRY_ID")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


@click.command("demand")
@click.argument("src", type=click.Path(exists=True, dir_okay=False))
@click.option("--council", "council_dir", required=True, type=click.Path(file_okay=False),
              help="Council folder to write into (created if missing).")
@click.option("--mapping", default=None, help="Ready mapping (boston311) or a mapping YAML file.")
@click.option("--map", "maps", multiple=True, metavar="COLUMN=SOURCE",
              help="Map one demand column from a source column (repeatable); wins over the mapping.")
@click.option("--date-format", default=None, help="How received_at is written, e.g. '%m/%d/%Y %I:%M:%S %p'.")
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="Output file (default DIR/demand.csv).")
@click.option("--replace", is_flag=True, help="Discard the team's decisions in the existing file (default: keep them "
              "for every contact still in the source).")
def demand_command(src, council_dir, mapping, maps, date_format, out, replace):
    """Import contact records (CSV, .csv.gz or XLSX) into a council folder as demand.csv."""
    try:
        r = import_demand(src, council_dir, mapping=mapping, columns=_pairs(maps), date_format=date_format, out=out,
                          replace=replace)
    except SystemicError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Read {r['rows_in']:,} rows from {Path(src).name}: wrote {r['written']:,} contacts to {r['output']}, "
               f"rejected {r['rejected']:,}.")
    if r["kept"] or r["removed"] or (r["added"] != r["written"]):
        click.echo(f"  Kept the team's decisions on {count_of(r['kept'], 'contact')} still in the source; added "
                   f"{r['added']:,} new, removed {r['removed']:,} no longer in it (--replace discards the team's "
                   "decisions).")
    elif r["replaced"]:
        click.echo("  Replaced the previous file and any decisions in it (kept as .prev).")
    for why, count in r["rejected_by_reason"].items():
        click.echo(f"  Rejected {count:,}: {why}.")
    if r["rejected_file"]:
        click.echo(f"  Each rejected row, with its reason: {r['rejected_file']}")
    click.echo(f"  Classified by rules: {r['classified_by_rules']:,} (value {r['value']:,}, failure {r['failure']:,}); "
               f"still unclassified: {r['unclassified']:,} (kept and counted; classify them with the classifier).")
    for key, words in (("no_received_at", "with no received time"), ("future", "dated in the future"),
                       ("no_verbatim", "with no verbatim"), ("no_service", "with no service")):
        if r[key]:
            click.echo(f"  {r[key]:,} contacts {words}: kept and counted as a data problem.")
    if r["channels_not_in_contract"]:
        click.echo(f"  Channels kept as written (not in the usual list): {', '.join(r['channels_not_in_contract'])}.")
    if r.get("services_not_in_council_yaml"):
        click.echo(f"  Services not in council.yaml: {', '.join(r['services_not_in_council_yaml'])}: add them.")
    for line in r["rule_problems"]:
        click.echo(f"  {line}")
    click.echo(f"  Wrote {', '.join(r['written_files'])}.")
