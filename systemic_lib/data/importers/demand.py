"""Import real contact records (a 311 extract, a CRM export) into a council folder as ``demand.csv``.

``systemic import demand SRC --council DIR [--mapping boston311|FILE.yaml] [--map COLUMN=SOURCE ...] [--out FILE]``

A mapping says which source column feeds each demand column, how dates are written, how source values become service
ids and channels, which rows are not citizens' demand (rejected with a reason), which extra columns to keep, and
rules that classify contacts as value or failure. It comes from a ready mapping (``systemic_lib/mappings/``), a
YAML file, the council's ``council.yaml`` (``imports: {demand: {...}}``) or ``--map`` options, later ones winning.

Nothing is dropped silently: rows in = rows written + rows rejected, and every rejected row is written to
``<out stem>.rejected.csv`` beside the output with its source row and a ``reason``. Writes are atomic and keep the
previous version. A council folder with no ``council.yaml`` gets one listing the services found in the data.
The mapping vocabulary, dates and time zones, rejections and the summary are shared with ``import cases``
(``importers/common.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import click
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from systemic_lib.data.classify import apply_rules, rules_frame
from systemic_lib.data.contract import CHANNELS, TABLES, normalise_category, read_table
from systemic_lib.data.files import write_table_atomic
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
    slug,
    source_column,
    write_imported,
)
from systemic_lib.errors import SystemicError
from systemic_lib.words import count as counted

DEMAND_COLUMNS = TABLES["demand"].column_names
CLASSIFIED_BY = "classified_by"

__all__ = [
    "DemandMapping",
    "load_mapping",
    "read_source",
    "convert",
    "import_demand",
    "demand_command",
    "slug",
    "keep_decisions",
    "DECISIONS",
]

#: The measures a council.yaml written from contacts gives each service.
MEASURES = ({"id": "failure_demand_pct", "direction": "decrease"}, {"id": "weekly_demand", "direction": "neutral"})
#: What the team decides about a contact: a re-import keeps these for every contact still in the source.
DECISIONS = ("classification", "failure_type", "what_matters", CLASSIFIED_BY)


class ChannelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    values: dict[str, str] = Field(default_factory=dict)  #: source value -> contract channel


class DemandMapping(TableMapping):
    """A column mapping for ``systemic import demand`` (see systemic_lib/mappings/boston311.yaml)."""

    TABLE: ClassVar[str] = "demand"
    REQUIRED: ClassVar[tuple[str, ...]] = ("contact_id", "received_at")
    READY: ClassVar[str] = "boston311"
    channel: ChannelSpec = Field(default_factory=ChannelSpec)
    rules: list[dict] = Field(default_factory=list)


def load_mapping(
    mapping=None, *, council_dir=None, columns: dict | None = None, date_format: str | None = None
) -> DemandMapping:
    """The mapping to use: the council's ``imports: demand`` entry, then ``mapping`` (a ready name, a YAML path or a
    dict), then ``columns`` / ``date_format`` from the command line; later ones win."""
    return layered_mapping(DemandMapping, mapping, council_dir=council_dir, columns=columns, date_format=date_format)


def convert(raw: pd.DataFrame, mapping: DemandMapping, *, src: str = "source", today=None) -> dict:
    """Map source rows onto the demand table. Returns ``demand``, ``rejected`` (source rows + ``source_row`` +
    ``reason``), ``service_names`` (id -> source name) and ``report`` (counts; rows_in = written + rejected)."""
    cols = mapping.columns
    why = Rejections(raw)
    why.mapping_rules(mapping.reject, src)
    ids = source_column(raw, cols["contact_id"], "contact_id", src)
    why.blank_ids(ids, cols["contact_id"], "no contact id", "contact")
    when_text = source_column(raw, cols["received_at"], "received_at", src)
    when, zoned = parse_dates(
        when_text, mapping.date_format, local_timezone=mapping.local_timezone, source_timezone=mapping.source_timezone
    )
    why.unreadable_dates(when, when_text, cols["received_at"], "received time cannot be read", mapping.date_format)
    why.repeated_ids(ids, cols["contact_id"], "contact id repeated")

    keep = why.alive.to_numpy()
    rows = raw[keep]
    demand = pd.DataFrame(index=rows.index)
    demand["contact_id"] = ids[keep]
    services, names = services_of(rows, mapping, src)
    demand["service"] = services
    demand["received_at"] = when[keep]
    if "channel" in cols:
        chan_text = source_column(rows, cols["channel"], "channel", src)
        mapped = chan_text.map(mapping.channel.values).astype(object)
        demand["channel"] = mapped.where(
            mapped.notna(), normalise_category(chan_text, TABLES["demand"].column("channel"))
        ).replace("", np.nan)
    for col in ("verbatim", "demand_type", "classification", "failure_type", "what_matters", "one_stop", "case_id"):
        if col in cols:
            demand[col] = source_column(rows, cols[col], col, src).replace("", np.nan)
    for col in ("classification", "failure_type"):
        if col in demand:
            norm = normalise_category(demand[col].fillna(""), TABLES["demand"].column(col))
            demand[col] = norm.where(norm.isin(TABLES["demand"].column(col).values))
    for col in DEMAND_COLUMNS:
        if col not in demand:
            demand[col] = np.nan
    demand = kept_columns(demand[DEMAND_COLUMNS], rows, mapping, src).reset_index(drop=True)
    for col in ("classification", "failure_type"):
        demand[col] = demand[col].astype("str")

    report = {
        "rows_in": len(raw),
        "written": len(demand),
        "rejected": int((~keep).sum()),
        "rejected_by_reason": why.counts(),
        "times_converted_to_local": zoned,
        "no_received_at": int(demand["received_at"].isna().sum()),
        "future": int(
            (demand["received_at"] >= (today or pd.Timestamp.now().normalize() + pd.Timedelta(days=1))).sum()
        ),
        "no_verbatim": int(demand["verbatim"].isna().sum()),
        "no_service": int(demand["service"].isna().sum()),
        "channels_not_in_contract": sorted(set(demand["channel"].dropna()) - set(CHANNELS)),
    }
    return {
        "demand": demand,
        "rejected": why.frame(),
        "service_names": service_names(services, names),
        "report": report,
    }


def classify_imported(demand: pd.DataFrame, mapping: DemandMapping, council_dir) -> tuple[pd.DataFrame, list]:
    """Classify the unclassified contacts: the council's own rules.csv first, then the mapping's rules."""
    results = []
    council_rules = Path(council_dir) / "rules.csv"
    if council_rules.exists():
        table = read_table(council_rules, "rules")
        if table.errors:
            raise SystemicError(
                "rules.csv has errors, fix them before importing:\n" + "\n".join(p.describe() for p in table.errors)
            )
        r = apply_rules(demand, table.frame, file="rules.csv", mark=CLASSIFIED_BY)
        demand = r.frame
        results.append(r)
    if mapping.rules:
        r = apply_rules(demand, mapping.rules, file=f"mapping {mapping.name} (rules)", first_row=1, mark=CLASSIFIED_BY)
        demand = r.frame
        results.append(r)
    return demand, results


def keep_decisions(demand: pd.DataFrame, previous: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """``demand`` with the team's decisions from ``previous`` (the file being replaced, as text) carried over.

    For each contact still in ``demand``, a previous row the team decided (a classification, failure type or what
    matters not set by a rule) keeps those cells and ``classified_by``; columns the team added (notes) are carried
    for every contact still present. Returns the frame and counts: ``kept`` (contacts whose decisions were kept),
    ``added`` (contacts new in the source) and ``removed`` (contacts no longer in it).
    """
    if "contact_id" not in previous.columns:
        raise SystemicError(
            "the demand file being replaced has no contact_id column, so the team's decisions "
            "cannot be matched: fix it, or import with --replace to discard them"
        )
    prev = previous.assign(contact_id=previous["contact_id"].astype(str).str.strip())
    prev = prev[prev["contact_id"].ne("")].drop_duplicates("contact_id").set_index("contact_id")
    ids = demand["contact_id"].astype(str).str.strip()
    present = ids.isin(prev.index)
    by_rule = (
        prev[CLASSIFIED_BY].astype(str).str.strip().str.lower().str.startswith("rule")
        if CLASSIFIED_BY in prev.columns
        else pd.Series(False, index=prev.index)
    )
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
    counts = {
        "kept": int(_differs(out, demand, team).sum()),
        "added": int((~present).sum()),
        "removed": int((~prev.index.isin(set(ids))).sum()),
    }
    return out, counts


def _differs(kept: pd.DataFrame, source: pd.DataFrame, team: pd.Series) -> np.ndarray:
    """Of the contacts whose decisions were carried over (``team``), those where a carried decision says something
    the new source does not: the team's decisions kept, not the source's own values counted again."""
    out = np.zeros(len(kept), dtype=bool)
    for col in [c for c in DECISIONS[:3] if c in kept.columns]:
        was = kept[col].astype(object).where(kept[col].notna(), "").astype(str).str.strip().to_numpy()
        now = (
            source[col].astype(object).where(source[col].notna(), "").astype(str).str.strip().to_numpy()
            if col in source.columns
            else np.full(len(kept), "")
        )
        out |= was != now
    return out & team.to_numpy(dtype=bool)


def import_demand(
    src,
    council_dir,
    *,
    mapping=None,
    columns: dict | None = None,
    date_format: str | None = None,
    out=None,
    today=None,
    replace: bool = False,
) -> dict:
    """Import ``src`` into ``council_dir`` (``demand.csv`` unless ``out``); returns the counts and files written.

    Re-importing over an existing file keeps the team's decisions for contacts still in the source (see
    ``keep_decisions``) unless ``replace``; the whole read-merge-write holds the file's lock, as a classifier save
    does, so neither loses the other's work."""
    folder = Path(council_dir)
    spec = load_mapping(mapping, council_dir=folder, columns=columns, date_format=date_format)
    raw = read_source(src, sheet=spec.sheet)
    result = convert(raw, spec, src=Path(src).name, today=today)
    folder.mkdir(parents=True, exist_ok=True)
    report = result["report"]
    report.update(_workshop_first(folder, replace=replace, written_to=out))

    def classify(frame):
        frame, rule_results = classify_imported(frame, spec, folder)
        report["classified_by_rules"] = sum(r.classified for r in rule_results)
        report["value"] = int(frame["classification"].eq("value").sum())
        report["failure"] = int(frame["classification"].eq("failure").sum())
        report["unclassified"] = int(frame["classification"].isna().sum())
        report["rule_problems"] = [p.describe() for r in rule_results for p in r.problems]
        return frame

    demand, written = write_imported(
        Path(out) if out else folder / "demand.csv",
        result["demand"],
        result,
        table="demand",
        id_column="contact_id",
        replace=replace,
        merge=keep_decisions,
        finish=classify,
    )
    if not (folder / "council.yaml").exists():
        written.append(
            str(
                council_yaml(
                    folder, spec, demand["service"], result["service_names"], Path(src).name, "demand", MEASURES
                )
            )
        )
    else:
        known = council_services(folder)
        report["services_not_in_council_yaml"] = sorted(set(demand["service"].dropna()) - set(known)) if known else []
    if spec.rules and not (folder / "rules.csv").exists():  # the council sees, and can edit, the rules used
        write_table_atomic(rules_frame(spec.rules), folder / "rules.csv")
        written.append(str(folder / "rules.csv"))
    report["written_files"] = written
    return report


