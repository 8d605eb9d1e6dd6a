"""A council's measures page (``reports/<council>/measures.html``) for the real 57-service shape: its size and the
time to build it, beside the council's index page built from the same reports in the same run.

The council is ``bench_batch.large_council`` (57 services, ~340,000 contacts; ``--contacts`` for fewer). Each
service's ``measure.json`` is written the measure notebook's way (``report.start`` + ``measure.load`` +
``stage.save``), without a kernel (the report HTML is a placeholder: only the JSON is read), then the index pages are
built ``--repeat`` times and the measures page's share is timed against the council index's.

    python benchmarks/bench_measures_page.py [--services 57] [--contacts 340000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

TARGET_BYTES = 1_000_000  #: a 57-service page a browser opens at once and a printer prints


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=57)
    parser.add_argument("--contacts", type=int, default=340_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    from bench_batch import large_council

    from systemic_lib.analysis import measure
    from systemic_lib.display import report
    from systemic_lib.site import pages

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        began = time.perf_counter()
        folder = large_council(tmp / "councils", args.services, args.contacts)
        print(f"generated {args.services} services in {time.perf_counter() - began:.0f} s")
        out = tmp / "reports" / folder.name
        began = time.perf_counter()
        from systemic_lib.data.council import load_council

        for sid in load_council(folder).services:
            (out / sid).mkdir(parents=True, exist_ok=True)
            stage = report.start(folder, sid, stage="measure", output_dir=out / sid)
            data = measure.load(stage)
            stage.save(measure.figures(data), period=measure.period(data))
            (out / sid / "measure.html").write_text("<html></html>", encoding="utf-8")
        print(f"measure.json of every service in {time.perf_counter() - began:.0f} s")

        page = next(p for p in pages.scan_reports(tmp / "reports") if p.slug == folder.name)
        index_s = measures_s = 0.0
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            index_html = pages.render_council_index(page)
            t1 = time.perf_counter()
            measures_html = pages.render_measures_page(page)
            t2 = time.perf_counter()
            index_s += t1 - t0
            measures_s += t2 - t1
        size = len(measures_html.encode("utf-8"))
        cells = measures_html.count("<td ")
        print(
            f"measures.html: {size:,} bytes ({size / max(cells, 1):,.0f} a cell, {cells} cells, "
            f"{args.services} services); target < {TARGET_BYTES:,} bytes {'met' if size < TARGET_BYTES else 'MISSED'}"
        )
        print(
            f"built in {1000 * measures_s / args.repeat:.0f} ms against {1000 * index_s / args.repeat:.0f} ms for "
            f"the council index ({len(index_html.encode('utf-8')):,} bytes) from the same reports: "
            f"{measures_s / max(index_s, 1e-9):.1f}x"
        )


if __name__ == "__main__":
    main()
