"""Prove that a refactor leaves the reports' figures unchanged: render the sample councils at a base revision and
at the working tree, and compare every ``<stage>.json`` byte for byte, and every chart image embedded in the pages.

    python benchmarks/compare_reports.py                  # base = HEAD
    python benchmarks/compare_reports.py --base 3fe03f1   # any revision
    python benchmarks/compare_reports.py --base-reports DIR   # compare with reports already rendered

Each side generates the sample councils with its own ``systemic sample`` (seeded, so byte-identical when the
generator is unchanged) and renders them with its own library (``PYTHONPATH`` points the kernels at that side's
``systemic_lib``). Exit 0 when every JSON is equal; otherwise each differing file is listed with its changed keys,
and the exit code is 1. A deliberate change is listed the same way: say which in the commit message.

It also prints what each side cost and weighs, measured in the same run: the render's core-seconds (this process's
children, every kernel they waited for included) and wall time, and the pages' total and largest size. Run it on an
idle machine for the times; the sides run one after the other, so a busy machine skews the ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Cost:
    """What rendering one side's reports took: core-seconds of the render (children waited for) and wall time."""

    core_s: float
    wall_s: float


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def render(tree: Path, out: Path, jobs: int, costs: dict[str, Cost] | None = None) -> Path:
    """Sample councils and every report of them, rendered by the library in ``tree``; returns the reports folder.
    The render's cost (not the sample's) goes into ``costs[str(tree)]`` when given."""
    env = {**os.environ, "PYTHONPATH": str(tree), "SYSTEMIC_ROOT": str(tree)}
    code = "import sys; from systemic_lib.cli import main; sys.argv = ['systemic'] + sys.argv[1:]; main()"
    councils, reports = out / "councils", out / "reports"
    # run in the tree's own folder: `python -c` puts the working folder first on sys.path, ahead of $PYTHONPATH, so
    # run from the project root the base side would import the working tree's library
    subprocess.run([sys.executable, "-c", code, "sample", "--out", str(councils)], env=env, check=True, cwd=tree)
    cpu, wall = _children_cpu(), time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code, "report", str(councils), "--out", str(reports), "-j", str(jobs), "--no-progress"],
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
        cwd=tree,
    )
    if costs is not None:
        costs[str(tree)] = Cost(_children_cpu() - cpu, time.perf_counter() - wall)
    return reports


def weights(reports: Path) -> tuple[int, int, int, str]:
    """The report pages' (count, total bytes, largest bytes, largest page)."""
    pages = sorted(reports.rglob("*.html"), key=lambda p: p.stat().st_size)
    if not pages:
        return 0, 0, 0, "-"
    return (
        len(pages),
        sum(p.stat().st_size for p in pages),
        pages[-1].stat().st_size,
        str(pages[-1].relative_to(reports)),
    )


def say_costs(base: Path, after: Path, costs: dict[str, Cost], base_tree: str | None) -> None:
    """The two sides' render cost and page weight, with the ratio after / before."""
    for side, reports, tree in (("before", base, base_tree), ("after", after, str(ROOT))):
        n, total, largest, name = weights(reports)
        cost = costs.get(tree) if tree else None
        spent = f"{cost.core_s:.1f} core-s, {cost.wall_s:.1f} s wall; " if cost else ""
        print(f"{side}: {spent}{n} pages, {total / 1e6:.2f} MB in all, the largest {largest / 1e3:.0f} KB ({name})")
    if base_tree and base_tree in costs and str(ROOT) in costs:
        b, a = costs[base_tree], costs[str(ROOT)]
        print(f"after / before: {a.core_s / b.core_s:.2f}x the core-seconds, {a.wall_s / b.wall_s:.2f}x the wall time")


def stage_jsons(reports: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(reports)): p.read_bytes()
        for p in sorted(reports.rglob("*.json"))
        if p.name != "manifest.json"
    }


_IMAGE = re.compile(rb'src="data:image/(?:png|svg\+xml);base64,([^"]+)"')


def chart_images(reports: Path) -> dict[str, list[str]]:
    """Every chart image embedded in every report page, as a digest per image, in page order."""
    return {
        str(p.relative_to(reports)): [hashlib.sha256(m).hexdigest()[:16] for m in _IMAGE.findall(p.read_bytes())]
        for p in sorted(reports.rglob("*.html"))
    }


def image_differences(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    out = []
    for name in sorted(set(before) & set(after)):
        a, b = before[name], after[name]
        changed = sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b))
        if changed:
            out.append(f"{name}: {changed} of {max(len(a), len(b))} charts differ")
    return out


def differences(before: dict[str, bytes], after: dict[str, bytes]) -> list[str]:
    out = []
    for name in sorted(set(before) | set(after)):
        if name not in after:
            out.append(f"{name}: missing after")
        elif name not in before:
            out.append(f"{name}: new")
        elif before[name] != after[name]:
            a, b = json.loads(before[name]), json.loads(after[name])
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            out.append(f"{name}: differs in {', '.join(keys) or 'formatting'}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD", help="git revision to compare against (default HEAD)")
    parser.add_argument("--base-reports", type=Path, help="an already rendered reports folder to compare against")
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="render the working tree's reports here and keep them")
    args = parser.parse_args()
    costs: dict[str, Cost] = {}
    base_tree_name: str | None = None
    with tempfile.TemporaryDirectory(prefix="compare-reports-") as tmp:
        tmp = Path(tmp)
        if args.base_reports:
            base_reports = args.base_reports
        else:
            base_tree = tmp / "base-tree"
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base_tree), args.base],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            try:
                base_reports = render(base_tree, tmp / "base", args.jobs, costs)
                base_tree_name = str(base_tree)
                before = stage_jsons(base_reports)
                images_before = chart_images(base_reports)
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_tree)], check=False)
        if args.base_reports:
            before, images_before = stage_jsons(base_reports), chart_images(base_reports)
        after_reports = render(ROOT, args.keep or tmp / "after", args.jobs, costs)
        after, images_after = stage_jsons(after_reports), chart_images(after_reports)
        say_costs(base_reports, after_reports, costs, base_tree_name)
    diffs = differences(before, after)
    print(f"{len(before)} stage JSON files before, {len(after)} after; {len(diffs)} differ")
    for line in diffs:
        print("  " + line)
    image_diffs = image_differences(images_before, images_after)
    charts = sum(len(v) for v in images_after.values())
    print(f"{charts} charts in {len(images_after)} pages; {len(image_diffs)} pages with a chart that differs")
    for line in image_diffs:
        print("  " + line)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
