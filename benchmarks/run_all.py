"""Run every benchmark in this folder, one after another (they print their own ratios).

    python benchmarks/run_all.py [--quick]

``--quick`` runs each on a smaller input (a smoke test that the benchmarks still work).

Each benchmark measures its baseline in the same run, so the ratios are comparable across noisy machines.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK = {
    "bench_batch.py": ["--limit", "4"],
    "bench_cluster.py": ["--stage", "organisation_scan"],
    "bench_decisions.py": ["--decisions", "10", "--old-decisions", "1"],
    "bench_demand.py": ["--contacts", "100000", "--repeat", "1"],
    "bench_flow.py": ["--quick", "--repeat", "2"],
}


def main(argv: list[str]) -> int:
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {script.name} ===", flush=True)
        t0 = time.perf_counter()
        extra = QUICK.get(script.name, []) if "--quick" in argv else []
        code = subprocess.call([sys.executable, str(script), *extra])
        print(f"({script.name}: {time.perf_counter() - t0:.1f} s, exit {code})", flush=True)
        if code:
            failed.append(script.name)
    if failed:
        print(f"\nFailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
