"""Batch HTML reports: every stage notebook for every service of every council, side by side, in parallel.

``systemic report [COUNCIL_DIR ...] --out reports/`` (or ``run_batch``) validates each council, queues one job per
(council, service, stage) plus one organisation scan per council, and runs them in a process pool. Each worker
drives papermill and nbconvert in-process with a fresh kernel per notebook and writes, atomically:

    reports/<council>/<service>/<stage>.html   the report (no input cells, templates/report/)
    reports/<council>/<service>/<stage>.json   key figures, written by the notebook (report.Stage.save)
    reports/<council>/<service>/<stage>.ipynb  only when the notebook failed: the executed notebook, to debug
    reports/<council>/organisation_scan.html   the council-level scan
    reports/manifest.json, reports/index.html, reports/<council>/index.html
    reports/.../<page>.pdf                      with --pdf: each page above printed to A4 (``run/pdf.py``)

A failing notebook never stops the batch; a council that fails validation is skipped with its problems; nothing of
another council is overwritten or deleted. The run ends with a summary of every failure and exit code 1.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import click

from systemic_lib import config, words
from systemic_lib.data import cache
from systemic_lib.data.decisions import fold_council
from systemic_lib.errors import SystemicError, UnknownServiceError
from systemic_lib.run.engine import Interrupted, run_jobs
from systemic_lib.run.jobs import CELL_TIMEOUT, Job, JobError, JobResult
from systemic_lib.run.pdf import Printed, print_pages
from systemic_lib.run.pool import LocalEngine, machine_zygote
from systemic_lib.site.manifest import ManifestWriter, storage_error
from systemic_lib.site.pages import build_index_pages

ALL_STAGES = config.ALL_STAGES
STAGE_NAMES = config.STAGE_NAMES
INTERRUPTED = 130  #: exit code after Ctrl-C (128 + SIGINT), as shells expect


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
    planned: int = 0  #: jobs that were to run
    interrupted: bool = False  #: stopped by Ctrl-C: ``results`` hold what finished
    write_errors: list[str] = field(default_factory=list)  #: the manifest or index could not be written
    printed: Printed | None = None  #: with ``pdf``: the pages printed to PDF and those that failed

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
        """130 after Ctrl-C; 1 if anything asked for was not rendered (a failed notebook, a skipped council or
        stage) or the manifest could not be written; else 0."""
        if self.interrupted:
            return INTERRUPTED
        failed_pdfs = self.printed is not None and self.printed.failed
        return 1 if self.failed or self.skipped or self.write_errors or failed_pdfs else 0

    def summary(self) -> str:
        ran = len(self.ok) + len(self.failed)
        per = f", {self.seconds / ran:.1f} s per report" if ran else ""
        lines = [
            f"Rendered {len(self.ok)} of {ran} reports in {_duration(self.seconds)} with {self.workers} "
            f"worker(s){per}; {len(self.failed)} failed, {len(self.skipped)} skipped."
        ]
        if self.interrupted:
            lines.insert(
                0,
                f"INTERRUPTED: {ran} of {self.planned} reports finished before Ctrl-C; the other "
                f"{self.planned - ran} were not run (their earlier reports, if any, are untouched). "
                "What finished is in the manifest and the index pages.",
            )
        if self.printed is not None:
            lines += self.printed.summary()
        for message in self.write_errors:
            lines += ["", "NOT SAVED: " + message]
        if self.failed:
            lines.append("")
            lines.append(f"FAILED ({len(self.failed)}):")
            for r in self.failed:
                lines += ["  " + r.label] + ["    " + line for line in (r.error.describe() if r.error else [])]
                if r.notebook:
                    lines.append(f"    executed notebook kept: {Path(self.out_dir, r.notebook)}")
        if self.skipped:
            lines.append("")
            lines.append(f"SKIPPED ({len(self.skipped)}):")
            missing: dict[str, list[JobResult]] = {}
            for r in self.skipped:
                if r.error is not None and r.error.name == "MissingNotebook":
                    missing.setdefault(r.error.message, []).append(r)
                    continue
                lines += ["  " + r.label] + ["    " + line for line in (r.error.describe() if r.error else [])]
            for message, rs in missing.items():
                stage = rs[0].stage or ""
                lines.append(f"  {len(rs)} report(s) of {STAGE_NAMES.get(stage, stage)}: {message}")
        return "\n".join(lines)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{seconds:.1f} s"


# ------------------------------------------------------------------------------------------------------ planning


def council_folders(council_dirs=None) -> list[Path]:
    """The council folders to render: those named, or every folder in config.COUNCILS_DIR.

    A named folder without council.yaml whose sub-folders hold one (``data/councils``) stands for those councils.
    Paths come back resolved, so that ``northshire/..`` or ``.`` name a real folder (its name is the council's
    folder in the reports); a folder with no name (``/``) is refused.
    """
    if not council_dirs:
        root = config.COUNCILS_DIR
        if not root.is_dir():
            raise SystemicError(
                f"{root}: no councils to report on. Build the sample councils with `make sample` "
                "(or `systemic sample --out data/councils`), or name council folders."
            )
        council_dirs = [root]
    out: list[Path] = []
    for folder in (Path(p).expanduser().resolve() for p in council_dirs):
        if not folder.name:
            raise SystemicError(
                f"'{folder}' cannot be a council folder: its reports need the folder's name. Name "
                "the council's own folder (e.g. data/councils/northshire)."
            )
        subs = (
            sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
            if folder.is_dir() and not (folder / "council.yaml").exists()
            else []
        )
        if subs and any((p / "council.yaml").exists() for p in subs):
            out += subs
        else:
            out.append(folder)
    return list(dict.fromkeys(out))


def kernel_name(preferred: str = config.KERNEL_NAME) -> str:
    """The kernel to run notebooks with: ``systemic`` if installed, else ``python3`` with a warning."""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if preferred in specs:
        return preferred
    click.echo(
        f"Warning: the Jupyter kernel '{preferred}' is not installed; using 'python3'. Install it with "
        f"`{sys.executable} -m ipykernel install --sys-prefix --name {preferred}` (make install does this).",
        err=True,
    )
    return "python3"


def _skip(
    council: str,
    council_name: str,
    council_dir: Path,
    name: str,
    message: str,
    *,
    service=None,
    service_name=None,
    stage=None,
    problems=(),
) -> JobResult:
    error = JobError(name, message, problems=list(problems) if problems else None)
    return JobResult(
        council, council_name, service, service_name, stage, {"council_dir": str(council_dir)}, "skipped", error=error
    )


def plan(
    council_dirs,
    out_dir,
    *,
    stages=None,
    services=None,
    period_start=None,
    period_end=None,
    notebooks_dir=config.NOTEBOOKS_DIR,
    kernel="python3",
    cell_timeout=CELL_TIMEOUT,
    cache_dir=None,
) -> tuple[list[Job], list[JobResult], list[str]]:
    """Validate the councils and list the jobs: (jobs to run, skipped entries, messages for the user).

    With ``cache_dir`` the validation reads each council's tables into that table cache (``cache.py``) and every
    job's notebook loads them from there."""
    out_dir = Path(out_dir).resolve()
    notebooks_dir = Path(notebooks_dir).resolve()
    stages = tuple(stages) if stages else ALL_STAGES
    unknown = [s for s in stages if s not in ALL_STAGES]
    if unknown:
        raise SystemicError(f"unknown stage {', '.join(unknown)}; stages are {', '.join(ALL_STAGES)}")
    services = tuple(services) if services else None
    messages: list[str] = []
    cache_dir = str(Path(cache_dir).resolve()) if cache_dir else None
    found = _plan_councils(  # the councils are validated through the run's table cache
        council_dirs,
        out_dir,
        stages,
        services,
        notebooks_dir,
        messages,
        period_start,
        period_end,
        kernel,
        cell_timeout,
        cache_dir,
    )
    return found + (messages,)


