"""The measure stage: each measure derived from a service's purpose, weekly or monthly, on its capability chart.

The stage contract: ``load(stage)`` reads the service's contacts (``stage.contacts()``: demand with the council's
rules applied, so failure demand here is the demand report's) and cases, once, and hands them to ``measure_results``,
which builds the series of every measure named in council.yaml (all five where the data allow, if none are named),
runs each through ``spc.xmr`` with the measure's direction and target and a new phase at each of the service's
phases (``Stage.phases``: council.yaml's system changes and the system conditions marked changed with a date), and
narrates it. ``headline``, ``questions``, ``figures`` (what
``measure.json`` holds) and ``period`` take the ``MeasureData``; ``measure_summary`` is the table a manager reads.
Charts are in ``charts/measure.py``, what the page shows in ``sections/measure.py``.

Series, by Monday-starting week (``date`` = the Monday) or, on sparse data, by calendar month (``date`` = the 1st):

* ``end_to_end_days`` — median days from ``opened_at`` to ``closed_at`` of the cases *opened* that week (a phase is
  about the system that handled a case; cases closing early in the data are only the short ones). A week is shown
  only once its median is certain: more than half its cases have closed and every open case has already taken longer
  than that median (an open case counts as "at least its age so far"), so the latest weeks are left out rather than
  shown falsely short. A weekly median describes a typical week, not a citizen: ``measure_cases`` charts every
  finished case as well (capability per case, from the citizen's first contact), as ``end_to_end_per_case``.
* ``failure_demand_pct`` — failure ÷ classified contacts received that week × 100.
* ``weekly_demand`` — contacts received that week (a week inside the data with none counts 0; a first or last week
  the data cover for fewer than 5 days is left out, so a part-week does not look like a drop).
* ``one_stop_pct`` — contacts resolved at the first point of contact ÷ contacts with ``one_stop`` recorded × 100.
* ``delivered_when_wanted_pct`` — cases closed on or before ``wanted_by`` ÷ cases closed that week with a
  ``wanted_by`` × 100.

A percentage from a week with fewer than ``MIN_WEEKLY_COUNT`` (5) cases or contacts behind it is left missing (a
week of two contacts swings between 0% and 100% and would fake signals); missing weeks are kept as gaps.

The grain is chosen per measure from the data: weekly when the median week of the weekly series (every week from the
first to the last, empty weeks counting 0) has at least ``MIN_WEEKLY_COUNT`` cases or contacts behind it, else by
calendar month, where the same rules hold per month (a first or last month the data miss more than 3 days of is left
out of demand counts). A sparse log charted weekly is mostly gaps and medians of one or two cases, which read as
noise; a month has enough behind each point. The chart title and narration say which grain and why
("monthly median, because fewer than 5 cases a week"); ``measure.json`` records it as ``grain``.
Nothing here raises for a stage report: a measure without data carries a plain ``note`` instead of a chart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.analysis import custom_measures, endtoend, rebase, spc
from systemic_lib.analysis.markers import Marker, markers, within
from systemic_lib.analysis.measure_cases import CaseCapability, case_capability, per_case_figures
from systemic_lib.analysis.narrate import ASSURANCE_WORDS, narrate
from systemic_lib.analysis.reading import LATEST_WORDS, Reading, not_enough, reading_of
from systemic_lib.analysis.records import ChangeCheck, check_changes
from systemic_lib.analysis.season import Season, yearly_pattern
from systemic_lib.analysis.weekly import MIN_WEEKLY_COUNT, MONTH_SLACK_DAYS, _end_to_end, _weekly, choose_grain  # noqa: F401
from systemic_lib.data.contract import CHANGED_STATUS
from systemic_lib.data.council import MEASURES, MeasureSpec, within_period
from systemic_lib.data.stages import Stage
from systemic_lib.errors import ContractError, SystemicError

__all__ = [
    "MeasureData",
    "MeasureResult",
    "load",
    "headline",
    "questions",
    "figures",
    "findings",
    "period",
    "measure_results",
    "for_stage",
    "measure_series",
    "measure_summary",
    "measure_figures",
    "chart_title",
    "summary_caption",
    "QUESTIONS",
    "MIN_WEEKLY_COUNT",
    "TABLE_OF",
    "choose_grain",
]


#: How each measure reads mid-sentence in a narration, what one point stands for, and what too few a week are of.
_SPOKEN = {
    "end_to_end_days": ("end-to-end time (weekly median)", "cases opened", "cases"),
    "failure_demand_pct": ("failure demand", "classified contacts", "classified contacts"),
    "weekly_demand": ("demand per week", "contacts", "contacts"),
    "one_stop_pct": (
        "the share resolved at first contact",
        "contacts with one-stop recorded",
        "contacts with one-stop recorded",
    ),
    "delivered_when_wanted_pct": (
        "the share delivered when the citizen wanted",
        "cases with a wanted-by date",
        "cases with a wanted-by date",
    ),
}
#: What changes when a measure is monthly: its name and how it reads mid-sentence.
_MONTHLY_NAME = {"weekly_demand": "Demand per month"}
_MONTHLY_SPOKEN = {"end_to_end_days": "end-to-end time (monthly median)", "weekly_demand": "demand per month"}
#: The table each measure is counted from.
TABLE_OF = {
    "end_to_end_days": "cases",
    "delivered_when_wanted_pct": "cases",
    "failure_demand_pct": "demand",
    "weekly_demand": "demand",
    "one_stop_pct": "demand",
}


_iso = lambda v: None if v is None else pd.Timestamp(v).date().isoformat()


@dataclass
class MeasureResult:
    """One measure of one service: its weekly series, its ``spc.xmr`` result, narration, or a note saying why not."""

    id: str
    name: str
    unit: str
    direction: str
    target: float | None
    service_name: str = ""
    series: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["date", "value", "n"]))
    result: spc.XmrResult | None = None
    changes: list[dict] = field(default_factory=list)  #: system changes used: date, label, phase start
    changes_outside: list[dict] = field(default_factory=list)  #: recorded changes outside the data
    narration: str = ""
    note: str | None = None
    grain: str = "week"  #: "week" or "month": what one point of the series covers
    said: tuple[str, str, str] | None = None  #: a service's own measure: how it reads (``custom_measures.spoken``)
    reading: Reading | None = None  #: the one reading every sentence, badge and summary uses (``reading``)
    season: Season | None = None  #: the series' yearly pattern, if it has one (``season``)
    #: learning-log entries and system conditions dated inside the chart (``markers``): drawn, never a phase
    markers: list[Marker] = field(default_factory=list)
    #: rebase suggestions (``rebase``): a new phase a person may accept, or "find out what happened"
    suggestions: list[rebase.Suggestion] = field(default_factory=list)

    @property
    def _said(self) -> tuple[str, str, str]:
        return self.said or _SPOKEN[self.id]

    @property
    def spoken(self) -> str:
        return _MONTHLY_SPOKEN.get(self.id, self._said[0]) if self.grain == "month" else self._said[0]

    @property
    def why_monthly(self) -> str:
        """'monthly median, because fewer than 5 cases a week' ("" when weekly)."""
        if self.grain != "month":
            return ""
        kind = "monthly median" if self.id == "end_to_end_days" else "monthly"
        return f"{kind}, because fewer than {MIN_WEEKLY_COUNT} {self._said[2]} a week"

    @property
    def phase_labels(self) -> list[str]:
        return [c["label"] for c in self.changes]

    @property
    def period(self) -> tuple:
        dates = self.series.loc[self.series["value"].notna(), "date"]
        if dates.empty:
            return None, None
        last = dates.max() + (pd.offsets.MonthEnd(0) if self.grain == "month" else pd.Timedelta(days=6))
        return dates.min(), last

    def recompute(self, phase_starts=None, phase_labels=None) -> MeasureResult:
        """The same series with other phase starts (dates); used by the explorer widget."""
        if phase_starts is None:
            phase_starts = [c["date"] for c in self.changes]
            phase_labels = self.phase_labels
        return _chart_series(self, list(phase_starts), list(phase_labels or []))


# ------------------------------------------------------------------------------------------------- series
def measure_series(
    table: pd.DataFrame, measure_id: str, *, start=None, end=None, grain: str | None = None
) -> tuple[pd.DataFrame, str]:
    """Series of one measure from its table (``TABLE_OF``: the service's contacts or cases, whole, not cut to the
    period): ``(series, grain)``, the series with columns date (Monday, or the 1st of the month), value, n (cases or
    contacts behind it). ``grain`` "week" or "month"; by default chosen from the data (``choose_grain`` of the weekly
    series), and returned beside the series."""
    if measure_id not in MEASURES:
        raise SystemicError(f"unknown measure '{measure_id}'; measures are {', '.join(MEASURES)}")
    if grain not in (None, "week", "month"):
        raise SystemicError(f"unknown grain '{grain}'; grains are week and month")
    chosen = grain or "week"
    series = _series(table, measure_id, start=start, end=end, grain=chosen)
    if grain is None and choose_grain(series) == "month":
        chosen = "month"
        series = _series(table, measure_id, start=start, end=end, grain=chosen)
    return series, chosen


def _series(table: pd.DataFrame, measure_id: str, *, start, end, grain: str) -> pd.DataFrame:
    if measure_id == "end_to_end_days":
        return _end_to_end(table, start=start, end=end, grain=grain)
    if measure_id == "delivered_when_wanted_pct":
        closed = table[table["closed_at"].notna()]
        has = closed["wanted_by"].notna()
        on_time = has & (closed["closed_at"].dt.normalize() <= closed["wanted_by"].dt.normalize())
        return _weekly(closed, "closed_at", on_time, has, kind="pct", start=start, end=end, grain=grain)
    if measure_id == "weekly_demand":
        return _weekly(table, "received_at", None, None, kind="count", start=start, end=end, grain=grain)
    if measure_id == "failure_demand_pct":
        cls = table["classification"].astype("string")
        return _weekly(
            table,
            "received_at",
            (cls == "failure").fillna(False),
            cls.isin(["value", "failure"]).fillna(False),
            kind="pct",
            start=start,
            end=end,
            grain=grain,
        )
    one = table["one_stop"].astype("boolean")
    return _weekly(table, "received_at", one.fillna(False), one.notna(), kind="pct", start=start, end=end, grain=grain)


# ----------------------------------------------------------------------------------------------- results
def _phase_plan(dates: pd.Series, changes) -> tuple[list, list[str], list[dict], list[dict]]:
    """Phase starts (dates) and labels from system changes: each starts at the first point on or after its date, so
    changes in the same week (or month) share one phase."""
    used: dict[pd.Timestamp, list[str]] = {}
    outside, kept = [], []
    first, last = (dates.min(), dates.max()) if len(dates) else (None, None)
    for when, label in changes:
        when = pd.Timestamp(when)
        pos = int(dates.searchsorted(when, side="left")) if first is not None else 0
        if first is None or when <= first or pos >= len(dates):
            outside.append({"date": when.date().isoformat(), "label": label})
            continue
        start = dates.iloc[pos]
        used.setdefault(start, []).append(label)
        kept.append({"date": when.date().isoformat(), "label": label, "phase_start": start.date().isoformat()})
    starts = sorted(used)
    return starts, [" / ".join(used[s]) for s in starts], kept, outside


def _chart_series(res: MeasureResult, phase_starts: list, phase_labels: list[str]) -> MeasureResult:
    """Run xmr on res.series with the given phases; fills result, changes and narration (or a note)."""
    series = res.series
    present = series["value"].notna()
    out = MeasureResult(
        res.id, res.name, res.unit, res.direction, res.target, res.service_name, series, grain=res.grain, said=res.said
    )
    if present.sum() < 2:
        out.note = (
            f"{res.name}: only {int(present.sum())} {res.grain}(s) with enough data; a capability chart "
            "needs at least 2."
        )
        out.reading = not_enough(out.note)
        return out
    changes = list(zip(phase_starts, phase_labels + [""] * (len(phase_starts) - len(phase_labels))))
    starts, labels, kept, outside = _phase_plan(series["date"], changes)
    bounded = res.unit == "%"
    try:
        result = spc.xmr(
            series["value"],
            dates=series["date"],
            phase_starts=starts,
            improvement=res.direction,
            target=res.target,
            floor=0,
            ceiling=100 if bounded else None,
        )
    except spc.SpcInputError as exc:  # defensive: the series is built clean, but a report must not stop
        out.note = f"{res.name}: could not be charted ({exc})."
        out.reading = not_enough(out.note)
        return out
    out.result, out.changes, out.changes_outside = result, kept, outside
    out.changes = [dict(c, label=lab) for c, lab in zip(_one_per_start(kept), labels)]
    if out.grain == "week":
        out.season = yearly_pattern(series["date"], series["value"])
    _read(out)
    return out


def _decimals(r: MeasureResult) -> int:
    return 1 if r.unit == "days" and r.result is not None and (r.result.current["mean"] or 0) < 10 else 0


def _read(r: MeasureResult, per_case=None) -> None:
    """The measure's reading (``reading.reading_of``: its chart, its yearly pattern and, for end-to-end time, the
    cases' own view ``per_case``) and the narration that says it."""
    result = r.result
    if result is None:
        return
    current = result.phases[-1]
    change = next((c for c in r.changes if c["phase_start"] == _iso(current["start"])), None)
    r.reading = reading_of(
        result,
        measure="end-to-end time" if r.id == "end_to_end_days" else r.spoken,
        unit=r.unit,
        decimals=_decimals(r),
        season=r.season,
        change={"date": change["date"], "label": change["label"]} if change else None,
        per_case=per_case,
    )
    r.narration = narrate(
        result,
        measure=r.spoken,
        unit=r.unit,
        phase_labels=r.phase_labels,
        decimals=_decimals(r),
        season=r.season,
        change_words=r.reading.sentence if r.reading.change else None,
    )
    if r.grain == "month":
        r.narration = f"Each point is one calendar month ({r.why_monthly}). " + r.narration


