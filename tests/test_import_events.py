"""Importing real event logs: the streaming XES reader, local dates, mappings, the CLI, and the flow report."""

import gzip

import pandas as pd
import pytest
from click.testing import CliRunner

from systemic_lib.config import SHARED_REAL_DATA
from systemic_lib.data.council import load_council, validate_council
from systemic_lib.data.importers import events as imp
from systemic_lib.data.importers.xes import read_xes

from conftest import needs_file

RECEIPT = SHARED_REAL_DATA / "wabo-receipt" / "receipt.xes.gz"
BPIC1 = SHARED_REAL_DATA / "bpic2015-building-permits" / "BPIC15_1.xes.gz"

XES = """<?xml version="1.0" encoding="UTF-8" ?>
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
  <global scope="event"><string key="concept:name" value="DEFAULT"/></global>
  <string key="concept:name" value="the log"/>
  <trace><string key="concept:name" value="c1"/><date key="startDate" value="2014-03-30T00:00:00+01:00"/>
    <event><string key="concept:name" value="Receive"/><date key="time:timestamp" value="2014-03-30T00:00:00.000+01:00"/>
      <int key="n" value="3"/><list key="nested"><string key="inner" value="x"/></list></event>
    <event><string key="concept:name" value="Decide"/><date key="time:timestamp" value="2014-04-01T00:00:00.000+02:00"/>
      <boolean key="ok" value="true"/></event>
  </trace>
  <trace><string key="concept:name" value="c2"/>
    <event><string key="concept:name" value="Receive"/><date key="time:timestamp" value="2014-06-01T09:30:00+02:00"/></event>
  </trace>
</log>"""


def test_streaming_reader_on_a_small_log(tmp_path):
    path = tmp_path / "small.xes.gz"
    path.write_bytes(gzip.compress(XES.encode()))
    df = read_xes(path)
    assert len(df) == 3 and list(df["case:concept:name"]) == ["c1", "c1", "c2"]
    assert list(df["concept:name"]) == ["Receive", "Decide", "Receive"]
    assert "inner" not in df.columns and df["n"].iloc[0] == 3 and bool(df["ok"].iloc[1])
    assert str(df["time:timestamp"].dt.tz) == "UTC"


def test_date_only_midnight_keeps_its_local_date(tmp_path):
    path = tmp_path / "small.xes"
    path.write_text(XES)
    mapping = {
        "columns": {"case_id": "case:concept:name", "activity": "concept:name", "timestamp": "time:timestamp"},
        "local_timezone": "Europe/Amsterdam",
        "service": {"value": "permits"},
        "cases": {"opened_at": "case:startDate"},
    }
    out = imp.convert(read_xes(path), mapping)
    ts = out["events"]["timestamp"]
    # midnight +01:00 and midnight +02:00 (either side of the clock change) stay midnight on the same date
    assert list(ts) == [pd.Timestamp("2014-03-30"), pd.Timestamp("2014-04-01"), pd.Timestamp("2014-06-01 09:30")]
    assert out["report"]["times_converted_to_local"] == 3
    cases = out["cases"].set_index("case_id")
    assert cases.loc["c1", "opened_at"] == pd.Timestamp("2014-03-30")
    assert cases.loc["c2", "opened_at"] == pd.Timestamp("2014-06-01 09:30")  # no startDate: its first event
    assert out["report"]["opened_from_first_event"] == 1


def test_catalogue_heuristic():
    cat = imp.classify_activities(
        [
            "T03 Adjust confirmation of receipt",
            "T02 Check confirmation of receipt",
            "send reminder",
            "forward to the competent authority",
            "Decide on permit",
            "Something unknown",
        ]
    ).set_index("activity")
    assert cat.loc["T03 Adjust confirmation of receipt"].tolist() == ["waste", "rework"]
    assert cat.loc["T02 Check confirmation of receipt"].tolist() == ["waste", "check"]
    assert cat.loc["send reminder", "category"] == "chasing"
    assert cat.loc["forward to the competent authority", "category"] == "hand-off"
    assert cat.loc["Decide on permit"].tolist() == ["value", "decision"]
    assert cat.loc["Something unknown"].tolist() == ["value", "other"]


