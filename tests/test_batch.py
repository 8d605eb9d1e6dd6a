"""The batch: jobs planned from valid councils, notebooks run and rendered, failures reported, nothing lost.

Fast tests exercise planning, cleaning and the manifest; tests marked slow execute the fixture notebooks in
tests/fixtures/notebooks (demand writes demand.json, flow raises on purpose, organisation_scan is council-wide).
"""

import json
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from systemic_lib import config
from systemic_lib.errors import SystemicError, UnknownServiceError
from systemic_lib.run import batch, html, pool, worker
from systemic_lib.run.batch import plan, report_command
from systemic_lib.run.html import clean_for_report
from systemic_lib.run.jobs import Job, JobError, JobResult
from systemic_lib.site.manifest import write_manifest

FIXTURE_NOTEBOOKS = Path(__file__).parent / "fixtures" / "notebooks"


def run_job(job: Job) -> JobResult:
    """One job run as a worker runs it (cold kernels)."""
    runner = worker.Runner()
    try:
        return runner.run(job)
    finally:
        runner.close()


def notebooks_that_save(folder: Path, notebook: str, figure: str, before: str = "") -> Path:
    """A copy of the fixture notebooks in ``folder`` whose ``notebook`` also saves ``figure`` ("'key': expression",
    run in the kernel after ``before``) in its JSON: how a test asks a kernel what it saw."""
    import shutil

    import nbformat

    shutil.copytree(FIXTURE_NOTEBOOKS, folder)
    nb = nbformat.read(folder / notebook, as_version=4)
    nb.cells[-1].source = nb.cells[-1].source.replace("stage.save({", f"{before}\nstage.save({{{figure}, ")
    nbformat.write(nb, folder / notebook)
    return folder


DEMAND = textwrap.dedent("""\
    contact_id,service,received_at,channel,verbatim,demand_type,classification,failure_type,what_matters,one_stop
    C1,housing-repairs,2024-03-04 09:15,phone,When will my repair be done?,when will it be done,failure,progress chasing,knowing when,no
    C2,housing-repairs,2024-03-05 10:00,email,Boiler broken,fix my boiler,value,,warm home,yes
    C3,housing-repairs,2024-03-06 11:00,phone,Still not fixed,not fixed,failure,not done,,no
    C4,council-tax,2024-03-07 12:00,web,How much do I owe?,how much,value,,,yes
""")


