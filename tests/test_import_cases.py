"""systemic import cases: rows in = written + rejected, each rejection with its reason; open cases stay open; times
and zones; a re-import keeps the team's judgements; the lock; the real Boston 311 export, end to end."""

import textwrap

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from systemic_lib.data.contract import ERROR
from systemic_lib.data.council import load_council, validate_council
from systemic_lib.data.importers import import_group
from systemic_lib.data.importers.cases import cases_command, import_cases, load_mapping
from systemic_lib.data.importers.demand import import_demand
from systemic_lib.errors import ImportMappingError

from conftest import edit_rows, needs_file, runs_after_a_save

# One row per reject reason, plus the cases that go in (1, 2, 9, 12): the row number is the spreadsheet's (header 1).
SOURCE = textwrap.dedent("""\
    CASE_ENQUIRY_ID,OPEN_DT,CLOSED_DT,CASE_STATUS,SUBJECT,TYPE,Source
    1,01/05/2015 09:15:00 AM,01/07/2015 04:00:00 PM,Closed,Public Works Department,Pothole Repair,Constituent Call
    2,01/05/2015 01:30:00 PM,,Open,Public Works Department,Street Light Outages,Citizens Connect App
    3,01/06/2015 10:00:00 AM,,Open,Inspectional Services,Building Inspection Request,Employee Generated
    ,01/07/2015 10:00:00 AM,,Open,Public Works Department,Sign Repair,Self Service
    5,13/45/2015 10:00:00 AM,,Open,Public Works Department,Sign Repair,Self Service
    6,01/07/2015 10:00:00 AM,yesterday,Closed,Public Works Department,Sign Repair,Self Service
    7,01/07/2015 10:00:00 AM,,Closed,Public Works Department,Sign Repair,Self Service
    8,01/07/2015 10:00:00 AM,01/06/2015 10:00:00 AM,Closed,Public Works Department,Sign Repair,Self Service
    9,01/08/2015 10:00:00 AM,01/09/2015 10:00:00 AM,Open,Parks & Recreation Department,Tree Pruning,Constituent Call
    1,01/08/2015 10:00:00 AM,,Open,Public Works Department,Sign Repair,Twitter
    11,01/08/2015 10:00:00 AM,,Pending,Public Works Department,Sign Repair,Twitter
    12,01/09/2015 11:00:00 PM,01/09/2015 11:30:00 PM,Closed,Parks & Recreation Department,Tree Pruning,Self Service
    13,01/09/2015 11:00:00 PM,,Open,,Tree Pruning,Self Service
""")


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(SOURCE)
    return path


def _reasons(folder):
    rejected = pd.read_csv(folder / "cases.rejected.csv", dtype=str, keep_default_na=False)
    return dict(zip(rejected["source_row"], rejected["reason"]))


def test_rows_balance_and_every_rejection_has_its_reason(tmp_path, source):
    folder = tmp_path / "b"
    r = import_cases(source, folder, mapping="boston311_cases")
    assert (r["rows_in"], r["written"], r["rejected"]) == (13, 4, 9)
    reasons = _reasons(folder)
    assert reasons["4"].startswith("raised by city staff") and "Employee Generated" in reasons["4"]
    assert reasons["5"] == "CASE_ENQUIRY_ID is blank: every case needs its own id"
    assert reasons["6"] == "OPEN_DT '13/45/2015 10:00:00 AM' is not a date written MM/DD/YYYY hh:mm:ss AM/PM"
    assert reasons["7"] == "CLOSED_DT 'yesterday' is not a date written MM/DD/YYYY hh:mm:ss AM/PM"
    assert reasons["8"].startswith("CASE_STATUS 'Closed' but CLOSED_DT is blank: a closed case needs the date")
    assert reasons["9"] == (
        "CLOSED_DT '01/06/2015 10:00:00 AM' is before OPEN_DT '01/07/2015 10:00:00 AM': fix one of "
        "the two dates in the export"
    )
    assert reasons["11"] == "CASE_ENQUIRY_ID '1' appears again (first at source row 2)"
    assert reasons["12"].startswith("CASE_STATUS 'Pending' is neither an open nor a closed status in the mapping")
    assert reasons["14"].startswith("SUBJECT is blank: every case needs its service")
    assert r["rejected_by_reason"] == {
        "raised by city staff, not a contact from a citizen": 1,
        "no case id": 1,
        "no service": 1,
        "opened time cannot be read": 1,
        "closed time cannot be read": 1,
        "status not known": 1,
        "closed with no close date": 1,
        "closed before opened": 1,
        "case id repeated": 1,
    }
    council = load_council(folder)  # council.yaml written from the data, the cases valid under the contract
    assert list(council.services) == ["public-works", "parks"]
    assert not [p for p in validate_council(folder) if p.severity == ERROR]


