"""Index pages for the reports folder, rebuilt from whatever reports are on disk.

``reports/index.html`` lists every council (services, headline figures, links; councils the last batch skipped
with their problems) and ``reports/<council>/index.html`` is a services x stages grid whose cells link to the
reports and show each stage's headline figure from its ``<stage>.json``; it links ``reports/<council>/measures.html``,
every service's measures on one page (``measures.py``, from each ``measure.json``). Because the pages are rebuilt
from the files, a batch for one council keeps every other council on the top index. With two or more councils, the
top index ends with the councils compared (``compare.py``): the services they share, side by side, never ranked.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from systemic_lib import config, words
from systemic_lib.analysis import rebase
from systemic_lib.config import STAGE_NAMES
from systemic_lib.data.files import atomic_write_text
from systemic_lib.site.compare import Entry, compare_councils
from systemic_lib.site.manifest import describe_error, load_manifest
from systemic_lib.site.measures import GROUPS, measures_page

# ------------------------------------------------------------------------------------------ headline figures


def _num(value):
    """A finite number from JSON, or None (strings, booleans, NaN and missing keys give None)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def _first(data: dict, *keys):
    for key in keys:
        value = _num(data.get(key))
        if value is not None:
            return value
    return None


def _items(value) -> list[dict]:
    """Per-measure entries whether the JSON holds them as a list or keyed by measure id."""
    items = list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else []
    return [m for m in items if isinstance(m, dict)]


_SIGNAL_WORDS = {"improvement": "improving", "concern": "getting worse", "neutral": "unusual"}


def _measure_figures(data: dict) -> list[str]:
    items = _items(data.get("measures"))
    if not items:
        return []
    quiet = {"", "none", "common cause", "common", "no signal"}
    signals: dict[str, int] = {}
    for m in items:
        signal = str(m.get("last_point_signal") or "").replace("_", " ").strip().lower()
        if signal not in quiet:
            word = _SIGNAL_WORDS.get(signal, signal)
            signals[word] = signals.get(word, 0) + 1
    out = [words.count(len(items), "measure")]
    if signals:
        out.append(
            "latest point " + ", ".join(f"{name} on {words.count(n, 'measure')}" for name, n in sorted(signals.items()))
        )
    else:
        out.append("no special cause at the latest point")
    return out


def _experiment_figures(data: dict) -> list[str]:
    exp, base = _first(data, "experiment_cases"), _first(data, "baseline_cases")
    if data.get("has_experiment") is False or (not exp and not base):
        return ["no experiment"]
    built = data.get("new_service")
    if data.get("design") == "new service" and isinstance(built, dict):  # no old system: what it built, and now
        within = _num((built.get("end_to_end_per_case") or {}).get("predictably_within_days"))
        return [
            "new service built by experiment",
            words.count(_num(built.get("cases")) or 0, "case")
            + f" ({words.number(_num(built.get('open_cases')) or 0)} still open)",
            *([f"now predictably within {words.duration(within)}"] if within is not None else []),
        ]
    out = []
    if exp is not None:
        out.append(words.count(exp, "experiment case") + (f" vs {base:,.0f} baseline" if base is not None else ""))
    for m in _items(data.get("measures")):  # every change shown, each with its interval and reading
        if not m.get("name"):
            continue
        change = _num(m.get("change_pct")) if m.get("interval_unit") != "points" else _num(m.get("change_points"))
        opened = _open_words(m)
        if change is not None:
            unit = " points" if m.get("interval_unit") == "points" else "%"
            out.append(f"{m['name']}: {words.signed(change)}{unit}" + _reading(m) + opened)
        elif isinstance(m.get("at_least"), dict) and m["at_least"]:  # a median not reached: no change to show
            more = "; ".join(f"{k} more than {words.duration(v)}" for k, v in m["at_least"].items() if _num(v))
            out.append(f"{m['name']}: {more}" + opened)
    if data.get("mix_differs"):
        out.append("demand mix differs between cohorts, unlikely to be chance (tested at the 5% level)")
    return out


def _open_words(m: dict) -> str:
    """' (178 baseline and 24 experiment cases still open)' beside end-to-end time; '' for other measures."""
    base, exp = _num(m.get("open_baseline")), _num(m.get("open_experiment"))
    if base is None and exp is None:
        return ""
    return f" ({words.number(base or 0)} baseline and {words.number(exp or 0)} experiment cases still open)"


