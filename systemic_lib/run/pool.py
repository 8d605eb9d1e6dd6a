"""Run batch jobs on this machine: N worker processes, each running one notebook at a time (``LocalEngine``, driven
by ``engine.run_jobs``).

A worker that dies under a job (SIGKILL, out of memory) costs only that job: it is replaced, and the job loop retries
the job once on a new worker while the other workers carry on. Stopping the engine stops its workers (a busy one
gets SIGTERM, so it shuts its kernel down) and removes their half-run notebooks.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import signal
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait

from systemic_lib.run import kernels
from systemic_lib.run.engine import Finished, Lost, Outcome, run_jobs
from systemic_lib.run.jobs import Job, JobError, JobResult
from systemic_lib.run.worker import Runner
from systemic_lib.site.manifest import storage_error

STOP_GRACE = 5.0  #: seconds a stopped worker has to shut its kernel down before it is killed


def _context():
    """forkserver (fresh, single-threaded parent: safe with zmq) where available, else spawn."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["systemic_lib.run.worker", "papermill", "nbconvert"])
        return ctx
    return mp.get_context("spawn")


def _serve(conn: Connection, warm: bool, zygote: tuple[str, int] | None) -> None:
    """A worker's life: run the jobs it is sent, one at a time, and send back each result; None ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle

    def stop(signum, frame):  # the parent stops the run: unwind, so papermill shuts the kernel down
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    runner = Runner(warm=warm, ahead=warm, shared=zygote)
    try:
        while True:
            try:
                job = conn.recv()
            except EOFError:
                return
            if job is None:
                return
            conn.send(_run(runner, job))
    finally:
        runner.close()


def _run(runner: Runner, job: Job) -> JobResult:
    try:
        return runner.run(job)
    except Exception as exc:
        found = storage_error(exc)
        return JobResult.of(job, JobError.of(found) if found else JobError.raised(exc), attempts=1)


class _Worker:
    def __init__(self, ctx, warm: bool, zygote: tuple[str, int] | None):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, warm, zygote), name="systemic-worker")
        self.process.start()
        child.close()
        self.index: int | None = None  #: the job it is running

    def give(self, index: int, job: Job) -> None:
        self.index = index
        self.conn.send(job)

    def how_it_died(self) -> str:
        self.process.join(2)  # its pipe may close a moment before it can be reaped
        code = self.process.exitcode
        if code is None:
            return ""
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"

    def stop(self, *, now: bool = False) -> None:
        """End the worker: ask an idle one to leave; stop a busy one (SIGTERM, then SIGKILL after the grace)."""
        if self.process.is_alive():
            if now and self.index is not None:
                self.process.terminate()
            else:
                try:
                    self.conn.send(None)
                except OSError:
                    self.process.terminate()
            self.process.join(STOP_GRACE)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
        self.conn.close()


@contextlib.contextmanager
def machine_zygote(warm: bool = True) -> Iterator[kernels.Zygote | None]:
    """The kernel zygote this machine's workers share for a run (None for cold kernels, or where fork is missing):
    started here, before the councils are planned, so that it imports the libraries meanwhile; stopped at the end."""
    zygote = kernels.Zygote().start() if warm and kernels.available() else None
    try:
        yield zygote
    finally:
        if zygote is not None:
            zygote.stop()


class LocalEngine:
    """``workers`` processes on this machine. With warm kernels they fork their kernels from one zygote that
    imported the libraries once (``kernels.py``): ``zygote`` if given (``machine_zygote``), else one started here."""

    label = "Reports"

    def __init__(self, workers: int, *, warm: bool = True, zygote: kernels.Zygote | None = None):
        self.workers, self.warm = workers, warm
        self.zygote = zygote if warm else None
        self.address: tuple[str, int] | None = None
        self._own = contextlib.ExitStack()  # a zygote started here, for the machine's workers, is stopped here
        self.ctx = _context()
        self.pool: list[_Worker] = []

    def start(self, jobs: list[Job], first: int) -> None:
        if self.warm and self.zygote is None:
            self.zygote = self._own.enter_context(machine_zygote(True))
        self.address = self.zygote.address if self.zygote is not None else None
        if self.zygote is not None:  # the first council is read while the workers start
            self.zygote.preload(jobs[first].council_dir, jobs[first].cache_dir)
        self.pool = [self._new() for _ in range(max(1, min(self.workers, len(jobs))))]

    def _new(self) -> _Worker:
        return _Worker(self.ctx, self.warm, self.address)

    def room(self) -> int:
        return sum(w.index is None for w in self.pool)

    def running(self) -> list[int]:
        return [w.index for w in self.pool if w.index is not None]

    def give(self, index: int, job: Job) -> None:
        for n, w in enumerate(self.pool):
            if w.index is None:
                try:
                    w.give(index, job)
                except OSError:  # it died while idle: a new worker takes the job
                    w.index = None
                    w.stop(now=True)
                    self.pool[n] = self._new()
                    self.pool[n].give(index, job)
                return
        raise RuntimeError("no idle worker")

    def wait(self, timeout: float) -> list[Outcome]:
        busy = [w for w in self.pool if w.index is not None]
        ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=timeout)
        out: list[Outcome] = []
        for n, w in enumerate(self.pool):
            if w.index is None or not (w.conn in ready or w.process.sentinel in ready):
                continue
            i, result = w.index, None
            try:
                if w.conn.poll():
                    result = w.conn.recv()
            except (EOFError, OSError):
                result = None
            w.index = None
            if result is None:  # the worker died under job i: replace it
                out.append(Lost(i, w.how_it_died() or "its connection broke"))
                w.stop(now=True)
                self.pool[n] = self._new()
            else:
                out.append(Finished(i, result))
        return out

    def stalled(self) -> JobError | None:
        return None

    def status(self) -> str:
        return ""

    def stop(self, jobs: list[Job]) -> None:
        """Stop every worker at once (busy ones first get SIGTERM so they shut their kernel down), remove the
        half-run notebooks of the jobs they were running, and stop a zygote started here."""
        for w in self.pool:
            if w.index is not None and w.process.is_alive():
                w.process.terminate()
        for w in self.pool:
            running = w.index
            w.stop(now=True)
            if running is not None:
                jobs[running].clear()
        self._own.close()


def execute(
    jobs: list[Job],
    workers: int,
    *,
    progress: bool = True,
    on_result: Callable[[JobResult], None] | None = None,
    warm_kernels: bool = True,
    zygote: kernels.Zygote | None = None,
) -> list[JobResult]:
    """Run jobs on ``workers`` processes of this machine (``LocalEngine``) with the one job loop; results in job
    order. Ctrl-C raises ``engine.Interrupted``."""
    return run_jobs(
        LocalEngine(workers, warm=warm_kernels, zygote=zygote), jobs, progress=progress, on_result=on_result
    )
