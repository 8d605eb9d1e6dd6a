"""The interactive tools as a person uses them: a real JupyterLab server, the notebooks opened in headless Chromium.

One JupyterLab server for the module (127.0.0.1, a free port, a token, no browser of its own), rooted in a tmp folder
holding copies of the notebooks and a freshly generated sample council. Each notebook copy gets the tmp council as
its parameters (papermill-style: an ``injected-parameters`` cell after the ``parameters`` cell), is opened in
JupyterLab, run with Run > Run All Cells, and then used through the page: dropdowns chosen, sliders dragged, buttons
clicked. What changed is checked on the page and, for the classifier and the learning-log form, in the council's
files on disk. Screenshots of each notebook's widgets are written under the test's tmp folder (or to
``$SYSTEMIC_LAB_SCREENSHOTS`` if set) for a person to look at.

The server is stopped (its whole process group) when the module ends, also after a failure.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from systemic_lib import config
from systemic_lib.data.sample import write_sample_councils

pytestmark = [pytest.mark.slow, pytest.mark.browser]

COUNCIL = "northshire"
SERVICE = "health-social-care"  # has unclassified contacts, events, an experiment, a learning log, a system change
NOTEBOOKS = ("demand", "flow", "measure", "experiment")

SERVER_START_S = 90  # JupyterLab answering /api/status
OPEN_S = 60_000  # ms: notebook opened, kernel idle
RUN_ALL_S = 150_000  # ms: every cell of a notebook executed
ACT_S = 30_000  # ms: a widget reacting to one action (includes a kernel round trip and a redraw)

# User settings for this server only: render every cell (no virtual scrolling), no news or update checks.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,
    },
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


# ------------------------------------------------------------------------------------------------------- server
@dataclass
class Lab:
    url: str
    token: str
    root: Path
    council: Path
    shots: Path
    log: Path

    def api(self, method: str, path: str):
        req = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Stop every kernel the pages started, so one notebook's kernel does not slow the next."""
        for session in self.api("GET", "/api/sessions") or []:
            self.api("DELETE", f"/api/sessions/{session['id']}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kernel_name() -> str:
    """``systemic`` (installed by ``make install``) if this environment has it, else the environment's python3."""
    from jupyter_client.kernelspec import KernelSpecManager

    return config.KERNEL_NAME if config.KERNEL_NAME in KernelSpecManager().find_kernel_specs() else "python3"


def _copy_notebook(name: str, dest: Path, params: dict, kernel: str) -> Path:
    """The notebook with an ``injected-parameters`` cell after its ``parameters`` cell, as papermill writes it."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(config.NOTEBOOKS_DIR / f"{name}.ipynb"))
    nb = parameterize_notebook(nb, params)
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    for cell in nb.cells:  # a clean notebook, as a person opens it
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    path = dest / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)  # the server and the kernels it started (same new session)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    folders = write_sample_councils(root / "councils")
    council = next(f for f in folders if f.name == COUNCIL)
    (root / "notebooks").mkdir()
    kernel = _kernel_name()
    for name in NOTEBOOKS:
        _copy_notebook(name, root / "notebooks", {"council_dir": str(council), "service": SERVICE}, kernel)
    home = root / ".jupyter-home"
    for rel, value in LAB_SETTINGS.items():
        f = home / "lab-settings" / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(value))
    shots = Path(os.environ.get("SYSTEMIC_LAB_SCREENSHOTS") or root / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)

    env = {k: v for k, v in os.environ.items() if k not in {"SYSTEMIC_BATCH", "JUPYTER_CONFIG_DIR"}}
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        IPYTHONDIR=str(home / "ipython"),
        PYTHONUNBUFFERED="1",
    )
    port, token = _free_port(), uuid.uuid4().hex
    log = root / "jupyterlab.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.allow_root=True",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Lab(f"http://127.0.0.1:{port}", token, root, council, shots, log)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                server.api("GET", "/api/status")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer in {SERVER_START_S} s:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield server
    finally:
        _stop(proc)


# --------------------------------------------------------------------------------------------------------- page
@pytest.fixture
def page(lab, browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1800}, locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(ACT_S)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.errors = errors
    try:
        yield pg
    finally:
        try:
            pg.screenshot(path=lab.shots / f"{request.node.name}-last.png", full_page=False)
        except Exception:
            pass
        context.close()
        try:
            lab.shutdown_kernels()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass


def open_and_run(page, lab: Lab, name: str) -> None:
    """Open ``notebooks/<name>.ipynb`` in JupyterLab and Run All Cells from the Run menu; fail on a cell error."""
    # A workspace of its own: JupyterLab does not reopen (and restart kernels for) the notebooks of earlier tests.
    page.goto(f"{lab.url}/lab/workspaces/{name}/tree/notebooks/{name}.ipynb?token={lab.token}", timeout=OPEN_S)
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell").first.wait_for(timeout=OPEN_S)
    page.wait_for_function(
        """() => { const k = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
                   return k && k.getAttribute('data-status') === 'idle'; }""",
        timeout=OPEN_S,
    )
    page.get_by_text(re.compile(r"\| Idle$")).wait_for(timeout=OPEN_S)  # status bar: the kernel has started
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
    state = page.wait_for_function(
        """() => {
             const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
             if (!nb) return false;
             const err = nb.querySelector('[data-mime-type="application/vnd.jupyter.error"]');
             if (err) return 'error: ' + err.innerText.slice(0, 3000);
             const prompts = [...nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
             const ind = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
             return prompts.length && prompts.every(p => /\\[\\d+\\]/.test(p.textContent))
                    && ind && ind.getAttribute('data-status') === 'idle' ? 'done' : false;
           }""",
        timeout=RUN_ALL_S,
        polling=500,
    ).json_value()
    assert state == "done", f"{name}.ipynb failed in JupyterLab: {state}"


def widget(page, kind: str, label: str):
    """The ipywidget of class ``widget-<kind>`` whose description is ``label`` (as a person reads it)."""
    return page.locator(
        f".widget-{kind}", has=page.locator("label.widget-label", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
    )


def button(page, text: str):
    return page.locator("button.jupyter-button", has_text=text)


def image_bytes(img) -> bytes:
    """The PNG an ipywidgets ``Image`` shows (read back from its blob URL in the page)."""
    b64 = img.evaluate("""async (el) => { const r = await fetch(el.src); const b = new Uint8Array(await r.arrayBuffer());
                                         let s = ''; for (const x of b) s += String.fromCharCode(x); return btoa(s); }""")
    return base64.b64decode(b64)


def wait_for_new_image(page, img, before: bytes, timeout: int = ACT_S) -> bytes:
    """Wait until the ``Image`` widget shows a picture different from ``before``; return it."""
    deadline = time.monotonic() + timeout / 1000
    while time.monotonic() < deadline:
        now = image_bytes(img)
        if now != before:
            return now
        page.wait_for_timeout(200)
    raise AssertionError(f"the picture did not change within {timeout / 1000:.0f} s")


def drag_slider(page, slider, fraction: float) -> None:
    """Drag the slider's handle to ``fraction`` of the track, with the mouse, as a person does."""
    slider.scroll_into_view_if_needed()
    track = slider.locator(".noUi-target").bounding_box()
    handle = slider.locator(".noUi-handle").bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(track["x"] + track["width"] * fraction, handle["y"] + handle["height"] / 2, steps=8)
    page.mouse.up()


def wait_for_change(page, locator, before: str, timeout: int = ACT_S) -> str:
    """Wait until ``locator``'s text differs from ``before``; return the new text."""
    deadline = time.monotonic() + timeout / 1000
    while time.monotonic() < deadline:
        now = locator.inner_text()
        if now != before:
            return now
        page.wait_for_timeout(200)
    raise AssertionError(f"text did not change within {timeout / 1000:.0f} s: {before!r}")


def wait_idle(page) -> None:
    """Wait until the kernel has finished what the last action asked of it (status bar: "| Idle")."""
    page.wait_for_timeout(300)  # let the action's message reach the kernel first
    page.get_by_text(re.compile(r"\| Idle$")).wait_for(timeout=ACT_S)


def shot(page, lab: Lab, locator, name: str) -> Path:
    wait_idle(page)
    path = lab.shots / f"{name}.png"
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=path)
    return path


# -------------------------------------------------------------------------------------------------------- tests
def test_demand_explorer_and_classifier(page, lab):
    demand_csv = lab.council / "demand.csv"
    original = demand_csv.read_bytes()
    raw = pd.read_csv(demand_csv, dtype=str, keep_default_na=False)
    mine = raw[raw["service"] == SERVICE]
    todo = mine[mine["classification"].str.strip() == ""]
    assert len(todo) > 2, "the sample service needs unclassified contacts for this test"

    open_and_run(page, lab, "demand")

    # The demand explorer: its filters are there to use.
    for label in ("Service", "Channel", "Show"):
        assert widget(page, "dropdown", label).locator("select").is_visible(), f"no {label} dropdown"
    for label in ("From", "To"):
        assert widget(page, "datepicker", label).locator("input").is_visible(), f"no {label} date picker"
    headline = page.locator(".jp-OutputArea-output .widget-html", has=page.locator("p.headline"))
    before = headline.inner_text()
    assert f"Contacts {len(mine):,}" in before, before
    explorer = page.locator(".widget-vbox", has=widget(page, "dropdown", "Channel")).first
    shot(page, lab, explorer, "demand-explorer-all")

    channel = mine["channel"].value_counts().index[1]  # the second most used channel
    widget(page, "dropdown", "Channel").locator("select").select_option(label=channel)
    after = wait_for_change(page, headline, before)
    assert f"Contacts {(mine['channel'] == channel).sum():,}" in after, after
    shot(page, lab, explorer, "demand-explorer-channel")

    # The classifier: the first unclassified contact of the service, in file order.
    first = todo.iloc[0]
    progress = page.locator(".jp-OutputArea-output .widget-html", has_text="to classify")
    assert re.search(rf"\b1 of {len(todo):,} to classify", progress.inner_text()), progress.inner_text()
    assert first["contact_id"] in progress.inner_text()
    classifier = page.locator(".widget-vbox", has=button(page, "Failure demand")).first
    shot(page, lab, classifier, "classifier-first")

    widget(page, "dropdown", "Failure type").locator("select").select_option(label="progress chasing")
    widget(page, "text", "What matters").locator("input").fill("knowing when someone will visit")
    button(page, "Failure demand").click()
    page.locator(
        ".jp-OutputArea-output .widget-html", has_text=re.compile(rf"\b2 of {len(todo):,} to classify")
    ).wait_for()
    assert todo.iloc[1]["contact_id"] in progress.inner_text()
    assert page.locator(
        ".jp-OutputArea-output", has_text=f"Saved: {first['contact_id']} is failure demand (progress chasing)"
    ).count()
    shot(page, lab, classifier, "classifier-second")

    saved = pd.read_csv(demand_csv, dtype=str, keep_default_na=False)
    row = saved.loc[saved["contact_id"] == first["contact_id"]].iloc[0]
    assert (row["classification"], row["failure_type"], row["what_matters"]) == (
        "failure",
        "progress chasing",
        "knowing when someone will visit",
    )
    others = saved["contact_id"] != first["contact_id"]
    pd.testing.assert_frame_equal(
        saved[others].reset_index(drop=True), raw[raw["contact_id"] != first["contact_id"]].reset_index(drop=True)
    )
    assert (lab.council / "demand.csv.prev").read_bytes() == original
    assert not page.errors, page.errors


def test_flow_coverage_slider_redraws_the_map(page, lab):
    open_and_run(page, lab, "flow")
    slider = widget(page, "hslider", "Coverage")
    assert slider.is_visible()
    readout = slider.locator(".widget-readout")
    assert readout.inner_text().strip() == "80%"
    explorer = page.locator(".widget-vbox", has=slider).first
    img = explorer.locator("img.widget-image")
    before = image_bytes(img)
    assert before[:8] == b"\x89PNG\r\n\x1a\n"
    caption = explorer.locator(".widget-html", has_text="Process map")
    caption_before = caption.inner_text()
    shot(page, lab, explorer, "flow-explorer-80")

    # Every waste step and path that 5% of cases take is drawn at any coverage: only the lowest coverage leaves
    # steps out of the sample service's map (12 steps at 80% and 30%, 10 at 5%).
    drag_slider(page, slider, 0.0)
    wait_for_change(page, caption, caption_before)
    assert readout.inner_text().strip() != "80%"
    after = wait_for_new_image(page, img, before)
    assert after[:8] == b"\x89PNG\r\n\x1a\n", "the map was not redrawn as a PNG"
    shot(page, lab, explorer, "flow-explorer-moved")

    # The case journey: a case picker and the chosen case's steps.
    # The case journey: pick another case; its timeline and its table of steps follow.
    journey = page.locator(".widget-vbox", has=widget(page, "dropdown", "Case")).first
    table = journey.locator("table").first
    assert table.is_visible() and journey.locator(".jp-OutputArea-output :is(img, svg)").first.is_visible()
    picker = widget(page, "dropdown", "Case").locator("select")
    second = picker.locator("option").nth(1).text_content().replace("\xa0", " ")
    steps_before = table.inner_text()
    picker.select_option(index=1)
    wait_for_change(page, table, steps_before)
    case_id = second.split(" (")[0]
    assert journey.locator(".jp-OutputArea-output :is(img, svg)").first.is_visible()
    steps = int(re.search(r"(\d+) steps", second).group(1))
    assert table.locator("tbody tr").count() == steps, (second, table.inner_text())
    events = pd.read_csv(lab.council / "events.csv", dtype=str, keep_default_na=False)
    assert (events["case_id"] == case_id).sum() == steps  # the picker's count is the case's own events
    shot(page, lab, journey, "case-journey")
    assert not page.errors, page.errors


def test_measure_explorer_moves_a_phase_boundary(page, lab):
    open_and_run(page, lab, "measure")
    explorer = page.locator(".widget-vbox", has=widget(page, "dropdown", "Measure")).first
    assert widget(page, "dropdown", "Measure").is_visible()
    phases = widget(page, "select", "Phases").locator("select")
    options = [o.replace("\xa0", " ") for o in phases.locator("option").all_inner_texts()]
    assert any("Jul 2024" in o for o in options), options  # the council's recorded system change
    narration = explorer.locator("img.widget-image + .widget-html")  # the paragraph under the chart
    before = narration.inner_text()
    img = explorer.locator("img.widget-image")
    chart_before = image_bytes(img)
    shot(page, lab, explorer, "measure-explorer-recorded")

    phases.select_option(index=0)
    week = widget(page, "hslider", "Week")
    week_before = week.locator(".widget-readout").inner_text()
    drag_slider(page, week, 0.25)
    wait_for_change(page, week.locator(".widget-readout"), week_before)
    moved_to = week.locator(".widget-readout").inner_text().replace("\xa0", " ").strip()
    button(page, "Move selected here").click()
    after = wait_for_change(page, narration, before)
    assert after != before
    assert any(moved_to in o.replace("\xa0", " ") for o in phases.locator("option").all_inner_texts()), moved_to
    when = pd.Timestamp(moved_to)
    assert f"on {when.day} {when:%B %Y}" in after.replace("\xa0", " "), after  # the narration starts there now
    wait_for_new_image(page, img, chart_before)  # the chart is redrawn with the moved boundary
    shot(page, lab, explorer, "measure-explorer-moved")
    assert not page.errors, page.errors


def test_learning_log_form_appends_an_entry(page, lab):
    log_csv = lab.council / "learning_log.csv"
    before = pd.read_csv(log_csv, dtype=str, keep_default_na=False)
    open_and_run(page, lab, "experiment")
    form = page.locator(".widget-vbox", has=button(page, "Add to the learning log")).first
    shot(page, lab, form, "learning-log-form")
    widget(page, "textarea", "What we tried").locator("textarea").fill("Phoned the GP ourselves instead of a referral")
    widget(page, "textarea", "What we learned").locator("textarea").fill("The GP answered the same day")
    # the condition is picked, or added as a new system_conditions row the entry links to by id
    widget(page, "dropdown", "System condition").locator("select").select_option(label="A new system condition…")
    widget(page, "textarea", "New condition").locator("textarea").fill("Procedure: referrals go by form only")
    widget(page, "text", "Who can change it").locator("input").fill("Head of Adult Social Care")
    button(page, "Add to the learning log").click()
    form.locator(".widget-html", has_text="Added to learning_log.csv").wait_for()
    shot(page, lab, form, "learning-log-added")

    after = pd.read_csv(log_csv, dtype=str, keep_default_na=False)
    assert len(after) == len(before) + 1
    assert list(after.columns) == list(before.columns) + ["condition_id"]  # a column added, none lost
    pd.testing.assert_frame_equal(after.iloc[:-1][list(before.columns)], before)
    assert (after.iloc[:-1]["condition_id"] == "").all()
    new = after.iloc[-1]
    assert new["what_we_tried"] == "Phoned the GP ourselves instead of a referral"
    conditions = pd.read_csv(lab.council / "system_conditions.csv", dtype=str, keep_default_na=False)
    linked = conditions.set_index("id").loc[new["condition_id"]]
    assert (linked["system_condition"], linked["raised_in"]) == ("Procedure: referrals go by form only", "experiment")
    assert new["system_condition"] == ""  # the words are kept once, in system_conditions.csv
    assert new["service"] == SERVICE and new["date"] == dt.date.today().isoformat()
    assert widget(page, "textarea", "What we tried").locator("textarea").input_value() == ""  # ready for the next
    assert not page.errors, page.errors
