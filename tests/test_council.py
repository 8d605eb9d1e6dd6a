"""council.yaml and the tables: every bad input of issue 2 gives one clear message naming file, row and column."""

import textwrap

import pandas as pd
import pytest
from click.testing import CliRunner

from systemic_lib import config
from systemic_lib.cli import main
from systemic_lib.data.contract import ERROR, WARNING, markdown_tables
from systemic_lib.data.council import load_council, validate_council, within_period
from systemic_lib.errors import SystemicError, UnknownServiceError

YAML = textwrap.dedent("""\
    name: Testshire Council
    services:
      - id: housing-repairs
        name: Housing repairs
        purpose: Fix my home properly, first time
        measures:
          - id: end_to_end_days
            direction: decrease
        experiment: {start: 2024-07-01, team: Repairs team}
      - id: council-tax
        name: Council tax
        purpose: Pay the right amount, easily
    system_changes:
      - {date: 2024-07-01, label: New team started, services: [housing-repairs]}
      - {date: 2024-03-01, label: New phone menu}
""")

DEMAND = textwrap.dedent("""\
    contact_id,service,received_at,channel,verbatim,demand_type,classification,failure_type,what_matters,one_stop
    C1,housing-repairs,2024-01-02 09:00,Phone,My boiler is broken,fix boiler,value,,warm home,yes
    C2,housing-repairs,2024-01-03 10:30,email,When will you come?,when will my repair be done,FAIL,progress chasing,knowing when,no
    C3,council-tax,04/01/2024,web,Bill is wrong,wrong bill,Failure demand,not done right,,no
""")


def make_council(tmp_path, files: dict | None = None, yaml_text: str = YAML):
    folder = tmp_path / "testshire"
    folder.mkdir()
    if yaml_text is not None:
        (folder / "council.yaml").write_text(yaml_text)
    for name, content in (files or {}).items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return folder


def errors(problems):
    return [p for p in problems if p.severity == ERROR]


def test_a_good_council_loads_typed_tables(tmp_path):
    council = load_council(make_council(tmp_path, {"demand.csv": DEMAND}))
    assert council.name == "Testshire Council"
    assert council.slug == "testshire"
    assert validate_council(council.path) == []
    demand = council.table("demand")
    assert len(demand) == 3
    assert demand["received_at"].dtype == "datetime64[ns]"
    assert demand["classification"].tolist() == ["value", "failure", "failure"]
    assert demand["channel"].tolist() == ["phone", "email", "web"]
    assert demand["one_stop"].tolist() == [True, False, False]
    # UK day-first date
    assert demand["received_at"].iloc[2] == pd.Timestamp("2024-01-04")


def test_service_filter_and_period(tmp_path):
    council = load_council(make_council(tmp_path, {"demand.csv": DEMAND}))
    assert len(council.table("demand", service="housing-repairs")) == 2
    assert len(council.table("demand", start="2024-01-03", end="2024-01-03")) == 1
    assert council.table("events").empty  # absent table: typed, empty
    frame = council.table("demand")
    assert len(within_period(frame, "received_at", None, "2024-01-02")) == 1


def test_system_changes_apply_to_their_services(tmp_path):
    council = load_council(make_council(tmp_path))
    labels = [c.label for c in council.system_changes("housing-repairs")]
    assert labels == ["New phone menu", "New team started"]  # sorted by date
    assert [c.label for c in council.system_changes("council-tax")] == ["New phone menu"]
    assert council.services["housing-repairs"].measures[0].improvement == "decrease"


def test_missing_council_yaml(tmp_path):
    folder = make_council(tmp_path, {"demand.csv": DEMAND}, yaml_text=None)
    problems = validate_council(folder)
    assert len(problems) == 1
    assert problems[0].file.endswith("council.yaml") and "missing" in problems[0].message


def test_not_a_folder(tmp_path):
    with pytest.raises(SystemicError, match="no such council folder"):
        load_council(tmp_path / "nowhere")