def _one_per_start(kept: list[dict]) -> list[dict]:
    firsts: dict = {}
    for c in sorted(kept, key=lambda c: c["phase_start"]):
        firsts.setdefault(c["phase_start"], c)
    return list(firsts.values())


def measure_results(
    tables: dict[str, pd.DataFrame],
    *,
    service_name: str,
    specs=(),
    changes=(),
    start=None,
    end=None,
    errors: dict[str, str] | None = None,
) -> list[MeasureResult]:
    """Every measure of a service: weekly or monthly series, capability chart data and narration (or a note).

    ``tables``: the service's "demand" (contacts, rules applied) and "cases", whole (the period is cut here, per
    measure); a table the council does not have is left out of the dict. ``errors``: table name -> why a table with
    errors was not read. ``specs``: council.yaml's measures (all five when empty); ``changes``: (date, label) system
    changes, each starting a new phase."""
    specs = list(specs) or [MeasureSpec.model_validate({"id": m}) for m in MEASURES]
    errors = errors or {}
    changes = list(changes)
    results = []
    for spec_ in specs:
        if spec_.custom:
            results.append(_own_measure(spec_, tables, errors, service_name, changes, start, end))
            continue
        name, unit, usual = MEASURES[spec_.id]
        res = MeasureResult(spec_.id, name, unit, spec_.direction or usual, spec_.target, service_name)
        table = TABLE_OF[spec_.id]
        if table in errors:
            res.note = f"{name}: {table}.csv has problems, so this measure is not shown. {errors[table]}".strip()
            results.append(res)
            continue
        frame = tables.get(table)
        if frame is not None:
            res.series, res.grain = measure_series(frame, spec_.id, start=start, end=end)
        if res.grain == "month":
            res.name = _MONTHLY_NAME.get(spec_.id, name)
        present = int(res.series["value"].notna().sum())
        if frame is None:
            res.note = f"No {table} recorded for {service_name}: add {table}.csv to chart {name.lower()}."
        elif (
            spec_.id == "weekly_demand"
            and res.grain == "month"
            and present < 2
            and res.series["n"].sum() == 0
            and frame["received_at"].notna().any()
        ):
            # contacts too few a week for weeks, and not 2 whole months of them either
            res.note = _part_weeks_note(frame, res.name, service_name, "month", start=start, end=end)
            res.series = res.series.iloc[:0]
        elif present < 2:
            res.note = _no_data_note(spec_.id, service_name, res.grain)
        elif spec_.id == "weekly_demand" and res.series["n"].sum() == 0:
            # every contact fell in a part week left out: a chart of whole weeks of 0 contacts would be false
            res.note = _part_weeks_note(frame, res.name, service_name, res.grain, start=start, end=end)
            res.series = res.series.iloc[:0]  # its weeks of 0 would give the report a false data period
        else:
            res = _chart_series(res, [d for d, _ in changes], [label for _, label in changes])
        results.append(res)
    for res in results:
        if res.reading is None:
            res.reading = not_enough(res.note or f"There is not enough data to chart {res.spoken} yet.")
    return results


