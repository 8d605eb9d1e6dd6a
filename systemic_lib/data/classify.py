"""Classify contacts as value or failure demand from a council's rules table (``rules.csv``).

For imported data that arrives with no classification. Each rule names a demand column, a case-insensitive regular
expression and the classification (and failure type) it gives; the first matching rule wins. Contacts already
classified by hand keep their classification. The result says, with counts and examples, which rules matched
nothing and which contacts were matched by rules that disagree (value vs failure), so a rules file that is wrong
is seen rather than silently trusted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from systemic_lib import words
from systemic_lib.data.contract import (
    CLASSIFICATIONS,
    ERROR,
    FAILURE_TYPES,
    TABLES,
    WARNING,
    Problem,
    normalise_category,
)
from systemic_lib.data.patterns import FIX as PATTERN_FIX
from systemic_lib.data.patterns import contains
from systemic_lib.data.patterns import problem as pattern_problem
from systemic_lib.data.redact import redact
from systemic_lib.errors import SystemicError

__all__ = [
    "RulesResult",
    "apply_rules",
    "rule_hits",
    "rules_frame",
    "provenance",
    "by_rules",
    "with_source",
    "PROVENANCE",
]

#: Who or what classified a contact (demand's ``classified_by``): a rule (``rule:<row>``), a coach
#: (``coach:<name>``), or the source file itself (``source``).
PROVENANCE = ("rule", "coach", "source")

_REPORT_COLUMNS = [
    "row",
    "service",
    "column",
    "pattern",
    "classification",
    "failure_type",
    "usable",
    "matches",
    "applied",
    "disagrees_with_hand",
    "examples",
]
_CONTRA_COLUMNS = ["row", "other_row", "classification", "other_classification", "contacts", "examples"]


@dataclass
class RulesResult:
    """What applying a rules table did."""

    frame: pd.DataFrame  #: the contacts, unclassified ones now classified where a rule matched
    #: one row per rule: matches (contacts it matches, classified or not), applied (contacts it classified),
    #: disagrees_with_hand (contacts classified by hand the other way), examples (redacted)
    report: pd.DataFrame
    contradictions: pd.DataFrame  #: pairs of rules that disagree on the same contacts, with counts and examples
    problems: list[Problem] = field(default_factory=list)
    classified: int = 0  #: contacts newly classified by a rule
    considered: int = 0  #: contacts the rules were applied to (the unclassified ones, or all with overwrite)

    @property
    def unmatched(self) -> pd.DataFrame:
        """Usable rules that match no contact."""
        return self.report[self.report["usable"].astype(bool) & (self.report["matches"] == 0)]


def rules_frame(rules) -> pd.DataFrame:
    """A rules table from a list of dicts (a mapping file) or a DataFrame, with the contract's columns."""
    frame = pd.DataFrame(list(rules)) if not isinstance(rules, pd.DataFrame) else rules.copy()
    for col in TABLES["rules"].column_names:
        if col not in frame.columns:
            frame[col] = None
    return frame[TABLES["rules"].column_names].reset_index(drop=True)


def _blank(value) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value)) or str(value).strip() == ""


