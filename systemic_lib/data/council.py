"""A council folder: ``council.yaml`` plus its tables, loaded, typed and validated.

>>> council = load_council("data/councils/northshire")      # doctest: +SKIP
>>> council.services["housing-repairs"].purpose               # doctest: +SKIP
>>> demand = council.table("demand", service="housing-repairs")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal, Protocol

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from systemic_lib.data.cache import cached_table
from systemic_lib.data.contract import (
    CATEGORIES,
    ERROR,
    TABLES,
    Problem,
    ServiceCuts,
    Table,
    TableView,
    empty_frame,
    find_table_file,
    read_table,
)
from systemic_lib.data.patterns import FIX as PATTERN_FIX
from systemic_lib.data.patterns import problem as pattern_problem
from systemic_lib.data.redact import redact
from systemic_lib.errors import ContractError, SystemicError, UnknownServiceError

MEASURES = {
    "end_to_end_days": ("End-to-end time", "days", "decrease"),
    "failure_demand_pct": ("Failure demand", "%", "decrease"),
    "weekly_demand": ("Demand per week", "contacts", "neutral"),
    "one_stop_pct": ("Resolved at first contact", "%", "increase"),
    "delivered_when_wanted_pct": ("Delivered when the citizen wanted", "%", "increase"),
}
"""Measure ids a service may name in council.yaml: (plain name, unit, usual direction)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: The tables a measure of a service's own can be counted from, and the date columns its weeks may be taken from.
MEASURE_TABLES = {"demand": ("received_at",), "cases": ("opened_at", "closed_at", "wanted_by")}
#: The tests a row can be counted by (``matching:``), besides a column matching a pattern or a value.
MATCH_TESTS = ("column", "no_contact_within_days", "no_step_of_category")


class MatchSpec(_Model):
    """Which rows a measure counts: a column matching a pattern (case-insensitive regular expression) or equal to a
    value; cases with no contact linked to them (``demand.case_id``) within N days after closing; or cases with no
    step (``events``) whose activity has a category (``activities.csv``), e.g. no ``rework`` step."""

    column: str | None = None
    pattern: str | None = None
    equals: str | None = None
    no_contact_within_days: int | None = Field(None, ge=1, le=3650)  #: at most ten years
    no_step_of_category: str | None = None

    @field_validator("pattern")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        unusable = pattern_problem(v) if v is not None else None
        if unusable:
            raise ValueError(f"{unusable}; {PATTERN_FIX}")
        return v

    @field_validator("no_step_of_category")
    @classmethod
    def _category(cls, v: str | None) -> str | None:
        if v is not None and v not in CATEGORIES:
            raise ValueError(f"unknown step category '{v}'; categories are {', '.join(CATEGORIES)}")
        return v

    @model_validator(mode="after")
    def _one_test(self) -> MatchSpec:
        tests = [t for t in MATCH_TESTS if getattr(self, t) is not None]
        if len(tests) != 1:
            raise ValueError(
                "give exactly one of column (with pattern or equals), no_contact_within_days or no_step_of_category"
            )
        if self.column is not None and (self.pattern is None) == (self.equals is None):
            raise ValueError(f"column '{self.column}' needs either pattern or equals")
        if self.column is None and (self.pattern is not None or self.equals is not None):
            raise ValueError("pattern and equals need a column")
        return self


class CountSpec(_Model):
    """A measure's definition: rows of a table (``of``), by the week of a date column (``by``); ``matching`` picks
    the rows a share counts (of all the rows, or of those ``where`` picks)."""

    of: str
    by: str | None = None
    matching: MatchSpec | None = None
    where: MatchSpec | None = None

    @field_validator("of")
    @classmethod
    def _table(cls, v: str) -> str:
        if v not in MEASURE_TABLES:
            raise ValueError(f"unknown table '{v}'; a measure counts rows of {' or '.join(MEASURE_TABLES)}")
        return v

    @model_validator(mode="after")
    def _columns(self) -> CountSpec:
        by = self.by or MEASURE_TABLES[self.of][0]
        if by not in MEASURE_TABLES[self.of]:
            raise ValueError(
                f"unknown date column '{by}' of {self.of}; use one of {', '.join(MEASURE_TABLES[self.of])}"
            )
        columns = TABLES[self.of].column_names
        for test in (self.matching, self.where):
            if test is None:
                continue
            if test.column is not None and test.column not in columns:
                raise ValueError(f"unknown column '{test.column}' of {self.of}; its columns are {', '.join(columns)}")
            if (test.no_contact_within_days or test.no_step_of_category) and self.of != "cases":
                raise ValueError("no_contact_within_days and no_step_of_category count cases: use of: cases")
        return self

    @property
    def date(self) -> str:
        return self.by or MEASURE_TABLES[self.of][0]


