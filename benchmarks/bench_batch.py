"""Batch reports: core-seconds per report and wall time, three ways, with the same number of workers, in one run.

* CLI loop: for each job ``papermill IN OUT -p ...`` then ``jupyter nbconvert --to html --no-input OUT``, run
  ``-j N`` at a time with ``xargs -P N`` (so the comparison is per core, not per worker);
* pool, before: ``systemic_lib.run.batch`` planning + ``pool.execute`` with a cold kernel per notebook and every
  notebook parsing its tables (the batch before this work);
* pool, new: the same with the table cache (each council parsed once, while planning) and warm kernels (forked
  from the machine's zygote, started before planning, that imported the libraries once and read each council
  once, cut by service: ``data/preload.py``; each worker starts its next kernel while a notebook runs), jobs
  council by council with the organisation scan first (``engine.run_order``).

Core-seconds are user + system CPU of this process and every process it waited for (workers, kernels, papermill
and nbconvert commands), measured with ``getrusage``; the pool uses ``spawn`` workers here so that they (and their
kernels) are this process's children. The machine may be shared: compare the ratios, which come from one run.

    python benchmarks/bench_batch.py [--councils DIR] [--limit N] [-j N] [--skip-cli]
    python benchmarks/bench_batch.py --large [--services 57 --contacts 340000]   # a casework-sized council
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from systemic_lib import config
from systemic_lib.run import batch, pool

TARGET = 1.5  #: core-seconds per report the batch should need on the sample councils (issue 12)


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _peak_child_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def measured(fn):
    """(result, wall seconds, core-seconds) of ``fn()``."""
    cpu, wall = _cpu(), time.perf_counter()
    result = fn()
    return result, time.perf_counter() - wall, _cpu() - cpu


def select(jobs: list[batch.Job], limit: int) -> list[batch.Job]:
    """Alternate stages and councils so that a limit still samples every notebook."""
    seen: dict[str, int] = {}
    ranked = []
    for job in jobs:
        seen[job.stage] = seen.get(job.stage, 0) + 1
        ranked.append((seen[job.stage], batch.ALL_STAGES.index(job.stage), job))
    chosen = [job for *_, job in sorted(ranked, key=lambda r: r[:2])]
    return chosen[:limit] if limit else chosen


def run_pool(councils, out: Path, notebooks: Path, kernel: str, workers: int, limit: int, new: bool):
    """Plan (validating every council, filling the cache) and execute, as ``systemic report`` does."""

    def go():
        with pool.machine_zygote(new) as zygote:  # started before planning, as run_batch does
            jobs, _, _ = batch.plan(
                councils,
                out,
                notebooks_dir=notebooks,
                kernel=kernel,
                cache_dir=out.parent / (out.name + "-cache") if new else None,
            )
            jobs = select(jobs, limit)
            return jobs, pool.execute(jobs, workers, progress=False, warm_kernels=new, zygote=zygote)

    return measured(go)


def run_cli_loop(jobs: list[batch.Job], out_root: Path, workers: int):
    """The baseline: one shell line per job (papermill, then nbconvert), ``xargs -P workers``."""
    bindir = Path(sys.executable).parent
    papermill = str(bindir / "papermill") if (bindir / "papermill").exists() else "papermill"
    jupyter = str(bindir / "jupyter") if (bindir / "jupyter").exists() else "jupyter"
    lines = []
    for job in jobs:
        out_dir = out_root / job.council / (job.service or "")
        out_dir.mkdir(parents=True, exist_ok=True)
        executed = out_dir / f"{job.stage}.ipynb"
        args = [
            papermill,
            job.notebook,
            str(executed),
            "-k",
            job.kernel_name,
            "--cwd",
            str(Path(job.notebook).parent),
            "--no-progress-bar",
            "--execution-timeout",
            str(job.cell_timeout),
        ]
        for key, value in {**job.parameters, "output_dir": str(out_dir)}.items():
            args += ["-p", key, "None" if value is None else str(value)]
        lines.append(
            f"{shlex.join(args)} >/dev/null 2>&1 && "
            f"{shlex.join([jupyter, 'nbconvert', '--to', 'html', '--no-input', str(executed)])} >/dev/null 2>&1"
            f" || echo FAILED"
        )
    script = out_root / "jobs.txt"
    script.write_text("\n".join(lines) + "\n")
    env = {
        **os.environ,
        "SYSTEMIC_BATCH": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }

    def go():
        ran = subprocess.run(
            f"tr '\\n' '\\0' < {shlex.quote(str(script))} | xargs -0 -P {workers} -I CMD sh -c CMD",
            shell=True,
            env=env,
            capture_output=True,
            text=True,
        )
        return ran.stdout.count("FAILED")

    return measured(go)


def large_council(root: Path, services: int, contacts: int, seed: int = 7) -> Path:
    """A generated council shaped like a city's casework export: ``services`` services, about ``contacts``
    contacts over the sample period (65 weeks), built from the sample councils' service definitions."""
    from dataclasses import replace

    import yaml

    from systemic_lib.data import sample
    from systemic_lib.data.contract import TABLES
    from systemic_lib.data.files import atomic_write_text

    base = sample.COUNCILS[0]
    kinds = [p for plan in sample.COUNCILS for p in plan.services]
    per_year = max(50, int(contacts / services * 52 / 65))
    plans = []
    for k in range(services):
        template = kinds[k % len(kinds)]
        svc = replace(
            template.service,
            id=f"{template.service.id}-{k + 1}",
            name=f"{template.service.name} {k + 1}",
            prefix=f"{template.service.prefix}{k + 1}",
        )
        plans.append(replace(template, service=svc, contacts=per_year, changes=()))
    plan = replace(base, slug="bigcity", name="Big City Council", services=tuple(plans), learning_log=())
    folder = root / plan.slug
    for name, frame in sample.build_council(plan, seed=seed).items():
        if frame is not None:
            atomic_write_text(
                folder / f"{name}.csv", sample._csv(frame, [c for c in TABLES[name].column_names if c in frame.columns])
            )
    atomic_write_text(folder / "council.yaml", yaml.safe_dump(sample.council_yaml(plan), sort_keys=False))
    return folder


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--councils",
        type=Path,
        default=config.COUNCILS_DIR,
        help="folder of council folders (default: data/councils; build it with `make sample`)",
    )
    parser.add_argument("--limit", type=int, default=0, help="number of jobs (0 = every job)")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="workers, the same for all")
    parser.add_argument("--skip-cli", action="store_true", help="leave out the CLI loop (the slowest)")
    parser.add_argument("--large", action="store_true", help="the large-council benchmark (pool + cache only)")
    parser.add_argument("--services", type=int, default=57)
    parser.add_argument("--contacts", type=int, default=340_000)
    args = parser.parse_args(argv)
    pool._context = lambda: mp.get_context("spawn")  # workers as our children, so getrusage counts them
    tmp = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    try:
        kernel = batch.kernel_name()
        if args.large:
            return _large(args, tmp, kernel)
        if not args.councils.is_dir():  # a fresh clone: generate the sample councils for this run
            from systemic_lib.data.sample import write_sample_councils

            args.councils = tmp / "councils"
            write_sample_councils(args.councils)
        rows = []
        _, wall, cpu = run_pool(
            [args.councils], tmp / "cached", config.NOTEBOOKS_DIR, kernel, args.jobs, args.limit, new=True
        )
        jobs, results = _
        n = len(jobs)
        print(f"{n} reports from {args.councils}; kernel '{kernel}'; {args.jobs} workers; {os.cpu_count()} cores")
        rows.append(("pool + table cache + warm kernels (new)", wall, cpu, sum(r.status != "ok" for r in results)))
        (_, results), wall, cpu = run_pool(
            [args.councils], tmp / "plain", config.NOTEBOOKS_DIR, kernel, args.jobs, args.limit, new=False
        )
        rows.append(("pool, cold kernels, no cache (before)", wall, cpu, sum(r.status != "ok" for r in results)))
        if not args.skip_cli:
            failed, wall, cpu = run_cli_loop(jobs, tmp / "cli", args.jobs)
            rows.append((f"papermill + nbconvert, xargs -P {args.jobs}", wall, cpu, failed))
        print(f"{'':42}{'wall':>9}{'wall/report':>13}{'core-s/report':>15}{'failed':>8}")
        for name, wall, cpu, failed in rows:
            print(f"{name:42}{wall:>8.1f}s{wall / n:>12.2f}s{cpu / n:>14.2f}s{failed:>8}")
        new = rows[0][2] / n
        for name, _, cpu, _ in rows[1:]:
            print(f"core-seconds per report, {name} / new: {cpu / n / new:.2f}x")
        print(f"target: <= {TARGET} core-s per report: {'met' if new <= TARGET else 'NOT met'} ({new:.2f})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _large(args, tmp: Path, kernel: str) -> None:
    began = time.perf_counter()
    folder = large_council(tmp / "councils", args.services, args.contacts)
    rows = sum(1 for _ in open(folder / "demand.csv", encoding="utf-8")) - 1
    print(f"generated {folder.name}: {args.services} services, {rows} contacts in {time.perf_counter() - began:.0f} s")
    (jobs, results), wall, cpu = run_pool(
        [folder], tmp / "reports", config.NOTEBOOKS_DIR, kernel, args.jobs, args.limit, new=True
    )
    n = len(jobs)
    print(
        f"{n} reports, {args.jobs} workers: {wall:.0f} s wall ({wall / 60:.1f} min; target < 2.5 min on 2 cores), "
        f"{cpu / max(n, 1):.2f} core-s per report, {sum(r.status != 'ok' for r in results)} failed, "
        f"peak memory of one worker or kernel {_peak_child_mb():.0f} MB"
    )


if __name__ == "__main__":
    main()
