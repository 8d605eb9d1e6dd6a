"""systemic import demand: rows in = rows written + rows rejected, each rejection with its reason; Boston 311."""

import textwrap

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from systemic_lib import config
from systemic_lib.analysis import demand
from systemic_lib.data.contract import ERROR
from systemic_lib.data.council import load_council, validate_council
from systemic_lib.data.importers.demand import demand_command, import_demand, load_mapping
from systemic_lib.errors import ImportMappingError

from conftest import edit_rows, needs_file, runs_after_a_save

SOURCE = textwrap.dedent("""\
    CASE_ENQUIRY_ID,OPEN_DT,CLOSURE_REASON,CASE_TITLE,SUBJECT,TYPE,Source,CASE_STATUS
    1,01/05/2015 09:15:00 AM,Case Closed Case Resolved,Pothole on my street,Public Works Department,Request for Pothole Repair,Constituent Call,Closed
    2,01/05/2015 01:30:00 PM,Case Closed Duplicate of Existing Case,Still no light,Public Works Department,Street Light Outages,Citizens Connect App,Closed
    3,01/06/2015 10:00:00 AM,,Inspector visit,Inspectional Services,Building Inspection Request,Employee Generated,Open
    4,13/45/2015 10:00:00 AM,,Bad date,Public Works Department,Sign Repair,Self Service,Open
    ,01/07/2015 10:00:00 AM,,No id,Public Works Department,Sign Repair,Self Service,Open
    2,01/08/2015 10:00:00 AM,,Same id again,Public Works Department,Sign Repair,Twitter,Open
    7,,,No date at all,Parks & Recreation Department,Notification,Fax,Open
    8,01/09/2015 11:00:00 PM,Case Closed Case Noted,,Parks & Recreation Department,Call Log,Constituent Call,Closed
""")


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "extract.csv"
    path.write_text(SOURCE)
    return path


def test_rows_balance_and_every_rejection_has_a_reason(tmp_path, source):
    folder = tmp_path / "boston"
    r = import_demand(source, folder, mapping="boston311")
    assert r["rows_in"] == 8 and r["written"] == 4 and r["rejected"] == 4
    assert r["rows_in"] == r["written"] + r["rejected"]
    rejected = pd.read_csv(folder / "demand.rejected.csv", dtype=str, keep_default_na=False)
    reasons = dict(zip(rejected["source_row"], rejected["reason"]))
    assert reasons["4"].startswith("raised by city staff") and "Employee Generated" in reasons["4"]
    assert reasons["5"] == "OPEN_DT '13/45/2015 10:00:00 AM' is not a date written MM/DD/YYYY hh:mm:ss AM/PM"
    assert reasons["6"].startswith("CASE_ENQUIRY_ID is blank")
    assert reasons["7"] == "CASE_ENQUIRY_ID '2' appears again (first at source row 3)"
    assert r["rejected_by_reason"] == {
        "raised by city staff, not a contact from a citizen": 1,
        "received time cannot be read": 1,
        "no contact id": 1,
        "contact id repeated": 1,
    }


def test_mapped_columns_services_channels_and_rules(tmp_path, source):
    folder = tmp_path / "boston"
    r = import_demand(source, folder, mapping="boston311")
    council = load_council(folder)  # council.yaml written from the data
    assert list(council.services) == ["public-works", "parks"]
    assert council.services["parks"].name == "Parks & Recreation Department"
    d = council.table("demand").set_index("contact_id")
    assert d.loc["1", "received_at"] == pd.Timestamp("2015-01-05 09:15")
    assert d.loc["8", "received_at"] == pd.Timestamp("2015-01-09 23:00")  # 11 PM, parsed explicitly
    assert d.loc["1", "channel"] == "phone" and d.loc["2", "channel"] == "app"
    assert d.loc["7", "channel"] == "fax"  # not in the mapping: kept as written and reported
    assert r["channels_not_in_contract"] == ["fax"]
    assert (
        d.loc["1", "demand_type"] == "Request for Pothole Repair" and d.loc["1", "verbatim"] == "Pothole on my street"
    )
    assert (d.loc["2", "classification"], d.loc["2", "failure_type"]) == ("failure", "not done")  # duplicate
    assert d.loc["1", "classification"] == "value"
    assert d.loc["2", "classified_by"] == "rule 1: duplicate"
    assert pd.isna(d.loc["8", "classification"])  # Call Log: no rule, stays unclassified and counted
    assert r["unclassified"] == 2 and r["value"] + r["failure"] + r["unclassified"] == r["written"]
    assert (r["no_received_at"], r["no_verbatim"]) == (1, 1)  # kept and counted, not dropped
    assert (folder / "rules.csv").exists()
    assert not [p for p in validate_council(folder) if p.severity == ERROR]