def _own_measure(spec_: MeasureSpec, tables, errors, service_name, changes, start, end) -> MeasureResult:
    """A measure of the service's own (``custom_measures``), charted as the built-in ones are."""
    res = MeasureResult(
        spec_.id,
        spec_.name,
        spec_.unit,
        spec_.improvement,
        spec_.target,
        service_name,
        said=custom_measures.spoken(spec_),
    )
    bad = [t for t in custom_measures.needs(spec_) if t in errors]
    if bad:
        res.note = f"{res.name}: {bad[0]}.csv has problems, so this measure is not shown. {errors[bad[0]]}".strip()
        return res
    rows = custom_measures.counted(spec_, tables)
    if rows.missing:
        res.note = custom_measures.missing_note(spec_, service_name, rows.missing)
        return res
    for grain in ("week", "month"):
        res.series = _weekly(
            rows.frame, rows.when, rows.hits, rows.counts, kind=rows.kind, start=start, end=end, grain=grain
        )
        res.grain = grain
        if grain == "month" or choose_grain(res.series) == "week":
            break
    if res.series["value"].notna().sum() < 2:
        res.note = custom_measures.no_data_note(spec_, service_name, res.grain, MIN_WEEKLY_COUNT)
        return res
    return _chart_series(res, [d for d, _ in changes], [label for _, label in changes])