class MeasureSpec(_Model):
    """A measure named in council.yaml: one of the built-in ``MEASURES`` by id, or a service's own, derived from its
    purpose: an id, a ``name`` in the citizen's terms, a ``unit``, a ``direction`` and a definition, either ``share``
    (the % of rows that match) or ``count`` (rows a week)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    direction: str | None = None
    target: float | None = None
    title: str | None = Field(None, alias="name")
    unit_: str | None = Field(None, alias="unit")
    share: CountSpec | None = None
    count: CountSpec | None = None

    @field_validator("direction")
    @classmethod
    def _direction(cls, v: str | None) -> str | None:
        if v is not None and v not in ("increase", "decrease", "neutral"):
            raise ValueError("direction must be increase (higher is better), decrease (lower is better) or neutral")
        return v

    @model_validator(mode="after")
    def _known(self) -> MeasureSpec:
        if self.share is not None and self.count is not None:
            raise ValueError(f"measure '{self.id}': give share or count, not both")
        if not self.custom:
            if self.id not in MEASURES:
                raise ValueError(
                    f"unknown measure '{self.id}'; use one of {', '.join(MEASURES)}, or define a "
                    "measure of your own with name, unit, direction and share: or count:"
                )
            if self.title or self.unit_:
                raise ValueError(f"measure '{self.id}' is built in: its name and unit are fixed")
            return self
        if self.id in MEASURES:
            raise ValueError(f"'{self.id}' is a built-in measure: give your own measure another id")
        if not self.title:
            raise ValueError(f"measure '{self.id}' needs a name, in the citizen's terms")
        if self.share is not None and self.share.matching is None:
            raise ValueError(f"measure '{self.id}': share needs matching (which rows it counts)")
        return self

    @property
    def custom(self) -> bool:
        """A service's own measure (defined in council.yaml), not a built-in one."""
        return self.share is not None or self.count is not None

    @property
    def definition(self) -> CountSpec | None:
        return self.share or self.count

    @property
    def counted(self) -> CountSpec:
        """The definition of a measure of the service's own (``custom``); ValueError for a built-in one."""
        if self.definition is None:
            raise ValueError(f"measure '{self.id}' is built in: it has no definition of its own")
        return self.definition

    @property
    def name(self) -> str:
        return self.title or MEASURES[self.id][0]

    @property
    def unit(self) -> str:
        if self.unit_:
            return self.unit_
        if self.share is not None:
            return "%"
        return ("cases" if self.count.of == "cases" else "contacts") if self.count else MEASURES[self.id][1]

    @property
    def improvement(self) -> str:
        return self.direction or (MEASURES[self.id][2] if not self.custom else "neutral")


class ExperimentSpec(_Model):
    start: dt.date
    team: str = "Experiment team"
    description: str = ""
    #: "new service": the team builds a new service by experiment (the seed's hub): there is no old system to
    #: compare with, and the experiment page shows how the service was built instead of a comparison
    design: Literal["new service"] | None = None


class Service(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    purpose: str
    measures: list[MeasureSpec] = Field(default_factory=list)
    experiment: ExperimentSpec | None = None
    #: activities whose step ends a case (end-to-end time, ``endtoend``): for cases not in cases.csv, a case ends at
    #: its last such step, else it is open. The same as ``closes_case: yes`` in activities.csv, without editing it.
    closes_case: list[str] = Field(default_factory=list)

    @field_validator("closes_case", mode="before")
    @classmethod
    def _activities(cls, v):
        if v is None:
            return []
        if isinstance(v, str):
            return [v]
        if not isinstance(v, list) or not all(isinstance(a, str) and a.strip() for a in v):
            raise ValueError("closes_case must be a list of activity names, as events.csv writes them")
        return [a.strip() for a in v]

    @field_validator("measures")
    @classmethod
    def _once(cls, v: list[MeasureSpec]) -> list[MeasureSpec]:
        ids = [m.id for m in v]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"measure id '{dupes[0]}' is listed twice; give each measure its own id")
        return v


