"""The tracked notebooks never hold outputs: JupyterLab's save hook strips them (``make lab``), git's nbstripout
filter strips them for any other editor (``make install``), and ``make lab`` starts as root (a container, CI)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

from systemic_lib import config
from systemic_lib.cli.lab import strip_outputs

from conftest import free_port, missing_oracle

ROOT = config.PROJECT_ROOT


def _with_outputs() -> dict:
    nb = nbformat.read(config.NOTEBOOKS_DIR / "demand.ipynb", as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", text="Mrs Example rang about 14 Acacia Avenue\n")]
    code.execution_count = 7
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"x": {"value": "a verbatim"}}}}
    return nb


def test_the_tracked_notebooks_have_no_outputs():
    for path in config.NOTEBOOKS_DIR.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            assert not cell.get("outputs") and cell.get("execution_count") is None, path.name
        assert "widgets" not in nb.metadata, path.name


def test_the_save_hook_strips_a_project_notebook_and_leaves_others_alone(tmp_path):
    class Manager:
        root_dir = str(config.NOTEBOOKS_DIR)

    model = {"type": "notebook", "content": json.loads(nbformat.writes(_with_outputs()))}
    strip_outputs(model, path="demand.ipynb", contents_manager=Manager())
    nb = nbformat.from_dict(model["content"])
    assert all(not c.get("outputs") for c in nb.cells) and "widgets" not in nb.metadata
    assert [c.id for c in nb.cells] == [c.id for c in nbformat.read(config.NOTEBOOKS_DIR / "demand.ipynb", 4).cells]

    class Elsewhere:
        root_dir = str(tmp_path)

    mine = {"type": "notebook", "content": json.loads(nbformat.writes(_with_outputs()))}
    strip_outputs(mine, path="my-copy.ipynb", contents_manager=Elsewhere())
    assert any(c.get("outputs") for c in nbformat.from_dict(mine["content"]).cells)  # a copy elsewhere keeps them


def test_git_strips_outputs_from_a_tracked_notebook():
    attrs = subprocess.run(
        ["git", "check-attr", "filter", "notebooks/demand.ipynb"], cwd=ROOT, capture_output=True, text=True
    )
    if attrs.returncode != 0:
        missing_oracle("a git checkout", "run the tests in a clone of the repository")
    assert attrs.stdout.strip().endswith("filter: nbstripout")
    planned = subprocess.run(  # what make install sets (not run here: the repository's config is shared)
        ["make", "-n", "--no-print-directory", "nbstripout"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    clean = re.search(r"git config filter\.nbstripout\.clean '([^']+)'", planned).group(1)
    stripped = subprocess.run(
        clean, shell=True, cwd=ROOT, input=nbformat.writes(_with_outputs()), capture_output=True, text=True, check=True
    ).stdout
    nb = nbformat.reads(stripped, as_version=4)
    assert "Acacia" not in stripped and "widgets" not in nb.metadata
    # an unchanged tracked notebook goes through the filter byte for byte (git sees no change)
    text = (config.NOTEBOOKS_DIR / "demand.ipynb").read_text()
    assert subprocess.run(clean, shell=True, cwd=ROOT, input=text, capture_output=True, text=True).stdout == text


@pytest.mark.slow
def test_make_lab_starts_as_this_user_and_saves_notebooks_without_outputs(tmp_path):
    """The command `make lab` runs (its last line), started for real: as root it needs --allow-root."""
    line = (
        subprocess.run(
            ["make", "-n", "--no-print-directory", "lab"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert "jupyter lab notebooks/" in line and "pre_save_hook=systemic_lib.cli.lab.strip_outputs" in line
    if os.geteuid() == 0:
        assert "--allow-root" in line
    args = line.split()[3:]  # after ".venv/bin/jupyter lab notebooks/"
    port = free_port()
    token = "hygiene"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    log = open(tmp_path / "lab.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={config.NOTEBOOKS_DIR}",
            *args,
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=10)
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "lab.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "JupyterLab did not start"
                time.sleep(0.5)
        name = "hygiene-check.ipynb"  # a new notebook in the project's folder, removed below
        body = json.dumps(
            {"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(_with_outputs()))}
        )
        req = urllib.request.Request(f"{base}/api/contents/{name}?token={token}", data=body.encode(), method="PUT")
        req.add_header("Content-Type", "application/json")
        urllib.request.urlopen(req, timeout=30)
        saved = (config.NOTEBOOKS_DIR / name).read_text()
        assert "Acacia" not in saved and '"outputs": []' in saved
    finally:
        (config.NOTEBOOKS_DIR / "hygiene-check.ipynb").unlink(missing_ok=True)
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
