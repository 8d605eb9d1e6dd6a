"""The one data path of every stage: a council's tables, read once, for one service and period.

``Stage`` is what a stage notebook works on. It reads each council table once (``Council.load`` caches the parsed
table with its raw text and problems), cuts it to the stage's service and period, and applies the council's
``rules.csv`` to demand once, so that every stage reads the same contacts. Stage modules take a ``Stage`` in their
``load`` and hand plain tables to their analysis functions; nothing below re-reads a file.

The stage contract, the same for ``demand``, ``flow``, ``experiment``, ``measure`` and ``scan``::

    data = <stage>.load(stage)        # a dataclass: the tables it read, its problems, its period
    <stage>.headline(data) -> str
    <stage>.questions(data) -> list[str]
    <stage>.figures(data) -> dict     # what <stage>.json holds
    <stage>.period(data) -> (first, last)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from systemic_lib.data import cache
from systemic_lib.data.classify import RulesResult, apply_rules, with_source
from systemic_lib.data.contract import Problem, ServiceCuts, Table, empty_frame, raw_of_service
from systemic_lib.data.council import Council, CouncilSpec, DeclinedPhase, Service, SystemChange, load_council
from systemic_lib.data.files import atomic_write_json
from systemic_lib.data.privacy import REDACTED, redacted
from systemic_lib.data.privacy import redact_columns as _redact_columns
from systemic_lib.data.redact import redact
from systemic_lib.errors import ContractError, SystemicError

__all__ = [
    "Stage",
    "Contacts",
    "RedactedCouncil",
    "RedactedTable",
    "save_figures",
    "REDACTED",
    "redacted",
    "redacted_spec",
]


def redacted_spec(spec: CouncilSpec) -> CouncilSpec:
    """``council.yaml`` as every report, JSON file and index shows it: every name and label a team typed (the
    council's name; each service's name, purpose and closing activities; each measure's name; the experiment team and
    its description; each system change's label) with personal identifiers taken out. Closing activities are
    redacted as the events' activities are, so that they still name the same steps."""

    def text(value):
        return redact(value) if isinstance(value, str) else value

    services = []
    for s in spec.services:
        experiment = s.experiment
        if experiment is not None:
            experiment = experiment.model_copy(
                update={"team": text(experiment.team), "description": text(experiment.description)}
            )
        services.append(
            s.model_copy(
                update={
                    "name": text(s.name),
                    "purpose": text(s.purpose),
                    "closes_case": [text(a) for a in s.closes_case],
                    "measures": [m.model_copy(update={"title": text(m.title)}) for m in s.measures],
                    "experiment": experiment,
                }
            )
        )
    changes = [
        c.model_copy(
            update={"label": text(c.label), "accepted_by": None if c.accepted_by is None else text(c.accepted_by)}
        )
        for c in spec.system_changes
    ]
    declined = [
        d.model_copy(update={"label": text(d.label), "declined_by": text(d.declined_by)}) for d in spec.declined_phases
    ]
    return spec.model_copy(
        update={
            "name": text(spec.name),
            "services": services,
            "system_changes": changes,
            "declined_phases": declined,
        }
    )


def _shown_as_is(table: Table) -> bool:
    """Whether a table's text is already what a stage may show: read from the table cache, which holds redacted
    text only (``cache.py``), and no name redactor switched on (the cache's text is not name-redacted)."""
    from systemic_lib.data import redact

    return table.redacted and redact._name_redactor is None


class RedactedTable:
    """A table as a stage reads it: ``source`` with its free text redacted, each of its frame and its raw text (only
    needed to quote a problem's source) redacted the first time it is asked for; as it is when it came from the
    table cache (redacted there)."""

    def __init__(self, source: Table):
        self.source = source
        self.name = source.name
        self._frame: pd.DataFrame | None = None
        self._raw: pd.DataFrame | None = None

    @property
    def problems(self) -> list[Problem]:
        return self.source.problems

    @property
    def errors(self) -> list[Problem]:
        return self.source.errors

    @property
    def path(self) -> Path | None:
        return self.source.path

    @property
    def has_raw(self) -> bool:
        """Whether the table has its raw text (without redacting it to find out)."""
        return self.source.has_raw

    def _redacted(self, part: str, frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty or self.name not in REDACTED or _shown_as_is(self.source):
            return frame
        return redacted(self.name, frame, raw=part == "raw")

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = self._redacted("frame", self.source.frame)
        return self._frame

    @property
    def raw(self) -> pd.DataFrame | None:
        if self._raw is None and self.source.raw is not None:
            self._raw = self._redacted("raw", self.source.raw)
        return self._raw

    def raw_of_service(self, service: str) -> tuple[pd.DataFrame, np.ndarray]:
        """(raw text of the rows whose ``service`` cell is ``service``, redacted; their positions in the file's rows):
        only those rows are redacted, unless the whole raw text already is."""
        if self._raw is not None:
            return raw_of_service(self._raw, service)
        ready = self.source.redacted_cuts
        if ready is not None and service in ready.raw:
            return ready.raw[service]
        rows, positions = self.source.raw_of_service(service)
        return (rows if _shown_as_is(self.source) else _redact_columns(self.name, rows, raw=True)), positions


class RedactedCouncil:
    """The council as a stage sees it: every table it loads has its free text redacted, and every name and label of
    council.yaml (``redacted_spec``).

    ``table(name, service=...)`` cuts the council's own table to the service and period first and redacts only those
    rows (a service is a fiftieth of a large council), or takes them from the table's ``redacted_cuts``; ``load(name)``
    (the whole table) is redacted the first time it is asked for. A table from the batch's table cache is redacted
    already and is shown as it is."""

    def __init__(self, source: Council):
        self.source = source
        self._named = Council(source.path, redacted_spec(source.spec))  #: names and labels as a report shows them
        self._tables: dict[str, RedactedTable] = {}

    @property
    def path(self) -> Path:
        return self.source.path

    @property
    def spec(self) -> CouncilSpec:
        return self._named.spec

    @property
    def name(self) -> str:
        return self._named.name

    @property
    def slug(self) -> str:
        return self.source.slug

    @property
    def services(self) -> dict[str, Service]:
        return self._named.services

    def service(self, service_id: str) -> Service:
        return self._named.service(service_id)

    def system_changes(self, service: str | None = None) -> list[SystemChange]:
        return self._named.system_changes(service)

    def declined_phases(self, service: str | None = None) -> list[DeclinedPhase]:
        return self._named.declined_phases(service)

    def has_table(self, name: str) -> bool:
        return self.source.has_table(name)

    def load(self, name: str) -> RedactedTable:
        if name not in self._tables:
            self._tables[name] = RedactedTable(self.source.load(name))
        return self._tables[name]

    def table(self, name: str, *, service: str | None = None, start=None, end=None, rows: bool = False) -> pd.DataFrame:
        source = self.source.load(name)
        if service is None or name not in REDACTED or source.frame.empty:
            return self.source.rows_of(self.load(name), service=service, start=start, end=end, rows=rows)
        ready = source.redacted_cuts  # cut and redacted once before this kernel was forked
        if ready is not None and service in ready.frames:
            return self.source.table(name, service=service, start=start, end=end, rows=rows, cuts=ready)
        found = self.source.table(name, service=service, start=start, end=end, rows=rows)
        return found if _shown_as_is(source) else _redact_columns(name, found)


def redacted_cuts(table: Table, *, wait: bool = True) -> ServiceCuts | None:
    """Each service's rows of a table with free text redacted (``table.cuts``, cut by service, when the table came
    from the table cache, which holds redacted text only): a stage then redacts nothing it reads of its service's
    rows. None when the table is not cut, has no free text, is not from the table cache or a name redactor is
    switched on. ``wait`` is kept for callers: nothing is made here, so nothing is waited for."""
    if table.cuts is None or table.name not in REDACTED or not _shown_as_is(table):
        return None
    return table.cuts


def _rule_hits(whole: Table, rules: RedactedTable, services: set[str]) -> np.ndarray | None:
    """Which rule matches which contact (a row per contact of the demand file, a column per rule) for a demand table
    from the table cache, whose text is redacted: worked out once from the file itself (read here, never stored) and
    kept in the cache entry as booleans. None for a table read from its file (the rules run on its text)."""
    if not whole.redacted or whole.path is None:
        return None
    from systemic_lib.data.classify import rule_hits
    from systemic_lib.data.contract import read_table

    path = whole.path
    digest = hashlib.sha256(rules.frame.to_csv(index=False).encode())
    for module in ("classify", "patterns"):
        digest.update(Path(__file__).with_name(f"{module}.py").read_bytes())
    tag = f"rules-{digest.hexdigest()[:16]}"

    def make() -> pd.DataFrame:
        written = read_table(path, "demand", services=services).frame
        found = rule_hits(written, rules.frame)
        return pd.DataFrame(found, columns=[f"rule_{i}" for i in range(found.shape[1])])

    hits = cache.derived(whole, tag, make)
    return None if hits is None else hits.to_numpy(dtype=bool)


@dataclass
class Contacts:
    """A stage's contacts with the council's rules applied to unclassified ones (hand classifications win).

    ``rules`` is the ``classify.RulesResult`` (None without a rules table); ``problems`` are the rules table's own
    problems, including the reason no rule was used when the table has errors."""

    frame: pd.DataFrame
    rules: RulesResult | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def by_rules(self) -> int:
        """Contacts classified by a rule rather than by the team."""
        return self.rules.classified if self.rules is not None else 0


class Stage:
    """A council, one service (or none for council-wide) and a period: what a stage notebook works on.

    ``council_dir``: the council's folder (read through the table cache in ``cache_dir``, the batch's) or a
    ``Council`` already loaded. ``output_dir``: where ``save`` writes ``<stage>.json`` (None: nowhere)."""

    def __init__(
        self,
        council_dir: Council | Path | str,
        service: str | None,
        stage: str,
        period_start=None,
        period_end=None,
        output_dir: Path | str | None = None,
        cache_dir: Path | str | None = None,
    ):
        #: the council's own text: rules match it
        self._source = (
            council_dir if isinstance(council_dir, Council) else load_council(council_dir, cache_dir=cache_dir)
        )
        #: The council with every free-text column redacted, and every name and label of council.yaml: whatever a
        #: stage reads through it (``table``, ``load``, ``council.table``, ``council.spec``, ``service``) reaches a
        #: report without personal identifiers.
        self.council = RedactedCouncil(self._source)
        self.service: Service | None = self.council.service(service) if service else None
        self.stage = stage
        self.start = pd.Timestamp(period_start) if period_start else None
        self.end = pd.Timestamp(period_end) if period_end else None
        self.output_dir = output_dir
        self._contacts: dict[bool, Contacts] = {}
        self._phases: dict[str, list] = {}

    @property
    def service_id(self) -> str | None:
        return self.service.id if self.service else None

    @property
    def service_name(self) -> str:
        return self.service.name if self.service else self.council.name

    @property
    def service_spec(self) -> Service:
        """The service of a service's stage (demand, flow, experiment, measure); SystemicError for a stage of the
        whole council (the organisation scan), which has none."""
        if self.service is None:
            raise SystemicError(f"the {self.stage} stage of {self.council.name} is for one service: name the service")
        return self.service

    def load(self, name: str) -> RedactedTable:
        """The council's whole table with its raw text and problems (read once per council)."""
        return self.council.load(name)

    def has(self, name: str) -> bool:
        return self.council.has_table(name)

    def table(self, name: str, *, period: bool = True, rows: bool = False) -> pd.DataFrame:
        """A typed table for this stage's service (and period, unless ``period=False``); ``rows`` adds ``_row``,
        the row in the source file. Raises ContractError when the table has errors."""
        return self.council.table(
            name,
            service=self.service_id,
            start=self.start if period else None,
            end=self.end if period else None,
            rows=rows,
        )

    def table_or_empty(self, name: str, **kwargs) -> tuple[pd.DataFrame, list[Problem]]:
        """``table`` or, when it has errors, an empty typed table and those errors: a report shows the problems and
        goes on."""
        try:
            return self.table(name, **kwargs), []
        except ContractError as exc:
            return empty_frame(name), list(exc.problems)

    def contacts(self, *, period: bool = True) -> Contacts:
        """The stage's contacts with the council's rules applied, computed once: every stage reads these.

        ``classified_by`` says who or what classified each contact: ``rule:<row>`` where a rule did, as the file
        has it otherwise, and ``source`` for a contact classified in the file with none recorded."""
        if period not in self._contacts:
            # Rules match the citizen's own words, so they run on the text as written (or, for a table from the
            # table cache, which holds redacted text only, which rule matched which contact is read from the cache,
            # worked out from the file); what the stage gets back is redacted.
            whole = self._source.load("demand")
            frame = self._source.table(
                "demand",
                service=self.service_id,
                start=self.start if period else None,
                end=self.end if period else None,
                rows=True,
            )
            positions = frame.pop("_row").to_numpy() - 2
            rules = self.load("rules") if self.has("rules") else None
            if rules is None or rules.errors:
                self._contacts[period] = Contacts(
                    self._redacted_contacts(whole, frame), None, list(rules.problems) if rules else []
                )
            else:
                hits = _rule_hits(whole, rules, set(self._source.services))
                result = apply_rules(
                    frame,
                    rules.frame,
                    file=rules.path.name if rules.path else "rules.csv",
                    hits=None if hits is None else hits[positions],
                )
                self._contacts[period] = Contacts(
                    self._redacted_contacts(whole, result.frame), result, list(result.problems)
                )
            got = self._contacts[period]
            got.frame = with_source(got.frame)
        return self._contacts[period]

    @staticmethod
    def _redacted_contacts(whole: Table, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` (contacts of the demand table ``whole``) as a stage may show them."""
        return frame if _shown_as_is(whole) else redacted("demand", frame)

    def system_changes(self) -> list:
        """council.yaml's system changes for the service; a stage draws ``phases()``, which adds changed conditions."""
        return self.council.system_changes(self.service_id) if self.service else []

    def phases(self, service: str | None = None) -> list:
        """Where a service's capability charts start a new phase (``conditions.Phase``: date, label, source):
        council.yaml's system changes and the system conditions (learning-log ones included) marked changed with a
        date, unless the team turned the phase off; one per date and label, by date. ``service`` defaults to the
        stage's (the organisation scan names each). Read once."""
        from systemic_lib.data.conditions import from_learning_log, phases

        sid = service or self.service_id
        if sid is None:
            return []
        if sid not in self._phases:
            frame = None
            if self.has("system_conditions") or self.has("learning_log"):
                frame, _ = self.table_or_empty("system_conditions", period=False)
                if self.has("learning_log"):
                    log, _ = self.table_or_empty("learning_log", period=False)
                    more = from_learning_log(log, existing=frame)
                    if len(more):
                        frame = more if frame.empty else pd.concat([frame, more], ignore_index=True)
                frame = frame[frame["service"].astype("str") == sid]
            self._phases[sid] = phases(self.council.system_changes(sid), frame)
        return self._phases[sid]

    def save(self, figures: dict, *, period: tuple | None = None) -> Path | None:
        """Write ``<stage>.json`` with the key figures plus council, service, stage and the data period."""
        meta = {
            "council": self.council.name,
            "council_slug": self.council.slug,
            "service": self.service.id if self.service else None,
            "service_name": self.service.name if self.service else None,
            "stage": self.stage,
            "period": {"start": _iso(period[0]) if period else None, "end": _iso(period[1]) if period else None},
        }
        return save_figures(self.stage, {**meta, **figures}, self.output_dir)


def save_figures(stage: str, figures: dict, output_dir=None) -> Path | None:
    """Write ``<stage>.json`` (the key figures the index pages read) into the report folder ``output_dir``,
    atomically; without one (exploring in JupyterLab) nothing is written."""
    if not output_dir:
        return None
    return atomic_write_json(Path(output_dir) / f"{stage}.json", figures)


def _iso(value):
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()
