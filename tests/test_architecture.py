"""The house's shape, enforced: the import-linter layers (run as the real `lint-imports`), a deliberately added
cycle caught, analysis modules free of display code, and no module over 600 lines."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from systemic_lib import config

ROOT = config.PROJECT_ROOT
LINT = Path(sys.executable).with_name("lint-imports")
STAGE_MODULES = ("demand", "flow", "experiment", "measure", "scan")


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


def test_import_contracts_are_kept():
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_a_deliberate_cycle_breaks_the_contract(tmp_path):
    shutil.copytree(ROOT / "systemic_lib", tmp_path / "systemic_lib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    words = tmp_path / "systemic_lib" / "words.py"  # the lowest layer now imports a stage: a cycle through demand
    words.write_text(words.read_text() + "\nfrom . import demand  # noqa: E402,F401\n")
    done = _lint(tmp_path)
    assert done.returncode != 0
    assert "systemic_lib.words is not allowed to import systemic_lib.demand" in done.stdout.replace("\n", " ")


@pytest.mark.parametrize("module", STAGE_MODULES)
def test_every_stage_module_has_the_stage_contract(module):
    import importlib

    stage = importlib.import_module(f"systemic_lib.{module}")
    for name in ("load", "headline", "questions", "figures", "period"):
        assert callable(getattr(stage, name, None)), f"systemic_lib.{module} has no {name}()"


def test_no_module_is_over_600_lines():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "systemic_lib").rglob("*.py")
            if p.name != "sample.py" and (n := len(p.read_text(encoding="utf-8").splitlines())) > 600}
    assert not long, f"modules over 600 lines: {long}"
