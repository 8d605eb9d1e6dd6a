"""System conditions (Check steps 5 and 6): the contract's new table, adding rows, reading them, and migrating the
learning log's system conditions into it."""

from __future__ import annotations

import datetime as dt
import io
import textwrap
import threading

import pandas as pd
import pytest

from systemic_lib.data import conditions as sc
from systemic_lib.data.contract import TABLES, read_raw, read_table
from systemic_lib.data.council import validate_council
from systemic_lib.data.stages import Stage
from systemic_lib.errors import ContractError, SystemicError

LOG = textwrap.dedent("""\
    date,service,what_we_tried,what_we_learned,system_condition,waste_caused,who_can_change,status
    2024-01-10,housing-repairs,Diagnose on the first call,Most visits need no pre-inspection,Pre-inspection rule,A second visit,Head of Repairs,open
    2024-01-20,housing-repairs,Skip the survey,Jobs done sooner,pre-inspection  RULE,9 days waiting,Head of Repairs,in hand
    2024-01-25,housing-repairs,Book the trade directly,,Job tickets by trade,Hand-offs,Repairs manager,
    2024-01-26,housing-repairs,Ask what matters,Nothing about a condition,,,,
    2024-01-12,council-tax,Answer in one call,,Scripts limit what we say,Call-backs,Revenues lead,parked
""")


def plain(frame: pd.DataFrame) -> list:
    return frame.astype(object).where(frame.notna(), None).values.tolist()


def test_the_contract_has_the_table():
    table = TABLES["system_conditions"]
    assert table.column_names == [
        "id",
        "service",
        "raised_at",
        "raised_in",
        "waste_seen",
        "system_condition",
        "thinking",
        "who_can_change",
        "status",
        "changed_at",
        "phase",
        "what_changed",
    ]
    assert table.column("raised_in").values == ("demand", "capability", "flow", "experiment")
    assert table.column("status").values == ("open", "in hand", "changed", "parked", "designed out")
    assert table.unique == ("id",)


