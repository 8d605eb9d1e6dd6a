"""The batch past one machine: every report job run on an existing Dask cluster (``systemic report --scheduler``).

``execute(jobs, scheduler="tcp://host:8786", run=batch.run_job, failed=...)`` is what ``batch.run_batch`` calls
instead of its local process pool; it returns one result per job, in job order, and the batch writes the manifest
and index pages from them as it does for a local run.

Workers need no shared filesystem:

* each council's folder travels once per run, as a compressed archive held by one small Dask task (not
  ``scatter``: a scattered value is lost with the worker holding it, a task's input the scheduler can recreate);
  a worker unpacks it once into its own temporary folder and keeps it while the run needs it;
* each notebook travels the same way, so ``--notebooks`` works without copying anything to the workers;
* each job runs ``run(job)`` (papermill + nbconvert, ``batch.run_job``) inside a temporary folder on the worker
  and returns the report's files as bytes (HTML and JSON; the executed notebook when it failed);
* this process writes those files atomically into ``reports/``, so no report is ever half-written, even when a
  worker dies mid-job.

A worker that dies mid-job: the scheduler runs that job again on another worker, once (this module sets the
scheduler's ``allowed-failures`` to 1); a job whose worker dies twice comes back as a failed job with the reason,
like any failed notebook. One job runs at a time in each worker process (the kernel inherits the process's
environment), so start workers with ``--nthreads 1`` and as many processes (``--nworkers``) as cores.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import os
import shutil
import sys
import tarfile
import tempfile
import threading
import time
import warnings
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from .errors import SystemicError
from .files import atomic_write_bytes

ENV_VAR = "SYSTEMIC_SCHEDULER"  #: the scheduler address when --scheduler is not given
CONNECT_TIMEOUT = 30  #: seconds to reach the scheduler
NO_WORKER_TIMEOUT = 300  #: seconds the run waits with no worker connected before it fails the jobs left
ALLOWED_FAILURES = 1  #: a job whose worker dies is run once more on another worker; twice is a failure
KEEP_COUNCILS = 8  #: unpacked councils a worker process keeps (most recently used)
POLL = 0.5  #: seconds between progress updates


# ------------------------------------------------------------------------------------------------ the client

def execute(jobs: Sequence, *, scheduler: str, run: Callable, failed: Callable, progress: bool = True,
            echo: Callable[[str], None] | None = None) -> list:
    """Run ``run(job)`` for every job on the Dask cluster at ``scheduler``; results in job order.

    ``run(job)`` returns a JobResult (with ``report``/``notebook`` paths relative to ``job.out_root``);
    ``failed(job, error)`` makes the result of a job that never returned one (its workers died twice, or the
    cluster lost every worker). Raises SystemicError if the scheduler cannot be reached.
    """
    jobs = list(jobs)
    if not jobs:
        return []
    echo = echo or (lambda text: print(text, file=sys.stderr))
    client = connect(scheduler)
    try:
        _limit_failures(client, echo)
        echo(f"Dask scheduler {scheduler}: {len(client.nthreads())} worker(s); dashboard: {client.dashboard_link}")
        futures = _submit(client, jobs, run)
        return _collect(client, jobs, futures, failed, progress, echo)
    finally:
        client.close()


def connect(scheduler: str):
    """A Dask client for ``scheduler``, or SystemicError saying what to check."""
    from distributed import Client

    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise SystemicError(
            f"could not reach the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT} s ({exc}). Start one with "
            "`dask scheduler` (make scheduler) and workers with `dask worker ADDRESS` (make worker), or run "
            "without --scheduler to use this machine's cores.") from None


def _limit_failures(client, echo) -> None:
    """Ask the scheduler to give up on a job after its worker died twice (Dask's default is four times)."""
    try:
        client.run_on_scheduler(_set_allowed_failures, ALLOWED_FAILURES)
    except Exception as exc:  # noqa: BLE001 - a locked-down scheduler keeps its own setting
        echo(f"Note: could not set the scheduler's allowed-failures to {ALLOWED_FAILURES} ({exc}); start it with "
             f"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES={ALLOWED_FAILURES} (make scheduler does).")


def _set_allowed_failures(value: int, dask_scheduler=None) -> int:
    dask_scheduler.allowed_failures = value
    return value


def _submit(client, jobs: list, run: Callable) -> list:
    """One archive task per council and per notebook, then one task per job depending on them."""
    councils: dict[str, tuple[str, object]] = {}
    notebooks: dict[str, tuple[str, object]] = {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ll]arge.*graph.*")
        for job in jobs:
            if job.council_dir not in councils:
                data, digest = pack_folder(job.council_dir)
                councils[job.council_dir] = (digest, client.submit(_hold, data, key=f"systemic-council-{digest}",
                                                                   pure=False))
            if job.notebook not in notebooks:
                data = Path(job.notebook).read_bytes()
                digest = hashlib.sha256(data).hexdigest()[:16]
                notebooks[job.notebook] = (digest, client.submit(_hold, data, key=f"systemic-notebook-{digest}",
                                                                 pure=False))
        futures = []
        for i, job in enumerate(jobs):
            council_key, council = councils[job.council_dir]
            notebook_key, notebook = notebooks[job.notebook]
            futures.append(client.submit(run_remote, job, run, council_key, council, notebook, pure=False,
                                         retries=1, key=f"systemic-job-{i}-{job.stage}-{council_key[:8]}-"
                                                        f"{os.getpid()}-{time.time_ns()}"))
    return futures


def _hold(data: bytes) -> bytes:
    """A council's archive (or a notebook) as a Dask result that workers fetch once and keep."""
    return data


def _collect(client, jobs: list, futures: list, failed: Callable, progress: bool, echo) -> list:
    """Wait for every job with a progress bar (done, failed, running, ETA, workers); write each job's files."""
    from distributed import wait
    from tqdm.auto import tqdm

    index = {f.key: i for i, f in enumerate(futures)}
    results: dict[int, object] = {}
    pending = set(futures)
    failures = 0
    no_workers_since = None
    bar = tqdm(total=len(jobs), desc="Reports (Dask)", unit="report", disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    try:
        while pending:
            try:
                done, pending = wait(pending, timeout=POLL, return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            for future in done:
                i = index[future.key]
                results[i] = _finish(jobs[i], future, failed)
                if results[i].status != "ok":
                    failures += 1
                    bar.write(f"failed: {results[i].label}: {(results[i].error or {}).get('message', '')[:200]}")
                bar.update(1)
            workers, running = _cluster_state(client, pending)
            bar.set_postfix_str(f"failed={failures} running={running} workers={workers}")
            if workers:
                no_workers_since = None
            elif pending:
                no_workers_since = no_workers_since or time.monotonic()
                if time.monotonic() - no_workers_since > NO_WORKER_TIMEOUT:
                    for future in pending:
                        i = index[future.key]
                        results[i] = failed(jobs[i], {
                            "name": "NoWorkers",
                            "message": f"no Dask worker was connected to the scheduler for {NO_WORKER_TIMEOUT} s"})
                        failures += 1
                        bar.update(1)
                    client.cancel(list(pending))
                    pending = set()
    except KeyboardInterrupt:
        client.cancel(list(pending))
        raise
    finally:
        bar.close()
    return [results[i] for i in range(len(jobs))]


def _cluster_state(client, pending: set) -> tuple[int, int]:
    """(workers connected, jobs of ours a worker is running or holds next)."""
    try:
        keys = {f.key for f in pending}
        processing = client.processing()
        return len(processing), sum(1 for ks in processing.values() for k in ks if k in keys)
    except Exception:  # noqa: BLE001 - progress only
        return 0, 0


def _finish(job, future, failed: Callable):
    """The job's result; its report files written atomically into the reports folder (HTML last)."""
    if future.status != "finished":
        return failed(job, _error_of(future))
    try:
        result, files = future.result()
    except Exception as exc:  # noqa: BLE001 - lost between worker and here
        return failed(job, {"name": type(exc).__name__, "message": f"the result did not arrive: {exc}"})
    out = Path(job.output_dir)
    for name in sorted(files, key=lambda n: n.endswith(".html")):
        atomic_write_bytes(out / name, files[name])
    if result.status == "ok":
        (out / f"{job.stage}.ipynb").unlink(missing_ok=True)  # a failure of this same report in an earlier run
    result.parameters = job.parameters  # this machine's paths, not the worker's temporary ones
    return result


def _error_of(future) -> dict:
    """The manifest's error entry for a job that never returned a result."""
    try:
        exc = future.exception()
    except Exception as cancelled:  # noqa: BLE001 - cancelled futures raise here
        exc = cancelled
    name = type(exc).__name__
    if name == "KilledWorker":
        return {"name": name, "message": f"the Dask worker running it stopped {ALLOWED_FAILURES + 1} times (it was "
                                         f"tried on another worker after the first); last worker: "
                                         f"{getattr(getattr(exc, 'last_worker', None), 'address', '?')}"}
    return {"name": name, "message": f"the Dask task failed twice: {exc}"[:2000]}


# ---------------------------------------------------------------------------------------------- the archives

def pack_folder(folder) -> tuple[bytes, str]:
    """(a council folder as .tar.gz bytes, a digest of its files' names and contents).

    Hidden files and folders (``.x``) are left out; the digest names the unpacked copy on each worker, so a
    long-lived worker reuses it across runs until a file changes.
    """
    folder = Path(folder)
    digest = hashlib.sha256(folder.name.encode())
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if any(part.startswith(".") for part in rel.parts) or not path.is_file():
                continue
            data = path.read_bytes()
            digest.update(rel.as_posix().encode() + b"\0" + len(data).to_bytes(8, "big"))
            digest.update(data)
            info = tarfile.TarInfo(f"{folder.name}/{rel.as_posix()}")
            info.size, info.mtime, info.mode = len(data), int(path.stat().st_mtime), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue(), digest.hexdigest()[:16]


# ------------------------------------------------------------------------------------------------ the worker

_ONE_AT_A_TIME = threading.Lock()  #: a kernel inherits this process's environment: one job per process
_UNPACKED: OrderedDict[str, Path] = OrderedDict()
_WORK_ROOT: Path | None = None


def run_remote(job, run: Callable, council_key: str, council: bytes, notebook: bytes):
    """On a worker: run ``job`` against its own copy of the council and return (result, {file name: bytes}).

    The files are those the job left in its report folder: ``<stage>.html`` and ``<stage>.json`` when it worked,
    the executed ``<stage>.ipynb`` when it failed.
    """
    with _ONE_AT_A_TIME:
        council_dir = _unpacked(council_key, council, Path(job.council_dir).name)
        with tempfile.TemporaryDirectory(prefix="job-", dir=_work_root()) as tmp:
            tmp = Path(tmp)
            nb_path = tmp / "notebooks" / Path(job.notebook).name
            nb_path.parent.mkdir()
            nb_path.write_bytes(notebook)
            out_root = tmp / "reports"
            output_dir = out_root / Path(job.output_dir).relative_to(job.out_root)
            here = replace(job, council_dir=str(council_dir), notebook=str(nb_path), output_dir=str(output_dir),
                           out_root=str(out_root))
            result = run(here)
            files = {p.name: p.read_bytes() for p in output_dir.iterdir()
                     if p.is_file() and not p.name.startswith(".")} if output_dir.is_dir() else {}
    return result, files


def _work_root() -> Path:
    """This worker process's temporary folder, removed when the process ends."""
    global _WORK_ROOT
    if _WORK_ROOT is None:
        _WORK_ROOT = Path(tempfile.mkdtemp(prefix="systemic-worker-"))
        atexit.register(shutil.rmtree, _WORK_ROOT, True)
    return _WORK_ROOT


def _unpacked(key: str, archive: bytes, name: str) -> Path:
    """The council folder unpacked from ``archive`` (once per worker process; the last few are kept)."""
    if key in _UNPACKED and _UNPACKED[key].is_dir():
        _UNPACKED.move_to_end(key)
        return _UNPACKED[key]
    target = _work_root() / "councils" / key
    partial = target.with_name(key + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(partial, filter="data")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(partial, target)
    _UNPACKED[key] = target / name
    while len(_UNPACKED) > KEEP_COUNCILS:
        _, old = _UNPACKED.popitem(last=False)
        shutil.rmtree(old.parent, ignore_errors=True)
    return _UNPACKED[key]