def make_council(root: Path, slug: str, name: str, services=("housing-repairs", "council-tax"), demand=DEMAND):
    """A tiny valid council: council.yaml and four contacts."""
    folder = root / slug
    folder.mkdir(parents=True)
    lines = [f"name: {json.dumps(name)}", "services:"]
    for sid in services:
        lines += [f"  - id: {sid}", f"    name: {sid.replace('-', ' ').capitalize()}", "    purpose: Help me"]
    (folder / "council.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "demand.csv").write_text(demand, encoding="utf-8")
    return folder


def make_bad_council(root: Path, slug="badshire"):
    folder = make_council(root, slug, "Badshire", services=("waste",), demand="")
    (folder / "demand.csv").write_text(
        "contact_id,service,received_at,channel\nC1,waste,not a date,phone\n", encoding="utf-8"
    )
    return folder


# ------------------------------------------------------------------------------------------------ planning


def test_plan_skips_invalid_council_and_missing_notebooks(tmp_path):
    make_council(tmp_path / "councils", "northshire", "Northshire")
    make_bad_council(tmp_path / "councils")
    jobs, skipped, messages = plan([tmp_path / "councils"], tmp_path / "reports", notebooks_dir=FIXTURE_NOTEBOOKS)
    assert sorted((j.service or "", j.stage) for j in jobs) == [
        ("", "organisation_scan"),
        ("council-tax", "demand"),
        ("council-tax", "flow"),
        ("housing-repairs", "demand"),
        ("housing-repairs", "flow"),
    ]
    job = next(j for j in jobs if j.stage == "demand" and j.service == "council-tax")
    assert job.parameters == {
        "council_dir": str((tmp_path / "councils" / "northshire").resolve()),
        "service": "council-tax",
        "period_start": None,
        "period_end": None,
        "output_dir": str((tmp_path / "reports" / "northshire" / "council-tax").resolve()),
    }
    scan = next(j for j in jobs if j.stage == "organisation_scan")
    assert scan.parameters["service"] is None and scan.output_dir.endswith("reports/northshire")
    bad = [s for s in skipped if s.council == "badshire"]
    assert len(bad) == 1 and bad[0].error.name == "InvalidCouncil"
    assert "demand.csv, row 2, column 'received_at'" in bad[0].error.problems[0]
    missing = [s for s in skipped if s.error.name == "MissingNotebook"]
    assert sorted(s.stage for s in missing) == ["experiment", "experiment", "measure", "measure"]
    assert any("measure.ipynb does not exist" in m for m in messages)
    assert any("badshire: skipped" in m and "systemic validate" in m for m in messages)


def test_plan_filters_by_stage_and_service(tmp_path):
    make_council(tmp_path, "northshire", "Northshire")
    make_council(
        tmp_path,
        "eastvale",
        "Eastvale",
        services=("waste",),
        demand="contact_id,service,received_at,channel\nC1,waste,2024-01-01 10:00,phone\n",
    )
    jobs, skipped, messages = plan(
        [tmp_path / "northshire", tmp_path / "eastvale"],
        tmp_path / "out",
        stages=["demand"],
        services=["council-tax"],
        notebooks_dir=FIXTURE_NOTEBOOKS,
        period_start="2024-01-01",
    )
    assert [(j.council, j.service, j.stage) for j in jobs] == [("northshire", "council-tax", "demand")]
    assert jobs[0].parameters["period_start"] == "2024-01-01"
    assert any("eastvale" in m and "no service 'council-tax'" in m and "waste" in m for m in messages)
    assert skipped == []


def test_unknown_service_everywhere_is_a_clear_error(tmp_path):
    make_council(tmp_path, "northshire", "Northshire")
    with pytest.raises(
        UnknownServiceError, match="no council in this batch has service 'housing-repair'.*council-tax, housing-repairs"
    ):
        plan([tmp_path / "northshire"], tmp_path / "out", services=["housing-repair"], notebooks_dir=FIXTURE_NOTEBOOKS)
    with pytest.raises(SystemicError, match="unknown stage demnd"):
        plan([tmp_path / "northshire"], tmp_path / "out", stages=["demnd"], notebooks_dir=FIXTURE_NOTEBOOKS)


def test_missing_folder_and_folder_of_councils(tmp_path):
    make_council(tmp_path / "all", "a", "A", services=("waste",), demand="")
    make_council(tmp_path / "all", "b", "B", services=("waste",), demand="")
    assert [p.name for p in batch.council_folders([tmp_path / "all"])] == ["a", "b"]
    jobs, skipped, _ = plan([tmp_path / "nowhere"], tmp_path / "out", notebooks_dir=FIXTURE_NOTEBOOKS)
    assert jobs == [] and skipped[0].status == "skipped" and "no such council folder" in skipped[0].error.problems[0]


def test_default_councils_come_from_config(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "COUNCILS_DIR", tmp_path / "missing")
    with pytest.raises(SystemicError, match="make sample"):
        batch.council_folders(None)
    make_council(tmp_path / "councils", "northshire", "Northshire")
    monkeypatch.setattr(config, "COUNCILS_DIR", tmp_path / "councils")
    assert [p.name for p in batch.council_folders(None)] == ["northshire"]


def test_bad_period_option_names_the_format(tmp_path):
    result = CliRunner().invoke(report_command, [str(tmp_path), "--period-start", "31/01/2024"])
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


def test_kernel_falls_back_to_python3_with_a_warning(capsys):
    assert batch.kernel_name("no-such-kernel-xyz") == "python3"
    assert "kernel 'no-such-kernel-xyz' is not installed" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------- cleaning, errors


def test_clean_for_report_keeps_only_what_renders():
    nb = new_notebook(
        cells=[
            new_markdown_cell("What the stage is for"),
            new_code_cell(
                "x",
                outputs=[
                    new_output("stream", name="stderr", text="UserWarning: noise"),
                    new_output("stream", name="stdout", text="kept line"),
                    new_output(
                        "display_data",
                        data={
                            "application/vnd.jupyter.widget-view+json": {"model_id": "1"},
                            "text/plain": "IntSlider()",
                        },
                    ),
                    new_output(
                        "execute_result", data={"text/plain": "<Axes: title={'center': 'x'}>"}, execution_count=1
                    ),
                    new_output(
                        "execute_result", data={"text/plain": "PosixPath('/tmp/x/demand.json')"}, execution_count=1
                    ),
                    new_output("display_data", data={"text/html": "<p class='headline'>41%</p>", "text/plain": "h"}),
                ],
            ),
            new_code_cell("y = 1", outputs=[]),
        ]
    )
    nb.metadata["widgets"] = {"state": {}}
    clean = clean_for_report(nb)
    assert "widgets" not in clean.metadata and "widgets" in nb.metadata  # the original is untouched
    assert len(clean.cells) == 2  # the silent code cell is gone
    outs = clean.cells[1].outputs
    assert [o.output_type for o in outs] == ["stream", "display_data"]
    assert outs[0].text == "kept line" and "headline" in outs[1].data["text/html"]


def test_source_cell_number_discounts_the_injected_parameters_cell():
    job = _job(notebook=str(FIXTURE_NOTEBOOKS / "flow.ipynb"))
    # flow.ipynb: 0 markdown, 1 parameters, [injected at 2], 2 start, 3 broken -> executed index 4 is cell 4
    assert worker._source_cell_number(job, 4) == 4
    assert worker._source_cell_number(job, 0) == 1


def test_kernel_start_errors_are_told_from_cell_errors():
    from nbclient.exceptions import CellTimeoutError
    from papermill.exceptions import PapermillExecutionError

    assert worker.is_kernel_start_error(RuntimeError("Kernel died before replying to kernel_info"))
    assert worker.is_kernel_start_error(RuntimeError("Kernel didn't respond in 60 seconds"))
    assert worker.is_kernel_start_error(TimeoutError("timed out"))
    assert not worker.is_kernel_start_error(PapermillExecutionError(3, 2, "x", "ValueError", "bad", []))
    assert not worker.is_kernel_start_error(CellTimeoutError("cell timed out"))
    assert not worker.is_kernel_start_error(ValueError("bad"))


def _job(**kw):
    base = dict(
        council="northshire",
        council_name="Northshire",
        council_dir="/c",
        service="waste",
        service_name="Waste",
        stage="demand",
        notebook=str(FIXTURE_NOTEBOOKS / "demand.ipynb"),
        output_dir="/r/northshire/waste",
        out_root="/r",
    )
    return Job(**{**base, **kw})


def test_manifest_merges_runs_and_drops_stale_skips(tmp_path):
    def entry(council, service, stage, status, **kw):
        return JobResult(council, council.title(), service, None, stage, {}, status, **kw)

    write_manifest(
        tmp_path, [entry("a", "s", "demand", "ok"), entry("b", None, None, "skipped"), entry("c", "s", "demand", "ok")]
    )
    write_manifest(
        tmp_path, [entry("a", "s", "demand", "failed"), entry("b", "s", "demand", "ok")], valid_councils={"a", "b"}
    )
    jobs = json.loads((tmp_path / "manifest.json").read_text())["jobs"]
    assert {(j["council"], j["service"], j["stage"], j["status"]) for j in jobs} == {
        ("a", "s", "demand", "failed"),
        ("b", "s", "demand", "ok"),
        ("c", "s", "demand", "ok"),
    }
    assert (tmp_path / "manifest.json.prev").exists()


def test_summary_names_failing_cell_and_error():
    failed = JobResult(
        "northshire",
        "Northshire",
        "waste",
        "Waste",
        "flow",
        {},
        "failed",
        notebook="n/w/flow.ipynb",
        error=JobError("KeyError", "'timestamp'", cell=5, execution_count=4, source="flow.summary(stage)"),
    )
    text = batch.BatchResult(Path("/r"), [failed], seconds=3.0, workers=2).summary()
    assert "northshire / waste / Map flow" in text
    assert "cell 5 (In [4]): flow.summary(stage)" in text and "KeyError: 'timestamp'" in text
    assert "/r/n/w/flow.ipynb" in text


# ------------------------------------------------------------------------------------ real notebook runs


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """Northshire (valid, one service: 3 jobs) and Badshire (invalid) through the command, -j 2."""
    root = tmp_path_factory.mktemp("batch")
    make_council(
        root / "councils",
        "northshire",
        "Northshire District Council",
        services=("housing-repairs",),
        demand="\n".join(DEMAND.splitlines()[:4]) + "\n",
    )
    make_bad_council(root / "councils")
    out = root / "reports"
    result = CliRunner().invoke(
        report_command,
        [str(root / "councils"), "--out", str(out), "-j", "2", "--notebooks", str(FIXTURE_NOTEBOOKS), "--no-progress"],
    )
    return root, out, result


@pytest.mark.slow
def test_batch_renders_reports_json_and_manifest(first_run):
    root, out, result = first_run
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 1  # the deliberately broken flow notebook
    for service in ("housing-repairs",):
        html = (out / "northshire" / service / "demand.html").read_text(encoding="utf-8")
        assert len(html.encode()) < 500_000
        figures = json.loads((out / "northshire" / service / "demand.json").read_text())
        assert figures["service"] == service and figures["stage"] == "demand"
        assert not (out / "northshire" / service / "demand.ipynb").exists()  # success leaves no notebook
        assert not list((out / "northshire" / service).glob(".*"))  # no temporary files left behind
    figures = json.loads((out / "northshire" / "housing-repairs" / "demand.json").read_text())
    assert figures["contacts"] == 3 and figures["failure"] == 2 and figures["failure_pct"] == 66.7
    assert figures["period"] == {"start": "2024-03-04", "end": "2024-03-06"}
    assert (out / "northshire" / "organisation_scan.html").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    status = {(j["council"], j["service"], j["stage"]): j for j in manifest["jobs"]}
    ok = status[("northshire", "housing-repairs", "demand")]
    assert ok["status"] == "ok" and ok["report"] == "northshire/housing-repairs/demand.html"
    assert ok["seconds"] > 0 and ok["attempts"] == 1 and ok["error"] is None
    assert ok["parameters"]["output_dir"] == str(out / "northshire" / "housing-repairs")
    assert status[("northshire", None, "organisation_scan")]["status"] == "ok"
    assert status[("northshire", "housing-repairs", "measure")]["status"] == "skipped"
    assert "Reports: " + str(out / "index.html") in result.output


@pytest.mark.slow
def test_html_has_header_and_no_code_or_noise(first_run):
    _, out, _ = first_run
    html = (out / "northshire" / "housing-repairs" / "demand.html").read_text(encoding="utf-8")
    assert "Northshire District Council" in html and "Housing repairs" in html and "Understand demand" in html
    assert "Data period: 4 March 2024 to 6 March 2024" in html and "Generated " in html
    assert 'href="../index.html"' in html
    assert '<p class="headline">2 of the 3 contacts to Housing repairs were failure demand</p>' in html
    assert '<figure class="chart"><svg' in html and 'class="dataframe data"' in html
    for leak in (
        "SECRET_INPUT_MARKER",
        "report.start",
        "import ",
        "STDERR_MARKER",
        "WIDGET_MARKER",
        "In&nbsp;[",
        "Out[",
        "PosixPath",
        "jp-InputArea-editor",
        "require.js",
    ):
        assert leak not in html, leak
    scan = (out / "northshire" / "organisation_scan.html").read_text(encoding="utf-8")
    assert "Organisation scan" in scan and 'href="index.html"' in scan and "has 1 services" in scan


@pytest.mark.slow
def test_broken_notebook_is_reported_and_kept_while_others_finish(first_run):
    _, out, result = first_run
    assert "FAILED (1):" in result.output
    assert "northshire / housing-repairs / Map flow" in result.output
    assert "cell 4 (In [4]): # deliberately broken fixture cell" in result.output
    assert "ValueError: events table has gone missing (fixture)" in result.output
    kept = out / "northshire" / "housing-repairs" / "flow.ipynb"
    assert kept.exists() and "deliberately broken" in kept.read_text(encoding="utf-8")
    assert not (out / "northshire" / "housing-repairs" / "flow.html").exists()
    entry = next(
        j
        for j in json.loads((out / "manifest.json").read_text())["jobs"]
        if j["service"] == "housing-repairs" and j["stage"] == "flow"
    )
    assert entry["status"] == "failed" and entry["attempts"] == 1  # a cell error is not retried
    assert entry["error"]["name"] == "ValueError" and entry["error"]["cell"] == 4
    assert entry["notebook"] == "northshire/housing-repairs/flow.ipynb"
    grid = (out / "northshire" / "index.html").read_text(encoding="utf-8")
    assert 'failed — see <a href="housing-repairs/flow.ipynb">flow.ipynb</a>' in grid
    assert "3 contacts" in grid and "67% failure demand" in grid


@pytest.mark.slow
def test_invalid_council_skipped_with_message_while_other_renders(first_run):
    _, out, result = first_run
    assert "badshire: skipped" in result.output
    assert "demand.csv, row 2, column 'received_at'" in result.output
    assert not (out / "badshire").exists()
    top = (out / "index.html").read_text(encoding="utf-8")
    assert "Badshire" in top and "Skipped by the last batch" in top and "Northshire District Council" in top


@pytest.mark.slow
def test_second_run_for_one_council_keeps_the_others(first_run):
    root, out, _ = first_run
    north = out / "northshire" / "housing-repairs" / "demand.html"
    before = north.read_bytes(), north.stat().st_mtime_ns
    evil = make_council(
        root / "more",
        "evilshire",
        "<script>alert('x')</script> Council",
        services=("waste",),
        demand="contact_id,service,received_at,channel,classification\nC1,waste,2024-01-01 10:00,phone,failure\n",
    )
    result = batch.run_batch(
        [evil], out, jobs=2, stages=["demand"], notebooks_dir=FIXTURE_NOTEBOOKS, progress=False, echo=lambda _: None
    )
    assert result.exit_code == 0 and [r.status for r in result.results] == ["ok"]
    assert (north.read_bytes(), north.stat().st_mtime_ns) == before
    assert (out / "northshire" / "housing-repairs" / "flow.ipynb").exists()
    top = (out / "index.html").read_text(encoding="utf-8")
    assert "Northshire District Council" in top and "Badshire" in top
    assert "&lt;script&gt;alert(" in top and "<script>alert" not in top  # the pages' own script is not the name
    for page in (out / "evilshire" / "index.html", out / "evilshire" / "waste" / "demand.html"):
        text = page.read_text(encoding="utf-8")
        assert "<script>alert" not in text and "&lt;script&gt;" in text
    keys = {(j["council"], j["stage"]) for j in json.loads((out / "manifest.json").read_text())["jobs"]}
    assert ("northshire", "flow") in keys and ("evilshire", "demand") in keys and ("badshire", None) in keys


@pytest.mark.slow
def test_kernel_that_dies_at_start_is_retried_once(tmp_path, monkeypatch):
    """A kernel spec whose first launch dies: the job succeeds on its second attempt."""
    council = make_council(tmp_path, "northshire", "Northshire")
    spec_dir = tmp_path / "share" / "jupyter" / "kernels" / "flaky"
    spec_dir.mkdir(parents=True)
    marker = tmp_path / "started-once"
    launcher = tmp_path / "flaky.py"
    launcher.write_text(
        textwrap.dedent(f"""\
        import pathlib, runpy, sys
        marker = pathlib.Path({str(marker)!r})
        if not marker.exists():
            marker.write_text("died")
            sys.exit(1)
        sys.argv = ["ipykernel_launcher", *sys.argv[1:]]
        runpy.run_module("ipykernel_launcher", run_name="__main__")
    """)
    )
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, str(launcher), "-f", "{connection_file}"],
                "display_name": "flaky",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    out = tmp_path / "reports"
    job = Job(
        council="northshire",
        council_name="Northshire",
        council_dir=str(council),
        service=None,
        service_name=None,
        stage="organisation_scan",
        notebook=str(FIXTURE_NOTEBOOKS / "organisation_scan.ipynb"),
        output_dir=str(out / "northshire"),
        out_root=str(out),
        kernel_name="flaky",
    )
    result = run_job(job)
    assert result.status == "ok", result.error
    assert result.attempts == 2 and marker.exists()
    assert (out / "northshire" / "organisation_scan.html").exists()


