"""The batch on a real Dask cluster: a `dask scheduler` and two `dask worker` processes on free localhost ports.

Reports rendered through --scheduler must equal the local run's <stage>.json byte for byte; a worker killed
mid-batch costs nothing but time (its job runs again on the other worker); a job whose workers die twice is
reported failed with the reason, like a failed notebook, and the manifest stays valid JSON.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from systemic_lib import config
from systemic_lib.run import batch, certs, cluster

from conftest import free_port

pytestmark = pytest.mark.slow

STARTUP = 60  #: seconds for the scheduler and workers to come up
RUN = 600  #: seconds a whole test batch may take on a busy machine
STAGES = ["demand", "organisation_scan"]


class Cluster:
    """A scheduler and workers as subprocesses (no LocalCluster); ``kill(name)`` SIGKILLs one worker."""

    def __init__(self, tmp: Path, certs: Path | None = None):
        self.certs = certs
        self.address = f"{'tls' if certs else 'tcp'}://127.0.0.1:{free_port()}"
        self.tmp = tmp
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(config.PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
            "SYSTEMIC_ROOT": str(config.PROJECT_ROOT),
        }
        self.procs: dict[str, subprocess.Popen] = {}

    def tls(self, role: str) -> list[str]:
        if self.certs is None:
            return []
        ca, cert, key = certs.paths(self.certs, role)
        return ["--tls-ca-file", str(ca), "--tls-cert", str(cert), "--tls-key", str(key)]

    def start(self, workers: int) -> None:
        port = self.address.rsplit(":", 1)[1]
        protocol = self.address.split(":")[0]
        self._start(
            "scheduler",
            ["scheduler", "--host", "127.0.0.1", "--port", port, "--protocol", protocol, "--no-dashboard"]
            + self.tls("scheduler"),
        )
        for n in range(1, workers + 1):
            self._start(
                f"w{n}",
                [
                    "worker",
                    self.address,
                    "--host",
                    "127.0.0.1",
                    "--name",
                    f"w{n}",
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--local-directory",
                    str(self.tmp / f"w{n}"),
                    *self.tls("worker"),
                ],
            )
        self.wait_for_workers(workers)

    def _start(self, name: str, args: list[str]) -> None:
        log = open(self.tmp / f"{name}.log", "wb")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "dask", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def client(self):
        from distributed import Client

        security = certs.security(self.certs) if self.certs else None
        return Client(self.address, timeout=STARTUP, set_as_default=False, security=security)

    def wait_for_workers(self, n: int) -> None:
        deadline = time.monotonic() + STARTUP
        with self.client() as client:
            while len(client.nthreads()) < n:
                assert time.monotonic() < deadline, f"{n} workers did not start: {self.logs()}"
                time.sleep(0.5)

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(10)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in self.tmp.glob("*.log"))

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@pytest.fixture
def dask_cluster(tmp_path):
    """A fresh scheduler and two workers for each test, always stopped afterwards."""
    folder = tmp_path / "dask"
    folder.mkdir()
    c = Cluster(folder)
    try:
        c.start(workers=2)
        yield c
    finally:
        c.stop()


def _figures(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.json")) if p.name != "manifest.json"
    }


def _assert_every_job_accounted_for(out: Path, result) -> dict:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))  # valid JSON, whole
    assert len(manifest["jobs"]) == len(result.results)
    for entry in manifest["jobs"]:
        assert entry["status"] in ("ok", "failed"), entry
        if entry["status"] == "failed":
            assert entry["error"]["name"] and entry["error"]["message"], entry
    assert not list(out.rglob(".*.tmp")), "a half-written file was left behind"
    return manifest


def test_reports_through_the_scheduler_equal_the_local_run(dask_cluster, testshire, tmp_path):
    local = batch.run_batch([testshire], tmp_path / "local", jobs=2, stages=STAGES, progress=False)
    assert not local.failed, local.summary()

    remote = batch.run_batch(
        [testshire], tmp_path / "remote", stages=STAGES, progress=False, scheduler=dask_cluster.address
    )
    assert not remote.failed, remote.summary() + dask_cluster.logs()
    assert len(remote.ok) == len(local.ok) == 4

    local_figures, remote_figures = _figures(tmp_path / "local"), _figures(tmp_path / "remote")
    assert sorted(remote_figures) == [
        "testshire/council-tax/demand.json",
        "testshire/housing-repairs/demand.json",
        "testshire/organisation_scan.json",
        "testshire/waste/demand.json",
    ]
    assert remote_figures == local_figures
    for r in remote.ok:  # the manifest names this machine's folders, not the worker's temporary ones
        assert r.parameters["council_dir"] == str(testshire.resolve())
        assert (tmp_path / "remote" / r.report).read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    _assert_every_job_accounted_for(tmp_path / "remote", remote)
    assert (tmp_path / "remote" / "index.html").exists()


def test_dask_jobs_run_in_warm_kernels_forked_from_a_zygote_that_read_the_council(dask_cluster, tmp_path):
    """Each Dask worker forks its kernels from a zygote of its own (``cluster.SystemicWorker``) that read the job's
    council, through the worker's table cache, before forking: the same warm kernels as the local pool's."""
    from test_batch import make_council, notebooks_that_save

    notebooks = notebooks_that_save(
        tmp_path / "notebooks",
        "demand.ipynb",
        "'forked': os.getppid() != int(os.environ['JPY_PARENT_PID']), "
        "'preloaded': sorted(_c._read.council(Path(council_dir).resolve(), Path(cache_dir)).loaded()) "
        "if _c._read and _c._read.council(Path(council_dir).resolve(), Path(cache_dir)) else []",
        "import os\nfrom pathlib import Path\nfrom systemic_lib.data import council as _c",
    )
    make_council(tmp_path / "councils", "northshire", "Northshire")
    out = tmp_path / "reports"
    result = batch.run_batch(
        [tmp_path / "councils" / "northshire"],
        out,
        stages=["demand"],
        notebooks_dir=notebooks,
        progress=False,
        scheduler=dask_cluster.address,
        cache_dir=tmp_path / "cache",
    )
    assert len(result.ok) == 2, result.summary() + dask_cluster.logs()
    for service in ("housing-repairs", "council-tax"):
        figures = json.loads((out / "northshire" / service / "demand.json").read_text())
        assert figures["forked"] is True and figures["preloaded"] == ["demand"], figures


def test_a_worker_killed_mid_batch_costs_only_time(dask_cluster, council_factory, tmp_path):
    councils = [council_factory("testshire"), council_factory("otherton")]
    out = tmp_path / "reports"
    box = {}
    runner = threading.Thread(
        target=lambda: box.setdefault(
            "result", batch.run_batch(councils, out, stages=["demand"], progress=False, scheduler=dask_cluster.address)
        ),
        daemon=True,
    )
    runner.start()

    victim = _worker_running_a_job(dask_cluster)
    time.sleep(2)  # inside the notebook by now
    dask_cluster.kill(victim)
    runner.join(RUN)
    assert not runner.is_alive(), "the batch did not finish after a worker died"

    result = box["result"]
    assert len(result.results) == 6
    _assert_every_job_accounted_for(out, result)
    # the one worker left ran the dead worker's job again: nothing is lost
    assert len(result.ok) == 6, result.summary() + dask_cluster.logs()
    assert sorted(_figures(out)) == [
        f"{c}/{s}/demand.json" for c in ("otherton", "testshire") for s in ("council-tax", "housing-repairs", "waste")
    ]


def _worker_running_a_job(c: Cluster) -> str:
    """The name of a worker that is running one of the batch's jobs (waits for one to start)."""
    deadline = time.monotonic() + RUN
    with c.client() as client:
        while time.monotonic() < deadline:
            names = {addr: w["name"] for addr, w in client.scheduler_info(n_workers=-1)["workers"].items()}
            for addr, keys in client.processing().items():
                if any(str(k).startswith("systemic-job-") for k in keys):
                    return names[addr]
            time.sleep(0.2)
    raise AssertionError("no job started")