def test_council_yaml_with_bad_fields_lists_each(tmp_path):
    bad = "name: X\nservices:\n  - id: Bad Id\n    name: A\n  - id: ok\n    name: B\n    purpose: p\n    measures: [{id: speed}]\n"
    problems = validate_council(make_council(tmp_path, yaml_text=bad))
    text = "\n".join(p.describe() for p in problems)
    assert "services.0.id" in text and "services.0.purpose" in text
    assert "unknown measure 'speed'" in text


def test_unknown_service_asked_for(tmp_path):
    council = load_council(make_council(tmp_path))
    with pytest.raises(UnknownServiceError, match="no service 'parking'.*housing-repairs, council-tax"):
        council.table("demand", service="parking")


def test_unknown_service_in_rows_is_a_counted_warning(tmp_path):
    demand = DEMAND + "C4,parking,2024-01-05 10:00,phone,,,,,,\nC5,parking,2024-01-05 11:00,phone,,,,,,\n"
    problems = validate_council(make_council(tmp_path, {"demand.csv": demand}))
    (p,) = [p for p in problems if p.column == "service"]
    assert p.severity == WARNING and p.row == 5 and p.count == 2 and "parking" in p.message


def test_missing_required_column(tmp_path):
    demand = DEMAND.replace("received_at,", "when,")
    (p,) = errors(validate_council(make_council(tmp_path, {"demand.csv": demand})))
    assert (p.file, p.column) == ("demand.csv", "received_at")
    assert "required column 'received_at' is missing" in p.message


def test_unparseable_dates_name_row_and_column(tmp_path):
    demand = DEMAND.replace("2024-01-03 10:30", "the third")
    (p,) = errors(validate_council(make_council(tmp_path, {"demand.csv": demand})))
    assert (p.file, p.row, p.column) == ("demand.csv", 3, "received_at")
    assert "'the third'" in p.message and "YYYY-MM-DD" in p.fix


def test_empty_table(tmp_path):
    header_only = DEMAND.splitlines()[0] + "\n"
    (p,) = errors(validate_council(make_council(tmp_path, {"demand.csv": header_only})))
    assert p.file == "demand.csv" and "no rows" in p.message
    (p,) = errors(
        validate_council(make_council(tmp_path / "x", {"events.csv": ""}) if (tmp_path / "x").mkdir() is None else None)
    )
    assert p.file == "events.csv" and "empty" in p.message


def test_duplicate_ids(tmp_path):
    demand = DEMAND.replace("C3,", "C1,")
    (p,) = errors(validate_council(make_council(tmp_path, {"demand.csv": demand})))
    assert (p.row, p.column) == (4, "contact_id") and "'C1' appears more than once" in p.message


def test_non_utf8_csv(tmp_path):
    data = DEMAND.replace("My boiler", "Mon chaudière").encode("cp1252")
    (p,) = errors(validate_council(make_council(tmp_path, {"demand.csv": data})))
    assert p.file == "demand.csv" and "not UTF-8" in p.message and p.row == 2
    assert "CSV UTF-8" in p.fix


def test_xlsx_with_the_wrong_sheet(tmp_path):
    folder = make_council(tmp_path)
    frame = pd.read_csv(pd.io.common.StringIO(DEMAND), dtype=str)
    frame.to_excel(folder / "demand.xlsx", sheet_name="Sheet1", index=False)
    (p,) = errors(validate_council(folder))
    assert p.file == "demand.xlsx" and "no sheet named 'demand'" in p.message and "Sheet1" in p.message


def test_xlsx_with_the_right_sheet_reads_like_csv(tmp_path):
    folder = make_council(tmp_path)
    frame = pd.read_csv(pd.io.common.StringIO(DEMAND), dtype=str, keep_default_na=False)
    frame.to_excel(folder / "demand.xlsx", sheet_name="demand", index=False)
    council = load_council(folder)
    assert errors(council.problems()) == []
    assert council.table("demand")["classification"].tolist() == ["value", "failure", "failure"]


