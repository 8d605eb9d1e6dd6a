"""Batch HTML reports: every stage notebook for every service of every council, side by side, in parallel.

``systemic report [COUNCIL_DIR ...] --out reports/`` (or ``run_batch``) validates each council, queues one job per
(council, service, stage) plus one organisation scan per council, and runs them in a process pool. Each worker
drives papermill and nbconvert in-process with a fresh kernel per notebook and writes, atomically:

    reports/<council>/<service>/<stage>.html   the report (no input cells, templates/report/)
    reports/<council>/<service>/<stage>.json   key figures, written by the notebook (report.Stage.save)
    reports/<council>/<service>/<stage>.ipynb  only when the notebook failed: the executed notebook, to debug
    reports/<council>/organisation_scan.html   the council-level scan
    reports/manifest.json, reports/index.html, reports/<council>/index.html

A failing notebook never stops the batch; a council that fails validation is skipped with its problems; nothing of
another council is overwritten or deleted. The run ends with a summary of every failure and exit code 1.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import logging
import multiprocessing as mp
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click

from . import config, words
from .errors import SystemicError, UnknownServiceError
from .files import atomic_write_text
from .pages import build_index_pages
from .manifest import describe_error, load_manifest, write_manifest  # noqa: F401  (tests and scripts read them here)

ALL_STAGES = config.ALL_STAGES
STAGE_NAMES = config.STAGE_NAMES
CELL_TIMEOUT = 600  #: seconds one cell may run before the job fails
START_TIMEOUT = 60  #: seconds a kernel may take to start
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_STATIC_MIMES = ("text/html", "image/png", "image/jpeg", "image/svg+xml", "text/markdown", "text/latex", "text/plain")
# execute_result reprs that are plumbing, not content: <Axes: ...>, [<Line2D ...>], Text(...), PosixPath('...')
_PLUMBING_REPR = re.compile(r"^\s*(<.*>|\[<.*>\]|Text\(.*\)|\w*Path\(.*\)|None)\s*$", re.DOTALL)


# ---------------------------------------------------------------------------------------------------------- jobs

@dataclass(frozen=True)
class Job:
    """One notebook to run: plain, picklable fields so that it can cross into a worker process."""

    council: str  #: the council's folder name, used in report paths
    council_name: str
    council_dir: str  #: absolute
    service: str | None  #: None for the organisation scan
    service_name: str | None
    stage: str
    notebook: str  #: absolute path of the notebook to run
    output_dir: str  #: absolute: reports/<council>/<service>/ or reports/<council>/
    out_root: str  #: absolute reports folder, for relative paths in the manifest
    period_start: str | None = None
    period_end: str | None = None
    kernel_name: str = config.KERNEL_NAME
    cell_timeout: int = CELL_TIMEOUT

    @property
    def parameters(self) -> dict:
        """What papermill injects into the notebook's ``parameters`` cell."""
        return {"council_dir": self.council_dir, "service": self.service, "period_start": self.period_start,
                "period_end": self.period_end, "output_dir": self.output_dir}

    def path(self, suffix: str) -> Path:
        return Path(self.output_dir) / f"{self.stage}{suffix}"

    def relative(self, path: Path) -> str:
        return Path(path).relative_to(self.out_root).as_posix()

    @property
    def label(self) -> str:
        return " / ".join(x for x in (self.council, self.service, self.stage) if x)


@dataclass
class JobResult:
    """What happened to one job (or one skipped council): a manifest entry."""

    council: str
    council_name: str
    service: str | None
    service_name: str | None
    stage: str | None
    parameters: dict
    status: str  #: ok, failed or skipped
    seconds: float = 0.0
    attempts: int = 0
    error: dict | None = None  #: name, message; for cell errors also cell, execution_count, source
    report: str | None = None  #: the HTML, relative to the reports folder
    notebook: str | None = None  #: the executed notebook kept on failure, relative to the reports folder
    run_at: str = field(default_factory=lambda: dt.datetime.now().isoformat(timespec="seconds"))

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def label(self) -> str:
        where = " / ".join(x for x in (self.council, self.service) if x)
        return f"{where} / {STAGE_NAMES.get(self.stage, self.stage)}" if self.stage else where