def _no_data_note(measure_id: str, service_name: str, grain: str = "week") -> str:
    need = {
        "end_to_end_days": "cases with opened_at, most of them closed (closed_at in cases.csv)",
        "delivered_when_wanted_pct": f"closed cases with a wanted_by date (at least {MIN_WEEKLY_COUNT} a week)",
        "failure_demand_pct": f"classified contacts (value or failure, at least {MIN_WEEKLY_COUNT} a week)",
        "weekly_demand": "contacts in demand.csv",
        "one_stop_pct": f"contacts with one_stop recorded (at least {MIN_WEEKLY_COUNT} a week)",
    }[measure_id]
    name = MEASURES[measure_id][0]
    if grain == "month":
        name = _MONTHLY_NAME.get(measure_id, name)
        need = need.replace(" a week)", " a month)")
    return f"{name} for {service_name}: fewer than 2 {grain}s of data. Needs {need}."


def _part_weeks_note(table: pd.DataFrame, name: str, service_name: str, grain: str, *, start=None, end=None) -> str:
    when = table["received_at"].dropna()
    if start is not None or end is not None:
        when = within_period(table[table["received_at"].notna()], "received_at", start, end)["received_at"]
    span = f" ({words.period(when.min(), when.max(), short=True)})" if len(when) else ""
    if grain == "month":
        return (
            f"{name} for {service_name}: its {words.count(len(when), 'contact')}{span} are fewer than "
            f"{MIN_WEEKLY_COUNT} a week, and do not fill 2 whole months, so there is nothing to chart yet."
        )
    return (
        f"{name} for {service_name}: its {words.count(len(when), 'contact')}{span} "
        "fall only in part weeks at the start and end of the data, so there are not 2 whole weeks to chart."
    )