def end_to_end_words(median, at_least=None, open_cases=None) -> str | None:
    """'28 days (12 still open)', 'more than 30 days (40 still open)' where the Kaplan–Meier median is not reached, or None."""
    median, at_least, open_cases = _num(median), _num(at_least), _num(open_cases)
    if median is not None:
        text = words.duration(median)
    elif at_least is not None:
        text = f"more than {words.duration(at_least)}"
    else:
        return None
    return text + (f" ({words.number(open_cases)} still open)" if open_cases is not None else "")


def _flow_end_to_end(data: dict) -> str | None:
    """The flow report's Kaplan–Meier median end to end, with its open cases beside it."""
    got = data.get("end_to_end")
    e2e: dict = got if isinstance(got, dict) else {}
    return end_to_end_words(
        _first(data, "median_days", "median_end_to_end_days"), _first(e2e, "median_at_least"), _first(e2e, "open_cases")
    )


def _reading(m: dict) -> str:
    """' (interval -80% to -40%: clear improvement)' beside a change: whether it could be noise."""
    interval = m.get("interval")
    reading = m.get("reading")
    unit = " points" if m.get("interval_unit") == "points" else "%"
    if isinstance(interval, list) and len(interval) == 2 and all(_num(v) is not None for v in interval):
        span = f"interval {words.signed(interval[0])}{unit} to {words.signed(interval[1])}{unit}"
        return f" ({span}: {reading})" if reading else f" ({span})"
    return f" ({reading})" if reading else ""


def headline_figures(stage: str, data) -> list[str]:
    """Short texts for an index cell from a stage's JSON; tolerant of missing keys and of other shapes."""
    if not isinstance(data, dict):
        return []
    out: list[str] = []
    if stage == "demand":
        contacts = _first(data, "contacts")
        pct = _first(data, "failure_pct", "failure_demand_pct")
        if contacts is not None:
            out.append(words.count(contacts, "contact"))
        if pct is not None:
            out.append(f"{words.percent(pct)} failure demand")
    elif stage == "flow":
        days = _flow_end_to_end(data)
        cases = _first(data, "cases")
        if days is not None:
            out.append(f"median {days} end to end")
        if cases is not None:
            out.append(words.count(cases, "case"))
    elif stage == "experiment":
        out = _experiment_figures(data)
    elif stage == "measure":
        out = _measure_figures(data)
    elif stage == "organisation_scan":
        services = data.get("services")
        count = len(services) if isinstance(services, list) else _first(data, "services")
        if count is not None:
            out.append(words.count(count, "service"))
    if not out and isinstance(data.get("headline"), str):
        out.append(data["headline"][:200])
    return out


# ------------------------------------------------------------------------------------------ what is on disk

_COMPARED = ("demand", "flow", "measure")  #: the stage JSONs the councils compared are read from


@dataclass
class Cell:
    """One stage of one service (or the organisation scan) as the index shows it."""

    stage: str
    status: str = "missing"  #: ok, failed, skipped or missing
    href: str | None = None  #: the report, relative to the page showing the cell
    notebook_href: str | None = None  #: the executed notebook of a failed run
    previous_href: str | None = None  #: an older report still on disk beside a newer failure
    figures: list[str] = field(default_factory=list)
    detail: list[str] = field(default_factory=list)  #: error or skip reason, from the manifest

    @property
    def stage_name(self) -> str:
        return STAGE_NAMES.get(self.stage, self.stage)


@dataclass
class ServiceRow:
    id: str
    name: str
    cells: list[Cell]
    figures: dict = field(default_factory=dict)  #: contacts, value, failure, failure_pct, median_days
    data: dict = field(default_factory=dict)  #: stage -> its JSON, for the councils compared (demand, flow, measure)


