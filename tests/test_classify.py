"""Rule-based classification: first matching rule wins; rules that match nothing or disagree are reported."""

import numpy as np
import pandas as pd

from systemic_lib.data.classify import apply_rules
from systemic_lib.data.contract import ERROR, WARNING, parse_table


def contacts():
    return pd.DataFrame(
        {
            "contact_id": ["C1", "C2", "C3", "C4", "C5", "C6"],
            "service": ["repairs", "repairs", "tax", "repairs", "tax", "repairs"],
            "demand_type": [
                "When will it be done?",
                "fix boiler",
                "WHEN WILL my refund come",
                "fix roof",
                "pay bill",
                None,
            ],
            "verbatim": ["ring 07700 900123", "boiler", "refund", "roof", "pay", "no type"],
            "classification": pd.array([None, None, None, "failure", None, None], dtype="str"),
            "failure_type": pd.array([None, None, None, "not done", None, None], dtype="str"),
        }
    )


RULES = [
    {"column": "demand_type", "pattern": "when will", "classification": "FAIL", "failure_type": "progress chasing"},
    {"column": "demand_type", "pattern": "^fix", "classification": "value"},
    {"service": "tax", "column": "demand_type", "pattern": "bill|refund", "classification": "value demand"},
]


def test_first_matching_rule_wins_and_only_unclassified_change():
    r = apply_rules(contacts(), RULES)
    got = r.frame.set_index("contact_id")
    assert got["classification"].iloc[:5].tolist() == ["failure", "value", "failure", "failure", "value"]
    assert pd.isna(got.loc["C6", "classification"])  # no demand type: no rule matches, stays unclassified
    assert got.loc["C1", "failure_type"] == "progress chasing"
    assert pd.isna(got.loc["C2", "failure_type"])  # value demand has no failure type
    assert got.loc["C4", "failure_type"] == "not done"  # the hand classification is kept
    assert r.classified == 4 and r.considered == 5
    rep = r.report.set_index("row")
    assert rep["matches"].tolist() == [2, 2, 2]  # C1 C3 | C2 C4 | C3 C5 (rule 3 only for tax)
    assert rep["applied"].tolist() == [2, 1, 1]
    assert rep.loc[3, "disagrees_with_hand"] == 1  # C4: the coach said failure, the rule says value


def test_classification_dtype_is_kept():
    r = apply_rules(contacts(), RULES)
    assert r.frame["classification"].dtype == contacts()["classification"].dtype


def test_rule_that_matches_nothing_is_reported_with_its_row():
    r = apply_rules(contacts(), RULES + [{"column": "demand_type", "pattern": "zzz", "classification": "value"}])
    idle = [p for p in r.problems if "match no contact" in p.message]
    assert len(idle) == 1 and idle[0].row == 5 and idle[0].severity == WARNING and "'zzz'" in idle[0].message
    assert r.unmatched["row"].tolist() == [5]


def test_contradicting_rules_are_reported_with_counts_and_examples():
    rules = RULES + [{"column": "demand_type", "pattern": "will", "classification": "value"}]
    r = apply_rules(contacts(), rules)
    c = r.contradictions.iloc[0]
    assert (c["row"], c["other_row"], c["classification"], c["other_classification"], c["contacts"]) == (
        2,
        5,
        "failure",
        "value",
        2,
    )
    assert "When will it be done?" in c["examples"]
    msg = [p for p in r.problems if "disagree" in p.message][0]
    assert msg.count == 2 and msg.row == 2
    assert "was used, as rules apply in order" in msg.message
    assert msg.fix.startswith("if row 2 is the intended exception to row 5, nothing to do")
    assert r.frame.set_index("contact_id").loc["C1", "classification"] == "failure"  # the first rule was used


def test_examples_are_redacted():
    r = apply_rules(contacts(), [{"column": "verbatim", "pattern": "ring", "classification": "failure"}])
    assert r.report["examples"].iloc[0] == "ring [phone]"


def test_bad_rules_are_errors_and_skipped():
    rules = [
        {"column": "nope", "pattern": "x", "classification": "value"},
        {"column": "demand_type", "pattern": "(", "classification": "value"},
        {"column": "demand_type", "pattern": "fix", "classification": "maybe"},
        {"column": "demand_type", "pattern": "fix", "classification": "failure", "failure_type": "lost"},
        {"column": "demand_type", "pattern": "", "classification": "value"},
    ]
    r = apply_rules(contacts(), rules, file="rules.csv")
    errors = [p for p in r.problems if p.severity == ERROR]
    assert [(p.row, p.column) for p in errors] == [
        (2, "column"),
        (3, "pattern"),
        (4, "classification"),
        (5, "failure_type"),
        (6, "pattern"),
    ]
    assert "nope" in errors[0].message and "valid regular expression" in errors[1].message
    assert r.classified == 0
    assert not [p for p in r.problems if "match no contact" in p.message]  # bad rules are not "idle"