class SystemChange(_Model):
    date: dt.date
    label: str
    services: list[str] | None = None  #: None means every service
    #: steps (activities) or demand types the change is meant to affect: the measure stage shows their share before
    #: and after the change, so that the records say whether it happened
    targets: list[str] | None = None
    #: a phase a rebase suggestion offered and a person accepted (``council_edit.accept_phase``): who and when
    accepted_by: str | None = None
    accepted_at: dt.datetime | None = None

    def applies_to(self, service: str) -> bool:
        return self.services is None or service in self.services


class DeclinedPhase(_Model):
    """A rebase suggestion a person declined (``council_edit.decline_phase``): the recorded change it offered as a
    new phase (its date and words), for which services, who declined it and when. It is not offered again."""

    date: dt.date
    label: str
    services: list[str] | None = None  #: None means every service
    declined_by: str
    declined_at: dt.datetime

    def applies_to(self, service: str) -> bool:
        return self.services is None or service in self.services


class CouncilSpec(_Model):
    name: str
    services: list[Service] = Field(min_length=1)
    system_changes: list[SystemChange] = Field(default_factory=list)
    declined_phases: list[DeclinedPhase] = Field(default_factory=list)
    imports: dict[str, dict] = Field(default_factory=dict)


@dataclass
class Council:
    """A loaded council. Tables load lazily (from the table cache in ``cache_dir`` when it has one: the batch's);
    ``table()`` raises ContractError if a table has errors."""

    path: Path
    spec: CouncilSpec
    cache_dir: Path | None = None
    _tables: dict[str, Table] = field(default_factory=dict, repr=False)

    @property
    def slug(self) -> str:
        return self.path.name

    @property
    def name(self) -> str:
        return self.spec.name

    @cached_property
    def services(self) -> dict[str, Service]:
        return {s.id: s for s in self.spec.services}

    def service(self, service_id: str) -> Service:
        try:
            return self.services[service_id]
        except KeyError:
            known = ", ".join(self.services)
            raise UnknownServiceError(
                f"{self.path / 'council.yaml'}: no service '{service_id}'. Services are: {known}. "
                "Add it under 'services:' or use one of those ids."
            ) from None

    def system_changes(self, service: str | None = None) -> list[SystemChange]:
        changes = [c for c in self.spec.system_changes if service is None or c.applies_to(service)]
        return sorted(changes, key=lambda c: c.date)

    def declined_phases(self, service: str | None = None) -> list[DeclinedPhase]:
        """The rebase suggestions a person declined for ``service`` (every one without), by date."""
        found = [d for d in self.spec.declined_phases if service is None or d.applies_to(service)]
        return sorted(found, key=lambda d: d.date)

    def has_table(self, name: str) -> bool:
        return find_table_file(self.path, name) is not None

    def load(self, name: str) -> Table:
        """Parse one table (cached) and return it with its problems, errors included."""
        if name not in TABLES:
            raise KeyError(f"no table '{name}' in the data contract; tables are {', '.join(TABLES)}")
        if name not in self._tables:
            path = find_table_file(self.path, name)
            if path is None:
                self._tables[name] = Table(name, empty_frame(name))
            else:  # from the batch's table cache when it runs one, else parsed here
                services = set(self.services)
                self._tables[name] = cached_table(
                    path, name, services, lambda: read_table(path, name, services=services), self.cache_dir
                )
        return self._tables[name]

    def loaded(self) -> dict[str, Table]:
        """The tables read so far (``load``), by name."""
        return dict(self._tables)

    def table(
        self,
        name: str,
        *,
        service: str | None = None,
        start=None,
        end=None,
        rows: bool = False,
        cuts: ServiceCuts | None = None,
    ) -> pd.DataFrame:
        """A typed table, optionally for one service and a period; raises ContractError on errors. ``rows`` adds a
        column ``_row``: each row's row in the source file, as a spreadsheet shows it. The service's rows come from
        ``cuts`` when given (a stage's redacted cuts), else from the table's own ``cuts`` when it was cut by service
        (``Table.cut_by_service``), else are cut here."""
        result = self.load(name)
        return self.rows_of(result, service=service, start=start, end=end, rows=rows, cuts=cuts or result.cuts)

    def rows_of(
        self,
        table: TableView,
        *,
        service: str | None = None,
        start=None,
        end=None,
        rows: bool = False,
        cuts: ServiceCuts | None = None,
    ) -> pd.DataFrame:
        """``table`` (one of this council's, plain or redacted) for one service and a period, as ``table()`` gives
        it; raises ContractError on its errors."""
        if table.errors:
            raise ContractError(table.errors)
        frame = table.frame
        if service is not None:
            self.service(service)
            frame = cuts.frames[service] if cuts and service in cuts.frames else frame[frame["service"] == service]
        if rows:  # a cut keeps the table's index: each row's position in the file
            frame = frame.assign(_row=frame.index + 2)
        time_col = _TIME_COLUMN.get(table.name)
        if time_col and (start is not None or end is not None):
            frame = within_period(frame, time_col, start, end)
        return frame.reset_index(drop=True)

    def problems(self) -> list[Problem]:
        """Every problem in every table present, then council.yaml's closing activities, errors first."""
        out: list[Problem] = []
        for name in TABLES:
            if self.has_table(name):
                out += self.load(name).problems
        out += self.closing_problems()
        return sorted(out, key=lambda p: p.severity != ERROR)

    def closing_problems(self) -> list[Problem]:
        """A ``closes_case`` activity of council.yaml that no step of its service has (in events.csv or
        activities.csv): named with the file and key, as it would silently leave every case open."""
        known: dict[str, set] = {}
        redacted = False  #: from the table cache, whose activities are redacted: compare them redacted
        for name in ("events", "activities"):
            if self.has_table(name) and not self.load(name).errors:
                table = self.load(name)
                redacted = redacted or table.redacted
                frame = table.frame
                for svc, act in zip(frame["service"].astype(object), frame["activity"].astype(object)):
                    known.setdefault(str(svc), set()).add(str(act))
        out = []
        for i, svc in enumerate(self.spec.services):
            for j, act in enumerate(svc.closes_case):
                if known and (redact(act) if redacted else act) not in known.get(svc.id, set()):
                    have = sorted(known.get(svc.id, set()))
                    hint = f" (its activities include {', '.join(repr(a) for a in have[:5])})" if have else ""
                    out.append(
                        Problem(
                            "council.yaml",
                            f"services[{i}] ({svc.id}): closes_case names activity "
                            f"'{act}', which no step of {svc.id} has in events.csv or activities.csv{hint}",
                            "write the activity exactly as events.csv has it, or remove it",
                            column=f"services.{i}.closes_case.{j}",
                            severity=ERROR,
                        )
                    )
        return out

    @property
    def demand(self) -> pd.DataFrame:
        return self.table("demand")

    @property
    def events(self) -> pd.DataFrame:
        return self.table("events")

    @property
    def cases(self) -> pd.DataFrame:
        return self.table("cases")

    @property
    def learning_log(self) -> pd.DataFrame:
        return self.table("learning_log")

    @property
    def activities(self) -> pd.DataFrame:
        return self.table("activities")

    @property
    def rules(self) -> pd.DataFrame:
        return self.table("rules")


