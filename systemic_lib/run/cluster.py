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

Jobs are handed to the scheduler as worker threads free up (never more at once than the cluster has threads), so
a job is only ever placed on a worker that starts it at once, and workers that join mid-run get work.

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
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from systemic_lib.data.files import atomic_write_bytes
from systemic_lib.errors import SystemicError

ENV_VAR = "SYSTEMIC_SCHEDULER"  #: the scheduler address when --scheduler is not given
CONNECT_TIMEOUT = 30  #: seconds to reach the scheduler
NO_WORKER_TIMEOUT = 300  #: seconds the run waits with no worker connected before it fails the jobs left
ALLOWED_FAILURES = 1  #: a job whose worker dies is run once more on another worker; twice is a failure
KEEP_COUNCILS = 8  #: unpacked councils a worker process keeps (most recently used)
POLL = 0.5  #: seconds between progress updates


# ------------------------------------------------------------------------------------------------ the client


def execute(
    jobs: Sequence,
    *,
    scheduler: str,
    run: Callable,
    failed: Callable,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
    on_result: Callable | None = None,
) -> list:
    """Run ``run(job)`` for every job on the Dask cluster at ``scheduler``; results in job order.

    ``run(job)`` returns a JobResult (with ``report``/``notebook`` paths relative to ``job.out_root``);
    ``failed(job, error)`` makes the result of a job that never returned one (its workers died twice, or the
    cluster lost every worker). ``on_result(result)`` is called as each job ends (the batch writes the manifest
    there). Raises SystemicError if the scheduler cannot be reached.
    """
    jobs = list(jobs)
    if not jobs:
        return []
    echo = echo or (lambda text: print(text, file=sys.stderr))
    client = connect(scheduler)
    try:
        _limit_failures(client, echo)
        echo(f"Dask scheduler {scheduler}: {len(client.nthreads())} worker(s); {_dashboard(client)}")
        with client.as_current():  # distributed.wait asks for the current client
            return _collect(client, jobs, run, failed, progress, echo, on_result)
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
            "without --scheduler to use this machine's cores."
        ) from None


def _dashboard(client) -> str:
    """Where to watch the run: the Dask dashboard's link, if the scheduler serves its pages (they need bokeh)."""
    import urllib.request

    link = client.dashboard_link
    try:
        with urllib.request.urlopen(link, timeout=3) as page:
            if page.status == 200:
                return f"dashboard: {link}"
    except Exception:
        pass
    return f"no dashboard at {link} (install bokeh where the scheduler runs to get one)"


def _limit_failures(client, echo) -> None:
    """Ask the scheduler to give up on a job after its worker died twice (Dask's default is four times)."""
    try:
        client.run_on_scheduler(_set_allowed_failures, ALLOWED_FAILURES)
    except Exception as exc:
        echo(
            f"Note: could not set the scheduler's allowed-failures to {ALLOWED_FAILURES} ({exc}); start it with "
            f"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES={ALLOWED_FAILURES} (make scheduler does)."
        )


def _set_allowed_failures(value: int, dask_scheduler=None) -> int:
    dask_scheduler.allowed_failures = value
    return value


class _Inputs:
    """Each council's archive and each notebook as a Dask task, made when a first job needs it and let go after its
    council's last job, so the scheduler holds only the councils being rendered."""

    def __init__(self, client, jobs: list):
        self.client = client
        self.left = Counter(job.council_dir for job in jobs)
        self.tasks: dict[str, tuple[str, object]] = {}

    def get(self, path: str, kind: str) -> tuple[str, object]:
        if path not in self.tasks:
            if kind == "council":
                data, digest = pack_folder(path)
            else:
                data = Path(path).read_bytes()
                digest = hashlib.sha256(data).hexdigest()[:16]
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*[Ll]arge.*")
                future = self.client.submit(_hold, data, key=f"systemic-{kind}-{digest}-{time.time_ns()}", pure=False)
            self.tasks[path] = (digest, future)
        return self.tasks[path]

    def done_with(self, job) -> None:
        self.left[job.council_dir] -= 1
        if not self.left[job.council_dir]:
            self.tasks.pop(job.council_dir, None)


def _hold(data: bytes) -> bytes:
    """A council's archive (or a notebook) as a Dask result that workers fetch once and keep."""
    return data