KILLER = """import os, signal
os.kill(int(os.environ["JPY_PARENT_PID"]), signal.SIGKILL)  # the Dask worker process that started this kernel
"""


def test_a_job_whose_workers_die_twice_is_reported_failed(dask_cluster, testshire, tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("council_dir = service = period_start = period_end = output_dir = None")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(KILLER)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, notebooks / "demand.ipynb")
    monkeypatch.setattr(cluster, "NO_WORKER_TIMEOUT", 5)

    out = tmp_path / "reports"
    result = batch.run_batch(
        [testshire],
        out,
        stages=["demand"],
        services=["housing-repairs"],
        progress=False,
        notebooks_dir=notebooks,
        scheduler=dask_cluster.address,
    )
    [failed] = result.results
    assert failed.status == "failed"
    assert failed.error.name == "WorkerLost"  # as a local job whose worker died twice (the one job loop)
    assert "stopped (Dask worker tcp://" in failed.error.message and "2 time(s)" in failed.error.message
    assert failed.attempts == 2
    _assert_every_job_accounted_for(out, result)
    assert not (out / "testshire" / "housing-repairs" / "demand.html").exists()
    assert result.exit_code == 1


def test_a_tls_cluster_renders_a_council_and_refuses_a_client_without_its_certificate(testshire, tmp_path):
    """``systemic certs`` makes the cluster's authority and certificates; a scheduler and two workers started with
    them (real processes, mutual TLS) render a council for a client that holds the client certificate, and refuse
    one that has none, or one from another authority."""
    from click.testing import CliRunner
    from distributed import Client

    keys = tmp_path / "certs"
    done = CliRunner().invoke(certs.certs_command, [str(keys), "--host", "127.0.0.1"])
    assert done.exit_code == 0, done.output
    assert (keys / "client-key.pem").stat().st_mode & 0o077 == 0 and (keys.stat().st_mode & 0o077) == 0
    again = CliRunner().invoke(certs.certs_command, [str(keys)])
    assert again.exit_code != 0 and "--force" in again.output  # an existing authority is not replaced by accident
    c = Cluster(tmp_path / "dask", certs=keys)
    (tmp_path / "dask").mkdir()
    try:
        c.start(workers=2)
        out = tmp_path / "reports"
        done = CliRunner().invoke(
            batch.report_command,
            [str(testshire), "--out", str(out), "--stage", "demand", "--service", "housing-repairs", "--no-progress"]
            + ["--scheduler", c.address, "--certs", str(keys)],
        )
        assert done.exit_code == 0, done.output + c.logs()
        assert json.loads((out / "testshire" / "housing-repairs" / "demand.json").read_text())["contacts"] > 0

        stranger = tmp_path / "stranger"
        certs.make(stranger)  # a certificate from another authority
        with pytest.raises(OSError, match="TLS certificate does not match"):
            Client(c.address, timeout=10, set_as_default=False, security=certs.security(stranger))
        _assert_refused_without_a_client_certificate(c.address, keys / "ca.pem")
        missing = CliRunner().invoke(
            batch.report_command, [str(testshire), "--scheduler", c.address, "--certs", str(tmp_path / "none")]
        )
        assert missing.exit_code != 0 and "systemic certs" in missing.output
    finally:
        c.stop()


