"""The demand workshop's store: leases (a decision only on a contact the person was shown), skip (back to the room
once the rest is taken), undo, tally, disagreements, calibration rounds, a locked store answering at once, folding
into demand.csv, and several writers (threads and processes) at once losing nothing."""

from __future__ import annotations

import datetime as dt
import io
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading

import pandas as pd
import pytest
from openpyxl import load_workbook

from systemic_lib import config
from systemic_lib.data.contract import read_raw, read_table
from systemic_lib.data.decisions import DecisionStore, NotOnScreen, StoreBusy, fold_council, store_path
from systemic_lib.errors import SystemicError

HEADER = "contact_id,service,received_at,channel,verbatim,demand_type,classification,failure_type,what_matters\n"


def open_demand(n: int, classified: int = 0) -> str:
    """``n`` unclassified housing-repairs contacts (then ``classified`` value ones)."""
    rows = [f"K{i:04d},housing-repairs,2024-02-01 09:00,phone,call {i},type {i % 3},,," for i in range(n)]
    rows += [f"V{i:04d},housing-repairs,2024-02-01 09:00,phone,fine {i},type 0,value,," for i in range(classified)]
    return HEADER + "\n".join(rows) + "\n"


def demand_rows(folder) -> pd.DataFrame:
    raw, _ = read_raw(folder / "demand.csv", "demand")
    return raw


# ------------------------------------------------------------------------------------------------ one person
def test_next_contact_gives_the_unclassified_contacts_redacted_and_leased(testshire):
    store = DecisionStore(testshire)
    first = store.next_contact("housing-repairs", "AB")
    assert first == {
        "contact_id": "C06",
        "service": "housing-repairs",
        "received_at": "2024-01-10 09:00",
        "channel": "phone",
        "verbatim": "",
        "demand_type": "fix boiler",
        "back": False,
        "round": None,
    }
    assert store.next_contact("housing-repairs", "AB")["contact_id"] == "C06"  # a reload resumes the same contact
    assert store.next_contact("housing-repairs", "CD")["contact_id"] == "C09"  # never the one AB holds
    assert store.next_contact("housing-repairs", "EF") is None  # both leased
    assert store.next_contact("council-tax", "AB") is None  # every council-tax contact is classified
    assert store_path(testshire).exists()


def test_verbatim_is_redacted(council_factory):
    folder = council_factory(demand=HEADER + "K1,housing-repairs,2024-02-01 09:00,phone,ring me on 07700 900123,x,,,\n")
    contact = DecisionStore(folder).next_contact(None, "AB")
    assert "07700" not in contact["verbatim"] and "[phone]" in contact["verbatim"]


def test_a_lease_that_ran_out_is_offered_to_someone_else(council_factory):
    store = DecisionStore(council_factory(demand=open_demand(2)))
    assert store.next_contact(None, "AB", lease_seconds=0)["contact_id"] == "K0000"
    assert store.next_contact(None, "CD")["contact_id"] == "K0000"  # AB's lease has run out
    assert store.next_contact(None, "AB")["contact_id"] == "K0001"