_TIME_COLUMN = {"demand": "received_at", "events": "timestamp", "cases": "opened_at", "learning_log": "date"}


def within_period(frame: pd.DataFrame, column: str, start=None, end=None) -> pd.DataFrame:
    """Rows whose ``column`` falls in [start, end] (dates inclusive; either bound may be None)."""
    keep = pd.Series(True, index=frame.index)
    if start not in (None, ""):
        keep &= frame[column] >= pd.Timestamp(start)
    if end not in (None, ""):
        keep &= frame[column] < pd.Timestamp(end) + pd.Timedelta(days=1)
    return frame[keep]


class CouncilsRead(Protocol):
    """Councils this process has read already: the batch's kernel zygote reads a council, and cuts its tables by
    service, before forking that council's kernels (``data/preload.py``), and ``load_council`` in a forked kernel
    starts from it instead of reading the tables again."""

    def council(self, path: Path, cache_dir: Path | None) -> Council | None:
        """The council read from ``path`` (resolved) with this table cache, if it is held and unchanged."""
        ...


_read: CouncilsRead | None = None


def read_from(councils: CouncilsRead | None) -> None:
    """The one hook through which the engine hands council loading the councils it has read (None: none)."""
    global _read
    _read = councils


def held(path, cache_dir: Path | str | None = None) -> Council | None:
    """The council this process holds read ahead for ``path`` with this table cache (``read_from``), if unchanged."""
    if _read is None:
        return None
    return _read.council(Path(path).resolve(), Path(cache_dir) if cache_dir else None)