@dataclass
class BatchResult:
    """Everything a batch did; ``summary()`` is what the command prints, ``exit_code`` what it returns."""

    out_dir: Path
    results: list[JobResult]
    messages: list[str] = field(default_factory=list)
    manifest_path: Path | None = None
    index_path: Path | None = None
    seconds: float = 0.0
    workers: int = 0

    def _with(self, status: str) -> list[JobResult]:
        return [r for r in self.results if r.status == status]

    @property
    def ok(self) -> list[JobResult]:
        return self._with("ok")

    @property
    def failed(self) -> list[JobResult]:
        return self._with("failed")

    @property
    def skipped(self) -> list[JobResult]:
        return self._with("skipped")

    @property
    def exit_code(self) -> int:
        """1 if anything asked for was not rendered (a failed notebook, a skipped council or stage), else 0."""
        return 1 if self.failed or self.skipped else 0

    def summary(self) -> str:
        ran = len(self.ok) + len(self.failed)
        per = f", {self.seconds / ran:.1f} s per report" if ran else ""
        lines = [f"Rendered {len(self.ok)} of {ran} reports in {_duration(self.seconds)} with {self.workers} "
                 f"worker(s){per}; {len(self.failed)} failed, {len(self.skipped)} skipped."]
        if self.failed:
            lines.append("")
            lines.append(f"FAILED ({len(self.failed)}):")
            for r in self.failed:
                lines += ["  " + r.label] + ["    " + line for line in describe_error(r.error)]
                if r.notebook:
                    lines.append(f"    executed notebook kept: {Path(self.out_dir, r.notebook)}")
        if self.skipped:
            lines.append("")
            lines.append(f"SKIPPED ({len(self.skipped)}):")
            missing: dict[str, list[JobResult]] = {}
            for r in self.skipped:
                if (r.error or {}).get("name") == "MissingNotebook":
                    missing.setdefault(r.error.get("message", ""), []).append(r)
                    continue
                lines += ["  " + r.label] + ["    " + line for line in describe_error(r.error)]
            for message, rs in missing.items():
                lines.append(f"  {len(rs)} report(s) of {STAGE_NAMES.get(rs[0].stage, rs[0].stage)}: {message}")
        return "\n".join(lines)




def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{seconds:.1f} s"


# ------------------------------------------------------------------------------------------------------ planning

def council_folders(council_dirs=None) -> list[Path]:
    """The council folders to render: those named, or every folder in config.COUNCILS_DIR.

    A named folder without council.yaml whose sub-folders hold one (``data/councils``) stands for those councils.
    """
    if not council_dirs:
        root = config.COUNCILS_DIR
        if not root.is_dir():
            raise SystemicError(f"{root}: no councils to report on. Build the sample councils with `make sample` "
                                "(or `systemic sample --out data/councils`), or name council folders.")
        council_dirs = [root]
    out: list[Path] = []
    for folder in map(Path, council_dirs):
        subs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))) \
            if folder.is_dir() and not (folder / "council.yaml").exists() else []
        if subs and any((p / "council.yaml").exists() for p in subs):
            out += subs
        else:
            out.append(folder)
    seen, unique = set(), []
    for folder in out:
        key = folder.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(folder)
    return unique


def kernel_name(preferred: str = config.KERNEL_NAME) -> str:
    """The kernel to run notebooks with: ``systemic`` if installed, else ``python3`` with a warning."""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if preferred in specs:
        return preferred
    click.echo(f"Warning: the Jupyter kernel '{preferred}' is not installed; using 'python3'. Install it with "
               f"`{sys.executable} -m ipykernel install --sys-prefix --name {preferred}` (make install does this).",
               err=True)
    return "python3"


