"""One batch job in a worker: run a notebook with papermill, render it with nbconvert, and say what happened.

A ``Runner`` runs the jobs of one worker process (a local pool worker, or a Dask worker) one at a time:
``runner.run(job) -> JobResult`` never raises for the notebook's faults. With warm kernels each notebook's kernel is
forked from a kernel zygote (``kernels.py``): the machine's (``shared``, the local pool's) or the runner's own; and
the next notebook's kernel is started while one runs (``kernels.Ahead``). ``lost_result`` is the result of a job
whose worker died under it, as every engine reports it (``engine.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from systemic_lib import config
from systemic_lib.data.files import atomic_write_text
from systemic_lib.run import kernels
from systemic_lib.run.html import render_html
from systemic_lib.run.jobs import Job, JobError, JobResult
from systemic_lib.site.manifest import storage_error

START_TIMEOUT = 60  #: seconds a kernel may take to start


def kernel_env() -> dict[str, str]:
    """A report kernel's environment: this process's, in batch mode (``report.interactive()`` is False), with
    systemic_lib importable. Everything about the job reaches the notebook as a parameter."""
    env = dict(os.environ)
    return {**env, "SYSTEMIC_BATCH": "1", "PYTHONPATH": config.importable(env.get("PYTHONPATH"))}


class Runner:
    """Runs one job at a time in this process. ``warm``: fork each kernel from a zygote with the libraries
    imported (and the job's council read): ``shared`` (``Zygote.address``, the machine's) while it lives, else one
    of the runner's own, started on first use; ``ahead``: start the next notebook's kernel while this one runs.
    ``close()`` when the worker stops."""

    def __init__(self, *, warm: bool = False, ahead: bool = False, shared: tuple[str, int] | None = None):
        self.warm, self.ahead_on, self.shared = warm, ahead, shared
        self._zygote: kernels.Zygote | None = None
        self._ahead: kernels.Ahead | None = None

    def zygote(self) -> kernels.Zygote | None:
        """The zygote this runner forks kernels from, started (or attached to) now if need be (None when warm
        kernels are off or unavailable)."""
        if not self.warm or not kernels.available():
            return None
        if self._zygote is None and self.shared is not None:
            self._zygote = kernels.Zygote.attach(self.shared)
        if self._zygote is None or not self._zygote.alive():
            self.close()
            self._zygote = kernels.Zygote().start()  # the shared one is gone (or there is none): its own
        return self._zygote

    def _ahead_for(self, zygote: kernels.Zygote | None) -> kernels.Ahead | None:
        if not self.ahead_on or zygote is None or _loop_running():
            return None
        if self._ahead is None or self._ahead.zygote is not zygote:
            if self._ahead is not None:
                self._ahead.close()
            self._ahead = kernels.Ahead(zygote)
        return self._ahead

    def close(self) -> None:
        """Shut the kernels started ahead down and stop the runner's own zygote (never a shared one)."""
        if self._ahead is not None:
            if not _loop_running():
                self._ahead.close()
            self._ahead = None
        if self._zygote is not None:
            self._zygote.stop()
            self._zygote = None

    def run(self, job: Job) -> JobResult:
        """Execute one notebook with papermill and render it with nbconvert; never raises for the notebook's faults.

        A full disk or a folder it may not write is named as such in the result's error (not blamed on the notebook
        or the worker); stray ``.tmp`` files of this report's killed saves are removed first.
        """
        logging.getLogger("papermill").setLevel(logging.ERROR)
        logging.getLogger("traitlets").setLevel(logging.ERROR)
        began = time.perf_counter()
        started_at = time.time()
        try:
            Path(job.output_dir).mkdir(parents=True, exist_ok=True)
            sweep_stray_tmp(job)
            job.marker.unlink(missing_ok=True)  # from a killed attempt
        except OSError as exc:
            return JobResult.of(job, _storage(exc), seconds=_since(began))
        nb, error, attempts = self._execute(job)
        if error is None:
            error = _write_html(nb, job, started_at)
        result = JobResult.of(job, error, attempts=attempts)
        try:
            if error is None:
                job.clear()
                job.path(".ipynb").unlink(missing_ok=True)  # a failure of this same report in an earlier run
                result.report = job.relative(job.path(".html"))
            else:
                keep_executed(job, result)
        except OSError as exc:
            result.status, result.error = "failed", _storage(exc)
        result.seconds = _since(began)
        return result

    def _execute(self, job: Job):
        """papermill in-process, retried once if the kernel fails to start: (notebook, error or None, attempts).

        With warm kernels the first attempt's kernel is forked from the zygote (started ahead when it can be); a
        retry starts a cold one.

        The kernel's own stdout/stderr (start-up chatter, not cell output) goes to a temporary log instead of the
        terminal, so that the progress bar stays readable; its tail is added to a kernel start error.
        """
        import papermill as pm

        attempts = 0
        cwd = str(Path(job.notebook).parent)
        env = kernel_env()
        key = _ahead_key(job)
        with _kernel_output_captured() as kernel_log:
            while True:
                attempts += 1
                zygote = self.zygote() if attempts == 1 else None
                manager = kernels.kernel_manager_class(zygote, env, job.council_dir, job.cache_dir)
                ahead = self._ahead_for(zygote)
                km = ahead.take(key) if ahead else None
                if ahead:  # the next job's kernel (most likely the same council's) starts while this one runs
                    ahead.start(key, manager, job.kernel_name, cwd)
                kernel = {"km": km} if km is not None else {"kernel_manager_class": manager}
                try:
                    nb = pm.execute_notebook(
                        job.notebook,
                        str(job.running),
                        parameters=job.notebook_parameters,
                        kernel_name=job.kernel_name,
                        progress_bar=False,
                        log_output=False,
                        start_timeout=START_TIMEOUT,
                        execution_timeout=job.cell_timeout,
                        cwd=cwd,
                        request_save_on_cell_execute=False,
                        on_cell_start=_cell_marker(job.running),
                        **kernel,
                    )
                    return nb, None, attempts
                except Exception as exc:
                    if attempts == 1 and is_kernel_start_error(exc, job.running):
                        continue
                    error = _error_of(exc, job)
                    if is_kernel_start_error(exc, job.running):
                        tail = kernel_log().strip().splitlines()[-5:]
                        if tail:
                            error.message += " | kernel output: " + " / ".join(tail)
                    return None, error, attempts
                finally:
                    if ahead is not None and km is not None:
                        ahead.done_with(km)