def test_decide_skip_undo_and_the_tally(testshire):
    store = DecisionStore(testshire)
    assert store.tally("housing-repairs") == {
        "value": 4,
        "failure": 4,
        "unclassified": 2,
        "decided_in_workshop": 0,
        "pareto": [
            {"demand_type": "when will repair be done", "value": 0, "failure": 3},
            {"demand_type": "repair not right", "value": 0, "failure": 1},
            {"demand_type": "fix boiler", "value": 2, "failure": 0},
            {"demand_type": "fix roof", "value": 2, "failure": 0},
        ],
    }
    assert store.next_contact("housing-repairs", "AB")["contact_id"] == "C06"
    store.skip("C06", "AB")
    assert store.next_contact("housing-repairs", "AB")["contact_id"] == "C09"
    back = store.next_contact("housing-repairs", "CD")  # nothing fresh left for CD: AB's skip comes back to the room
    assert (back["contact_id"], back["back"]) == ("C06", True)
    store.decide("C09", "AB", "Failure", failure_type="Not done")
    tally = store.tally("housing-repairs")
    assert (tally["value"], tally["failure"], tally["unclassified"], tally["decided_in_workshop"]) == (4, 5, 1, 1)
    assert {"demand_type": "fix boiler", "value": 2, "failure": 1} in tally["pareto"]
    assert store.next_contact("housing-repairs", "AB") is None  # C06 is on CD's screen, C09 decided
    assert store.waiting("housing-repairs", "AB") == 1
    store.skip("C06", "CD")  # skipped by everyone: it still comes back, the workshop is not done until it is decided
    again = store.next_contact("housing-repairs", "AB")
    assert (again["contact_id"], again["back"]) == ("C06", True)
    assert store.undo("AB") == "C09"
    assert store.next_contact("housing-repairs", "AB")["contact_id"] == "C09"  # back on AB's screen
    assert store.tally("housing-repairs")["unclassified"] == 2
    assert store.undo("AB") is None
    store.decide("C09", "AB", "value", demand_type="boiler service")
    tally = store.tally("housing-repairs")
    assert (tally["value"], tally["failure"], tally["unclassified"]) == (5, 4, 1)
    assert {"demand_type": "boiler service", "value": 1, "failure": 0} in tally["pareto"]
    assert store.tally(None)["value"] == 6  # every service: parking's C11 too
    # every decision is kept, the undone one marked
    with sqlite3.connect(store_path(testshire)) as db:
        assert db.execute("SELECT COUNT(*), SUM(undone) FROM decisions").fetchone() == (2, 1)


def test_a_decision_is_refused_for_a_contact_not_leased_to_that_person(council_factory):
    store = DecisionStore(council_factory(demand=open_demand(3)))
    assert store.next_contact(None, "AB", lease_seconds=0)["contact_id"] == "K0000"
    with pytest.raises(NotOnScreen, match="K0001 was not on your screen"):
        store.decide("K0001", "AB", "value")  # never shown to AB
    with pytest.raises(NotOnScreen, match="on AB's screen"):
        store.decide("K0000", "CD", "value")  # AB's, not CD's
    store.decide("K0000", "AB", "value")  # AB's lease ran out but nobody took it: still AB's
    with pytest.raises(NotOnScreen):
        store.decide("K0000", "AB", "failure")  # decided: no longer on anyone's screen
    assert store.next_contact(None, "AB", lease_seconds=0)["contact_id"] == "K0001"
    assert store.next_contact(None, "CD")["contact_id"] == "K0001"  # AB's lease ran out and CD took it
    with pytest.raises(NotOnScreen, match="on CD's screen"):
        store.decide("K0001", "AB", "value")  # AB pressed V on a contact that had gone to CD
    assert store.live()["contact_id"].tolist() == ["K0000"]
    assert store.renew("K0001", "CD") and not store.renew("K0001", "AB")


def test_one_person_skipping_everything_still_gets_every_contact_back(council_factory):
    """The end screen agrees with the tally: a skipped contact is offered again once nothing else is left."""
    store = DecisionStore(council_factory(demand=open_demand(3)))
    seen = []
    while (c := store.next_contact(None, "AB")) is not None and len(seen) < 20:
        seen.append((c["contact_id"], c["back"]))
        if not c["back"]:
            store.skip(c["contact_id"], "AB")
        else:
            store.decide(c["contact_id"], "AB", "value")
    assert seen == [
        ("K0000", False),
        ("K0001", False),
        ("K0002", False),
        ("K0000", True),
        ("K0001", True),
        ("K0002", True),
    ]
    assert store.tally(None)["unclassified"] == 0


