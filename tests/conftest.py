"""Shared fixtures: the Agg backend (set once), a council factory, the hand-computed Testshire council, a stage
notebook runner, and a real headless browser.

Testshire (``testshire`` fixture; the files are in ``TESTSHIRE``) is small enough to compute by hand:

Demand, housing repairs: 10 dated contacts (C12 has no date, so 11 rows), value 4 (C01 C04 C07 C12), failure 4
(C02 C03 C05 C08: "when will repair be done" 3, "repair not right" 1), unclassified 2 (C06 blank, C09 'weird', an
unknown spelling). One-stop yes 3 (C01 C04 C09), no 4 (C02 C03 C05 C08). Council tax: 1 failure (C10). ``parking``
(C11) is not a service in council.yaml. C02 and C07 hold personal details (a mobile number, a postcode) and C02 and
C03 markup, for redaction and escaping.

Flow, housing repairs, first to last step: R1 10 days (W1 -> W2 -> W1: 2 hand-offs, 2 people); R2 4 days
(W1 -> W3: 1, 2); R3 0.5 days (W1 -> W1: 0, 1); R4 open in cases.csv (W1 -> W2: 1, 2). Closed times [0.5, 4, 10]:
median 4; 85th percentile 4 + 0.7 x 6 = 8.2. Hand-offs (2+1+0+1)/4 = 1.0, people (2+2+1+2)/4 = 1.75. Council tax:
T1 30 days (W5 -> W6: 1 hand-off, 2 people). Waste collection: no contacts and no events.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest

from systemic_lib import config

CHROMIUM_ARGS = [
    "--lang=en-GB",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

TESTSHIRE = {
    "council.yaml": textwrap.dedent("""\
        name: Testshire Council
        services:
          - {id: housing-repairs, name: Housing repairs, purpose: Fix my home properly first time}
          - {id: council-tax, name: Council tax, purpose: Pay the right amount easily}
          - {id: waste, name: Waste collection, purpose: Take my bins when you said}
    """),
    "demand.csv": textwrap.dedent("""\
        contact_id,service,received_at,channel,verbatim,demand_type,classification,failure_type,what_matters,one_stop
        C01,housing-repairs,2024-01-01 09:00,phone,My boiler is broken,fix boiler,value,,warm home,yes
        C02,housing-repairs,2024-01-02 10:00,phone,When will you come? <b>now</b> ring 07700 900123,when will repair be done,Failure ,progress chasing,knowing when,no
        C03,housing-repairs,2024-01-03 11:00,email,Still waiting <b>!</b>,when will repair be done,FAIL,progress chasing,Knowing when.,no
        C04,housing-repairs,2024-01-08 09:00,web,Leak in the roof,fix roof,value demand,,dry home,yes
        C05,housing-repairs,2024-01-09 09:00,phone,You fixed it wrong,repair not right,failure,not done right,,no
        C06,housing-repairs,2024-01-10 09:00,phone,,fix boiler,,,,
        C07,housing-repairs,2024-01-16 09:00,email,Boiler again at SW1A 1AA,fix boiler,value,,warm home,
        C08,housing-repairs,2024-01-17 09:00,phone,Chasing again,when will repair be done,failure,progress chasing,,no
        C09,housing-repairs,2024-01-18 09:00,phone,x,fix boiler,weird,,,yes
        C10,council-tax,2024-01-02 09:00,web,Bill wrong,wrong bill,failure,not done right,,no
        C11,parking,2024-01-03 09:00,phone,Permit please,permit,value,,,yes
        C12,housing-repairs,,phone,No date on this one,fix roof,value,,,
    """),
    "events.csv": textwrap.dedent("""\
        case_id,service,activity,timestamp,worker,team
        R1,housing-repairs,Log repair,2024-01-01 09:00,W1,Desk
        R1,housing-repairs,Inspect,2024-01-03 09:00,W2,Surveyors
        R1,housing-repairs,Fix,2024-01-11 09:00,W1,Desk
        R2,housing-repairs,Log repair,2024-01-02 09:00,W1,Desk
        R2,housing-repairs,Fix,2024-01-06 09:00,W3,Trades
        R3,housing-repairs,Log repair,2024-01-05 09:00,W1,Desk
        R3,housing-repairs,Fix,2024-01-05 21:00,W1,Desk
        R4,housing-repairs,Log repair,2024-01-10 09:00,W1,Desk
        R4,housing-repairs,Inspect,2024-01-20 09:00,W2,Surveyors
        T1,council-tax,Receive change,2024-01-02 09:00,W5,Revenues
        T1,council-tax,Send new bill,2024-02-01 09:00,W6,Billing
    """),
    "cases.csv": textwrap.dedent("""\
        case_id,service,opened_at,closed_at
        R1,housing-repairs,2024-01-01 09:00,2024-01-11 09:00
        R2,housing-repairs,2024-01-02 09:00,2024-01-06 09:00
        R3,housing-repairs,2024-01-05 09:00,2024-01-05 21:00
        R4,housing-repairs,2024-01-10 09:00,
        T1,council-tax,2024-01-02 09:00,2024-02-01 09:00
    """),
    "activities.csv": textwrap.dedent("""\
        service,activity,step_type,category
        housing-repairs,Log repair,value,contact
        housing-repairs,Inspect,waste,check
        housing-repairs,Fix,value,delivery
        council-tax,Receive change,value,contact
        council-tax,Send new bill,value,delivery
    """),
}
TESTSHIRE_SERVICES = {"housing-repairs": "Housing repairs", "council-tax": "Council tax", "waste": "Waste collection"}


def write_council(folder: Path, files: dict[str, str | bytes | None]) -> Path:
    """A council folder holding ``files`` (name -> text or bytes; None leaves a file out)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if content is None:
            continue
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            (folder / name).write_text(content, encoding="utf-8")
    return folder


