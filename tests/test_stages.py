"""Stage: a service's tables are cut to the service before their free text is redacted, with the same result as
redacting the whole council's table and cutting it afterwards (the batch's hot path on a large council)."""

import pandas as pd

from systemic_lib.analysis import demand_problems
from systemic_lib.data import stages
from systemic_lib.data.stages import Stage, redacted

DEMAND = """contact_id,service,received_at,channel,demand_type,verbatim,classification,failure_type,what_matters,one_stop
C1,housing-repairs,2024-03-04 09:00,phone,Boiler,call me on 07700 900123 please,value,,warm home,yes
C2,housing-repairs,2024-03-05 10:00,email,Chasing,write to jo@example.org,failure,progress chasing,,no
C3,council-tax,2024-03-06 11:00,web,Bill,my NI is QQ 12 34 56 C,value,,,yes
C4,council-tax,2024-03-07 12:00,phone,Bill,,,,,
C5,housing-repairs,2024-03-08 12:00,phone,Boiler,34 Beacon Way again,value,,,yes
"""
BAD_DATE = DEMAND.replace("2024-03-08 12:00", "not a date")


def _counting(monkeypatch):
    """The number of values each redact_series call was given."""
    sizes = []
    original = stages.redact_series

    def counting(series):
        sizes.append(len(series))
        return original(series)

    monkeypatch.setattr(stages, "redact_series", counting)
    return sizes


def test_a_service_table_is_the_whole_table_redacted_then_cut(council_factory, monkeypatch):
    folder = council_factory(demand=DEMAND)
    sizes = _counting(monkeypatch)
    stage = Stage(folder, "council-tax", "demand")
    got = stage.table("demand", rows=True)
    assert sizes and max(sizes) == 2  # only the service's two rows were redacted
    whole = redacted("demand", stage._source.table("demand", rows=True))
    expected = whole[whole["service"] == "council-tax"].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert "QQ 12" not in got["verbatim"].tolist()[0] and got["_row"].tolist() == [4, 5]
    assert list(got.dtypes.astype(str)) == list(whole.dtypes.astype(str))


def test_an_empty_service_slice_has_the_redacted_table_s_dtypes(council_factory):
    folder = council_factory(demand=DEMAND)
    stage = Stage(folder, "council-tax", "demand", period_start="2030-01-01")
    got = stage.table("demand")
    whole = redacted("demand", stage._source.table("demand"))
    assert got.empty and list(got.dtypes.astype(str)) == list(whole.dtypes.astype(str))


def test_demand_problems_redact_only_the_service_rows_and_match_the_whole_table(council_factory, monkeypatch):
    folder = council_factory(demand=BAD_DATE)
    sizes = _counting(monkeypatch)
    problems = demand_problems.data_problems(Stage(folder, "housing-repairs", "demand"))
    assert sizes and max(sizes) == 3  # the three housing-repairs rows of the raw text, nothing else
    monkeypatch.undo()
    council = Stage(folder, "housing-repairs", "demand").council
    council.load("demand").raw  # the whole raw text redacted first: the old path
    assert [p.describe() for p in demand_problems.data_problems(Stage(folder, "housing-repairs", "demand"))] == [
        p.describe() for p in problems
    ]
    assert any(p.row == 6 and p.column == "received_at" for p in problems)  # C5's bad date, its row in the file
    assert "07700" not in " ".join(p.describe() for p in problems)


def test_the_whole_table_redacted_is_kept_in_the_table_cache_and_read_back(council_factory, monkeypatch, tmp_path):
    monkeypatch.setenv("SYSTEMIC_CACHE", str(tmp_path / "cache"))
    folder = council_factory(demand=DEMAND)
    Stage(folder, None, "organisation_scan").load("demand")  # fills the cache entry (parsed table)
    first = Stage(folder, None, "organisation_scan").load("demand").frame  # redacted once, stored
    sizes = _counting(monkeypatch)
    again = Stage(folder, None, "organisation_scan").load("demand").frame
    assert sizes == []  # read from the cache, not redacted again
    pd.testing.assert_frame_equal(first, again, check_exact=True)
    stored = list((tmp_path / "cache").glob("demand-*/redacted-*-frame.parquet"))
    assert len(stored) == 1
    text = pd.read_parquet(stored[0]).to_csv()
    assert "07700 900123" not in text and "jo@example.org" not in text and "07700" not in text


