"""What the batch runs and what it gets back: a ``Job`` (one notebook for one council, service and stage), its
``JobResult`` (a manifest entry) and, when it did not work, its ``JobError``.

Plain, picklable values: a job crosses into a worker process or onto a Dask worker, and its result comes back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path

from systemic_lib import config
from systemic_lib.site.manifest import describe_error

CELL_TIMEOUT = 600  #: seconds one cell may run before the job fails
RETRIES_AFTER_LOST_WORKER = 1  #: a job whose worker died runs once more, on another worker


@dataclass(frozen=True)
class Job:
    """One notebook to run."""

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
    cache_dir: str | None = None  #: the run's table cache (the notebook's ``cache_dir``), or None for none

    @property
    def parameters(self) -> dict:
        """The report's parameters, as the manifest records them."""
        return {
            "council_dir": self.council_dir,
            "service": self.service,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "output_dir": self.output_dir,
        }

    @property
    def notebook_parameters(self) -> dict:
        """What papermill injects into the notebook's ``parameters`` cell: the report's parameters and the run's
        table cache."""
        return {**self.parameters, "cache_dir": self.cache_dir}

    def path(self, suffix: str) -> Path:
        return Path(self.output_dir) / f"{self.stage}{suffix}"

    @property
    def running(self) -> Path:
        """The executed notebook papermill writes (hidden; kept as ``<stage>.ipynb`` only if the job fails)."""
        return Path(self.output_dir) / f".{self.stage}.running.ipynb"

    @property
    def marker(self) -> Path:
        """A small file naming the cell running now (hidden; removed when the job ends)."""
        return self.running.with_suffix(".json")

    def clear(self) -> None:
        """Remove the job's hidden files (its running notebook and marker)."""
        self.running.unlink(missing_ok=True)
        self.marker.unlink(missing_ok=True)

    def relative(self, path: Path) -> str:
        return Path(path).relative_to(self.out_root).as_posix()

    @property
    def label(self) -> str:
        return " / ".join(x for x in (self.council, self.service, self.stage) if x)


@dataclass
class JobError:
    """Why a job did not render: a name (the exception's, or ``WorkerLost``, ``DiskFull``, ``InvalidCouncil``, ...)
    and a message in plain words; for an error in a cell, the cell's number in the notebook as written, its
    execution count and its first line; for a skipped council, its problems."""

    name: str
    message: str
    cell: int | None = None
    execution_count: int | None = None
    source: str | None = None
    problems: list[str] | None = None

    @classmethod
    def of(cls, error: dict) -> JobError:
        """From a manifest entry's error (``storage_error``'s, for one)."""
        return cls(**error)

    @classmethod
    def raised(cls, exc: BaseException, message: str | None = None) -> JobError:
        return cls(type(exc).__name__, message if message is not None else str(exc))

    def at_cell(self, cell: int, execution_count: int | None, source: str) -> None:
        self.cell, self.execution_count, self.source = cell, execution_count, source

    def to_dict(self) -> dict:
        """The manifest's error entry (what is not known is left out)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def describe(self) -> list[str]:
        """Short lines: where it happened, then what it was."""
        return describe_error(self.to_dict())


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
    error: JobError | None = None
    report: str | None = None  #: the HTML, relative to the reports folder
    notebook: str | None = None  #: the executed notebook kept on failure, relative to the reports folder
    run_at: str = field(default_factory=lambda: dt.datetime.now().isoformat(timespec="seconds"))

    @classmethod
    def of(cls, job: Job, error: JobError | None, *, seconds: float = 0.0, attempts: int = 0) -> JobResult:
        """The result of ``job``: ok without an error, else failed."""
        return cls(
            job.council,
            job.council_name,
            job.service,
            job.service_name,
            job.stage,
            job.parameters,
            "ok" if error is None else "failed",
            seconds=seconds,
            attempts=attempts,
            error=error,
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "error": self.error.to_dict() if self.error is not None else None}

    @property
    def label(self) -> str:
        where = " / ".join(x for x in (self.council, self.service) if x)
        return f"{where} / {config.STAGE_NAMES.get(self.stage, self.stage)}" if self.stage else where


def retry_lost(losses: int) -> bool:
    """Whether a job whose worker died under it (killed, out of memory, machine gone) is run again on another
    worker, after its ``losses``-th loss: once. A second loss fails it, so one job cannot take the batch down."""
    return losses <= RETRIES_AFTER_LOST_WORKER
