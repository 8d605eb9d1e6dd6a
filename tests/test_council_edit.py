"""Edits to council.yaml: comments and other keys survive, the result is a valid council, invalid edits are refused
with a plain message and leave the file as it was."""

from __future__ import annotations

import datetime as dt
import textwrap
import threading

import pytest

from systemic_lib.data.council import load_council
from systemic_lib.data.council_edit import add_system_change, edit_system_change, remove_system_change, set_purpose
from systemic_lib.errors import SystemicError

COMMENTED = textwrap.dedent("""\
    # Testshire: the council's own notes (kept by every edit)
    name: Testshire Council   # shown on every report
    services:
      # the service the team is redesigning
      - id: housing-repairs
        name: Housing repairs
        purpose: "Fix my home properly first time"
        experiment: {start: 2024-01-08, team: Repairs experiment team}
      - {id: council-tax, name: Council tax, purpose: Pay the right amount easily}
    system_changes:
      - {date: 2024-01-15, label: New triage, services: [housing-repairs]}  # a note on the change
    imports:
      demand: {mapping: boston311}
""")


@pytest.fixture
def commented(council_factory):
    return council_factory(council_yaml=COMMENTED)


def test_set_purpose_keeps_comments_and_other_keys(commented):
    set_purpose(
        commented,
        "housing-repairs",
        "Fix my repair right, first time, when it suits me",
        [
            {"id": "end_to_end_days", "direction": "decrease"},
            {"id": "failure_demand_pct", "direction": None, "target": None},
        ],
    )
    text = (commented / "council.yaml").read_text()
    for kept in (
        "# Testshire: the council's own notes (kept by every edit)",
        "# shown on every report",
        "# the service the team is redesigning",
        "# a note on the change",
        "\nimports:\n  demand: {mapping: boston311}\n",  # indented as the file was
        "  - {date: 2024-01-15, label: New triage, services: [housing-repairs]}  # a note on the change\n",
        "  - {id: council-tax, name: Council tax, purpose: Pay the right amount easily}\n",
    ):
        assert kept in text
    council = load_council(commented)
    service = council.service("housing-repairs")
    assert service.purpose == "Fix my repair right, first time, when it suits me"
    assert [(m.id, m.direction, m.target) for m in service.measures] == [
        ("end_to_end_days", "decrease", None),
        ("failure_demand_pct", None, None),
    ]
    assert service.experiment.start == dt.date(2024, 1, 8)  # other keys of the service stay
    assert "target" not in text  # a target is optional and off unless given
    assert council.service("council-tax").purpose == "Pay the right amount easily"
    assert council.spec.imports == {"demand": {"mapping": "boston311"}}
    assert (commented / "council.yaml.prev").read_text() == COMMENTED


def test_set_purpose_on_a_one_line_service_and_with_a_target(testshire):
    set_purpose(
        testshire,
        "waste",
        "Take my bins when you said",
        [{"id": "one_stop_pct", "direction": "increase", "target": "80"}],
    )
    measure = load_council(testshire).service("waste").measures[0]
    assert (measure.id, measure.improvement, measure.target) == ("one_stop_pct", "increase", 80.0)
    set_purpose(testshire, "waste", "Take my bins when you said", [])  # no measures: the key goes
    assert load_council(testshire).service("waste").measures == []


@pytest.mark.parametrize(
    "args, says",
    [
        (("housing-repairs", "Fix it", [{"id": "happiness_index"}]), "unknown measure 'happiness_index'"),
        (("housing-repairs", "Fix it", [{"id": "end_to_end_days", "direction": "up"}]), "direction must be increase"),
        (("housing-repairs", "Fix it", [{"id": "end_to_end_days", "target": "soon"}]), "must be a number"),
        (("housing-repairs", "Fix it", [{"id": "end_to_end_days"}, {"id": "end_to_end_days"}]), "chosen twice"),
        (("housing-repairs", "  ", []), "cannot be blank"),
        (("parking", "Park", []), "no service 'parking' in council.yaml; services are: housing-repairs, council-tax"),
    ],
)
def test_an_invalid_edit_is_refused_and_the_file_left_as_it_was(commented, args, says):
    with pytest.raises(SystemicError, match=says) as caught:
        set_purpose(commented, *args)
    assert "Traceback" not in str(caught.value)
    assert (commented / "council.yaml").read_text() == COMMENTED
    assert not (commented / "council.yaml.prev").exists()