def test_an_existing_council_yaml_is_left_alone_and_unknown_services_reported(tmp_path, source):
    folder = tmp_path / "c"
    folder.mkdir()
    text = "name: Mine\nservices:\n  - {id: public-works, name: Public works, purpose: Fix my street}\n"
    (folder / "council.yaml").write_text(text)
    r = import_demand(source, folder, mapping="boston311")
    assert (folder / "council.yaml").read_text() == text
    assert r["services_not_in_council_yaml"] == ["parks"]


def test_reimport_keeps_previous_version(tmp_path, source):
    folder = tmp_path / "b"
    import_demand(source, folder, mapping="boston311")
    first = (folder / "demand.csv").read_bytes()
    import_demand(source, folder, mapping="boston311")
    assert (folder / "demand.csv.prev").read_bytes() == first


def test_mapping_from_cli_options_and_council_yaml(tmp_path):
    src = tmp_path / "crm.csv"
    src.write_text(
        "Ref,When,Dept,How,Said\nA1,2024-03-04 09:15,Housing Repairs,Telephone,Boiler broken\n"
        "A2,04/03/2024 10:00,Housing Repairs,E-mail,When will you come\n"
    )
    folder = tmp_path / "n"
    folder.mkdir()
    (folder / "council.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "Northshire",
                "services": [{"id": "housing-repairs", "name": "Housing repairs", "purpose": "Fix it"}],
                "imports": {"demand": {"columns": {"contact_id": "Ref", "received_at": "When", "service": "Dept"}}},
            }
        )
    )
    r = import_demand(src, folder, columns={"channel": "How", "verbatim": "Said"})
    assert r["written"] == 2 and r["rejected"] == 0
    d = load_council(folder).table("demand")
    assert d["service"].tolist() == ["housing-repairs", "housing-repairs"]
    assert d["channel"].tolist() == ["phone", "email"]
    assert d["received_at"].tolist() == [pd.Timestamp("2024-03-04 09:15"), pd.Timestamp("2024-03-04 10:00")]
    assert not (folder / "demand.rejected.csv").exists()


def test_out_option_puts_rejections_beside_it(tmp_path, source):
    out = tmp_path / "elsewhere" / "contacts.csv"
    r = import_demand(source, tmp_path / "b", mapping="boston311", out=out)
    assert out.exists() and (tmp_path / "elsewhere" / "contacts.rejected.csv").exists()
    assert r["output"] == str(out)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"mapping": "nowhere"}, "no mapping 'nowhere'"),
        ({"columns": {"contact_id": "Ref"}}, "names no source column for received_at, service"),
        (
            {"mapping": {"columns": {"contact_id": "X", "received_at": "Y", "service": "Z", "colour": "Q"}}},
            "colour is not a demand column",
        ),
    ],
)
def test_bad_mappings_say_what_to_fix(tmp_path, kwargs, words):
    with pytest.raises(ImportMappingError, match=words):
        load_mapping(council_dir=tmp_path, **kwargs)


def test_a_mapped_column_missing_from_the_file_is_named(tmp_path, source):
    with pytest.raises(ImportMappingError, match="column 'NOPE', which the file does not have"):
        import_demand(source, tmp_path / "b", mapping="boston311", columns={"verbatim": "NOPE"})


def test_cli(tmp_path, source):
    result = CliRunner().invoke(
        demand_command, [str(source), "--council", str(tmp_path / "b"), "--mapping", "boston311"]
    )
    assert result.exit_code == 0, result.output
    assert "Read 8 rows from extract.csv: wrote 4 contacts" in result.output and "rejected 4" in result.output
    assert "Rejected 1: contact id repeated." in result.output
    bad = CliRunner().invoke(demand_command, [str(source), "--council", str(tmp_path / "c"), "--map", "oops"])
    assert bad.exit_code != 0 and "COLUMN=SOURCE" in bad.output


BOSTON = config.SHARED_REAL_DATA / "boston-311-2015" / "boston311_2015.csv.gz"


def test_the_real_boston_file_balances(tmp_path):
    needs_file(BOSTON)
    folder = tmp_path / "boston"
    r = import_demand(BOSTON, folder, mapping="boston311")
    assert r["rows_in"] == 121_145
    assert r["written"] + r["rejected"] == 121_145
    rejected = pd.read_csv(folder / "demand.rejected.csv", dtype=str, keep_default_na=False)
    assert len(rejected) == r["rejected"] and rejected["reason"].ne("").all()
    assert r["rejected_by_reason"] == {"raised by city staff, not a contact from a citizen": 14_675 + 12_783 + 198}
    council = load_council(folder)
    assert not [p for p in council.problems() if p.severity == ERROR]
    contacts = council.table("demand")
    assert len(contacts) == r["written"] == 121_145 - 27_656
    h = demand.headline_figures(contacts)
    assert h["value"] + h["failure"] + h["unclassified"] == len(contacts)
    assert h["failure"] > 0 and h["value"] > 0
    assert len(council.services) == contacts["service"].nunique()


