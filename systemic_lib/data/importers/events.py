"""Import a real event log (XES, plain or .gz, or CSV) into a council folder.

``systemic import events SRC --council DIR --mapping wabo_receipt`` writes ``events.csv``, ``activities.csv`` (the
activity catalogue), ``cases.csv`` (when the log records case start and end) and ``council.yaml`` (when the folder
has none, or adding the services it lacks). A mapping (YAML, ``systemic_lib/mappings/``) names the log's columns.

Times: offset-aware times are converted to the log's local zone and stored as naive local times, so a date-only
Dutch event stored as midnight +02:00 keeps its date (through UTC it would become 22:00 the day before).

Activities: a mapping may name an ``activity_code`` column beside ``activity`` (BPIC 2015: the step code beside its
English name). Each step code is then one activity (as pm4py sees the log on its codes), labelled by its most frequent
name, or ``name (code)`` where several codes share that name, so that different steps are not merged into false
rework and one step is not split in several.

Case ends: ``cases.closed_at`` from the log's end date; ``closed_when`` (a status column and values) closes a case
with no end date at its last event, ``open_when`` re-opens cases whatever their end date.

The activity catalogue is a first draft made by a stated heuristic (``CATALOGUE_RULES``: the first rule whose
pattern matches the activity name wins; checks, adjustments and corrections, chasing, waiting, hand-offs and
referrals are waste, everything else is a value step). The team should review it; activities the council already
classified in activities.csv are kept as they are.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import click
import pandas as pd
import yaml

from systemic_lib.data.files import atomic_write_text, locked, write_table_atomic
from systemic_lib.data.importers import read_mapping
from systemic_lib.data.times import local_times
from systemic_lib.errors import ImportMappingError, SystemicError

CATALOGUE_RULES: list[tuple[str, str, str]] = [
    # (pattern on the activity name, step_type, category); first match wins
    (
        r"\badjust|\bcorrect|\bredo\b|\bagain\b|\brepeat|\bre-?send|procedure change|\bchange\b|missing data|"
        r"\bsupplement|\bwithdraw|\bcancel|\babort",
        "waste",
        "rework",
    ),
    (r"\bcheck|\bverif|\bcontrol\b|\bcompleteness|\bcomplete\b|\breview|\bapprov", "waste", "check"),
    (r"\breminder|\bchas|\bfollow.?up|\bin progress|\bprogress\b|\bstatus\b", "waste", "chasing"),
    (
        r"\bsuspen|\bwait|\bextend|\bterm for|\bpostpon|\bstop\b|\bdelay|\bpending|\bon hold|\bdeadline",
        "waste",
        "waiting",
    ),
    (
        r"\bforward|\btransfer|\bhand.?over|\bhand.?off|\bdistribut|\broute\b|\bcoordinat|\binform\b|\bsubcase",
        "waste",
        "hand-off",
    ),
    (r"\badvice|\badvis|\brefer|\bstakeholder|\bconsult", "waste", "referral"),
    (r"\bdecision|\bdecide|\bgrant|\brefus|\bdecree", "value", "decision"),
    (r"\bassess|\bdetermin|\bexamin|\bevaluat|\btreat\b|\bcontent\b|\binspect", "value", "assessment"),
    (r"\breceiv|\breceipt|\bregist|\bsubmi|\bintake|\bconfirmation|\bapplication\b|\brequest\b", "value", "contact"),
    (r"\bsend\b|\bpublish|\bpublication|\bissue\b|\bdeliver|\bnotif|\bletter\b|\bpermit\b|\bpay", "value", "delivery"),
]
"""The heuristic that drafts an activity catalogue from activity names (case-insensitive, first match wins;
no match = value step, category other)."""


def classify_activities(activities, *, rules=CATALOGUE_RULES) -> pd.DataFrame:
    """Draft ``step_type`` and ``category`` for activity names by the first matching rule (no match: value, other)."""
    names = pd.Series(pd.unique(pd.Series(list(activities), dtype="str")), dtype="str")
    step = pd.Series("value", index=names.index, dtype="str")
    cat = pd.Series("other", index=names.index, dtype="str")
    open_ = pd.Series(True, index=names.index)
    for pattern, step_type, category in rules:
        hit = open_ & names.str.contains(pattern, flags=re.IGNORECASE, regex=True, na=False)
        step[hit], cat[hit] = step_type, category
        open_ &= ~hit
    return pd.DataFrame({"activity": names, "step_type": step, "category": cat})


def activity_labels(names: pd.Series, codes: pd.Series) -> tuple[pd.Series, int]:
    """One activity per step code, labelled with the code's most frequent name, or ``name (code)`` where that name
    is also another code's label.

    Logs such as BPIC 2015 give each step a code and a name. Some names are used by several codes ("send confirmation
    receipt" is four different steps): labelled by name alone, different steps would merge, so a case going through
    two of them looks like rework. And some codes carry two or three names in the log itself: labelled by name, one
    step would split into several activities and the map would not match the field's standard (pm4py on the codes).
    Ties between a code's names go to the name first in alphabetical order; a step with no name is labelled by its
    code; an event with no code keeps its name. Returns the labels and how many labels were shared (and so carry
    their code).
    """
    return _labels(names, codes)[:2]


def _labels(names: pd.Series, codes: pd.Series) -> tuple[pd.Series, int, int]:
    """``activity_labels``, and how many codes carried more than one name."""
    code = codes.astype("str").str.strip().where(codes.notna())
    name = names.astype("str").str.strip().where(names.notna() & names.astype("str").str.strip().ne(""))
    name = name.fillna(code)
    pairs = pd.DataFrame({"code": code, "name": name}).dropna()
    counts = pairs.groupby(["code", "name"], sort=False).size().rename("n").reset_index()
    named = (
        counts.sort_values(["code", "n", "name"], ascending=[True, False, True], kind="stable")
        .drop_duplicates("code")
        .set_index("code")["name"]
    )  # the most frequent name of each code
    several = int((counts.groupby("code").size() > 1).sum())
    per_name = named.groupby(named).transform("size")
    shared = per_name > 1
    label_of = named.where(~shared, named + " (" + named.index.to_series() + ")")
    label = code.map(label_of).fillna(name)
    return label, int(named[shared].nunique()), several


def load_mapping(mapping) -> dict:
    """A mapping by ready name (``wabo_receipt``, ``bpic2015``) or YAML file path."""
    return read_mapping(mapping)[1]


GENERIC_XES = {
    "columns": {
        "case_id": "case:concept:name",
        "activity": "concept:name",
        "timestamp": "time:timestamp",
        "worker": "org:resource",
        "team": "org:group",
    },
    "service": {"value": "imported-service"},
    "local_timezone": "Europe/London",
    "optional": ["worker", "team"],  #: read where the log has them (many XES logs have no org:group)
}


def read_log(src) -> pd.DataFrame:
    """Read an XES (plain or .gz) or CSV (plain or .gz) log as one row per event, in file order."""
    src = Path(src)
    if not src.exists():
        raise SystemicError(f"{src}: no such file")
    name = src.name.lower()
    if name.endswith((".xes", ".xes.gz")):
        from systemic_lib.data.importers.xes import read_xes

        return read_xes(src)
    if name.endswith((".csv", ".csv.gz")):
        return pd.read_csv(src, dtype=str, keep_default_na=False, encoding="utf-8-sig").replace("", None)
    raise SystemicError(f"{src.name}: cannot tell the format; use a .xes, .xes.gz, .csv or .csv.gz file")


def _column(log: pd.DataFrame, name: str, role: str, src: str) -> pd.Series:
    if name not in log.columns:
        near = [c for c in log.columns if name.split(":")[-1].lower() in c.lower()][:5]
        hint = f" (similar: {', '.join(near)})" if near else f" (columns: {', '.join(map(str, log.columns[:12]))})"
        raise ImportMappingError(
            f"{src}: the mapping reads {role} from column '{name}', which the log does not have"
            f"{hint}. Fix the mapping's columns."
        )
    return log[name]


def _services(log: pd.DataFrame, spec: dict, src: str) -> pd.Series:
    """The service id per event: a fixed value, or a column mapped by ordered regex rules."""
    if "value" in spec:
        return pd.Series(spec["value"], index=log.index, dtype="str")
    raw = _column(log, spec["column"], "the service", src).astype("str").fillna("")
    if spec.get("split"):
        raw = raw.str.split(spec["split"], regex=False).str[0].str.strip()
    out = pd.Series(spec.get("default", "other"), index=log.index, dtype="str")
    done = pd.Series(False, index=log.index)
    for rule in spec.get("rules", []):
        hit = ~done & raw.str.contains(rule["pattern"], flags=re.IGNORECASE, regex=True, na=False)
        out[hit] = rule["service"]
        done |= hit
    return out


def convert(log: pd.DataFrame, mapping: dict, *, src: str = "log") -> dict:
    """Map a flat log onto the contract: ``events``, ``cases`` (or None), ``activities`` and a ``report`` of counts."""
    cols = mapping.get("columns", {})
    zone = mapping.get("local_timezone", "Europe/London")
    report: dict = {"rows_read": len(log)}
    keep = pd.Series(True, index=log.index)
    filt = mapping.get("keep")
    if filt:
        keep = (
            _column(log, filt["column"], "the event filter", src)
            .astype("str")
            .str.lower()
            .isin([str(v).lower() for v in filt["values"]])
        )
        report["left_out"] = {f"{filt['column']} not in {filt['values']}": int((~keep).sum())}
    log = log[keep]
    events = pd.DataFrame(index=log.index)
    optional = set(mapping.get("optional", ()))
    for role in ("case_id", "activity", "timestamp", "start", "worker", "team", "hours", "face_to_face"):
        if role in optional and cols.get(role) not in log.columns:
            continue
        if role in cols:
            events[role] = _column(log, cols[role], role, src)
        elif role in ("case_id", "activity", "timestamp"):
            raise ImportMappingError(f"the mapping names no column for {role}; add columns: {{{role}: <column>}}")
    if "activity_code" in cols:
        events["activity"], report["activity_names_shared"], report["activity_codes_renamed"] = _labels(
            events["activity"], _column(log, cols["activity_code"], "activity_code", src)
        )
    events.insert(1, "service", _services(log, mapping.get("service", {"value": "imported-service"}), src))
    zoned = 0
    for col in ("timestamp", "start"):
        if col in events:
            events[col], z = local_times(events[col], zone)
            zoned += z
    report["times_converted_to_local"] = zoned
    report["zone"] = zone
    for col in ("case_id", "activity", "worker", "team"):
        if col in events:
            events[col] = events[col].astype("str").where(events[col].notna())
    events = events.reset_index(drop=True)
    report["events"] = len(events)
    report["no_case_id"] = int(events["case_id"].isna().sum())
    report["no_timestamp"] = int(events["timestamp"].isna().sum())
    report["cases"] = int(events["case_id"].nunique())

    cases = None
    cspec = mapping.get("cases")
    if cspec:
        first = log.groupby(_column(log, cols["case_id"], "case_id", src).astype("str"), sort=False).head(1)
        cases = pd.DataFrame({"case_id": first[cols["case_id"]].astype("str").to_numpy()})
        svc = events.loc[events["case_id"].notna()].drop_duplicates("case_id").set_index("case_id")["service"]
        cases["service"] = svc.reindex(cases["case_id"]).to_numpy()
        ev_first = events.groupby("case_id")["timestamp"].agg(["min", "max"])
        for role in ("opened_at", "closed_at"):
            if role in cspec:
                cases[role] = local_times(_column(first, cspec[role], role, src).reset_index(drop=True), zone)[
                    0
                ].to_numpy()
        opened = (
            cases["opened_at"] if "opened_at" in cases else pd.Series(pd.NaT, index=cases.index, dtype="datetime64[ns]")
        )
        report["opened_from_first_event"] = int(opened.isna().sum())  # no start recorded: the first event's time
        cases["opened_at"] = opened.fillna(
            pd.Series(ev_first["min"].reindex(cases["case_id"]).to_numpy(), index=cases.index)
        )
        if "open_when" in cspec:
            ow = cspec["open_when"]
            is_open = _column(first, ow["column"], "open cases", src).astype("str").isin([str(v) for v in ow["values"]])
            cases.loc[is_open.to_numpy(), "closed_at"] = pd.NaT
        if "closed_when" in cspec:  # a status saying closed, with no end date: it ended at its last event
            cw = cspec["closed_when"]
            is_closed = (
                _column(first, cw["column"], "closed cases", src)
                .astype("str")
                .isin([str(v) for v in cw["values"]])
                .to_numpy()
            )
            if "closed_at" not in cases:
                cases["closed_at"] = pd.Series(pd.NaT, index=cases.index, dtype="datetime64[ns]")
            no_end = is_closed & cases["closed_at"].isna().to_numpy()
            last = pd.Series(ev_first["max"].reindex(cases["case_id"]).to_numpy(), index=cases.index)
            cases.loc[no_end, "closed_at"] = last[no_end]
            report["closed_at_last_event"] = int(no_end.sum())
        for extra in cspec.get("keep", []):  # case attributes worth keeping (channel, parts, ...)
            cases[extra.split(":")[-1]] = _column(first, extra, extra, src).to_numpy()
        report["open_cases"] = int(cases["closed_at"].isna().sum()) if "closed_at" in cases else None

    report["closes_case"] = len(closes_case(mapping, events))
    acts = events[["service", "activity"]].dropna().drop_duplicates().reset_index(drop=True)
    drafted = classify_activities(acts["activity"], rules=_rules(mapping))
    activities = acts.merge(drafted, on="activity", how="left")
    activities = activities.sort_values(["service", "activity"], ignore_index=True)
    report["activities"] = len(activities)
    report["waste_activities"] = int(activities["step_type"].eq("waste").sum())
    return {"events": events, "cases": cases, "activities": activities, "report": report}


def closes_case(mapping: dict, events: pd.DataFrame) -> list[str]:
    """The mapping's ``closes_case`` activities (a case not in cases.csv ends at its last such step; written to
    council.yaml per service). An activity the log does not have is an error naming the mapping and the key."""
    names = mapping.get("closes_case") or []
    names = [names] if isinstance(names, str) else list(names)
    have = set(events["activity"].dropna().astype(str))
    wrong = [str(a) for a in names if str(a) not in have]
    if wrong:
        some = ", ".join(repr(a) for a in sorted(have)[:5])
        raise ImportMappingError(
            f"mapping {mapping.get('name', 'given')}: closes_case names activity "
            f"{', '.join(repr(a) for a in wrong)}, which the log does not have (its activities "
            f"include {some}). Write each as the imported events.csv names it."
        )
    return [str(a) for a in names]


def _rules(mapping: dict):
    extra = [(r["pattern"], r["step_type"], r["category"]) for r in mapping.get("catalogue_rules", [])]
    return extra + CATALOGUE_RULES


def write_council(result: dict, council_dir, mapping: dict, *, source: str, council_name: str | None = None) -> dict:
    """Write the converted tables into a council folder; keep the council's own catalogue choices and services."""
    folder = Path(council_dir)
    folder.mkdir(parents=True, exist_ok=True)
    events = result["events"]
    write_table_atomic(events, folder / "events.csv")
    written = ["events.csv"]
    if result["cases"] is not None:
        write_table_atomic(result["cases"], folder / "cases.csv")
        written.append("cases.csv")
    acts = result["activities"]
    old_path = folder / "activities.csv"
    with locked(old_path):  # read-modify-write of the team's catalogue: a save meanwhile is not lost
        if old_path.exists():  # the team's own classification wins
            old = pd.read_csv(old_path, dtype=str, keep_default_na=False)
            if {"service", "activity"} <= set(old.columns):
                acts = pd.concat([old, acts], ignore_index=True).drop_duplicates(["service", "activity"], keep="first")
        write_table_atomic(acts, old_path)
    written.append("activities.csv")
    yaml_path = folder / "council.yaml"
    spec = yaml.safe_load(yaml_path.read_text(encoding="utf-8")) if yaml_path.exists() else None
    spec = spec or {"name": council_name or mapping.get("council", {}).get("name", folder.name), "services": []}
    have = {s.get("id") for s in spec.get("services", [])}
    declared = {s["id"]: s for s in mapping.get("services", [])}
    for sid in sorted(events["service"].dropna().unique()):
        if sid not in have:
            spec.setdefault("services", []).append(
                declared.get(
                    sid,
                    {
                        "id": sid,
                        "name": sid.replace("-", " ").capitalize(),
                        "purpose": "State the purpose of this service in the citizen's terms",
                        "measures": [{"id": "end_to_end_days", "direction": "decrease"}],
                    },
                )
            )
    closing = closes_case(mapping, events)
    if closing:  # the council's own choice, where council.yaml already has one, wins
        imported = set(events["service"].dropna())
        for svc in spec.get("services", []):
            if svc.get("id") in imported and not svc.get("closes_case"):
                svc["closes_case"] = list(closing)
    spec.setdefault("imports", {})["events"] = {
        "source": source,
        "mapping": mapping.get("name", "custom"),
        "imported": dt.date.today().isoformat(),
        **{k: v for k, v in result["report"].items() if isinstance(v, (int, str)) or v is None},
    }
    atomic_write_text(
        yaml_path,
        "# Written by systemic import events; edit names and purposes freely.\n"
        + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True),
        keep_previous=True,
    )
    written.append("council.yaml")
    return {"folder": str(folder), "written": written}