def _plan_councils(
    council_dirs,
    out_dir,
    stages,
    services,
    notebooks_dir,
    messages,
    period_start,
    period_end,
    kernel,
    cell_timeout,
    cache_dir,
) -> tuple[list[Job], list[JobResult]]:
    from systemic_lib.data.council import Council, load_council
    from systemic_lib.data.stages import redacted_spec

    missing = {s for s in stages if not (notebooks_dir / f"{s}.ipynb").exists()}
    for s in sorted(missing, key=ALL_STAGES.index):
        messages.append(
            f"{_shown(notebooks_dir / (s + '.ipynb'))} does not exist: {STAGE_NAMES[s]} reports are skipped. "
            "Add the notebook (see docs/DEVELOPING.md) or leave this stage out with --stage."
        )

    if services is not None and config.COUNCIL_STAGE in stages and len(stages) < len(ALL_STAGES):
        messages.append("The organisation scan is council-wide: it is left out when --service is given.")
    jobs: list[Job] = []
    skipped: list[JobResult] = []
    slugs: dict[str, Path] = {}
    known_services: set[str] = set()
    for folder in council_folders(council_dirs):
        slug = folder.name
        if slug in slugs:
            messages.append(
                f"{folder}: another council folder named '{slug}' ({slugs[slug]}) is already in this "
                "batch; their reports would share reports/{slug}/. Rename one folder. Skipped."
            )
            skipped.append(
                _skip(slug, slug, folder.resolve(), "DuplicateCouncil", f"same folder name as {slugs[slug]}")
            )
            continue
        slugs[slug] = folder
        skip = _fold_decisions(folder, slug, messages) or _invalid(folder, slug, cache_dir, messages)
        if skip is not None:
            skipped.append(skip)
            continue
        council = load_council(folder, cache_dir=cache_dir)
        council = Council(council.path, redacted_spec(council.spec))  # its names reach the manifest and indexes
        wanted = list(council.services) if services is None else [s for s in services if s in council.services]
        known_services.update(council.services)
        if services is not None:
            absent = [s for s in services if s not in council.services]
            if absent:
                messages.append(
                    f"{folder / 'council.yaml'}: no service {', '.join(repr(s) for s in absent)} "
                    f"(services are: {', '.join(council.services)}); not rendered for {council.name}."
                )
        council_out = out_dir / slug
        todo = [(sid, s) for sid in wanted for s in config.STAGES if s in stages]
        if services is None and config.COUNCIL_STAGE in stages:
            todo.append((None, config.COUNCIL_STAGE))
        for sid, stage in todo:
            sname = council.services[sid].name if sid else None
            if stage in missing:
                skipped.append(
                    _skip(
                        slug,
                        council.name,
                        folder.resolve(),
                        "MissingNotebook",
                        f"{_shown(notebooks_dir / (stage + '.ipynb'))} does not exist",
                        service=sid,
                        service_name=sname,
                        stage=stage,
                    )
                )
                continue
            jobs.append(
                Job(
                    council=slug,
                    council_name=council.name,
                    council_dir=str(folder.resolve()),
                    service=sid,
                    service_name=sname,
                    stage=stage,
                    notebook=str(notebooks_dir / f"{stage}.ipynb"),
                    output_dir=str(council_out / sid if sid else council_out),
                    out_root=str(out_dir),
                    period_start=period_start,
                    period_end=period_end,
                    kernel_name=kernel,
                    cell_timeout=cell_timeout,
                    cache_dir=cache_dir,
                )
            )
    if services is not None and known_services:
        nowhere = [s for s in services if s not in known_services]
        if nowhere:
            raise UnknownServiceError(
                f"no council in this batch has service {', '.join(repr(s) for s in nowhere)}. Services are: "
                f"{', '.join(sorted(known_services))}. Use one of those ids (see each council.yaml)."
            )
    return jobs, skipped


