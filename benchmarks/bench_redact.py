"""Time redaction of one 10 MB verbatim (median of 3) against a baseline measured in the same run.

Three inputs: a citizen's words pasted over and over with a handful of identifiers in every 6 KB (what a long
verbatim looks like), the same identifiers in every sentence (a worst case: one in five characters is a digit), and
one 10 MB token with no spaces (the input that made the old e-mail pattern quadratic: a 40,000-character token took
2.2 s, a 300,000 one timed out a report). Every time grows in proportion to the size (``--mb``).
The baseline is one pass of ``str.lower`` and a literal ``re.sub`` over the same text: the least a scan must cost.
Target: under 1 s for the first and last input. Run: python benchmarks/bench_redact.py [--mb 10]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from systemic_lib.data.redact import redact, redact_series

REPEATS = 3
TARGET_SECONDS = 1.0
PROSE = "the boiler is still broken and nobody came back to me about it although I rang twice last week. " * 60
WORDS = (
    "when will my repair be done it has been three weeks call me on 07700 900123 or jo.bloggs@example.com "
    "I live at 34 Beacon Way SW1A 1AA my NI is QQ 12 34 56 C born 03/04/1985 sort code 12-34-56 account "
    "12345678 nhs 943 476 5919 "
)


def _median_seconds(fn) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=10)
    opts = parser.parse_args(argv)
    size = int(opts.mb * 1_000_000)
    inputs = {
        "words, some identifiers": ((PROSE + WORDS) * (size // len(PROSE + WORDS) + 1))[:size],
        "identifiers everywhere": (WORDS * (size // len(WORDS) + 1))[:size],
        "one token, no spaces": ("ab1.c-" * (size // 6 + 1))[:size],
    }
    literal = re.compile("zzzz")
    results = {}
    for name, text in inputs.items():
        base = _median_seconds(lambda: (text.lower(), literal.sub("", text)))
        one = _median_seconds(lambda: redact(text))
        series = _median_seconds(lambda: redact_series(pd.Series([text], dtype="str")))
        results[name] = {"baseline_s": base, "redact_s": one, "redact_series_s": series}
        ok = (
            ("ok" if max(one, series) < TARGET_SECONDS else "OVER TARGET")
            if name != "identifiers everywhere"
            else "worst case, no target"
        )
        print(
            f"{name:>24}: {len(text) / 1e6:.1f} MB  baseline {base:.3f} s  redact {one:.3f} s "
            f"({one / base:.1f}x)  redact_series {series:.3f} s  [{ok}, target < {TARGET_SECONDS:g} s]"
        )
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
