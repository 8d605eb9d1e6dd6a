"""What `systemic report --pdf` costs: printing pages to A4 PDFs against rendering them, in one run.

Renders one sample council's reports (the baseline: the batch as `systemic report` runs it), then prints every page
the batch wrote with ``run.pdf.print_pages`` (one Chromium, a page at a time), and prints both as wall seconds and
core-seconds (this process and every process it waited for: the workers and kernels, Playwright's driver and the
Chromium it drives) per page, with the ratio print / render. Measure on an idle machine: the ratio is what counts.

    python benchmarks/bench_pdf.py [--council northshire] [-j N] [--reports DIR]   # DIR: print an existing render
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from systemic_lib.data.sample import write_sample_councils
from systemic_lib.run.batch import pages_to_print, run_batch
from systemic_lib.run.pdf import print_pages


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def measured(fn):
    """(result, wall seconds, core-seconds) of ``fn()``."""
    cpu, wall = _cpu(), time.perf_counter()
    result = fn()
    return result, time.perf_counter() - wall, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--council", default="northshire")
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--reports", type=Path, help="print this rendered reports folder (no render baseline)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_pdf_") as tmp:
        root = Path(tmp)
        if args.reports:
            out, render = args.reports, None
            pages = sorted(out.rglob("*.html"))
        else:
            folder = next(c for c in write_sample_councils(root / "councils") if c.name == args.council)
            out = root / "reports"
            quiet = {"jobs": args.jobs, "progress": False, "echo": lambda _: None, "cache_dir": root / "cache"}
            result, wall, cpu = measured(lambda: run_batch([folder], out, **quiet))
            pages = pages_to_print(out, result.results)
            render = (wall, cpu, len(result.ok))
        printed, p_wall, p_cpu = measured(lambda: print_pages(pages, out))
        n = max(1, len(printed.written))
        print(
            f"print: {len(printed.written)} pages ({len(printed.failed)} failed) in {p_wall:.1f} s wall, "
            f"{p_cpu:.1f} core-s: {p_wall / n:.2f} s and {p_cpu / n:.2f} core-s per page"
        )
        if render is not None:
            r_wall, r_cpu, reports = render
            print(
                f"render: {reports} reports in {r_wall:.1f} s wall, {r_cpu:.1f} core-s: "
                f"{r_wall / reports:.2f} s and {r_cpu / reports:.2f} core-s per report (-j {args.jobs})"
            )
            print(
                f"ratio print / render, per page: wall {p_wall / n / (r_wall / reports):.2f}, "
                f"core {p_cpu / n / (r_cpu / reports):.2f}"
            )
        print("Measured on a shared machine? Run it again when the machine is idle: only the ratio is comparable.")


if __name__ == "__main__":
    main()
