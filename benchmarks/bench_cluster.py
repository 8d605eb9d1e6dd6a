"""The batch on a Dask cluster against the local process pool, measured in the same run.

Starts a real ``dask scheduler`` and two ``dask worker`` processes (one thread each, as ``make worker`` does) on
free localhost ports, renders the sample councils (data/councils, or freshly generated ones) through
``run_batch(..., scheduler=...)`` and through the local pool with ``-j 2``, prints both wall times, and checks that
every ``<stage>.json`` is byte-identical between the two.

On one machine the cluster cannot be faster than the local pool (the same two cores, plus shipping councils and
reports over localhost); the ratio shows what the distributed path costs, which more machines then buy back.

    python benchmarks/bench_cluster.py [--councils DIR] [--stage demand ...] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import free_port

from systemic_lib import config
from systemic_lib.data.sample import samples_complete, write_sample_councils
from systemic_lib.run import batch


def start_cluster(tmp: Path, workers: int) -> tuple[str, list[subprocess.Popen]]:
    """A scheduler and ``workers`` single-threaded workers as subprocesses; returns (address, processes)."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "SYSTEMIC_ROOT": str(config.PROJECT_ROOT),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(config.PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
    }
    dask = [sys.executable, "-m", "dask"]
    log = open(tmp / "dask.log", "wb")
    procs = [
        subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    ]
    procs += [
        subprocess.Popen(
            [
                *dask,
                "worker",
                address,
                "--nthreads",
                "1",
                "--no-dashboard",
                "--name",
                f"w{n}",
                "--local-directory",
                str(tmp / f"w{n}"),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for n in range(workers)
    ]
    log.close()
    deadline = time.monotonic() + 120
    with Client(address, timeout=60, set_as_default=False) as client:
        while len(client.nthreads()) < workers:
            if time.monotonic() > deadline:
                stop(procs)
                sys.exit(f"the Dask workers did not start; see {tmp / 'dask.log'}")
            time.sleep(0.5)
    return address, procs


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def figures(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*.json") if p.name != "manifest.json"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", action="append", choices=batch.ALL_STAGES, help="only this stage (repeatable)")
    parser.add_argument(
        "--councils",
        type=Path,
        default=config.COUNCILS_DIR,
        help="folder of councils (default data/councils; generated if incomplete)",
    )
    parser.add_argument("--workers", type=int, default=2, help="dask worker processes (and local -j); default 2")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench_cluster_"))
    procs: list[subprocess.Popen] = []
    try:
        councils = args.councils
        if args.councils == config.COUNCILS_DIR and not samples_complete(councils):
            councils = tmp / "councils"
            write_sample_councils(councils)
        address, procs = start_cluster(tmp, args.workers)
        print(
            f"councils: {councils}; stages: {', '.join(args.stage or batch.ALL_STAGES)}; "
            f"{os.cpu_count()} cores; scheduler {address} with {args.workers} worker(s)"
        )

        timings = {}
        for name, kwargs in (("local pool", {"jobs": args.workers}), ("dask cluster", {"scheduler": address})):
            began = time.perf_counter()
            result = batch.run_batch(
                [councils],
                tmp / name.replace(" ", "-"),
                stages=args.stage,
                progress=False,
                echo=lambda text: None,
                **kwargs,
            )
            timings[name] = (time.perf_counter() - began, len(result.ok), len(result.failed))

        local, remote = figures(tmp / "local-pool"), figures(tmp / "dask-cluster")
        differ = sorted(k for k in local.keys() | remote.keys() if local.get(k) != remote.get(k))
        print(f"{'':28}{'wall':>9}{'per report':>12}{'ok':>5}{'failed':>8}")
        for name, (seconds, ok, failed) in timings.items():
            label = f"{name} ({args.workers} {'workers' if 'dask' in name else 'processes'})"
            print(f"{label:28}{seconds:>8.1f}s{seconds / max(ok + failed, 1):>11.2f}s{ok:>5}{failed:>8}")
        ratio = timings["dask cluster"][0] / timings["local pool"][0]
        print(f"ratio (dask cluster / local pool): {ratio:.2f}x the local pool's wall time")
        print(f"<stage>.json compared: {len(local)}; differing: {len(differ)}" + (f" {differ[:5]}" if differ else ""))
        return 1 if differ or any(t[2] for t in timings.values()) else 0
    finally:
        stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