# ---------------------------------------------------------------------------------------------- the stage
@dataclass
class MeasureData:
    """What the measure stage read and made: the service's contacts (rules applied) and cases, whole (None when the
    council has no such table or it has errors), their problems, the stage's period, and one result per measure."""

    service_name: str
    contacts: pd.DataFrame | None
    cases: pd.DataFrame | None
    results: list[MeasureResult]
    problems: list = field(default_factory=list)  #: errors of a table left out
    rules_problems: list = field(default_factory=list)
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    per_case: CaseCapability | None = None  #: end-to-end time per case (``measure_cases``), when cases are read
    phases: list[dict] = field(default_factory=list)  #: the phases drawn (``Stage.phases``): date, label, source
    checks: list[ChangeCheck] = field(default_factory=list)  #: each change read against the records (``records``)


def load(stage: Stage) -> MeasureData:
    """Read the stage's contacts (with the council's rules, as the demand stage counts them) and cases once, and
    build every measure of its service for its period."""
    tables, errors, problems, rules_problems = {}, {}, [], []
    own = [t for m in stage.service_spec.measures if m.custom for t in custom_measures.needs(m)]
    for name in dict.fromkeys(("demand", "cases", *own)):
        if not stage.has(name):
            continue
        try:
            if name == "demand":
                contacts = stage.contacts(period=False)
                tables[name], rules_problems = contacts.frame, list(contacts.problems)
            else:
                tables[name] = stage.table(name, period=False)
        except ContractError as exc:
            errors[name] = str(exc)
            problems += exc.problems
    svc, used = stage.service_spec, stage.phases()
    changes = [(c.date, c.label) for c in used]
    results = measure_results(
        tables,
        service_name=svc.name,
        specs=svc.measures,
        changes=changes,
        start=stage.start,
        end=stage.end,
        errors=errors,
    )
    e2e = next((r for r in results if r.id == "end_to_end_days"), None)
    per_case = (
        None
        if "cases" not in tables or e2e is None
        else case_capability(
            tables["cases"],
            contacts=tables.get("demand"),
            changes=changes,
            start=stage.start,
            end=stage.end,
            target=e2e.target,
            data_end=endtoend.stage_censor_date(stage),
        )
    )
    if per_case is not None and per_case.cohorts is not None and e2e is not None and e2e.result is not None:
        _read(e2e, per_case=per_case.cohorts)
        if per_case.result is not None:
            per_case.narration = narrate(
                per_case.result,
                measure="end-to-end time per case",
                unit="days",
                phase_labels=per_case.phase_labels or None,
                change_words=f"{per_case.cohorts.sentence} {_reading(e2e).conclusion}",
            )
    checks = _checks(stage, used, tables)
    _credit(results, checks)
    found = _mark(stage, results)
    _suggest(stage, results, used, found)
    return MeasureData(
        svc.name,
        tables.get("demand"),
        tables.get("cases"),
        results,
        problems,
        rules_problems,
        stage.start,
        stage.end,
        per_case,
        [p.figure() for p in used],
        checks,
    )


def _checks(stage, used, tables: dict) -> list[ChangeCheck]:
    """Each change inside the stage's data read against the records (``records.check_changes``); the service's
    events and activity catalogue are read only when there is a change to check."""
    if not used:
        return []
    events = steps = None
    if "cases" in tables and stage.has("events"):
        events, _ = stage.table_or_empty("events", period=False)
    if stage.has("activities"):
        catalogue, _ = stage.table_or_empty("activities", period=False)
        steps = catalogue["activity"].dropna().astype("str").tolist()
    return check_changes(
        used,
        contacts=tables.get("demand"),
        cases=tables.get("cases"),
        events=events,
        steps=steps or (),
        start=stage.start,
        end=stage.end,
    )


def _mark(stage, results: list[MeasureResult]) -> list[Marker]:
    """Each charted measure's markers: the service's learning-log entries and system conditions dated inside it
    (every one of the service's is returned)."""
    tables = {
        name: stage.table_or_empty(name, period=False)[0]
        for name in ("learning_log", "system_conditions")
        if stage.has(name)
    }
    if not tables or stage.service_id is None:
        return []
    found = markers(
        stage.service_id, learning_log=tables.get("learning_log"), conditions=tables.get("system_conditions")
    )
    for r in results:
        if r.result is not None and r.result.has_dates:
            r.markers = within(found, *r.period)
    return found


