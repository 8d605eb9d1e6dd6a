"""The one job loop of the batch, and what an engine is.

An ``Engine`` runs jobs somewhere: ``pool.LocalEngine`` on this machine's worker processes, ``cluster.DaskEngine``
on a Dask cluster's workers. ``run_jobs(engine, jobs)`` is the same for both: it hands jobs out council by council
(``run_order``) as the engine has room, shows progress (done, failed, running, ETA), retries a job whose worker died
under it once (``jobs.retry_lost``) and fails it with the reason after that (``worker.lost_result``), calls
``on_result`` as each job ends (the batch writes the manifest there) and returns the results in job order. Ctrl-C
stops the engine and raises ``Interrupted`` holding every result that finished.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from systemic_lib.run.jobs import Job, JobError, JobResult, retry_lost
from systemic_lib.run.worker import lost_result

POLL = 0.5  #: seconds between progress updates


@dataclass
class Finished:
    """Job ``index`` ended with ``result`` (worked or failed)."""

    index: int
    result: JobResult


@dataclass
class Lost:
    """The worker running job ``index`` died under it (``how``: e.g. "killed by SIGKILL")."""

    index: int
    how: str


Outcome = Finished | Lost


class Engine(Protocol):
    """Where jobs run. ``start(jobs, first)`` before the first job (``first``: the job that will be handed out
    first); ``room()``: how many more jobs it can start now; ``give(index, job)`` starts one; ``wait(timeout)``:
    the jobs that ended within ``timeout`` seconds; ``stalled()``: why no job can run any more (the jobs left
    fail with it), or None; ``status()``: a few words for the progress bar; ``stop(jobs)``: stop every worker
    and remove the half-run notebooks of the jobs they were running."""

    label: str

    def start(self, jobs: list[Job], first: int) -> None: ...

    def room(self) -> int: ...

    def give(self, index: int, job: Job) -> None: ...

    def running(self) -> list[int]: ...

    def wait(self, timeout: float) -> list[Outcome]: ...

    def stalled(self) -> JobError | None: ...

    def status(self) -> str: ...

    def stop(self, jobs: list[Job]) -> None: ...


class Interrupted(Exception):
    """The run was stopped (Ctrl-C): ``results`` are the jobs that finished, in job order."""

    def __init__(self, results: list[JobResult]):
        super().__init__(f"interrupted after {len(results)} reports")
        self.results = results


def run_order(jobs: list[Job]) -> list[int]:
    """The order jobs are handed out (results still come back in job order): council by council, so that the kernel
    zygote keeps the council's tables read (``preload.py``), and in each council the council-wide report (the
    organisation scan, the longest) first, so that it runs while the other workers take the services, not alone at
    the end."""
    first: dict[str, int] = {}
    for i, job in enumerate(jobs):
        first.setdefault(job.council_dir, i)
    return sorted(range(len(jobs)), key=lambda i: (first[jobs[i].council_dir], jobs[i].service is not None, i))


class _Progress:
    """The run's progress bar and its tally of failures."""

    def __init__(self, total: int, label: str, show: bool):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=label, unit="report", disable=not show, file=sys.stderr, dynamic_ncols=True)
        self.failures = 0

    def done(self, result: JobResult) -> None:
        if result.status != "ok":
            self.failures += 1
            lines = result.error.describe()[:2] if result.error else []
            self.bar.write(f"failed: {result.label}: " + " | ".join(lines))
        self.bar.update(1)

    def status(self, running: int, more: str) -> None:
        self.bar.set_postfix_str(" ".join(filter(None, [f"failed={self.failures} running={running}", more])))


def run_jobs(
    engine: Engine,
    jobs: list[Job],
    *,
    progress: bool = True,
    on_result: Callable[[JobResult], None] | None = None,
) -> list[JobResult]:
    """Run every job on ``engine``; results in job order. Ctrl-C raises ``Interrupted``."""
    if not jobs:
        return []
    todo = deque(run_order(jobs))
    results: dict[int, JobResult] = {}
    losses: dict[int, int] = {}
    bar = _Progress(len(jobs), engine.label, progress)
    stopping: list[bool] = []
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, lambda *_: stopping.append(True))

    def record(i: int, result: JobResult) -> None:
        results[i] = result
        bar.done(result)
        if on_result is not None:
            on_result(result)

    try:
        engine.start(jobs, todo[0])
        while (todo or engine.running()) and not stopping:
            while todo and engine.room() > 0:
                i = todo.popleft()
                engine.give(i, jobs[i])
            for outcome in engine.wait(POLL):
                i = outcome.index
                if isinstance(outcome, Finished):
                    outcome.result.attempts += losses.get(i, 0)
                    record(i, outcome.result)
                    continue
                losses[i] = losses.get(i, 0) + 1
                if retry_lost(losses[i]):
                    bar.bar.write(f"retrying: {jobs[i].label}: the worker running it stopped ({outcome.how})")
                    todo.appendleft(i)
                else:
                    record(i, lost_result(jobs[i], losses[i], outcome.how))
            stalled = engine.stalled()
            if stalled is not None:  # nothing can run: the jobs left fail with the reason
                for i in [*engine.running(), *todo]:
                    record(i, JobResult.of(jobs[i], JobError(stalled.name, stalled.message), attempts=losses.get(i, 0)))
                todo.clear()
                break
            bar.status(len(engine.running()), engine.status())
    finally:
        engine.stop(jobs)
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        bar.bar.close()
    done = [results[i] for i in range(len(jobs)) if i in results]
    if stopping:
        raise Interrupted(done)
    return done