def load_council(path, *, cache_dir: Path | str | None = None) -> Council:
    """Read ``council.yaml`` in a council folder; raise ContractError with every problem in it. Its tables are read
    through the table cache in ``cache_dir`` (None: parsed from their files)."""
    path = Path(path)
    cache = Path(cache_dir) if cache_dir else None
    held = _read.council(path.resolve(), cache) if _read is not None and path.is_dir() else None
    if held is not None:
        return Council(path, held.spec, cache, held.loaded())
    yaml_path = path / "council.yaml"
    if not path.is_dir():
        raise SystemicError(f"{path}: no such council folder. A council is a folder holding council.yaml and tables.")
    if not yaml_path.exists():
        raise ContractError(
            [
                Problem(
                    f"{path.name}/council.yaml",
                    "is missing",
                    "create council.yaml with the council name and its services (see README)",
                )
            ]
        )
    try:
        text = yaml_path.read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ContractError(
            [Problem("council.yaml", f"is not valid YAML ({exc})", "check indentation and colons")]
        ) from None
    twice = _duplicate_keys(text, f"{path.name}/council.yaml")
    if twice:  # YAML keeps the last silently; the coach app's edits would change the other
        raise ContractError(twice)
    try:
        spec = CouncilSpec.model_validate(data)
    except ValidationError as exc:
        lines = _YamlLines(text)
        problems = [
            Problem(
                lines.where(f"{yaml_path.parent.name}/council.yaml", e["loc"]),
                e["msg"].removeprefix("Value error, "),
                "see the council.yaml example in README.md",
                column=".".join(str(x) for x in e["loc"]),
            )
            for e in exc.errors()
        ]
        raise ContractError(problems) from None
    ids = [s.id for s in spec.services]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ContractError(
            [
                Problem(
                    "council.yaml",
                    f"service id '{d}' is listed twice",
                    "give each service its own id",
                    column="services",
                )
                for d in dupes
            ]
        )
    return Council(path, spec, cache)


def _duplicate_keys(text: str, file: str) -> list[Problem]:
    """A key written twice in one mapping of council.yaml (``name:`` twice in a service): YAML reads the last one
    without a word, and an edit in the coach app changes the first; so it is an error, with both lines."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    out, todo = [], [root]
    while todo:
        node = todo.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key, value in node.value:
                name = getattr(key, "value", None)
                if isinstance(name, str) and name in seen:
                    out.append(
                        Problem(
                            f"{file} line {key.start_mark.line + 1}",
                            f"'{name}' is written twice (lines {seen[name]} and {key.start_mark.line + 1}); "
                            "only the last would be read",
                            f"keep one '{name}:' and delete the other",
                            column=name,
                        )
                    )
                seen.setdefault(name, key.start_mark.line + 1)
                todo.append(value)
        elif isinstance(node, yaml.SequenceNode):
            todo.extend(node.value)
    return sorted(out, key=lambda p: p.file)


class _YamlLines:
    """Line numbers of council.yaml's keys and items (``yaml.compose``, safe: no tags run), so a problem in it names
    its line."""

    def __init__(self, text: str):
        try:
            self.root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            self.root = None

    def line(self, loc) -> int | None:
        """The line (from 1) of the deepest node on ``loc`` (a pydantic error location) the file has."""
        node, line = self.root, None
        for key in loc:
            if isinstance(node, yaml.MappingNode):
                found = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(key)), None)
                if found is None:
                    break
                line, node = found[0].start_mark.line + 1, found[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                node = node.value[key]
                line = node.start_mark.line + 1
            else:
                break
        return line

    def where(self, file: str, loc) -> str:
        """'northshire/council.yaml line 12' (the file alone where the line is not known)."""
        line = self.line(loc)
        return file if line is None else f"{file} line {line}"


def validate_council(path, *, cache_dir: Path | str | None = None) -> list[Problem]:
    """Every problem of a council folder (council.yaml and all tables, read through the table cache in
    ``cache_dir``), errors first."""
    try:
        council = load_council(path, cache_dir=cache_dir)
    except ContractError as exc:
        return exc.problems
    except SystemicError as exc:
        return [Problem(str(path), str(exc))]
    return council.problems()