def apply_rules(
    data: pd.DataFrame,
    rules,
    *,
    file: str = "rules.csv",
    first_row: int = 2,
    overwrite: bool = False,
    mark: str | None = None,
    hits: np.ndarray | None = None,
) -> RulesResult:
    """Classify ``data``'s unclassified contacts with ``rules`` (first matching rule wins).

    ``rules`` is the parsed rules table (or a list of dicts); ``file`` and ``first_row`` (the row number of the first
    rule in that file) name where a bad rule is. ``overwrite=True`` re-classifies every contact. ``classified_by``
    records ``rule:<row>`` for each contact a rule classified (provenance). With ``mark`` a column of that name
    records which rule classified each contact ("rule 4: <pattern>"). ``hits`` (from ``rule_hits`` on the contacts'
    text as written, a row per contact of ``data`` and a column per rule) stands in for matching the patterns against
    ``data``'s text, where that text is redacted (the table cache's).
    Bad rules (an unknown column, a broken pattern, an unknown classification) are skipped and reported as errors.
    """
    if not isinstance(data, pd.DataFrame):
        raise SystemicError("apply_rules takes the demand table (a DataFrame of contacts) as its first argument")
    for col in ("classification", "failure_type"):
        if col not in data.columns:
            raise SystemicError(f"the demand table has no column '{col}'; load it with Council.table('demand')")
    rules = rules_frame(rules)
    frame = data.copy()
    n = len(frame)
    target = np.ones(n, dtype=bool) if overwrite else frame["classification"].isna().to_numpy()
    winner = np.full(n, -1, dtype=np.int64)  # the first rule matching each contact (it wins an unclassified one)
    problems: list[Problem] = []
    report_rows, pairs = [], {}
    klass_of, ftype_of = [], []
    factorised: dict[str, tuple[np.ndarray, pd.Series]] = {}
    if "service" in frame.columns:
        svc_codes, svc_names = pd.factorize(frame["service"], use_na_sentinel=True)
        svc_index = {str(v): k for k, v in enumerate(svc_names)}
    else:
        svc_codes, svc_index = np.full(n, -1), {}
    hand = {k: frame["classification"].eq(k).fillna(False).to_numpy(dtype=bool) for k in CLASSIFICATIONS}

    for i, rule in rules.iterrows():
        row = first_row + int(i)
        column = "" if _blank(rule["column"]) else str(rule["column"]).strip()
        pattern = "" if _blank(rule["pattern"]) else str(rule["pattern"]).strip()
        klass = (
            ""
            if _blank(rule["classification"])
            else normalise_category(
                pd.Series([str(rule["classification"])]), TABLES["rules"].column("classification")
            ).iloc[0]
        )
        ftype = None if _blank(rule["failure_type"]) else str(rule["failure_type"]).strip().lower()
        service = None if _blank(rule["service"]) else str(rule["service"]).strip()
        klass_of.append(klass)
        ftype_of.append(ftype)
        base = {
            "row": row,
            "service": service or "",
            "column": column,
            "pattern": pattern,
            "classification": klass,
            "failure_type": ftype or "",
            "usable": False,
            "matches": 0,
            "applied": 0,
            "disagrees_with_hand": 0,
            "examples": "",
        }
        bad = _bad_rule(column, pattern, klass, ftype, frame)
        if bad:
            what, fix, col = bad
            problems.append(Problem(file, f"rule {what}; the rule was not used", fix, row=row, column=col))
            report_rows.append(base)
            continue
        if column not in factorised:
            codes, uniques = pd.factorize(frame[column], use_na_sentinel=True)
            factorised[column] = (codes, pd.Series(np.asarray(uniques, dtype=object)).astype(str))
        codes, uniques = factorised[column]
        if hits is not None:
            hit = hits[:, int(i)].copy()
        else:
            hit = _matches(codes, uniques, pattern)
        if service is not None:
            hit &= svc_codes == svc_index.get(service, -2)
        taken = hit & (winner >= 0)
        if taken.any():  # contacts an earlier rule matched too: do the two disagree?
            earlier = winner[taken]
            disagree = np.array(klass_of[:-1], dtype=object)[earlier] != klass
            for e in np.unique(earlier[disagree]):
                pairs[(int(e), int(i))] = np.flatnonzero(taken)[disagree & (earlier == e)]
        new = hit & (winner < 0)
        winner[new] = i
        other = hand["failure" if klass == "value" else "value"]
        base.update(
            usable=True,
            matches=int(hit.sum()),
            applied=int((new & target).sum()),
            disagrees_with_hand=int((hit & ~target & other).sum()),
            examples=_examples(uniques.to_numpy()[codes[np.flatnonzero(hit)[:500]]]),
        )
        report_rows.append(base)

    report = pd.DataFrame(report_rows, columns=_REPORT_COLUMNS)
    won = (winner >= 0) & target
    if won.any():
        klass_arr = np.array(klass_of, dtype=object)
        ftype_arr = np.array(ftype_of, dtype=object)
        frame["classification"] = frame["classification"].astype(object)
        frame["failure_type"] = frame["failure_type"].astype(object)
        frame.loc[won, "classification"] = klass_arr[winner[won]]
        ftypes = np.where(klass_arr[winner[won]] == "failure", ftype_arr[winner[won]], None)
        frame.loc[won, "failure_type"] = ftypes
        frame["classification"] = frame["classification"].astype(data["classification"].dtype)
        frame["failure_type"] = frame["failure_type"].astype(data["failure_type"].dtype)
        given = (
            frame["classified_by"].astype(object)
            if "classified_by" in frame.columns
            else pd.Series(None, index=frame.index, dtype=object)
        )
        frame["classified_by"] = given.where(
            ~won, np.array([f"rule:{first_row + k}" for k in range(len(rules))], dtype=object)[winner]
        )
        if mark:
            labels = np.array([f"rule {first_row + k}: {p}" for k, p in enumerate(report["pattern"])], dtype=object)
            existing = (
                frame[mark].astype(object)
                if mark in frame.columns
                else pd.Series(None, index=frame.index, dtype=object)
            )
            frame[mark] = existing.where(~won, labels[winner])

    contradictions = _contradictions(pairs, rules, klass_of, first_row, frame)
    problems += _rule_problems(report, contradictions, file, n)
    return RulesResult(frame, report, contradictions, problems, int(won.sum()), int(target.sum()))