def _assert_refused_without_a_client_certificate(address: str, ca: Path) -> None:
    """A TLS connection that trusts the scheduler but shows no certificate of its own: the scheduler ends it in the
    handshake, before a message can be sent."""
    import socket
    import ssl

    host, port = address.removeprefix("tls://").rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        pytest.raises((ssl.SSLError, ConnectionError)),
        context.wrap_socket(raw) as tls,
    ):
        tls.sendall(b"hello")
        if not tls.recv(1):  # TLS 1.3: the refusal arrives with the first read
            raise ConnectionError("closed by the scheduler")


def test_an_unreachable_scheduler_is_a_plain_error(testshire, tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 2)
    with pytest.raises(batch.SystemicError, match="could not reach the Dask scheduler"):
        batch.run_batch(
            [testshire], tmp_path / "out", stages=["demand"], progress=False, scheduler=f"tcp://127.0.0.1:{free_port()}"
        )


def test_council_archive_holds_the_files_and_names_their_contents(testshire, tmp_path):
    (testshire / ".hidden").write_text("not sent")
    data, digest = cluster.pack_folder(testshire)
    again, same = cluster.pack_folder(testshire)
    assert digest == same
    (testshire / "demand.csv").write_text((testshire / "demand.csv").read_text() + "\n")
    assert cluster.pack_folder(testshire)[1] != digest  # a changed file is a new copy on the workers

    councils = cluster.Councils(tmp_path / "councils")
    unpacked = councils.unpacked(digest, data, testshire.name)
    assert unpacked.name == "testshire"
    assert sorted(p.name for p in unpacked.iterdir()) == sorted(
        p.name for p in testshire.iterdir() if not p.name.startswith(".")
    )
    assert (unpacked / "council.yaml").read_bytes() == (testshire / "council.yaml").read_bytes()
    assert councils.unpacked(digest, data, testshire.name) == unpacked  # unpacked once per worker process


