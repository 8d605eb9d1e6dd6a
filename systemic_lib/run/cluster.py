"""The batch past one machine: every report job run on an existing Dask cluster (``systemic report --scheduler``).

``DaskEngine`` is what ``batch.run_batch`` hands the one job loop (``engine.run_jobs``) instead of the local pool:
the same progress, retries and results. Workers need no shared filesystem:

* each council's folder travels once per run, as a compressed archive held by one small Dask task (not
  ``scatter``: a scattered value is lost with the worker holding it, a task's input the scheduler can recreate);
  a worker unpacks it once into its own temporary folder and keeps it while the run needs it;
* each notebook travels the same way, so ``--notebooks`` works without copying anything to the workers;
* each job runs on the worker (``run_remote``) inside a temporary folder and returns the report's files as bytes
  (HTML and JSON; the executed notebook when it failed);
* this process writes those files atomically into ``reports/``, so no report is ever half-written, even when a
  worker dies mid-job.

Each worker process runs its jobs as a local pool worker does: ``SystemicWorker`` (a Dask worker plugin, registered by
the engine) gives it a ``worker.Runner`` whose kernels are forked warm from a kernel zygote it starts when the worker
joins (and stops when it leaves), with each council read ahead and its tables kept in a table cache on the worker's
machine.

Jobs are handed to the scheduler as worker threads free up (never more at once than the cluster has threads), so
a job is only ever placed on a worker that starts it at once, and workers that join mid-run get work. A worker that
dies mid-job: the scheduler gives the job up at once (this module sets its ``allowed-failures`` to 0) and the job
loop runs it again once, like a local job. One job runs at a time in each worker process, so start workers with
``--nthreads 1`` and as many processes (``--nworkers``) as cores.

A scheduler runs any code a client sends it: ``tls://`` addresses use the certificates in ``security``
(``certs.py``, ``systemic certs``); see the README's "How to scale out".
"""

from __future__ import annotations

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
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from distributed import Client, Future
from distributed.diagnostics.plugin import WorkerPlugin

from systemic_lib import config
from systemic_lib.data import cache
from systemic_lib.data.files import atomic_write_bytes
from systemic_lib.errors import SystemicError
from systemic_lib.run.engine import Finished, Lost, Outcome, run_jobs
from systemic_lib.run.jobs import Job, JobError, JobResult
from systemic_lib.run.worker import Runner

ENV_VAR = "SYSTEMIC_SCHEDULER"  #: the scheduler address when --scheduler is not given
CONNECT_TIMEOUT = 30  #: seconds to reach the scheduler
NO_WORKER_TIMEOUT = 300  #: seconds the run waits with no worker connected before it fails the jobs left
ALLOWED_FAILURES = 0  #: the scheduler gives a job up when its worker dies; the job loop retries it once
KEEP_COUNCILS = 8  #: unpacked councils a worker process keeps (most recently used)
PLUGIN = "systemic"  #: the name of ``SystemicWorker`` on the workers


# ------------------------------------------------------------------------------------------------ the client


def execute(
    jobs: list[Job],
    *,
    scheduler: str,
    security=None,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
    on_result: Callable[[JobResult], None] | None = None,
    warm_kernels: bool = True,
) -> list[JobResult]:
    """Run every job on the Dask cluster at ``scheduler`` with the one job loop; results in job order. Raises
    SystemicError if the scheduler cannot be reached."""
    if not jobs:
        return []
    echo = echo or (lambda text: print(text, file=sys.stderr))
    client = connect(scheduler, security)
    try:
        _limit_failures(client, echo)
        client.register_plugin(SystemicWorker(warm=warm_kernels))
        echo(f"Dask scheduler {scheduler}: {len(client.nthreads())} worker(s); {_dashboard(client)}")
        with client.as_current():  # distributed.wait asks for the current client
            return run_jobs(DaskEngine(client), jobs, progress=progress, on_result=on_result)
    finally:
        client.close()


def connect(scheduler: str, security=None) -> Client:
    """A Dask client for ``scheduler``, or SystemicError saying what to check."""
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False, security=security)
    except (OSError, TimeoutError) as exc:
        raise SystemicError(
            f"could not reach the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT} s ({exc}). Start one with "
            "`make scheduler` and workers with `make worker` (for tls:// addresses, with the certificates of "
            "`systemic certs`), or run without --scheduler to use this machine's cores."
        ) from None


def _dashboard(client: Client) -> str:
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