def _workshop_first(folder: Path, *, replace: bool, written_to) -> dict:
    """The demand workshop's decisions before a re-import: written into the demand file first (so the re-import
    keeps them like any decision of the team), or with ``replace`` taken back (the file's decisions are discarded,
    so the workshop offers those contacts again instead of counting them decided). Counts for the summary."""
    from systemic_lib.data.decisions import DecisionStore, fold_council, store_path

    if written_to is not None or not store_path(folder).exists() or not (folder / "demand.csv").exists():
        return {}
    if replace:
        store = DecisionStore(folder)
        try:
            return {"workshop_discarded": store.discard_all()}
        finally:
            store.close()
    return {"workshop_folded": fold_council(folder)}


@click.command("demand")
@click.argument("src", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--council",
    "council_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Council folder to write into (created if missing).",
)
@click.option("--mapping", default=None, help="Ready mapping (boston311) or a mapping YAML file.")
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="COLUMN=SOURCE",
    help="Map one demand column from a source column (repeatable); wins over the mapping.",
)
@click.option("--date-format", default=None, help="How received_at is written, e.g. '%m/%d/%Y %I:%M:%S %p'.")
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="Output file (default DIR/demand.csv).")
@click.option(
    "--replace",
    is_flag=True,
    help="Discard the team's decisions in the existing file (default: keep them "
    "for every contact still in the source).",
)
def demand_command(src, council_dir, mapping, maps, date_format, out, replace):
    """Import contact records (CSV, .csv.gz or XLSX) into a council folder as demand.csv."""
    r = run_import(
        import_demand,
        src,
        council_dir,
        maps=maps,
        noun="contact",
        kept_words="decisions",
        mapping=mapping,
        date_format=date_format,
        out=out,
        replace=replace,
    )
    click.echo(
        f"  Classified by rules: {r['classified_by_rules']:,} (value {r['value']:,}, failure {r['failure']:,}); "
        f"still unclassified: {r['unclassified']:,} (kept and counted; classify them with the classifier)."
    )
    for key, words in (
        ("no_received_at", "with no received time"),
        ("future", "dated in the future"),
        ("no_verbatim", "with no verbatim"),
        ("no_service", "with no service"),
    ):
        if r[key]:
            click.echo(f"  {r[key]:,} contacts {words}: kept and counted as a data problem.")
    if r["channels_not_in_contract"]:
        click.echo(f"  Channels kept as written (not in the usual list): {', '.join(r['channels_not_in_contract'])}.")
    for line in r["rule_problems"]:
        click.echo(f"  {line}")
    if r.get("workshop_folded"):
        click.echo(
            f"  The demand workshop's {counted(r['workshop_folded'], 'decision')} not yet in the file were "
            "written into it first, and kept."
        )
    if r.get("workshop_discarded"):
        click.echo(
            f"  The demand workshop's decisions on {counted(r['workshop_discarded'], 'contact')} were taken "
            "back (--replace): the workshop offers those contacts again."
        )
    echo_files(r)