def _skip(council: str, council_name: str, council_dir: Path, name: str, message: str, *, service=None,
          service_name=None, stage=None, problems=()) -> JobResult:
    error = {"name": name, "message": message}
    if problems:
        error["problems"] = list(problems)
    return JobResult(council, council_name, service, service_name, stage, {"council_dir": str(council_dir)},
                     "skipped", error=error)


def plan(council_dirs, out_dir, *, stages=None, services=None, period_start=None, period_end=None,
         notebooks_dir=config.NOTEBOOKS_DIR, kernel="python3", cell_timeout=CELL_TIMEOUT
         ) -> tuple[list[Job], list[JobResult], list[str]]:
    """Validate the councils and list the jobs: (jobs to run, skipped entries, messages for the user)."""
    from .contract import ERROR
    from .council import load_council, validate_council

    out_dir = Path(out_dir).resolve()
    notebooks_dir = Path(notebooks_dir).resolve()
    stages = tuple(stages) if stages else ALL_STAGES
    unknown = [s for s in stages if s not in ALL_STAGES]
    if unknown:
        raise SystemicError(f"unknown stage {', '.join(unknown)}; stages are {', '.join(ALL_STAGES)}")
    services = tuple(services) if services else None
    messages: list[str] = []
    missing = {s for s in stages if not (notebooks_dir / f"{s}.ipynb").exists()}
    for s in sorted(missing, key=ALL_STAGES.index):
        messages.append(f"{_shown(notebooks_dir / (s + '.ipynb'))} does not exist: {STAGE_NAMES[s]} reports are skipped. "
                        "Add the notebook (see docs/DEVELOPING.md) or leave this stage out with --stage.")

    if services is not None and config.COUNCIL_STAGE in stages and len(stages) < len(ALL_STAGES):
        messages.append("The organisation scan is council-wide: it is left out when --service is given.")
    jobs: list[Job] = []
    skipped: list[JobResult] = []
    slugs: dict[str, Path] = {}
    known_services: set[str] = set()
    for folder in council_folders(council_dirs):
        slug = folder.name
        if slug in slugs:
            messages.append(f"{folder}: another council folder named '{slug}' ({slugs[slug]}) is already in this "
                            "batch; their reports would share reports/{slug}/. Rename one folder. Skipped.")
            skipped.append(_skip(slug, slug, folder.resolve(), "DuplicateCouncil", f"same folder name as {slugs[slug]}"))
            continue
        slugs[slug] = folder
        problems = validate_council(folder)
        errors = [p for p in problems if p.severity == ERROR]
        if errors:
            message = (f"{len(errors)} error(s) in the council's data; fix them and check with "
                       f"`systemic validate {folder}`. No report of this council was changed.")
            messages.append(f"{folder}: skipped: {message}\n" + "\n".join("  " + p.describe() for p in errors[:20]))
            skipped.append(_skip(slug, _council_name_or(folder, slug), folder.resolve(), "InvalidCouncil", message,
                                 problems=[p.describe() for p in errors[:50]]))
            continue
        council = load_council(folder)
        wanted = list(council.services) if services is None else [s for s in services if s in council.services]
        known_services.update(council.services)
        if services is not None:
            absent = [s for s in services if s not in council.services]
            if absent:
                messages.append(f"{folder / 'council.yaml'}: no service {', '.join(repr(s) for s in absent)} "
                                f"(services are: {', '.join(council.services)}); not rendered for {council.name}.")
        council_out = out_dir / slug
        todo = [(sid, s) for sid in wanted for s in config.STAGES if s in stages]
        if services is None and config.COUNCIL_STAGE in stages:
            todo.append((None, config.COUNCIL_STAGE))
        for sid, stage in todo:
            sname = council.services[sid].name if sid else None
            if stage in missing:
                skipped.append(_skip(slug, council.name, folder.resolve(), "MissingNotebook",
                                     f"{_shown(notebooks_dir / (stage + '.ipynb'))} does not exist",
                                     service=sid, service_name=sname, stage=stage))
                continue
            jobs.append(Job(
                council=slug, council_name=council.name, council_dir=str(folder.resolve()), service=sid,
                service_name=sname, stage=stage, notebook=str(notebooks_dir / f"{stage}.ipynb"),
                output_dir=str(council_out / sid if sid else council_out), out_root=str(out_dir),
                period_start=period_start, period_end=period_end, kernel_name=kernel, cell_timeout=cell_timeout))
    if services is not None and known_services:
        nowhere = [s for s in services if s not in known_services]
        if nowhere:
            raise UnknownServiceError(
                f"no council in this batch has service {', '.join(repr(s) for s in nowhere)}. Services are: "
                f"{', '.join(sorted(known_services))}. Use one of those ids (see each council.yaml).")
    return jobs, skipped, messages


