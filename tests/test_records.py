"""Changes read against the records (analysis/records.py): a change gets credit only where the work shows it (METHOD.md
"A change happened only when the work shows it"), and a measure that moved after a change the records do not show
says so."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from systemic_lib.analysis import measure
from systemic_lib.analysis.reading import Reading, View
from systemic_lib.analysis.records import check_changes
from systemic_lib.data.conditions import Phase

CHANGE = dt.date(2024, 6, 3)
STEPS = ["Log repair", "Pre-inspection visit", "Visit to repair", "Close repair"]


def _work(share_before: float, share_after: float, *, n: int = 1400, seed: int = 7):
    """Cases opened over 40 weeks from 1 January 2024 and their events: a share of them pass through the
    pre-inspection, before and since 3 June 2024."""
    rng = np.random.default_rng(seed)
    opened = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.uniform(0, 280, n)), unit="D")
    ids = [f"R{i:05d}" for i in range(n)]
    share = np.where(opened < pd.Timestamp(CHANGE), share_before, share_after)
    inspected = rng.uniform(size=n) < share
    cases = pd.DataFrame({"case_id": ids, "opened_at": opened})
    rows = [(c, "Log repair") for c in ids]
    rows += [(c, "Pre-inspection visit") for c, hit in zip(ids, inspected) if hit]
    rows += [(c, "Visit to repair") for c in ids]
    events = pd.DataFrame(rows, columns=["case_id", "activity"])
    return cases, events


def _phase(label: str, targets=()):
    return Phase(CHANGE, label, "council.yaml", label, tuple(targets))


RULE = "No surveyor pre-inspection for jobs under 250 pounds"


def test_a_step_still_taken_as_often_gets_no_credit():
    cases, events = _work(0.45, 0.45)
    (check,) = check_changes([_phase(RULE)], cases=cases, events=events, steps=STEPS)
    (target,) = check.targets
    assert (target.kind, target.name, target.why) == ("step", "Pre-inspection visit", "named in the change's words")
    assert target.sentence.endswith("the records do not show the change yet.") and not target.shows
    assert check.shown is False
    assert target.before == pytest.approx(45, abs=4) and target.after == pytest.approx(45, abs=4)
    assert target.n_before + target.n_after == len(cases)


def test_a_step_the_work_stopped_taking_shows_the_change():
    cases, events = _work(0.45, 0.05)
    (check,) = check_changes([_phase(RULE)], cases=cases, events=events, steps=STEPS)
    (target,) = check.targets
    assert target.shows and check.shown is True
    assert target.sentence.endswith("opened since: the records show the change.")
    assert target.result is not None and len(target.result.phases) == 2
    figure = check.figure()["targets"][0]
    assert figure["records_show_the_change"] is True and figure["unit"] == "% of cases"


def test_a_step_named_in_council_yaml_is_checked_though_the_words_do_not_name_it():
    cases, events = _work(0.45, 0.45)
    (check,) = check_changes(
        [_phase("Surveyors trust the trades", targets=["Pre-inspection visit"])],
        cases=cases,
        events=events,
        steps=STEPS,
    )
    assert [(t.name, t.why) for t in check.targets] == [("Pre-inspection visit", "named in council.yaml")]


def test_a_target_the_records_do_not_hold_is_said_and_redacted():
    cases, events = _work(0.45, 0.45)
    (check,) = check_changes(
        [_phase("Surveyors trust the trades", targets=["call Jo on 07700 900123 or jo.bloggs@example.org"])],
        cases=cases,
        events=events,
        steps=STEPS,
    )
    assert not check.targets and check.shown is None
    assert "which is neither a step nor a demand type in the records" in check.note
    assert "07700 900123" not in check.note and "jo.bloggs@example.org" not in check.note


def test_a_change_that_names_nothing_says_only_the_measures_can_show_it():
    cases, events = _work(0.45, 0.45)
    (check,) = check_changes([_phase("Experiment team started")], cases=cases, events=events, steps=STEPS)
    assert not check.targets and check.sentences() == [check.note]
    assert check.note.startswith("The change names no step or demand type in the records")


def test_a_demand_type_is_counted_a_week_before_and_since():
    rng = np.random.default_rng(2)
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.uniform(0, 280, 6000), unit="D")
    before = days < pd.Timestamp(CHANGE)
    kind = np.where(rng.uniform(size=len(days)) < np.where(before, 0.2, 0.05), "Chasing a repair", "Report a repair")
    contacts = pd.DataFrame({"received_at": days, "demand_type": kind})
    (check,) = check_changes(
        [_phase("Text every tenant when the trade is booked, to stop chasing a repair")], contacts=contacts
    )
    (target,) = check.targets
    assert (target.kind, target.name) == ("demand type", "Chasing a repair")
    assert target.shows and target.after < target.before / 2
    assert "contacts a week before 3 Jun 2024" in target.sentence and "the records show the change" in target.sentence


def _moved(date: str) -> measure.MeasureResult:
    weekly = View("weekly", "improvement", True, "All 10 points since the change sit below the old average.")
    reading = Reading("improvement", weekly.sentence, change={"date": date, "label": RULE}, views=[weekly])
    return measure.MeasureResult("end_to_end_days", "End-to-end time", "days", "decrease", None, reading=reading)


def test_a_measure_that_moved_after_a_change_the_records_do_not_show_says_so():
    cases, events = _work(0.45, 0.45)
    checks = check_changes([_phase(RULE)], cases=cases, events=events, steps=STEPS)
    moved, elsewhere = _moved(CHANGE.isoformat()), _moved("2024-09-02")
    measure._credit([moved, elsewhere], checks)
    assert moved.reading.sentence.endswith(
        "But the records do not show the change itself (see the changes read against the records), so find out what "
        "else changed before crediting it."
    )
    assert "records do not show" not in elsewhere.reading.sentence
    cases, events = _work(0.45, 0.05)
    shown = check_changes([_phase(RULE)], cases=cases, events=events, steps=STEPS)
    credited = _moved(CHANGE.isoformat())
    measure._credit([credited], shown)
    assert "records do not show" not in credited.reading.sentence


def test_a_named_step_with_no_cases_to_check_says_so():
    # the change names a step of the catalogue, but the council keeps no cases or events: said, not "names no step"
    (check,) = check_changes([_phase(RULE)], steps=STEPS)
    assert not check.targets and check.shown is None
    assert check.note == (
        "The change names the step Pre-inspection visit, but there are no cases with their steps to check it against."
    )