def test_received_times_with_an_offset_are_converted_to_local_time(tmp_path):
    src = tmp_path / "z.csv"
    src.write_text(
        "id,when,team\n1,2024-06-30T23:30:00Z,Repairs\n2,2024-01-15T09:00:00+01:00,Repairs\n3,2024-01-15 09:00,Repairs\n"
    )
    r = import_demand(
        src, tmp_path / "c", mapping={"columns": {"contact_id": "id", "received_at": "when", "service": "team"}}
    )
    d = pd.read_csv(tmp_path / "c" / "demand.csv", dtype=str, keep_default_na=False).set_index("contact_id")
    assert d.loc["1", "received_at"] == "2024-07-01 00:30:00"  # London summer time: the local date
    assert d.loc["2", "received_at"] == "2024-01-15 08:00:00" and d.loc["3", "received_at"] == "2024-01-15 09:00:00"
    assert r["times_converted_to_local"] == 2


# ------------------------------------------------------------------ issue 13, item 1: formula-like text stays text
def test_import_to_xlsx_writes_formula_like_text_as_text(tmp_path):
    src = tmp_path / "src.csv"
    src.write_text(SOURCE.replace("Pothole on my street", '"=HYPERLINK(""http://x"",""click"")"'))
    out = tmp_path / "c" / "demand.xlsx"
    import_demand(src, tmp_path / "c", mapping="boston311", out=out)
    d = load_council(tmp_path / "c").table("demand").set_index("contact_id")
    assert d.loc["1", "verbatim"] == '=HYPERLINK("http://x","click")'
    assert d.loc["1", "demand_type"] == "Request for Pothole Repair"
    assert not [p for p in validate_council(tmp_path / "c") if p.severity == ERROR]


# ------------------------------------------------------------------ issue 13, item 4: re-import keeps the team's work
def _coach(folder, contact, **decision):
    """What the classifier does: edit one row of demand.csv as text."""
    edit_rows(folder / "demand.csv", "contact_id", contact, **decision)


def test_reimport_keeps_the_team_s_decisions_and_says_what_changed(tmp_path, source):
    folder = tmp_path / "b"
    import_demand(source, folder, mapping="boston311")
    _coach(
        folder,
        "8",
        classification="failure",
        failure_type="not done",
        what_matters="a call back",
        classified_by="coach",
        notes="rang twice",
    )
    _coach(folder, "1", classification="failure", failure_type="complaint", classified_by="coach")  # over a rule
    newer = tmp_path / "newer.csv"  # contact 2 gone, contact 9 new
    newer.write_text(
        "\n".join(line for line in SOURCE.splitlines() if not line.startswith("2,"))
        + "\n9,01/10/2015 10:00:00 AM,,New one,Public Works Department,Sign Repair,Self Service,Open\n"
    )
    r = import_demand(newer, folder, mapping="boston311")
    d = load_council(folder).table("demand").set_index("contact_id")
    assert (d.loc["8", "classification"], d.loc["8", "failure_type"], d.loc["8", "what_matters"]) == (
        "failure",
        "not done",
        "a call back",
    )
    assert d.loc["8", "notes"] == "rang twice" and d.loc["8", "classified_by"] == "coach"
    assert (d.loc["1", "classification"], d.loc["1", "failure_type"]) == ("failure", "complaint")
    assert "2" not in d.index and "9" in d.index
    assert (r["kept"], r["added"], r["removed"]) == (2, 1, 1)


def test_reimport_with_replace_discards_the_team_s_decisions(tmp_path, source):
    folder = tmp_path / "b"
    import_demand(source, folder, mapping="boston311")
    _coach(folder, "8", classification="failure", classified_by="coach")
    r = import_demand(source, folder, mapping="boston311", replace=True)
    assert pd.isna(load_council(folder).table("demand").set_index("contact_id").loc["8", "classification"])
    assert r["kept"] == 0


def test_cli_says_how_many_decisions_it_kept(tmp_path, source):
    folder = tmp_path / "b"
    args = [str(source), "--council", str(folder), "--mapping", "boston311"]
    assert CliRunner().invoke(demand_command, args).exit_code == 0
    _coach(folder, "8", classification="value", classified_by="coach")
    again = CliRunner().invoke(demand_command, args)
    assert again.exit_code == 0 and "Kept the team's decisions on 1 contact" in again.output
    assert "--replace" in again.output
    replaced = CliRunner().invoke(demand_command, args + ["--replace"])
    assert replaced.exit_code == 0 and "Kept the team's" not in replaced.output