def _limit_failures(client: Client, echo: Callable[[str], None]) -> None:
    """Ask the scheduler to give a job up when its worker dies (the job loop retries it once, as a local one)."""
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

    def __init__(self, client: Client, jobs: list[Job]):
        self.client = client
        self.left = Counter(job.council_dir for job in jobs)
        self.tasks: dict[str, tuple[str, Future]] = {}

    def get(self, path: str, kind: str) -> tuple[str, Future]:
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

    def done_with(self, job: Job) -> None:
        self.left[job.council_dir] -= 1
        if not self.left[job.council_dir]:
            self.tasks.pop(job.council_dir, None)


def _hold(data: bytes) -> bytes:
    """A council's archive (or a notebook) as a Dask result that workers fetch once and keep."""
    return data


class DaskEngine:
    """Jobs on a Dask cluster's workers (as many at once as it has threads), each job's files written here as it
    ends."""

    label = "Reports (Dask)"

    def __init__(self, client: Client):
        self.client = client
        self.jobs: list[Job] = []
        self.inputs: _Inputs | None = None
        self.in_flight: dict[Future, int] = {}
        self.no_workers_since: float | None = None

    def start(self, jobs: list[Job], first: int) -> None:
        self.jobs, self.inputs = jobs, _Inputs(self.client, jobs)

    def _threads(self) -> int:
        """Threads on the cluster's workers now (workers come and go during a run)."""
        try:
            return sum(self.client.nthreads().values())
        except Exception:
            return 0

    def room(self) -> int:
        return self._threads() - len(self.in_flight)

    def running(self) -> list[int]:
        return list(self.in_flight.values())

    def give(self, index: int, job: Job) -> None:
        assert self.inputs is not None
        council_key, council = self.inputs.get(job.council_dir, "council")
        _, notebook = self.inputs.get(job.notebook, "notebook")
        future = self.client.submit(
            run_remote,
            job,
            council_key,
            council,
            notebook,
            pure=False,
            key=f"systemic-job-{index}-{job.stage}-{time.time_ns()}",
        )
        self.in_flight[future] = index

    def wait(self, timeout: float) -> list[Outcome]:
        from distributed import wait

        if not self.in_flight:
            time.sleep(timeout)
            return []
        try:
            done = wait(list(self.in_flight), timeout=timeout, return_when="FIRST_COMPLETED").done
        except TimeoutError:
            return []
        out: list[Outcome] = []
        for future in done:
            i = self.in_flight.pop(future)
            out.append(self._outcome(i, future))
            if self.inputs is not None and isinstance(out[-1], Finished):
                self.inputs.done_with(self.jobs[i])
        return out

    def _outcome(self, i: int, future: Future) -> Outcome:
        """The job's result, its report files written atomically into the reports folder (HTML last); or Lost
        when its worker died."""
        job = self.jobs[i]
        if future.status != "finished":
            exc = _exception(future)
            if type(exc).__name__ == "KilledWorker":
                last = getattr(exc, "last_worker", None)
                return Lost(i, f"Dask worker {getattr(last, 'address', '?')}")
            return Finished(i, JobResult.of(job, JobError.raised(exc, f"the Dask task failed: {exc}"[:2000])))
        try:
            result, files = future.result()
        except Exception as exc:
            return Finished(i, JobResult.of(job, JobError.raised(exc, f"the result did not arrive: {exc}")))
        out = Path(job.output_dir)
        for name in sorted(files, key=lambda n: n.endswith(".html")):
            atomic_write_bytes(out / name, files[name])
        if result.status == "ok":
            (out / f"{job.stage}.ipynb").unlink(missing_ok=True)  # a failure of this same report in an earlier run
        result.parameters = job.parameters  # this machine's paths, not the worker's temporary ones
        return Finished(i, result)

    def stalled(self) -> JobError | None:
        """No worker connected for ``NO_WORKER_TIMEOUT`` seconds: the jobs left fail."""
        if self._threads():
            self.no_workers_since = None
            return None
        self.no_workers_since = self.no_workers_since or time.monotonic()
        if time.monotonic() - self.no_workers_since > NO_WORKER_TIMEOUT:
            return JobError("NoWorkers", f"no Dask worker was connected to the scheduler for {NO_WORKER_TIMEOUT} s")
        return None

    def status(self) -> str:
        try:
            return f"workers={len(self.client.nthreads())}"
        except Exception:
            return ""

    def stop(self, jobs: list[Job]) -> None:
        if self.in_flight:
            self.client.cancel(list(self.in_flight))
            self.in_flight.clear()