def test_overwrite_and_mark():
    r = apply_rules(contacts(), RULES, overwrite=True, mark="classified_by")
    got = r.frame.set_index("contact_id")
    assert got.loc["C4", "classification"] == "value"
    assert got.loc["C1", "classified_by"] == "rule 2: when will"
    assert pd.isna(got.loc["C6", "classified_by"])


def test_rules_from_the_contract_table():
    raw = pd.DataFrame(
        {
            "service": [""],
            "column": ["demand_type"],
            "pattern": ["boiler"],
            "classification": ["Value"],
            "failure_type": [""],
        }
    )
    table = parse_table(raw, "rules", file="rules.csv")
    r = apply_rules(contacts(), table.frame)
    assert r.classified == 1


def test_no_rules_and_no_contacts():
    assert apply_rules(contacts(), []).classified == 0
    empty = contacts().iloc[:0]
    r = apply_rules(empty, RULES)
    assert r.classified == 0 and not [p for p in r.problems if "match no contact" in p.message]


def test_many_contacts_are_classified_by_unique_values_quickly():
    big = contacts().iloc[np.tile(np.arange(6), 50_000)].reset_index(drop=True)
    r = apply_rules(big, RULES)
    assert r.classified == 4 * 50_000


# ------------------------------------------------------------------ issue 23, item 3: bounded patterns
_HANGS = r"^(\w+\s?)*$"  #: exponential in Python's own regular expressions: 26 letters and a "!" take minutes


def test_a_catastrophic_pattern_runs_in_linear_time(tmp_path):
    """A rule that would backtrack for hours on a long verbatim classifies in a moment (RE2, not Python's ``re``).
    Run in a subprocess with a time limit, so that a pattern engine that backtracks fails the test instead of
    hanging the suite."""
    import subprocess
    import sys

    script = f"""
import pandas as pd
from systemic_lib.data.classify import apply_rules
from systemic_lib.data.contract import empty_frame
frame = empty_frame("demand").reindex(range(3))
frame["verbatim"] = pd.array(["a" * 26 + "!", "w" * 300_000 + "!", "when will it be done"], dtype="str")
frame["contact_id"] = ["C1", "C2", "C3"]
r = apply_rules(frame, [
    {{"column": "verbatim", "pattern": {_HANGS!r}, "classification": "failure", "failure_type": "progress chasing"}},
    {{"column": "verbatim", "pattern": r"\\w+y", "classification": "value"}},
])
print(r.frame["classification"].tolist())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[nan, nan, 'failure']"


def test_validate_names_a_pattern_that_cannot_be_used_with_its_row_and_a_fix(council_factory):
    from systemic_lib.data.council import validate_council

    rules = (
        "column,pattern,classification,failure_type\n"
        "verbatim,when will|chasing,failure,progress chasing\n"
        "verbatim,(?<=not )fixed,failure,not done\n"
        f"verbatim,{_HANGS},value,\n"
        "verbatim,(boiler) \\1,value,\n"
    )
    problems = [p for p in validate_council(council_factory("patterns", rules=rules)) if p.file == "rules.csv"]
    assert [(p.row, p.column, p.severity) for p in problems] == [(3, "pattern", ERROR), (5, "pattern", ERROR)]
    assert "(?<=not )fixed" in problems[0].message and "look-arounds" in problems[0].fix
    assert "back-references" in problems[1].fix


def test_a_measure_s_pattern_is_checked_too(council_factory):
    import pytest

    from systemic_lib.data.council import load_council
    from systemic_lib.errors import ContractError

    yaml = (
        "name: Testshire Council\n"
        "services:\n"
        "  - id: housing-repairs\n"
        "    name: Housing repairs\n"
        "    purpose: Fix my home properly first time\n"
        "    measures:\n"
        "      - id: chased\n"
        "        name: Contacts chasing\n"
        "        share: {of: demand, matching: {column: verbatim, pattern: '(?<!not )chas'}}\n"
    )
    with pytest.raises(ContractError) as caught:
        load_council(council_factory("measure-pattern", **{"council.yaml": yaml}))
    (problem,) = caught.value.problems
    assert "(?<!not )chas" in problem.message and problem.file.endswith("council.yaml line 9"), problem.describe()
    assert "look-arounds" in problem.message