def test_a_council_a_worker_drops_takes_its_table_cache_entries_with_it(testshire, tmp_path, monkeypatch):
    """A worker keeps the last ``KEEP_COUNCILS`` councils it unpacked; the table cache entries read from one it drops
    go too (their folder is gone, so nothing could use them again), and the others stay."""
    from systemic_lib.data.council import load_council

    monkeypatch.setattr(cluster, "KEEP_COUNCILS", 1)
    store = tmp_path / "cache"
    councils = cluster.Councils(tmp_path / "councils", cache_dir=store)
    data, digest = cluster.pack_folder(testshire)
    first = councils.unpacked(digest, data, testshire.name)
    load_council(first, cache_dir=store).load("demand")
    assert len(list(store.iterdir())) == 1
    (testshire / "demand.csv").write_text((testshire / "demand.csv").read_text() + "\n")
    data, digest = cluster.pack_folder(testshire)
    second = councils.unpacked(digest, data, testshire.name)  # drops the first council
    load_council(second, cache_dir=store).load("demand")
    (entry,) = store.iterdir()
    assert not first.exists() and second.exists()
    assert json.loads((entry / "meta.json").read_text())["council"] == str(second.resolve())


def test_scheduler_option_and_environment_variable(monkeypatch, tmp_path):
    from click.testing import CliRunner

    seen = {}

    def fake_run_batch(*args, **kwargs):
        seen.update(kwargs)
        raise batch.SystemicError("stop here")

    monkeypatch.setattr(batch, "run_batch", fake_run_batch)
    runs = [
        CliRunner().invoke(batch.report_command, [str(tmp_path), "--scheduler", "tcp://h:1"]),
        dict(seen),
        CliRunner().invoke(batch.report_command, [str(tmp_path)], env={cluster.ENV_VAR: "tcp://h:2"}),
        dict(seen),
        CliRunner().invoke(batch.report_command, [str(tmp_path)], env={cluster.ENV_VAR: None}),
        dict(seen),
    ]
    assert [r["scheduler"] for r in runs[1::2]] == ["tcp://h:1", "tcp://h:2", None]
    assert all(r.exit_code == 1 and "stop here" in r.output for r in runs[::2])  # the fake's error, said plainly
