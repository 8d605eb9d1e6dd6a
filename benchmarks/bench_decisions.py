"""Benchmark: one demand-workshop decision to disk and back to the tally, against the old classifier save.

Ours: ``DecisionStore.next_contact`` + ``decide`` (one SQLite transaction, committed to disk) + ``tally`` (what the
room sees next). The old path, measured in the same run on the same council: ``widgets.classifier.Classifier.decide``,
which rewrites the whole demand file per decision. Two councils: the first sample council (its first service's
contacts made unclassified, as a freshly imported council is), and the Boston 311 import (93k contacts, from
``../shared/data/real/boston-311-2015`` if present, otherwise a generated council of the same shape). Also the time
to open the store (reads the demand file once) and to fold every decision back into the file.
Target (issue 9): under 200 ms per decision. Run: ``python benchmarks/bench_decisions.py [--decisions N]``; exits 1
if the target is missed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from systemic_lib import config
from systemic_lib.data.contract import read_raw
from systemic_lib.data.decisions import DecisionStore
from systemic_lib.data.files import write_table_atomic

TARGET_MS = 200
BOSTON = config.SHARED_REAL_DATA / "boston-311-2015" / "boston311_2015.csv.gz"


def sample_council(root: Path) -> tuple[Path, str]:
    from systemic_lib.data.sample import write_sample_councils

    folder = write_sample_councils(root / "samples")[0]
    service = _unclassify(folder)
    return folder, service


def boston_council(root: Path, source: Path = BOSTON, contacts: int = 93_000) -> tuple[Path, str, str]:
    folder = root / "boston"
    if source.exists():
        from systemic_lib.data.importers.demand import import_demand

        import_demand(source, folder, mapping="boston311")
        what = "Boston 311 import"
    else:
        _generated(folder, contacts)
        what = "generated, Boston-shaped"
    return folder, _unclassify(folder), what


def _generated(folder: Path, n: int) -> None:
    """A council shaped like the Boston 311 import: 16 services, 150 request types, 4 channels, a year of contacts."""
    rng = np.random.default_rng(311)
    services = [f"department-{i:02d}" for i in range(16)]
    kind = rng.choice(150, size=n, p=(w := 1 / np.arange(1, 151)) / w.sum())
    frame = pd.DataFrame(
        {
            "contact_id": [f"BOS-{i:06d}" for i in range(n)],
            "service": np.array(services)[kind % 16],
            "received_at": (
                pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 365 * 86400, n), unit="s")
            ).strftime("%Y-%m-%d %H:%M:%S"),
            "channel": rng.choice(["phone", "app", "web", "social media"], size=n, p=[0.66, 0.2, 0.13, 0.01]),
            "verbatim": [f"Request {k}: case title as typed at intake" for k in kind],
            "demand_type": [f"request type {k:03d}" for k in kind],
            "classification": "",
            "failure_type": "",
            "what_matters": "",
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    write_table_atomic(frame, folder / "demand.csv", keep_previous=False)
    (folder / "council.yaml").write_text(
        "name: Boston-shaped\nservices:\n"
        + "".join(f"  - {{id: {s}, name: {s}, purpose: Do what was asked}}\n" for s in services)
    )


def _unclassify(folder: Path) -> str:
    """Blank the classifications of the busiest service's contacts (the workshop's work); return that service."""
    path = folder / "demand.csv"
    raw, _ = read_raw(path, "demand")
    service = raw["service"].value_counts().index[0]
    mine = raw["service"].eq(service)
    raw.loc[mine, ["classification", "failure_type"]] = ""
    write_table_atomic(raw, path, keep_previous=False)
    return service


def time_store(folder: Path, service: str, decisions: int) -> dict:
    start = time.perf_counter()
    store = DecisionStore(folder)
    store.tally(service)
    store.next_contact(service, "warm-up", lease_seconds=0)
    opened = time.perf_counter() - start
    times = []
    for i in range(decisions):
        start = time.perf_counter()
        contact = store.next_contact(service, "AB")
        store.decide(
            contact["contact_id"],
            "AB",
            "failure" if i % 2 else "value",
            failure_type="progress chasing" if i % 2 else None,
        )
        tally = store.tally(service)
        times.append(time.perf_counter() - start)
    assert tally["decided_in_workshop"] == decisions
    start = time.perf_counter()
    folded = store.fold()
    fold_s = time.perf_counter() - start
    assert folded == decisions
    return {
        "open_s": opened,
        "decision_ms": 1000 * statistics.median(times),
        "worst_ms": 1000 * max(times),
        "fold_s": fold_s,
        "contacts": len(store.contacts),
    }


def time_old(folder: Path, service: str, decisions: int) -> float:
    from systemic_lib.display.widgets.classifier import Classifier

    classifier = Classifier(folder, service=service)
    times = []
    for _ in range(decisions):
        start = time.perf_counter()
        assert classifier.decide("value", failure_type="", what_matters="")
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=20)
    parser.add_argument("--old-decisions", type=int, default=3)
    parser.add_argument("--boston", type=Path, default=BOSTON, help=f"the Boston 311 extract (default {BOSTON})")
    opts = parser.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sample, sample_service = sample_council(root)
        boston, boston_service, boston_what = boston_council(root, opts.boston)
        for name, folder, service in (
            ("sample council", sample, sample_service),
            (boston_what, boston, boston_service),
        ):
            old_folder = root / f"old-{folder.name}"
            shutil.copytree(folder, old_folder)
            ours = time_store(folder, service, opts.decisions)
            old = time_old(old_folder, service, opts.old_decisions)
            ok = "ok" if ours["decision_ms"] < TARGET_MS else "OVER TARGET"
            results[name] = {**ours, "old_decision_ms": old}
            print(
                f"{name:>26}: {ours['contacts']:,} contacts  decision+tally {ours['decision_ms']:.1f} ms "
                f"(worst {ours['worst_ms']:.1f})  old classifier save {old:.0f} ms ({old / ours['decision_ms']:.0f}x)"
                f"  open {ours['open_s']:.2f} s  fold {opts.decisions} {ours['fold_s']:.2f} s  "
                f"[{ok}, target < {TARGET_MS} ms]"
            )
    return results


if __name__ == "__main__":
    out = main()
    sys.exit(0 if all(r["decision_ms"] < TARGET_MS for r in out.values()) else 1)