def test_mapping_names_a_missing_column():
    with pytest.raises(imp.ImportMappingError, match="case:nope"):
        imp.convert(pd.DataFrame({"a": [1]}), {"columns": {"case_id": "case:nope", "activity": "a", "timestamp": "a"}})
    with pytest.raises(imp.ImportMappingError, match="no mapping 'nosuch'"):
        imp.load_mapping("nosuch")


@pytest.fixture(scope="module")
def receipt_council(tmp_path_factory):
    needs_file(RECEIPT)
    folder = tmp_path_factory.mktemp("wabo")
    res = CliRunner().invoke(imp.events_command, [str(RECEIPT), "--council", str(folder), "--mapping", "wabo_receipt"])
    assert res.exit_code == 0, res.output
    assert "Imported 8,577 events of 1,434 cases" in res.output
    return folder


def test_receipt_import_makes_a_valid_council(receipt_council):
    assert [p for p in validate_council(receipt_council) if p.severity == "error"] == []
    council = load_council(receipt_council)
    assert len(council.events) == 8577 and council.events["case_id"].nunique() == 1434
    cases = council.cases
    assert len(cases) == 1434 and cases["closed_at"].isna().sum() == 105  # SOURCE.md: 105 cases have no enddate
    acts = council.activities.set_index("activity")
    assert acts.loc["T03 Adjust confirmation of receipt", "category"] == "rework"
    assert len(acts) == 27


def test_receipt_csv_and_xes_give_the_same_events(receipt_council):
    csv = SHARED_REAL_DATA / "wabo-receipt" / "receipt.csv.gz"
    needs_file(csv)
    from_csv = imp.convert(imp.read_log(csv), imp.load_mapping("wabo_receipt"))["events"]
    from_xes = load_council(receipt_council).events
    key = ["case_id", "timestamp", "activity"]
    from_csv = from_csv.assign(timestamp=from_csv["timestamp"].dt.floor("s"))  # events.csv keeps whole seconds
    a = from_csv.sort_values(key, ignore_index=True)[key]
    b = from_xes.sort_values(key, ignore_index=True)[key]
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_reimport_keeps_the_teams_catalogue(receipt_council):
    path = receipt_council / "activities.csv"
    acts = pd.read_csv(path)
    acts.loc[acts["activity"].eq("Confirmation of receipt"), ["step_type", "category"]] = ["waste", "check"]
    acts.to_csv(path, index=False)
    res = CliRunner().invoke(imp.events_command, [str(RECEIPT), "--council", str(receipt_council)])
    assert res.exit_code == 0, res.output  # a re-import that crashed left the catalogue as it was, and passed
    again = pd.read_csv(path).set_index("activity")
    assert again.loc["Confirmation of receipt", "step_type"] == "waste" and len(again) == 27


@pytest.mark.slow
def test_bpic2015_council_renders_the_flow_report(tmp_path, run_stage_notebook):
    needs_file(BPIC1)
    council = tmp_path / "municipality-1"
    res = CliRunner().invoke(imp.events_command, [str(BPIC1), "--council", str(council), "--mapping", "bpic2015"])
    assert res.exit_code == 0, res.output
    assert [p for p in validate_council(council) if p.severity == "error"] == []
    figures, shown = run_stage_notebook("flow", council_dir=str(council), service="building-permits")
    assert figures["service"] == "building-permits" and figures["cases"] > 500
    for key in (
        "events",
        "median_days",
        "p85_days",
        "mean_handoffs",
        "mean_people",
        "rework_share",
        "value_step_share",
        "variants",
    ):
        assert key in figures
    assert figures["variants"] and figures["variants"][0]["cases"] >= 1
    assert "End to end, half take" in shown and '<figure class=\\"chart' in _executed_outputs(tmp_path)


def _executed_outputs(folder) -> str:
    """The executed flow notebooks' text (the map and charts are figure outputs, not in the shown HTML)."""
    return "".join(p.read_text() for p in folder.rglob("flow.executed.ipynb"))


