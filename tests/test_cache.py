"""The batch's table cache: a table is parsed once per content, a changed file is read again, and problems keep
their file, row and column when they come from the cache."""

import functools
import json
from pathlib import Path

import pandas as pd
import pytest
from test_batch import DEMAND, make_bad_council, make_council, notebooks_that_save

from systemic_lib.data import cache
from systemic_lib.data import council as council_module
from systemic_lib.data.council import load_council as load_council_
from systemic_lib.data.council import validate_council
from systemic_lib.run import batch


@pytest.fixture
def reads(monkeypatch, tmp_path):
    """Counts the tables actually parsed from their files (the tests read through the cache ``tmp_path/cache``)."""
    counted = []
    original = council_module.read_table

    def counting(path, name, **kw):
        counted.append((Path(path).parent.name, name))
        return original(path, name, **kw)

    monkeypatch.setattr(council_module, "read_table", counting)
    return counted


def test_a_table_is_parsed_once_per_content_and_a_changed_file_again(tmp_path, reads):
    folder = make_council(tmp_path, "northshire", "Northshire")
    load_council = functools.partial(load_council_, cache_dir=tmp_path / "cache")
    first = load_council(folder).load("demand")
    second = load_council(folder).load("demand")
    assert reads == [("northshire", "demand")]
    assert second.cache_entry is not None and second.path == folder / "demand.csv"
    assert first.cache_entry is None  # parsed from the file, then stored
    pd.testing.assert_frame_equal(first.frame, second.frame, check_exact=True)
    pd.testing.assert_frame_equal(first.raw, second.raw, check_exact=True)
    assert load_council(folder).table("demand", service="housing-repairs", rows=True)["_row"].tolist() == [2, 3, 4]

    text = (folder / "demand.csv").read_text(encoding="utf-8")
    (folder / "demand.csv").write_text(
        text + "C5,council-tax,2024-03-08 12:00,web,x,y,failure,,,no\n", encoding="utf-8"
    )
    third = load_council(folder).load("demand")
    assert reads == [("northshire", "demand")] * 2 and len(third.frame) == 5
    assert len(load_council(folder).load("demand").frame) == 5 and len(reads) == 2


def test_no_cache_without_a_cache_folder(tmp_path, reads, monkeypatch):
    monkeypatch.setenv("SYSTEMIC_CACHE", str(tmp_path / "cache"))  # no longer read: the folder is an argument
    folder = make_council(tmp_path, "northshire", "Northshire")
    load_council_(folder).load("demand")
    load_council_(folder).load("demand")
    assert len(reads) == 2 and not (tmp_path / "cache").exists()


def test_problems_from_the_cache_keep_file_row_and_column(tmp_path, reads):
    folder = make_bad_council(tmp_path)
    fresh = [p.describe() for p in validate_council(folder, cache_dir=tmp_path / "cache")]
    cached = [p.describe() for p in validate_council(folder, cache_dir=tmp_path / "cache")]
    assert reads == [("badshire", "demand")]
    assert cached == fresh and "demand.csv, row 2, column 'received_at'" in cached[0]


def test_a_damaged_entry_is_read_again(tmp_path, reads):
    folder = make_council(tmp_path, "northshire", "Northshire")
    load_council_(folder, cache_dir=tmp_path / "cache").load("demand")
    (entry,) = (tmp_path / "cache").iterdir()
    (entry / "frame.parquet").write_bytes(b"not parquet")
    assert len(load_council_(folder, cache_dir=tmp_path / "cache").load("demand").frame) == 4 and len(reads) == 2


def _notebooks_reporting_the_cache(tmp_path) -> Path:
    """The fixture notebooks, with demand.json also saying whether the kernel's demand table came from the cache."""
    return notebooks_that_save(
        tmp_path / "notebooks",
        "demand.ipynb",
        "'from_cache': load_council(council_dir, cache_dir=cache_dir).load('demand').cache_entry is not None",
        "from systemic_lib.data.council import load_council",
    )