def _since(began: float) -> float:
    return round(time.perf_counter() - began, 2)


def _storage(exc: OSError) -> JobError:
    """A full disk or a folder that may not be written, named as such; else the write that failed."""
    found = storage_error(exc)
    return JobError.of(found) if found else JobError.raised(exc, f"writing the report failed: {exc}")


def _write_html(nb, job: Job, started_at: float) -> JobError | None:
    """Render the executed notebook into ``<stage>.html`` (atomically); the error, if that failed."""
    try:
        html = render_html(nb, job, _fresh_json(job.path(".json"), started_at))
    except Exception as exc:
        return JobError.raised(exc, f"rendering the HTML failed: {exc}")
    try:
        atomic_write_text(job.path(".html"), html)
    except OSError as exc:
        return _storage(exc)
    return None


def sweep_stray_tmp(job: Job) -> None:
    """Remove this report's ``.tmp`` files left by a save that was killed (only its own: other stages of the same
    service write into the same folder at the same time)."""
    for suffix in (".html", ".json"):
        for stray in Path(job.output_dir).glob(f".{job.stage}{suffix}.*.tmp"):
            stray.unlink(missing_ok=True)


def keep_executed(job: Job, result: JobResult) -> None:
    """Keep a failed job's executed notebook as ``<stage>.ipynb`` to debug (never a ``.running`` file); a notebook
    cut short by a full disk or a killed worker, which cannot be read, is removed instead and the error says so."""
    import nbformat

    running = job.running
    job.marker.unlink(missing_ok=True)
    if not running.exists():
        return
    try:
        nbformat.read(running, as_version=4)
    except Exception:
        running.unlink(missing_ok=True)
        if result.error is not None:
            result.error.message += " (the executed notebook was cut short and is not kept)"
        return
    os.replace(running, job.path(".ipynb"))
    result.notebook = job.relative(job.path(".ipynb"))


def lost_result(job: Job, losses: int, how: str = "") -> JobResult:
    """The failed result of a job whose worker died under it every time it was tried (``how``: e.g. "killed by
    SIGKILL"); names the cell it was running, and keeps what it had executed."""
    how = f" ({how})" if how else ""
    error = JobError(
        "WorkerLost",
        f"the worker process running this report stopped{how}, {losses} time(s); the notebook did "
        "not raise an error. A report killed like this usually needed more memory than was free: "
        "run it alone (-j 1) or on a machine with more memory.",
    )
    _name_running_cell(error, job)
    result = JobResult.of(job, error, attempts=losses)
    try:
        keep_executed(job, result)
    except OSError:
        pass
    return result