def test_a_calibration_round_gives_everyone_the_same_contacts(council_factory):
    store = DecisionStore(council_factory(demand=open_demand(30)))
    rnd = store.start_round("housing-repairs", size=5, seed=1)
    assert len(rnd["contacts"]) == 5 == len(set(rnd["contacts"]))
    with pytest.raises(SystemicError, match="already running"):
        store.start_round("housing-repairs")
    for person, label in (("AB", "value"), ("CD", "failure"), ("EF", "value")):
        got = []
        while (c := store.next_contact("housing-repairs", person)) is not None:
            assert c["round"] == rnd["id"]
            got.append(c["contact_id"])
            store.decide(c["contact_id"], person, label, failure_type="not done" if label == "failure" else None)
        assert got == rnd["contacts"]  # the same contacts, in the same order
    with pytest.raises(NotOnScreen, match="already classified"):
        store.decide(rnd["contacts"][0], "AB", "failure")
    with pytest.raises(SystemicError, match="everyone classifies every contact"):
        store.skip(rnd["contacts"][0], "GH")
    assert store.round("housing-repairs")["done"] == {"AB": 5, "CD": 5, "EF": 5}
    labels = store.round_labels("housing-repairs")
    assert len(labels) == 15 and set(labels["person"]) == {"AB", "CD", "EF"}
    assert store.end_round("housing-repairs")["id"] == rnd["id"]
    assert store.round("housing-repairs") is None
    nxt = store.next_contact("housing-repairs", "AB")  # back to ordinary leasing: a contact outside the round
    assert nxt["round"] is None and nxt["contact_id"] not in rnd["contacts"]
    assert store.round_labels("housing-repairs")["ended_at"].notna().all()


