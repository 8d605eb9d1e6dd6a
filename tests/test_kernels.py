"""Warm kernels: the zygote reads a job's council once before forking its kernel, and the kernel starts with it."""

import json

import pytest
from test_batch import make_council, notebooks_that_save

from systemic_lib.data.preload import Preloaded
from systemic_lib.run import batch, kernels, pool


def test_the_zygote_preloads_the_council_a_kernel_is_asked_for(tmp_path):
    held = Preloaded()
    folder = make_council(tmp_path, "northshire", "Northshire")
    kernels._preload(held, {"argv": []})  # no council named: nothing read
    assert held.folders() == []
    kernels._preload(held, {"council": str(folder), "cache_dir": str(tmp_path / "cache")})
    council = held.council(folder.resolve(), tmp_path / "cache")  # read with the job's table cache
    assert council is not None and "demand" in council.loaded()
    assert held.council(folder.resolve(), None) is None
    kernels._preload(held, {"council": str(tmp_path / "missing")})  # never fails the kernel
    assert len(held.folders()) == 1


@pytest.mark.slow
def test_warm_kernels_start_with_the_council_read_and_cold_ones_do_not(tmp_path):
    notebooks = notebooks_that_save(
        tmp_path / "notebooks",
        "organisation_scan.ipynb",
        "'preloaded': sorted(_c._read.council(Path(council_dir).resolve(), Path(cache_dir)).loaded()) "
        "if _c._read else []",
        "from pathlib import Path\nfrom systemic_lib.data import council as _c",
    )
    make_council(tmp_path / "councils", "northshire", "Northshire")
    for warm in (True, False):
        out = tmp_path / f"out-{warm}"
        jobs, _, _ = batch.plan(
            [tmp_path / "councils"],
            out,
            stages=["organisation_scan"],
            notebooks_dir=notebooks,
            kernel=batch.kernel_name(),
            cache_dir=tmp_path / "cache",
        )
        (result,) = pool.execute(jobs, 1, progress=False, warm_kernels=warm)
        assert result.status == "ok", result.error
        figures = json.loads((out / "northshire" / "organisation_scan.json").read_text())
        assert figures["preloaded"] == (["demand"] if warm else []) and figures["services"] == 2