def test_import_waits_for_a_save_in_progress(tmp_path, source):
    """The importer takes the same lock as the classifier: a save held open is not overwritten mid-way."""
    folder = tmp_path / "b"
    import_demand(source, folder, mapping="boston311")
    runs_after_a_save(
        folder / "demand.csv",
        lambda: import_demand(source, folder, mapping="boston311"),
        lambda: _coach(folder, "8", classification="value", classified_by="coach"),
    )
    assert load_council(folder).table("demand").set_index("contact_id").loc["8", "classification"] == "value"


# ------------------------------------------------------------------ issue 23: re-imports and the demand workshop
def test_replace_after_a_fold_offers_the_contacts_again(tmp_path, source):
    """The workshop decided a contact and the batch folded it into the file; ``--replace`` then blanked it in the
    file. Before issue 23 the store still counted it decided and never offered it again."""
    from systemic_lib.data.decisions import DecisionStore, fold_council

    folder = tmp_path / "b"
    import_demand(source, folder, mapping="boston311")
    store = DecisionStore(folder)
    contact = store.next_contact(None, "AB")["contact_id"]  # on AB's screen
    store.decide(contact, "AB", "failure", failure_type="not done")
    store.close()
    assert fold_council(folder) == 1
    r = import_demand(source, folder, mapping="boston311", replace=True)
    assert r["workshop_discarded"] == 1 and r["kept"] == 0
    assert pd.isna(load_council(folder).table("demand").set_index("contact_id").loc[contact, "classification"])
    store = DecisionStore(folder)
    offered = set()
    while (shown := store.next_contact(None, "CD")) is not None and shown["contact_id"] not in offered:
        offered.add(shown["contact_id"])  # a skipped contact comes back once every other one was offered
        store.skip(shown["contact_id"], "CD")
    assert contact in offered and store.live().empty
    store.close()


def test_a_reimport_keeps_the_workshop_s_pending_decisions_and_says_so(tmp_path, source):
    """Decisions made in the workshop and not yet written into the file are written in first and kept by the
    re-import (before: silently left behind in the store, while the summary counted the source's own values as the
    team's decisions)."""
    from systemic_lib.data.decisions import DecisionStore

    folder = tmp_path / "b"
    args = [str(source), "--council", str(folder), "--mapping", "boston311"]
    assert CliRunner().invoke(demand_command, args).exit_code == 0
    store = DecisionStore(folder)
    contact = store.next_contact(None, "AB")["contact_id"]  # on AB's screen
    store.decide(contact, "AB", "value")
    store.close()
    again = CliRunner().invoke(demand_command, args)
    assert again.exit_code == 0, again.output
    assert "workshop's 1 decision not yet in the file were written into it first" in again.output
    assert "Kept the team's decisions on 1 contact " in again.output  # AB's, not the rules' or the source's
    d = load_council(folder).table("demand").set_index("contact_id")
    assert (d.loc[contact, "classification"], d.loc[contact, "classified_by"]) == ("value", "coach:AB")


def test_the_kept_count_leaves_out_values_the_source_gives_itself(tmp_path):
    """A source that classifies its own contacts: re-imported unchanged, no decision of the team is 'kept'."""
    source = tmp_path / "own.csv"
    source.write_text(
        "id,when,text,kind,svc,how\n1,2024-01-02 09:00,my bin,value,waste,phone\n"
        "2,2024-01-03 09:00,still my bin,failure,waste,phone\n"
    )
    maps = {"contact_id": "id", "received_at": "when", "verbatim": "text", "classification": "kind"}
    maps |= {"service": "svc", "channel": "how"}
    folder = tmp_path / "own"
    folder.mkdir()
    spec = {"name": "Own", "services": [{"id": "waste", "name": "Waste", "purpose": "Take my bins"}]}
    (folder / "council.yaml").write_text(yaml.safe_dump({**spec, "imports": {"demand": {"columns": maps}}}))
    import_demand(source, folder)
    r = import_demand(source, folder)
    assert r["kept"] == 0, r


def test_a_source_with_a_million_columns_is_refused_in_seconds(tmp_path):
    """Issue 23: a 12 MB CSV of 10^6 columns took 164 s and 6.3 GB before it was refused; now its header is read
    and the file refused, saying how many columns it has and the limit."""
    import time

    from systemic_lib.data.importers.common import MAX_COLUMNS
    from systemic_lib.errors import SystemicError

    wide = tmp_path / "wide.csv"
    n = 1_000_000
    wide.write_text(",".join(f"c{i}" for i in range(n)) + "\n" + "x," * (n - 1) + "x\n")
    assert wide.stat().st_size > 8_000_000
    started = time.perf_counter()
    with pytest.raises(SystemicError, match=f"has {n:,} columns; .* at most {MAX_COLUMNS:,}"):
        import_demand(wide, tmp_path / "c", mapping="boston311")
    assert time.perf_counter() - started < 30
    assert not (tmp_path / "c" / "demand.csv").exists()