def _recorded(stage, used, found: list[Marker]) -> list[rebase.Recorded]:
    """The service's recorded changes for ``rebase``: its phases (``used``), its learning-log entries (the markers
    of what the team tried), the conditions marked changed the team turned off as a phase, and the suggestions a
    person declined (council.yaml's ``declined_phases``)."""
    out = [rebase.Recorded(pd.Timestamp(p.date), p.label, p.source, is_phase=True) for p in used]
    out += [rebase.Recorded(m.date, m.text, m.source) for m in found if m.source == "learning log"]
    if stage.has("system_conditions") and stage.service_id is not None:
        frame, _ = stage.table_or_empty("system_conditions", period=False)
        off = frame[
            frame["service"].astype("str").eq(stage.service_id)
            & frame["status"].isin(CHANGED_STATUS).fillna(False)
            & frame["changed_at"].notna()
            & ~frame["phase"].fillna(True).astype(bool)
        ]
        for _, row in off.iterrows():
            out.append(
                rebase.Recorded(
                    pd.Timestamp(row["changed_at"]),
                    str(row["system_condition"]),
                    f"system condition {row['id']}",
                    declined="the team turned it off as a phase",
                )
            )
    for d in stage.council.declined_phases(stage.service_id):
        said = f"declined by {d.declined_by} on {words.date(d.declined_at, short=True)}"
        out.append(rebase.Recorded(pd.Timestamp(d.date), d.label, "council.yaml", declined=said))
    return out


def _suggest(stage, results: list[MeasureResult], used, found: list[Marker]) -> None:
    """Each charted measure's rebase suggestions (``rebase``), from its latest phase's signals; a measure with a
    yearly pattern has none (seasons are not special causes to chase)."""
    if stage.service_id is None:
        return
    changes = _recorded(stage, used, found)
    for r in results:
        if r.result is None or not r.result.has_dates or r.season is not None:
            continue
        shown = rebase.signals(r.result, measure=r.id, name=r.spoken, grain=r.grain)
        r.suggestions = rebase.suggest(shown, changes)


def _credit(results: list[MeasureResult], checks: list[ChangeCheck]) -> None:
    """A measure that changed after a change the records do not show: its reading says so (the change may not be
    what moved it)."""
    unseen = {c.date.date().isoformat(): c for c in checks if c.shown is False}
    for r in results:
        reading = r.reading
        if reading is None or not reading.change or reading.value not in ("improvement", "concern", "change"):
            continue
        check = unseen.get(reading.change["date"])
        if check is not None:
            extra = (
                " But the records do not show the change itself (see the changes read against the records), so "
                "find out what else changed before crediting it."
            )
            reading.sentence += extra
            reading.conclusion = (reading.conclusion + extra).strip()


def for_stage(stage) -> list[MeasureResult]:
    return load(stage).results  # the measures of a stage, as older notebooks read them


def _results(
    data: MeasureData | list[MeasureResult],
) -> list[MeasureResult]:  # a MeasureData, or (older notebooks) its list of results
    return data.results if isinstance(data, MeasureData) else list(data)


# ----------------------------------------------------------------------------------------------- outputs
def _last_signal(result: spc.XmrResult) -> str | None:
    signals = result.points.loc[result.points["value"].notna(), "signal"]
    return None if signals.empty else str(signals.iloc[-1])


SUMMARY_COLUMNS = [
    "Measure",
    "Unit",
    "Points",
    "Current mean",
    "Lower limit",
    "Upper limit",
    "Latest point",
    "Reading",
    "Assurance",
    "Since",
]


def _summary_row(name: str, unit: str, result: spc.XmrResult | None, reading: Reading | None, target) -> dict:
    row = {c: "" for c in SUMMARY_COLUMNS} | {
        "Measure": name,
        "Unit": unit,
        "Points": 0,
        "Current mean": np.nan,
        "Lower limit": np.nan,
        "Upper limit": np.nan,
    }
    if result is None:
        return row
    ph = result.current
    row.update(
        {
            "Points": int(result.points["value"].notna().sum()),
            "Current mean": ph["mean"],
            "Lower limit": ph["lower"],
            "Upper limit": ph["upper"],
            "Latest point": reading.latest_words if reading else "",
            "Reading": reading.words if reading else "",
            "Assurance": ASSURANCE_WORDS.get(result.assurance, "no target")
            if result.assurance
            else ("no target" if target is None else "not assessed"),
            "Since": words.date(ph["start"], short=True) + (" (trial limits)" if ph["trial"] else "")
            if result.has_dates
            else f"case {int(ph['start']) + 1}" + (" (trial limits)" if ph["trial"] else ""),
        }
    )
    return row