def _matches(codes: np.ndarray, uniques: pd.Series, pattern: str) -> np.ndarray:
    """Whether each contact's value (``codes`` into ``uniques``) matches ``pattern``: each distinct value once."""
    hit_unique = contains(uniques, pattern)  # RE2: linear in the text, whatever the pattern
    hit = np.zeros(len(codes), dtype=bool)
    known = codes >= 0
    hit[known] = hit_unique[codes[known]]
    return hit


def rule_hits(data: pd.DataFrame, rules) -> np.ndarray:
    """Which rule's pattern matches which contact's text (a row per contact, a column per rule; a rule that cannot
    be used matches nothing), ignoring the rule's service and the contact's classification: what ``apply_rules``
    needs of the contacts' words, worked out where they are as written (the table cache keeps this, not the
    words)."""
    rules = rules_frame(rules)
    out = np.zeros((len(data), len(rules)), dtype=bool)
    for i, rule in rules.iterrows():
        column = "" if _blank(rule["column"]) else str(rule["column"]).strip()
        pattern = "" if _blank(rule["pattern"]) else str(rule["pattern"]).strip()
        if column in data.columns and pattern and pattern_problem(pattern) is None:
            codes, uniques = pd.factorize(data[column], use_na_sentinel=True)
            out[:, int(i)] = _matches(codes, pd.Series(np.asarray(uniques, dtype=object)).astype(str), pattern)
    return out


def _kinds(frame: pd.DataFrame) -> np.ndarray:
    """Each contact's provenance kind ("rule", "coach", "source", or "" where ``classified_by`` is blank or absent),
    worked out once per distinct value."""
    if "classified_by" not in frame.columns:
        return np.full(len(frame), "", dtype=object)
    codes, uniques = pd.factorize(frame["classified_by"], use_na_sentinel=True)
    kinds = np.array(
        [
            str(u).strip().lower().split(":", 1)[0]
            if ":" in str(u) or str(u).strip().lower() == "source"
            else ("" if not str(u).strip() else "other")
            for u in uniques
        ]
        + [""],
        dtype=object,
    )
    return kinds[codes]  # code -1 (blank) picks the last, ""


def by_rules(frame: pd.DataFrame) -> np.ndarray:
    """True for each contact a rule classified (``classified_by`` is ``rule:<row>``) and that is still classified."""
    return (_kinds(frame) == "rule") & frame["classification"].notna().to_numpy()