@dataclass
class CouncilPage:
    slug: str
    name: str
    services: list[ServiceRow] = field(default_factory=list)
    scan: Cell | None = None
    skipped: dict | None = None  #: the manifest's error of a council the last batch skipped
    where_to_start: str | None = None  #: the organisation scan's sentence on where to start
    measures_href: str | None = None  #: every service's measures on one page (``measures.py``), once written

    @property
    def href(self) -> str:
        return f"{quote(self.slug)}/index.html"

    @property
    def has_reports(self) -> bool:
        cells = [c for s in self.services for c in s.cells] + ([self.scan] if self.scan else [])
        return any(c.status in ("ok", "failed") for c in cells)

    def count(self, status: str) -> int:
        cells = [c for s in self.services for c in s.cells] + ([self.scan] if self.scan else [])
        return sum(1 for c in cells if c.status == status)

    def totals(self) -> dict:
        """Council-wide contacts and failure % (from value and failure counts) over services with demand figures,
        and ``failure_words``: the % said with what it covers ("49% failure demand across the 4 services below
        (14,152 of 28,701 classified contacts)"). Councils run different sets of services, so a council-wide % is
        never set beside another council's without saying which services it covers."""
        rows = [s.figures for s in self.services]
        contacts = [r["contacts"] for r in rows if r.get("contacts") is not None]
        value = [r["value"] for r in rows if r.get("value") is not None]
        failure = [r["failure"] for r in rows if r.get("failure") is not None]
        classified = sum(value) + sum(failure)
        pct = 100 * sum(failure) / classified if failure and value and classified else None
        covered = sum(1 for r in rows if r.get("failure") is not None and r.get("value") is not None)
        return {
            "contacts": sum(contacts) if contacts else None,
            "failure_pct": pct,
            "failure_words": None
            if pct is None
            else (
                f"{words.percent(pct)} failure demand across "
                + ("the service below" if covered == 1 else f"the {covered} services below")
                + f" ({words.number(sum(failure))} of {words.count(classified, 'classified contact')})"
            ),
        }


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _cell(folder: Path, stage: str, prefix: str, entry: dict | None) -> tuple[Cell, dict | None]:
    """The cell for ``folder/<stage>.*`` with links relative to the page (``prefix`` = path from page to folder)."""

    html, nb, js = (folder / f"{stage}{s}" for s in (".html", ".ipynb", ".json"))
    cell = Cell(stage)
    data = _read_json(js) if js.exists() else None
    if nb.exists() and (not html.exists() or nb.stat().st_mtime >= html.stat().st_mtime):
        cell.status = "failed"
        cell.notebook_href = prefix + quote(nb.name)
        if html.exists():
            cell.previous_href = prefix + quote(html.name)
        if entry and entry.get("status") == "failed":
            cell.detail = describe_error(entry.get("error"))[:2]
        return cell, None
    if html.exists():
        cell.status = "ok"
        cell.href = prefix + quote(html.name)
        cell.figures = headline_figures(stage, data)
        return cell, data if isinstance(data, dict) else None
    if entry and entry.get("status") == "skipped":
        cell.status = "skipped"
        cell.detail = describe_error(entry.get("error"))[:1]
    return cell, None