def test_open_cases_stay_open_and_closed_ones_keep_their_times(tmp_path, source):
    folder = tmp_path / "b"
    r = import_cases(source, folder, mapping="boston311_cases")
    c = load_council(folder).table("cases").set_index("case_id")
    assert c.loc["1", "opened_at"] == pd.Timestamp("2015-01-05 09:15")
    assert c.loc["1", "closed_at"] == pd.Timestamp("2015-01-07 16:00")
    assert c.loc["12", "closed_at"] == pd.Timestamp("2015-01-09 23:30")  # 11:30 PM, parsed by the format
    assert pd.isna(c.loc["2", "closed_at"])  # no close date: open
    assert pd.isna(c.loc["9", "closed_at"])  # status Open with an old close date: still open, not closed on 9 Jan
    assert (r["open"], r["closed"], r["open_with_close_date"]) == (2, 2, 1)
    assert c.loc["9", "demand_type"] == "Tree Pruning" and c.loc["9", "service"] == "parks"


def test_without_a_status_column_a_blank_close_date_means_open(tmp_path):
    src = tmp_path / "x.csv"
    src.write_text("ref,team,start,end\nA,Repairs,2024-03-04 09:00,2024-03-06 10:00\nB,Repairs,2024-03-05 09:00,\n")
    r = import_cases(
        src,
        tmp_path / "c",
        mapping={"columns": {"case_id": "ref", "service": "team", "opened_at": "start", "closed_at": "end"}},
    )
    council = load_council(tmp_path / "c")  # council.yaml written from the cases, with end-to-end time to chart
    c = council.table("cases").set_index("case_id")
    assert pd.isna(c.loc["B", "closed_at"]) and c.loc["A", "closed_at"] == pd.Timestamp("2024-03-06 10:00")
    assert (r["open"], r["closed"], r["rejected"]) == (1, 1, 0)
    assert [m.id for m in council.services["repairs"].measures] == ["end_to_end_days"]


# ------------------------------------------------------------------ dates and zones
def _one(tmp_path, rows: str, **mapping):
    src = tmp_path / "z.csv"
    src.write_text("id,opened,closed\n" + rows)
    spec = {
        "columns": {"case_id": "id", "opened_at": "opened", "closed_at": "closed"},
        "service": {"value": "repairs"},
        **mapping,
    }
    r = import_cases(src, tmp_path / "z", mapping=spec, replace=True)
    return r, pd.read_csv(tmp_path / "z" / "cases.csv", dtype=str, keep_default_na=False).set_index("case_id")


def test_times_with_an_offset_are_converted_to_local_time(tmp_path):
    # 23:30 UTC on 30 June is 00:30 on 1 July in London (summer time): the local date is the one kept.
    r, c = _one(tmp_path, "A,2024-06-30T23:30:00Z,2024-07-02T09:00:00+02:00\nB,2024-01-15 09:00,\n")
    assert c.loc["A", "opened_at"] == "2024-07-01 00:30:00" and c.loc["A", "closed_at"] == "2024-07-02 08:00:00"
    assert c.loc["B", "opened_at"] == "2024-01-15 09:00:00"  # naive: taken as local
    assert r["times_converted_to_local"] == 2
    r, c = _one(tmp_path, "A,2024-06-30T23:30:00Z,\n", local_timezone="America/New_York")
    assert c.loc["A", "opened_at"] == "2024-06-30 19:30:00"