def _name_running_cell(error: JobError, job: Job) -> None:
    found = _running_cell(job.running)
    if found:
        index, cell = found
        error.at_cell(_source_cell_number(job, index), cell.get("execution_count"), _first_line(cell.get("source", "")))


def _loop_running() -> bool:
    """An event loop already runs in this thread (an embedding application): papermill then runs each notebook on
    a loop of its own, where a kernel started ahead on this thread's loop would never be seen to."""
    return asyncio._get_running_loop() is not None


def _ahead_key(job: Job) -> tuple:
    """What a kernel started ahead must share with the job it is handed to: the council its zygote read before
    forking it, the table cache and the kernel (the output folder is a parameter papermill injects)."""
    return job.council_dir, job.cache_dir, job.kernel_name


@contextlib.contextmanager
def _kernel_output_captured():
    """Point this process's fds 1 and 2 (inherited by the kernel it starts) at a temporary file, then back.

    Yields a function returning what was written so far.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as log:
        saved = [os.dup(1), os.dup(2)]
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)

        def read() -> str:
            log.flush()
            log.seek(0)
            return log.read().decode("utf-8", "replace")[-4000:]

        try:
            yield read
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def is_kernel_start_error(exc: BaseException, running: Path | None = None) -> bool:
    """True for a kernel that died or hung while starting (worth one retry); False for errors in cells."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillException

    if isinstance(exc, (PapermillException, CellTimeoutError)):
        return False
    text = str(exc).lower()
    if "kernel died before replying" in text or "kernel didn't respond" in text:
        return True
    if isinstance(exc, (TimeoutError, RuntimeError, DeadKernelError)) or type(exc).__module__.startswith("zmq"):
        return running is None or _running_cell(running) is None
    return False


def _cell_marker(running: Path):
    """An nbclient hook that names the cell about to run in a small file: papermill then need not save the whole
    notebook around every cell (a third of a report's cost), and a dead kernel or worker still names its cell."""
    marker = running.with_suffix(".json")

    def on_cell_start(cell, cell_index, **_):
        marker.write_text(
            json.dumps({"index": cell_index, "source": (cell.get("source") or "")[:2000]}), encoding="utf-8"
        )

    return on_cell_start


def _running_cell(path: Path):
    """(index, cell) of the cell that was running, from the job's marker or a notebook papermill saved as it ran;
    None if no cell started."""
    import nbformat

    try:
        found = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        return int(found["index"]), {"source": found.get("source", ""), "execution_count": None}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:
        return None
    for index, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("papermill", {}).get("status") == "running":
            return index, cell
    return None


def _source_cell_number(job: Job, executed_index: int) -> int:
    """1-based number, in the notebook as written, of a cell papermill reports by its executed index.

    papermill inserts an ``injected-parameters`` cell after the ``parameters`` cell (or first, without one).
    """
    import nbformat

    try:
        cells = nbformat.read(job.notebook, as_version=4).cells
        tagged = [i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
        injected_at = tagged[0] + 1 if tagged else 0
    except Exception:
        injected_at = 0
    return executed_index + (0 if executed_index < injected_at else -1) + 1


def _first_line(source: str) -> str:
    for line in (source or "").splitlines():
        if line.strip():
            return line.strip()[:120]
    return ""


def _error_of(exc: BaseException, job: Job) -> JobError:
    """The manifest's error entry: error name and message, and for a cell the cell number and its first line."""
    from papermill.exceptions import PapermillExecutionError, strip_color

    if isinstance(exc, PapermillExecutionError):
        error = JobError(exc.ename, strip_color(str(exc.evalue)).strip()[:2000])
        error.at_cell(_source_cell_number(job, exc.cell_index), exc.exec_count, _first_line(exc.source))
        return error
    found = storage_error(exc)
    error = JobError.of(found) if found else JobError.raised(exc, strip_color(str(exc)).strip()[:2000] or repr(exc))
    if is_kernel_start_error(exc, job.running):
        error.message = f"the kernel '{job.kernel_name}' did not start (tried twice): {error.message}"
    _name_running_cell(error, job)
    return error


def _fresh_json(path: Path, since: float) -> dict | None:
    """The <stage>.json the notebook wrote in this run (an older one is ignored), or None."""
    try:
        if path.stat().st_mtime >= since - 1:
            return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    return None