def test_add_condition_appends_rows_with_new_ids(testshire):
    first = sc.add_condition(
        testshire,
        service="housing-repairs",
        raised_in="Demand",
        waste_seen="Progress chasing: 3 of 8 classified contacts",
        system_condition="Repairs booked by the contact centre, not the trade",
        thinking="Specialised call handling is cheaper",
        who_can_change="Head of Repairs",
        raised_at="2024-02-01",
    )
    second = sc.add_condition(
        testshire,
        service="housing-repairs",
        raised_in="flow",
        waste_seen="Inspect step",
        status="In hand",
        raised_at=dt.date(2024, 2, 3),
    )
    assert (first, second) == ("SC-001", "SC-002")
    result = read_table(testshire / "system_conditions.csv", "system_conditions", services={"housing-repairs"})
    assert not result.problems
    frame = sc.conditions(testshire, "housing-repairs")
    assert frame[["id", "raised_in", "status"]].values.tolist() == [
        ["SC-001", "demand", "open"],
        ["SC-002", "flow", "in hand"],
    ]
    assert frame["raised_at"].tolist() == [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-02-03")]
    assert frame.loc[0, "thinking"] == "Specialised call handling is cheaper"
    assert sc.conditions(testshire, "council-tax").empty
    assert (testshire / "system_conditions.csv.prev").exists()  # the previous version is kept
    assert not [p for p in validate_council(testshire) if p.file == "system_conditions.csv"]


def test_add_condition_defaults_to_today_and_open(testshire):
    sc.add_condition(testshire, service="waste", raised_in="capability", waste_seen="Missed bins come back")
    row = sc.conditions(testshire).iloc[0]
    assert (row["raised_at"].date(), row["status"]) == (dt.date.today(), "open")


@pytest.mark.parametrize(
    "kwargs, column",
    [
        ({"service": "parking"}, "service"),
        ({"raised_in": "lunch"}, "raised_in"),
        ({"status": "done"}, "status"),
        ({"waste_seen": "  "}, "waste_seen"),
        ({"raised_at": "the 40th"}, "raised_at"),
    ],
)
def test_add_condition_refuses_what_the_contract_does_not_allow(testshire, kwargs, column):
    args = {"service": "housing-repairs", "raised_in": "demand", "waste_seen": "Chasing", **kwargs}
    with pytest.raises(ContractError) as caught:
        sc.add_condition(testshire, **args)
    assert column in {p.column for p in caught.value.problems}
    assert not (testshire / "system_conditions.csv").exists()


def test_formula_like_text_is_defused_in_the_csv(testshire):
    sc.add_condition(
        testshire, service="housing-repairs", raised_in="demand", waste_seen='=HYPERLINK("x")', thinking="@SUM(A1)"
    )
    raw, _ = read_raw(testshire / "system_conditions.csv", "system_conditions")
    assert raw.loc[0, "waste_seen"] == '\'=HYPERLINK("x")' and raw.loc[0, "thinking"] == "'@SUM(A1)"


def test_add_condition_into_a_workbook(testshire):
    sc.add_condition(testshire, service="housing-repairs", raised_in="demand", waste_seen="Chasing")
    frame = read_table(testshire / "system_conditions.csv", "system_conditions").frame
    frame.astype(object).where(frame.notna(), None).to_excel(
        testshire / "system_conditions.xlsx", sheet_name="system_conditions", index=False
    )
    (testshire / "system_conditions.csv").unlink()
    assert sc.add_condition(testshire, service="waste", raised_in="flow", waste_seen="=1+1") == "SC-002"
    frame = sc.conditions(testshire)
    assert frame["id"].tolist() == ["SC-001", "SC-002"] and frame.loc[1, "waste_seen"] == "=1+1"  # text cell


def test_two_people_adding_at_once_both_land_with_their_own_ids(testshire):
    threads = [
        threading.Thread(
            target=sc.add_condition,
            args=(testshire,),
            kwargs={"service": "housing-repairs", "raised_in": "demand", "waste_seen": f"w{i}"},
        )
        for i in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    frame = sc.conditions(testshire)
    assert sorted(frame["id"]) == [f"SC-{i:03d}" for i in range(1, 7)]
    assert sorted(frame["waste_seen"]) == [f"w{i}" for i in range(6)]


# ------------------------------------------------------------------------------------------------ the learning log
def test_a_council_with_only_a_learning_log_shows_its_conditions(council_factory):
    folder = council_factory(learning_log=LOG)
    frame = sc.conditions(folder, "housing-repairs")
    assert plain(frame[["id", "system_condition", "raised_in", "status"]]) == [
        ["LL-2", "Pre-inspection rule", "experiment", "in hand"],  # two entries, one condition: latest status
        ["LL-4", "Job tickets by trade", "experiment", None],
    ]
    assert frame.loc[0, "waste_seen"] == "A second visit; 9 days waiting"
    assert frame.loc[0, "raised_at"] == pd.Timestamp("2024-01-10")
    assert sc.conditions(folder, "housing-repairs", learning_log=False).empty
    assert sc.open_conditions(sc.conditions(folder))["id"].tolist() == ["LL-2", "LL-4"]  # parked is not open


def test_migrate_learning_log_copies_each_condition_once(council_factory):
    folder = council_factory(learning_log=LOG)
    log_before = (folder / "learning_log.csv").read_bytes()
    assert sc.migrate_learning_log(folder) == 3
    # each entry now links to its condition by id, its own copy of the words cleared (the old file kept as .prev)
    linked = pd.read_csv(folder / "learning_log.csv", dtype=str, keep_default_na=False)
    assert linked["condition_id"].tolist() == ["SC-001", "SC-001", "SC-003", "", "SC-002"]
    assert linked["system_condition"].tolist() == [""] * 5
    assert linked["what_we_tried"].tolist() == pd.read_csv(io.StringIO(LOG), dtype=str)["what_we_tried"].tolist()
    assert (folder / "learning_log.csv.prev").read_bytes() == log_before
    after_first = (folder / "learning_log.csv").read_bytes()
    assert sc.migrate_learning_log(folder) == 0  # idempotent: nothing added, nothing rewritten
    assert (folder / "learning_log.csv").read_bytes() == after_first
    frame = sc.conditions(folder)
    assert plain(frame[["id", "service", "system_condition", "status"]]) == [
        ["SC-001", "housing-repairs", "Pre-inspection rule", "in hand"],
        ["SC-002", "council-tax", "Scripts limit what we say", "parked"],
        ["SC-003", "housing-repairs", "Job tickets by trade", None],
    ]
    assert set(frame["raised_in"]) == {"experiment"}
    assert frame.loc[0, "who_can_change"] == "Head of Repairs"
    # a condition already raised by the team is not copied again; a new one in the log is
    sc.add_condition(
        folder,
        service="housing-repairs",
        raised_in="flow",
        waste_seen="Waiting",
        system_condition="Budget sign-off over 500 pounds",
    )
    more = LOG + "2024-02-01,housing-repairs,Try,,budget sign-off over 500 POUNDS,,,\n"
    more += "2024-02-02,housing-repairs,Try,,Fixed appointment slots,,,\n"
    (folder / "learning_log.csv").write_text(more)
    assert sc.migrate_learning_log(folder) == 1
    frame = sc.conditions(folder).set_index("id")
    assert frame.loc["SC-005", "system_condition"] == "Fixed appointment slots"
    assert frame["system_condition"].str.lower().eq("budget sign-off over 500 pounds").sum() == 1


def test_migrating_a_council_without_a_learning_log_adds_nothing(testshire):
    assert sc.migrate_learning_log(testshire) == 0
    assert not (testshire / "system_conditions.csv").exists()


def test_the_stage_reads_the_table_redacted(testshire):
    sc.add_condition(testshire, service="housing-repairs", raised_in="demand", waste_seen="Call 07700 900123 back")
    stage = Stage(testshire, "housing-repairs", None, None, None, None)
    frame = stage.table("system_conditions", period=False)
    assert "07700" not in frame.loc[0, "waste_seen"]


# ------------------------------------------------------------------------------------ changed conditions as phases
def _frame(rows: str) -> pd.DataFrame:
    head = ",".join(sc.FIELDS) + "\n"
    import io

    from systemic_lib.data.contract import parse_table

    return parse_table(
        pd.read_csv(io.StringIO(head + rows), dtype=str, keep_default_na=False),
        "system_conditions",
        file="system_conditions.csv",
    ).frame


def test_phases_are_changed_conditions_with_a_date_deduplicated_and_sorted():
    from systemic_lib.data.council import SystemChange

    frame = _frame(
        "SC-001,s,2024-01-01,flow,Waste,Pre-inspection rule,,,changed,2024-05-06,\n"
        "SC-002,s,2024-01-01,flow,Waste,Budget sign-off,,,changed,2024-03-04,no\n"  # turned off
        "SC-003,s,2024-01-01,flow,Waste,Call scripts,,,in hand,2024-03-04,yes\n"  # not changed
        "SC-004,s,2024-01-01,flow,Waste,Job tickets,,,changed,,yes\n"  # no date
        "SC-005,s,2024-01-01,demand,Chasing calls,,,,Changed,2024-02-05,yes\n"  # no condition: the waste
        f"SC-006,s,2024-01-01,flow,Waste,{'x' * 70},,,changed,2024-02-05,\n"
        "SC-007,s,2024-01-01,flow,Waste,New letters,,,changed,2024-04-01,\n"
        "SC-008,s,2024-01-01,flow,Waste,Rule: every job over 250 pounds waits,,,changed,2024-11-04,,"
        "pre-inspection over 250 pounds removed\n"  # what changed names the phase, not the rule's words
    )
    changes = [
        SystemChange(date=dt.date(2024, 4, 1), label="new letters"),
        SystemChange(date=dt.date(2024, 1, 8), label="Team started"),
    ]
    got = [p.figure() for p in sc.phases(changes, frame)]
    assert got == [
        {"date": "2024-01-08", "label": "Team started", "source": "council.yaml"},
        {"date": "2024-02-05", "label": "Chasing calls (changed)", "source": "system condition SC-005"},
        {"date": "2024-02-05", "label": "x" * 49 + "\u2026 (changed)", "source": "system condition SC-006"},
        {"date": "2024-04-01", "label": "new letters", "source": "council.yaml"},
        {"date": "2024-04-01", "label": "New letters (changed)", "source": "system condition SC-007"},
        {"date": "2024-05-06", "label": "Pre-inspection rule (changed)", "source": "system condition SC-001"},
        {"date": "2024-11-04", "label": "pre-inspection over 250 pounds removed", "source": "system condition SC-008"},
    ]
    assert sc.phases((), None) == [] and sc.phases((), frame.iloc[:0]) == []


def test_the_stage_phases_read_the_conditions_and_an_unmigrated_log(council_factory):
    log = LOG.replace(",status\n", ",status,changed_at\n").replace(
        "Job tickets by trade,Hand-offs,Repairs manager,",
        "Job tickets by trade,Hand-offs,Repairs manager,changed,2024-02-05",
    )
    folder = council_factory(learning_log=log)
    stage = Stage(folder, "housing-repairs", "measure")
    assert [p.figure() for p in stage.phases()] == [
        {"date": "2024-02-05", "label": "Job tickets by trade (changed)", "source": "system condition LL-4"}
    ]
    assert Stage(folder, "council-tax", "measure").phases() == []
    assert sc.migrate_learning_log(folder) == 3 and sc.migrate_learning_log(folder) == 0  # once
    frame = sc.conditions(folder, learning_log=False).set_index("system_condition")
    assert frame.loc["Job tickets by trade", "changed_at"] == pd.Timestamp("2024-02-05")
    assert [p.figure() for p in Stage(folder, "housing-repairs", "measure").phases()] == [
        {"date": "2024-02-05", "label": "Job tickets by trade (changed)", "source": "system condition SC-003"}
    ]


def test_set_condition_marks_a_change_and_turns_its_phase_off_and_on(testshire):
    sid = sc.add_condition(
        testshire,
        service="housing-repairs",
        raised_in="flow",
        waste_seen="A second visit",
        system_condition="Pre-inspection rule",
        raised_at="2024-01-02",
    )
    sc.set_condition(testshire, sid, status="Changed", changed_at=dt.date(2024, 1, 15))
    got = sc.conditions(testshire, "housing-repairs").iloc[0]
    assert (got["status"], got["changed_at"]) == ("changed", pd.Timestamp("2024-01-15")) and pd.isna(got["phase"])
    assert [p.label for p in Stage(testshire, "housing-repairs", "measure").phases()] == [
        "Pre-inspection rule (changed)"
    ]
    sc.set_condition(testshire, sid, phase=False)
    assert sc.conditions(testshire, "housing-repairs").loc[0, "phase"] == False  # noqa: E712
    assert Stage(testshire, "housing-repairs", "measure").phases() == []
    sc.set_condition(testshire, sid, phase=True)
    assert len(Stage(testshire, "housing-repairs", "measure").phases()) == 1
    before = (testshire / "system_conditions.csv").read_bytes()
    with pytest.raises(ContractError, match="status"):
        sc.set_condition(testshire, sid, status="finished")
    with pytest.raises(Exception, match="not a date"):
        sc.set_condition(testshire, sid, changed_at="someday")
    with pytest.raises(Exception, match="no system condition SC-404"):
        sc.set_condition(testshire, "SC-404", phase=False)
    assert (testshire / "system_conditions.csv").read_bytes() == before  # nothing written


def test_a_changed_condition_with_no_date_is_warned_about_in_the_table_not_the_old_log(council_factory):
    folder = council_factory(
        system_conditions=(
            "id,service,raised_at,raised_in,waste_seen,status,changed_at\n"
            "SC-001,housing-repairs,2024-01-02,flow,Waste,changed,\n"
            "SC-002,housing-repairs,2024-01-02,flow,Waste,open,2024-01-09\n"
            "SC-003,housing-repairs,2024-01-02,flow,Waste,changed,not a date\n"
        )
    )
    problems = read_table(folder / "system_conditions.csv", "system_conditions").problems
    said = {(p.row, p.severity, p.message.split(",")[0]) for p in problems if p.column == "changed_at"}
    assert said == {
        (4, "error", "cannot read 'not a date' as a date"),
        (2, "warning", "is marked changed with no changed_at"),
        (3, "warning", "has a changed_at date but its status is not changed or designed out"),
    }
    old = read_table(council_factory(name="old", learning_log=LOG) / "learning_log.csv", "learning_log").problems
    assert not [p for p in old if p.column == "changed_at"]  # an old log's changes have no date: as before


def test_a_condition_can_be_corrected_and_removed_with_the_previous_version_kept(testshire):
    sid = sc.add_condition(
        testshire,
        service="housing-repairs",
        raised_in="flow",
        waste_seen="A second visit",
        system_condition="Pre-inspection rule <b>over 250</b>",
        raised_at="2024-01-02",
    )
    other = sc.add_condition(testshire, service="housing-repairs", raised_in="demand", waste_seen="Chasing")
    sc.set_condition(
        testshire,
        sid,
        status="changed",
        changed_at="2024-01-15",
        what_changed="pre-inspection over 250 pounds removed",
        system_condition="Pre-inspection rule for jobs over 250 pounds",
        who_can_change="=HYPERLINK(1)",
    )
    got = sc.conditions(testshire, "housing-repairs").set_index("id").loc[sid]
    assert got["what_changed"] == "pre-inspection over 250 pounds removed"
    assert got["system_condition"] == "Pre-inspection rule for jobs over 250 pounds"
    assert (testshire / "system_conditions.csv.prev").exists()
    assert "'=HYPERLINK" in (testshire / "system_conditions.csv").read_text()  # defused for a spreadsheet
    [phase] = Stage(testshire, "housing-repairs", "measure").phases()
    assert (phase.date, phase.label) == (dt.date(2024, 1, 15), "pre-inspection over 250 pounds removed")
    sc.set_condition(testshire, sid, status="open", changed_at="", what_changed="")  # the change undone
    assert Stage(testshire, "housing-repairs", "measure").phases() == []
    with pytest.raises(ContractError, match="waste_seen"):
        sc.set_condition(testshire, sid, waste_seen="  ")
    with pytest.raises(SystemicError, match="no field"):
        sc.set_condition(testshire, sid, service="council-tax")
    removed = sc.remove_condition(testshire, other)
    assert removed["waste_seen"] == "Chasing"
    assert list(sc.conditions(testshire, "housing-repairs")["id"]) == [sid]
    assert other in (testshire / "system_conditions.csv.prev").read_text()  # the previous version keeps it


def test_a_condition_a_learning_log_entry_links_to_is_not_removed(testshire):
    sid = sc.add_condition(testshire, service="housing-repairs", raised_in="flow", waste_seen="A second visit")
    (testshire / "learning_log.csv").write_text(
        "date,service,what_we_tried,condition_id\n2024-01-10,housing-repairs,Fix first time," + sid + "\n"
    )
    with pytest.raises(SystemicError, match="1 learning-log entry links to it"):
        sc.remove_condition(testshire, sid)
    assert list(sc.conditions(testshire, "housing-repairs", learning_log=False)["id"]) == [sid]