def _exception(future: Future) -> BaseException:
    try:
        exc = future.exception()
    except Exception as cancelled:
        return cancelled
    return exc if exc is not None else RuntimeError(f"the task ended as {future.status}")


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


class SystemicWorker(WorkerPlugin):
    """What a Dask worker process needs to render reports as a local pool worker does: a ``Runner`` with warm
    kernels (a kernel zygote of its own, started when the worker joins, stopped when it leaves; each council read
    ahead before its kernels are forked), a table cache on the worker's machine (``config.CACHE_DIR`` there), and
    a temporary folder for the councils it unpacks and the jobs it runs."""

    name = PLUGIN
    idempotent = True  #: registered again by each run: the workers keep theirs (and its zygote, warm)

    def __init__(self, *, warm: bool = True):
        self.warm = warm
        self.runner: Runner | None = None
        self.folder: Path | None = None
        self.councils: Councils | None = None
        self.lock = threading.Lock()  #: one job at a time in a worker process

    def setup(self, worker: Any = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="systemic-worker-"))
        self.councils = Councils(self.folder / "councils", cache_dir=config.CACHE_DIR)
        self.runner = Runner(warm=self.warm, ahead=self.warm)
        self.runner.zygote()  # started now: it imports the libraries while the worker waits for work

    def teardown(self, worker: Any = None) -> None:
        if self.runner is not None:
            self.runner.close()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            cache.prune(config.CACHE_DIR)  # the entries of the councils just removed

    def __getstate__(self) -> dict:  # sent to the workers before setup: nothing of a running worker
        return {"warm": self.warm}

    def __setstate__(self, state: dict) -> None:
        SystemicWorker.__init__(self, **state)


def _plugin() -> SystemicWorker:
    """This worker's ``SystemicWorker`` (set up by the engine's registration)."""
    from distributed import get_worker

    plugin = get_worker().plugins.get(PLUGIN)
    if not isinstance(plugin, SystemicWorker):
        raise SystemicError("this Dask worker has no systemic plugin: the run registers it before its first job")
    return plugin


def run_remote(job: Job, council_key: str, council: bytes, notebook: bytes) -> tuple[JobResult, dict[str, bytes]]:
    """On a worker: run ``job`` against its own copy of the council and return (result, {file name: bytes}).

    The files are those the job left in its report folder: ``<stage>.html`` and ``<stage>.json`` when it worked,
    the executed ``<stage>.ipynb`` when it failed.
    """
    plugin = _plugin()
    assert plugin.runner is not None and plugin.councils is not None and plugin.folder is not None
    with plugin.lock:
        council_dir = plugin.councils.unpacked(council_key, council, Path(job.council_dir).name)
        with tempfile.TemporaryDirectory(prefix="job-", dir=plugin.folder) as tmp:
            nb_path = Path(tmp) / "notebooks" / Path(job.notebook).name
            nb_path.parent.mkdir()
            nb_path.write_bytes(notebook)
            out_root = Path(tmp) / "reports"
            output_dir = out_root / Path(job.output_dir).relative_to(job.out_root)
            here = replace(
                job,
                council_dir=str(council_dir),
                notebook=str(nb_path),
                output_dir=str(output_dir),
                out_root=str(out_root),
                cache_dir=str(config.CACHE_DIR) if job.cache_dir else None,
            )
            result = plugin.runner.run(here)
            files = (
                {p.name: p.read_bytes() for p in output_dir.iterdir() if p.is_file() and not p.name.startswith(".")}
                if output_dir.is_dir()
                else {}
            )
    return result, files


class Councils:
    """The council folders a worker unpacked (``unpacked``), in ``folder``: once per worker process, the last
    ``KEEP_COUNCILS`` kept. A council dropped takes its entries in the table cache ``cache_dir`` with it: their
    source folder is gone, so no run can use them again."""

    def __init__(self, folder: Path, *, cache_dir: Path | None = None):
        self.folder = folder
        self.cache_dir = cache_dir
        self.held: OrderedDict[str, Path] = OrderedDict()

    def unpacked(self, key: str, archive: bytes, name: str) -> Path:
        """The council folder unpacked from ``archive`` (named by its digest ``key``)."""
        if key in self.held and self.held[key].is_dir():
            self.held.move_to_end(key)
            return self.held[key]
        target = self.folder / key
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
        self.held[key] = target / name
        while len(self.held) > KEEP_COUNCILS:
            _, old = self.held.popitem(last=False)
            cache.clear(old, self.cache_dir)
            shutil.rmtree(old.parent, ignore_errors=True)
        return self.held[key]
