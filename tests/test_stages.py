"""Stage: a service's tables are cut to the service before their free text is redacted, with the same result as
redacting the whole council's table and cutting it afterwards (the batch's hot path on a large council)."""

import pandas as pd

from systemic_lib.analysis import demand_problems
from systemic_lib.data import privacy, stages
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
    original = privacy.redact_series

    def counting(series):
        sizes.append(len(series))
        return original(series)

    monkeypatch.setattr(privacy, "redact_series", counting)
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


def test_the_table_cache_holds_the_redacted_table_and_a_stage_shows_it_as_it_is(council_factory, monkeypatch, tmp_path):
    """Issue 23: the table cache holds what the stages read, redacted; a stage reading from it redacts nothing and
    sees exactly what it sees without a cache."""
    folder = council_factory(demand=DEMAND)
    expected = Stage(folder, None, "organisation_scan").load("demand").frame  # no cache: redacted here
    scan = lambda: Stage(folder, None, "organisation_scan", cache_dir=tmp_path / "cache")
    stages.load_council(folder, cache_dir=tmp_path / "cache").load("demand")  # the batch's validation fills it
    sizes = _counting(monkeypatch)
    again = scan().load("demand").frame
    assert sizes == []  # read from the cache, not redacted again
    pd.testing.assert_frame_equal(expected, again, check_exact=True)
    for stored in (tmp_path / "cache").glob("demand-*/*.parquet"):
        text = pd.read_parquet(stored).to_csv()
        assert "07700" not in text and "jo@example.org" not in text and "QQ 12" not in text and "Beacon" not in text


def _ruled(folder, cache=None):
    """Every view of the contacts a stage has, for each service and period (what must not change with a cache)."""

    def everything(stage):
        return (
            stage.table("demand", rows=True),
            stage.contacts().frame,
            stage.contacts(period=False).frame,
            [p.describe() for p in demand_problems.data_problems(stage)],
            [p.describe() for p in stage.contacts().problems],
        )

    return {
        (svc, start): everything(Stage(folder, svc, "demand", period_start=start, cache_dir=cache))
        for svc in ("housing-repairs", "council-tax", None)
        for start in (None, "2024-03-06")
    }


def test_rules_match_the_words_as_written_when_the_cache_holds_only_redacted_text(
    council_factory, monkeypatch, tmp_path
):
    """A rule that matches a phone number classifies the contact that wrote it, though the table cache holds
    '[phone]': which rule matches which contact is worked out from the file and kept in the cache as booleans. Every
    view of every stage (tables, contacts, data problems, rules' problems) is the same with and without the cache, and
    with the zygote's preload; after the preload a kernel redacts nothing."""
    from systemic_lib.data.preload import Preloaded

    cache = tmp_path / "cache"
    rules = (
        "service,column,pattern,classification,failure_type\n"
        ",verbatim,07700 9001,failure,progress chasing\n"
        ",verbatim,again,value,\n"
        ",verbatim,never matches,value,\n"
    )
    folder = council_factory(
        demand=DEMAND.replace(
            "C4,council-tax,2024-03-07 12:00,phone,Bill,,,,,",
            "C4,council-tax,2024-03-07 12:00,phone,Bill,again 07700 900123,,,,",
        ),
        rules=rules,
    )
    expected = _ruled(folder)  # no cache: the rules run on the file's text
    assert expected[("council-tax", None)][1]["classification"].tolist() == ["value", "failure"]  # C4 by its phone
    stages.load_council(folder, cache_dir=cache).problems()  # the batch's validation fills the cache
    held = Preloaded().install()
    try:
        for label, got in (
            ("cache", _ruled(folder, cache)),
            ("preloaded", (held.read(folder, cache), _ruled(folder, cache))[1]),
        ):
            for key, want in expected.items():
                for a, b in zip(got[key][:3], want[:3]):
                    pd.testing.assert_frame_equal(a, b, check_exact=True, obj=f"{label} {key}")
                assert got[key][3:] == want[3:], (label, key)
        hits = list(cache.glob("demand-*/rules-*.parquet"))
        assert len(hits) == 1 and pd.read_parquet(hits[0]).dtypes.astype(str).tolist() == ["bool"] * 3
        sizes = _counting(monkeypatch)
        _ruled(folder, cache)
        assert sizes == []  # a kernel forked after the preload redacts nothing
    finally:
        held.uninstall()