def test_naive_times_in_another_zone_and_formats_with_an_offset(tmp_path):
    r, c = _one(tmp_path, "A,2024-07-01 09:00,2024-12-02 09:00\n", source_timezone="UTC")
    assert c.loc["A", "opened_at"] == "2024-07-01 10:00:00"  # BST
    assert c.loc["A", "closed_at"] == "2024-12-02 09:00:00"  # GMT
    assert r["times_converted_to_local"] == 2
    r, c = _one(tmp_path, "A,01/07/2024 09:00 +0000,\n", date_format="%d/%m/%Y %H:%M %z")
    assert c.loc["A", "opened_at"] == "2024-07-01 10:00:00"
    r, c = _one(tmp_path, "A,04/03/2024 09:15,\n")  # default: day first
    assert c.loc["A", "opened_at"] == "2024-03-04 09:15:00"
    # 01:30 on 27 Oct 2024 happens twice in London (clocks go back): the earlier reading, in summer time
    r, c = _one(tmp_path, "A,2024-10-27 00:30,\n", source_timezone="UTC")
    assert c.loc["A", "opened_at"] == "2024-10-27 01:30:00"


def test_an_unknown_time_zone_is_named(tmp_path):
    with pytest.raises(ImportMappingError, match="'Europe/Nowhere' is not a time zone name"):
        _one(tmp_path, "A,2024-07-01 09:00,\n", local_timezone="Europe/Nowhere")


# ------------------------------------------------------------------ the mapping and the command
def test_the_team_s_columns_cannot_be_read_from_an_export(tmp_path):
    with pytest.raises(ImportMappingError, match="cohort: the team's judgement"):
        load_mapping({"columns": {"case_id": "a", "opened_at": "b", "service": "c", "cohort": "d"}})
    with pytest.raises(ImportMappingError, match="names no source column for case_id, opened_at, service"):
        load_mapping({"columns": {"closed_at": "x"}})


def test_a_missing_source_column_is_named_with_the_fix(tmp_path, source):
    result = CliRunner().invoke(
        cases_command,
        [str(source), "--council", str(tmp_path / "c"), "--mapping", "boston311_cases", "--map", "opened_at=OPEN"],
    )
    assert result.exit_code != 0
    assert "export.csv: the mapping reads opened_at from column 'OPEN'" in result.output
    assert "similar: OPEN_DT" in result.output and "--map opened_at=<column>" in result.output


def test_cli_summary_and_the_import_group(tmp_path, source):
    args = ["cases", str(source), "--council", str(tmp_path / "c"), "--mapping", "boston311_cases"]
    result = CliRunner().invoke(import_group, args)
    assert result.exit_code == 0, result.output
    assert "Read 13 rows from export.csv: wrote 4 cases" in result.output and "rejected 9" in result.output
    assert "Rejected 1: closed with no close date." in result.output
    assert "Open 2 (no close date, or an open status" in result.output and "closed 2." in result.output
    assert "1 cases the export calls open had a close date: kept open" in result.output
    assert "cases.rejected.csv" in result.output


def test_services_not_in_council_yaml_are_rejected_when_it_exists(tmp_path, source):
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "council.yaml").write_text(
        yaml.safe_dump(
            {"name": "B", "services": [{"id": "public-works", "name": "Public Works", "purpose": "Fix the street"}]}
        )
    )
    r = import_cases(source, folder, mapping="boston311_cases")
    assert r["rejected_by_reason"]["service not in council.yaml"] == 2  # cases 9 and 12, parks
    assert _reasons(folder)["10"].startswith(
        "service 'parks' (SUBJECT 'Parks & Recreation Department') is not in council.yaml: add it there"
    )
    assert r["rows_in"] == r["written"] + r["rejected"] and r["written"] == 2


def test_formula_like_text_stays_text_and_is_defused_in_the_rejected_file(tmp_path, source):
    src = tmp_path / "f.csv"
    src.write_text(SOURCE.replace("Tree Pruning", '"=HYPERLINK(""http://x"",""click"")"'))
    out = tmp_path / "c" / "cases.xlsx"
    import_cases(src, tmp_path / "c", mapping="boston311_cases", out=out)
    c = load_council(tmp_path / "c").table("cases").set_index("case_id")
    assert c.loc["12", "demand_type"] == '=HYPERLINK("http://x","click")'  # the council's own file: text as text
    rejected = pd.read_csv(tmp_path / "c" / "cases.rejected.csv", dtype=str, keep_default_na=False)
    assert rejected.set_index("source_row").loc["14", "TYPE"] == '\'=HYPERLINK("http://x","click")'


