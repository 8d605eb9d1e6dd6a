"""Benchmark: the demand summary on 1,000,000 synthetic contacts beside a bare groupby().size() on the same frame.

Target (issue 3): under 2 s on this machine and within 3x of the bare groupby. Run:
``python benchmarks/bench_demand.py [--contacts N]``; exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from systemic_lib.analysis import demand


def synthetic_contacts(n: int, *, seed: int = 1) -> pd.DataFrame:
    """``n`` contacts typed as the contract loads them: 60 demand types, 8 channels, a year of dates."""
    rng = np.random.default_rng(seed)
    types = np.array([f"demand type {i:02d}" for i in range(60)], dtype=object)
    weights = 1 / np.arange(1, 61)
    type_idx = rng.choice(60, size=n, p=weights / weights.sum())
    klass = np.where(type_idx % 3 == 0, "failure", "value").astype(object)
    klass[rng.random(n) < 0.1] = None  # 10% not yet classified
    ftypes = np.array(
        ["progress chasing", "not done", "not done right", "not understood", "wrong place", "complaint", "other"],
        dtype=object,
    )
    failure_type = np.where(klass == "failure", ftypes[type_idx % 7], None)
    channels = np.array(
        ["phone", "email", "web", "face to face", "letter", "app", "social media", "other"], dtype=object
    )
    seconds = rng.integers(0, 365 * 86400, size=n)
    received = pd.Timestamp("2024-01-01") + pd.to_timedelta(seconds, unit="s")
    one_stop = pd.array(rng.random(n) < 0.4, dtype="boolean")
    one_stop[rng.random(n) < 0.2] = pd.NA
    return pd.DataFrame(
        {
            "contact_id": pd.array([f"C{i}" for i in range(n)], dtype="str"),
            "service": pd.array(np.full(n, "housing-repairs", dtype=object), dtype="str"),
            "received_at": received.astype("datetime64[ns]"),
            "channel": pd.array(
                channels[rng.choice(8, size=n, p=[0.4, 0.2, 0.2, 0.05, 0.05, 0.05, 0.03, 0.02])], dtype="str"
            ),
            "demand_type": pd.array(types[type_idx], dtype="str"),
            "classification": pd.array(klass, dtype="str"),
            "failure_type": pd.array(failure_type, dtype="str"),
            "one_stop": one_stop,
        }
    )


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    data = synthetic_contacts(args.contacts)
    demand.summary(data.head(1000))  # warm up imports
    bare = best_of(lambda: data.groupby(["demand_type", "classification"]).size(), args.repeat)
    ours = best_of(lambda: demand.summary(data), args.repeat)
    ratio = ours / bare
    print(f"demand summary, {args.contacts:,} contacts: {ours:.3f} s")
    print(f"bare groupby(['demand_type', 'classification']).size(): {bare:.3f} s")
    print(f"ratio: {ratio:.2f}x (target: under 2 s and within 3x)")
    ok = ours < 2.0 and ratio <= 3.0
    print("PASS" if ok else "MISSED TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
