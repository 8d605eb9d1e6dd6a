"""Time ``xmr`` on 100,000 points (median of 5) against a bare numpy baseline measured in the same run.

The baseline (mean and mean absolute difference of the same array) is the least any XmR calculation must do, so
the ratio says how much the rules, phases and the DataFrame cost on this machine. Run: python benchmarks/bench_spc.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from systemic_lib.analysis.spc import xmr

N = 100_000
REPEATS = 5


def _median_seconds(fn, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> dict:
    values = np.random.default_rng(2024).normal(20, 4, N)
    xmr(values[:1000])  # warm-up: imports and first-call costs

    def baseline():
        values.mean()
        np.abs(np.diff(values)).mean()

    cases = {
        "xmr (one phase)": lambda: xmr(values),
        "xmr (3 phases, screening, target)": lambda: xmr(
            values, phase_starts=[30_000, 60_000], screen_moving_ranges=True, target=25
        ),
    }
    base = _median_seconds(baseline)
    print(f"{N:,} points, median of {REPEATS}")
    print(f"  numpy baseline (mean + mean |diff|): {base * 1000:8.2f} ms")
    results = {"baseline_s": base}
    for name, fn in cases.items():
        t = _median_seconds(fn)
        results[name] = t
        print(f"  {name:<36} {t * 1000:8.2f} ms  ({t / base:,.0f}x baseline)")
    return results


if __name__ == "__main__":
    main()