# ------------------------------------------------------------------ re-import, lock, atomic write
def _team(folder, case, **judgement):
    """What a team does by hand: edit one row of cases.csv as text."""
    edit_rows(folder / "cases.csv", "case_id", case, **judgement)


def test_reimport_keeps_the_team_s_judgements_and_replace_discards_them(tmp_path, source):
    folder = tmp_path / "b"
    import_cases(source, folder, mapping="boston311_cases")
    _team(folder, "2", cohort="experiment", demand_returns="no", notes="new team took it")
    _team(folder, "1", cohort="baseline", wanted_by="2015-01-06")
    newer = tmp_path / "newer.csv"  # case 12 gone, case 20 new, case 2 now closed
    lines = [line for line in SOURCE.splitlines() if not line.startswith("12,")]
    lines = [
        line.replace("2,01/05/2015 01:30:00 PM,,Open", "2,01/05/2015 01:30:00 PM,01/20/2015 09:00:00 AM,Closed")
        for line in lines
    ]
    newer.write_text(
        "\n".join(lines) + "\n20,01/10/2015 10:00:00 AM,,Open,Public Works Department,Sign Repair,Self Service\n"
    )
    r = import_cases(newer, folder, mapping="boston311_cases")
    c = load_council(folder).table("cases").set_index("case_id")
    assert (c.loc["2", "cohort"], c.loc["2", "demand_returns"], c.loc["2", "notes"]) == (
        "experiment",
        False,
        "new team took it",
    )
    assert c.loc["2", "closed_at"] == pd.Timestamp("2015-01-20 09:00")  # the source's facts are refreshed
    assert c.loc["1", "cohort"] == "baseline" and c.loc["1", "wanted_by"] == pd.Timestamp("2015-01-06")
    assert "12" not in c.index and "20" in c.index
    assert (r["kept"], r["added"], r["removed"]) == (2, 1, 1)
    again = CliRunner().invoke(cases_command, [str(newer), "--council", str(folder), "--mapping", "boston311_cases"])
    assert again.exit_code == 0, again.output
    assert "Kept the team's judgements on 2 cases still in the source" in again.output
    r = import_cases(newer, folder, mapping="boston311_cases", replace=True)
    c = load_council(folder).table("cases").set_index("case_id")
    assert pd.isna(c.loc["2", "cohort"]) and "notes" not in c.columns and r["kept"] == 0


def test_import_waits_for_a_save_in_progress_and_keeps_the_previous_file(tmp_path, source):
    folder = tmp_path / "b"
    import_cases(source, folder, mapping="boston311_cases")
    runs_after_a_save(
        folder / "cases.csv",
        lambda: import_cases(source, folder, mapping="boston311_cases"),
        lambda: _team(folder, "1", cohort="experiment"),
    )
    assert load_council(folder).table("cases").set_index("case_id").loc["1", "cohort"] == "experiment"
    assert (folder / "cases.csv.prev").exists()  # the write replaced the file whole, the previous kept
    assert not [p for p in folder.iterdir() if p.name.startswith(".cases.csv.") and not p.name.endswith(".lock")]


def test_an_unreadable_previous_file_is_left_alone(tmp_path, source):
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "cases.csv").write_text("ref,cohort\nA,baseline\n")
    with pytest.raises(Exception, match="cases.csv has no case_id column, so the team's work in it cannot be matched"):
        import_cases(source, folder, mapping="boston311_cases")
    assert (folder / "cases.csv").read_text() == "ref,cohort\nA,baseline\n"


# ------------------------------------------------------------------ the real Boston 311 export
STAFF = ["Employee Generated", "City Worker App", "Maximo Integration"]
FORMAT = "%m/%d/%Y %I:%M:%S %p"


def _boston(real_data):
    path = real_data / "boston-311-2015" / "boston311_2015.csv.gz"
    return needs_file(path)