def measure_summary(data) -> pd.DataFrame:
    """One row per measure: its points, the latest phase's mean and limits, what the latest point is, the measure's
    reading (``reading``) and its assurance; end-to-end time has a second row right under it for its cases (the
    per-case limits beside the weekly ones, with the same reading). A monthly measure's name says "(by month)"."""
    results = _results(data)
    per_case = getattr(data, "per_case", None)
    rows = []
    for r in results:
        label = r.name + (" (by month)" if r.grain == "month" and "per month" not in r.name else "")
        if r.id == "end_to_end_days" and r.grain == "week":
            label += " (weekly median)"
        row = _summary_row(label, r.unit, r.result, r.reading, r.target)
        if r.result is None:
            row["Reading"] = r.note or "no data"
        rows.append(row)
        if r.id == "end_to_end_days" and per_case is not None and per_case.result is not None:
            rows.append(_summary_row("End-to-end time (per case)", "days", per_case.result, r.reading, r.target))
            rows[-1]["Latest point"] = LATEST_WORDS[per_case.result.variation]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _points(a: spc.XmrResult) -> list[dict]:
    """The charted points, for the councils compared on the top index: {date, value, signal} each (value to 4
    decimals; signal "common_cause", "improvement", "concern" or "neutral", as the capability chart colours it).
    Positions instead of dates give an empty list."""
    if not a.has_dates:
        return []
    pts = a.points[a.points["value"].notna()]  # a missing week is not charted (n_points counts the charted)
    return [
        {"date": _iso(d), "value": round(float(v), 4), "signal": str(s)}
        for d, v, s in zip(pts["date"], pts["value"], pts["signal"])
    ]


def measure_figures(results: list[MeasureResult]) -> dict:
    """JSON-able key figures for ``measure.json``: {"measures": {id: {name, grain, direction, phases, points, ...}}};
    grain is "week" or "month" (what one point covers); points are the charted {date, value, signal}."""
    out = {}
    for r in results:
        entry: dict = {
            "name": r.name,
            "grain": r.grain,
            "unit": r.unit,
            "direction": r.direction,
            "target": r.target,
            "phases": [],
            "last_point_signal": None,
            "variation": None,
            "assurance": None,
            "change_signal": None,
            "n_points": 0,
            "points": [],
            "narration": r.narration,
            "note": r.note,
            "reading": r.reading.figure() if r.reading is not None else None,
            "markers": [m.figure() for m in r.markers],
            "phase_suggestions": [x.figure() for x in r.suggestions],
        }
        if r.result is not None:
            a = r.result
            entry.update(
                {
                    "phases": [
                        {
                            "start": _iso(p["start"]),
                            "end": _iso(p["end"]),
                            "n": p["n"],
                            "mean": p["mean"],
                            "lower": p["lower"],
                            "upper": p["upper"],
                            "trial": p["trial"],
                            "label": (r.phase_labels[p["phase"] - 1] if p["phase"] >= 1 else None),
                            "change_signal": (p.get("change") or {}).get("signal"),
                        }
                        for p in a.phases
                    ],
                    "last_point_signal": _last_signal(r.result),
                    "variation": a.variation,
                    "assurance": a.assurance,
                    "change_signal": (a.current.get("change") or {}).get("signal"),
                    "n_points": int(a.n),
                    "points": _points(a),
                }
            )
        out[r.id] = entry
    return {"measures": out}


# ------------------------------------------------------------------------------------------------- words
def chart_title(r: MeasureResult) -> str:
    """'End-to-end time (weekly median, by week opened), 1 Jan 2024 to 29 Dec 2024 (52 weeks, 1,204 cases opened)'.

    Monthly, a second line says why: 'End-to-end time (by month opened), 1 Jan 2024 to 31 Dec 2024 (12 months, 150
    cases opened)' and 'Monthly median, because fewer than 5 cases a week' (two lines keep the chart full width)."""
    first, last = r.period
    span = words.period(first, last, short=True)
    points = int(r.series["value"].notna().sum())
    count = int(r.series.loc[r.series["value"].notna(), "n"].sum())
    if r.grain == "month":
        label = r.name + (
            "" if "per month" in r.name else " (by month opened)" if r.id == "end_to_end_days" else " (by month)"
        )
    else:
        label = r.name + (" (weekly median, by week opened)" if r.id == "end_to_end_days" else "")
    title = f"{label}, {span} ({words.count(points, r.grain)}, {words.number(count)} {r._said[1]})"
    if r.grain == "month":
        title += "\n" + r.why_monthly[0].upper() + r.why_monthly[1:]
    return title


_SAID = {
    "improvement": "a real improvement in {}",
    "concern": "a real change for the worse in {}",
    "change": "a real change in {}",
    "no change": "no lasting change in {}",
    "not enough data": "too soon to tell for {}",
}


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _reading(r: MeasureResult) -> Reading:
    """A charted measure's reading (every charted measure is read when it is built)."""
    if r.reading is None:
        raise ValueError(f"{r.name} has not been read")
    return r.reading


def _change(r: MeasureResult) -> dict:
    """The latest recorded change a charted measure is read against (``_reading(r).change``, known to be set)."""
    change = _reading(r).change
    if not change:
        raise ValueError(f"{r.name} is read against no change")
    return change