def test_steps_sharing_a_name_keep_apart_by_their_code():
    """BPIC 2015 names 4 different step codes "send confirmation receipt": one activity would fake rework and
    duplicates (two of them on one day by one person look like the same event twice)."""
    names = pd.Series(["send receipt", "send receipt", "decide", "send receipt", None, "decide"])
    codes = pd.Series(["01_HOOFD_020", "08_AWB45_051", "01_HOOFD_500", "01_HOOFD_020", "01_HOOFD_999", "01_HOOFD_500"])
    labels, shared = imp.activity_labels(names, codes)
    assert labels.tolist() == [
        "send receipt (01_HOOFD_020)",
        "send receipt (08_AWB45_051)",
        "decide",
        "send receipt (01_HOOFD_020)",
        "01_HOOFD_999",
        "decide",
    ]
    assert shared == 1


def test_a_step_code_with_several_names_is_one_activity():
    """Some BPIC 2015 codes carry two or three English names: the step is one activity, named by its most frequent
    name (ties: alphabetical); a name that is then another code's label too carries the code."""
    names = pd.Series(["check", "check again", "check", "decide", "review", "decide", "review", None])
    codes = pd.Series(["C1", "C1", "C1", "C2", "C2", "C3", "C3", "C4"])
    labels, shared = imp.activity_labels(names, codes)
    assert labels.tolist() == ["check"] * 3 + ["decide (C2)", "decide (C2)", "decide (C3)", "decide (C3)", "C4"]
    assert shared == 1
    assert imp._labels(names, codes)[2] == 3  # C1, C2 and C3 carried several names


def test_case_end_date_wins_and_closed_status_ends_at_the_last_event():
    log = pd.DataFrame(
        {
            "case": ["a", "a", "b", "b", "c", "d"],
            "act": ["x", "y", "x", "y", "x", "x"],
            "ts": ["2014-01-01", "2014-01-05", "2014-02-01", "2014-02-09", "2014-03-01", "2014-03-02"],
            "status": ["O", "O", "G", "G", "O", "G"],
            "end": ["2014-01-06", "2014-01-06", None, None, None, "2014-03-03"],
        }
    )
    mapping = {
        "columns": {"case_id": "case", "activity": "act", "timestamp": "ts"},
        "service": {"value": "s"},
        "cases": {"closed_at": "end", "closed_when": {"column": "status", "values": ["G"]}},
    }
    out = imp.convert(log, mapping)
    closed = out["cases"].set_index("case_id")["closed_at"]
    assert closed["a"] == pd.Timestamp("2014-01-06")  # status O but an end date: ended
    assert closed["b"] == pd.Timestamp("2014-02-09")  # closed, no end date: its last event
    assert pd.isna(closed["c"])  # neither: still open
    assert closed["d"] == pd.Timestamp("2014-03-03")
    assert out["report"]["closed_at_last_event"] == 1 and out["report"]["open_cases"] == 1