def _fold_decisions(folder: Path, slug: str, messages: list[str]) -> JobResult | None:
    """A coached team's workshop decisions written into demand.csv, before anything reads it; the council's skipped
    entry when its store cannot be read or written (one council's store never stops the others), else None."""
    try:
        folded = fold_council(folder)
    except (OSError, SystemicError) as exc:
        message = (
            f"the demand workshop's decisions could not be written into the demand file ({exc}). "
            "No report of this council was changed."
        )
        messages.append(f"{folder}: skipped: {message}")
        return _skip(
            slug, _council_name_or(folder, slug), folder.resolve(), "DecisionStore", message, problems=[str(exc)]
        )
    if folded:
        messages.append(
            f"{folder}: {words.count(folded, 'decision')} from the demand workshop written into the demand file."
        )
    return None


def _invalid(folder: Path, slug: str, cache_dir: str | None, messages: list[str]) -> JobResult | None:
    """The council validated (through the run's table cache): its skipped entry when it has errors, else None."""
    from systemic_lib.data.contract import ERROR
    from systemic_lib.data.council import validate_council
    from systemic_lib.data.redact import redact

    errors = [p for p in validate_council(folder, cache_dir=cache_dir) if p.severity == ERROR]
    if not errors:
        return None
    message = (
        f"{len(errors)} error(s) in the council's data; fix them and check with "
        f"`systemic validate {folder}`. No report of this council was changed."
    )
    messages.append(f"{folder}: skipped: {message}\n" + "\n".join("  " + redact(p.describe()) for p in errors[:20]))
    return _skip(
        slug,
        _council_name_or(folder, slug),
        folder.resolve(),
        "InvalidCouncil",
        message,
        problems=[redact(p.describe()) for p in errors[:50]],  # a problem may quote a cell
    )