def test_a_locked_store_says_so_within_a_second_and_saves_nothing(council_factory):
    import time

    folder = council_factory(demand=open_demand(2))
    store = DecisionStore(folder)
    contact = store.next_contact(None, "AB")["contact_id"]
    other = sqlite3.connect(store_path(folder), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another program holds the store
    try:
        started = time.monotonic()
        with pytest.raises(StoreBusy, match="locked by another program"):
            store.decide(contact, "AB", "value")
        assert time.monotonic() - started < 2.5  # about a second, not 30
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.decide(contact, "AB", "value")  # the lease is still AB's: the same key press works once it is free
    assert store.live()["contact_id"].tolist() == [contact]


@pytest.mark.parametrize(
    "kwargs, says",
    [
        ({"classification": "maybe"}, "'maybe' is not a classification"),
        ({"classification": "failure", "failure_type": "slow"}, "'slow' is not a failure type"),
        ({"classification": "value", "failure_type": "not done"}, "failure demand only"),
        ({"classification": "value", "contact_id": "NOPE"}, "no contact 'NOPE'"),
        ({"classification": "value", "person": "  "}, "say who is deciding"),
    ],
)
def test_decide_refuses_values_the_contract_does_not_allow(testshire, kwargs, says):
    store = DecisionStore(testshire)
    args = {"contact_id": "C06", "person": "AB", **kwargs}
    with pytest.raises(SystemicError, match=says):
        store.decide(args.pop("contact_id"), args.pop("person"), args.pop("classification"), **args)
    assert store.live().empty


def test_disagreements_name_who_said_what(testshire):
    store = DecisionStore(testshire)
    store.decide("C06", "AB", "failure", failure_type="progress chasing", on_screen=False)
    store.decide("C06", "CD", "value", on_screen=False)
    store.decide("C09", "AB", "value", on_screen=False)
    store.decide("C09", "CD", "value", on_screen=False)
    store.decide("C10", "AB", "value", on_screen=False)
    store.decide(
        "C10", "AB", "failure", failure_type="not done right", on_screen=False
    )  # AB changed their mind: latest counts
    store.decide("C10", "CD", "failure", failure_type="not done right", on_screen=False)
    found = store.disagreements("housing-repairs")
    assert found.to_dict("records") == [
        {
            "contact_id": "C06",
            "demand_type": "fix boiler",
            "people": 2,
            "said": "AB: failure (progress chasing); CD: value",
        }
    ]
    assert store.disagreements("council-tax").empty


# ------------------------------------------------------------------------------------------------------ folding
def test_fold_writes_decisions_once_keeps_the_rest_and_the_previous_version(testshire):
    before = (testshire / "demand.csv").read_text()
    store = DecisionStore(testshire)
    store.decide("C06", "AB", "failure", failure_type="progress chasing", what_matters="knowing when", on_screen=False)
    store.decide("C09", "CD", "value", on_screen=False)
    assert store.fold() == 2
    assert (testshire / "demand.csv.prev").read_text() == before
    raw = demand_rows(testshire).set_index("contact_id")
    assert raw.loc["C06", ["classification", "failure_type", "what_matters", "classified_by"]].tolist() == [
        "failure",
        "progress chasing",
        "knowing when",
        "coach:AB",
    ]
    assert raw.loc["C09", ["classification", "failure_type", "classified_by"]].tolist() == ["value", "", "coach:CD"]
    assert raw.loc["C02", "verbatim"] == "When will you come? <b>now</b> ring 07700 900123"  # other rows as written
    assert raw.loc["C02", "classified_by"] == ""
    after = (testshire / "demand.csv").read_bytes()
    assert store.fold() == 0 and fold_council(testshire) == 0  # idempotent: nothing folded twice
    assert (testshire / "demand.csv").read_bytes() == after
    with sqlite3.connect(store_path(testshire)) as db:  # a fold cut short before marking: folding again is harmless
        db.execute("UPDATE decisions SET folded = 0")
    assert DecisionStore(testshire).fold() == 0
    assert (testshire / "demand.csv").read_bytes() == after
    parsed = read_table(testshire / "demand.csv", "demand")
    assert not parsed.errors  # the contract keeps the extra column classified_by
    assert parsed.frame.set_index("contact_id").loc["C06", "classification"] == "failure"
    assert store.tally("housing-repairs")["unclassified"] == 0
    assert DecisionStore(testshire).tally("housing-repairs")["unclassified"] == 0  # a fresh reader agrees


def test_a_change_after_a_fold_is_folded_next_time(testshire):
    store = DecisionStore(testshire)
    store.decide("C06", "AB", "value", on_screen=False)
    assert store.fold() == 1
    store.decide("C06", "CD", "failure", failure_type="not done", on_screen=False)
    assert store.fold() == 1
    raw = demand_rows(testshire).set_index("contact_id")
    assert raw.loc["C06", ["classification", "failure_type", "classified_by"]].tolist() == [
        "failure",
        "not done",
        "coach:CD",
    ]


def test_a_store_sees_the_file_change_under_it(council_factory):
    folder = council_factory(demand=open_demand(2))
    ours, theirs = DecisionStore(folder), DecisionStore(folder)  # two processes' stores
    assert theirs.tally(None)["unclassified"] == 2
    ours.decide("K0000", "AB", "value", demand_type="renamed", on_screen=False)
    assert ours.fold() == 1
    assert (
        theirs.tally(None)
        == ours.tally(None)
        == {
            "value": 1,
            "failure": 0,
            "unclassified": 1,
            "decided_in_workshop": 1,
            "pareto": [{"demand_type": "renamed", "value": 1, "failure": 0}],
        }
    )
    (folder / "demand.csv").write_text(open_demand(3))  # the council re-imports: a new contact arrives
    assert theirs.tally(None)["unclassified"] == 2
    assert theirs.next_contact(None, "CD")["contact_id"] == "K0001"


def test_fold_council_without_a_store_does_nothing(testshire):
    assert fold_council(testshire) == 0
    assert not store_path(testshire).exists()


def test_fold_into_a_workbook_keeps_its_sheet(council_factory):
    folder = council_factory(**{"demand.csv": None})
    frame = pd.read_csv(io.StringIO(open_demand(3)), parse_dates=["received_at"])
    frame.to_excel(folder / "demand.xlsx", sheet_name="demand", index=False)
    store = DecisionStore(folder)
    store.decide("K0001", "AB", "value", on_screen=False)
    assert store.fold() == 1
    frame = read_table(folder / "demand.xlsx", "demand").frame.set_index("contact_id")
    assert frame.loc["K0001", "classification"] == "value"
    assert frame.loc["K0001", "classified_by"] == "coach:AB"
    assert (folder / "demand.xlsx.prev").exists()
    sheet = load_workbook(folder / "demand.xlsx")["demand"]
    assert isinstance(sheet["C2"].value, dt.datetime)  # received_at stays a date cell, not text
    assert [c.value for c in sheet[1]][-1] == "classified_by"


# ---------------------------------------------------------------------------------------------- several writers
def _again(action):
    """What a person does when the store says it is busy (another writer held it over a second, as happens on a
    machine this loaded): press the key again."""
    while True:
        try:
            return action()
        except StoreBusy:
            continue


def _classify_all(store: DecisionStore, person: str, taken: list) -> None:
    while (contact := _again(lambda: store.next_contact("housing-repairs", person))) is not None:
        _again(
            lambda: store.decide(
                contact["contact_id"],
                person,
                "failure" if len(taken) % 2 else "value",
                failure_type="not done" if len(taken) % 2 else None,
            )
        )
        taken.append(contact["contact_id"])


def _assert_every_contact_once(folder, n, people):
    with sqlite3.connect(store_path(folder)) as db:
        decided = [r[0] for r in db.execute("SELECT contact_id FROM decisions")]
    assert sorted(decided) == [f"K{i:04d}" for i in range(n)]  # each contact decided by exactly one person
    assert fold_council(folder) == n
    raw = demand_rows(folder)
    assert len(raw) == n and raw["contact_id"].is_unique
    assert set(raw["classification"]) <= {"value", "failure"} and raw["classification"].ne("").all()
    assert set(raw["classified_by"]) == {f"coach:{p}" for p in people}


def test_two_threads_deciding_at_once_lose_nothing_and_never_share_a_contact(council_factory):
    n = 120
    folder = council_factory(demand=open_demand(n))
    store = DecisionStore(folder)  # one store shared by the threads, as the app's server does
    taken = {"AB": [], "CD": []}
    threads = [threading.Thread(target=_classify_all, args=(store, p, taken[p])) for p in taken]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert taken["AB"] and taken["CD"] and not set(taken["AB"]) & set(taken["CD"])
    _assert_every_contact_once(folder, n, ["AB", "CD"])


WORKER = textwrap.dedent("""\
    import sys, time
    from systemic_lib.data.decisions import DecisionStore, StoreBusy
    store = DecisionStore(sys.argv[1])
    person, pause = sys.argv[2], float(sys.argv[3])
    def again(action):  # the store busy for over a second: the person presses the key again
        while True:
            try:
                return action()
            except StoreBusy:
                continue
    while (contact := again(lambda: store.next_contact("housing-repairs", person))) is not None:
        again(lambda: store.decide(contact["contact_id"], person, "value"))
        print(contact["contact_id"], flush=True)  # printed only once the decision is committed
        time.sleep(pause)
""")


def _worker(folder, person, pause=0.0):
    env = {**os.environ, "PYTHONPATH": str(config.PROJECT_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(folder), person, str(pause)], env=env, stdout=subprocess.PIPE, text=True
    )


def test_two_processes_deciding_at_once_lose_nothing(council_factory):
    n = 150
    folder = council_factory(demand=open_demand(n))
    DecisionStore(folder)  # the store exists before the race (creating it at once is tested by the workers anyway)
    procs = {p: _worker(folder, p) for p in ("AB", "CD")}
    said = {p: proc.communicate(timeout=120)[0].split() for p, proc in procs.items()}
    assert all(proc.returncode == 0 for proc in procs.values())
    assert not set(said["AB"]) & set(said["CD"])
    assert len(said["AB"]) + len(said["CD"]) == n
    people = [p for p in said if said[p]]
    _assert_every_contact_once(folder, n, people)


def test_a_killed_process_loses_no_decision_it_committed(council_factory):
    n = 400
    folder = council_factory(demand=open_demand(n))
    proc = _worker(folder, "AB", pause=0.01)
    committed = [proc.stdout.readline().strip() for _ in range(20)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    committed += [line.strip() for line in proc.stdout.read().split()]
    store = DecisionStore(folder)
    live = set(store.live()["contact_id"])
    assert set(committed) <= live  # everything it said it saved is there (perhaps one more, killed before printing)
    assert len(live) - len(committed) <= 1
    assert store.fold() == len(live)
    raw = demand_rows(folder).set_index("contact_id")
    assert (raw.loc[sorted(live), "classification"] == "value").all()
    # the store still works after the kill: the rest can be classified
    _classify_all(store, "CD", [])
    assert store.tally("housing-repairs")["unclassified"] == 0