def test_bpic15_activities_edges_and_variants_equal_pm4py_on_the_step_codes(real_data):
    """BPIC15_1 imported by the bpic2015 mapping: one activity per step code (concept:name), so the activities, the
    directly-follows edges (with counts) and the variants (with counts) are pm4py's on concept:name, label for code.
    pm4py reads the same file itself; both sides are sorted stably by case then time (EVENT-LOGS.md: pm4py's results
    depend on row order, and tied events keep file order)."""
    import warnings

    from systemic_lib.analysis.flowlog import _log

    path = real_data / "bpic2015-building-permits" / "BPIC15_1.xes.gz"
    needs_file(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pm4py

        theirs = pm4py.read_xes(str(path))
    if "lifecycle:transition" in theirs.columns:  # the mapping keeps completed events (all of BPIC15_1's are)
        theirs = theirs[theirs["lifecycle:transition"].astype(str).str.lower() == "complete"]
    theirs = theirs.sort_values(["case:concept:name", "time:timestamp"], kind="stable")
    # The flow report removes exact duplicate events (the same step of a case at the same time by the same person,
    # 19 in BPIC15_1, true repeats in the log): compare pm4py on the log without them.
    repeats = theirs.duplicated(["case:concept:name", "concept:name", "time:timestamp", "org:resource"])
    theirs = theirs[~repeats]
    dfg, _, _ = pm4py.discover_dfg(theirs)
    their_variants = pm4py.get_variants(theirs)

    log = imp.read_log(path)
    mapping = imp.load_mapping("bpic2015")
    out = imp.convert(log, mapping)
    events = out["events"]
    kept = log[log["lifecycle:transition"].astype(str).str.lower() == "complete"]
    pairs = pd.DataFrame({"label": events["activity"].to_numpy(), "code": kept["concept:name"].to_numpy()})
    pairs = pairs.drop_duplicates()
    assert pairs["label"].is_unique and pairs["code"].is_unique  # label <-> code, one to one
    code_of = dict(zip(pairs["label"], pairs["code"]))
    assert set(code_of.values()) == set(theirs["concept:name"].unique())  # the same activities
    assert out["report"]["activity_codes_renamed"] > 0  # some codes did carry several names
    assert not events["activity"].str.fullmatch(r"\d\d_[A-Z]+_\w+").any()  # every step has its English name

    flow = _log(events)
    assert flow.problems.duplicates == int(repeats.sum()) == 19  # no step merged into a false duplicate
    ours = flow.directly_follows
    assert {
        (code_of[a], code_of[b]): int(n) for a, b, n in zip(ours["from_activity"], ours["to_activity"], ours["count"])
    } == {k: int(v) for k, v in dfg.items()}
    variants = flow.variants(None)
    mine = {tuple(code_of[a] for a in p.split(" \u2192 ")): int(n) for p, n in zip(variants["path"], variants["cases"])}
    assert mine == {tuple(k): (v if isinstance(v, int) else len(v)) for k, v in their_variants.items()}


def test_closes_case_in_a_mapping_goes_to_council_yaml_and_a_wrong_activity_is_named(tmp_path):
    """The mapping's closes_case (activities whose step ends a case) is written to council.yaml for the imported
    service; an activity the log does not have stops the import, naming the mapping, the key and the activity."""
    log = pd.DataFrame(
        {"case": ["a", "a", "b"], "act": ["x", "y", "x"], "ts": ["2014-01-01", "2014-01-05", "2014-02-01"]}
    )
    mapping = {
        "name": "tiny",
        "columns": {"case_id": "case", "activity": "act", "timestamp": "ts"},
        "service": {"value": "s"},
        "closes_case": ["y"],
    }
    out = imp.convert(log, mapping)
    assert out["report"]["closes_case"] == 1
    imp.write_council(out, tmp_path / "c", mapping, source="log.csv")
    council = load_council(tmp_path / "c")
    assert council.service("s").closes_case == ["y"]
    assert not [p for p in validate_council(tmp_path / "c") if p.file == "council.yaml"]
    with pytest.raises(
        imp.ImportMappingError,
        match=r"mapping tiny: closes_case names activity 'z'.*"
        r"activities include 'x', 'y'",
    ):
        imp.convert(log, {**mapping, "closes_case": ["y", "z"]})


def test_a_generic_xes_with_no_org_group_is_read(tmp_path):
    """Issue 23: a standard XES log with no org:group (nor org:resource) was refused by the generic mapping, which
    names them; they are read where the log has them."""
    from click.testing import CliRunner

    log = tmp_path / "permits.xes"
    events = "".join(
        f'<trace><string key="concept:name" value="case{c}"/>'
        + "".join(
            f'<event><string key="concept:name" value="{a}"/>'
            f'<date key="time:timestamp" value="2024-01-0{d}T09:00:00+00:00"/></event>'
            for d, a in ((1, "Receive application"), (3, "Check application"), (5, "Send decision"))
        )
        + "</trace>"
        for c in (1, 2)
    )
    log.write_text(f'<?xml version="1.0" encoding="UTF-8"?><log xes.version="1.0">{events}</log>')
    done = CliRunner().invoke(imp.events_command, [str(log), "--council", str(tmp_path / "c")])
    assert done.exit_code == 0, done.output
    read = load_council(tmp_path / "c").events
    assert len(read) == 6 and read["case_id"].nunique() == 2 and read["team"].isna().all()