def with_source(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``classified_by`` = "source" for each contact classified in the file with no
    ``classified_by``; unclassified contacts stay blank."""
    blank = (_kinds(frame) == "") & frame["classification"].notna().to_numpy()
    if not blank.any() and "classified_by" in frame.columns:
        return frame
    out = frame.copy()
    given = (
        out["classified_by"].astype(object)
        if "classified_by" in out.columns
        else pd.Series(None, index=out.index, dtype=object)
    )
    out["classified_by"] = given.where(~blank, "source")
    return out


def provenance(frame: pd.DataFrame) -> dict:
    """Classified contacts by who or what classified them: ``{"classified", "rule", "coach", "source",
    "not_recorded", "rules_pct"}``; ``rules_pct`` is the share of the classified contacts a rule classified (None when
    none is classified)."""
    classified = frame["classification"].notna().to_numpy()
    kind = _kinds(frame)
    out: dict[str, int] = {"classified": int(classified.sum())}
    for k in PROVENANCE:
        out[k] = int((classified & (kind == k)).sum())
    out["not_recorded"] = out["classified"] - sum(out[k] for k in PROVENANCE)
    return {**out, "rules_pct": 100 * out["rule"] / out["classified"] if out["classified"] else None}


def _bad_rule(column, pattern, klass, ftype, frame):
    if not column:
        return "has no column", "name the demand column the pattern is matched against", "column"
    if column not in frame.columns:
        return (
            f"names column '{column}', which the demand data does not have",
            f"use one of: {', '.join(map(str, frame.columns))}",
            "column",
        )
    if not pattern:
        return "has no pattern", "write the words to look for (a regular expression)", "pattern"
    unusable = pattern_problem(pattern)
    if unusable:
        return unusable, PATTERN_FIX, "pattern"
    if klass not in CLASSIFICATIONS:
        return (f"classification '{klass}' is not value or failure", "write value or failure", "classification")
    if ftype is not None and ftype not in FAILURE_TYPES:
        return (
            f"failure type '{ftype}' is not one of: {', '.join(FAILURE_TYPES)}",
            f"use one of: {', '.join(FAILURE_TYPES)}",
            "failure_type",
        )
    return None


def _examples(values: np.ndarray | list, k: int = 3) -> str:
    seen = pd.unique(pd.Series(values, dtype=object).dropna().astype(str))[:k]
    return "; ".join(_clip(redact(v)) for v in seen)


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _contradictions(pairs, rules, klass_of, first_row, frame) -> pd.DataFrame:
    rows = []
    for (e, i), positions in pairs.items():
        column = str(rules.loc[e, "column"]).strip()
        values = frame[column].iloc[positions[:500]].to_numpy(dtype=object) if column in frame.columns else []
        rows.append(
            {
                "row": first_row + e,
                "other_row": first_row + i,
                "classification": klass_of[e],
                "other_classification": klass_of[i],
                "contacts": len(positions),
                "examples": _examples(values),
            }
        )
    return (
        pd.DataFrame(rows, columns=_CONTRA_COLUMNS)
        .sort_values("contacts", ascending=False, kind="stable")
        .reset_index(drop=True)
    )


def _rule_problems(report: pd.DataFrame, contradictions: pd.DataFrame, file: str, considered: int) -> list[Problem]:
    out = []
    used = report[report["usable"].astype(bool)]
    idle = used[used["matches"] == 0]
    if considered and len(idle):
        names = "; ".join(f"row {r}: '{p}' on {c}" for r, p, c in zip(idle["row"], idle["pattern"], idle["column"]))
        out.append(
            Problem(
                file,
                f"{words.count(len(idle), 'rule')} match no contact ({names})",
                "check the spelling of the pattern and the column, or delete the rule",
                row=int(idle["row"].iloc[0]),
                column="pattern",
                count=len(idle),
                severity=WARNING,
            )
        )
    for c in contradictions.itertuples():
        out.append(
            Problem(
                file,
                f"rules on rows {c.row} ({c.classification}) and {c.other_row} "
                f"({c.other_classification}) disagree on {c.contacts} contacts (e.g. {c.examples}); the "
                f"first, row {c.row}, was used, as rules apply in order",
                f"if row {c.row} is the intended exception to row {c.other_row}, nothing to do; otherwise "
                "make the patterns exclusive, or put the right rule first",
                row=c.row,
                column="pattern",
                count=c.contacts,
                severity=WARNING,
            )
        )
    return sorted(out, key=lambda p: p.severity != ERROR)