def scan_reports(out_dir) -> list[CouncilPage]:
    """Every council with reports (or a skip) in the reports folder, read from disk and the manifest."""

    out_dir = Path(out_dir)
    entries = {}
    for e in load_manifest(out_dir).get("jobs", []):
        if isinstance(e, dict) and e.get("council"):
            entries[(e.get("council"), e.get("service"), e.get("stage"))] = e
    slugs = (
        {p.name for p in out_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
        if out_dir.is_dir()
        else set()
    )
    slugs |= {k[0] for k in entries}
    pages = []
    for slug in sorted(slugs):
        folder = out_dir / slug
        names = [e.get("council_name") for k, e in entries.items() if k[0] == slug and e.get("council_name")]
        page = CouncilPage(slug, str(names[0]) if names else slug)
        council_level = entries.get((slug, None, None))
        if council_level and council_level.get("status") == "skipped":
            page.skipped = council_level.get("error") or {}
        if folder.is_dir():
            page.scan, scan_data = _cell(
                folder, config.COUNCIL_STAGE, "", entries.get((slug, None, config.COUNCIL_STAGE))
            )
            order: list[str] = []
            if isinstance(scan_data, dict):
                if scan_data.get("council"):
                    page.name = str(scan_data["council"])
                where = scan_data.get("where_to_start")
                if isinstance(where, dict) and isinstance(where.get("sentence"), str):
                    page.where_to_start = where["sentence"]
                elif isinstance(where, str):  # organisation_scan.json before where_to_start was evidence
                    page.where_to_start = where
                order = [str(s["service"]) for s in _items(scan_data.get("services")) if s.get("service")]
            service_ids = {p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
            service_ids |= {k[1] for k in entries if k[0] == slug and k[1]}
            # council.yaml order, as the organisation scan lists the services; any others after, by id
            rank = {sid: i for i, sid in enumerate(order)}
            for sid in sorted(service_ids, key=lambda sid: (rank.get(sid, len(rank)), sid)):
                row = ServiceRow(sid, sid, [])
                for stage in config.STAGES:
                    cell, data = _cell(folder / sid, stage, f"{quote(sid)}/", entries.get((slug, sid, stage)))
                    row.cells.append(cell)
                    entry = entries.get((slug, sid, stage)) or {}
                    if entry.get("service_name"):
                        row.name = str(entry["service_name"])
                    if data:
                        if stage in _COMPARED:
                            row.data[stage] = data
                        row.name = str(data.get("service_name") or row.name)
                        page.name = str(data.get("council") or page.name)
                        if stage == "demand":
                            row.figures.update(
                                contacts=_first(data, "contacts"),
                                value=_first(data, "value"),
                                failure=_first(data, "failure"),
                                failure_pct=_first(data, "failure_pct", "failure_demand_pct"),
                            )
                        elif stage == "flow":
                            row.figures["median_days"] = _first(data, "median_days", "median_end_to_end_days")
                            row.figures["end_to_end"] = _flow_end_to_end(data)
                if any(c.status != "missing" for c in row.cells):
                    page.services.append(row)
        if page.has_reports or page.skipped:
            pages.append(page)
    return pages


# ------------------------------------------------------------------------------------------------ rendering


def _environment():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(config.TEMPLATES_DIR)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = words.number
    env.filters["pct"] = words.percent
    env.filters["days"] = words.days
    return env


def _generated() -> str:
    return words.stamp(dt.datetime.now())


def render_council_index(page: CouncilPage) -> str:
    return (
        _environment()
        .get_template("council_index.html.j2")
        .render(council=page, stages=[(s, STAGE_NAMES[s]) for s in config.STAGES], generated=_generated())
    )


def render_measures_page(page: CouncilPage) -> str | None:
    """``measures.html`` of one council (``measures.py``) from its services' measure.json; None when no service has
    a measure report."""
    services = []
    for s in page.services:
        status = next((c.status for c in s.cells if c.stage == "measure"), "missing")
        services.append((s.id, s.name, s.data.get("measure"), status))
    if not any(data for _, _, data, _ in services):
        return None
    return (
        _environment()
        .get_template("measures.html.j2")
        .render(
            page=measures_page(page.slug, page.name, services),
            groups=list(GROUPS),
            generated=_generated(),
            rebase_rule=rebase.window_sentence(),
        )
    )


def comparison(pages: list[CouncilPage]):
    """The councils compared (``compare.compare_councils``) from the pages' stage JSONs; None for one council."""
    entries = [Entry(p.slug, p.name, s.id, s.name, s.data, p.href) for p in pages for s in p.services]
    return compare_councils(entries)


def render_top_index(pages: list[CouncilPage]) -> str:
    return (
        _environment()
        .get_template("index.html.j2")
        .render(councils=pages, generated=_generated(), compared=comparison(pages))
    )


def build_index_pages(out_dir, *, councils=None) -> Path:
    """Write reports/index.html (all councils), reports/<council>/index.html and reports/<council>/measures.html,
    atomically.

    ``councils`` limits which council pages are rewritten (the councils of the batch just run); the top index
    always lists every council on disk.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pages = scan_reports(out_dir)
    for page in pages:
        if (councils is None or page.slug in councils) and (out_dir / page.slug).is_dir() and page.has_reports:
            measures = render_measures_page(page)
            if measures is not None:
                atomic_write_text(out_dir / page.slug / "measures.html", measures)
                page.measures_href = "measures.html"
            atomic_write_text(out_dir / page.slug / "index.html", render_council_index(page))
    return atomic_write_text(out_dir / "index.html", render_top_index(pages))