def _shown(path: Path) -> str:
    """A path as short as is clear: relative to the project if inside it."""
    try:
        return Path(path).resolve().relative_to(config.PROJECT_ROOT.resolve()).as_posix()
    except ValueError:
        return str(path)


def _council_name_or(folder: Path, default: str) -> str:
    """The council's name from council.yaml if it can be read at all (for a council with errors)."""
    try:
        import yaml

        data = yaml.safe_load((folder / "council.yaml").read_text(encoding="utf-8"))
        return str(data.get("name") or default) if isinstance(data, dict) else default
    except Exception:  # the council is being skipped for its problems; its name is a nicety
        return default


# -------------------------------------------------------------------------------------------------- the worker

def _prepare_worker_env(job: Job) -> None:
    """Environment the kernel inherits: batch mode, where to save <stage>.json, and systemic_lib importable."""
    os.environ["SYSTEMIC_BATCH"] = "1"
    os.environ["SYSTEMIC_OUTPUT_DIR"] = job.output_dir
    root = str(config.PROJECT_ROOT)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *paths])
    logging.getLogger("papermill").setLevel(logging.ERROR)
    logging.getLogger("traitlets").setLevel(logging.ERROR)


def run_job(job: Job) -> JobResult:
    """Execute one notebook with papermill and render it with nbconvert; never raises for the notebook's faults."""
    _prepare_worker_env(job)
    began = time.perf_counter()
    started_at = time.time()
    out = Path(job.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    running = out / f".{job.stage}.running.ipynb"
    nb, error, attempts = _execute(job, running)
    if error is None:
        try:
            figures = _fresh_json(job.path(".json"), started_at)
            atomic_write_text(job.path(".html"), render_html(nb, job, figures))
        except Exception as exc:  # noqa: BLE001
            error = {"name": type(exc).__name__, "message": f"rendering the HTML failed: {exc}"}
    result = JobResult(job.council, job.council_name, job.service, job.service_name, job.stage, job.parameters,
                       "ok" if error is None else "failed", attempts=attempts, error=error)
    if error is None:
        running.unlink(missing_ok=True)
        job.path(".ipynb").unlink(missing_ok=True)  # a failure of this same report in an earlier run
        result.report = job.relative(job.path(".html"))
    elif running.exists():
        os.replace(running, job.path(".ipynb"))
        result.notebook = job.relative(job.path(".ipynb"))
    result.seconds = round(time.perf_counter() - began, 2)
    return result


def _execute(job: Job, running: Path):
    """papermill in-process, retried once if the kernel fails to start: (notebook, error or None, attempts).

    The kernel's own stdout/stderr (start-up chatter, not cell output) goes to a temporary log instead of the
    terminal, so that the progress bar stays readable; its tail is added to a kernel start error.
    """
    import papermill as pm

    attempts = 0
    with _kernel_output_captured() as kernel_log:
        while True:
            attempts += 1
            try:
                nb = pm.execute_notebook(
                    job.notebook, str(running), parameters=job.parameters, kernel_name=job.kernel_name,
                    progress_bar=False, log_output=False, start_timeout=START_TIMEOUT,
                    execution_timeout=job.cell_timeout, cwd=str(Path(job.notebook).parent))
                return nb, None, attempts
            except Exception as exc:  # noqa: BLE001 - every failure of the notebook is reported, none stops the batch
                if attempts == 1 and is_kernel_start_error(exc, running):
                    continue
                error = _error_of(exc, job, running)
                if is_kernel_start_error(exc, running):
                    tail = kernel_log().strip().splitlines()[-5:]
                    if tail:
                        error["message"] += " | kernel output: " + " / ".join(tail)
                return None, error, attempts


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


def _running_cell(path: Path):
    """(index, cell) of the cell papermill marked as running in a saved notebook, or None if none started."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - no notebook saved yet
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
    except Exception:  # noqa: BLE001
        injected_at = 0
    return executed_index + (0 if executed_index < injected_at else -1) + 1


def _first_line(source: str) -> str:
    for line in (source or "").splitlines():
        if line.strip():
            return line.strip()[:120]
    return ""


def _error_of(exc: BaseException, job: Job, running: Path) -> dict:
    """The manifest's error entry: error name and message, and for a cell the cell number and its first line."""
    from papermill.exceptions import PapermillExecutionError, strip_color

    if isinstance(exc, PapermillExecutionError):
        return {"name": exc.ename, "message": strip_color(str(exc.evalue)).strip()[:2000],
                "cell": _source_cell_number(job, exc.cell_index), "execution_count": exc.exec_count,
                "source": _first_line(exc.source)}
    error = {"name": type(exc).__name__, "message": strip_color(str(exc)).strip()[:2000] or repr(exc)}
    if is_kernel_start_error(exc, running):
        error["message"] = f"the kernel '{job.kernel_name}' did not start (tried twice): {error['message']}"
    found = _running_cell(running)
    if found:
        index, cell = found
        error.update(cell=_source_cell_number(job, index), execution_count=cell.get("execution_count"),
                     source=_first_line(cell.get("source", "")))
    return error


def _fresh_json(path: Path, since: float) -> dict | None:
    """The <stage>.json the notebook wrote in this run (an older one is ignored), or None."""
    try:
        if path.stat().st_mtime >= since - 1:
            return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    return None


# ------------------------------------------------------------------------------------------------------- HTML

_EXPORTER = None


def _exporter():
    """One HTMLExporter per process (compiling the template is the slow part)."""
    global _EXPORTER
    if _EXPORTER is None:
        from nbconvert import HTMLExporter

        _EXPORTER = HTMLExporter(template_name="report", extra_template_basedirs=[str(config.TEMPLATES_DIR)],
                                 exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    return _EXPORTER


def clean_for_report(nb):
    """A copy of an executed notebook holding only what renders statically for a reader.

    Drops widget state and widget views, stderr streams (warnings, logging), error outputs, plumbing reprs such as
    ``<Axes: ...>`` or ``PosixPath(...)``, and code cells left with nothing to show.
    """
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            kept = []
            for out in cell.get("outputs", []):
                kind = out.get("output_type")
                if kind == "error" or (kind == "stream" and out.get("name") != "stdout"):
                    continue
                if kind in ("display_data", "execute_result"):
                    data = out.get("data", {})
                    if _WIDGET_MIME in data or not any(m in data for m in _STATIC_MIMES):
                        continue
                    if set(data) == {"text/plain"} and _PLUMBING_REPR.match(str(data["text/plain"])):
                        continue
                    if "image/png" in data:
                        data["image/png"] = compact_png(data["image/png"])
                kept.append(out)
            cell.outputs = kept
            if not kept:
                continue
        cells.append(cell)
    nb.cells = cells
    return nb


PNG_COMPACT_ABOVE = 60_000  #: base64 characters; smaller figures are left exactly as drawn


def compact_png(b64) -> str:
    """A large chart PNG re-encoded with a 256-colour palette (on white), if that is smaller; else unchanged.

    Charts are flat colours plus anti-aliasing, so a palette keeps them sharp at a third of the size; this keeps
    a report with several big figures under 500 KB.
    """
    text = "".join(b64) if isinstance(b64, list) else str(b64)
    if len(text) < PNG_COMPACT_ABOVE:
        return text
    try:
        import base64
        import io

        from PIL import Image

        image = Image.open(io.BytesIO(base64.b64decode(text)))
        image.load()
        if image.mode in ("RGBA", "LA", "P"):
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(white, rgba)
        palette = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        buf = io.BytesIO()
        palette.save(buf, "PNG", optimize=True)
        smaller = base64.b64encode(buf.getvalue()).decode("ascii")
        return smaller if len(smaller) < len(text) else text
    except Exception:  # noqa: BLE001 - an image Pillow cannot read is shown as it came
        return text


def _period_words(figures: dict | None, job: Job) -> str:
    period = (figures or {}).get("period") or {}
    start, end = period.get("start"), period.get("end")
    try:
        if start or end:
            return words.period(start or None, end or None)
    except (TypeError, ValueError):
        pass
    if job.period_start or job.period_end:
        return f"{job.period_start or 'the start'} to {job.period_end or 'the end'} (as asked)"
    return "all data (period not recorded)"


def render_html(nb, job: Job, figures: dict | None = None, *, generated: dt.datetime | None = None) -> str:
    """The report page for an executed notebook: header, outputs and markdown, no code."""
    generated = generated or dt.datetime.now()
    council_index = "index.html" if job.service is None else "../index.html"
    resources = {"systemic": {
        "council_name": (figures or {}).get("council") or job.council_name,
        "service_name": (figures or {}).get("service_name") or job.service_name,
        "stage_name": STAGE_NAMES.get(job.stage, job.stage),
        "period": _period_words(figures, job),
        "generated": words.stamp(generated),
        "council_index": council_index,
        "top_index": "../index.html" if job.service is None else "../../index.html",
    }}
    body, _ = _exporter().from_notebook_node(clean_for_report(nb), resources=resources)
    return body


# ------------------------------------------------------------------------------------------------------- the run

def _pool_context():
    """forkserver (fresh, single-threaded parent: safe with zmq) where available, else spawn."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["systemic_lib.batch", "papermill", "nbconvert"])
        return ctx
    return mp.get_context("spawn")


def execute(jobs: list[Job], workers: int, *, progress: bool = True) -> list[JobResult]:
    """Run jobs in a process pool with a progress bar (done/total, failures, ETA); results in job order."""
    from tqdm.auto import tqdm

    results: dict[int, JobResult] = {}
    if not jobs:
        return []
    failures = 0
    bar = tqdm(total=len(jobs), desc="Reports", unit="report", disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    bar.set_postfix_str("failed=0")
    with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
        futures = {pool.submit(run_job, job): i for i, job in enumerate(jobs)}
        try:
            for future in as_completed(futures):
                i = futures[future]
                job = jobs[i]
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - a worker died (e.g. out of memory): report it, go on
                    result = JobResult(job.council, job.council_name, job.service, job.service_name, job.stage,
                                       job.parameters, "failed", attempts=1,
                                       error={"name": type(exc).__name__,
                                              "message": f"the worker process stopped: {exc}"})
                results[i] = result
                if result.status != "ok":
                    failures += 1
                    bar.write(f"failed: {result.label}: " + " | ".join(describe_error(result.error)[:2]))
                bar.set_postfix_str(f"failed={failures}")
                bar.update(1)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    bar.close()
    return [results[i] for i in range(len(jobs))]



def run_batch(council_dirs=None, out_dir=None, *, jobs: int | None = None, stages=None, services=None,
              period_start=None, period_end=None, notebooks_dir=config.NOTEBOOKS_DIR, progress: bool = True,
              cell_timeout: int = CELL_TIMEOUT, echo=None, scheduler: str | None = None) -> BatchResult:
    """Render every report asked for; returns what happened. Raises SystemicError only for a wrong request."""
    echo = echo or (lambda text: click.echo(text, err=True))
    began = time.perf_counter()
    out_dir = Path(out_dir or config.REPORTS_DIR).resolve()
    for value, option in ((period_start, "period start"), (period_end, "period end")):
        if value is not None:
            try:
                dt.date.fromisoformat(str(value))
            except ValueError:
                raise SystemicError(f"{option} '{value}' is not a date; write it as YYYY-MM-DD") from None
    kernel = kernel_name()
    todo, skipped, messages = plan(council_dirs, out_dir, stages=stages, services=services,
                                   period_start=period_start, period_end=period_end, notebooks_dir=notebooks_dir,
                                   kernel=kernel, cell_timeout=cell_timeout)
    for message in messages:
        echo(message)
    out_dir.mkdir(parents=True, exist_ok=True)
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo) or 1))
    if scheduler:  # a Dask cluster: systemic_lib.cluster runs the same jobs on its workers
        from . import cluster

        results = cluster.execute(todo, scheduler=scheduler, run=run_job, progress=progress, echo=echo, failed=lambda
                                  j, error: JobResult(j.council, j.council_name, j.service, j.service_name, j.stage,
                                                      j.parameters, "failed", attempts=2, error=error)) + skipped
    else:
        results = execute(todo, workers, progress=progress) + skipped
    valid = {j.council for j in todo} | {r.council for r in skipped if r.stage is not None}
    manifest_path = write_manifest(out_dir, results, valid_councils=valid)
    touched = {r.council for r in results}
    index_path = build_index_pages(out_dir, councils=touched)
    return BatchResult(out_dir, results, messages, manifest_path, index_path, time.perf_counter() - began, workers)


# ------------------------------------------------------------------------------------------------------ command

def _date_option(ctx, param, value):
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date; write it as YYYY-MM-DD (e.g. 2024-01-31)") from None


@click.command("report")
@click.argument("council_dirs", nargs=-1, type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "-o", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=f"Reports folder (default: {config.REPORTS_DIR}).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Notebooks run at once (default: the number of cores).")
@click.option("--stage", "stages", multiple=True, type=click.Choice(ALL_STAGES),
              help="Only this stage (repeatable). Default: every stage and the organisation scan.")
@click.option("--service", "services", multiple=True,
              help="Only this service id (repeatable); the organisation scan is then left out.")
@click.option("--period-start", callback=_date_option, default=None, help="First day of data, YYYY-MM-DD.")
@click.option("--period-end", callback=_date_option, default=None, help="Last day of data, YYYY-MM-DD.")
@click.option("--notebooks", "notebooks_dir", type=click.Path(file_okay=False, path_type=Path),
              default=config.NOTEBOOKS_DIR, show_default=True, help="Folder holding <stage>.ipynb.")
@click.option("--timeout", "cell_timeout", type=click.IntRange(min=1), default=CELL_TIMEOUT, show_default=True,
              help="Seconds one notebook cell may run.")
@click.option("--no-progress", is_flag=True, help="No progress bar (for logs).")
@click.option("--scheduler", envvar="SYSTEMIC_SCHEDULER", default=None, metavar="tcp://HOST:8786",
              help="Run the reports on this Dask scheduler's workers (default: $SYSTEMIC_SCHEDULER, else this "
                   "machine's cores).")
def report_command(council_dirs, out_dir, jobs, stages, services, period_start, period_end, notebooks_dir,
                   cell_timeout, no_progress, scheduler):
    """Render HTML reports for every service and stage of each council (default: every council in data/councils).

    A failing notebook does not stop the batch: its executed notebook is kept beside where the report would be,
    and the run ends with a summary of every failure and exit code 1.
    """
    try:
        result = run_batch(council_dirs, out_dir, jobs=jobs, stages=stages, services=services,
                           period_start=period_start, period_end=period_end, notebooks_dir=notebooks_dir,
                           progress=not no_progress, cell_timeout=cell_timeout, scheduler=scheduler)
    except SystemicError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(result.summary())
    click.echo(f"Reports: {result.index_path}")
    sys.exit(result.exit_code)