def test_unknown_spellings_and_future_dates_are_counted_warnings(tmp_path):
    demand = DEMAND + "C9,council-tax,2031-01-01 10:00,phone,,,maybe,,,perhaps\n"
    council = load_council(make_council(tmp_path, {"demand.csv": demand}))
    problems = council.problems()
    assert errors(problems) == []
    by_col = {p.column: p for p in problems}
    assert by_col["classification"].row == 5 and "counted as blank" in by_col["classification"].message
    assert by_col["one_stop"].severity == WARNING
    assert "future" in by_col["received_at"].message
    assert len(council.table("demand")) == 4  # nothing dropped


def test_offsets_become_local_time(tmp_path):
    events = "case_id,service,activity,timestamp\nR1,housing-repairs,Visit,2024-06-30T23:00:00+00:00\n"
    council = load_council(make_council(tmp_path, {"events.csv": events}))
    assert council.table("events")["timestamp"].iloc[0] == pd.Timestamp("2024-07-01 00:00")  # BST


def test_validate_command_exit_codes(tmp_path):
    good = make_council(tmp_path, {"demand.csv": DEMAND})
    result = CliRunner().invoke(main, ["validate", str(good)])
    assert result.exit_code == 0, result.output
    (good / "demand.csv").write_text(DEMAND.replace("2024-01-03 10:30", "soon"))
    result = CliRunner().invoke(main, ["validate", str(good)])
    assert result.exit_code == 1
    assert "demand.csv, row 3, column 'received_at'" in result.output


def test_readme_shows_the_contract_as_the_code_defines_it():
    readme = (config.PROJECT_ROOT / "README.md").read_text()
    assert markdown_tables() in readme


def test_implausible_year_is_an_error_not_a_crash(tmp_path):
    demand = DEMAND.replace("2024-01-03 10:30", "2999-01-03 10:30")
    (p,) = errors(validate_council(make_council(tmp_path, {"demand.csv": demand})))
    assert (p.row, p.column) == (3, "received_at")


def test_cut_gives_each_key_the_rows_a_take_would():
    import numpy as np
    import pandas as pd

    from systemic_lib.data.contract import cut

    frame = pd.DataFrame({"service": pd.array(list("abcabca"), dtype="str"), "n": range(7)}, index=range(10, 17))
    positions = {k: np.asarray(v) for k, v in frame.groupby("service", sort=False).indices.items()}
    got = cut(frame, positions)
    assert list(got) == ["a", "b", "c"]
    for key, rows in positions.items():
        pd.testing.assert_frame_equal(got[key], frame.take(rows))
    assert cut(frame, {}) == {}


def test_a_key_written_twice_in_council_yaml_is_an_error_with_both_lines(council_factory):
    """Issue 23: YAML keeps the last of two ``name:`` keys without a word; validate passed, and the coach app's edit
    of the service changed the first. Now it is an error naming both lines."""
    from systemic_lib.data.council import validate_council

    yaml_text = (
        "name: Testshire Council\n"
        "services:\n"
        "  - id: housing-repairs\n"
        "    name: Housing repairs\n"
        "    purpose: Fix my home properly first time\n"
        "    name: Repairs\n"
    )
    (problem,) = validate_council(council_factory("twice", council_yaml=yaml_text))
    assert problem.file.endswith("council.yaml line 6") and "'name' is written twice (lines 4 and 6)" in problem.message


def test_a_measure_counting_contacts_within_a_hundred_billion_days_is_refused(council_factory):
    """Issue 23: ``no_contact_within_days: 100000000000`` passed validate, then crashed the measure stage."""
    from systemic_lib.data.council import validate_council

    yaml_text = (
        "name: Testshire Council\n"
        "services:\n"
        "  - id: housing-repairs\n"
        "    name: Housing repairs\n"
        "    purpose: Fix my home properly first time\n"
        "    measures:\n"
        "      - id: fixed_for_good\n"
        "        name: Fixed for good\n"
        "        share: {of: cases, by: closed_at, matching: {no_contact_within_days: 100000000000}}\n"
    )
    problems = validate_council(council_factory("forever", council_yaml=yaml_text))
    assert len(problems) == 1 and "3650" in problems[0].message and "line 9" in problems[0].file
