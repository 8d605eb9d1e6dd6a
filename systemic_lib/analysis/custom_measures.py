"""A service's own measures, derived from its purpose and defined in council.yaml with no code.

A measure of a service's own (``council.MeasureSpec`` with ``share:`` or ``count:``) counts rows of one table, the
service's contacts (``demand``, rules applied) or its ``cases``, by the week (or month) of one of its date columns
(``by``). ``share`` is the % of rows that ``matching`` picks, of all the rows or of those ``where`` picks; ``count``
is the rows a week (those ``matching`` picks, if given). The tests a row can be counted by:

* ``column`` with ``pattern`` (a case-insensitive regular expression) or ``equals`` (a value, e.g. ``yes``):
  "% of contacts about X" is ``share: {of: demand, matching: {column: demand_type, pattern: "boiler"}}``;
* ``no_contact_within_days: N`` (cases): no contact linked to the case (``demand.case_id``) received in the N days
  after it closed. A case still open, or closed fewer than N days before the contacts end, is not counted yet (its N
  days have not passed): "% of cases with no repeat contact within 30 days of closing";
* ``no_step_of_category: C`` (cases): no step in ``events`` whose activity ``activities.csv`` puts in category C. A
  case with no step recorded is not counted: "% right first time" is ``no_step_of_category: rework``.

``counted`` turns a definition and the service's tables into the rows, their date column, what each counts and
which count at all, or says which table is missing; ``measure`` builds the weekly series from them, the same way
as the built-in measures. Analysis only: it takes tables, never a council, and reads no file.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from systemic_lib.data.council import MatchSpec, MeasureSpec
from systemic_lib.data.patterns import contains

__all__ = ["Counted", "counted", "needs", "spoken", "no_data_note", "YES"]

YES = ("yes", "y", "true", "1")


@dataclass
class Counted:
    """The rows of a measure's table (``frame``), the date column its weeks come from, and per row: whether it is
    counted at all (``counts``) and whether it is a hit (``hits``, the share's top line). ``kind``: "pct" or
    "count". ``missing`` names the tables it needs and the service does not have (then nothing else is set)."""

    frame: pd.DataFrame | None = None
    when: str = ""
    hits: pd.Series | None = None
    counts: pd.Series | None = None
    kind: str = "pct"
    missing: tuple[str, ...] = ()


def needs(spec: MeasureSpec) -> tuple[str, ...]:
    """The tables a measure reads: its own, and demand (linked contacts) or events and activities (steps)."""
    d = spec.counted
    out = [d.of]
    for test in (d.matching, d.where):
        if test is not None and test.no_contact_within_days:
            out.append("demand")
        if test is not None and test.no_step_of_category:
            out += ["events", "activities"]
    return tuple(dict.fromkeys(out))


def counted(spec: MeasureSpec, tables: dict[str, pd.DataFrame]) -> Counted:
    """What a measure of the service's own counts, row by row, from the service's tables (name -> frame)."""
    missing = tuple(t for t in needs(spec) if tables.get(t) is None)
    if missing:
        return Counted(missing=missing)
    d = spec.counted
    frame = tables[d.of]
    counts = pd.Series(True, index=frame.index)
    if d.where is not None:
        hit, known = _test(d.where, frame, tables)
        counts &= hit & known
    if d.matching is None:
        return Counted(frame[counts], d.date, counts[counts], counts[counts], "count")
    hit, known = _test(d.matching, frame, tables)
    if spec.count is not None:
        keep = counts & hit & known
        return Counted(frame[keep], d.date, keep[keep], keep[keep], "count")
    counts &= known
    return Counted(frame, d.date, (hit & counts), counts, "pct")


def _test(test: MatchSpec, frame: pd.DataFrame, tables) -> tuple[pd.Series, pd.Series]:
    """(hit, known) per row: whether the row passes the test, and whether that can be known yet."""
    known = pd.Series(True, index=frame.index)
    if test.column is not None:
        values = frame[test.column]
        if pd.api.types.is_bool_dtype(values) or str(values.dtype) == "boolean":
            want = str(test.equals if test.equals is not None else test.pattern).strip().lower() in YES
            return (values.astype("boolean") == want).fillna(False).astype(bool), known
        text = values.astype("string")
        if test.equals is not None:
            hit = text.str.strip().str.lower() == test.equals.strip().lower()
        else:
            hit = pd.Series(contains(values, test.pattern or ""), index=frame.index)  # RE2: linear in the text
        return hit.fillna(False).astype(bool), known
    if test.no_contact_within_days is not None:
        return _no_contact_within(frame, tables["demand"], test.no_contact_within_days)
    if test.no_step_of_category is not None:
        return _no_step_of(frame, tables["events"], tables["activities"], test.no_step_of_category)
    raise ValueError("a match test names a column, no_contact_within_days or no_step_of_category (MatchSpec)")


def _no_contact_within(cases: pd.DataFrame, contacts: pd.DataFrame, days: int) -> tuple[pd.Series, pd.Series]:
    """Cases with no linked contact in the ``days`` after closing; known once closed and ``days`` have passed."""
    window = pd.Timedelta(days=days)
    data_end = contacts["received_at"].max()
    closed = cases["closed_at"]
    known = closed.notna() & (closed + window <= data_end) if pd.notna(data_end) else closed.notna() & False
    linked = contacts.loc[contacts["case_id"].notna() & contacts["received_at"].notna(), ["case_id", "received_at"]]
    joined = linked.merge(cases.loc[known, ["case_id", "closed_at"]], on="case_id")
    after = joined["received_at"] - joined["closed_at"]
    repeat = set(joined.loc[(after > pd.Timedelta(0)) & (after <= window), "case_id"])
    hit = ~cases["case_id"].isin(repeat)
    return (hit & known).astype(bool), known.astype(bool)


def _no_step_of(
    cases: pd.DataFrame, events: pd.DataFrame, activities: pd.DataFrame, category: str
) -> tuple[pd.Series, pd.Series]:
    """Cases with no step whose activity is of ``category``; known where the case has a step recorded."""
    of_category = set(activities.loc[activities["category"].astype("string") == category, "activity"])
    known = cases["case_id"].isin(set(events["case_id"]))
    bad = set(events.loc[events["activity"].isin(of_category), "case_id"])
    return (known & ~cases["case_id"].isin(bad)).astype(bool), known.astype(bool)


# -------------------------------------------------------------------------------------------------- words
def spoken(spec: MeasureSpec) -> tuple[str, str, str]:
    """How the measure reads mid-sentence, what one point stands for, and what too few a week are of."""
    d = spec.counted
    rows = (
        "contacts"
        if d.of == "demand"
        else f"cases {'opened' if d.date == 'opened_at' else 'closed'}"
        if d.date != "wanted_by"
        else "cases wanted by then"
    )
    name = spec.name[:1].lower() + spec.name[1:] if spec.name[1:2].islower() or len(spec.name) < 2 else spec.name
    return name, rows, "contacts" if d.of == "demand" else "cases"


def no_data_note(spec: MeasureSpec, service_name: str, grain: str, min_count: int) -> str:
    d = spec.counted
    rows = "contacts" if d.of == "demand" else "cases"
    need = f"{rows} with {d.date}" + (f" that count (at least {min_count} a {grain})" if spec.share else "")
    return f"{spec.name} for {service_name}: fewer than 2 {grain}s of data. Needs {need}."


def missing_note(spec: MeasureSpec, service_name: str, missing: tuple[str, ...]) -> str:
    files = " and ".join(f"{t}.csv" for t in missing)
    return (
        f"No {' or '.join(missing)} recorded for {service_name}: add {files} to chart {spec.name[:1].lower()}"
        f"{spec.name[1:]}."
    )