def headline(data, service_name: str | None = None) -> str:
    """One sentence for the top of the report, from the measures' readings (``reading``): how many are charted, what
    each shows since the latest recorded change, and which show a special cause with no recorded change nearby.
    (Older notebooks pass the list of results and the service name.)"""
    results = _results(data)
    service_name = service_name or data.service_name
    charted = [r for r in results if r.result is not None]
    if not charted:
        return f"No measure of {service_name} has enough data for a capability chart yet."
    parts = [f"{len(charted)} of {len(results)} measures of {service_name} are charted"]
    judged = [r for r in charted if _reading(r).change]
    if judged:
        latest = max((_change(r) for r in judged), key=lambda c: c["date"])
        said = [
            _SAID[value].format(_names([r.name.lower() for r in judged if _reading(r).value == value]))
            for value in _SAID
            if any(_reading(r).value == value for r in judged)
        ]
        parts.append(
            f"since \u201c{latest['label']}\u201d ({words.date(latest['date'], short=True)}): " + "; ".join(said)
        )
    else:
        parts.append("no system change is recorded yet")
    unexplained = [
        r.name.lower()
        for r in charted
        if not _reading(r).change and _reading(r).value in ("improvement", "concern", "change")
    ]
    if unexplained:
        parts.append(
            f"the latest point of {_names(unexplained)} is a special cause with no recorded change nearby: find out "
            "what happened"
        )
    return "; ".join(parts) + "."


def _figure(value, unit: str) -> str:
    text = words.figure(value)
    return f"{text}%" if unit.startswith("%") else f"{text} {unit}".rstrip()


def findings(data, *, most: int = 4) -> list[str]:
    """What we found, for the top of the page: the headline, then what each charted measure predictably achieves
    now (the latest phase's mean and process limits) and what its latest point shows, with the latest phase's
    points and period (the figures' own, not the whole series'); the figures of ``figures``."""
    out = [headline(data)]
    for r in [r for r in _results(data) if r.result is not None][:most]:
        chart = r.result
        if chart is None:  # never: for the type checker
            continue
        now = chart.current
        if now["upper"] is None or now["mean"] is None:
            continue
        latest = r.reading.latest_words if r.reading is not None else LATEST_WORDS.get(chart.variation, "")
        points_now = chart.points[chart.points["phase"] == now["phase"]]
        # the count and period of the points the mean and limits come from: the latest phase's, not the series'
        counted = points_now[points_now["value"].notna()]
        when = (
            words.period(counted["date"].min(), r.period[1], short=True)  # the latest phase runs to the end
            if chart.has_dates and len(counted)
            else words.period(*r.period, short=True)
        )
        span = f"{words.count(len(counted), r.grain)}, {when}"
        settled = points_now["signal"].dropna().eq("common_cause").all()
        low, high = _figure(now["lower"], r.unit), _figure(now["upper"], r.unit)
        spread = (
            f"predictably between {low} and {high}"
            if settled
            else f"process limits {low} to {high}, but special causes mean it is not yet predictable"
        )
        out.append(f"{r.name}: {_figure(now['mean'], r.unit)} on average, {spread}; latest point: {latest} ({span}).")
    return out


QUESTIONS = (
    "What is each measure telling us about the system, in the citizen's terms, not against a target?",
    "Which changes are real (a signal after a known change) and which are noise we should stop reacting to?",
    "What does the system predictably achieve now, and is that good enough for the citizen's purpose?",
    "Where a measure is getting worse, which system condition could be behind it, and who can change it?",
    "Is every phase boundary a real, recorded change to the system? (Rebase only at a known change.)",
)


def questions(data: MeasureData | None = None) -> list[str]:
    """Questions a team should ask at the measure stage."""
    return list(QUESTIONS)


def figures(data: MeasureData) -> dict:
    """What ``measure.json`` holds besides the stage's meta: ``measure_figures`` of the stage's results, the phases
    drawn (``phases_used``: date, label, source: council.yaml or the system condition), and the end-to-end time per
    case (``end_to_end_per_case``) when the cases were read."""
    out = measure_figures(_results(data))
    if isinstance(data, MeasureData):
        out["phases_used"] = data.phases
        out["changes_checked"] = [c.figure() for c in data.checks]
    if data.per_case is not None:
        out["end_to_end_per_case"] = per_case_figures(data.per_case)
    return out


def period(data: MeasureData | list[MeasureResult]) -> tuple:
    """First and last day covered by any measure's series (None, None without data)."""
    results = _results(data)
    firsts = [r.period[0] for r in results if r.period[0] is not None]
    lasts = [r.period[1] for r in results if r.period[1] is not None]
    return (min(firsts), max(lasts)) if firsts else (None, None)


def summary_caption(data, service_name: str | None = None) -> str:
    """'Measures of Housing repairs, 1 January 2024 to 29 December 2024 (4 of 5 charted)'."""
    results = _results(data)
    service_name = service_name or data.service_name
    first, last = period(results)
    charted = sum(r.result is not None for r in results)
    return (
        f"Measures of {service_name}, {words.period(first, last)} ({charted} of {len(results)} charted; "
        "points are weeks, months or, per case, finished cases; current mean and limits are those of the latest "
        "phase; the reading is the measure's, the latest point only the last one)"
    )