def edit_rows(path: Path, id_column: str, row_id: str, **values) -> None:
    """What a person editing a council table does (the classifier, a team's notes): set cells of one row, as text,
    adding a column where it is new."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col, value in values.items():
        if col not in frame:
            frame[col] = ""
        frame.loc[frame[id_column] == row_id, col] = value
    frame.to_csv(path, index=False)


def runs_after_a_save(path: Path, action, save) -> None:
    """Hold ``path``'s lock (a person's save in progress), start ``action`` in a thread, check it waits, do
    ``save`` while still holding the lock, then let ``action`` finish: an importer must not write over the save."""
    import threading
    import time

    from systemic_lib.data.files import locked

    done = threading.Event()
    with locked(path):
        t = threading.Thread(target=lambda: (action(), done.set()))
        t.start()
        time.sleep(0.5)
        assert not done.is_set()  # blocked behind the save
        save()
    t.join(20)
    assert done.is_set()


@pytest.fixture
def council_factory(tmp_path):
    """``make(name="testshire", base=TESTSHIRE, **files)``: a council folder under tmp_path from ``base`` with
    ``files`` replacing or adding tables (``council_yaml=`` for council.yaml, ``demand=`` for demand.csv, ...;
    ``events=None`` leaves events.csv out). ``base={}`` starts from nothing."""

    def make(name: str = "testshire", *, base: dict | None = None, **files) -> Path:
        chosen = dict(TESTSHIRE if base is None else base)
        for key, content in files.items():
            filename = "council.yaml" if key == "council_yaml" else key if "." in key else f"{key}.csv"
            chosen[filename] = content
        return write_council(tmp_path / name, chosen)

    return make


@pytest.fixture
def testshire(council_factory) -> Path:
    """The hand-computed Testshire council folder (see this module's docstring)."""
    return council_factory()


def run_notebook(name: str, output: Path, **parameters) -> tuple[dict | None, str]:
    """Execute ``notebooks/<name>.ipynb`` as the batch does (SYSTEMIC_BATCH=1, papermill, python3 kernel) with
    ``parameters``; returns ``(<stage>.json as a dict or None, every output the reader would see as one string)``.
    ``output`` is the folder the stage writes its JSON into; the executed notebook is kept beside it."""
    import nbformat
    import papermill

    output.mkdir(parents=True, exist_ok=True)
    done = output / f"{name}.executed.ipynb"
    old = os.environ.get("SYSTEMIC_BATCH")
    os.environ["SYSTEMIC_BATCH"] = "1"
    try:
        papermill.execute_notebook(
            str(config.NOTEBOOKS_DIR / f"{name}.ipynb"),
            str(done),
            cwd=str(config.NOTEBOOKS_DIR),
            kernel_name="python3",
            progress_bar=False,
            parameters={**parameters, "output_dir": str(output)},
        )
    finally:
        if old is None:
            os.environ.pop("SYSTEMIC_BATCH", None)
        else:
            os.environ["SYSTEMIC_BATCH"] = old
    shown = "\n".join(
        str(o.get("data", {}).get("text/html", "")) + str(o.get("text", ""))
        for c in nbformat.read(done, as_version=4).cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    stage = "organisation_scan" if name == "organisation_scan" else name
    path = output / f"{stage}.json"
    return (json.loads(path.read_text()) if path.exists() else None), shown


@pytest.fixture
def run_stage_notebook(tmp_path):
    """``run_stage_notebook(name, **params) -> (figures, html)``: one stage notebook rendered as the batch does."""
    counter = iter(range(10_000))

    def run(name: str, **parameters):
        return run_notebook(name, tmp_path / f"run-{name}-{next(counter)}", **parameters)

    return run


@pytest.fixture
def shown(monkeypatch) -> list[str]:
    """Every piece of HTML the report helpers display, in order, instead of showing it."""
    from systemic_lib.display import report

    out: list[str] = []
    monkeypatch.setattr(report, "_display", out.append)
    return out


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for a server a test starts (a Dask scheduler, `systemic coach`)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium driven by Playwright. `make test` installs Chromium; on CI a missing one fails."""
    path = chromium_path()
    if path is None:
        missing_oracle("Chromium", "`make browser` installs it (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class SampleReports:
    """The sample councils' reports, rendered once per test session (``sample_reports``): ``northshire`` is the batch
    of every stage of every Northshire service and its scan; ``westmere`` that of Westmere's community hub (a new
    service) and housing repairs (a service it shares with Northshire, for the councils compared)."""

    out_dir: Path
    councils: Path
    northshire: object  #: run.batch.BatchResult
    westmere: object


@pytest.fixture(scope="session")
def sample_reports(tmp_path_factory, worker_id) -> SampleReports:
    """The sample councils rendered by the batch once per test session, shared by every xdist worker: the first to
    ask renders under a lock, the others read what it wrote (every page type a reader sees: each stage page, a new
    service's pages, the scan, a council's index and measures page, the councils' index with the councils
    compared)."""
    import pickle

    from systemic_lib.data.files import locked
    from systemic_lib.data.sample import write_sample_councils
    from systemic_lib.run.batch import run_batch

    base = tmp_path_factory.getbasetemp()
    root = (base if worker_id == "master" else base.parent) / "sample-reports"
    root.mkdir(exist_ok=True)
    done = root / "batches.pickle"
    with locked(done):
        if not done.exists():
            folders = {f.name: f for f in write_sample_councils(root / "councils")}
            quiet = {"jobs": 2, "progress": False, "echo": lambda _: None, "cache_dir": root / "cache"}
            northshire = run_batch([folders["northshire"]], root / "reports", **quiet)
            westmere = run_batch(
                [folders["westmere"]], root / "reports", services=["community-hub", "housing-repairs"], **quiet
            )
            done.write_bytes(pickle.dumps((northshire, westmere)))
        northshire, westmere = pickle.loads(done.read_bytes())
    return SampleReports(root / "reports", root / "councils", northshire, westmere)


def on_ci() -> bool:
    """Whether the suite runs on CI (``CI=true``), where every oracle must be present."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing_oracle(what: str, fix: str) -> None:
    """A check's oracle is missing (pm4py, the real logs in ``../shared``, Graphviz's ``dot``, Chromium, lifelines):
    skip plainly on a developer's machine; fail on CI, so that the suite never quietly looks away (issue 23)."""
    if on_ci():
        pytest.fail(f"{what} is missing on CI: {fix}")
    pytest.skip(f"{what} is missing: {fix}")


def needs_file(path: Path) -> Path:
    """``path`` (a real log in ../shared), or ``missing_oracle``."""
    if not Path(path).exists():
        missing_oracle(f"the real data file {path}", "put the shared folder beside the project (../shared)")
    return Path(path)


def needs_dot() -> None:
    """Graphviz's ``dot``, or ``missing_oracle``."""
    if shutil.which("dot") is None:
        missing_oracle("Graphviz (dot)", "`make install` installs it (Debian package graphviz)")


def needs_pm4py():
    """pm4py (the field's standard the flow figures are checked against), or ``missing_oracle``."""
    try:
        import pm4py
    except ImportError:
        missing_oracle("pm4py", "`make install` installs it (test-only)")
    return pm4py


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The shared real public logs: skipped plainly if they are not beside the project, a failure on CI."""
    return needs_file(config.SHARED_REAL_DATA)


# ------------------------------------------------------------------ issue 23: every CLI invocation checks its exit code
class _CheckedResult:
    """What ``CliRunner.invoke`` returns in a test: the click Result, noting whether its exit code was looked at."""

    def __init__(self, result):
        self._result, self._read = result, False

    @property
    def exit_code(self) -> int:
        self._read = True
        return self._result.exit_code

    def __getattr__(self, name):
        return getattr(self._result, name)


@pytest.fixture(autouse=True)
def _cli_exit_codes_are_checked(monkeypatch, request):
    """A test that runs a CLI command must look at its exit code: a command that crashed still leaves output a
    test could be satisfied with (a re-import test passed while the import crashed)."""
    from click.testing import CliRunner

    made: list[_CheckedResult] = []
    original = CliRunner.invoke

    def invoke(self, *args, **kwargs):
        made.append(_CheckedResult(original(self, *args, **kwargs)))
        return made[-1]

    monkeypatch.setattr(CliRunner, "invoke", invoke)
    yield
    unchecked = [r for r in made if not r._read]
    if unchecked and not getattr(request.node, "rep_call_failed", False):
        pytest.fail(
            f"{request.node.name}: {len(unchecked)} CLI invocation(s) whose exit code the test never checked "
            f"(the first exited {unchecked[0]._result.exit_code}: {unchecked[0]._result.output[-300:]!r})"
        )