def test_large_chart_png_is_compacted_and_small_ones_kept():
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(1)
    fig, ax = plt.subplots(figsize=(9, 4), dpi=100)
    ax.scatter(rng.normal(size=4000), rng.normal(size=4000), s=4, alpha=0.4, c=rng.random(4000), cmap="viridis")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    big = base64.b64encode(buf.getvalue()).decode()
    assert len(big) > html.PNG_COMPACT_ABOVE
    small = html.compact_png(big)
    assert len(small) < 0.7 * len(big)
    image = Image.open(io.BytesIO(base64.b64decode(small)))
    assert image.size == Image.open(io.BytesIO(buf.getvalue())).size  # same picture size, fewer bytes
    image.load()
    smallest = io.BytesIO()
    image.save(smallest, "PNG", optimize=True)  # the smallest encoding of the same palette image: same pixels
    again = Image.open(io.BytesIO(smallest.getvalue()))
    assert again.tobytes() == image.tobytes() and again.getpalette() == image.getpalette()
    assert len(base64.b64decode(small)) < 1.15 * len(smallest.getvalue())  # a lighter zlib level, a few % bigger
    assert html.compact_png("iVBORw0KGgo=") == "iVBORw0KGgo="  # small: untouched
    assert html.compact_png("x" * 70_000) == "x" * 70_000  # not an image: shown as it came