def test_council_wide_contacts_reuse_the_whole_table_s_redacted_copy(council_factory, monkeypatch, tmp_path):
    """The organisation scan's contacts (every contact, rules applied) are the same as redacting them afresh; the
    columns the rules did not touch come from the whole table's redacted copy, which is redacted only once."""
    rules = "service,column,pattern,classification,failure_type\n,verbatim,chasing,failure,progress chasing\n"
    folder = council_factory(
        demand=DEMAND.replace(
            "Chasing,write to jo@example.org,failure,progress chasing", "Chasing,chasing jo@example.org,,"
        ),
        rules=rules,
    )
    from systemic_lib.data.classify import apply_rules, with_source

    source = Stage(folder, None, "organisation_scan")._source
    ruled = apply_rules(source.table("demand"), source.load("rules").frame, file="rules.csv")
    expected = with_source(redacted("demand", ruled.frame))  # every column redacted afresh
    sizes = _counting(monkeypatch)
    fresh = Stage(folder, None, "organisation_scan")
    fresh.load("demand").frame  # the whole table's redacted copy, as the scan reads it anyway
    made = len(sizes)
    got = fresh.contacts(period=False)
    pd.testing.assert_frame_equal(got.frame, expected, check_exact=True)
    assert got.by_rules == 1 and "jo@example.org" not in got.frame.to_csv()
    assert len(sizes) - made < made  # only the columns the rules changed were redacted again


def test_a_preloaded_council_hands_each_service_its_rows_redacted_once(council_factory, monkeypatch, tmp_path):
    """``stages.preload`` (the batch's kernel zygote, before forking a kernel) cuts each service's rows from the whole
    table's redacted copy: a stage of a kernel forked after it redacts nothing for its service's tables, contacts
    or data problems, and gets exactly what redacting its own rows gives (rows, ``_row``, dtypes, periods)."""
    from systemic_lib.data import council as council_module

    monkeypatch.setattr(council_module, "_PRELOADED", {})
    monkeypatch.setenv("SYSTEMIC_CACHE", str(tmp_path / "cache"))
    rules = "service,column,pattern,classification,failure_type\n,verbatim,again,failure,progress chasing\n"
    folder = council_factory(
        demand=DEMAND.replace(
            "C4,council-tax,2024-03-07 12:00,phone,Bill,,,,,",
            "C4,council-tax,2024-03-07 12:00,phone,Bill,again 07700 900123,,,,",
        ),
        rules=rules,
    )

    def everything(stage):
        return (
            stage.table("demand", rows=True),
            stage.contacts().frame,
            stage.contacts(period=False).frame,
            [p.describe() for p in demand_problems.data_problems(stage)],
        )

    expected = {
        (svc, start): everything(Stage(folder, svc, "demand", period_start=start))  # redacting its own rows
        for svc in ("housing-repairs", "council-tax")
        for start in (None, "2024-03-06")
    }
    stages.preload(folder)
    held = council_module.preloaded(folder)._tables["demand"]
    assert set(held.service_frames_redacted) == {"housing-repairs", "council-tax"}
    assert "07700" not in held.service_frames_redacted["council-tax"].to_csv()
    names, original = [], stages.redact_series
    monkeypatch.setattr(stages, "redact_series", lambda series: names.append(series.name) or original(series))
    for (svc, start), want in expected.items():
        got = everything(Stage(folder, svc, "demand", period_start=start))
        for a, b in zip(got[:3], want[:3]):
            pd.testing.assert_frame_equal(a, b, check_exact=True)
        assert got[3] == want[3]
    assert set(names) == {"classified_by"}  # after preload only the column the rules add ("rule:<row>") is redacted
    assert expected[("council-tax", None)][1]["classification"].tolist() == ["value", "failure"]  # C4 by the rule


def test_preload_leaves_the_redacted_cuts_to_a_later_kernel_while_another_process_makes_them(
    council_factory, monkeypatch, tmp_path
):
    import fcntl

    from systemic_lib.data import council as council_module

    monkeypatch.setattr(council_module, "_PRELOADED", {})
    monkeypatch.setenv("SYSTEMIC_CACHE", str(tmp_path / "cache"))
    folder = council_factory(demand=DEMAND)
    council_module.load_council(folder).load("demand")  # the batch's validation fills the table cache
    council_module.preload(folder)
    entry = council_module.preloaded(folder)._tables["demand"]._entry
    tag = stages._redaction_tag() + "-frame"
    with open(entry / f".{tag}.lock", "a+") as other:  # another worker's zygote is redacting the whole table
        fcntl.flock(other, fcntl.LOCK_EX)
        stages.preload(folder)
        assert getattr(council_module.preloaded(folder)._tables["demand"], "service_frames_redacted", None) is None
        assert Stage(folder, "council-tax", "demand").table("demand")["verbatim"].str.contains("QQ 12").sum() == 0
    stages.preload(folder)  # the next kernel's preload: the copy is made (or read) now
    assert "council-tax" in council_module.preloaded(folder)._tables["demand"].service_frames_redacted
    assert (entry / f"{tag}.parquet").exists()