def test_add_system_change_keeps_the_others_and_is_not_added_twice(commented):
    add_system_change(commented, "2024-02-01", "Diagnose on the first call", ["housing-repairs"])
    add_system_change(commented, dt.date(2024, 2, 1), "Diagnose on the first call", ["housing-repairs"])
    add_system_change(commented, "2024-03-01", "New IT system", None)
    council = load_council(commented)
    assert [(c.date, c.label, c.services) for c in council.system_changes()] == [
        (dt.date(2024, 1, 15), "New triage", ["housing-repairs"]),
        (dt.date(2024, 2, 1), "Diagnose on the first call", ["housing-repairs"]),
        (dt.date(2024, 3, 1), "New IT system", None),
    ]
    assert [c.label for c in council.system_changes("council-tax")] == ["New IT system"]
    assert "# a note on the change" in (commented / "council.yaml").read_text()


def test_add_system_change_to_a_council_with_none_changes_nothing_else(testshire):
    before = (testshire / "council.yaml").read_text()
    add_system_change(testshire, "2024-01-10", "Triage at the door", None)
    assert [c.label for c in load_council(testshire).system_changes()] == ["Triage at the door"]
    assert (testshire / "council.yaml").read_text() == before + (
        "system_changes:\n  - date: 2024-01-10\n    label: Triage at the door\n"
    )


@pytest.mark.parametrize(
    "args, says",
    [
        (("2024-02-01", "  ", None), "give the system change a label"),
        (("not a date", "Change", None), "'not a date' is not a date"),
        (("2024-02-01", "Change", ["parking"]), "no service parking in council.yaml"),
    ],
)
def test_an_invalid_system_change_is_refused(commented, args, says):
    with pytest.raises(SystemicError, match=says):
        add_system_change(commented, *args)
    assert (commented / "council.yaml").read_text() == COMMENTED


def test_a_council_yaml_that_is_already_broken_is_not_touched(council_factory):
    folder = council_factory(council_yaml="name: [unclosed\n")
    with pytest.raises(SystemicError, match="not valid YAML"):
        add_system_change(folder, "2024-02-01", "Change", None)
    assert (folder / "council.yaml").read_text() == "name: [unclosed\n"


def test_two_edits_at_once_both_land(commented):
    threads = [
        threading.Thread(target=add_system_change, args=(commented, f"2024-02-{d:02d}", f"Change {d}", None))
        for d in range(1, 9)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    labels = {c.label for c in load_council(commented).system_changes()}
    assert labels == {"New triage"} | {f"Change {d}" for d in range(1, 9)}


def test_setting_the_purpose_keeps_the_service_s_own_measures(tmp_path):
    """A measure the council defined itself (not a built-in id) survives the coach saving purpose and measures."""
    from systemic_lib.data.council import load_council

    folder = tmp_path / "own"
    folder.mkdir()
    (folder / "council.yaml").write_text(
        "name: Own Council\n"
        "services:\n"
        "  - id: repairs\n"
        "    name: Repairs\n"
        "    purpose: Fix it\n"
        "    measures:\n"
        "      - id: end_to_end_days\n"
        "      - id: fixed_for_good  # our own\n"
        "        name: Fixed for good\n"
        "        direction: increase\n"
        "        share: {of: cases, by: closed_at, matching: {no_contact_within_days: 30}}\n"
    )
    set_purpose(folder, "repairs", "Fix my home properly first time", [{"id": "failure_demand_pct"}])
    measures = load_council(folder).service("repairs").measures
    assert [m.id for m in measures] == ["failure_demand_pct", "fixed_for_good"]
    assert "# our own" in (folder / "council.yaml").read_text()


def test_a_system_change_can_be_corrected_and_removed_keeping_the_rest(commented):
    add_system_change(commented, "2024-02-01", "Diagnose on the frist call", ["housing-repairs"])
    add_system_change(commented, "2024-03-01", "New IT system", None)
    before = (commented / "council.yaml").read_text()
    edit_system_change(
        commented,
        "2024-02-01",
        "Diagnose on the frist call",
        new_date="2024-02-05",
        new_label="Diagnose on the first call",
    )
    assert (commented / "council.yaml.prev").read_text() == before  # the previous version is kept
    changes = load_council(commented).system_changes("housing-repairs")
    assert [(c.date, c.label, c.services) for c in changes] == [
        (dt.date(2024, 1, 15), "New triage", ["housing-repairs"]),
        (dt.date(2024, 2, 5), "Diagnose on the first call", ["housing-repairs"]),
        (dt.date(2024, 3, 1), "New IT system", None),
    ]
    assert "# a note on the change" in (commented / "council.yaml").read_text()  # comments kept
    remove_system_change(commented, dt.date(2024, 3, 1), "New IT system")
    assert [c.label for c in load_council(commented).system_changes()] == ["New triage", "Diagnose on the first call"]
    with pytest.raises(SystemicError, match="no system change"):
        remove_system_change(commented, "2024-03-01", "New IT system")  # gone already (another browser removed it)
    with pytest.raises(SystemicError, match="label"):
        edit_system_change(commented, "2024-02-05", "Diagnose on the first call", new_label="  ")