def _shown(path: Path) -> str:
    """A path as short as is clear: relative to the project if inside it."""
    try:
        return Path(path).resolve().relative_to(config.PROJECT_ROOT.resolve()).as_posix()
    except ValueError:
        return str(path)


def _council_name_or(folder: Path, default: str) -> str:
    """The council's name from council.yaml if it can be read at all (for a council with errors), redacted."""
    try:
        import yaml

        from systemic_lib.data.redact import redact

        data = yaml.safe_load((folder / "council.yaml").read_text(encoding="utf-8"))
        return redact(str(data.get("name") or default)) if isinstance(data, dict) else default
    except Exception:  # the council is being skipped for its problems; its name is a nicety
        return default


# ------------------------------------------------------------------------------------------------------- the run


def run_batch(
    council_dirs=None,
    out_dir=None,
    *,
    jobs: int | None = None,
    stages=None,
    services=None,
    period_start=None,
    period_end=None,
    notebooks_dir=config.NOTEBOOKS_DIR,
    progress: bool = True,
    cell_timeout: int = CELL_TIMEOUT,
    echo=None,
    cache_tables: bool = True,
    scheduler: str | None = None,
    security=None,
    cache_dir=None,
    warm_kernels: bool = True,
    pdf: bool = False,
) -> BatchResult:
    """Render every report asked for; returns what happened. Raises SystemicError only for a wrong request.

    With ``cache_tables`` each council's tables are read and validated once, into ``cache_dir`` (default
    ``config.CACHE_DIR``, outside the reports folder: the tables hold citizens' words; entries keyed by the files'
    content; unused ones go after ``cache.KEEP_DAYS``), and every notebook loads them from there. With
    ``warm_kernels`` each notebook's kernel is forked from a kernel zygote that imported the libraries and read the
    council once (``kernels.py``). With ``scheduler`` (a Dask scheduler's address; ``security``: its TLS
    certificates, ``certs.security``) the jobs run on that cluster's workers (``systemic_lib.run.cluster``), which
    get each council's folder, keep their own table cache and fork their own warm kernels. With ``pdf`` every page
    rendered (and the index pages of its councils) is then printed to a PDF beside it, here, where the reports are
    (``run/pdf.py``), on the Dask path too."""
    echo = echo or (lambda text: click.echo(text, err=True))
    began = time.perf_counter()
    out_dir = Path(out_dir or config.REPORTS_DIR).resolve()
    _check_dates(period_start, period_end)
    kernel = kernel_name()
    cache_dir = Path(cache_dir or config.CACHE_DIR) if cache_tables else None
    with machine_zygote(warm_kernels and not scheduler) as zygote:  # it imports while the councils are planned
        todo, skipped, messages = plan(
            council_dirs,
            out_dir,
            stages=stages,
            services=services,
            period_start=period_start,
            period_end=period_end,
            notebooks_dir=notebooks_dir,
            kernel=kernel,
            cell_timeout=cell_timeout,
            cache_dir=cache_dir,
        )
        for message in messages:
            echo(message)
        _make_folder(out_dir)
        workers = max(1, min(jobs or os.cpu_count() or 1, len(todo) or 1))
        saved = _Saver(out_dir, {j.council for j in todo} | {r.council for r in skipped if r.stage is not None})
        saved.add(skipped)
        interrupted = False
        try:
            if scheduler:  # a Dask cluster: systemic_lib.run.cluster runs the same jobs on its workers
                from systemic_lib.run import cluster

                results = cluster.execute(
                    todo,
                    scheduler=scheduler,
                    security=security,
                    progress=progress,
                    echo=echo,
                    on_result=lambda r: saved.add([r]),
                    warm_kernels=warm_kernels,
                )
            else:
                engine = LocalEngine(workers, warm=warm_kernels, zygote=zygote)
                results = run_jobs(engine, todo, progress=progress, on_result=lambda r: saved.add([r]))
        except Interrupted as stop:
            results, interrupted = stop.results, True
    results = results + skipped
    index_path = saved.index({r.council for r in results})
    printed = None
    if pdf and not interrupted:
        echo("Printing the pages to PDF (A4) with Chromium...")
        printed = print_pages(pages_to_print(out_dir, results), out_dir)
        saved.pdfs(printed)
    if cache_dir is not None:
        cache.prune(cache_dir)
    return BatchResult(
        out_dir,
        results,
        messages,
        saved.manifest_path,
        index_path,
        time.perf_counter() - began,
        workers,
        planned=len(todo),
        interrupted=interrupted,
        write_errors=saved.errors,
        printed=printed,
    )