# ------------------------------------------------------------------- council paths, disk full, interrupted runs


def test_council_paths_are_resolved_and_an_empty_name_refused(tmp_path, monkeypatch):
    council = make_council(tmp_path, "northshire", "Northshire")
    (council / "sub").mkdir()
    jobs, _, _ = plan([council / "sub" / ".."], tmp_path / "out", notebooks_dir=FIXTURE_NOTEBOOKS)
    assert {j.council for j in jobs} == {"northshire"}
    assert all(Path(j.output_dir).is_relative_to(tmp_path / "out" / "northshire") for j in jobs)
    monkeypatch.chdir(council)
    jobs, _, _ = plan(["."], tmp_path / "out", notebooks_dir=FIXTURE_NOTEBOOKS)
    assert {j.council for j in jobs} == {"northshire"} and jobs[0].council_dir == str(council.resolve())
    with pytest.raises(SystemicError, match="cannot be a council folder"):
        batch.council_folders(["/"])


def test_disk_full_and_permission_errors_are_named():
    import errno

    from systemic_lib.site.manifest import storage_error

    full = storage_error(OSError(errno.ENOSPC, "No space left on device", "/r/n/demand.html"))
    assert full["name"] == "DiskFull" and "no space left on the disk to write /r/n/demand.html" in full["message"]
    denied = storage_error(PermissionError(errno.EACCES, "Permission denied", "/r/manifest.json"))
    assert denied["name"] == "PermissionDenied" and "not allowed to write /r/manifest.json" in denied["message"]
    try:
        try:
            raise OSError(errno.EROFS, "Read-only file system", "/r/x")
        except OSError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        assert storage_error(wrapped)["name"] == "PermissionDenied"
    assert storage_error(ValueError("x")) is None and storage_error(OSError(errno.ENOENT, "gone")) is None