@pytest.mark.slow
def test_batch_reads_each_council_once_and_sees_a_changed_file(tmp_path):
    north = make_council(tmp_path / "councils", "northshire", "Northshire", services=("housing-repairs",))
    make_council(tmp_path / "councils", "eastvale", "Eastvale", services=("council-tax",))
    notebooks = _notebooks_reporting_the_cache(tmp_path)
    out = tmp_path / "reports"

    def run():
        result = batch.run_batch(
            [tmp_path / "councils"],
            out,
            jobs=2,
            stages=["demand"],
            notebooks_dir=notebooks,
            progress=False,
            echo=lambda _: None,
            cache_dir=tmp_path / "cache",
        )
        assert result.exit_code == 0, result.summary()
        return {
            c: json.loads((out / c / s / "demand.json").read_text())
            for c, s in (("northshire", "housing-repairs"), ("eastvale", "council-tax"))
        }

    first = run()
    assert first["northshire"]["failure"] == 2 and first["eastvale"]["contacts"] == 1
    assert first["northshire"]["from_cache"] and first["eastvale"]["from_cache"]
    entries = {p.name: p.stat().st_ino for p in (tmp_path / "cache").iterdir()}
    assert len(entries) == 2  # one demand table per council

    (north / "demand.csv").write_text(
        (north / "demand.csv").read_text() + "C9,housing-repairs,2024-03-09 09:00,phone,x,y,failure,,,no\n"
    )
    second = run()
    assert second["northshire"]["failure"] == 3 and second["northshire"]["contacts"] == 4  # the new contact
    assert second["eastvale"] == {**first["eastvale"], "period": second["eastvale"]["period"]}
    after = {p.name: p.stat().st_ino for p in (tmp_path / "cache").iterdir()}
    eastvale_entry = [k for k in entries if k in after and after[k] == entries[k]]
    assert len(after) == 3 and len(eastvale_entry) == 2  # eastvale's entry (and northshire's old one) reused


def test_a_frame_is_kept_only_if_it_reads_back_exactly():
    """``_assert_same`` passes an exact copy and refuses a changed value, dtype, index or column label."""
    import pandas as pd
    import pytest

    from systemic_lib.data.cache import _assert_same

    frame = pd.DataFrame({"a": [1.5, None, 3.0], "b": pd.array(["x", None, "z"], dtype="str")}, index=[3, 4, 5])
    _assert_same(frame, frame.copy())
    changed = frame.copy()
    changed.loc[5, "a"] = 3.0000001
    other_index = frame.set_axis(pd.Index([3.0, 4.0, 5.0]))
    other_columns = frame.set_axis(["a", "c"], axis=1)
    other_dtype = frame.astype({"a": "float32"})
    for copy in (changed, other_index, other_columns, other_dtype):
        with pytest.raises(ValueError):
            _assert_same(frame, copy)


# ------------------------------------------------------------------ issue 23: what the cache holds, who reads it
def cache_text(root: Path) -> dict[Path, str]:
    """Every file of a table cache as text: Parquet files read back as CSV (their bytes may be compressed), the rest
    as they are."""
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            out[path] = pd.read_parquet(path).to_csv()
        else:
            out[path] = path.read_bytes().decode("utf-8", errors="replace")
    return out


def test_the_cache_holds_no_identifier_and_only_its_owner_can_read_it(council_factory, tmp_path):
    """Every table of a council with personal data in every free-text cell, and a problem quoting one, read through
    the cache: no identifier in any file of it (29 fields x 8 kinds were there before issue 23), the folder 0700 and
    every file 0600 (were 0755/0644)."""
    import stat

    from test_hostile import LOG, PERSONAL, _hostile

    from conftest import TESTSHIRE

    load_council = functools.partial(load_council_, cache_dir=tmp_path / "cache")
    files = {
        name.removesuffix(".csv"): _hostile(name.removesuffix(".csv"), text)
        for name, text in {**TESTSHIRE, "learning_log.csv": LOG}.items()
        if name.endswith(".csv")
    }
    files["cases"] = files["cases"].replace("2024-01-02 09:00,2024-01-06", "07700 900461,2024-01-06")  # quoted
    folder = council_factory("hostile", **files)
    council = load_council(folder)
    assert any("07700 900461" in p.message for p in council.problems())  # read here: the bad date as written
    assert any("[phone]" in p.message for p in load_council(folder).problems())  # from the cache: redacted
    for name in ("demand", "events", "cases", "activities", "learning_log"):
        assert council.load(name).raw is not None
    assert load_council(folder).load("demand").redacted  # read back from the cache
    stored = cache_text(tmp_path / "cache")
    assert len([p for p in stored if p.suffix == ".parquet"]) >= 10
    leaks = [
        f"{kind} in {path.relative_to(tmp_path)}"
        for path, text in stored.items()
        for kind, value in PERSONAL.items()
        if value.lower() in text.lower() or value.replace(" ", "").lower() in text.lower().replace(" ", "")
    ]
    assert not leaks, "\n".join(leaks)
    assert "[phone]" in "".join(stored.values())  # the text was there, redacted
    root = tmp_path / "cache"
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path.relative_to(tmp_path)}: {oct(mode)}"


