"""Councils read ahead (``data/preload.py``): what the batch's kernel zygote holds before forking a council's kernels,
handed to council loading through its one hook, and the same rows, problems and contacts as reading afresh."""

import pandas as pd
import pytest
from test_stages import DEMAND

from systemic_lib.analysis import demand_problems
from systemic_lib.data import council as council_module
from systemic_lib.data import privacy
from systemic_lib.data.preload import Preloaded
from systemic_lib.data.stages import Stage


@pytest.fixture
def preloaded():
    """A ``Preloaded`` installed as council loading's hook for the test (as the zygote installs its own)."""
    held = Preloaded().install()
    yield held
    held.uninstall()


def _reads(monkeypatch) -> list[str]:
    reads: list[str] = []
    original = council_module.read_table
    monkeypatch.setattr(
        council_module, "read_table", lambda path, name, **kw: reads.append(name) or original(path, name, **kw)
    )
    return reads


def test_a_preloaded_council_is_reused_until_a_file_changes(council_factory, monkeypatch, preloaded):
    """``load_council`` of a folder read ahead starts with every table read; a changed file means the council is
    read afresh; another table cache, or no hook, means reading as usual."""
    folder = council_factory()
    reads = _reads(monkeypatch)
    preloaded.read(folder, None)
    assert "demand" in reads and "events" in reads and preloaded.folders() == [str(folder.resolve())]
    reads.clear()
    council = council_module.load_council(folder)
    assert len(council.table("demand", service="housing-repairs")) > 0 and reads == []
    council_module.load_council(folder, cache_dir=folder.parent / "cache").load("demand")
    assert reads == ["demand"]  # held for no table cache, not for this one
    text = (folder / "demand.csv").read_text(encoding="utf-8")
    (folder / "demand.csv").write_text(text.replace("\n", "\r\n"), encoding="utf-8")  # same rows, new bytes
    assert len(council_module.load_council(folder).load("demand").frame) == len(council.load("demand").frame)
    assert reads == ["demand", "demand"]
    preloaded.uninstall()
    reads.clear()
    council_module.load_council(folder).load("events")
    assert reads == ["events"]


def test_it_keeps_the_last_councils_asked_for(council_factory, tmp_path):
    held = Preloaded(keep=2)
    folders = [council_factory(name=f"c{n}") for n in range(3)]
    for folder in (*folders, folders[1]):
        held.read(folder, None)
    assert held.folders() == [str(folders[2].resolve()), str(folders[1].resolve())]


def test_a_preloaded_council_gives_each_service_the_same_rows_as_a_fresh_one(council_factory, preloaded):
    """Each table (and the demand file's raw text) is cut by service once; what a stage gets is the same, row
    positions and all, as cutting the whole table."""
    folder = council_factory()
    fresh = council_module.load_council(folder)
    preloaded.read(folder, None)
    held = council_module.load_council(folder)
    cuts = held.load("demand").cuts
    assert cuts is not None and cuts.frames and cuts.raw
    for name in ("demand", "events", "cases"):
        for service in held.services:
            for rows in (False, True):
                pd.testing.assert_frame_equal(
                    held.table(name, service=service, rows=rows, start="2024-01-01"),
                    fresh.table(name, service=service, rows=rows, start="2024-01-01"),
                    check_exact=True,
                )
    for service in held.services:
        got = [p.describe() for p in demand_problems.data_problems(Stage(held, service, "demand"))]
        assert got == [p.describe() for p in demand_problems.data_problems(Stage(fresh, service, "demand"))]


def test_a_preloaded_council_hands_each_service_its_rows_redacted_once(
    council_factory, monkeypatch, tmp_path, preloaded
):
    """Each service's rows are cut from the table cache's table, which is redacted (issue 23): a stage of a kernel
    forked after it redacts nothing for its service's tables, contacts or data problems, and gets exactly what
    redacting its own rows gives (rows, ``_row``, dtypes, periods)."""
    cache = tmp_path / "cache"
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
        (svc, start): everything(Stage(folder, svc, "demand", period_start=start, cache_dir=cache))
        for svc in ("housing-repairs", "council-tax")
        for start in (None, "2024-03-06")
    }
    preloaded.read(folder, cache)
    ready = preloaded.council(folder.resolve(), cache).load("demand").redacted_cuts
    assert ready is not None and set(ready.frames) == {"housing-repairs", "council-tax"}
    assert "07700" not in ready.frames["council-tax"].to_csv()
    names, original = [], privacy.redact_series
    monkeypatch.setattr(privacy, "redact_series", lambda series: names.append(series.name) or original(series))
    for (svc, start), want in expected.items():
        got = everything(Stage(folder, svc, "demand", period_start=start, cache_dir=cache))
        for a, b in zip(got[:3], want[:3]):
            pd.testing.assert_frame_equal(a, b, check_exact=True)
        assert got[3] == want[3]
    assert names == []  # nothing is redacted: the cache holds redacted text only
    assert expected[("council-tax", None)][1]["classification"].tolist() == ["value", "failure"]  # C4 by the rule


def test_no_redacted_cuts_without_a_table_cache(council_factory, preloaded):
    folder = council_factory(demand=DEMAND)
    preloaded.read(folder, None)
    table = council_module.load_council(folder).load("demand")
    assert table.cuts is not None and table.redacted_cuts is None


def test_the_redacted_cuts_are_the_table_cache_s_own_cuts(council_factory, tmp_path, preloaded):
    """The table cache holds redacted text only (issue 23), so the zygote makes no redacted copy of a table: each
    service's rows cut from the cache's table are what a stage shows, and nothing else is written into the entry."""
    cache = tmp_path / "cache"
    folder = council_factory(demand=DEMAND)
    council_module.load_council(folder, cache_dir=cache).load("demand")  # the batch's validation fills the cache
    preloaded.read(folder, cache)
    table = preloaded.council(folder.resolve(), cache).load("demand")
    assert table.redacted and table.redacted_cuts is table.cuts
    assert "QQ 12" not in table.cuts.frames["council-tax"].to_csv()
    assert sorted(p.name for p in table.cache_entry.iterdir() if not p.name.endswith(".sig")) == [
        "frame.parquet",
        "meta.json",
        "raw.parquet",
    ]
