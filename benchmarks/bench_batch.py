"""Batch reports: our in-process, parallel batch against a plain loop of the papermill and nbconvert commands.

Both render the same jobs (the sample councils in data/councils with the notebooks in notebooks/, or, if either is
missing, a small fixture council with tests/fixtures/notebooks), measured in the same run:

* ours: ``systemic_lib.batch.execute`` (papermill + nbconvert in-process, -j workers, one retry on kernel start);
* baseline: for each job, ``papermill IN OUT -p ...`` then ``jupyter nbconvert --to html --no-input OUT``,
  sequentially, as a shell script would.

    python benchmarks/bench_batch.py [--limit N] [-j N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from systemic_lib import batch, config  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
FIXTURE_YAML = """name: Benchshire Council
services:
  - {id: housing-repairs, name: Housing repairs, purpose: Fix my home properly}
  - {id: council-tax, name: Council tax, purpose: Pay the right amount}
"""
FIXTURE_DEMAND = "contact_id,service,received_at,channel,classification\n" + "".join(
    f"C{i},{'housing-repairs' if i % 2 else 'council-tax'},2024-01-{1 + i % 28:02d} 10:00,phone,"
    f"{'failure' if i % 3 else 'value'}\n" for i in range(200))


def choose_jobs(tmp: Path, limit: int, kernel: str) -> tuple[list[batch.Job], str]:
    """The jobs both sides run: sample councils and real notebooks if present, else the fixture."""
    have_notebooks = any((config.NOTEBOOKS_DIR / f"{s}.ipynb").exists() for s in batch.ALL_STAGES)
    if config.COUNCILS_DIR.is_dir() and have_notebooks:
        councils, notebooks, source = [config.COUNCILS_DIR], config.NOTEBOOKS_DIR, "sample councils, notebooks/"
    else:
        folder = tmp / "councils" / "benchshire"
        folder.mkdir(parents=True)
        (folder / "council.yaml").write_text(FIXTURE_YAML, encoding="utf-8")
        (folder / "demand.csv").write_text(FIXTURE_DEMAND, encoding="utf-8")
        councils, notebooks, source = [folder], FIXTURES, "fixture council, tests/fixtures/notebooks/"
    jobs, _, _ = batch.plan(councils, tmp / "ours", notebooks_dir=notebooks, kernel=kernel)
    # alternate stages and councils so that a limit still samples every notebook
    seen: dict[str, int] = {}
    ranked = []
    for job in jobs:
        seen[job.stage] = seen.get(job.stage, 0) + 1
        ranked.append((seen[job.stage], batch.ALL_STAGES.index(job.stage), job))
    jobs = [job for *_, job in sorted(ranked, key=lambda r: r[:2])]
    return (jobs[:limit] if limit else jobs), source


def run_cli_loop(jobs: list[batch.Job], out_root: Path) -> tuple[float, int]:
    """The baseline: papermill then jupyter nbconvert, one job after another, as shell commands."""
    bindir = Path(sys.executable).parent
    papermill = str(bindir / "papermill") if (bindir / "papermill").exists() else "papermill"
    jupyter = str(bindir / "jupyter") if (bindir / "jupyter").exists() else "jupyter"
    failures = 0
    began = time.perf_counter()
    for job in jobs:
        out_dir = out_root / job.council / (job.service or "")
        out_dir.mkdir(parents=True, exist_ok=True)
        executed = out_dir / f"{job.stage}.ipynb"
        env = {**os.environ, "SYSTEMIC_BATCH": "1", "SYSTEMIC_OUTPUT_DIR": str(out_dir),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        params = {**job.parameters, "output_dir": str(out_dir)}
        args = [papermill, job.notebook, str(executed), "-k", job.kernel_name, "--cwd", str(Path(job.notebook).parent),
                "--no-progress-bar", "--execution-timeout", str(job.cell_timeout)]
        for key, value in params.items():
            args += ["-p", key, "None" if value is None else str(value)]
        ran = subprocess.run(args, env=env, capture_output=True)
        if ran.returncode != 0:
            failures += 1
            continue
        subprocess.run([jupyter, "nbconvert", "--to", "html", "--no-input", str(executed)], env=env,
                       capture_output=True, check=True)
    return time.perf_counter() - began, failures


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=12, help="number of jobs (0 = every job; default 12)")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="workers for our batch")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    try:
        kernel = batch.kernel_name()
        jobs, source = choose_jobs(tmp, args.limit, kernel)
        if not jobs:
            sys.exit("no jobs to run: add notebooks to notebooks/ or keep tests/fixtures/notebooks")
        print(f"{len(jobs)} jobs from {source}; kernel '{kernel}'; {os.cpu_count()} cores")

        workers = max(1, min(args.jobs, len(jobs)))
        began = time.perf_counter()
        results = batch.execute(jobs, workers, progress=False)
        ours = time.perf_counter() - began
        our_failures = sum(r.status != "ok" for r in results)

        baseline, base_failures = run_cli_loop([replace(j) for j in jobs], tmp / "cli")

        n = len(jobs)
        print(f"{'':34}{'total':>10}{'per report':>13}{'failed':>8}")
        print(f"{f'systemic batch (-j {workers}, in-process)':34}{ours:>9.1f}s{ours / n:>12.2f}s{our_failures:>8}")
        print(f"{'papermill + nbconvert CLI loop':34}{baseline:>9.1f}s{baseline / n:>12.2f}s{base_failures:>8}")
        print(f"ratio (CLI loop / batch): {baseline / ours:.2f}x faster")
        if our_failures:
            for r in results:
                if r.status != "ok":
                    print(f"  failed: {r.label}: {' | '.join(batch.describe_error(r.error)[:2])}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