def pages_to_print(out_dir: Path, results: list[JobResult]) -> list[Path]:
    """The pages a batch wrote: each report rendered, then its councils' index and measures pages, then the index
    of all councils (which compares the councils)."""
    reports = [out_dir / r.report for r in results if r.status == "ok" and r.report]
    councils = sorted({r.council for r in results if r.status == "ok"})
    site = [out_dir / c / name for c in councils for name in ("index.html", "measures.html")]
    return reports + [p for p in site if p.exists()] + [p for p in [out_dir / "index.html"] if p.exists()]


def _check_dates(*values) -> None:
    for value, option in zip(values, ("period start", "period end")):
        if value is not None:
            try:
                dt.date.fromisoformat(str(value))
            except ValueError:
                raise SystemicError(f"{option} '{value}' is not a date; write it as YYYY-MM-DD") from None


def _make_folder(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SystemicError((storage_error(exc) or {}).get("message") or f"cannot create {out_dir}: {exc}") from None


class _Saver:
    """The run's manifest, written after every job, and the index pages at the end; a full disk or a folder that
    may not be written is recorded (once) and named in the summary instead of crashing the run."""

    def __init__(self, out_dir: Path, valid_councils: set[str]):
        self.out_dir = out_dir
        self.errors: list[str] = []
        self.manifest_path: Path | None = None
        self.writer: ManifestWriter | None = None
        try:
            self.writer = ManifestWriter(out_dir, valid_councils=valid_councils)
        except OSError as exc:
            self._failed("the manifest", exc)

    def _failed(self, what: str, exc: OSError) -> None:
        message = (storage_error(exc) or {"message": str(exc)})["message"]
        if not any(message in e for e in self.errors):
            self.errors.append(f"{what}: {message}")

    def add(self, results) -> None:
        if self.writer is None or not results:
            return
        try:
            self.manifest_path = self.writer.add(results)
        except OSError as exc:
            self._failed("the manifest", exc)

    def pdfs(self, printed: Printed) -> None:
        if self.writer is None:
            return
        try:
            self.manifest_path = self.writer.add_pdfs(printed.entries())
        except OSError as exc:
            self._failed("the manifest", exc)

    def index(self, councils: set[str]) -> Path | None:
        try:
            return build_index_pages(self.out_dir, councils=councils)
        except OSError as exc:
            self._failed("the index pages", exc)
            return None


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
@click.option(
    "--out",
    "-o",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Reports folder (default: {config.REPORTS_DIR}).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Notebooks run at once (default: the number of cores).",
)
@click.option(
    "--stage",
    "stages",
    multiple=True,
    type=click.Choice(ALL_STAGES),
    help="Only this stage (repeatable). Default: every stage and the organisation scan.",
)
@click.option(
    "--service",
    "services",
    multiple=True,
    help="Only this service id (repeatable); the organisation scan is then left out.",
)
@click.option("--period-start", callback=_date_option, default=None, help="First day of data, YYYY-MM-DD.")
@click.option("--period-end", callback=_date_option, default=None, help="Last day of data, YYYY-MM-DD.")
@click.option(
    "--notebooks",
    "notebooks_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=config.NOTEBOOKS_DIR,
    show_default=True,
    help="Folder holding <stage>.ipynb.",
)
@click.option(
    "--timeout",
    "cell_timeout",
    type=click.IntRange(min=1),
    default=CELL_TIMEOUT,
    show_default=True,
    help="Seconds one notebook cell may run.",
)
@click.option("--no-progress", is_flag=True, help="No progress bar (for logs).")
@click.option(
    "--no-cache",
    is_flag=True,
    help=f"Parse every table in every notebook instead of once per council (cache: {config.CACHE_DIR}; "
    "$SYSTEMIC_CACHE_DIR moves it).",
)
@click.option(
    "--scheduler",
    envvar="SYSTEMIC_SCHEDULER",
    default=None,
    metavar="tls://HOST:8786",
    help="Run the reports on this Dask scheduler's workers (default: $SYSTEMIC_SCHEDULER, else this machine's cores).",
)
@click.option(
    "--certs",
    "certs_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=config.CERTS_DIR,
    show_default=True,
    help="The cluster's certificates (systemic certs), for a tls:// scheduler: ca.pem, client.pem, client-key.pem.",
)
@click.option(
    "--pdf",
    is_flag=True,
    help="Also print each page rendered (and its councils' index pages) to an A4 PDF beside it, with Chromium, on "
    "this machine (with --scheduler too: the pages come back here first). A page that fails to print is named in "
    "the summary and the manifest; the others are printed.",
)
def report_command(
    council_dirs,
    out_dir,
    jobs,
    stages,
    services,
    period_start,
    period_end,
    notebooks_dir,
    cell_timeout,
    no_progress,
    no_cache,
    scheduler,
    certs_dir,
    pdf,
):
    """Render HTML reports for every service and stage of each council (default: every council in data/councils).

    A failing notebook does not stop the batch: its executed notebook is kept beside where the report would be,
    and the run ends with a summary of every failure and exit code 1.
    """
    try:
        security = None
        if scheduler and scheduler.startswith("tls://"):
            from systemic_lib.run.certs import security as tls

            security = tls(certs_dir)
        result = run_batch(
            council_dirs,
            out_dir,
            jobs=jobs,
            stages=stages,
            services=services,
            period_start=period_start,
            period_end=period_end,
            notebooks_dir=notebooks_dir,
            progress=not no_progress,
            cell_timeout=cell_timeout,
            cache_tables=not no_cache,
            scheduler=scheduler,
            security=security,
            pdf=pdf,
        )
    except SystemicError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(result.summary())
    if result.index_path:
        click.echo(f"Reports: {result.index_path}")
    sys.exit(result.exit_code)
