"""How far a room agrees: Fleiss' kappa against the worked example of Fleiss (1971), per category, and in words."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import pytest

from systemic_lib.analysis import agreement as ag

#: The worked example on Wikipedia's "Fleiss' kappa" page: 10 subjects, 14 raters, 5 categories; kappa 0.210.
WIKI = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ],
    dtype=float,
)


def test_fleiss_kappa_matches_the_worked_example():
    kappa, observed = ag.fleiss(WIKI)
    assert kappa == pytest.approx(0.210, abs=5e-4)
    assert observed == pytest.approx(0.378, abs=5e-4)


def test_per_category_kappa_matches_fleiss_definition():
    # with m raters on every subject: kappa_j = 1 - sum n_ij (m - n_ij) / (N m (m - 1) p_j q_j)
    m, n = 14, len(WIKI)
    p = WIKI.sum(axis=0) / (n * m)
    expected = 1 - (WIKI * (m - WIKI)).sum(axis=0) / (n * m * (m - 1) * p * (1 - p))
    got = ag.per_category(WIKI, list("abcde"))
    assert [got[c] for c in "abcde"] == pytest.approx(list(expected))


def labels(rows):
    return pd.DataFrame(rows, columns=["contact_id", "person", "classification", "failure_type"])


def test_a_room_that_agrees_on_value_and_mixes_up_not_done_says_so():
    rows = []
    for i in range(6):  # value: everyone agrees
        rows += [(f"V{i}", p, "value", None) for p in ("AB", "CD", "EF")]
    for i in range(6):  # failure: everyone says failure, but not what failed
        split = ["not done", "not done right", "not done" if i % 2 else "not done right"]
        rows += [(f"F{i}", p, "failure", t) for p, t in zip(("AB", "CD", "EF"), split)]
    a = ag.agreement(labels(rows))
    assert a.classification.kappa == pytest.approx(1.0) and a.classification.contacts == 12
    assert a.classification.people == 3
    assert a.per_label["value"].kappa == pytest.approx(1.0)
    assert a.per_label["not done"].kappa < 0.2 and a.per_label["not done right"].kappa < 0.2
    assert a.confused[0][0] == ("not done", "not done right")
    said = " ".join(ag.sentences(a))
    assert "On value or failure the room agrees very well (kappa 1.00; 12 contacts classified by 3 people" in said
    assert "very well on value" in said and "hardly on \u2018not done" in said
    assert "mixes up most are \u2018not done\u2019 and \u2018not done right\u2019" in said
    assert "6 contacts to discuss" in said
    assert list(a.split["contact_id"]) == [f"F{i}" for i in range(6)]
    assert a.split.iloc[0]["said"] == "AB: not done; CD: not done right; EF: not done right"


def test_contacts_one_person_classified_are_left_out_and_nothing_shared_says_so():
    a = ag.agreement(labels([("C1", "AB", "value", None), ("C2", "CD", "value", None)]))
    assert a.classification.contacts == 0
    assert ag.sentences(a) == [
        "No contact has been classified by two or more people yet, so the room's agreement is not known."
    ]


def test_everyone_giving_one_answer_has_no_kappa_and_says_why():
    a = ag.agreement(labels([(c, p, "value", None) for c in ("C1", "C2") for p in ("AB", "CD")]))
    assert a.classification.kappa is None and a.classification.observed == 1.0
    assert ag.in_words(None) == "on every contact with the same answer"


@pytest.mark.parametrize(
    "kappa, said",
    [
        (-0.1, "no better than chance"),
        (0.1, "hardly"),
        (0.3, "poorly"),
        (0.5, "moderately"),
        (0.7, "well"),
        (0.9, "very well"),
    ],
)
def test_kappa_in_words(kappa, said):
    assert ag.in_words(kappa) == said


def test_the_demand_report_says_how_far_the_team_agreed_in_its_calibration_round(council_factory, shown):
    """A round in the coach's workshop (the store beside the council) reaches the demand stage's figures and the
    note under its Pareto, read without changing the store."""
    from systemic_lib.analysis import demand
    from systemic_lib.data.decisions import DecisionStore, store_path
    from systemic_lib.data.stages import Stage
    from systemic_lib.display.sections import demand as sections

    rows = "".join(f"K{i:02d},housing-repairs,2024-02-01 09:00,phone,call {i},type,,,\n" for i in range(12))
    header = "contact_id,service,received_at,channel,verbatim,demand_type,classification,failure_type,what_matters\n"
    folder = council_factory(demand=header + rows)
    assert demand.figures(demand.load(Stage(folder, "housing-repairs", "demand"))).get("agreement") is None
    store = DecisionStore(folder)
    store.start_round("housing-repairs", size=6, seed=2)
    for person in ("AB", "CD"):
        while (c := store.next_contact("housing-repairs", person)) is not None:
            split = person == "CD" and c["contact_id"] in ("K01", "K02", "K03", "K04")
            store.decide(
                c["contact_id"], person, "failure" if split else "value", failure_type="not done" if split else None
            )
    store.end_round("housing-repairs")
    store.close()
    before = store_path(folder).read_bytes()
    data = demand.load(Stage(folder, "housing-repairs", "demand"))
    got = demand.figures(data)["agreement"]
    assert got["contacts"] == 6 and got["people"] == 2 and got["contacts_split"] >= 1
    assert got["kappa_value_or_failure"] is not None and got["kappa_value_or_failure"] < 1
    sections.show_pareto_chart(data)
    note = html.unescape(" ".join(shown))
    assert "In a calibration round of the coach's workshop started on" in note
    assert "6 contacts classified by 2 people" in note
    assert store_path(folder).read_bytes() == before  # read, not written