def import_events(src, council_dir, *, mapping="wabo_receipt", council_name: str | None = None) -> dict:
    """Read a log, convert it with the mapping and write the council folder; returns the counts."""
    spec = load_mapping(mapping)
    log = read_log(src)
    result = convert(log, spec, src=Path(src).name)
    out = write_council(result, council_dir, spec, source=Path(src).name, council_name=council_name)
    return {**result["report"], **out}


@click.command("events")
@click.argument("src", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--council",
    "council_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Council folder to write into (created if missing).",
)
@click.option(
    "--mapping",
    default=None,
    help="Ready mapping (wabo_receipt, bpic2015) or a YAML file; "
    "default: wabo_receipt for the receipt log, bpic2015 for BPIC15_*, else standard XES names.",
)
@click.option("--name", "council_name", default=None, help="Council name for a new council.yaml.")
def events_command(src, council_dir, mapping, council_name):
    """Import an event log (XES, .xes.gz or CSV) into a council folder as events, cases and an activity catalogue."""
    if mapping is None:
        low = Path(src).name.lower()
        mapping = "wabo_receipt" if "receipt" in low else "bpic2015" if "bpic15" in low else GENERIC_XES
    try:
        r = import_events(src, council_dir, mapping=mapping, council_name=council_name)
    except SystemicError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Imported {r['events']:,} events of {r['cases']:,} cases from {Path(src).name} into {r['folder']}.")
    for what, n in (r.get("left_out") or {}).items():
        if n:
            click.echo(f"  Left out {n:,} events ({what}).")
    if r["times_converted_to_local"]:
        click.echo(
            f"  {r['times_converted_to_local']:,} times carried a time zone: converted to local time ({r['zone']})."
        )
    for key, words in (("no_case_id", "with no case id"), ("no_timestamp", "with no time")):
        if r[key]:
            click.echo(f"  {r[key]:,} events {words}: kept; the flow report counts and sets them aside.")
    if r.get("activity_names_shared"):
        click.echo(
            f"  {r['activity_names_shared']:,} activity names are used by several activity codes: each of "
            "those steps is labelled 'name (code)' so that different steps are not merged."
        )
    if r.get("activity_codes_renamed"):
        click.echo(
            f"  {r['activity_codes_renamed']:,} activity codes carry several names in the log: each is one "
            "activity, labelled with its most frequent name."
        )
    if r.get("closed_at_last_event"):
        click.echo(
            f"  cases.csv: {r['closed_at_last_event']:,} cases marked closed but with no end date: closed at "
            "their last event."
        )
    if r.get("open_cases") is not None:
        click.echo(f"  cases.csv: {r['open_cases']:,} cases still open (no end).")
    click.echo(
        f"  activities.csv: {r['activities']:,} activities, {r['waste_activities']:,} drafted as waste by the "
        "name heuristic - review them with the team."
    )
    click.echo(f"  Wrote {', '.join(r['written'])}.")