def test_run_job_names_a_full_disk_and_sweeps_its_own_stray_tmp_files(tmp_path, monkeypatch):
    import errno

    from systemic_lib.run import worker

    out = tmp_path / "r" / "northshire" / "waste"
    out.mkdir(parents=True)
    (out / ".demand.html.abc123.tmp").write_text("half a save")
    (out / ".flow.html.def456.tmp").write_text("another stage's save in progress")
    job = _job(output_dir=str(out), out_root=str(tmp_path / "r"))

    def full(path, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(worker.Runner, "_execute", lambda self, job: (object(), None, 1))
    monkeypatch.setattr(worker, "render_html", lambda nb, job, figures: "<html></html>")
    monkeypatch.setattr(worker, "atomic_write_text", full)
    result = run_job(job)
    assert result.status == "failed" and result.error.name == "DiskFull"
    assert "demand.html" in result.error.message and "worker" not in result.error.message
    assert not (out / ".demand.html.abc123.tmp").exists() and (out / ".flow.html.def456.tmp").exists()


def _fake_results(jobs):
    return [
        JobResult(
            j.council,
            j.council_name,
            j.service,
            j.service_name,
            j.stage,
            j.parameters,
            "ok",
            report=j.relative(j.path(".html")),
        )
        for j in jobs
    ]


def test_manifest_is_written_after_each_job_and_an_interrupted_run_keeps_what_finished(tmp_path, monkeypatch):
    from systemic_lib.run.engine import Interrupted

    make_council(tmp_path / "councils", "northshire", "Northshire")
    out = tmp_path / "reports"
    out.mkdir()
    (out / ".manifest.json.zz9.tmp").write_text("{")  # a save killed in an earlier run
    seen = []

    def fake_run_jobs(engine, jobs, *, progress, on_result):
        done = _fake_results(jobs[:2])
        for r in done:
            on_result(r)
            seen.append(len(json.loads((out / "manifest.json").read_text())["jobs"]))
        raise Interrupted(done)

    monkeypatch.setattr(batch, "run_jobs", fake_run_jobs)
    result = batch.run_batch(
        [tmp_path / "councils"],
        out,
        stages=["demand", "flow"],
        notebooks_dir=FIXTURE_NOTEBOOKS,
        progress=False,
        echo=lambda _: None,
    )
    assert seen == [1, 2]  # the manifest grew job by job
    assert result.interrupted and result.exit_code == batch.INTERRUPTED == 130 and result.planned == 4
    assert "INTERRUPTED: 2 of 4 reports finished" in result.summary()
    jobs = json.loads((out / "manifest.json").read_text())["jobs"]
    assert len(jobs) == 2 and all(j["status"] == "ok" for j in jobs)
    assert (out / "index.html").exists() and not list(out.glob(".*.tmp"))


def test_a_manifest_that_cannot_be_written_is_named_not_a_traceback(tmp_path, monkeypatch):
    import errno

    from systemic_lib.site import manifest

    make_council(tmp_path / "councils", "northshire", "Northshire")

    def full(path, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    def fake_run_jobs(engine, jobs, *, progress, on_result):
        done = _fake_results(jobs)
        for r in done:
            on_result(r)
        return done

    monkeypatch.setattr(batch, "run_jobs", fake_run_jobs)
    monkeypatch.setattr(manifest, "atomic_write_json", full)
    result = batch.run_batch(
        [tmp_path / "councils"],
        tmp_path / "reports",
        stages=["demand"],
        notebooks_dir=FIXTURE_NOTEBOOKS,
        progress=False,
        echo=lambda _: None,
    )
    assert result.exit_code == 1 and len(result.ok) == 2
    assert len(result.write_errors) == 1 and "the manifest: no space left on the disk" in result.write_errors[0]
    assert "NOT SAVED: the manifest: no space left" in result.summary()


def _notebook_dir(tmp_path, flow_source: str) -> Path:
    """The fixture notebooks, with flow.ipynb replaced by one whose second cell is ``flow_source``."""
    import shutil

    import nbformat

    folder = tmp_path / "notebooks"
    shutil.copytree(FIXTURE_NOTEBOOKS, folder)
    nb = nbformat.read(folder / "flow.ipynb", as_version=4)
    nb.cells[3].source = flow_source
    nbformat.write(nb, folder / "flow.ipynb")
    return folder


KILL_THE_WORKER = textwrap.dedent("""\
    import os, pathlib, signal, time
    marker = pathlib.Path(output_dir) / "killed-once"
    if service == "council-tax" or not marker.exists():  # council tax: every time; housing repairs: once
        marker.write_text("x")
        os.kill(int(os.environ["JPY_PARENT_PID"]), signal.SIGKILL)  # the worker that started this kernel
        time.sleep(60)
""")


@pytest.mark.slow
def test_a_killed_worker_costs_only_its_own_job(tmp_path):
    """A real SIGKILL of the worker mid-notebook: retried once on a new worker, the rest unaffected."""
    make_council(tmp_path / "councils", "northshire", "Northshire")
    notebooks = _notebook_dir(tmp_path, KILL_THE_WORKER)
    out = tmp_path / "reports"
    result = batch.run_batch(
        [tmp_path / "councils"],
        out,
        jobs=2,
        stages=["demand", "flow", "organisation_scan"],
        notebooks_dir=notebooks,
        progress=False,
        echo=lambda _: None,
    )
    status = {(r.service, r.stage): r for r in result.results}
    assert len(status) == 5
    assert {k for k, r in status.items() if r.status == "ok"} == {
        ("housing-repairs", "demand"),
        ("council-tax", "demand"),
        ("housing-repairs", "flow"),
        (None, "organisation_scan"),
    }
    assert status[("housing-repairs", "flow")].attempts == 2  # killed once, then ran on a new worker
    lost = status[("council-tax", "flow")]
    assert lost.status == "failed" and lost.attempts == 2 and lost.error.name == "WorkerLost"
    assert "SIGKILL" in lost.error.message and lost.error.cell == 4
    assert not list(out.rglob(".*.running.*")) and not list(out.rglob("*.tmp"))
    manifest = json.loads((out / "manifest.json").read_text())
    assert {(j["service"], j["stage"]): j["status"] for j in manifest["jobs"]} == {
        k: r.status for k, r in status.items()
    }


@pytest.mark.slow
def test_ctrl_c_keeps_what_finished_and_exits_130(tmp_path):
    import os
    import signal
    import subprocess

    make_council(
        tmp_path / "councils",
        "northshire",
        "Northshire",
        services=("waste",),
        demand="contact_id,service,received_at,channel\nC1,waste,2024-01-01 10:00,phone\n",
    )
    notebooks = _notebook_dir(tmp_path, "import time\ntime.sleep(120)")
    out = tmp_path / "reports"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "systemic_lib.cli",
            "report",
            str(tmp_path / "councils"),
            "--out",
            str(out),
            "-j",
            "1",
            "--stage",
            "demand",
            "--stage",
            "flow",
            "--notebooks",
            str(notebooks),
            "--no-progress",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    manifest = out / "manifest.json"
    for _ in range(1800):  # generous: the machine may be busy
        if (
            manifest.exists()
            and '"demand"' in manifest.read_text()
            and (out / "northshire/waste/.flow.running.json").exists()
        ):
            break
        assert proc.poll() is None, proc.stdout.read()
        import time

        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=180)
    assert proc.returncode == 130, output
    assert "INTERRUPTED: 1 of 2 reports finished" in output and "Traceback" not in output
    jobs = json.loads(manifest.read_text())["jobs"]
    assert [(j["stage"], j["status"]) for j in jobs] == [("demand", "ok")]
    assert (out / "index.html").exists() and (out / "northshire/waste/demand.html").exists()
    assert not list(out.rglob(".*.running.*")) and not (out / "northshire/waste/flow.ipynb").exists()


@pytest.mark.slow
def test_warm_kernels_give_the_same_reports_as_fresh_ones(testshire, tmp_path, monkeypatch):
    """Kernels forked from a worker's zygote (libraries imported once) against kernels started cold: the same
    <stage>.json bytes and the same HTML apart from its time stamp (and the random id papermill gives the cell it
    injects, different in any two runs), with two notebooks run one after the other in one worker so that the
    second kernel is forked after the first has run."""
    import re

    def render(out, warm: bool):
        result = batch.run_batch(
            [testshire],
            out,
            jobs=1,
            warm_kernels=warm,
            stages=["demand", "flow"],
            services=["housing-repairs"],
            progress=False,
            echo=lambda _: None,
        )
        assert result.exit_code == 0, result.summary()
        return out / "testshire" / "housing-repairs"

    warm, cold = render(tmp_path / "warm", True), render(tmp_path / "cold", False)
    for stage in ("demand", "flow"):
        assert (warm / f"{stage}.json").read_bytes() == (cold / f"{stage}.json").read_bytes()
        html = [
            re.sub(r"Generated [^<]*|cell-id=[0-9a-f-]+", "", (folder / f"{stage}.html").read_text())
            for folder in (warm, cold)
        ]
        assert html[0] == html[1]


@pytest.mark.slow
def test_warm_kernels_are_forked_from_the_zygote_and_cold_ones_are_not(tmp_path):
    notebooks = notebooks_that_save(
        tmp_path / "notebooks",
        "organisation_scan.ipynb",
        "'forked': os.getppid() != int(os.environ['JPY_PARENT_PID'])",
        "import os",
    )
    make_council(tmp_path / "councils", "northshire", "Northshire")
    for warm in (True, False):
        out = tmp_path / f"out-{warm}"
        jobs, _, _ = plan(
            [tmp_path / "councils"],
            out,
            stages=["organisation_scan"],
            notebooks_dir=notebooks,
            kernel=batch.kernel_name(),
        )
        (result,) = pool.execute(jobs, 1, progress=False, warm_kernels=warm)
        assert result.status == "ok", result.error
        figures = json.loads((out / "northshire" / "organisation_scan.json").read_text())
        assert figures["forked"] is warm and figures["services"] == 2


def test_planning_folds_the_demand_workshop_s_decisions_into_demand_csv(testshire, tmp_path):
    """A coached team's decisions (the workshop's store) reach demand.csv before any report reads it."""
    import pandas as pd

    from systemic_lib.data.decisions import DecisionStore

    store = DecisionStore(testshire)
    assert store.next_contact("housing-repairs", "AB")["contact_id"] == "C06"  # on AB's screen, as the store needs
    store.decide("C06", "AB", "failure", failure_type="progress chasing")
    store.close()
    _, _, messages = plan([testshire], tmp_path / "reports", stages=["demand"])
    demand = pd.read_csv(testshire / "demand.csv", dtype=str, keep_default_na=False).set_index("contact_id")
    assert (demand.loc["C06", "classification"], demand.loc["C06", "classified_by"]) == ("failure", "coach:AB")
    assert any("1 decision from the demand workshop written into the demand file" in m for m in messages)
    _, _, again = plan([testshire], tmp_path / "reports", stages=["demand"])
    assert not any("demand workshop" in m for m in again)  # folded once


def test_jobs_run_council_by_council_with_the_organisation_scan_first(tmp_path):
    """Workers take each council's jobs in a row (their zygote keeps that council read), the council-wide scan
    (the longest job) first; the results still come back in job order."""
    from systemic_lib.run.engine import run_order

    for slug in ("northshire", "eastbrook"):
        make_council(tmp_path / "councils", slug, slug.capitalize())
    jobs, _, _ = plan([tmp_path / "councils"], tmp_path / "reports", notebooks_dir=FIXTURE_NOTEBOOKS)
    order = [(jobs[i].council, jobs[i].service, jobs[i].stage) for i in run_order(jobs)]
    councils = [c for c, _, _ in order]
    assert councils == sorted(councils, key=councils.index)  # each council's jobs together
    for slug in ("northshire", "eastbrook"):
        mine = [(s, st) for c, s, st in order if c == slug]
        assert mine[0] == (None, "organisation_scan") and len(mine) == 5
        assert mine[1:] == [(j.service, j.stage) for j in jobs if j.council == slug and j.service]


@pytest.mark.slow
def test_a_damaged_locked_or_foreign_decision_store_skips_only_its_council(tmp_path):
    """Issue 23: one council's demand workshop store that cannot be read (bytes that are not a database, another
    program's database, a store locked by a workshop for longer than the busy timeout) skips that council with a
    plain problem on the index, and every other council renders (before: a traceback, and no council rendered)."""
    import sqlite3

    from systemic_lib.data.decisions import DecisionStore, store_path

    root = tmp_path / "councils"
    make_council(root, "healthy", "Healthy District", services=("housing-repairs",))
    damaged = make_council(root, "damaged", "Damaged District", services=("housing-repairs",))
    store_path(damaged).parent.mkdir()
    store_path(damaged).write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 16)
    foreign = make_council(root, "foreign", "Foreign District", services=("housing-repairs",))
    store_path(foreign).parent.mkdir()
    other = sqlite3.connect(store_path(foreign))
    other.executescript("CREATE TABLE decisions (who TEXT, said TEXT); INSERT INTO decisions VALUES ('a', 'b');")
    other.close()
    locked = make_council(root, "locked", "Locked District", services=("housing-repairs",))
    store = DecisionStore(locked)
    store.decide("C1", "AB", "value", on_screen=False)
    store.close()
    holder = sqlite3.connect(store_path(locked), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a workshop holding the write lock throughout the planning
    try:
        out = tmp_path / "reports"
        result = CliRunner().invoke(
            report_command,
            [str(root), "--out", str(out), "-j", "1", "--notebooks", str(FIXTURE_NOTEBOOKS), "--no-progress"],
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1, result.output  # something asked for was not rendered
    assert "Traceback" not in result.output
    assert (out / "healthy" / "housing-repairs" / "demand.json").exists()
    for slug in ("damaged", "foreign", "locked"):
        assert f"{slug}: skipped" in result.output and not (out / slug).exists()
    top = (out / "index.html").read_text(encoding="utf-8")
    assert "Healthy District" in top and top.count("Skipped by the last batch") >= 3
    assert "decisions.sqlite is damaged" in top
    assert "decisions.sqlite is not a demand workshop store" in top
    assert "decisions.sqlite is locked by another program" in top
    manifest = json.loads((out / "manifest.json").read_text())
    stores = {
        e["council"] for e in manifest["jobs"] if e["status"] == "skipped" and e["error"]["name"] == "DecisionStore"
    }
    assert stores == {"damaged", "foreign", "locked"}