def _collect(client, jobs: list, run: Callable, failed: Callable, progress: bool, echo, on_result=None) -> list:
    """Submit jobs as workers free up (as many at once as the cluster has threads, so that a job is only ever
    placed on a worker that runs it at once), write each job's files as it ends, and show progress (done, failed,
    running, ETA, workers). Results in job order."""
    from distributed import wait
    from tqdm.auto import tqdm

    inputs = _Inputs(client, jobs)
    queue = deque(range(len(jobs)))
    in_flight: dict[object, int] = {}
    results: dict[int, object] = {}
    failures = 0
    no_workers_since = None
    bar = tqdm(
        total=len(jobs), desc="Reports (Dask)", unit="report", disable=not progress, file=sys.stderr, dynamic_ncols=True
    )
    try:
        while queue or in_flight:
            threads = _threads(client)
            while queue and len(in_flight) < threads:
                i = queue.popleft()
                job = jobs[i]
                council_key, council = inputs.get(job.council_dir, "council")
                _, notebook = inputs.get(job.notebook, "notebook")
                future = client.submit(
                    run_remote,
                    job,
                    run,
                    council_key,
                    council,
                    notebook,
                    pure=False,
                    retries=1,
                    key=f"systemic-job-{i}-{job.stage}-{time.time_ns()}",
                )
                in_flight[future] = i
            done = set()
            if in_flight:
                try:
                    done = wait(list(in_flight), timeout=POLL, return_when="FIRST_COMPLETED").done
                except TimeoutError:
                    pass
            else:
                time.sleep(POLL)
            for future in done:
                i = in_flight.pop(future)
                results[i] = _finish(jobs[i], future, failed)
                if on_result is not None:
                    on_result(results[i])
                inputs.done_with(jobs[i])
                if results[i].status != "ok":
                    failures += 1
                    bar.write(f"failed: {results[i].label}: {(results[i].error or {}).get('message', '')[:200]}")
                bar.update(1)
            bar.set_postfix_str(f"failed={failures} running={len(in_flight)} workers={_workers(client)}")
            if threads:
                no_workers_since = None
                continue
            no_workers_since = no_workers_since or time.monotonic()
            if time.monotonic() - no_workers_since > NO_WORKER_TIMEOUT:
                client.cancel(list(in_flight))
                for i in [*in_flight.values(), *queue]:
                    results[i] = failed(
                        jobs[i],
                        {
                            "name": "NoWorkers",
                            "message": f"no Dask worker was connected to the scheduler for {NO_WORKER_TIMEOUT} s",
                        },
                    )
                    if on_result is not None:
                        on_result(results[i])
                    failures += 1
                    bar.update(1)
                in_flight, queue = {}, deque()
    except KeyboardInterrupt:
        client.cancel(list(in_flight))
        raise
    finally:
        bar.close()
    return [results[i] for i in range(len(jobs))]


def _threads(client) -> int:
    """Threads on the cluster's workers now (workers come and go during a run)."""
    try:
        return sum(client.nthreads().values())
    except Exception:
        return 0


def _workers(client) -> int:
    try:
        return len(client.nthreads())
    except Exception:
        return 0


def _finish(job, future, failed: Callable):
    """The job's result; its report files written atomically into the reports folder (HTML last)."""
    if future.status != "finished":
        return failed(job, _error_of(future))
    try:
        result, files = future.result()
    except Exception as exc:
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
    except Exception as cancelled:
        exc = cancelled
    name = type(exc).__name__
    if name == "KilledWorker":
        return {
            "name": name,
            "message": f"the Dask worker running it stopped {ALLOWED_FAILURES + 1} times (it was "
            f"tried on another worker after the first); last worker: "
            f"{getattr(getattr(exc, 'last_worker', None), 'address', '?')}",
        }
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
            here = replace(
                job,
                council_dir=str(council_dir),
                notebook=str(nb_path),
                output_dir=str(output_dir),
                out_root=str(out_root),
            )
            result = run(here)
            files = (
                {p.name: p.read_bytes() for p in output_dir.iterdir() if p.is_file() and not p.name.startswith(".")}
                if output_dir.is_dir()
                else {}
            )
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
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4+: refuse links and paths outside the folder
            tar.extractall(partial, filter="data")
        else:
            tar.extractall(partial)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(partial, target)
    _UNPACKED[key] = target / name
    while len(_UNPACKED) > KEEP_COUNCILS:
        _, old = _UNPACKED.popitem(last=False)
        shutil.rmtree(old.parent, ignore_errors=True)
    return _UNPACKED[key]