def test_a_tampered_entry_is_never_shown(tmp_path, reads):
    """A cache file changed by someone without the key (a frame with a made-up contact, a problem list emptied, the
    rules' matches flipped) fails its signature: the entry is dropped and the council's file read again."""
    load_council = functools.partial(load_council_, cache_dir=tmp_path / "cache")
    folder = make_council(tmp_path, "northshire", "Northshire")
    first = load_council(folder).load("demand")
    (entry,) = (tmp_path / "cache").iterdir()
    poisoned = pd.read_parquet(entry / "frame.parquet")
    poisoned["verbatim"] = "POISONED call at 14 Acacia Avenue"
    poisoned.to_parquet(entry / "frame.parquet")
    again = load_council(folder).load("demand")
    assert "POISONED" not in again.frame.to_csv() and len(reads) == 2
    pd.testing.assert_frame_equal(again.frame, first.frame)

    (entry,) = (tmp_path / "cache").iterdir()
    meta = json.loads((entry / "meta.json").read_text())
    meta["problems"] = [{"file": "demand.csv", "message": "POISONED", "severity": "warning"}]
    (entry / "meta.json").write_text(json.dumps(meta))
    assert not any("POISONED" in p.message for p in load_council(folder).load("demand").problems) and len(reads) == 3


def test_derived_frames_are_signed_too(tmp_path, reads):
    load_council = functools.partial(load_council_, cache_dir=tmp_path / "cache")
    folder = make_council(tmp_path, "northshire", "Northshire")
    load_council(folder).load("demand")
    table = load_council(folder).load("demand")
    made = []
    frame = cache.derived(table, "rules-x", lambda: made.append(1) or pd.DataFrame({"rule_0": [True, False]}))
    assert made == [1] and frame["rule_0"].tolist() == [True, False]
    pd.DataFrame({"rule_0": [False, True]}).to_parquet(table.cache_entry / "rules-x.parquet")  # flipped, unsigned
    again = cache.derived(table, "rules-x", lambda: made.append(2) or pd.DataFrame({"rule_0": [True, False]}))
    assert made == [1, 2] and again["rule_0"].tolist() == [True, False]


def test_a_deleted_council_s_entries_go_with_it(tmp_path, reads):
    """``prune`` (every batch run) removes the entries of a council folder that is gone, however recently used;
    ``clear`` removes one council's entries at once."""
    import shutil

    load_council = functools.partial(load_council_, cache_dir=tmp_path / "cache")
    kept = make_council(tmp_path, "kept", "Kept")
    gone = make_council(tmp_path, "gone", "Gone", demand=DEMAND.replace("Boiler broken", "Boiler still broken"))
    for folder in (kept, gone):
        load_council(folder).load("demand")
    assert len(list((tmp_path / "cache").iterdir())) == 2
    shutil.rmtree(gone)
    assert cache.prune(tmp_path / "cache") == 1
    (entry,) = (tmp_path / "cache").iterdir()
    assert json.loads((entry / "meta.json").read_text())["council"] == str(kept.resolve())
    assert cache.clear(kept, tmp_path / "cache") == 1 and not list((tmp_path / "cache").iterdir())


def test_a_closing_activity_with_an_address_still_names_its_step_through_the_cache(council_factory, tmp_path):
    """The cache holds events' activities redacted; council.yaml's closing activity is compared with them redacted
    too, so validating through the cache finds the step it names (as without a cache) instead of an error."""
    from conftest import TESTSHIRE

    events = TESTSHIRE["events.csv"].replace(",Fix,", ",Fix at 14 Acacia Avenue,")
    yaml_text = TESTSHIRE["council.yaml"].replace(
        "purpose: Fix my home properly first time}",
        "purpose: Fix my home properly first time, closes_case: [Fix at 14 Acacia Avenue]}",
    )
    folder = council_factory(events=events, council_yaml=yaml_text)

    def closing(cache_dir):
        return [p.describe() for p in load_council_(folder, cache_dir=cache_dir).closing_problems()]

    assert closing(None) == []
    assert closing(tmp_path / "cache") == [] and closing(tmp_path / "cache") == []  # filled, then read back
    assert load_council_(folder, cache_dir=tmp_path / "cache").load("events").redacted