@pytest.mark.slow
def test_the_next_kernel_is_started_while_a_notebook_runs_and_each_notebook_still_has_its_own(tmp_path, monkeypatch):
    """A worker starts the next job's kernel ahead (``kernels.Ahead``): the next job of the same council takes it,
    a job of another council starts its own; every notebook runs in a fresh kernel that saw nothing of the one
    before, and no kernel is left running when the worker stops."""
    import os

    from systemic_lib.run import worker

    notebooks = notebooks_that_save(
        tmp_path / "notebooks",
        "demand.ipynb",
        "'pid': _pid, 'seen': _seen",
        "import os\n_pid, _seen = os.getpid(), globals().get('_mark')\n_mark = 1",
    )
    make_council(tmp_path / "councils", "northshire", "Northshire")
    make_council(tmp_path / "councils", "eastbrook", "Eastbrook")
    jobs, _, _ = batch.plan(
        [tmp_path / "councils" / "northshire", tmp_path / "councils" / "eastbrook"],
        tmp_path / "out",
        stages=["demand"],
        notebooks_dir=notebooks,
        kernel=batch.kernel_name(),
        cache_dir=tmp_path / "cache",
    )
    assert [(j.council, j.service) for j in jobs] == [
        ("northshire", "housing-repairs"),
        ("northshire", "council-tax"),
        ("eastbrook", "housing-repairs"),
        ("eastbrook", "council-tax"),
    ]
    taken = []
    take = kernels.Ahead.take
    monkeypatch.setattr(kernels.Ahead, "take", lambda self, key: taken.append(take(self, key)) or taken[-1])
    runner = worker.Runner(warm=True, ahead=True)
    results = _in_a_thread(runner, lambda: [runner.run(job) for job in jobs])  # its own thread: no loop runs there
    assert [r.status for r in results] == ["ok"] * 4, [r.error for r in results]
    assert [km is not None for km in taken] == [False, True, False, True]  # none yet; ahead; other council; ahead
    saved = [json.loads(job.path(".json").read_text()) for job in jobs]
    assert [s["seen"] for s in saved] == [None] * 4
    pids = [s["pid"] for s in saved]
    assert len(set(pids)) == 4
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.slow
def test_the_workers_of_a_machine_share_one_zygote(tmp_path):
    """The pool starts one zygote for its workers: every kernel, whichever worker ran it, is forked from it (the
    libraries imported, and each council read, once per machine); it is gone when the run ends."""
    import os

    notebooks = notebooks_that_save(tmp_path / "notebooks", "demand.ipynb", "'zygote': os.getppid()", "import os")
    make_council(tmp_path / "councils", "northshire", "Northshire")
    make_council(tmp_path / "councils", "eastbrook", "Eastbrook")
    jobs, _, _ = batch.plan(
        [tmp_path / "councils"],
        tmp_path / "out",
        stages=["demand"],
        notebooks_dir=notebooks,
        kernel=batch.kernel_name(),
        cache_dir=tmp_path / "cache",
    )
    results = pool.execute(jobs, 2, progress=False, warm_kernels=True)
    assert [r.status for r in results] == ["ok"] * 4, [r.error for r in results]
    (zygote,) = {json.loads(job.path(".json").read_text())["zygote"] for job in jobs}
    assert zygote != os.getpid()
    with pytest.raises(ProcessLookupError):
        os.kill(zygote, 0)


@pytest.mark.slow
def test_a_worker_whose_shared_zygote_is_gone_starts_its_own(tmp_path, monkeypatch):
    import subprocess
    import sys

    from systemic_lib.run import worker

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    make_council(tmp_path / "councils", "northshire", "Northshire")
    notebooks = notebooks_that_save(tmp_path / "notebooks", "demand.ipynb", "'zygote': os.getppid()", "import os")
    (job, _), _, _ = batch.plan(
        [tmp_path / "councils"],
        tmp_path / "out",
        stages=["demand"],
        notebooks_dir=notebooks,
        kernel=batch.kernel_name(),
        cache_dir=tmp_path / "cache",
    )
    runner = worker.Runner(warm=True, shared=(str(tmp_path / "gone.sock"), gone.pid))
    result, own = _in_a_thread(runner, lambda: (runner.run(job), runner.zygote().process.pid))
    assert result.status == "ok", result.error
    assert json.loads(job.path(".json").read_text())["zygote"] == own


def test_a_zygote_reads_a_council_when_asked_before_any_kernel(tmp_path):
    """``Zygote.preload``: the zygote reads the first council while the workers start (the pool asks it before
    handing out any job), and forks no kernel for it."""
    import psutil

    folder = make_council(tmp_path, "northshire", "Northshire")
    other = make_council(tmp_path, "eastbrook", "Eastbrook")
    zygote = kernels.Zygote().start()
    try:
        assert zygote.preload(str(folder), None, wait=True) == [str(folder.resolve())]
        assert zygote.preload(str(other), None, wait=True) == [
            str(folder.resolve()),
            str(other.resolve()),
        ]
        assert psutil.Process(zygote.process.pid).children() == []
    finally:
        zygote.stop()
    assert zygote.preload(str(folder), None, wait=True) is None  # gone: nothing to ask


def _in_a_thread(runner, work):
    """``work()`` on a thread of its own, then ``runner`` closed there: as in a pool worker, no event loop is
    running in that thread (another test in this process may have left one running in the main thread)."""
    from concurrent.futures import ThreadPoolExecutor

    def run():
        try:
            return work()
        finally:
            runner.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()
