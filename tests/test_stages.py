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
    folder = council_factory(demand=DEMAND)
    scan = lambda: Stage(folder, None, "organisation_scan", cache_dir=tmp_path / "cache")
    scan().load("demand")  # fills the cache entry (parsed table)
    first = scan().load("demand").frame  # redacted once, stored
    sizes = _counting(monkeypatch)
    again = scan().load("demand").frame
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