def test_the_real_boston_export_balances_with_counts_computed_from_the_raw_file(tmp_path, real_data):
    path = _boston(real_data)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    staff = raw["Source"].isin(STAFF)
    opened = pd.to_datetime(raw["OPEN_DT"], format=FORMAT)
    closed = pd.to_datetime(raw["CLOSED_DT"].replace("", None), format=FORMAT)
    backwards = ~staff & (closed < opened)
    expected = raw[~staff & ~backwards]
    r = import_cases(path, tmp_path / "b", mapping="boston311_cases")
    assert r["rows_in"] == len(raw) == 121_145
    assert r["rows_in"] == r["written"] + r["rejected"]
    assert r["written"] == len(expected) == 93_488
    assert r["rejected_by_reason"] == {
        "raised by city staff, not a contact from a citizen": int(staff.sum()),
        "closed before opened": int(backwards.sum()),
    }
    assert r["open"] == int(expected["CASE_STATUS"].eq("Open").sum()) == int(expected["CLOSED_DT"].eq("").sum())
    cases = load_council(tmp_path / "b").table("cases").set_index("case_id")
    still_open = expected.loc[expected["CASE_STATUS"].eq("Open"), "CASE_ENQUIRY_ID"]
    assert cases.loc[still_open, "closed_at"].isna().all()  # open cases stay open
    assert cases["closed_at"].notna().sum() == r["closed"] == int(expected["CASE_STATUS"].eq("Closed").sum())


def test_demand_and_cases_from_the_real_export_link_and_render_end_to_end(tmp_path, real_data, run_stage_notebook):
    """Two departments of the real export (all their rows), imported as demand and as cases, render flow, measure
    and the organisation scan."""
    raw = pd.read_csv(_boston(real_data), dtype=str, keep_default_na=False)
    part = raw[raw["SUBJECT"].isin(["Disability Department", "Animal Control"])]
    src = tmp_path / "two.csv"
    part.to_csv(src, index=False)
    folder = tmp_path / "boston"
    d = import_demand(src, folder, mapping="boston311")
    c = import_cases(src, folder, mapping="boston311_cases")
    assert c["rows_in"] == d["rows_in"] == len(part)
    council = load_council(folder)
    assert not [p for p in council.problems() if p.severity == ERROR]
    contacts, cases = council.table("demand"), council.table("cases")
    assert set(contacts["case_id"]) == set(cases["case_id"])  # every contact its case, every case its contact
    assert c["services_without_end_to_end"] == ["animal-control", "disability"]  # council.yaml from demand
    spec = yaml.safe_load((folder / "council.yaml").read_text())
    for service in spec["services"]:  # what the summary tells the team to do
        service["measures"].append({"id": "end_to_end_days", "direction": "decrease"})
    (folder / "council.yaml").write_text(yaml.safe_dump(spec))
    figures, html = run_stage_notebook("flow", council_dir=str(folder), service="animal-control")
    assert figures["service"] == "animal-control" and "Traceback" not in html
    figures, html = run_stage_notebook("measure", council_dir=str(folder), service="animal-control")
    e2e = figures["measures"]["end_to_end_days"]
    # weekly medians of the imported cases; most weeks of Animal Control still have cases open, so few are known
    assert e2e["grain"] == "week" and e2e["n_points"] >= 1 and e2e["phases"][0]["start"] >= "2014-12-29"
    figures, html = run_stage_notebook("organisation_scan", council_dir=str(folder), service=None)
    row = {s["service"]: s for s in figures["services"]}["animal-control"]
    assert row["contacts"] == int(contacts["service"].eq("animal-control").sum())
    assert row["end_to_end_capability"]["grain"] == "case"  # end-to-end time from the imported cases


def test_the_council_s_own_import_settings_are_a_mapping_layer(tmp_path, source):
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "council.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "B",
                "services": [{"id": s, "name": s, "purpose": "p"} for s in ("public-works", "parks")],
                "imports": {
                    "cases": {
                        "mapping": "boston311_cases",
                        "status": {"column": "CASE_STATUS", "open": ["Open"], "closed": ["Closed", "Pending"]},
                    }
                },
            }
        )
    )
    r = import_cases(source, folder)  # no --mapping: council.yaml names it, and its own status list wins
    assert "status not known" not in r["rejected_by_reason"]
    assert r["rejected_by_reason"]["closed with no close date"] == 2  # case 7, and case 11 now 'Pending' = closed
