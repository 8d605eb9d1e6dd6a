"""Run batch jobs on this machine: N worker processes, each running one notebook at a time.

A worker that dies under a job (SIGKILL, out of memory) costs only that job: it is retried once on a new worker
(``worker.retry_lost``) while the other workers carry on, and a second loss fails it with the reason. Ctrl-C stops
the workers, removes their half-run notebooks and raises ``Interrupted`` holding every result that finished.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import sys
from collections import deque
from multiprocessing.connection import wait

from systemic_lib.run import kernels, worker
from systemic_lib.run.worker import Job, JobResult, lost_result, retry_lost, run_job
from systemic_lib.site.manifest import describe_error, storage_error

STOP_GRACE = 5.0  #: seconds a stopped worker has to shut its kernel down before it is killed


class Interrupted(Exception):
    """The run was stopped (Ctrl-C): ``results`` are the jobs that finished, in job order."""

    def __init__(self, results: list[JobResult]):
        super().__init__(f"interrupted after {len(results)} reports")
        self.results = results


def _context():
    """forkserver (fresh, single-threaded parent: safe with zmq) where available, else spawn."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["systemic_lib.run.worker", "papermill", "nbconvert"])
        return ctx
    return mp.get_context("spawn")


def _serve(conn, warm: bool = True, zygote: tuple | None = None) -> None:
    """A worker's life: run the jobs it is sent, one at a time, and send back each result; None ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle

    def stop(signum, frame):  # the parent stops the run: unwind, so papermill shuts the kernel down
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    worker.WARM_KERNELS = worker.KERNEL_AHEAD = warm
    worker.SHARED_ZYGOTE = zygote
    try:
        _jobs(conn)
    finally:
        worker.stop_zygote()


def _jobs(conn) -> None:
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        try:
            result = run_job(job)
        except Exception as exc:
            result = JobResult(
                job.council,
                job.council_name,
                job.service,
                job.service_name,
                job.stage,
                job.parameters,
                "failed",
                attempts=1,
                error=storage_error(exc) or {"name": type(exc).__name__, "message": str(exc)},
            )
        conn.send(result)


class _Worker:
    def __init__(self, ctx, warm: bool, zygote: tuple | None = None):
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


def warm_by_default() -> bool:
    """Warm kernels unless $SYSTEMIC_WARM_KERNELS is 0 (to compare, or if a library misbehaves after fork)."""
    return os.environ.get("SYSTEMIC_WARM_KERNELS", "1") != "0"


@contextlib.contextmanager
def machine_zygote(warm: bool | None = None):
    """The kernel zygote this machine's workers share for a run (None for cold kernels, or where fork is missing):
    started here, before the councils are planned, so that it imports the libraries meanwhile; stopped at the end."""
    warm = warm_by_default() if warm is None else warm
    zygote = kernels.Zygote().start() if warm and kernels.available() else None
    try:
        yield zygote
    finally:
        if zygote is not None:
            zygote.stop()


def execute(
    jobs: list[Job],
    workers: int,
    *,
    progress: bool = True,
    on_result=None,
    warm_kernels: bool | None = None,
    zygote: kernels.Zygote | None = None,
) -> list[JobResult]:
    """Run jobs on ``workers`` processes with a progress bar (done, failed, running, ETA); results in job order.

    With ``warm_kernels`` (default: ``warm_by_default()``) the workers fork their kernels from one zygote that
    imported the libraries once (``kernels.py``): ``zygote`` if given (``machine_zygote``), else one started here.

    ``on_result(result)`` is called in this process as each job ends (the batch writes the manifest there). A
    worker that dies is replaced; its job is retried once (``retry_lost``). Ctrl-C raises ``Interrupted``.
    """
    from tqdm.auto import tqdm

    if not jobs:
        return []
    ctx = _context()
    results: dict[int, JobResult] = {}
    losses: dict[int, int] = {}
    todo = deque(run_order(jobs))
    bar = tqdm(
        total=len(jobs), desc="Reports", unit="report", disable=not progress, file=sys.stderr, dynamic_ncols=True
    )
    failures = 0
    stopping = []
    previous = None
    if _in_main_thread():
        previous = signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    warm = warm_by_default() if warm_kernels is None else warm_kernels
    own = contextlib.ExitStack()  # a zygote started here, for the machine's workers, is stopped here
    if not warm:
        zygote = None
    elif zygote is None:
        zygote = own.enter_context(machine_zygote(True))
    address = zygote.address if zygote is not None else None
    if zygote is not None:  # the first council is read while the workers start
        zygote.preload(jobs[todo[0]].council_dir, jobs[todo[0]].cache_dir)
    pool = [_Worker(ctx, warm, address) for _ in range(max(1, min(workers, len(jobs))))]
    try:
        while (todo or any(w.index is not None for w in pool)) and not stopping:
            for n, w in enumerate(pool):
                if w.index is None and todo:
                    i = todo.popleft()
                    try:
                        w.give(i, jobs[i])
                    except OSError:  # it died while idle: a new worker takes the job
                        w.index = None
                        w.stop(now=True)
                        pool[n] = _Worker(ctx, warm, address)
                        todo.appendleft(i)
            busy = [w for w in pool if w.index is not None]
            bar.set_postfix_str(f"failed={failures} running={len(busy)}", refresh=True)
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=0.5)
            if not ready:
                continue
            for n, w in enumerate(pool):
                if w.index is None or not (w.conn in ready or w.process.sentinel in ready):
                    continue
                i, result = w.index, None
                try:
                    if w.conn.poll():
                        result = w.conn.recv()
                except (EOFError, OSError):
                    result = None
                if result is None:  # the worker died under job i: replace it, retry the job once
                    how = w.how_it_died() or "its connection broke"
                    w.index = None
                    w.stop(now=True)
                    pool[n] = _Worker(ctx, warm, address)
                    losses[i] = losses.get(i, 0) + 1
                    if retry_lost(losses[i]):
                        bar.write(f"retrying: {jobs[i].label}: the worker running it stopped ({how})")
                        todo.appendleft(i)
                        continue
                    result = lost_result(jobs[i], losses[i], how)
                else:
                    w.index = None
                    result.attempts += losses.get(i, 0)
                results[i] = result
                if result.status != "ok":
                    failures += 1
                    bar.write(f"failed: {result.label}: " + " | ".join(describe_error(result.error)[:2]))
                if on_result is not None:
                    on_result(result)
                bar.update(1)
    finally:
        _stop_all(pool, jobs)
        own.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        bar.close()
    done = [results[i] for i in range(len(jobs)) if i in results]
    if stopping:
        raise Interrupted(done)
    return done


def run_order(jobs: list[Job]) -> list[int]:
    """The order jobs are handed to workers (results still come back in job order): council by council, so that
    the kernel zygote keeps the council's tables read (``kernels.py``), and in each council the
    council-wide report (the organisation scan, the longest) first, so that it runs while the other workers take
    the services, not alone at the end."""
    first: dict[str, int] = {}
    for i, job in enumerate(jobs):
        first.setdefault(job.council_dir, i)
    return sorted(range(len(jobs)), key=lambda i: (first[jobs[i].council_dir], jobs[i].service is not None, i))


def _stop_all(pool: list[_Worker], jobs: list[Job]) -> None:
    """Stop every worker at once (busy ones first get SIGTERM so they shut their kernel down) and remove the
    half-run notebooks of the jobs they were running."""
    for w in pool:
        if w.index is not None and w.process.is_alive():
            w.process.terminate()
    for w in pool:
        w.stop(now=True)
        if w.index is not None:
            jobs[w.index].clear()


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
