"""The event log prepared once: how a service's cases really flow end to end, from the events table.

Everything is computed once over factorised codes (numpy), so a five-million-event log takes seconds:
per case (end-to-end days, steps, value and waste steps, hand-offs, people, rework, touch hours), per service
(median, 85th percentile and mean end-to-end days, rework share, hand-offs and people per case, value-step share),
the most common paths (variants), the clean flow, and the directly-follows graph with the median wait between steps.

Bad input is never dropped silently: ``FlowLog.problems`` counts events with no case id or timestamp (set aside,
they cannot be placed in a flow), exact duplicate events (removed), events out of order (sorted), times carrying a
time zone (converted to local time), single-event cases (kept; their end-to-end time is the one definition's, not
0 days), activities missing from the catalogue (kept and counted as unclassified) and open cases (kept, counted as
still waiting in end-to-end times).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.analysis.endtoend import (
    EndToEndCases,
    case_ids,
    case_times,
    closing_activities,
    from_steps,
    survival,
)
from systemic_lib.data.contract import CATEGORIES, STEP_TYPES, WARNING, Problem
from systemic_lib.data.times import LOCAL_ZONE, local_times
from systemic_lib.errors import SystemicError

CATEGORY_COLUMNS = {c: "n_" + c.replace("-", "_") for c in CATEGORIES}
CASE_COLUMNS = [
    "case_id",
    "service",
    "first_at",
    "last_at",
    "end_to_end_days",
    "steps",
    "value_steps",
    "waste_steps",
    "unclassified_steps",
    "handoffs",
    "people",
    "rework",
    "touch_hours",
    "face_to_face_hours",
    *CATEGORY_COLUMNS.values(),
]
_NS_PER_DAY = 86_400 * 10**9
_NAT = np.iinfo(np.int64).min  # NaT as int64 nanoseconds
_UNCLASSIFIED = len(STEP_TYPES)  # step code 0 value, 1 waste, 2 unclassified


@dataclass
class FlowProblems:
    """What was wrong with the events and what was done about it, with counts."""

    file: str = "events.csv"
    events_in: int = 0
    no_case_id: int = 0
    no_timestamp: int = 0
    duplicates: int = 0
    unsorted: int = 0
    zone_converted: int = 0
    single_event_cases: int = 0
    single_event_open: int = 0  #: of the single-event cases, those still open
    open_cases: int = 0
    no_catalogue: bool = False
    unclassified: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["service", "activity", "events"]))
    first_row: dict = field(default_factory=dict)  #: check -> first spreadsheet row (header is row 1)

    @property
    def unclassified_events(self) -> int:
        return int(self.unclassified["events"].sum()) if len(self.unclassified) else 0

    def table(self) -> pd.DataFrame:
        """One line per check, in plain words: how many events or cases and what was done."""
        rows = [
            ("Events with no case id", self.no_case_id, "set aside: a step with no case cannot be placed in a flow"),
            ("Events with no date/time", self.no_timestamp, "set aside: a step with no time cannot be ordered"),
            ("Exact duplicate events", self.duplicates, "removed: each was counted once"),
            ("Events out of order", self.unsorted, "sorted by case, then time (file order breaks ties)"),
            ("Times carrying a time zone", self.zone_converted, "converted to local time"),
            ("Cases with a single event", self.single_event_cases, self._single_words()),
            (
                "Events of activities not in the catalogue",
                self.unclassified_events,
                "kept and counted as unclassified (neither value nor waste)",
            ),
            (
                "Open cases (no end yet)",
                self.open_cases,
                "kept, and counted in end-to-end times as still waiting (Kaplan–Meier), never as finished",
            ),
        ]
        return pd.DataFrame(rows, columns=["check", "count", "what was done"])

    def _single_words(self) -> str:
        """What a single-event case's end-to-end time is: the one definition's, never 0 days for having one step."""
        n, still = self.single_event_cases, self.single_event_open
        state = (
            "all still open" if n and still == n else f"{words.number(still)} still open" if still else "all finished"
        )
        return (
            f"kept ({state}); only one step is recorded, but each case's end-to-end time still runs from the "
            "citizen's first contact to the case closing"
        )

    def as_problems(self) -> list[Problem]:
        """The checks that found something, as contract problems (warnings) for ``report.problems``."""
        out = []
        fixes = {
            "Events with no case id": ("case_id", "fill in the case each step belongs to"),
            "Events with no date/time": ("timestamp", "fill in when the step was completed (YYYY-MM-DD HH:MM)"),
            "Exact duplicate events": (None, "delete the repeated rows"),
            "Events out of order": (None, "no action needed; sorting the file by case_id then timestamp avoids it"),
            "Times carrying a time zone": ("timestamp", "no action needed; write local times to avoid it"),
            "Cases with a single event": (None, "check whether the other steps of these cases were recorded"),
            "Events of activities not in the catalogue": (
                "activity",
                "add these activities to activities.csv as value or waste: " + self._unclassified_names(),
            ),
            "Open cases (no end yet)": (None, "no action needed; fill in closed_at in cases.csv when a case ends"),
        }
        for check, count, done in self.table().itertuples(index=False):
            if count:
                column, fix = fixes[check]
                out.append(
                    Problem(
                        self.file,
                        f"{check.lower()}: {done}",
                        fix,
                        row=self.first_row.get(check),
                        column=column,
                        severity=WARNING,
                        count=int(count),
                    )
                )
        if self.no_catalogue:
            out.append(
                Problem(
                    "activities.csv",
                    "is missing or lists no activity of this service, so no step is marked value or waste",
                    "add activities.csv with each activity as value or waste",
                    severity=WARNING,
                )
            )
        return out

    def _unclassified_names(self, n: int = 5) -> str:
        names = self.unclassified.sort_values("events", ascending=False)["activity"].head(n).tolist()
        more = len(self.unclassified) - len(names)
        return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def _text(series: pd.Series) -> pd.Series:
    """Strip text; blank becomes missing."""
    s = series.astype("str")
    s = s.str.strip()
    return s.where(series.notna() & s.ne(""))


def _unique_keys(key: np.ndarray) -> np.ndarray:
    """Distinct keys of a case-major key array (events sorted by case): timsort runs make this ~3x faster than hashing."""
    s = np.sort(key, kind="stable")
    return s[np.r_[True, s[1:] != s[:-1]]] if len(s) else s


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Factorised codes (-1 for missing) and their labels."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64, copy=False), pd.Index(uniques)


def _text_codes(values: pd.Series, *, blank: str | None = None) -> tuple[np.ndarray, pd.Index]:
    """Codes of trimmed text, -1 for missing or blank (or the label ``blank`` for those, if given).

    Trims the distinct values, not every row: as ``_codes(_text(values))`` but a fraction of the work on a long log.
    """
    codes, uniques = _codes(values)
    labels = pd.Series(uniques, dtype="str").str.strip()
    labels = labels.where(labels.ne("") & labels.notna())
    if blank is not None and ((codes < 0).any() or labels.isna().any()):
        labels = labels.fillna(blank)
        codes = np.where(codes < 0, len(labels), codes)
        labels = pd.concat([labels, pd.Series([blank], dtype="str")], ignore_index=True)
    merged, final = pd.factorize(labels, use_na_sentinel=True)
    lookup = np.append(merged.astype(np.int64), -1)  # a missing value's code -1 stays -1
    return lookup[codes], pd.Index(final)


def _sorted_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes of trimmed text numbered in the sorted order of their labels (so sorting codes sorts labels)."""
    codes, uniques = _text_codes(values)
    order = np.argsort(uniques.to_numpy(dtype=object), kind="stable") if len(uniques) else np.array([], dtype=np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return np.where(codes >= 0, rank[np.maximum(codes, 0)] if len(rank) else codes, -1), uniques[order]


class FlowLog:
    """A service's events prepared once (cleaned, sorted, factorised) for every flow figure.

    ``FlowLog(events, catalogue=activities, cases=cases)``; events need ``case_id``, ``activity`` and
    ``timestamp``; ``service``, ``worker``, ``team``, ``hours`` and ``face_to_face`` are used when present.
    """

    def __init__(
        self,
        data: pd.DataFrame,
        *,
        catalogue: pd.DataFrame | None = None,
        cases: pd.DataFrame | None = None,
        local_zone: str = LOCAL_ZONE,
        file: str = "events.csv",
        contacts: pd.DataFrame | None = None,
        data_end=None,
        closing=(),
    ):
        missing = [c for c in ("case_id", "activity", "timestamp") if c not in data.columns]
        if missing:
            raise SystemicError(
                f"{file}: required column(s) {', '.join(missing)} missing; the events table needs "
                "case_id, service, activity and timestamp (see README, events.csv)"
            )
        p = self.problems = FlowProblems(file=file, events_in=len(data))
        ts, p.zone_converted = local_times(data["timestamp"], local_zone)
        case, self._case_labels = _sorted_codes(data["case_id"])
        no_case = case < 0
        no_ts = ts.isna().to_numpy() & ~no_case
        p.no_case_id, p.no_timestamp = int(no_case.sum()), int(no_ts.sum())
        for check, mask in (("Events with no case id", no_case), ("Events with no date/time", no_ts)):
            if mask.any():
                p.first_row[check] = int(np.flatnonzero(mask)[0]) + 2
        keep = np.flatnonzero(~(no_case | no_ts))
        frame = data.iloc[keep]
        case = case[keep]
        t = ts.iloc[keep].to_numpy().view(np.int64)
        act, self.activity_labels = _text_codes(frame["activity"], blank="(blank activity)")
        svc, self.service_labels = (
            _text_codes(frame["service"], blank="") if "service" in frame else _codes(pd.Series("", index=frame.index))
        )
        none = (np.full(len(keep), -1, dtype=np.int64), pd.Index([], dtype=object))
        worker, self.worker_labels = _text_codes(frame["worker"]) if "worker" in frame else none
        team, self.team_labels = _text_codes(frame["team"]) if "team" in frame else none
        hours = (
            pd.to_numeric(frame["hours"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            if "hours" in frame
            else np.full(len(keep), np.nan)
        )
        f2f = (
            frame["face_to_face"].astype("boolean").fillna(False).to_numpy(dtype=bool)
            if "face_to_face" in frame
            else np.zeros(len(keep), bool)
        )
        rows = keep  # original positions, for problem rows

        # Order: by case, then time; file order breaks ties (lexsort is stable).
        n = len(case)
        if n > 1:
            in_order = (case[1:] > case[:-1]) | ((case[1:] == case[:-1]) & (t[1:] >= t[:-1]))
            p.unsorted = int(n - 1 - in_order.sum())
            if p.unsorted:
                p.first_row["Events out of order"] = int(rows[1:][~in_order][0]) + 2
                order = np.lexsort((t, case))
                case, t, act, svc, worker, team, hours, f2f, rows = (
                    a[order] for a in (case, t, act, svc, worker, team, hours, f2f, rows)
                )
        # Exact duplicates can only sit inside a run of events with the same case and time.
        if n > 1:
            tie = (case[1:] == case[:-1]) & (t[1:] == t[:-1])
            if tie.any():
                cand = np.zeros(n, bool)
                cand[1:] |= tie
                cand[:-1] |= tie
                idx = np.flatnonzero(cand)
                sub = pd.DataFrame(
                    {
                        "c": case[idx],
                        "t": t[idx],
                        "a": act[idx],
                        "s": svc[idx],
                        "w": worker[idx],
                        "m": team[idx],
                        "h": hours[idx],
                        "f": f2f[idx],
                    }
                )
                extra = [c for c in ("start",) if c in frame]
                for c in extra:
                    sub[c] = frame[c].to_numpy()[np.searchsorted(keep, rows[idx])]
                dup = sub.duplicated().to_numpy()
                if dup.any():
                    p.duplicates = int(dup.sum())
                    p.first_row["Exact duplicate events"] = int(rows[idx[dup]].min()) + 2
                    drop = np.ones(n, bool)
                    drop[idx[dup]] = False
                    case, t, act, svc, worker, team, hours, f2f, rows = (
                        a[drop] for a in (case, t, act, svc, worker, team, hours, f2f, rows)
                    )
                    n = len(case)
        self.case_code, self.ts, self.act, self.svc = case, t, act, svc
        self.worker, self.team, self.hours, self.f2f = worker, team, hours, f2f
        self.n_events = n
        # Case boundaries (events are sorted by case).
        new_case = np.ones(n, bool)
        new_case[1:] = case[1:] != case[:-1]
        self.starts = np.flatnonzero(new_case)
        self.case_index = np.cumsum(new_case) - 1  # 0..n_cases-1 per event
        self.case_ids = self._case_labels[case[self.starts]] if n else pd.Index([], dtype=object)
        self.ends = np.append(self.starts[1:], n) if n else np.array([], np.int64)  # exclusive
        self.steps = self.ends - self.starts
        p.single_event_cases = int((self.steps == 1).sum())
        self._classify(catalogue)
        self._cases, self._catalogue = cases, catalogue
        # the one definition's start (contacts), censoring date and closing activities (council.yaml's closes_case)
        self._contacts, self._data_end, self._closing = contacts, data_end, tuple(closing)
        self.open_case = self.end_to_end_cases.frame["open"].to_numpy(dtype=bool)[: self.n_cases]
        p.open_cases = self.end_to_end_cases.n_open  # every case of the service, as every page counts them
        p.single_event_open = int((self.open_case & (self.steps == 1)).sum())

    @cached_property
    def end_to_end_cases(self) -> EndToEndCases:
        """Each case's start, end and whether it is open, by the one definition (``endtoend``), from the events,
        cases, catalogue and linked contacts this log was made from, open cases censored at ``data_end`` (the
        service's one censoring date, ``endtoend.censor_date``; ``flow.load`` passes it)."""
        # Per case, from the integer codes: the first step (events are sorted by case, then time) and the last
        # closing step; text case ids are used only to join cases and contacts (``endtoend.from_steps``).
        n, nc = self.n_events, self.n_cases
        if not n and self._cases is not None and len(self._cases):  # a cases export with no steps recorded
            return case_times(cases=self._cases, contacts=self._contacts, data_end=self._data_end)
        closing_at = np.full(nc, _NAT, np.int64)
        marked = closing_activities(self._catalogue, self._closing)
        if marked and n:
            acts, svcs = pd.Index(self.activity_labels.astype(str)), pd.Index(self.service_labels.astype(str))
            anywhere = acts.get_indexer([a for s_, a in marked if s_ == ""])
            pairs = [(svcs.get_indexer([s_])[0], acts.get_indexer([a])[0]) for s_, a in marked if s_ != ""]
            closes = np.isin(self.act, anywhere[anywhere >= 0])
            for s_code, a_code in pairs:
                if s_code >= 0 and a_code >= 0:
                    closes |= (self.svc == s_code) & (self.act == a_code)
            rows = np.flatnonzero(closes)
            last = rows[np.r_[self.case_index[rows][1:] != self.case_index[rows][:-1], True]] if len(rows) else rows
            closing_at[self.case_index[last]] = self.ts[last]  # times rise within a case: the last is the latest
        step_service = self.service_labels.astype(str).array.take(self.svc[self.starts]) if nc else None
        # every case counts (``case_ids``): those with steps, in this log's order, then cases.csv's with none yet
        index = case_ids(pd.Index(self.case_ids.astype(str)), self._cases)
        first_step, extra = self.ts[self.starts], len(index) - nc
        if extra:
            first_step = np.append(first_step, np.full(extra, _NAT, np.int64))
            closing_at = np.append(closing_at, np.full(extra, _NAT, np.int64))
            step_service = np.append(np.asarray(step_service, dtype=object), np.full(extra, np.nan, dtype=object))
        return from_steps(
            index,
            first_step=first_step,
            closing_at=closing_at,
            step_service=step_service,
            step_last=int(self.ts.max()) if n else None,
            cases=self._cases,
            contacts=self._contacts,
            data_end=self._data_end,
        )

    def _classify(self, catalogue: pd.DataFrame | None) -> None:
        """Step type and category per event from the catalogue (service, activity); -1 when not listed."""
        n_svc, n_act = max(len(self.service_labels), 1), max(len(self.activity_labels), 1)
        step_lut = np.full(n_svc * n_act, _UNCLASSIFIED, dtype=np.int8)
        cat_lut = np.full(n_svc * n_act, -1, dtype=np.int8)
        usable = catalogue is not None and len(catalogue) > 0
        if catalogue is not None and usable:
            cat = catalogue.dropna(subset=["activity"]).copy()
            cat["service"] = _text(cat["service"]).fillna("") if "service" in cat else ""
            cat["activity"] = _text(cat["activity"])
            cat = cat.drop_duplicates(["service", "activity"])
            s = pd.Index(self.service_labels).get_indexer(cat["service"])
            a = pd.Index(self.activity_labels).get_indexer(cat["activity"])
            ok = (s >= 0) & (a >= 0)
            usable = bool(ok.any())
            key = s[ok] * n_act + a[ok]
            step_lut[key] = pd.Categorical(cat["step_type"].to_numpy()[ok], categories=STEP_TYPES).codes.clip(-1)
            step_lut[key] = np.where(step_lut[key] < 0, _UNCLASSIFIED, step_lut[key])
            cat_lut[key] = pd.Categorical(cat["category"].to_numpy()[ok], categories=CATEGORIES).codes
        self.problems.no_catalogue = not usable and self.n_events > 0
        key = self.svc.clip(0) * n_act + self.act
        self.step = step_lut[key] if self.n_events else np.array([], np.int8)
        self.category = cat_lut[key] if self.n_events else np.array([], np.int8)
        un = self.step == _UNCLASSIFIED
        if un.any():
            k, counts = np.unique(key[un], return_counts=True)
            self.problems.unclassified = pd.DataFrame(
                {
                    "service": self.service_labels[k // n_act].astype(str),
                    "activity": self.activity_labels[k % n_act].astype(str),
                    "events": counts,
                }
            ).sort_values("events", ascending=False, ignore_index=True)

    # ---- per case -------------------------------------------------------------------------------------------
    @property
    def n_cases(self) -> int:
        return len(self.starts)

    def _per_case(self, weights=None, minlength=None) -> np.ndarray:
        return np.bincount(self.case_index, weights=weights, minlength=minlength or self.n_cases)

    def _distinct_per_case(self, codes: np.ndarray, width: int) -> np.ndarray:
        known = codes >= 0
        key = self.case_index[known] * max(width, 1) + codes[known]
        uniq = _unique_keys(key)
        return np.bincount(uniq // max(width, 1), minlength=self.n_cases)

    @cached_property
    def case_table(self) -> pd.DataFrame:
        """One row per case, columns ``CASE_COLUMNS`` (see ``case_table``)."""
        nc, ci = self.n_cases, self.case_index
        ends = self.ends - 1
        first, last = self.ts[self.starts], self.ts[ends]
        steps_by_type = np.bincount(ci * 3 + self.step, minlength=nc * 3).reshape(nc, 3)
        classified = self.category >= 0
        ncat = len(CATEGORIES)
        by_cat = np.bincount(ci[classified] * ncat + self.category[classified], minlength=nc * ncat).reshape(nc, ncat)
        # Hand-offs: a change of worker between consecutive steps; where a worker is missing, a change of team.
        same = ci[1:] == ci[:-1]
        w0, w1, m0, m1 = self.worker[:-1], self.worker[1:], self.team[:-1], self.team[1:]
        both_w = (w0 >= 0) & (w1 >= 0)
        change = np.where(both_w, w0 != w1, (m0 >= 0) & (m1 >= 0) & (m0 != m1)) & same
        handoffs = np.bincount(ci[1:][change], minlength=nc)
        people = self._distinct_per_case(self.worker, int(self.worker.max(initial=-1)) + 1)
        rework = self.steps - self._distinct_per_case(self.act, len(self.activity_labels))
        has_h = ~np.isnan(self.hours)
        h = np.where(has_h, self.hours, 0.0)
        any_h = self._per_case(has_h.astype(float)) > 0
        touch = np.where(any_h, self._per_case(h), np.nan)
        f2f = np.where(any_h, self._per_case(h * self.f2f), np.nan)
        out = pd.DataFrame(
            {
                "case_id": self.case_ids.astype(str),
                "service": self.service_labels[self.svc[self.starts]].astype(str) if nc else pd.Index([], dtype=str),
                "first_at": first.view("datetime64[ns]"),
                "last_at": last.view("datetime64[ns]"),
                "end_to_end_days": (last - first) / _NS_PER_DAY,
                "steps": self.steps,
                "value_steps": steps_by_type[:, 0],
                "waste_steps": steps_by_type[:, 1],
                "unclassified_steps": steps_by_type[:, 2],
                "handoffs": handoffs,
                "people": people,
                "rework": rework,
                "touch_hours": touch,
                "face_to_face_hours": f2f,
            }
        )
        for k, name in enumerate(CATEGORY_COLUMNS.values()):
            out[name] = by_cat[:, k]
        return out

    # ---- paths ----------------------------------------------------------------------------------------------
    @cached_property
    def _variant_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """Variant id per case (0 = most common) and cases per variant, by hashing each case's sequence twice."""
        if not self.n_cases:
            return np.array([], np.int64), np.array([], np.int64)
        pos = np.arange(self.n_events) - self.starts[self.case_index]
        sym = self.act.astype(np.uint64) + np.uint64(1)
        hashes = []
        for base in (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)):
            powers = np.cumprod(np.full(int(self.steps.max()), base, dtype=np.uint64))
            with np.errstate(over="ignore"):
                hashes.append(np.add.reduceat(sym * powers[pos], self.starts) ^ self.steps.astype(np.uint64))
        codes, uniq = pd.factorize(hashes[0])
        first = np.empty(len(uniq), dtype=np.uint64)
        first[codes[::-1]] = hashes[1][::-1]  # the second hash of each variant's first case
        if (hashes[1] != first[codes]).any():
            codes, uniq = pd.factorize(self._sequence_text(np.arange(self.n_cases)))  # a hash collision: exact path
        counts = np.bincount(codes)
        rank = np.empty(len(counts), np.int64)
        rank[np.lexsort((np.arange(len(counts)), -counts))] = np.arange(len(counts))  # by count, then first seen
        return rank[codes], np.sort(counts)[::-1]

    def _sequence_text(self, cases: np.ndarray, sep: str = " → ") -> list[str]:
        names = np.asarray(self.activity_labels.astype(str), dtype=object)
        ends = self.ends
        return [sep.join(names[self.act[self.starts[c] : ends[c]]]) for c in cases]

    def _variant_steps(self, variant_ids: np.ndarray) -> np.ndarray:
        vid = self._variant_codes[0]
        first_case = np.full(len(self._variant_codes[1]), -1)
        first_case[vid[::-1]] = np.arange(self.n_cases)[::-1]
        return first_case[variant_ids]

    def variants(self, top: int | None = 10) -> pd.DataFrame:
        """The most common paths: ``path`` (steps joined by →), ``steps``, ``cases``, ``share`` (of cases), ``waste_steps``."""
        vid, counts = self._variant_codes
        k = len(counts) if top is None else min(top, len(counts))
        reps = self._variant_steps(np.arange(k))
        return pd.DataFrame(
            {
                "path": self._sequence_text(reps),
                "steps": self.steps[reps],
                "cases": counts[:k],
                "share": counts[:k] / max(self.n_cases, 1),
                "waste_steps": self.case_table["waste_steps"].to_numpy()[reps] if k else [],
            }
        )

    @property
    def n_variants(self) -> int:
        return len(self._variant_codes[1])

    def clean_flow(self) -> dict:
        """The most common path beside the clean flow: the most common path of **finished cases with more than one
        step** that has no waste step, and how many finished cases followed it (``clean_cases``; an open case, or
        one with a single step so far, shows no flow, however clean it looks).

        When no such case followed a path free of waste, the clean flow is the most common path with its waste steps
        taken out (``clean_source`` says which). ``finished_cases`` counts the cases the clean flow was looked for
        in."""
        if not self.n_cases:
            return {
                "actual": [],
                "actual_cases": 0,
                "clean": [],
                "clean_cases": 0,
                "clean_source": None,
                "finished_cases": 0,
            }
        vid, counts = self._variant_codes
        reps = self._variant_steps(np.arange(len(counts)))
        waste = self.case_table["waste_steps"].to_numpy()[reps]
        ends = self.ends
        names = np.asarray(self.activity_labels.astype(str), dtype=object)
        actual_case = reps[0]
        actual = list(names[self.act[self.starts[actual_case] : ends[actual_case]]])
        eligible = ~self.open_case & (self.steps > 1)
        finished = np.bincount(vid[eligible], minlength=len(counts))  # eligible cases per variant
        order = np.lexsort((np.arange(len(counts)), -finished))  # most followed first, then as ranked
        clean_ids = order[(waste[order] == 0) & (finished[order] > 0)]
        base = {"actual": actual, "actual_cases": int(counts[0]), "finished_cases": int(eligible.sum())}
        if len(clean_ids):
            c = reps[clean_ids[0]]
            return {
                **base,
                "clean": list(names[self.act[self.starts[c] : ends[c]]]),
                "clean_cases": int(finished[clean_ids[0]]),
                "clean_source": "observed",
            }
        sl = slice(self.starts[actual_case], ends[actual_case])
        kept = self.act[sl][self.step[sl] != 1]
        return {**base, "clean": list(names[kept]), "clean_cases": 0, "clean_source": "waste removed"}

    # ---- directly-follows graph -----------------------------------------------------------------------------
    @cached_property
    def directly_follows(self) -> pd.DataFrame:
        """Each pair of consecutive activities in a case: ``from_activity``, ``to_activity``, ``count``, ``cases``
        (cases with the pair at least once) and ``median_wait_days`` (median time between the two steps)."""
        na = max(len(self.activity_labels), 1)
        same = self.case_index[1:] == self.case_index[:-1]
        key = self.act[:-1][same] * na + self.act[1:][same]
        wait = (self.ts[1:] - self.ts[:-1])[same] / _NS_PER_DAY
        if not len(key):
            return pd.DataFrame(
                {
                    "from_activity": pd.Series(dtype=str),
                    "to_activity": pd.Series(dtype=str),
                    "count": pd.Series(dtype=np.int64),
                    "cases": pd.Series(dtype=np.int64),
                    "median_wait_days": pd.Series(dtype=float),
                }
            )
        g = pd.Series(wait).groupby(key, sort=True)
        stats = pd.DataFrame({"count": g.size(), "median_wait_days": g.median()})
        case_key = _unique_keys(self.case_index[1:][same].astype(np.int64) * (na * na) + key)
        stats["cases"] = pd.Series(case_key % (na * na)).value_counts().reindex(stats.index).to_numpy()
        k = stats.index.to_numpy()
        labels = self.activity_labels.astype(str)
        out = pd.DataFrame(
            {
                "from_activity": labels[k // na],
                "to_activity": labels[k % na],
                "count": stats["count"].to_numpy(),
                "cases": stats["cases"].to_numpy(),
                "median_wait_days": stats["median_wait_days"].to_numpy(),
            }
        )
        return out.sort_values(
            ["count", "from_activity", "to_activity"], ascending=[False, True, True], ignore_index=True
        )

    @cached_property
    def activity_stats(self) -> pd.DataFrame:
        """Per activity: ``events``, ``cases``, ``starts`` / ``ends`` (cases starting or ending with it), its
        ``step_type`` (value, waste or unclassified) and ``category``."""
        na = len(self.activity_labels)
        ends = self.ends - 1
        step = np.full(na, _UNCLASSIFIED, np.int8)
        cat = np.full(na, -1, np.int8)
        step[self.act] = self.step  # an activity listed for one service: the last event's type wins
        cat[self.act] = self.category
        out = pd.DataFrame(
            {
                "activity": self.activity_labels.astype(str),
                "events": np.bincount(self.act, minlength=na),
                "cases": np.bincount(_unique_keys(self.case_index * max(na, 1) + self.act) % max(na, 1), minlength=na),
                "starts": np.bincount(self.act[self.starts], minlength=na),
                "ends": np.bincount(self.act[ends], minlength=na),
                "step_type": np.array([*STEP_TYPES, "unclassified"], dtype=object)[step],
                "category": np.array([*CATEGORIES, ""], dtype=object)[cat],
            }
        )
        return out.sort_values(["events", "activity"], ascending=[False, True], ignore_index=True)

    # ---- summary --------------------------------------------------------------------------------------------
    def summary(self) -> dict:
        """The key figures for one service (or whatever events were given). End-to-end times leave out open cases."""
        ct = self.case_table
        classified = ct["value_steps"].sum() + ct["waste_steps"].sum()
        top = self.variants(10)
        return {
            "cases": int(self.n_cases),
            "events": int(self.n_events),
            **end_to_end_summary(self.end_to_end_cases),
            "rework_share": _f((ct["rework"] > 0).mean()) if len(ct) else None,
            "mean_handoffs": _f(ct["handoffs"].mean()) if len(ct) else None,
            "mean_people": _f(ct["people"].mean()) if len(ct) else None,
            "mean_steps": _f(ct["steps"].mean()) if len(ct) else None,
            "value_step_share": _f(ct["value_steps"].sum() / classified) if classified else None,
            "unclassified_steps": int(ct["unclassified_steps"].sum()),
            "variants_total": int(self.n_variants),
            "variants": [{"path": r.path, "cases": int(r.cases), "share": _f(r.share)} for r in top.itertuples()],
            "clean_flow": self.clean_flow(),
        }


def end_to_end_summary(cases: EndToEndCases) -> dict:
    """End-to-end figures by the one definition: finished and open cases, the Kaplan–Meier median and 85th
    percentile (None where not reached, with ``*_at_least``), and the mean of finished cases only when no case is
    open (with open cases a mean of the finished ones is a partial figure, so it is None)."""
    s = cases.survival()
    done = cases.frame.loc[~cases.frame["open"], "days"].dropna()
    return {
        "closed_cases": cases.n_finished,
        "open_cases": cases.n_open,
        "median_days": _f(s.median),
        "median_at_least": _f(s.at_least(0.5)),
        "p85_days": _f(s.p85),
        "p85_at_least": _f(s.at_least(0.85)),
        "mean_days": _f(done.mean()) if len(done) and not cases.n_open else None,
    }


def _f(x) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def _log(data, catalogue=None, cases=None) -> FlowLog:
    return data if isinstance(data, FlowLog) else FlowLog(data, catalogue=catalogue, cases=cases)


def case_table(data: pd.DataFrame, *, catalogue: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per case: end-to-end days, steps, value/waste/unclassified steps, hand-offs, people, rework, touch and
    face-to-face hours and one ``n_<category>`` count per catalogue category.

    Events are sorted stably by case then time (file order breaks ties). Hand-offs count changes of worker between
    consecutive steps, or of team where a worker is missing. ``touch_hours`` is NaN for a case with no hours recorded.
    """
    return _log(data, catalogue).case_table.copy()


def directly_follows(data: pd.DataFrame) -> pd.DataFrame:
    """The directly-follows graph: pair counts, cases and median wait in days between consecutive steps."""
    return _log(data).directly_follows.copy()


def variants(data: pd.DataFrame, *, top: int | None = 10, catalogue: pd.DataFrame | None = None) -> pd.DataFrame:
    """The most common paths through the service with the number and share of cases that took each."""
    return _log(data, catalogue).variants(top)


def service_summary(
    data: pd.DataFrame,
    *,
    catalogue: pd.DataFrame | None = None,
    cases: pd.DataFrame | None = None,
    end_to_end: EndToEndCases | None = None,
) -> pd.DataFrame:
    """One row per service: cases, events, open cases, end-to-end days by the one definition (``endtoend``: the
    Kaplan–Meier median and 85th percentile, NaN where not reached with ``*_at_least`` the longest time seen; the mean
    only where no case is open), rework share, mean hand-offs and people per case, value-step share.
    ``end_to_end``: the cases to count (default the log's own; the scan passes those in its period)."""
    log = _log(data, catalogue, cases)
    cases_of = log.end_to_end_cases if end_to_end is None else end_to_end
    e2e = cases_of.frame
    ct = log.case_table
    g = ct.groupby("service", sort=True)
    # end-to-end figures over every case of the service (``case_ids``: with steps or in cases.csv), not only
    # those with steps, so that the counts are the flow report's and the measure report's
    whose = e2e["service"].astype(object).where(e2e["service"].notna(), "").astype(str).to_numpy(dtype=object)
    duration, is_open, days = (
        e2e[c].to_numpy(dtype=t) for c, t in (("duration", float), ("open", bool), ("days", float))
    )
    km = {}
    for svc, idx in pd.Series(np.arange(len(e2e))).groupby(whose, sort=True).indices.items():
        d, o = duration[idx], is_open[idx]
        s = cases_of.survival() if len(idx) == len(e2e) else survival(d[~np.isnan(d)], ~o[~np.isnan(d)])
        done = pd.Series(days[idx][~o]).dropna()
        km[svc] = {
            "cases": len(idx),
            "open_cases": int(o.sum()),
            "median_days": np.nan if s.median is None else s.median,
            "median_at_least": np.nan if s.at_least(0.5) is None else s.at_least(0.5),
            "p85_days": np.nan if s.p85 is None else s.p85,
            "p85_at_least": np.nan if s.at_least(0.85) is None else s.at_least(0.85),
            "mean_days": done.mean() if len(done) and not o.any() else np.nan,
        }
    stepped = g.size()
    everyone = (stepped.index.union(pd.Index(list(km), dtype=object)) if km else stepped.index).rename("service")
    km = pd.DataFrame.from_dict(km, orient="index").reindex(everyone)
    classified = g["value_steps"].sum() + g["waste_steps"].sum()
    out = pd.DataFrame(
        {
            "cases": km["cases"] if len(km.columns) else stepped,
            "cases_with_steps": stepped.reindex(everyone, fill_value=0),
            "events": g["steps"].sum().reindex(everyone, fill_value=0),
            **{
                c: km[c] if len(km.columns) else np.nan
                for c in ("open_cases", "median_days", "median_at_least", "p85_days", "p85_at_least", "mean_days")
            },
            "rework_share": g["rework"].agg(lambda s: (s > 0).mean()),
            "mean_handoffs": g["handoffs"].mean(),
            "mean_people": g["people"].mean(),
            "value_step_share": (g["value_steps"].sum() / classified.where(classified > 0)),
        }
    )
    return out.reset_index()
